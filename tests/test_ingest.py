import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_pdf, write_png
from fake_engine import fake_engine  # noqa: F401 (a fixture)

from scanflow.archive.pieces import (
    assign_pages,
    list_pieces,
    list_unassigned,
    piece_text,
)
from scanflow.errors import UnknownPupil, UsageError
from scanflow.intake import ingest as ingest_mod
from scanflow.intake.ingest import (
    IngestOptions,
    ingest,
    read_manifest,
    set_default_engine,
)

OPTS = dict(half_term="2026-27-autumn-1", genre="narrative", jobs=1)


def count(archive, sql, *params):
    return archive.db.execute(sql, params).fetchone()[0]


def test_end_to_end_pages_pieces_words(archive, scans):
    report = ingest(archive, [scans], IngestOptions(**OPTS))
    assert report.ok
    assert report.pages_ok == 4 and report.unassigned == 1
    assert report.skipped == [str(scans / "notes.csv")]
    pieces = list_pieces(archive)
    assert [(p.pupil_id, p.pages) for p in pieces] == [("A100000000002", 1), ("A100000000001", 2)]
    text = "\n".join(t for _, t in piece_text(archive, pieces[1].id))
    # The child's misspellings survive recognition: no dictionary correction.
    assert "ther" in text and "frend" in text and "becaus" in text
    assert count(archive, "SELECT COUNT(*) FROM words") == report.words > 15
    row = archive.db.execute("SELECT engine, engine_version, model, ocr_settings, preprocess, "
                             "image_path, ocr_image_path, mean_confidence FROM pages "
                             "WHERE piece_id IS NOT NULL LIMIT 1").fetchone()
    assert row[0] == "rapidocr" and row[1] == "3.10.0"  # the measured default
    assert "PP-OCRv6_rec" in row[2] and '"deskew"' in row[4]
    assert (archive.images_dir / row[5]).is_file() and (archive.images_dir / row[6]).is_file()
    assert row[7] > 50
    # Word boxes are on the faithful page: inside its bounds.
    w, h = archive.db.execute("SELECT width, height FROM pages LIMIT 1").fetchone()
    assert count(archive, "SELECT COUNT(*) FROM words WHERE x < 0 OR y < 0 OR x + w > ? "
                          "OR y + h > ?", w + 2, h + 2) == 0


def test_skewed_page_is_straightened_and_read_by_tesseract_without_dictionary(archive, scans):
    set_default_engine(archive, "tesseract")  # per archive; --engine overrides per run
    ingest(archive, [scans / "A100000000002_story.png", scans / "A100000000001_story.pdf"],
           IngestOptions(**OPTS))
    rows = archive.db.execute("SELECT skew, ocr_text, engine, ocr_settings FROM pages "
                              "ORDER BY id").fetchall()
    skew, text, engine, settings = rows[0]
    assert skew == pytest.approx(-3.0, abs=0.4)
    assert "cat sat on the mat" in text
    assert engine == "tesseract" and '"load_system_dawg": "0"' in settings
    assert "ther" in rows[1][1] and "frend becaus" in rows[2][1]


def test_reingest_is_a_noop_that_names_the_batch(archive, scans):
    first = ingest(archive, [scans], IngestOptions(**OPTS))
    pages = count(archive, "SELECT COUNT(*) FROM pages")
    again = ingest(archive, [scans], IngestOptions(**OPTS))
    assert count(archive, "SELECT COUNT(*) FROM pages") == pages
    assert {f.status for f in again.files} == {"already"}
    assert all(f"batch {first.batch_id}" in f.message for f in again.files)


def test_one_bad_file_does_not_sink_the_batch(archive, scans):
    (scans / "broken.pdf").write_bytes(b"%PDF-1.4\n garbage")
    report = ingest(archive, [scans], IngestOptions(**OPTS))
    assert not report.ok
    assert [Path(f.path).name for f in report.failed_files] == ["broken.pdf"]
    assert report.pages_ok == 4


def test_a_page_failure_is_recorded_and_can_be_retried(archive, scans, monkeypatch):
    real = ingest_mod.read_page
    calls = {"n": 0}

    def flaky(rgb, engine, **kw):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("engine crashed")
        return real(rgb, engine, **kw)

    monkeypatch.setattr(ingest_mod, "read_page", flaky)
    report = ingest(archive, [scans / "A100000000001_story.pdf"], IngestOptions(**OPTS))
    assert [(n, "engine crashed" in e) for _, n, e in report.failed_pages] == [(1, True)]
    assert count(archive, "SELECT COUNT(*) FROM pages WHERE status = 'failed'") == 1
    again = ingest(archive, [scans / "A100000000001_story.pdf"],
                   IngestOptions(**OPTS, retry_failed=True))
    assert again.ok and again.pages_ok == 1
    assert count(archive, "SELECT COUNT(*) FROM pages WHERE status = 'failed'") == 0
    positions = archive.db.execute("SELECT page_number, position FROM pages ORDER BY page_number")
    assert [tuple(r) for r in positions] == [(1, 1), (2, 2)]


def test_interrupted_ingest_resumes(archive, scans, monkeypatch):
    real = ingest_mod.save_page
    calls = {"n": 0}

    def interrupt_second(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(ingest_mod, "save_page", interrupt_second)
    report = ingest(archive, [scans], IngestOptions(**OPTS))
    assert report.interrupted and report.pages_ok == 1
    monkeypatch.setattr(ingest_mod, "save_page", real)
    again = ingest(archive, [scans], IngestOptions(**OPTS))
    assert again.ok and again.pages_ok == 3
    assert count(archive, "SELECT COUNT(*) FROM pages") == 4
    assert count(archive, "SELECT COUNT(*) FROM files WHERE status = 'done'") == 3


def test_pupils_by_option_manifest_and_unknown_ids(archive, tmp_path):
    pdf = write_pdf(tmp_path / "class.pdf", [["one"], ["two"], ["three"]])
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,first_page,last_page,pupil_id\n"
                        "class.pdf,1,2,A100000000001\nclass.pdf,3,3,A100000000003\n")
    ingest(archive, [pdf], IngestOptions(**OPTS, manifest=str(manifest)))
    assert sorted((p.pupil_id, p.pages) for p in list_pieces(archive)) == [
        ("A100000000001", 2), ("A100000000003", 1)]
    png = write_png(tmp_path / "x.png", ["hello"])
    ingest(archive, [png], IngestOptions(**OPTS, pupil="A100000000002"))
    assert any(p.pupil_id == "A100000000002" for p in list_pieces(archive))
    with pytest.raises(UnknownPupil, match="No pupil with id 'Z9'"):
        ingest(archive, [png], IngestOptions(**OPTS, pupil="Z9"))
    manifest.write_text("file,first_page,last_page,pupil_id\nclass.pdf,1,1,NOPE\n")
    with pytest.raises(UnknownPupil, match="line 2 \\(NOPE\\)"):
        ingest(archive, [pdf], IngestOptions(**OPTS, manifest=str(manifest)))
    manifest.write_text("file,page,pupil\n")
    with pytest.raises(Exception, match="file,first_page,last_page,pupil_id"):
        read_manifest(manifest)


def test_bad_genre_and_half_term_stop_before_any_work(archive, scans):
    with pytest.raises(UsageError, match="scanflow genre add sonnet"):
        ingest(archive, [scans], IngestOptions(half_term="2026-27-autumn-1", genre="sonnet"))
    with pytest.raises(UsageError, match="not a half term"):
        ingest(archive, [scans], IngestOptions(half_term="autumn", genre="narrative"))
    assert count(archive, "SELECT COUNT(*) FROM batches") == 0


def test_unassigned_pages_can_be_assigned_and_reviewed_pieces_are_not_changed(archive, scans):
    ingest(archive, [scans], IngestOptions(**OPTS))
    waiting = list_unassigned(archive)
    assert [p.file_name for p in waiting] == ["loose-page.png"]
    piece = next(p for p in list_pieces(archive) if p.pupil_id == "A100000000001")
    archive.db.execute("UPDATE pieces SET status = 'reviewed' WHERE id = ?", [piece.id])
    new_piece = assign_pages(archive, [waiting[0].id], "A100000000001")
    assert new_piece != piece.id  # a reviewed piece is never silently extended
    assert count(archive, "SELECT version FROM pieces WHERE id = ?", new_piece) == 2
    assert list_unassigned(archive) == []
    assert count(archive, "SELECT COUNT(*) FROM events WHERE action = 'page.assign'") == 1


def test_worker_pool_gives_the_same_result(archive, scans):
    report = ingest(archive, [scans], IngestOptions(**{**OPTS, "jobs": 2}))
    assert report.ok and report.pages_ok == 4
    order = archive.db.execute("SELECT page_number, position FROM pages WHERE piece_id = "
                               "(SELECT id FROM pieces WHERE pupil_id = 'A100000000001')")
    assert sorted(tuple(r) for r in order) == [(1, 1), (2, 2)]


def test_kill_9_mid_ingest_then_rerun_finishes_cleanly(archive, tmp_path):
    pdf = write_pdf(tmp_path / "A100000000001_long.pdf", [[f"line {i} of the story"]
                                                         for i in range(6)])
    cmd = [sys.executable, "-m", "scanflow", "ingest", "--archive", str(archive.path), str(pdf),
           "--half-term", "2026-27-autumn-1", "--genre", "narrative", "-j", "2", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if count(archive, "SELECT COUNT(*) FROM pages") >= 2:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # The workers die with the ingest: nothing more is written behind its back.
    before = sorted(archive.images_dir.rglob("*"))
    time.sleep(4)
    assert sorted(archive.images_dir.rglob("*")) == before
    stored = count(archive, "SELECT COUNT(*) FROM pages")
    assert 2 <= stored < 6
    killed = archive.db.execute("SELECT id, status FROM batches").fetchall()
    assert [tuple(r)[1] for r in killed] == ["running"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert count(archive, "SELECT COUNT(*) FROM pages") == 6
    # The killed run is marked, and says so, when the next one starts.
    assert archive.db.execute("SELECT status, finished_at IS NOT NULL FROM batches WHERE id = ?",
                              [killed[0][0]]).fetchone() == ("interrupted", 1)
    assert f"batch {killed[0][0]} stopped without finishing" in done.stderr
    assert count(archive, "SELECT COUNT(DISTINCT position) FROM pages") == 6
    files = {str(p.relative_to(archive.images_dir)) for p in archive.images_dir.rglob("*")
             if p.is_file() and p.relative_to(archive.images_dir).parts[0] != "derived"}
    referenced = {r[0] for r in archive.db.execute(
        "SELECT image_path FROM pages UNION SELECT ocr_image_path FROM pages")}
    assert files == referenced  # no orphans, no half-written temporaries
    # Display copies made at ingest belong to stored pages only.
    copies = {p.name for p in (archive.images_dir / "derived").iterdir()}
    assert copies <= {f"p{r[0]}" for r in archive.db.execute("SELECT id FROM pages")}


def test_pages_read_in_one_process_keep_their_order_and_a_page_that_cannot_render(
        archive, scans, tmp_path, monkeypatch):
    from fake_engine import FakeEngine

    from scanflow.errors import InputFileError
    from scanflow.intake import sources
    from scanflow.ocr.preprocess import PreprocessSettings

    rendered = []
    real = sources.render_page

    def render(scan, page_number, **kw):
        rendered.append(scan.path.name)
        if scan.path.name == "gone.png":
            raise InputFileError("is gone.", path=str(scan.path), hint="Copy it again.")
        return real(scan, page_number, **kw)

    monkeypatch.setattr(sources, "render_page", render)
    good = scans / "A100000000002_story.png"
    scan = sources.inspect(good)
    tasks = [ingest_mod.PageTask(scan.sha256, str(path), scan.kind, 1, scan.size, 1,
                                 str(tmp_path / "images"), 300, 10**8,
                                 PreprocessSettings(orient=False), None)
             for path in (good, tmp_path / "gone.png", good)]
    results = list(ingest_mod.read_ahead(tasks, FakeEngine()))
    assert [t.path for t, _ in results] == [t.path for t in tasks]
    assert [r.status for _, r in results] == ["ok", "failed", "ok"]
    assert "is gone" in results[1][1].error
    assert rendered == ["A100000000002_story.png", "gone.png", "A100000000002_story.png"]


def test_one_worker_keeps_opencv_to_its_threads_and_puts_them_back(
        archive, scans, tmp_path, fake_engine, monkeypatch):
    """``--jobs 1 --threads 1`` leaves the other cores alone: the cleaning's OpenCV calls
    run on one thread too, as in a pool worker, and the process's setting comes back."""
    import cv2

    from scanflow.intake import sources
    from scanflow.ocr import engine as engine_mod
    from scanflow.ocr.preprocess import PreprocessSettings

    seen = []

    class Counting(fake_engine):
        def recognise(self, image, *, grey=None):
            seen.append(cv2.getNumThreads())
            return super().recognise(image, grey=grey)

    monkeypatch.setitem(engine_mod._REGISTRY, "fake", Counting)
    good = scans / "A100000000002_story.png"
    scan = sources.inspect(good)
    task = ingest_mod.PageTask(scan.sha256, str(good), scan.kind, 1, scan.size, 1,
                               str(tmp_path / "images"), 300, 10**8,
                               PreprocessSettings(orient=False), None)
    cv2.setNumThreads(2)
    try:
        [(_, result)] = list(ingest_mod.PageReaders("fake", jobs=1, threads=1).read([task]))
        assert result.status == "ok"
        assert seen == [1]
        assert cv2.getNumThreads() == 2
    finally:
        cv2.setNumThreads(-1)
