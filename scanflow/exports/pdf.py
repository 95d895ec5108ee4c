"""PDFs out of the archive: a searchable PDF of a piece, and a pupil's portfolio.

**Searchable PDF** (:func:`searchable_pdf`): each page is the stored master image, at
its scanned size (pixels / dpi), turned upright by the page's transformation rather than
by re-encoding (a JPEG master is embedded as its own bytes, any other losslessly), with
the final transcription laid over it as invisible
text (PDF text render mode 3), each word on its own box (:func:`scanflow.exports.alto.page_lines`)
and stretched to the box's width. A PDF reader shows the child's page; selecting,
searching or copying gives the teacher-corrected words, in place. PDF/A is not claimed:
no PDF/A validator can be installed here (veraPDF is in neither Debian, PyPI nor npm;
docs/archive.md says what was looked at).

**Portfolio** (:func:`portfolio_pdf`): a cover (the pupil, their classes year by year),
the growth chart and a table of levels over time, then each piece: its half term,
genre, class, length, levels with the rubric's wording, the final transcription, and its
page images (reduced to 150 dpi JPEG so that six years of writing stay a manageable file).

Both use reportlab (already used for cover sheets) with DejaVu Sans embedded, so any name
or word prints as written.

>>> searchable_pdf(archive, 12, "piece12.pdf")               # doctest: +SKIP
>>> portfolio_pdf(archive, "A100000000001", "ava.pdf")       # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from pathlib import Path

from scanflow.archive.store import Archive
from scanflow.errors import ArchiveError, UsageError

FONT, FONT_BOLD = "DejaVuSans", "DejaVuSans-Bold"
FONT_FILES = {FONT: "DejaVuSans.ttf", FONT_BOLD: "DejaVuSans-Bold.ttf"}
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu",)
PORTFOLIO_DPI = 150
JPEG_QUALITY = 80


def _fonts() -> tuple[str, str]:
    """Register DejaVu Sans once; Helvetica if it is not installed (Latin-1 only)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT in pdfmetrics.getRegisteredFontNames():
        return FONT, FONT_BOLD
    for directory in FONT_DIRS:
        paths = {name: Path(directory) / file for name, file in FONT_FILES.items()}
        if all(p.is_file() for p in paths.values()):
            for name, path in paths.items():
                pdfmetrics.registerFont(TTFont(name, str(path)))
            return FONT, FONT_BOLD
    return "Helvetica", "Helvetica-Bold"


def _output(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".pdf":
        raise UsageError(f"{path.name}: the output must be a .pdf file.",
                         hint="End the file name with .pdf")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# --- searchable PDF of a piece ---------------------------------------------------------


def searchable_pdf(archive: Archive, piece_id: int, output: str | Path) -> Path:
    """Write the piece's pages with an invisible, positioned text layer. Returns the path."""
    from scanflow.archive.pieces import get_piece
    from scanflow.exports.alto import page_lines

    output = _output(output)
    piece = get_piece(archive, piece_id)
    pages = page_lines(archive, piece_id)
    stored = {r[0]: r[1:] for r in archive.db.execute(
        "SELECT id, dpi, image_turn FROM pages WHERE piece_id = ?", [piece_id])}
    pages = [p for p in pages if p.image_path]
    if not pages:
        raise UsageError(f"Piece {piece_id} has no page images to export.",
                         hint=f"Check it with: scanflow show {piece_id}")
    font, _ = _fonts()
    tmp = output.with_name(f".{output.name}.tmp")
    with _binary_streams():
        _write_searchable(archive, piece, piece_id, pages, stored, font, tmp)
    tmp.replace(output)
    return output


def _write_searchable(archive: Archive, piece, piece_id: int, pages, stored: dict, font: str,
                      tmp: Path) -> None:
    from reportlab.pdfgen.canvas import Canvas

    canvas = Canvas(str(tmp), invariant=1)
    canvas.setTitle(f"{piece.pupil_name}: {piece.genre}, {piece.half_term}")
    canvas.setAuthor(piece.pupil_name)
    canvas.setCreator("scanflow")
    canvas.setSubject(f"scanflow piece {piece_id}")
    for page in pages:
        source = archive.image(page.image_path)
        if not source.is_file():
            raise ArchiveError(f"The image of page {page.page_id} is missing ({page.image_path}).",
                               hint="Run scanflow check, then restore it from a backup.")
        dpi, turn = stored.get(page.page_id, (None, 0))
        scale = 72.0 / (dpi or 300)  # pixels -> points
        pw, ph = page.width * scale, page.height * scale
        canvas.setPageSize((pw, ph))
        _draw_master(canvas, source, turn or 0, pw, ph)
        for line in page.lines:
            for word in line.words:
                _invisible_word(canvas, font, word.text, word.x * scale,
                                ph - (word.y + word.h) * scale, word.w * scale,
                                word.h * scale)
        canvas.showPage()
    canvas.save()


@contextlib.contextmanager
def _binary_streams():
    """reportlab writes streams as ASCII85 text unless told otherwise, which makes every
    image a quarter bigger; switched off for one export and restored after it."""
    from reportlab import rl_config

    before = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = before


# EXIF orientation -> degrees clockwise that show the image upright (mirrored ones: None).
_EXIF_TURNS = {1: 0, 3: 180, 6: 90, 8: 270}


def _draw_master(canvas, source: Path, turn: int, pw: float, ph: float) -> None:
    """The page's master filling a ``pw`` x ``ph`` page, turned upright by the PDF itself.

    A JPEG master goes in as its own bytes (DCTDecode: no re-encoding, no growth); any
    other master losslessly (Flate). Turning is a transformation of the page, so the
    image is never re-encoded to turn it.
    """
    from PIL import Image as PILImage
    from reportlab.lib.utils import ImageReader

    from scanflow.archive.images import load_view

    with PILImage.open(source) as img:
        exif = _EXIF_TURNS.get(img.getexif().get(0x0112, 1))
    if exif is None:  # a mirrored camera orientation: draw the upright view instead
        canvas.drawImage(ImageReader(PILImage.fromarray(load_view(source, turn))), 0, 0,
                         width=pw, height=ph)
        return
    total = (turn + exif) % 360
    canvas.saveState()
    if total == 90:
        canvas.translate(0, ph)
        canvas.rotate(-90)
    elif total == 180:
        canvas.translate(pw, ph)
        canvas.rotate(180)
    elif total == 270:
        canvas.translate(pw, 0)
        canvas.rotate(90)
    w, h = (ph, pw) if total in (90, 270) else (pw, ph)
    # A file name ending .jpg is what makes reportlab embed a JPEG's bytes as they are.
    canvas.drawImage(str(source), 0, 0, width=w, height=h)
    canvas.restoreState()


def _invisible_word(canvas, font: str, text: str, x: float, bottom: float, width: float,
                    height: float) -> None:
    """``text`` in render mode 3 (invisible), filling the box: height as the font size,
    stretched or squeezed to the box's width."""
    size = max(1.0, height * 0.85)
    natural = canvas.stringWidth(text, font, size)
    if natural <= 0:
        return
    t = canvas.beginText()
    t.setTextRenderMode(3)
    t.setFont(font, size)
    t.setHorizScale(100.0 * width / natural)
    t.setTextOrigin(x, bottom + height * 0.2)  # baseline a little above the box bottom
    t.textOut(text + " ")
    canvas.drawText(t)


# --- a pupil's portfolio ---------------------------------------------------------------


def portfolio_pdf(archive: Archive, pupil_id: str, output: str | Path, *,
                  rubric_dir: str | Path | None = None) -> Path:
    """Write the pupil's portfolio. Returns the path."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        Image,
        KeepTogether,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
    )

    from scanflow.exports.charts import growth_chart, save_chart
    from scanflow.exports.portfolio import level_cell, pupil_portfolio
    from scanflow.scoring.levels import short_name

    output = _output(output)
    p = pupil_portfolio(archive, pupil_id, rubric_dir=rubric_dir)
    font, bold = _fonts()
    styles = {
        "title": ParagraphStyle("title", fontName=bold, fontSize=22, leading=28, spaceAfter=8),
        "h1": ParagraphStyle("h1", fontName=bold, fontSize=15, leading=19, spaceAfter=6),
        "h2": ParagraphStyle("h2", fontName=bold, fontSize=11, leading=14, spaceBefore=6,
                             spaceAfter=4),
        "body": ParagraphStyle("body", fontName=font, fontSize=10, leading=14),
        "small": ParagraphStyle("small", fontName=font, fontSize=8, leading=10,
                                textColor=colors.HexColor("#444444")),
        "text": ParagraphStyle("text", fontName=font, fontSize=10.5, leading=15,
                               spaceAfter=5),
    }
    pupil = p.pupil
    story: list = [Paragraph("Writing portfolio", styles["title"]),
                   Paragraph(_esc(pupil.display_name), styles["h1"]),
                   Paragraph(f"Pupil id {_esc(pupil.pupil_id)} · now class "
                             f"{_esc(pupil.class_name or '-')}, year "
                             f"{pupil.year_group if pupil.year_group is not None else '-'}"
                             + (f" · left {pupil.left_on}" if pupil.left_on else ""),
                             styles["body"]), Spacer(1, 6 * mm)]
    if p.placements:
        rows = [["School year", "Class", "Year group"]] + [
            [year, cls or "?", "?" if yg is None else ("Kindergarten" if yg == 0 else str(yg))]
            for year, cls, yg in p.placements]
        story += [_table(rows, font, bold, [40 * mm, 30 * mm, 30 * mm]), Spacer(1, 6 * mm)]
    scored = sum(x.scored for x in p.pieces)
    story.append(Paragraph(
        f"{len(p.pieces)} piece(s) of independent writing"
        + (f", from {p.pieces[0].half_term_label} to {p.pieces[-1].half_term_label}"
           if p.pieces else "") + f"; {scored} scored against the school's writing rubric.",
        styles["body"]))
    story.append(Spacer(1, 4 * mm))
    story.append(Paragraph(
        f"Made by scanflow on {dt.date.today().isoformat()}. It holds a child's personal "
        "data: keep it as the school's data protection policy says.", styles["small"]))
    story.append(PageBreak())

    with tempfile.TemporaryDirectory(prefix="scanflow-portfolio-") as tmpdir:
        if p.criteria and p.pieces:
            chart_path = save_chart(growth_chart(p), Path(tmpdir) / "growth.png")
            story.append(Paragraph("Levels over time", styles["h1"]))
            story.append(_fit_image(Image, chart_path, 180 * mm, 110 * mm))
            heads = [short_name(c, n) for c, n in p.criteria.items()]
            rows = [["Half term", "Genre", "Words"] + heads]
            for x in p.pieces:
                rows.append([x.half_term_label, x.genre, str(x.words)] +
                            [level_cell(x.levels[c]) if c in x.levels else "-" for c in p.criteria])
            story += [Spacer(1, 4 * mm), _table(rows, font, bold, None, size=8)]
            story.append(Paragraph("; ".join(f"{short_name(c, n)}: {_esc(n)}"
                                             for c, n in p.criteria.items())
                                   + f". Levels {_scale(p)}; - not scored.",
                                   styles["small"]))
            story.append(PageBreak())
        for x in p.pieces:
            head = [Paragraph(f"{x.half_term_label}: {_esc(x.genre.capitalize())}", styles["h1"]),
                    Paragraph(f"Class {_esc(x.class_name or '?')}, year "
                              f"{x.year_group if x.year_group is not None else '?'} · "
                              f"{x.words} words · {len(x.pages)} page(s) · "
                              f"{x.status.replace('_', ' ')} · piece {x.piece_id}",
                              styles["small"]), Spacer(1, 3 * mm)]
            if x.levels:
                rows = [["Criterion", "Level", "What the level means"]]
                for _cid, lv in sorted(x.levels.items(), key=lambda kv: list(p.criteria).index(
                        kv[0]) if kv[0] in p.criteria else 99):
                    meaning = lv.descriptor or ""
                    if lv.stale:
                        meaning = ("Stale: given on an earlier text of this piece (it changed "
                                   "after scoring); score it again. " + meaning)
                    rows.append([lv.criterion_name, level_cell(lv),
                                 Paragraph(_esc(meaning), styles["small"])])
                head.append(_table(rows, font, bold, [45 * mm, 14 * mm, 115 * mm], size=8))
            else:
                head.append(Paragraph("Not scored yet.", styles["body"]))
            story.append(KeepTogether(head))
            story.append(Paragraph("Transcription", styles["h2"]))
            for para in (x.text or "(no text)").split("\n\n"):
                story.append(Paragraph(_esc(para).replace("\n", "<br/>"), styles["text"]))
            for page in x.pages:
                if not page.image_path:
                    continue
                jpeg = _page_jpeg(archive, page.id, Path(tmpdir) / f"p{page.id}.jpg",
                                  page.dpi)
                if jpeg is None:
                    story.append(Paragraph(f"(The image of page {page.id} is missing from "
                                           "the archive.)", styles["small"]))
                    continue
                story += [PageBreak(), _fit_image(Image, jpeg, 180 * mm, 255 * mm)]
            story.append(PageBreak())
        tmp = output.with_name(f".{output.name}.tmp")
        doc = SimpleDocTemplate(str(tmp), pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                                topMargin=15 * mm, bottomMargin=15 * mm,
                                title=f"Writing portfolio: {pupil.display_name}",
                                author="scanflow", creator="scanflow", invariant=1)
        with _binary_streams():
            doc.build(story, onLaterPages=_footer(pupil.display_name, font))
        tmp.replace(output)
    return output


def _scale(p) -> str:
    """ "1 (E, Limited) to 5 (A, Outstanding)" from the rubric of the pupil's pieces."""
    from scanflow.scoring.levels import rubric_for

    for genre in sorted({x.genre for x in p.pieces}):
        rubric = rubric_for(genre)
        if rubric is None:
            continue
        levels = rubric.levels
        low, high = levels[min(levels)], levels[max(levels)]
        return (f"{min(levels)} ({low.letter}, {low.label}) to "
                f"{max(levels)} ({high.letter}, {high.label})")
    return "1 to 5"


def _esc(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text or "")


def _table(rows, font, bold, widths, size: float = 9):
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), font, size),
        ("FONT", (0, 0), (-1, 0), bold, size),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#bbbbbb")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return table


def _fit_image(Image, path, max_w: float, max_h: float):
    from PIL import Image as PILImage

    with PILImage.open(path) as im:
        w, h = im.size
    scale = min(max_w / w, max_h / h)
    return Image(str(path), width=w * scale, height=h * scale)


def _page_jpeg(archive: Archive, page_id: int, target: Path,
               dpi: float | None) -> Path | None:
    """A 150 dpi JPEG copy of a stored page, upright (A4 at 300 dpi: about 1240 px wide)."""
    from PIL import Image as PILImage

    from scanflow.archive.images import load_view

    image_path, turn = archive.db.execute("SELECT image_path, image_turn FROM pages "
                                          "WHERE id = ?", [page_id]).fetchone()
    source = archive.image(image_path)
    if not source.is_file():
        return None
    with PILImage.fromarray(load_view(source, turn)) as im:
        factor = min(1.0, PORTFOLIO_DPI / float(dpi or 300))
        if factor < 1.0:
            im = im.resize((max(1, round(im.width * factor)), max(1, round(im.height * factor))),
                           PILImage.LANCZOS)
        im.save(target, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return target


def _footer(name: str, font: str):
    def draw(canvas, doc):
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawString(doc.leftMargin, 8 * 2.83, f"{name}: writing portfolio")
        canvas.drawRightString(doc.pagesize[0] - doc.rightMargin, 8 * 2.83,
                               f"page {doc.page}")
        canvas.restoreState()

    return draw

