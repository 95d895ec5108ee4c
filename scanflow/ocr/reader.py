"""Read one page: clean it, recognise it, and map the result onto the faithful image."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from scanflow.ocr.engine import OcrEngine
from scanflow.ocr.orientation import SETTINGS, decide_orientation, orient_with, shared_reader
from scanflow.ocr.model import Box, Line, Recognition, Word
from scanflow.ocr.preprocess import (Geometry, PreparedPage, PreprocessSettings, Step,
                                     line_images, prepare)


def read_page(
    rgb: np.ndarray,
    engine: OcrEngine,
    *,
    dpi: float = 300,
    settings: PreprocessSettings = PreprocessSettings(),
    trace: list | None = None,
    hide: list | None = None,
) -> tuple[PreparedPage, Recognition]:
    """Prepare ``rgb`` (a page as scanned) and read it with ``engine``.

    Boxes in the returned recognition are in the coordinates of ``prepared.faithful``.
    A blank page is not sent to the engine; it comes back with no lines.
    ``settings.line_bands`` chooses how the line bands found by preprocessing are used:
    not at all (``off``), to regroup the engine's words into lines (``regroup``), or to
    read each band as its own image (``read``). ``trace`` is passed to :func:`prepare`
    (the debug view), and so is ``hide`` (regions not to read, such as a label).

    >>> from scanflow.ocr.engine import get_engine
    >>> prepared, rec = read_page(page_rgb, get_engine("tesseract"))  # doctest: +SKIP
    >>> rec.text  # doctest: +SKIP
    'Once upon a time ther was a dragon'
    """
    # Every engine gets an upright page, decided from the writing's line boxes and how
    # Latin the recogniser finds them (orientation.py). RapidOCR decides on the lines it
    # reads anyway; other engines borrow RapidOCR to decide before they read.
    own = settings.orient and hasattr(engine, "read_boxes")
    osd = orient_with(shared_reader(engine.threads)) if settings.orient and not own else None
    prepared = prepare(rgb, dpi=dpi, settings=settings, osd=osd, trace=trace, hide=hide)
    if prepared.blank:
        rec = Recognition(lines=[], engine=engine.name, engine_version=engine.version(),
                          model=engine.model(), settings={"skipped": "blank page"})
        return prepared, rec
    lines = None
    if own:
        lines = engine.read_boxes(engine.image_for(prepared.ocr, prepared.grey))
        found = decide_orientation(engine.image_for(prepared.ocr, prepared.grey), engine, lines)
        if found.rotate:
            # Prepared again from the scan, turned first, so every later step (deskew,
            # crop, rules...) and the faithful page see it upright.
            if trace is not None:
                trace.clear()
            prepared = prepare(rgb, dpi=dpi, settings=settings, osd=orient_with(found=found),
                               trace=trace, hide=hide)
            lines = None
        else:
            prepared.steps.insert(0, Step("orient", dict(SETTINGS), found.to_dict()))
    if settings.line_bands == "read" and prepared.bands:
        rec = read_bands(prepared, engine)
    else:
        if lines is not None:
            rec = engine.recognise(prepared.ocr, grey=prepared.grey, lines=lines)
        else:
            rec = engine.recognise(prepared.ocr, grey=prepared.grey)
        if settings.line_bands == "regroup" and prepared.bands:
            rec = regroup_by_bands(rec, prepared.bands)
    return prepared, map_to_faithful(rec, prepared.geometry)


def read_bands(prepared: PreparedPage, engine: OcrEngine) -> Recognition:
    """Read each line band of the page as a separate image, top to bottom.

    The line images come from :func:`~scanflow.ocr.preprocess.line_images` (each mark of
    ink belongs to one line; the neighbours' marks are painted out); what the engine reads
    in one line image becomes one line, in OCR-image coordinates.
    """
    lines: list[Line] = []
    rec = None
    for y0, line_ocr, line_grey in line_images(prepared.ocr, prepared.grey, prepared.bands):
        rec = engine.recognise(line_ocr, grey=line_grey)
        words = [Word(w.text, w.box.shifted(0, y0), w.confidence) for w in rec.words]
        if words:
            lines.append(_line_of(words))
    if rec is None:
        return engine.recognise(prepared.ocr, grey=prepared.grey)
    return replace(rec, lines=lines, settings={**rec.settings, "line_bands": "read"})


def regroup_by_bands(rec: Recognition, bands: list[tuple[int, int]]) -> Recognition:
    """The same words, grouped into lines by the band their centre falls in.

    Words are kept as the engine read them; only which line each belongs to, and the
    order within a line (left to right), follow the bands. A word outside every band
    joins the nearest one.

    >>> rec = Recognition([Line("b a", Box(0, 0, 50, 30), 90.0,
    ...     [Word("b", Box(30, 0, 20, 10), 90.0), Word("a", Box(0, 20, 20, 10), 90.0)])],
    ...     "x", "1", "m")
    >>> regroup_by_bands(rec, [(0, 15), (15, 30)]).text
    'b\\na'
    """
    centres = np.array([(b0 + b1) / 2 for b0, b1 in bands], dtype=np.float64)
    groups: dict[int, list[Word]] = {}
    for word in rec.words:
        cy = word.box.y + word.box.h / 2
        inside = [i for i, (b0, b1) in enumerate(bands) if b0 <= cy < b1]
        i = inside[0] if inside else int(np.argmin(np.abs(centres - cy)))
        groups.setdefault(i, []).append(word)
    lines = [_line_of(sorted(groups[i], key=lambda w: w.box.x)) for i in sorted(groups)]
    return replace(rec, lines=lines)


def _line_of(words: list[Word]) -> Line:
    return Line(text=" ".join(w.text for w in words), box=Box.union([w.box for w in words]),
                confidence=round(sum(w.confidence for w in words) / len(words), 2), words=words)


def map_to_faithful(rec: Recognition, geometry: Geometry) -> Recognition:
    lines = []
    for line in rec.lines:
        words = [Word(w.text, geometry.to_faithful(w.box), w.confidence) for w in line.words]
        lines.append(Line(line.text, geometry.to_faithful(line.box), line.confidence, words))
    return replace(rec, lines=lines)
