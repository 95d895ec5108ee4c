"""Printing coded cover sheets (one A4 page per pupil) and labels (14 to an A4 page).

A **cover sheet** goes in the front of a pupil's English assessment book, as the school
already does with its writing level assessment sheets. It carries:

* a QR code with the pupil id, half term and genre (see :mod:`scanflow.intake.codes`), and an
  ArUco marker that says "this is a scanflow sheet" even when the QR code is damaged;
* the same code in large printed text, which a person (or Tesseract) can read;
* the pupil's name, class and year group, the half term and genre in words;
* the rubric grid for the pupil's year group: criteria x levels, a box to tick per level,
  "—" where the school's rubric has no descriptor (a gap). Without a rubric for the genre,
  the space is left ruled for the teacher's own grid.

A **label** carries the code, marker and printed code, name and class, to stick on the page
where the piece starts in a book that has one cover for the whole year.

>>> pages = print_sheets(archive, "sheets.pdf", class_name="4B",
...                      half_term="2026-27-autumn-1", genre="narrative")  # doctest: +SKIP

Vector PDF (reportlab), so the code's modules stay sharp at any printer resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from scanflow.archive.pieces import check_genre
from scanflow.archive.roster import Pupil, get_pupil, list_pupils
from scanflow.archive.store import Archive
from scanflow.archive.terms import HalfTerm
from scanflow.errors import UsageError
from scanflow.intake.codes import (
    ARUCO_DICTIONARY,
    LABEL,
    MARKER_IDS,
    SHEET,
    CodeFormatError,
    SheetCode,
)

QR_SIZE = 45 * mm  # 33 modules + 4-module quiet zone each side: 1.1 mm a module
MARKER_SIZE = 16 * mm
GAP_MARK = "—"


@dataclass
class SheetPupil:
    """One pupil to print for, with the code their sheet carries."""

    pupil: Pupil
    code: SheetCode


def sheet_pupils(archive: Archive, *, half_term: str, genre: str, class_name: str | None = None,
                 pupil_ids: list[str] | None = None, kind: str = SHEET) -> list[SheetPupil]:
    """The pupils to print for (a class, or listed ids), in register order.

    Pupils who have left (``left_on`` set) are not printed for a class.
    """
    half_term = str(HalfTerm.parse(half_term))
    genre = check_genre(archive, genre)
    if pupil_ids:
        pupils = [get_pupil(archive, pid) for pid in pupil_ids]
    elif class_name:
        pupils = [p for p in list_pupils(archive, class_name) if not p.left_on]
        if not pupils:
            classes = sorted({p.class_name for p in list_pupils(archive) if p.class_name})
            raise UsageError(f"No pupils in class '{class_name}'.",
                             hint=f"Classes in the archive: {', '.join(classes) or 'none'} "
                                  "(import the class list with: scanflow roster import FILE.csv).")
    else:
        raise UsageError("Say whose sheets to print.",
                         hint="Give --class NAME or one or more --pupil ID.")
    out = []
    for p in pupils:
        code = SheetCode(p.pupil_id, half_term, genre, kind)
        try:
            code.payload()
        except CodeFormatError:
            raise UsageError(f"Pupil id {p.pupil_id!r} cannot be printed in a code.",
                             hint="Pupil ids must not contain '|' or spaces at the ends; "
                                  "fix the id in the class list and import it again.") from None
        out.append(SheetPupil(p, code))
    return out


def print_sheets(archive: Archive, output: str | Path, *, half_term: str, genre: str,
                 class_name: str | None = None, pupil_ids: list[str] | None = None,
                 labels: bool = False, rubric_dir: str | Path | None = None) -> int:
    """Write cover sheets (or labels) to ``output`` as a PDF. Returns the number printed."""
    people = sheet_pupils(archive, half_term=half_term, genre=genre, class_name=class_name,
                          pupil_ids=pupil_ids, kind=LABEL if labels else SHEET)
    output = Path(output)
    if output.suffix.lower() != ".pdf":
        raise UsageError(f"{output} does not end in .pdf.", hint="Name the output file *.pdf.")
    if not output.parent.exists():
        raise UsageError(f"The folder {output.parent} does not exist.",
                         hint="Create it, or write the PDF somewhere else.")
    tmp = output.with_name(f".{output.name}.tmp")  # written beside, then renamed: never half a PDF
    canvas = Canvas(str(tmp), pagesize=A4)
    canvas.setTitle(("Labels" if labels else "Assessment sheets") +
                    f" {half_term} {genre}")
    canvas.setCreator("scanflow")
    if labels:
        draw_labels(canvas, people)
    else:
        grids = _rubric_grids(genre, rubric_dir)
        for person in people:
            draw_sheet(canvas, person, grids(person.pupil.year_group))
            canvas.showPage()
    canvas.save()
    tmp.replace(output)
    archive.log_event("sheets.print", output.name, kind="labels" if labels else "sheets",
                      count=len(people), half_term=str(HalfTerm.parse(half_term)), genre=genre,
                      pupils=[p.pupil.pupil_id for p in people])
    return len(people)


# --- the rubric grid ----------------------------------------------------------------


@dataclass
class Grid:
    """What the sheet shows of the rubric for one year group."""

    title: str
    band_label: str
    min_words: int | None
    levels: list[tuple[str, str]]  # (letter, label), level 1 first
    rows: list[tuple[str, list[bool]]]  # criterion name, has-descriptor per level


def rubric_grid(rubric, year_group: int | None) -> Grid | None:
    """The grid for ``year_group`` from a loaded rubric; None if no band covers it."""
    from scanflow.scoring.rubric import LEVEL_NUMBERS

    if year_group is None:
        return None
    try:
        from scanflow.scoring.rubric import band_for_year

        band = band_for_year(rubric, year_group)
    except UsageError:
        return None
    rows = [(rubric.criteria.get(c.id, c.name),
             [bool(not c.missing and c.levels.get(n)) for n in LEVEL_NUMBERS])
            for c in band.criteria]
    return Grid(rubric.title, band.label, band.min_words,
                [(rubric.levels[n].letter, rubric.levels[n].label) for n in LEVEL_NUMBERS], rows)


def _rubric_grids(genre: str, rubric_dir):
    """A function year_group -> Grid | None, loading the genre's rubric once (if any)."""
    from scanflow.scoring.rubric_file import (
        default_rubric_dir,
        find_rubrics,
        load_rubric,
    )

    try:
        found = find_rubrics(rubric_dir or default_rubric_dir())
    except UsageError:
        found = {}
    rubric = load_rubric(found[genre]) if genre in found else None
    return lambda year: rubric_grid(rubric, year) if rubric else None


# --- drawing ------------------------------------------------------------------------


def draw_qr(canvas: Canvas, payload: str, x: float, y: float, size: float) -> None:
    """A QR code with its quiet zone, as filled squares, bottom-left corner at (x, y)."""
    qr = segno.make(payload, error="q", boost_error=False, micro=False)
    rows = [list(r) for r in qr.matrix]
    n = len(rows) + 8  # 4-module quiet zone on each side
    module = size / n
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(rows):
        c = 0
        while c < len(row):  # runs of dark modules as one rectangle: smaller PDF, no seams
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                canvas.rect(x + (start + 4) * module, y + size - (r + 5) * module,
                            (c - start) * module, module, stroke=0, fill=1)
            else:
                c += 1


def draw_marker(canvas: Canvas, kind: str, x: float, y: float, size: float) -> None:
    """The ArUco marker for ``kind`` (7x7 cells with its black border), upright."""
    dictionary = cv2.aruco.getPredefinedDictionary(ARUCO_DICTIONARY)
    cells = cv2.aruco.generateImageMarker(dictionary, MARKER_IDS[kind], 7)
    cell = size / 7
    canvas.setFillColorRGB(0, 0, 0)
    for r in range(7):
        for c in range(7):
            if cells[r, c] < 128:
                canvas.rect(x + c * cell, y + size - (r + 1) * cell, cell, cell, stroke=0, fill=1)


CODE_FONT = "ScanflowCode"


def code_font() -> str:
    """The face the code is printed in, embedded in the PDF: Bitstream Vera Sans Bold,
    which reportlab ships. A PDF's standard Courier is drawn with whatever font the
    computer substitutes; with Debian's URW fonts (Nimbus Mono, thin strokes) a damaged
    sheet's printed code was no longer read back (tests/test_codes.py)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if CODE_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(CODE_FONT, "VeraBd.ttf"))
    return CODE_FONT


def _fit(canvas: Canvas, text: str, font: str, size: float, width: float) -> float:
    """The largest font size up to ``size`` at which ``text`` fits ``width``."""
    while size > 6 and canvas.stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def draw_sheet(canvas: Canvas, person: SheetPupil, grid: Grid | None) -> None:
    """One A4 cover sheet."""
    pupil, code = person.pupil, person.code
    ht = HalfTerm.parse(code.half_term)
    page_w, page_h = A4
    left, right, top = 18 * mm, page_w - 18 * mm, page_h - 18 * mm
    # The marker and the QR code keep well inside the corners: a sheet fed 10 degrees
    # crooked through a document feeder loses its corners to the scan window.
    marker_x, qr_right = 28 * mm, page_w - 30 * mm

    # Header: marker top left, QR code top right, the words between.
    draw_marker(canvas, SHEET, marker_x, top - MARKER_SIZE, MARKER_SIZE)
    draw_qr(canvas, code.payload(), qr_right - QR_SIZE, top - QR_SIZE, QR_SIZE)
    text_x = marker_x + MARKER_SIZE + 5 * mm
    text_w = qr_right - QR_SIZE - 3 * mm - text_x
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setFont("Helvetica-Bold", 13)
    canvas.drawString(text_x, top - 5 * mm, "English assessment book")
    canvas.setFont("Helvetica", 9)
    canvas.drawString(text_x, top - 10 * mm, "Independent writing: level assessment sheet")
    name = pupil.display_name
    canvas.setFont("Helvetica-Bold", _fit(canvas, name, "Helvetica-Bold", 22, text_w))
    canvas.drawString(text_x, top - 21 * mm, name)
    canvas.setFont("Helvetica", 12)
    year = "-" if pupil.year_group is None else ("Reception" if pupil.year_group == 0
                                                 else f"Year {pupil.year_group}")
    canvas.drawString(text_x, top - 28 * mm, f"Class {pupil.class_name or '-'}   {year}")
    canvas.drawString(text_x, top - 34 * mm, f"{ht.label}   {code.genre.capitalize()}")

    # The code in large print (for people, and for OCR when the QR code is damaged).
    y = top - QR_SIZE - 11 * mm
    printed = code.printed()
    font = code_font()
    canvas.setFont(font, _fit(canvas, printed, font, 22, right - left))
    canvas.drawString(left, y, printed)
    canvas.setFont("Helvetica", 8)
    canvas.drawString(left, y - 5 * mm, "Pupil ID, half term and genre. Keep this sheet at the "
                                         "front of the book; scan it in front of the pupil's pages.")

    # The rubric grid.
    y -= 14 * mm
    bottom = 46 * mm
    if grid is None:
        _draw_empty_grid(canvas, left, bottom, right, y, code.genre)
    else:
        _draw_grid(canvas, grid, left, bottom, right, y)

    # Footer: words, comments, and a second marker for a sheet scanned half-covered.
    canvas.setFont("Helvetica", 10)
    canvas.drawString(left, 36 * mm, "Words written: ________      Teacher: ______________"
                                      "      Date: ____________")
    canvas.drawString(left, 28 * mm, "Comment: ______________________________________________")
    draw_marker(canvas, SHEET, right - 25 * mm, 12 * mm, 12 * mm)
    canvas.setFont("Helvetica", 7)
    canvas.drawString(left, 14 * mm, f"scanflow cover sheet  {code.payload()}")


def _draw_grid(canvas: Canvas, grid: Grid, left: float, bottom: float, right: float,
               top: float) -> None:
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawString(left, top, f"{grid.title}: {grid.band_label}")
    canvas.setFont("Helvetica", 9)
    words = f"{grid.min_words}+ words" if grid.min_words else GAP_MARK
    canvas.drawString(left, top - 5 * mm, f"Text length for level {grid.levels[2][0]} "
                                           f"({grid.levels[2][1]}): {words}")
    table_top = top - 9 * mm
    name_w = 62 * mm
    col_w = (right - left - name_w) / len(grid.levels)
    row_h = min(16 * mm, (table_top - bottom - 12 * mm) / max(1, len(grid.rows)))
    header_h = 12 * mm
    canvas.setLineWidth(0.6)
    # Header row: level letter and label.
    canvas.rect(left, table_top - header_h, right - left, header_h, stroke=1, fill=0)
    canvas.setFont("Helvetica-Bold", 10)
    canvas.drawString(left + 2 * mm, table_top - 7.5 * mm, "Criterion")
    for i, (letter, label) in enumerate(grid.levels):
        cx = left + name_w + (i + 0.5) * col_w
        canvas.setFont("Helvetica-Bold", 12)
        canvas.drawCentredString(cx, table_top - 5.5 * mm, letter)
        canvas.setFont("Helvetica", 8)
        canvas.drawCentredString(cx, table_top - 10 * mm, label)
    y = table_top - header_h
    for name, present in grid.rows:
        canvas.rect(left, y - row_h, right - left, row_h, stroke=1, fill=0)
        canvas.setFont("Helvetica", _fit(canvas, name, "Helvetica", 10, name_w - 4 * mm))
        canvas.drawString(left + 2 * mm, y - row_h / 2 - 1.5 * mm, name)
        for i, has in enumerate(present):
            x0 = left + name_w + i * col_w
            canvas.line(x0, y, x0, y - row_h)
            cx = x0 + col_w / 2
            if has:  # a box to tick
                box = 5 * mm
                canvas.rect(cx - box / 2, y - row_h / 2 - box / 2, box, box, stroke=1, fill=0)
            else:  # the school's rubric has no descriptor here
                canvas.setFont("Helvetica", 12)
                canvas.drawCentredString(cx, y - row_h / 2 - 1.5 * mm, GAP_MARK)
        y -= row_h
    canvas.setFont("Helvetica", 7)
    canvas.drawString(left, y - 4 * mm, f"{GAP_MARK} : no descriptor in the school's rubric for "
                                        "this year group.")


def _draw_empty_grid(canvas: Canvas, left: float, bottom: float, right: float, top: float,
                     genre: str) -> None:
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawString(left, top, f"Assessment ({genre}): no rubric for this genre in rubrics/ yet")
    canvas.setLineWidth(0.6)
    canvas.rect(left, bottom, right - left, top - 5 * mm - bottom, stroke=1, fill=0)


# Labels: 2 x 7 on A4, 99.1 x 38.1 mm each (the common "L7163" layout).
LABEL_W, LABEL_H = 99.1 * mm, 38.1 * mm
LABEL_COLS, LABEL_ROWS = 2, 7
LABEL_LEFT, LABEL_TOP = 4.65 * mm, 15.15 * mm
LABEL_GAP_X = 2.5 * mm
LABEL_QR = 34 * mm


def draw_labels(canvas: Canvas, people: list[SheetPupil]) -> None:
    """Labels in rows of two, 14 to a page, in register order."""
    page_w, page_h = A4
    per_page = LABEL_COLS * LABEL_ROWS
    for index, person in enumerate(people):
        if index and index % per_page == 0:
            canvas.showPage()
        slot = index % per_page
        row, col = divmod(slot, LABEL_COLS)
        x = LABEL_LEFT + col * (LABEL_W + LABEL_GAP_X)
        y = page_h - LABEL_TOP - (row + 1) * LABEL_H
        draw_label(canvas, person, x, y)
    canvas.showPage()


def draw_label(canvas: Canvas, person: SheetPupil, x: float, y: float) -> None:
    pupil, code = person.pupil, person.code
    pad = 2 * mm
    draw_qr(canvas, code.payload(), x + pad, y + (LABEL_H - LABEL_QR) / 2, LABEL_QR)
    tx = x + pad + LABEL_QR + 2 * mm
    tw = x + LABEL_W - pad - tx
    marker = 9 * mm
    draw_marker(canvas, LABEL, x + LABEL_W - pad - marker, y + LABEL_H - pad - marker, marker)
    canvas.setFillColorRGB(0, 0, 0)
    name = pupil.display_name
    canvas.setFont("Helvetica-Bold", _fit(canvas, name, "Helvetica-Bold", 12, tw - marker - 1 * mm))
    canvas.drawString(tx, y + LABEL_H - 8 * mm, name)
    canvas.setFont("Helvetica", 9)
    canvas.drawString(tx, y + LABEL_H - 13 * mm, f"Class {pupil.class_name or '-'}")
    ht = HalfTerm.parse(code.half_term)
    canvas.drawString(tx, y + LABEL_H - 18 * mm, f"{ht.label}  {code.genre.capitalize()}")
    # The printed code on two lines so it stays large enough to read back.
    font = code_font()
    canvas.setFont(font, _fit(canvas, code.pupil_id, font, 11, tw))
    canvas.drawString(tx, y + 10 * mm, code.pupil_id)
    rest = f"{code.half_term}  {code.genre}"
    canvas.setFont(font, _fit(canvas, rest, font, 11, tw))
    canvas.drawString(tx, y + 5 * mm, rest)
