"""A school's corrected lines, simulated: pages in one hand, read, cut into line examples.

Comes in: text to write, a handwriting font (:data:`~scanflow.evaluation.synth.OTHER_FONTS`)
and the pupils (hand seeds) writing it. Goes out: a folder of ``<stem>.png`` +
``<stem>.gt.txt`` line examples, the layout ``scanflow export lines`` writes and
``scanflow model train --extra`` and ``benchmarks/finetune.py`` read.

Each line example is made the way a school's is: a generated exercise-book page (ruled
paper, pencil, jittered glyphs, a little skew, lighting and scanner noise) is read by the
whole pipeline (:func:`~scanflow.ocr.reader.read_page`), and every line the engine found is
cut from the image the recogniser read with :func:`~scanflow.exports.lines.cut_line`, the
crop ``export lines`` makes of a reviewed line, and given the text that was written there (what the teacher's
correction would say). A detected line is matched to the ruled line it sits on; one that
covers two ruled lines, or shares its ruled line with another detection, is left out (a
teacher would have to split or merge it, which ``export lines`` cannot use either).

Stems are ``<pupil>-<page><line>`` (``h0203-0107``): :func:`scanflow.ocr.finetune.read_line_dir`
groups lines by the part before the last ``-``, so held-back lines are whole pupils.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
from scanflow.evaluation.synth import SynthPage, render_page, write_ground_truth
from scanflow.exports.lines import cut_line
from scanflow.ocr.engine import OcrEngine
from scanflow.ocr.reader import read_page
from scanflow.progress import NullProgress, Progress


@dataclass
class LineSetReport:
    """What :func:`write_synth_lines` wrote."""

    folder: str
    lines: int = 0
    pages: int = 0
    pupils: int = 0
    # Ruled lines with writing whose detection could not be used (merged or split).
    unmatched: int = 0
    stems: list[str] = field(default_factory=list)


def page_kwargs(index: int) -> dict:
    """Mild scan conditions for the ``index``-th page: skew within a degree, some uneven
    light, scanner noise, JPEG; pencil mostly, sometimes pen, blue or grey ruling."""
    return {"ink": ("pencil", "pencil", "blue", "pencil")[index % 4],
            "skew_deg": ((index * 37) % 5 - 2) * 0.4,
            "lighting": 0.2 + 0.1 * (index % 3), "noise": 0.15 + 0.05 * (index % 2),
            "jpeg_quality": 85, "lines_colour": "grey" if index % 3 == 2 else "blue"}


def ruled_line_of(box, page: SynthPage) -> int | None:
    """Index into ``page.lines`` of the written line the box ``(x, y, w, h)`` covers, or
    None when it covers none or more than one."""
    settings = page.settings
    spacing = settings["rule_spacing_px"]
    h, w = page.image.shape[:2]
    # Undo the page's skew about its centre, so the box centre can be compared with the
    # rules as drawn.
    x, y, bw, bh = box
    cx, cy = x + bw / 2 - w / 2, y + bh / 2 - h / 2
    t = math.radians(settings["skew_deg"])
    uy = math.sin(t) * cx + math.cos(t) * cy + h / 2
    if bh > 1.6 * spacing + bw * abs(math.sin(t)):
        return None
    rules = settings["rules_y"]
    # Writing sits on its rule and reaches up about two thirds of the spacing.
    best = min(range(len(settings["written_rules"])), default=None,
               key=lambda i: abs(uy - (rules[settings["written_rules"][i]] - 0.35 * spacing)))
    if best is None:
        return None
    centre = rules[settings["written_rules"][best]] - 0.35 * spacing
    return best if abs(uy - centre) < 0.5 * spacing else None


def write_synth_lines(dest: str | Path, paragraphs: Sequence[str], engine: OcrEngine, *,
                      pupils: Sequence[int], lines_per_pupil: int, font: str | None = None,
                      dpi: int = 300, progress: Progress | None = None) -> LineSetReport:
    """Write about ``lines_per_pupil`` line examples for each pupil (hand seed) in
    ``pupils`` into ``dest``, in ``font``, from ``paragraphs`` (used in order, each pupil
    continuing where the previous one stopped; they are reused when they run out)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    progress = progress or NullProgress()
    report = LineSetReport(folder=str(dest), pupils=len(pupils))
    queue = [p for p in paragraphs if p.strip()]
    if not queue:
        raise ValueError("no text to write")
    cursor = 0
    progress.start(len(pupils) * lines_per_pupil, "Writing lines")
    for pupil in pupils:
        made, page_no = 0, 0
        # A page holds 20-odd lines; the cap only stops a hand the engine cannot find.
        while made < lines_per_pupil and page_no < 3 + lines_per_pupil // 5:
            text = [queue[(cursor + i) % len(queue)] for i in range(8)]
            page = render_page(text, seed=pupil * 1000 + page_no, dpi=dpi, hand=pupil,
                               font=font, **page_kwargs(report.pages))
            used = len(text) - len(page.settings["unwritten"])
            cursor += max(1, used)
            prepared, rec = read_page(page.image, engine, dpi=dpi)
            found: dict[int, list] = {}
            for line in rec.lines:
                box = (line.box.x, line.box.y, line.box.w, line.box.h)
                index = ruled_line_of(box, page)
                if index is not None:
                    found.setdefault(index, []).append(box)
            for index, text_line in enumerate(page.lines):
                boxes = found.get(index, [])
                if len(boxes) != 1:
                    report.unmatched += 1
                    continue
                if made >= lines_per_pupil:
                    break
                stem = f"h{pupil:04d}-{page_no:02d}{index:02d}"
                cv2.imwrite(str(dest / f"{stem}.png"), cut_line(prepared, boxes[0]))
                write_ground_truth(dest / f"{stem}.gt.txt", [text_line])
                report.stems.append(stem)
                made += 1
                progress.advance()
            report.pages += 1
            page_no += 1
    progress.finish()
    report.lines = len(report.stems)
    return report

