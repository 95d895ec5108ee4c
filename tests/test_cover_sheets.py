"""Cover sheets end to end: printing, ingest splitting at codes, rescans as versions,
pupils leaving. Real Tesseract on a handful of small writing pages."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import page_image
from PIL import Image

from scanflow.archive.pieces import list_unassigned
from scanflow.archive.roster import get_pupil, import_roster, mark_left
from scanflow.archive.transcription import mark_reviewed
from scanflow.archive.versions import discard_version, keep_version, list_versions
from scanflow.cli import cli
from scanflow.errors import UsageError
from scanflow.evaluation.degrade import ScanLike, damage_code, degrade, render_pdf_pages
from scanflow.exports.sheets import print_sheets
from scanflow.intake import ingest as ingest_mod
from scanflow.intake.ingest import IngestOptions, ingest

HT, GENRE = "2026-27-autumn-1", "narrative"
OPTS = dict(half_term=HT, genre=GENRE, jobs=1)
AVA, BEN, CARA = "A100000000001", "A100000000002", "A100000000003"


def run(archive, *args):
    result = CliRunner().invoke(cli, [*args, "--archive", str(archive.path)], obj={},
                                catch_exceptions=False)
    return result.exit_code, result.output


def rendered_sheets(archive, tmp_path, dpi=200, **kw):
    """Sheets for Ava, Ben, Cara (3A, 3A, 4B), rendered like a scan at ``dpi``."""
    pdf = tmp_path / "sheets.pdf"
    print_sheets(archive, pdf, half_term=HT, genre=GENRE, pupil_ids=[AVA, BEN, CARA], **kw)
    return render_pdf_pages(pdf, dpi)


def writing(text: str) -> np.ndarray:
    return np.asarray(page_image([text]))


def write_batch(path, pages, dpi=200):
    images = [Image.fromarray(p).convert("RGB") for p in pages]
    images[0].save(path, save_all=True, append_images=images[1:], resolution=dpi)
    return path


def labelled_page(archive, tmp_path, pupil_id: str, text: str) -> np.ndarray:
    """A writing page with the pupil's label stuck at the top (books with one cover a year)."""
    pdf = tmp_path / "labels.pdf"
    print_sheets(archive, pdf, half_term=HT, genre=GENRE, pupil_ids=[pupil_id], labels=True)
    sheet = render_pdf_pages(pdf, 300, 1, 1)[0]
    label = sheet[180:180 + 450, 55:55 + 1170]  # the first label: 99 x 38 mm at 300 dpi
    page = np.asarray(page_image(["", "", "", "", "", text])).copy()
    page[20:20 + label.shape[0], 40:40 + label.shape[1]] = label
    return page


def rows(archive, sql, *params):
    return archive.db.execute(sql, params).fetchall()


def test_batch_is_split_at_codes_covers_kept_not_read(archive, tmp_path):
    sheets = rendered_sheets(archive, tmp_path)
    rng = np.random.default_rng(5)
    unreadable = damage_code(sheets[1], rng, "tear")
    unreadable[int(unreadable.shape[0] * 0.18):int(unreadable.shape[0] * 0.26)] = 255
    pages = [
        writing("A stray page before any sheet"),
        degrade(sheets[0], ScanLike(angle=5, noise=6, jpeg=60), rng),  # Ava's sheet
        writing("Once upon a time there was a dragon"),
        writing("he was my best frend becaus"),
        unreadable,                                                      # Ben's, unreadable
        writing("Ben wrote this page"),
        labelled_page(archive, tmp_path, CARA, "The cat sat on the mat"),  # Cara's label
        writing("and then it went home"),
    ]
    batch = write_batch(tmp_path / "class.pdf", pages)
    code, out = run(archive, "ingest", str(batch), "--half-term", HT, "--genre", GENRE,
                    "--class", "3A", "-q", "-j", "1")
    assert code == 0, out
    got = rows(archive, "SELECT page_number, pages.status, pieces.pupil_id, position FROM pages "
                        "LEFT JOIN pieces ON pieces.id = pages.piece_id ORDER BY page_number")
    assert got == [(1, "ok", None, None), (2, "cover", AVA, 0), (3, "ok", AVA, 1),
                   (4, "ok", AVA, 2), (5, "cover", None, None), (6, "ok", None, None),
                   (7, "ok", CARA, 1), (8, "ok", CARA, 2)]
    # A cover is stored as an image, not read: no OCR text, no OCR image, no lines.
    cover = rows(archive, "SELECT id, ocr_text, ocr_image_path, image_path, code FROM pages "
                          "WHERE page_number = 2")[0]
    assert cover[1] is None and cover[2] is None
    assert (archive.images_dir / cover[3]).is_file()
    assert rows(archive, "SELECT COUNT(*) FROM lines WHERE page_id = ?", cover[0]) == [(0,)]
    assert json.loads(cover[4])["code"]["pupil_id"] == AVA
    # The labelled page is writing: read, but the label's printing is not the child's.
    labelled = rows(archive, "SELECT ocr_text, image_path, code FROM pages "
                             "WHERE page_number = 7")[0]
    assert "cat sat on the mat" in labelled[0]
    for printed in ("Cara", "Class", "Autumn", CARA, "2026-27"):
        assert printed not in labelled[0], (printed, labelled[0])
    assert json.loads(labelled[2])["region"] is not None
    # The faithful page keeps the label (dark QR modules where it was stuck).
    stored = np.asarray(Image.open(archive.images_dir / labelled[1]).convert("L"))
    assert (stored[40:200, 60:400] < 80).mean() > 0.1  # painted out, it would be 0
    assert [(p.page_number, p.status) for p in list_unassigned(archive)] == \
        [(1, "ok"), (5, "cover"), (6, "ok")]
    assert "Codes: 3 found (2 cover sheet(s), 1 label(s)); expected 2 for class 3A, 1 found." \
        in out
    assert "  No piece for 1 pupil(s) of the class list: Ben Jones (A100000000002)" in out
    assert "  Unreadable cover sheet at class.pdf page 5: its 2 page(s) are on the " \
           "unassigned list." in out
    assert "  1 page(s) with no code before them: class.pdf page(s) 1. They are on the " \
           "unassigned list." in out
    assert "3 page(s) have no pupil yet: scanflow unassigned" in out
    summary = json.loads(rows(archive, "SELECT summary FROM batches")[0][0])
    assert summary["codes"]["missing"] == [BEN]
    assert summary["codes"]["unreadable"] == ["class.pdf page 5"]
    # Leftovers are resolved with assign (logged, with who).
    code, out = run(archive, "assign", "5", "6", "--pupil", BEN)
    assert code == 0 and "2 page(s) added to piece" in out
    assert rows(archive, "SELECT actor IS NOT NULL FROM events WHERE action = 'page.assign'") \
        == [(1,), (1,)]


def test_rescan_becomes_a_new_version_the_teacher_keeps_or_discards(archive, tmp_path):
    sheets = rendered_sheets(archive, tmp_path)
    first = write_batch(tmp_path / "first.pdf", [sheets[0], writing("My first go at it")])
    ingest(archive, [first], IngestOptions(**OPTS))
    (v1,) = [r[0] for r in rows(archive, "SELECT id FROM pieces")]
    mark_reviewed(archive, v1, reviewer="mrs.k")
    again = write_batch(tmp_path / "again.pdf", [sheets[0], writing("My better scan of it")])
    report = ingest(archive, [again], IngestOptions(**OPTS))
    (v2,) = report.pieces
    assert v2 != v1
    assert rows(archive, "SELECT id, version, status FROM pieces ORDER BY version") == \
        [(v1, 1, "reviewed"), (v2, 2, "awaiting_review")]
    # The reviewed piece is untouched: still its one page of writing and its cover.
    assert rows(archive, "SELECT COUNT(*) FROM pages WHERE piece_id = ?", v1) == [(2,)]
    assert (f"  Ava Smith (A100000000001) 2026-27-autumn-1 narrative was already in the "
            f"archive: this scan is version 2 (piece {v2}). Keep one with: scanflow versions "
            f"{v2}") in report.codes.lines()

    code, out = run(archive, "versions", str(v2))
    assert code == 0
    assert [line.split()[:5] for line in out.splitlines()[:2]] == [
        ["piece", str(v1), "version", "1", "reviewed"],
        ["piece", str(v2), "version", "2", "awaiting_review"]]
    assert "1 page(s)" in out.splitlines()[1]
    assert out.splitlines()[-1] == ("Keep one with: scanflow keep PIECE (the others are "
                                    "discarded, not deleted)")
    code, out = run(archive, "keep", str(v2))
    assert out.strip() == f"Kept piece {v2}. Discarded: {v1} (undo with scanflow keep PIECE)."
    assert [(v.piece_id, v.status) for v in list_versions(archive, v1)] == \
        [(v1, "discarded"), (v2, "awaiting_review")]
    # Reversible: keeping the first again brings it back as reviewed.
    assert keep_version(archive, v1, actor="mrs.k") == [v2]
    assert [(v.piece_id, v.status) for v in list_versions(archive, v1)] == \
        [(v1, "reviewed"), (v2, "discarded")]
    with pytest.raises(UsageError, match=f"Piece {v2} is already discarded"):
        discard_version(archive, v2)
    code, out = run(archive, "discard-version", str(v1))
    assert out.strip() == f"Piece {v1} discarded. Undo with: scanflow keep {v1}"
    code, out = run(archive, "versions", "999")
    assert code == 2 and "Error: There is no piece 999. List pieces with: scanflow pieces" in out


def test_interrupted_ingest_resumes_inside_a_coded_run(archive, tmp_path, monkeypatch):
    sheets = rendered_sheets(archive, tmp_path)
    batch = write_batch(tmp_path / "b.pdf", [sheets[0], writing("first page"),
                                             writing("second page")])
    real = ingest_mod.save_page
    calls = {"n": 0}

    def stop_after_cover(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(ingest_mod, "save_page", stop_after_cover)
    assert ingest(archive, [batch], IngestOptions(**OPTS)).interrupted
    monkeypatch.setattr(ingest_mod, "save_page", real)
    ingest(archive, [batch], IngestOptions(**OPTS))
    assert rows(archive, "SELECT page_number, pages.status, pieces.pupil_id, position FROM pages "
                         "JOIN pieces ON pieces.id = pages.piece_id ORDER BY page_number") == \
        [(1, "cover", AVA, 0), (2, "ok", AVA, 1), (3, "ok", AVA, 2)]


def test_sheets_command_prints_one_page_per_pupil_with_the_rubric_grid(archive, tmp_path):
    out_pdf = tmp_path / "sheets.pdf"
    code, out = run(archive, "sheets", "--class", "3A", "--half-term", HT, "--genre", GENRE,
                    "-o", str(out_pdf))
    assert code == 0
    assert out.strip() == (f"{out_pdf}: 2 cover sheet(s) for 3A, {HT} {GENRE}. Print at 100% "
                           "(actual size), not 'fit to page'.")
    text = subprocess.run(["pdftotext", "-layout", str(out_pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    pages = text.split("\f")[:-1]
    assert len(pages) == 2
    # In register order: by surname.
    assert "Ben Jones" in pages[0] and "Ava Smith" in pages[1]
    assert "A100000000002 2026-27-autumn-1 narrative" in " ".join(pages[0].split())
    # The printed code's face travels inside the PDF: it prints and renders the same on
    # every computer, whatever fonts that computer has.
    fonts = subprocess.run(["pdffonts", str(out_pdf)], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    code_fonts = [f.split() for f in fonts if "BitstreamVeraSans-Bold" in f]
    assert code_fonts and all(f[-5] == "yes" for f in code_fonts)  # the "emb" column
    # Year 3 narrative band: 8 criteria, Sentence Structure and Cohesion are gaps ("—").
    assert "Writing Assessment Rubric Text Type - Narrative: Year 3" in pages[0]
    for criterion in ("Audience and Ideas", "Spelling", "Cohesion"):
        assert criterion in pages[0]
    assert pages[0].count("—") >= 10
    for i, pupil in enumerate([BEN, AVA]):
        img = render_pdf_pages(out_pdf, 150, i + 1, i + 1)[0]
        from scanflow.intake.codes import find_code

        assert find_code(img).code.pupil_id == pupil
    # Labels: 14 to a page.
    code, out = run(archive, "sheets", "--pupil", AVA, "--pupil", CARA, "--half-term", HT,
                    "--genre", GENRE, "--labels", "-o", str(tmp_path / "labels.pdf"))
    assert code == 0 and "2 label(s)" in out
    # Errors say what to do.
    code, out = run(archive, "sheets", "--class", "9Z", "--half-term", HT, "--genre", GENRE,
                    "-o", str(out_pdf))
    assert code == 2 and out.strip() == (
        "Error: No pupils in class '9Z'. Classes in the archive: 3A, 4B (import the class "
        "list with: scanflow roster import FILE.csv).")
    code, out = run(archive, "sheets", "--class", "3A", "--half-term", HT, "--genre", GENRE,
                    "-o", str(tmp_path / "sheets.png"))
    assert code == 2 and "does not end in .pdf. Name the output file *.pdf." in out


def test_pupils_leave_keep_their_pieces_and_are_not_printed_for(archive, tmp_path):
    sheets = rendered_sheets(archive, tmp_path)
    ingest(archive, [write_batch(tmp_path / "b.pdf", [sheets[0], writing("my story")])],
           IngestOptions(**OPTS))
    code, out = run(archive, "roster", "leave", AVA, "--date", "2026-12-18")
    assert out.strip() == ("Ava Smith (A100000000001) left on 2026-12-18. Their pieces stay "
                           "in the archive.")
    assert get_pupil(archive, AVA).left_on == "2026-12-18"
    assert rows(archive, "SELECT COUNT(*) FROM pieces WHERE pupil_id = ?", AVA) == [(1,)]
    code, out = run(archive, "sheets", "--class", "3A", "--half-term", HT, "--genre", GENRE,
                    "-o", str(tmp_path / "s.pdf"))
    assert "1 cover sheet(s)" in out
    code, out = run(archive, "roster", "leave", AVA, "--date", "18/12/2026")
    assert code == 2 and out.strip() == ("Error: '18/12/2026' is not a date. Write it as "
                                         "YYYY-MM-DD, e.g. 2026-07-22.")
    code, out = run(archive, "roster", "return", AVA)
    assert out.strip() == "Ava Smith (A100000000001) is on roll again."
    # A whole-school export without Ben: he is marked as left; a class list is refused.
    whole = tmp_path / "whole.csv"
    whole.write_text("UPN,Forename,Surname,Class,Year Group\n"
                     f"{AVA},Ava,Smith,3A,3\n{CARA},Cara,Patel,4B,4\n")
    code, out = run(archive, "roster", "sync", str(whole), "--left-on", "2027-07-20")
    assert code == 0 and "1 marked as left, 0 back on roll" in out and f"left: {BEN}" in out
    mark_left(archive, CARA, "2027-07-20")
    one_class = tmp_path / "one.csv"
    one_class.write_text("UPN,Forename,Surname,Class,Year Group\nZ1,Zed,Ng,5C,5\n")
    code, out = run(archive, "roster", "sync", str(one_class), "--left-on", "2027-07-20")
    assert code == 3 and "marking them all as left looks like a mistake" in out
    # Importing a leaver again puts them back on roll.
    report = import_roster(archive, whole)
    assert report.returned == [CARA] and get_pupil(archive, CARA).left_on is None


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_label_region_follows_the_label_however_the_page_is_turned(archive, tmp_path, turns):
    from scanflow.intake.codes import find_code, mask_label

    page = labelled_page(archive, tmp_path, CARA, "The cat sat on the mat")
    page = np.ascontiguousarray(np.rot90(page, k=turns))
    hit = find_code(page)
    assert hit is not None and hit.region is not None
    # The label was pasted at rows 20-470, columns 40-1210 of the upright page.
    label = np.zeros(page.shape[:2], bool)
    upright = np.zeros(np.rot90(page, k=-turns).shape[:2], bool)
    upright[20:470, 40:1210] = True
    label = np.rot90(upright, k=turns)
    masked = mask_label(page, hit)
    painted = (masked != page).any(axis=2) | (masked == 255).all(axis=2)
    assert painted[label].mean() > 0.98  # all of the label is painted out...
    writing = np.zeros(upright.shape, bool)
    writing[690:760, :] = True  # the written line, 2 cm below the label
    writing = np.rot90(writing, k=turns)
    assert (masked[writing] == page[writing]).all()  # ...and none of the writing
    assert painted[~label].mean() < 0.05  # only a 2 mm margin round the label
