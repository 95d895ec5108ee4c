"""Cover-sheet codes: the payload, detection on degraded scans, and splitting a batch.

The sheets are printed by scanflow itself (scanflow.exports.sheets), rendered by Poppler at
150-300 dpi and degraded like a print -> photocopy -> scan (scanflow.evaluation.degrade).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import page_image

from scanflow.archive.roster import import_roster
from scanflow.evaluation.degrade import (
    ScanLike,
    damage_code,
    degrade,
    random_scan_like,
    render_pdf_pages,
)
from scanflow.exports.sheets import print_sheets
from scanflow.intake.batches import PageCode, plan_batch
from scanflow.intake.codes import (
    LABEL,
    READ,
    SHEET,
    TEXT,
    UNREADABLE,
    CodeFormatError,
    CodeHit,
    SheetCode,
    find_code,
    parse_payload,
    parse_printed,
    upright,
)

HT, GENRE = "2026-27-autumn-1", "narrative"


def class_roster(n: int, class_name: str = "4B", year: int = 4) -> str:
    rows = ["UPN,Forename,Surname,Class,Year Group"]
    rows += [f"B{200000000000 + i:012d},Child{i},Surname{i:02d},{class_name},{year}"
             for i in range(1, n + 1)]
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def class_sheets(tmp_path_factory):
    """A 30-pupil class's cover sheets and labels, printed once for the module."""
    from scanflow.archive.store import init_archive

    tmp = tmp_path_factory.mktemp("sheets")
    arch = init_archive(tmp / "archive")
    (tmp / "roster.csv").write_text(class_roster(30))
    import_roster(arch, tmp / "roster.csv")
    print_sheets(arch, tmp / "sheets.pdf", class_name="4B", half_term=HT, genre=GENRE)
    print_sheets(arch, tmp / "labels.pdf", class_name="4B", half_term=HT, genre=GENRE,
                 labels=True)
    pupils = [r[0] for r in arch.db.execute(
        "SELECT pupil_id FROM pupils ORDER BY class_name, surname, first_name")]
    names = {r[0]: r[1] for r in arch.db.execute(
        "SELECT pupil_id, first_name || ' ' || surname FROM pupils")}
    arch.close()
    return {"sheets": tmp / "sheets.pdf", "labels": tmp / "labels.pdf", "pupils": pupils,
            "names": names}


# --- payload ---------------------------------------------------------------------------


def test_payload_round_trip_and_refusals():
    code = SheetCode("A100000000001", HT, GENRE, LABEL)
    assert code.payload() == "SF1|L|A100000000001|2026-27-autumn-1|narrative"
    assert parse_payload(code.payload()) == code
    assert parse_payload("https://example.org") is None  # someone else's QR code
    with pytest.raises(CodeFormatError, match="newer than this scanflow"):
        parse_payload("SF2|S|A1|2026-27-autumn-1|narrative")
    with pytest.raises(CodeFormatError, match="5"):
        parse_payload("SF1|S|A1|2026-27-autumn-1")
    with pytest.raises(CodeFormatError, match="kind"):
        parse_payload("SF1|X|A1|2026-27-autumn-1|narrative")
    with pytest.raises(CodeFormatError):
        SheetCode("A|1", HT, GENRE).payload()


def test_printed_code_parsing_tolerates_ocr_slips():
    assert parse_printed("junk\nA1OO0000000O1   2026-27-autumn-1   narrative\n") == \
        SheetCode("A100000000001", HT, GENRE)
    assert parse_printed("nothing here") is None


# --- detection ----------------------------------------------------------------------


@pytest.mark.parametrize("dpi", [150, 200, 300])
def test_each_degradation_alone_at_each_resolution(class_sheets, dpi):
    clean = render_pdf_pages(class_sheets["sheets"], dpi, 1, 1)[0]
    label_page = render_pdf_pages(class_sheets["labels"], dpi, 1, 1)[0]
    rng = np.random.default_rng(dpi)
    cases = {
        "rotated +10": ScanLike(angle=10.0),
        "rotated -10": ScanLike(angle=-10.0),
        "blurred": ScanLike(blur=0.15 * dpi / 25.4),
        "noisy": ScanLike(noise=14.0),
        "jpeg 35": ScanLike(jpeg=35),
        "low contrast": ScanLike(contrast=0.4, paper=(236, 236, 236)),
        "photocopied grey": ScanLike(photocopy=True, grey=True),
        "cream paper colour": ScanLike(paper=(250, 240, 210), contrast=0.7, noise=6, jpeg=70),
        "everything": ScanLike(angle=-7.5, blur=0.08 * dpi / 25.4, contrast=0.55, noise=10,
                               jpeg=50, grey=True),
    }
    for what, settings in cases.items():
        hit = find_code(degrade(clean, settings, rng))
        assert hit is not None and hit.status == READ, (dpi, what, hit)
        assert hit.code == SheetCode(class_sheets["pupils"][0], HT, GENRE, SHEET), what
        label = find_code(degrade(label_page, settings, rng))
        assert label is not None and label.status == READ and label.kind == LABEL, (dpi, what)


def test_random_scan_like_sheets_all_decode(class_sheets):
    rng = np.random.default_rng(7)
    pages = {dpi: render_pdf_pages(class_sheets["sheets"], dpi, 1, 6) for dpi in (150, 240)}
    misses = []
    for i in range(24):
        dpi = (150, 240)[i % 2]
        page_index = i % 6
        settings = random_scan_like(rng, dpi=dpi)
        hit = find_code(degrade(pages[dpi][page_index], settings, rng))
        if hit is None or hit.status != READ or \
                hit.code.pupil_id != class_sheets["pupils"][page_index]:
            misses.append((dpi, settings, hit))
    assert misses == []


def test_writing_pages_and_foreign_codes_are_not_codes():
    rng = np.random.default_rng(3)
    for angle in (0.0, 4.0):
        page = np.asarray(page_image(["Once upon a time there was a dragon"] * 12, angle=angle))
        assert find_code(page) is None
        assert find_code(degrade(page, random_scan_like(rng), rng)) is None
    import segno

    foreign = np.full((1200, 900, 3), 255, np.uint8)
    qr = np.array(segno.make("https://example.org/worksheet").matrix, np.uint8)
    big = np.kron(1 - qr, np.ones((12, 12), np.uint8)) * 255
    foreign[100:100 + big.shape[0], 100:100 + big.shape[1]] = big[:, :, None]
    assert find_code(foreign) is None


def test_a_damaged_code_is_still_recognised_as_a_sheet(class_sheets):
    rng = np.random.default_rng(11)
    clean = render_pdf_pages(class_sheets["sheets"], 200, 2, 2)[0]
    # QR code scribbled over: the marker says "sheet", the printed code is read instead.
    hit = find_code(degrade(damage_code(clean, rng), ScanLike(angle=3, noise=5), rng))
    assert hit.status == TEXT and hit.kind == SHEET
    assert hit.code == SheetCode(class_sheets["pupils"][1], HT, GENRE, SHEET)
    assert "unreadable QR code" in hit.describe()
    # The printed code torn off too: still a sheet, reported as unreadable.
    torn = damage_code(clean, rng, "tear")
    torn[int(torn.shape[0] * 0.18):int(torn.shape[0] * 0.26)] = 255
    hit = find_code(torn)
    assert hit.status == UNREADABLE and hit.kind == SHEET and hit.code is None
    assert hit.describe() == "cover sheet whose code could not be read " \
                             "(marker found, QR code unreadable)"


def test_upside_down_and_sideways_covers_are_stored_upright(class_sheets):
    clean = render_pdf_pages(class_sheets["sheets"], 150, 1, 1)[0]
    for turns in range(4):
        hit = find_code(np.rot90(clean, turns))
        assert hit.rotation == 90 * turns
        assert np.array_equal(upright(np.rot90(clean, turns), hit), clean)


# --- planning --------------------------------------------------------------------------


def hit(pupil, kind=SHEET, half_term=HT, genre=GENRE, status=READ):
    return CodeHit(status, kind, code=SheetCode(pupil, half_term, genre, kind))


UNREAD = CodeHit(UNREADABLE, SHEET, problem="marker found, QR code unreadable")
ARGS = dict(pupils={"P1": "Ava Smith", "P2": "Ben Jones", "P3": "Cara Patel"},
            genres={"narrative", "recount"}, half_term=HT, genre=GENRE)


def roles(placements):
    return [(p.role, p.pupil_id) for p in placements]


def test_plan_splits_at_each_code_and_reports_every_leftover():
    pages = [PageCode("f1", 1, None, "a.pdf"),                      # before any code
             PageCode("f1", 2, hit("P1"), "a.pdf"),
             PageCode("f1", 3, None, "a.pdf"),
             PageCode("f1", 4, hit("P2", LABEL), "a.pdf"),           # label: page is writing
             PageCode("f1", 5, None, "a.pdf"),
             PageCode("f1", 6, UNREAD, "a.pdf"),                     # unreadable sheet
             PageCode("f1", 7, None, "a.pdf"),
             PageCode("f1", 8, hit("P9"), "a.pdf"),                  # not in the roster
             PageCode("f1", 9, hit("P1"), "a.pdf"),                  # seen twice
             PageCode("f1", 10, None, "a.pdf"),
             PageCode("f2", 1, None, "b.pdf"),                       # a new file: no carry-over
             PageCode("f2", 2, None, "b.pdf", linked_pupil="P3")]    # named by the old rules
    placements, report = plan_batch(pages, expected=["P1", "P2", "P3"], expected_class="4B",
                                    **ARGS)
    assert roles(placements) == [
        ("writing", None), ("cover", "P1"), ("writing", "P1"), ("writing", "P2"),
        ("writing", "P2"), ("cover", None), ("writing", None), ("cover", None),
        ("cover", None), ("writing", None), ("writing", None), ("writing", "P3")]
    assert report.missing == ["P3"]
    assert [s.where for s in report.unreadable] == ["a.pdf page 6"]
    assert list(report.duplicates) == [("P1", HT, GENRE)]
    assert report.uncoded == [("a.pdf", 1), ("b.pdf", 1)]
    assert report.lines() == [
        "Codes: 5 found (4 cover sheet(s), 1 label(s)); expected 3 for class 4B, 2 found.",
        "  No piece for 1 pupil(s) of the class list: Cara Patel (P3)",
        "  Code seen 2 times for Ava Smith (P1) 2026-27-autumn-1 narrative: a.pdf page 2, "
        "a.pdf page 9. The pages after the first are on the unassigned list.",
        "  Unreadable cover sheet at a.pdf page 6: its 2 page(s) are on the unassigned list.",
        "  a.pdf page 8: the code is for pupil P9, who is not in the roster (import the class "
        "list, then: scanflow assign); its 1 page(s) are on the unassigned list.",
        "  2 page(s) with no code before them: a.pdf page(s) 1; b.pdf page(s) 1. "
        "They are on the unassigned list.",
    ]


def test_the_code_wins_over_the_ingest_half_term_and_genre():
    pages = [PageCode("f", 1, hit("P1", half_term="2026-27-spring-2", genre="recount"), "a.pdf"),
             PageCode("f", 2, None, "a.pdf"),
             PageCode("f", 3, hit("P2", genre="poetry"), "a.pdf"),
             PageCode("f", 4, None, "a.pdf")]
    placements, report = plan_batch(pages, **ARGS)
    assert [(p.pupil_id, p.half_term, p.genre) for p in placements] == [
        ("P1", "2026-27-spring-2", "recount"), ("P1", "2026-27-spring-2", "recount"),
        (None, HT, "poetry"), (None, HT, "poetry")]
    lines = report.lines()
    assert ("  a.pdf page 1: the code says 2026-27-spring-2 recount, the ingest "
            "2026-27-autumn-1 narrative: filed as the code says.") in lines
    assert any("genre 'poetry' is not one of the archive's genres (add it with: scanflow "
               "genre add poetry)" in line for line in lines)


def scanned(page: np.ndarray, rng, dpi: int) -> np.ndarray:
    return degrade(page, random_scan_like(rng, dpi=dpi, max_angle=6), rng)


def test_thirty_pupil_batch_is_split_exactly(class_sheets):
    """30 books, 1-3 pages of writing each, scanned-like; two sheets missing, one
    unreadable, one read only from its printed text, one code duplicated."""
    rng = np.random.default_rng(2026)
    pupils = class_sheets["pupils"]
    dpi_of = [150, 200, 300]
    def sheet_at(i: int, dpi: int) -> np.ndarray:
        return render_pdf_pages(class_sheets["sheets"], dpi, i + 1, i + 1)[0]
    writing = [np.asarray(page_image([f"Page {i} of my story about a dragon"], rules=i % 2 == 0))
               for i in range(3)]
    missing = {pupils[4], pupils[20]}  # these books have no sheet...
    unreadable, from_text, duplicated_into = pupils[9], pupils[14], pupils[25]
    pages, expected = [], []

    def add(image, role, pupil):
        pages.append(image)
        expected.append((role, pupil))

    # ...pupil 20's book is scanned first, before any sheet; pupil 4's goes in its own file.
    order = [pupils[20]] + [p for p in pupils if p not in (pupils[20], pupils[4])]
    for n, pupil in enumerate(order):
        i = pupils.index(pupil)
        dpi = dpi_of[n % 3]
        sheet = sheet_at(i, dpi)
        owner = pupil
        if pupil == duplicated_into:  # pupil 24's sheet photocopied into pupil 25's book
            sheet, owner = sheet_at(i - 1, dpi), None
        if pupil in missing:
            owner = None
        elif pupil == unreadable:
            sheet = damage_code(sheet, rng, "tear")
            sheet[int(sheet.shape[0] * 0.18):int(sheet.shape[0] * 0.26)] = 255
            add(scanned(sheet, rng, dpi), "cover", None)
            owner = None
        elif pupil == from_text:
            add(scanned(damage_code(sheet, rng), rng, dpi), "cover", pupil)
        else:
            add(scanned(sheet, rng, dpi), "cover", owner)
        for k in range(1 + n % 3):
            add(scanned(writing[k], rng, dpi), "writing", owner)
    lone = [(scanned(writing[k], rng, 200), ("writing", None)) for k in range(2)]

    codes = [PageCode("batch", i + 1, find_code(img), "batch.pdf") for i, img in enumerate(pages)]
    codes += [PageCode("other", k + 1, find_code(img), "other.pdf") for k, (img, _) in
              enumerate(lone)]
    expected += [e for _, e in lone]
    names = class_sheets["names"]
    placements, report = plan_batch(codes, pupils=names, genres={GENRE}, half_term=HT,
                                    genre=GENRE, expected=pupils, expected_class="4B")
    assert roles(placements) == expected
    # Every leftover is reported.
    assert sorted(report.missing) == sorted([pupils[4], pupils[20], unreadable,
                                             duplicated_into])
    assert [s.hit.code.pupil_id for s in report.read_from_text] == [from_text]
    assert len(report.unreadable) == 1
    assert list(report.duplicates) == [(pupils[24], HT, GENRE)]
    first_pages = 1  # pupil 20's book: 1 page (n = 0)
    assert report.uncoded == [("batch.pdf", p) for p in range(1, first_pages + 1)] + \
        [("other.pdf", 1), ("other.pdf", 2)]
    text = "\n".join(report.lines())
    assert "expected 30 for class 4B, 26 found." in text
    assert "QR code unreadable at batch.pdf page" in text
