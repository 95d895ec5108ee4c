"""Read one page: clean it, recognise it, and map the result onto the faithful image."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from scanflow.ocr.engine import OcrEngine
from scanflow.ocr.model import Line, Recognition, Word
from scanflow.ocr.preprocess import Geometry, PreparedPage, PreprocessSettings, prepare


def read_page(
    rgb: np.ndarray,
    engine: OcrEngine,
    *,
    dpi: float = 300,
    settings: PreprocessSettings = PreprocessSettings(),
) -> tuple[PreparedPage, Recognition]:
    """Prepare ``rgb`` (a page as scanned) and read it with ``engine``.

    Boxes in the returned recognition are in the coordinates of ``prepared.faithful``.
    A blank page is not sent to the engine; it comes back with no lines.

    >>> from scanflow.ocr.engine import get_engine
    >>> prepared, rec = read_page(page_rgb, get_engine("tesseract"))  # doctest: +SKIP
    >>> rec.text  # doctest: +SKIP
    'Once upon a time ther was a dragon'
    """
    osd = getattr(engine, "orientation", None)
    prepared = prepare(rgb, dpi=dpi, settings=settings, osd=osd)
    if prepared.blank:
        rec = Recognition(lines=[], engine=engine.name, engine_version=engine.version(),
                          model=engine.model(), settings={"skipped": "blank page"})
        return prepared, rec
    rec = engine.recognise(prepared.ocr, grey=prepared.grey)
    return prepared, map_to_faithful(rec, prepared.geometry)


def map_to_faithful(rec: Recognition, geometry: Geometry) -> Recognition:
    lines = []
    for line in rec.lines:
        words = [Word(w.text, geometry.to_faithful(w.box), w.confidence) for w in line.words]
        lines.append(Line(line.text, geometry.to_faithful(line.box), line.confidence, words))
    return replace(rec, lines=lines)
