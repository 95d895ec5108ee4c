"""Erasure and retention: nothing of the pupil left, not even in the database file's bytes."""

from __future__ import annotations

import json
import sqlite3

import pytest
from archive_helpers import ZEPH, add_piece, make_school
from click.testing import CliRunner

from scanflow.archive import transcription as T
from scanflow.archive.check import check_archive
from scanflow.archive.erase import erase_pupils, erasure_plan, leavers_before, purge
from scanflow.archive.pieces import assign_pages
from scanflow.archive.roster import mark_left
from scanflow.archive.search import search
from scanflow.cli import cli
from scanflow.errors import UnknownPupil
from scanflow.review.editing import save_line

NEEDLES = [b"A100000000009", b"Quillfeather", b"quillfeather", b"Zephyrine", b"zephyrine",
           b"Biscuit", b"biscuit"]


@pytest.fixture
def school(archive, tmp_path):
    ids = make_school(archive, tmp_path)
    # Everything that can point at Zephyrine: a saved version and a draft, levels (made
    # above), a class-set PDF shared with Ben, an assigned loose page (its audit entry
    # names her), a cover page coded for her on the unassigned list, a batch summary.
    piece = ids["zeph1"]
    lines = T.current_lines(archive, piece)
    lines[0].text = "Zephyrine Quillfeather wrote about her dog Biscuit"
    T.save_version(archive, piece, lines, based_on=0, author="mrs.k")
    save_line(archive, piece, "mrs.k", based_on=1, rev=0, index=0,
              text="Zephyrine Quillfeather wrote about Biscuit")
    ids["set_ben"] = add_piece(archive, "A100000000002", "2026-27-summer-1", "narrative",
                               [["Ben wrote this in the class set"]], file_name="3A_set.pdf")
    ids["set_zeph"] = add_piece(archive, ZEPH, "2026-27-summer-1", "narrative",
                                [["Biscuit ran away in the summer"]], file_name="3A_set.pdf",
                                first_page=2)
    add_piece(archive, None, "2026-27-summer-1", "narrative", [["the loose page of a dog"]],
              file_name="loose.png")
    loose = archive.db.execute("SELECT id FROM pages WHERE piece_id IS NULL").fetchone()[0]
    assign_pages(archive, [loose], ZEPH)
    add_piece(archive, None, "2026-27-summer-1", "narrative", [["cover"]],
              file_name="covers.pdf", code=f"SF1|{ZEPH}|2026-27-summer-1|narrative")
    with archive.transaction() as db:
        db.execute("UPDATE batches SET summary = ? WHERE id = 1",
                   [json.dumps({"codes": {"missing": [ZEPH, "A100000000002"]}})])
        db.execute("ANALYZE")  # statistics may sample index keys (the pupil id)
    return ids


def file_bytes(archive) -> bytes:
    archive.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    data = (archive.path / "scanflow.db").read_bytes()
    wal = archive.path / "scanflow.db-wal"
    return data + (wal.read_bytes() if wal.exists() else b"")


def test_erase_then_check_leaves_nothing(archive, school):
    assert all(n in file_bytes(archive) for n in (b"A100000000009", b"Quillfeather"))
    images = [r for row in archive.db.execute(
        "SELECT image_path, ocr_image_path FROM pages JOIN pieces ON pieces.id = pages.piece_id "
        "WHERE pieces.pupil_id = ?", [ZEPH]) for r in row]
    shared_file = archive.db.execute("SELECT sha256 FROM files WHERE name = '3A_set.pdf'"
                                     ).fetchone()[0]
    plan = erasure_plan(archive, ZEPH)
    assert (plan.pieces, plan.pages) == (2, 4)  # the loose page joined her summer piece;
    # 4 pages: autumn, the class-set page, the loose page and the cover coded for her
    report = erase_pupils(archive, [ZEPH], actor="head")
    assert report.wal_cleared and report.mentions == []
    assert report.files_deleted == 8  # faithful + OCR image of 4 pages
    assert report.rows["pupils"] == 1 and report.rows["scores"] == 1
    assert report.rows["review_drafts"] == 1 and report.rows["transcription_versions"] == 1
    # No row of any table names her; nor do the file's bytes, nor the log's.
    conn = archive.db
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for row in conn.execute(f'SELECT * FROM "{table}"'):
            assert not any(n.decode() in repr(row) for n in NEEDLES), (table, row)
    data = file_bytes(archive)
    for needle in NEEDLES:
        assert needle not in data, needle
    for rel in images:
        assert not archive.image(rel).exists()
    assert search(archive, "Biscuit") == [] and search(archive, "Quillfeather") == []
    # The class-set file stays for Ben, without her page.
    assert conn.execute("SELECT page_number FROM pages WHERE file_sha256 = ?",
                        [shared_file]).fetchall() == [(1,)]
    assert [h.piece_id for h in search(archive, "class set")] == [school["set_ben"]]
    # The summary keeps Ben and loses her; the audit log says only that someone was erased.
    summary = conn.execute("SELECT summary FROM batches WHERE id = 1").fetchone()[0]
    assert json.loads(summary) == {"codes": {"missing": ["[erased]", "A100000000002"]}}
    erased = conn.execute("SELECT actor, subject, detail FROM events WHERE action = "
                          "'pupil.erased'").fetchall()
    assert erased == [("head", report.token, json.dumps(
        {"files": 8, "models": [], "pupils": 1, "reason": "erasure request",
         "rows": report.total_rows},
        sort_keys=True))]
    assert check_archive(archive).problems == []
    with pytest.raises(UnknownPupil):
        erasure_plan(archive, ZEPH)


def test_the_name_in_another_childs_story_is_reported_not_changed(archive, school):
    add_piece(archive, "A100000000003", "2026-27-summer-1", "narrative",
              [["My best friend is Zephyrine Quillfeather"]])
    report = erase_pupils(archive, [ZEPH])
    assert len(report.mentions) == 1
    text = archive.db.execute("SELECT text FROM piece_texts WHERE piece_id = ?",
                              [report.mentions[0]]).fetchone()[0]
    assert text == "My best friend is Zephyrine Quillfeather"


def test_erase_cli_asks_for_the_pupil_id(archive, school):
    runner = CliRunner()
    base = ["pupil", "erase", "--archive", str(archive.path), ZEPH]
    result = runner.invoke(cli, base, input="A1\n")
    assert result.exit_code == 2
    assert "This permanently deletes Zephyrine Quillfeather (A100000000009): 2 piece(s), " \
           "4 page(s)" in result.output
    assert "Not erased: the id typed did not match." in result.output
    assert archive.db.execute("SELECT COUNT(*) FROM pupils WHERE pupil_id = ?",
                              [ZEPH]).fetchone()[0] == 1
    result = runner.invoke(cli, base, input=f"{ZEPH}\n")
    assert result.exit_code == 0, result.output
    assert "Erased 1 pupil(s):" in result.output and "Audit entry: pupil.erased " in result.output


def test_purge_erases_leavers_before_the_date(archive, school, tmp_path):
    mark_left(archive, ZEPH, "2020-07-20")
    mark_left(archive, "A100000000003", "2026-07-20")
    assert [p.pupil_id for p in leavers_before(archive, "2021-01-01")] == [ZEPH]
    runner = CliRunner()
    result = runner.invoke(cli, ["purge", "--archive", str(archive.path), "--left-before",
                                 "2021-01-01", "--dry-run"])
    assert result.output.splitlines() == [
        f"  {ZEPH}  {'Zephyrine Quillfeather':<28} left 2020-07-20",
        "1 pupil(s) would be erased (dry run: nothing changed)."]
    result = runner.invoke(cli, ["purge", "--archive", str(archive.path), "--left-before",
                                 "2021-01-01", "--yes"])
    assert result.exit_code == 0, result.output
    names = {r[0] for r in archive.db.execute("SELECT pupil_id FROM pupils")}
    assert ZEPH not in names and "A100000000003" in names
    assert purge(archive, "2021-01-01") is None
    result = runner.invoke(cli, ["purge", "--archive", str(archive.path), "--left-before",
                                 "last year"])
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: 'last year' is not a date. Write it as YYYY-MM-DD, "
                                      "e.g. 2020-08-31.")


def test_a_table_added_later_is_covered_by_its_foreign_key(archive, school):
    # A feature that does not exist yet: notes on pieces, and a per-pupil table.
    with archive.transaction() as db:
        db.execute("CREATE TABLE piece_notes (id INTEGER PRIMARY KEY, piece_id INTEGER "
                   "REFERENCES pieces(id), note TEXT)")
        db.execute("CREATE TABLE reading_ages (pupil_id TEXT, age REAL)")
        db.execute("INSERT INTO piece_notes (piece_id, note) VALUES (?, 'lovely'), (?, 'ok')",
                   [school["zeph1"], school["ben1"]])
        db.execute("INSERT INTO reading_ages VALUES (?, 8.5), ('A100000000002', 9)", [ZEPH])
    report = erase_pupils(archive, [ZEPH])
    assert report.rows["piece_notes"] == 1 and report.rows["reading_ages"] == 1
    assert archive.db.execute("SELECT note FROM piece_notes").fetchall() == [("ok",)]


def test_erase_while_a_reader_holds_the_old_data(archive, school):
    reader = sqlite3.connect(str(archive.path / "scanflow.db"))
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM pieces").fetchone()  # a read transaction stays open
    report = erase_pupils(archive, [ZEPH])
    assert report.wal_cleared is False  # said so, so the person can run check later
    reader.rollback()
    reader.close()
    runner = CliRunner()
    runner.invoke(cli, ["check", "--archive", str(archive.path)])
    for needle in NEEDLES:
        assert needle not in file_bytes(archive), needle
