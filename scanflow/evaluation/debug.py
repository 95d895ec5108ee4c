"""The debug view of preprocessing: one picture per step, and what each step decided.

:func:`debug_page` runs :func:`scanflow.ocr.preprocess.prepare` on one page of a scan or
photo with a trace, and writes into a folder::

    00-input.png          the page as read (grey)
    01-dewarp.png         the sheet found in a photo, outlined (or straightened)
    02-deskew.png         ...one numbered PNG per step that changed the image...
    NN-segment_lines.png  the line bands, tinted and numbered
    NN-ocr.png            what the engine reads (the binarised page)
    NN-read.png           with ``engine``: the lines read, boxed on the faithful page
    steps.json            every step's name, settings and result, and the files

so a person can see where a page went wrong (a quad on the wrong edge, rules left in,
faint writing lost) without reading code.

>>> report = debug_page("scans/photo.jpg", "debug/photo")  # doctest: +SKIP
>>> [f.name for f in report.files][:3]  # doctest: +SKIP
['00-input.png', '01-dewarp.png', '02-deskew.png']
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from scanflow.errors import UsageError
from scanflow.ocr.preprocess import PreprocessSettings, prepare


@dataclass
class DebugReport:
    source: str
    page: int
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    text: str | None = None


def debug_page(
    path: str | Path,
    out_dir: str | Path,
    *,
    page: int = 1,
    settings: PreprocessSettings = PreprocessSettings(),
    engine=None,
    dpi: int = 300,
) -> DebugReport:
    """Write the debug view of page ``page`` (1-based) of ``path`` into ``out_dir``.

    ``engine`` (an :class:`~scanflow.ocr.engine.OcrEngine`, optional) also reads the page,
    turning it upright first as an ingest does, and draws the lines it read on the
    faithful page. Files from an earlier run in ``out_dir`` are replaced.
    """
    from scanflow.intake import sources
    from scanflow.ocr.reader import read_page

    scan = sources.inspect(path)
    if not 1 <= page <= scan.page_count:
        pages = "1 page" if scan.page_count == 1 else f"{scan.page_count} pages"
        raise UsageError(f"{path} has {pages}, so there is no page {page}.",
                         hint=f"Give --page between 1 and {scan.page_count}.")
    rendered = sources.render_page(scan, page, dpi=dpi)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("[0-9][0-9]-*.png"):
        old.unlink()

    trace: list[tuple[str, np.ndarray]] = []
    text = None
    if engine is not None:
        prepared, rec = read_page(rendered.rgb, engine, dpi=rendered.dpi, settings=settings,
                                  trace=trace)
        trace.append(("ocr", prepared.ocr))
        text = rec.text
        trace.append(("read", draw_lines(prepared.faithful, rec.lines)))
    else:
        prepared = prepare(rendered.rgb, dpi=rendered.dpi, settings=settings, trace=trace)
        trace.append(("ocr", prepared.ocr))

    report = DebugReport(source=str(path), page=page, out_dir=out, text=text)
    for i, (name, image) in enumerate(trace):
        target = out / f"{i:02d}-{_slug(name)}.png"
        _write_png(target, image)
        report.files.append(target)
    report.steps = [asdict(s) for s in prepared.steps]
    summary = {
        "source": str(path),
        "page": page,
        "dpi": rendered.dpi,
        "kind": rendered.source,
        "settings": settings.to_dict(),
        "steps": report.steps,
        "bands": [list(b) for b in prepared.bands],
        "blank": prepared.blank,
        "geometry": {"matrix": np.round(prepared.geometry.homography, 6).tolist(),
                     "crop": list(prepared.geometry.crop)},
        "files": [f.name for f in report.files],
    }
    if text is not None:
        summary["engine"] = engine.name
        summary["text"] = text
    (out / "steps.json").write_text(json.dumps(summary, indent=1, default=_jsonable),
                                    encoding="utf-8")
    return report


def draw_lines(rgb: np.ndarray, lines) -> np.ndarray:
    """The faithful page with each line's box (red) and word boxes (blue)."""
    out = rgb.copy() if rgb.ndim == 3 else cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
    t = max(1, max(out.shape[:2]) // 1000)
    for line in lines:
        for w in line.words:
            cv2.rectangle(out, (w.box.x, w.box.y), (w.box.x + w.box.w, w.box.y + w.box.h),
                          (40, 90, 220), t)
        b = line.box
        cv2.rectangle(out, (b.x, b.y), (b.x + b.w, b.y + b.h), (220, 30, 30), t + 1)
    return out


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "-", name.lower()).strip("-")


def _write_png(path: Path, image: np.ndarray) -> None:
    img = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), img):
        raise UsageError(f"Could not write {path}.",
                         hint="Check that the folder is writable and the disk is not full.")


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
