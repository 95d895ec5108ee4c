"""``scanflow watch``: a real folder, files arriving slowly, in a burst, broken, and a restart.

The OCR engine is a fake (tests/fake_engine.py): what is tested here is the watching, not
the reading.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import page_image
from fake_engine import FAKE_ENGINE, fake_engine  # noqa: F401 (a fixture)

from scanflow.intake.watch import (
    Settler,
    WatchOptions,
    uses_network_filesystem,
    watch,
)

TERM = "2026-27-autumn-1"
SMALL = (420, 600)

def small_png(path: Path, text="ther was a dragon") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    page_image([text], size=SMALL).save(path, dpi=(150, 150))
    return path


class Watcher:
    """``watch`` on a thread, as the office's service would run it."""

    def __init__(self, archive, root, **options):
        self.handled = []
        self.stop = threading.Event()
        self.error = None
        opts = WatchOptions(engine="fake", jobs=1, settle=options.pop("settle", 0.6),
                            poll=options.pop("poll", False), **options)

        def run():
            try:
                watch(archive, root, opts, on_file=self.handled.append, stop=self.stop)
            except BaseException as exc:  # surfaced by wait_for
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def wait_for(self, n, timeout=60):
        end = time.monotonic() + timeout
        while len(self.handled) < n and time.monotonic() < end and self.error is None:
            time.sleep(0.05)
        if self.error:
            raise self.error
        assert len(self.handled) >= n, f"only {len(self.handled)} of {n} files handled"

    def close(self):
        self.stop.set()
        self.thread.join(10)


def count(archive, sql, *params):
    return archive.db.execute(sql, params).fetchone()[0]


def test_a_file_copied_in_slowly_is_read_once_it_is_complete(archive, tmp_path, fake_engine):
    root = tmp_path / "scans"
    root.mkdir()
    source = small_png(tmp_path / "A100000000001_story.png")
    data = source.read_bytes()
    watcher = Watcher(archive, root, half_term=TERM, genre="narrative")
    try:
        target = root / TERM / "narrative" / source.name
        target.parent.mkdir(parents=True)
        # Written in chunks, each by its own open-append-close as a copy over SMB does, with
        # pauses shorter than the settle time: a half-written PNG must never be read.
        step = len(data) // 6 + 1
        for i in range(0, len(data), step):
            with open(target, "ab") as fh:
                fh.write(data[i:i + step])
            time.sleep(0.3)
            assert watcher.handled == []
        watcher.wait_for(1)
    finally:
        watcher.close()
    [done] = watcher.handled
    assert done.status == "done" and done.relative == f"{TERM}/narrative/{source.name}"
    assert done.moved_to == root / "done" / TERM / "narrative" / source.name
    assert done.moved_to.read_bytes() == data and not target.exists()
    assert count(archive, "SELECT COUNT(*) FROM pages WHERE status = 'ok'") == 1
    assert count(archive, "SELECT COUNT(*) FROM pages WHERE status = 'failed'") == 0
    assert count(archive, "SELECT COUNT(*) FROM pieces WHERE pupil_id = 'A100000000001' AND "
                          "half_term = ? AND genre = 'narrative'", TERM) == 1


def test_a_burst_of_30_files_each_read_once(archive, tmp_path, fake_engine):
    root = tmp_path / "scans"
    staging = tmp_path / "staging"
    root.mkdir()
    names = []
    for i in range(30):
        pupil = f"A10000000000{1 + i % 3}"
        names.append(small_png(staging / f"{pupil}_page{i:02d}.png", f"page {i} ther was").name)
    watcher = Watcher(archive, root, half_term=TERM, genre="narrative")
    try:
        for name in names:  # as a scanner saves them: written elsewhere, renamed in
            os.rename(staging / name, root / name)
        watcher.wait_for(30)
        time.sleep(0.5)  # nothing more arrives
    finally:
        watcher.close()
    assert sorted(h.relative for h in watcher.handled) == sorted(names)
    assert {h.status for h in watcher.handled} == {"done"}
    assert sorted(p.name for p in (root / "done").iterdir()) == sorted(names)
    assert count(archive, "SELECT COUNT(*) FROM files") == 30
    assert count(archive, "SELECT COUNT(*) FROM pages") == 30
    assert count(archive, "SELECT COUNT(*) FROM pieces") == 3
    # No batch without pages: the watcher ingests only when something is ready.
    assert count(archive, "SELECT COUNT(*) FROM batches WHERE id NOT IN "
                          "(SELECT batch_id FROM pages)") == 0


def test_broken_and_misplaced_files_go_to_failed_with_a_reason(archive, tmp_path, fake_engine):
    root = tmp_path / "scans"
    good = small_png(root / TERM / "narrative" / "A100000000002_story.png")
    full = tmp_path / "whole.png"
    small_png(full)
    (root / TERM / "narrative" / "cut.png").write_bytes(full.read_bytes()[:900])
    (root / TERM / "narrative" / "letter.docx").write_bytes(b"PK\x03\x04 not a scan")
    small_png(root / TERM / "poetry-slam" / "A100000000001_poem.png")  # no such genre
    small_png(root / "A100000000003_story.png")  # no half term: none given either
    (root / TERM / "narrative" / "~$letter.docx").write_bytes(b"office lock file")
    (root / TERM / "narrative" / "next.pdf.part").write_bytes(b"%PDF still copying")
    watcher = Watcher(archive, root)
    try:
        watcher.wait_for(5)
        time.sleep(1.0)
    finally:
        watcher.close()
    by_name = {Path(h.relative).name: h for h in watcher.handled}
    assert set(by_name) == {good.name, "cut.png", "letter.docx", "A100000000001_poem.png",
                            "A100000000003_story.png"}
    assert by_name[good.name].status == "done"
    failed = root / "failed"
    why = (failed / TERM / "narrative" / "cut.png.txt").read_text()
    assert "cut.png could not be read" in why and "What to do" in why
    assert "damaged" in why or "truncated" in why or "incomplete" in why
    assert "not a PDF or an image" in (failed / TERM / "narrative" / "letter.docx.txt").read_text()
    assert "scanflow genre add poetry-slam" in (
        failed / TERM / "poetry-slam" / "A100000000001_poem.png.txt").read_text()
    assert "--half-term" in (failed / "A100000000003_story.png.txt").read_text()
    # Temporary and lock files are left alone for the program writing them.
    assert (root / TERM / "narrative" / "~$letter.docx").exists()
    assert (root / TERM / "narrative" / "next.pdf.part").exists()
    assert count(archive, "SELECT COUNT(*) FROM pages WHERE status = 'ok'") == 1


RUN_WATCHER = FAKE_ENGINE + '''
import sys
from scanflow.cli import main
engine_mod._REGISTRY["fake"] = FakeEngine
FakeEngine.name = "fake"
FakeEngine.DELAY = 0.4
sys.argv = ["scanflow", "watch", "--archive", sys.argv[1], sys.argv[2], "--engine", "fake",
            "--jobs", "1", "--settle", "0.3", "--half-term", "2026-27-autumn-1",
            "--genre", "narrative"] + sys.argv[3:]
main()
'''


def _start(archive, root, *extra):
    return subprocess.Popen([sys.executable, "-c", RUN_WATCHER, str(archive.path), str(root),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_stopped_in_the_middle_and_restarted_reads_nothing_twice(archive, tmp_path):
    root = tmp_path / "scans"
    for i in range(8):
        small_png(root / f"A100000000001_p{i}.png", f"page {i}")
    # One file is already in the archive from an earlier run: it goes to done/ unread.
    proc = _start(archive, root, "--once")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.count(" done ") == 8
    for p in (root / "done").iterdir():
        p.rename(root / p.name)  # the office drops the same files in again
    small_png(root / "A100000000002_late.png", "a late one")
    small_png(root / "A100000000003_later.png", "a later one")
    small_png(root / "A100000000003_last.png", "the last one")
    proc = _start(archive, root)
    try:
        end = time.monotonic() + 60
        while count(archive, "SELECT COUNT(*) FROM pages") < 9 and time.monotonic() < end:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)  # a power cut or a killed service, mid-run
        proc.wait(10)
    finally:
        proc.kill()
    assert count(archive, "SELECT COUNT(*) FROM pages") < 11  # stopped part-way
    proc = _start(archive, root)
    try:
        end = time.monotonic() + 60
        while sorted(p.name for p in root.iterdir()) != ["done", "failed"] \
                and time.monotonic() < end:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)  # how systemd stops the service
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert len(list((root / "done").iterdir())) == 11
    assert not list((root / "failed").iterdir())
    assert count(archive, "SELECT COUNT(*) FROM files") == 11
    assert count(archive, "SELECT COUNT(*) FROM pages") == 11
    assert count(archive, "SELECT COUNT(*) FROM (SELECT 1 FROM pages GROUP BY file_sha256, "
                          "page_number HAVING COUNT(*) > 1)") == 0


def test_network_shares_are_polled(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 / ext4 rw 0 0\n"
                      "//nas/scans /mnt/scans cifs rw 0 0\n"
                      "nas:/office /srv/office\\040share nfs4 rw 0 0\n")
    assert uses_network_filesystem(Path("/mnt/scans/2026-27-autumn-1"), mounts)
    assert uses_network_filesystem(Path("/srv/office share/in"), mounts)
    assert not uses_network_filesystem(Path("/mnt/scansx"), mounts)
    assert not uses_network_filesystem(Path("/home/office"), mounts)


def test_once_exit_code_says_a_file_failed(archive, tmp_path):
    root = tmp_path / "scans"
    small_png(root / "A100000000001_ok.png")
    (root / "cut.pdf").write_bytes(b"%PDF-1.4 garbage")
    proc = _start(archive, root, "--once")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 6, err
    assert "failed  cut.pdf: is a damaged or incomplete PDF" in out
    assert "(why: failed/cut.pdf.txt)" in out and " done    A100000000001_ok.png" in out


def test_polling_finds_files_too(archive, tmp_path, fake_engine):
    root = tmp_path / "scans"
    root.mkdir()
    watcher = Watcher(archive, root, half_term=TERM, genre="narrative", poll=True,
                      poll_interval=0.3, settle=0.5)
    try:
        time.sleep(0.5)
        small_png(root / "A100000000001_story.png")
        watcher.wait_for(1)
    finally:
        watcher.close()
    assert watcher.handled[0].status == "done"


def test_settler_waits_for_quiet_or_a_close(tmp_path):
    clock = [0.0]
    settler = Settler(5.0, clock=lambda: clock[0])
    path = tmp_path / "scan.pdf"
    path.write_bytes(b"%PDF part")
    settler.seen(path)
    assert settler.ready() == []
    clock[0] = 3.0
    with open(path, "ab") as fh:
        fh.write(b" more")
    assert settler.ready() == []  # it changed: the wait starts again
    clock[0] = 7.9
    assert settler.ready() == []
    clock[0] = 8.1
    assert settler.ready() == [path] and settler.waiting == 0
    other = tmp_path / "closed.pdf"
    other.write_bytes(b"%PDF whole")
    settler.seen(other, closed=True)
    assert settler.ready() == []
    clock[0] = 8.7
    assert settler.ready() == [other]  # closed and unchanged: no need to wait 5 s
