"""Keeping it safe: backup, restore (a round trip is identical), and scanflow check."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
from archive_helpers import make_school
from click.testing import CliRunner

from scanflow.archive import transcription as T
from scanflow.archive.backup import backup, restore, verify_backup
from scanflow.archive.check import check_archive, record_image_hashes
from scanflow.archive.search import index_problems
from scanflow.archive.store import open_archive
from scanflow.cli import cli
from scanflow.errors import ArchiveError, UsageError


@pytest.fixture
def school(archive, tmp_path):
    return make_school(archive, tmp_path)


def dump(path: Path) -> tuple[dict, dict]:
    """Every row of every table, and every stored image's bytes (caches aside)."""
    conn = sqlite3.connect(f"file:{path / 'scanflow.db'}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = "
                                             "'table' AND sql NOT LIKE 'CREATE VIRTUAL%'")]
        rows = {t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
                for t in tables}
        rows["user_version"] = conn.execute("PRAGMA user_version").fetchone()
    finally:
        conn.close()
    images = {p.relative_to(path / "images").as_posix(): p.read_bytes()
              for p in (path / "images").rglob("*")
              if p.is_file() and "derived" not in p.relative_to(path / "images").parts}
    return rows, images


def test_backup_restore_round_trip_is_identical(archive, school, tmp_path):
    (archive.images_dir / "derived" / "p1").mkdir(parents=True)
    (archive.images_dir / "derived" / "p1" / "x.display.jpg").write_bytes(b"cache")
    report = backup(archive, tmp_path / "bk")
    assert report.warnings == [] and report.pieces == len(school)
    assert report.images == 2 * archive.db.execute("SELECT COUNT(*) FROM pages").fetchone()[0]
    assert not (tmp_path / "bk" / "images" / "derived").exists()  # caches are not backed up
    before = dump(archive.path)
    # The manifest is plain sha256sum format.
    check = subprocess.run(["sha256sum", "-c", "--quiet", "MANIFEST.sha256"],
                           cwd=tmp_path / "bk", capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert verify_backup(tmp_path / "bk") == []
    result = restore(tmp_path / "bk", tmp_path / "restored")
    assert (result.pupils, result.pieces, result.kept_old) == (4, len(school), None)
    assert dump(tmp_path / "restored") == before
    restored = open_archive(tmp_path / "restored")
    try:
        assert restored.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert check_archive(restored).ok
    finally:
        restored.close()


def test_restore_refuses_to_replace_an_archive_with_data(archive, school, tmp_path):
    backup(archive, tmp_path / "bk")
    with pytest.raises(UsageError) as err:
        restore(tmp_path / "bk", archive.path)
    assert str(err.value) == (
        f"The archive at {archive.path} holds 4 pupils and {len(school)} pieces; restoring "
        "would replace it. Restore into a new folder (--archive NEW), or add --force: the "
        "current archive is then kept, renamed, beside it.")
    T.save_version(archive, school["ben1"], T.current_lines(archive, school["ben1"]),
                   based_on=0, author="x")  # a change after the backup
    archive.close()
    result = restore(tmp_path / "bk", archive.path, force=True)
    assert result.kept_old and Path(result.kept_old).is_dir()
    assert (Path(result.kept_old) / "scanflow.db").is_file()  # the old one is kept, not lost
    back = open_archive(archive.path)
    try:
        assert T.latest_number(back, school["ben1"]) == 0
    finally:
        back.close()


def test_a_damaged_backup_is_refused_before_anything_changes(archive, school, tmp_path):
    backup(archive, tmp_path / "bk")
    image = next((tmp_path / "bk" / "images").rglob("*.png"))
    image.write_bytes(image.read_bytes() + b"x")
    rel = image.relative_to(tmp_path / "bk").as_posix()
    assert verify_backup(tmp_path / "bk") == [f"{rel} does not match its checksum"]
    with pytest.raises(ArchiveError) as err:
        restore(tmp_path / "bk", tmp_path / "new")
    assert str(err.value) == (f"The backup at {tmp_path / 'bk'} is damaged: {rel} does not "
                              "match its checksum. Nothing was changed. Restore from another "
                              "backup.")
    assert not (tmp_path / "new").exists()
    with pytest.raises(ArchiveError) as err:
        restore(tmp_path, tmp_path / "new")
    assert "is not a scanflow backup (it has no MANIFEST.sha256)" in str(err.value)


def test_backup_into_an_existing_folder_or_the_archive_is_refused(archive, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a.txt").write_text("x")
    with pytest.raises(UsageError) as err:
        backup(archive, tmp_path / "full")
    assert str(err.value) == (f"{tmp_path / 'full'} already exists and is not empty. Give a "
                              "new folder for each backup, e.g. one named by the date.")
    with pytest.raises(UsageError) as err:
        backup(archive, archive.path / "bk")
    assert "is inside the archive itself" in str(err.value)


def test_backup_is_consistent_while_the_app_writes(archive, school, tmp_path):
    # Enough rows that the copy takes a moment, and a writer saving versions meanwhile.
    with archive.transaction() as db:
        db["events"].insert_all({"at": "2026-01-01", "action": "filler", "subject": "x" * 200}
                                for _ in range(30000))
    stop = threading.Event()
    saved = []

    def writer():
        app = open_archive(archive.path)
        try:
            piece = school["ben1"]
            while not stop.is_set():
                lines = T.current_lines(app, piece)
                lines[0].text = f"edit {len(saved)}"
                saved.append(T.save_version(app, piece, lines,
                                            based_on=T.latest_number(app, piece), author="w"))
        finally:
            app.close()

    thread = threading.Thread(target=writer)
    thread.start()
    while len(saved) < 3:
        time.sleep(0.01)
    before = len(saved)
    backup(archive, tmp_path / "bk")
    during = len(saved) - before
    stop.set()
    thread.join()
    assert verify_backup(tmp_path / "bk") == []
    restore(tmp_path / "bk", tmp_path / "restored")
    copy = open_archive(tmp_path / "restored")
    try:
        number = T.latest_number(copy, school["ben1"])
        assert 3 <= number <= len(saved)
        # The copy is one moment: the index holds exactly the latest version it has.
        assert index_problems(copy) == []
        assert copy.db.execute("SELECT text FROM piece_texts WHERE piece_id = ?",
                               [school["ben1"]]).fetchone()[0].startswith(f"edit {number - 1}")
    finally:
        copy.close()
    print("saves during the backup:", during)  # timing-dependent: shown, not asserted


def test_check_a_sound_archive_records_hashes_once(archive, school):
    pages = archive.db.execute("SELECT COUNT(*) FROM pages").fetchone()[0]
    # The ingest records both images' hashes as it stores a page...
    assert archive.db.execute("SELECT COUNT(*) FROM pages WHERE image_sha256 IS NOT NULL "
                              "AND ocr_image_sha256 IS NOT NULL").fetchone()[0] == pages
    report = check_archive(archive)
    assert report.ok and report.problems == []
    assert report.hashes_recorded == 0 and report.images_checked == 2 * pages
    # ...and check records any that are missing (archives from before that), once.
    with archive.transaction() as db:
        db.execute("UPDATE pages SET image_sha256 = NULL, ocr_image_sha256 = NULL")
    assert check_archive(archive).hashes_recorded == 2 * pages
    assert check_archive(archive).hashes_recorded == 0
    # Turning a page leaves its master as it is, so its checksum still holds...
    digest = archive.db.execute("SELECT image_sha256 FROM pages WHERE id = 1").fetchone()[0]
    with archive.transaction() as db:
        db.execute("UPDATE pages SET rotation = 90, image_turn = 90 WHERE id = 1")
    assert archive.db.execute("SELECT image_sha256 FROM pages WHERE id = 1").fetchone()[0] \
        == digest
    # ...while a new image file makes the trigger forget the old hash.
    with archive.transaction() as db:
        db.execute("UPDATE pages SET image_path = REPLACE(image_path, '.png', '.webp') "
                   "WHERE id = 1")
    assert archive.db.execute("SELECT image_sha256 FROM pages WHERE id = 1").fetchone()[0] is None
    with archive.transaction() as db:
        db.execute("UPDATE pages SET image_path = REPLACE(image_path, '.webp', '.png') "
                   "WHERE id = 1")
    assert record_image_hashes(archive, [1]) == 1


def test_check_finds_missing_and_damaged_images_and_repairs_them_from_a_backup(
        archive, school, tmp_path):
    check_archive(archive)
    backup(archive, tmp_path / "bk")
    lost, bad = archive.db.execute(
        "SELECT image_path FROM pages ORDER BY id LIMIT 2").fetchall()
    archive.image(lost[0]).unlink()
    path = archive.image(bad[0])
    path.write_bytes(path.read_bytes()[:-10])
    report = check_archive(archive)
    assert [str(p) for p in report.problems] == [
        f"images/{lost[0]} (page 1) is missing. Copy it back from a backup: scanflow check "
        "--repair --from-backup BACKUP_FOLDER (or rescan the page).",
        f"images/{bad[0]} (page 2) does not match its recorded checksum (damaged or changed). "
        "Copy it back from a backup: scanflow check --repair --from-backup BACKUP_FOLDER (or "
        "rescan the page).",
    ]
    runner = CliRunner()
    result = runner.invoke(cli, ["check", "--archive", str(archive.path)])
    assert result.exit_code == 5
    result = runner.invoke(cli, ["check", "--archive", str(archive.path), "--repair",
                                 "--from-backup", str(tmp_path / "bk")])
    assert result.exit_code == 0, result.output
    assert result.output.count("(repaired)") == 2
    assert result.output.strip().endswith("all problems repaired.")
    assert check_archive(archive).problems == []


def test_check_quarantines_orphans_and_clears_caches(archive, school):
    old = time.time() - 7200
    orphan = archive.images_dir / "ab" / "abc" / "p0001.png"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"not referenced")
    os.utime(orphan, (old, old))
    fresh = archive.images_dir / "cd" / "p0001.png"
    fresh.parent.mkdir(parents=True)
    fresh.write_bytes(b"an ingest may be writing this")
    cache = archive.images_dir / "derived" / "p999" / "x.display.jpg"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"cache")
    with archive.transaction() as db:
        db.execute("DELETE FROM piece_texts WHERE piece_id = ?", [school["ava1"]])
    report = check_archive(archive)
    assert [p.kind for p in report.problems] == ["orphan", "orphan", "cache", "index"]
    assert str(report.problems[0]) == (
        "1 image file(s) belong to no page (e.g. images/ab/abc/p0001.png). Run scanflow check "
        "--repair to move them to the archive's quarantine folder, then delete that folder "
        "once you are sure.")
    report = check_archive(archive, repair=True)
    assert [p.repaired for p in report.problems] == [True, False, True, True]
    assert not orphan.exists() and fresh.exists() and not cache.parent.exists()
    assert (Path(report.quarantine) / "images" / "ab" / "abc" / "p0001.png").read_bytes() == \
        b"not referenced"
    assert index_problems(archive) == []


def test_check_deletes_what_an_interrupted_extraction_left_not_quarantines_it(archive,
                                                                               school):
    # A page image pdfimages was writing when the run was killed is a temporary file:
    # deleted by --repair (and by the next ingest), not kept in quarantine as an orphan.
    old = time.time() - 7200
    folder = archive.images_dir / ".pdfimages.tmp-k1ll3d"
    folder.mkdir(parents=True)
    page = folder / "page-000.jpg"
    page.write_bytes(b"\xff\xd8 a child's page")
    os.utime(page, (old, old))
    report = check_archive(archive)
    assert [p.kind for p in report.problems] == ["cache"]
    assert "half-written temporary file" in str(report.problems[0])
    report = check_archive(archive, repair=True)
    assert report.problems[0].repaired and report.quarantine is None
    assert not folder.exists()


def test_backup_and_restore_cli(archive, school, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["backup", "--archive", str(archive.path), str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Backup written to {tmp_path / 'b'}: 4 pupils, "
                                    f"{len(school)} pieces, 14 images")
    result = runner.invoke(cli, ["restore", str(tmp_path / "b"), "--archive",
                                 str(archive.path)])
    assert result.exit_code == 2
    assert "restoring would replace it" in result.output
    result = runner.invoke(cli, ["restore", str(tmp_path / "b"), "--archive",
                                 str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (f"Restored {tmp_path / 'b'} to {tmp_path / 'r'}: 4 pupils, "
                                      f"{len(school)} pieces, 14 images.")
