"""Corrected lines as training examples: each line's image cut from its page, and its text.

Comes in: the archive's reviewed pieces (their latest transcription: every line with the
page and box it belongs to), and each page cleaned again from its master as at ingest, so
a line is cut from the image the recogniser read (:func:`cut_line`). Goes out: ``<stem>.png`` + ``<stem>.gt.txt`` pairs (the
layout of ``../shared/eval/handwriting/iam_dev_lines`` and of ``scanflow eval``) and
``lines.tsv``, one row per line with its piece, page, line, engine and model, and whether
the teacher changed the recognised text.

A reviewed piece's lines are all examples, changed or not: a line the teacher left alone
is a line they confirmed. Lines without a box (typed in by hand) and pieces whose pupil
has been erased (they are no longer in the archive) are never exported. Pupil ids are
not written: :func:`corrected_lines` gives them to the caller for splitting by pupil.

>>> report = export_lines(archive, "lines/")        # doctest: +SKIP
>>> report.lines                                    # doctest: +SKIP
412
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from scanflow.archive.images import write_png_atomic
from scanflow.archive.pieces import REVIEWED
from scanflow.archive.store import Archive
from scanflow.archive.transcription import current_lines, latest_number
from scanflow.errors import ScanflowError, UsageError
from scanflow.intake.rebuild import prepare_stored
from scanflow.ocr.model import Box
from scanflow.ocr.preprocess import PreparedPage
from scanflow.progress import NullProgress, Progress

MANIFEST = "lines.tsv"
# Room around the line, as a share of its height: training shifts and scales each line a
# little, which cuts into a tight crop's ascenders and descenders. The simulated school
# case (benchmarks/finetune.py --school-hand zeyada) read fresh pages at 0.65 % CER after
# training on lines with this margin, 0.81 % without (1.74 % before training).
PAD = 0.12


@dataclass
class CorrectedLine:
    """One line of a reviewed piece: where it is and what the teacher says it reads."""

    stem: str
    piece_id: int
    page_id: int
    line_no: int
    pupil_id: str
    text: str
    ocr_text: str | None
    box: tuple[int, int, int, int]
    image_path: str
    engine: str | None
    model: str | None

    @property
    def changed(self) -> bool:
        return self.ocr_text is not None and " ".join(self.ocr_text.split()) != self.text


@dataclass
class LinesReport:
    folder: str
    lines: int = 0
    pieces: int = 0
    pupils: int = 0
    changed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


def corrected_lines(archive: Archive, *, half_term: str | None = None) -> tuple[
        list[CorrectedLine], dict[str, int]]:
    """Every usable line of every reviewed piece (oldest piece first), and how many lines
    were left out, by reason."""
    sql = ("SELECT id, pupil_id FROM pieces WHERE status = ?"
           + (" AND half_term = ?" if half_term else "") + " ORDER BY id")
    pieces = archive.db.execute(sql, [REVIEWED] + ([half_term] if half_term else [])).fetchall()
    lines, skipped = [], {"no box": 0, "empty": 0}
    pages = {}
    for piece_id, pupil_id in pieces:
        ocr = {}
        if latest_number(archive, piece_id):
            ocr = dict(archive.db.execute(
                "SELECT lines.id, lines.text FROM lines JOIN pages ON pages.id = lines.page_id "
                "WHERE pages.piece_id = ?", [piece_id]).fetchall())
        counter: dict[int, int] = {}
        for tline in current_lines(archive, piece_id):
            counter[tline.page_id] = counter.get(tline.page_id, 0) + 1
            text = " ".join(tline.text.split())
            if not text:
                skipped["empty"] += 1
                continue
            if None in (tline.x, tline.y, tline.w, tline.h) or tline.w <= 0 or tline.h <= 0:
                skipped["no box"] += 1
                continue
            if tline.page_id not in pages:
                pages[tline.page_id] = archive.db.execute(
                    "SELECT image_path, engine, model FROM pages WHERE id = ?",
                    [tline.page_id]).fetchone()
            page = pages[tline.page_id]
            if page is None or not page[0]:
                skipped["no box"] += 1
                continue
            ocr_text = ocr.get(tline.ocr_line_id) if ocr else text
            n = counter[tline.page_id]
            lines.append(CorrectedLine(
                stem=f"p{piece_id}-pg{tline.page_id}-l{n:03d}", piece_id=piece_id,
                page_id=tline.page_id, line_no=n, pupil_id=pupil_id, text=text,
                ocr_text=ocr_text, box=(tline.x, tline.y, tline.w, tline.h),
                image_path=page[0], engine=page[1], model=page[2]))
    return lines, {k: v for k, v in skipped.items() if v}


def cut_line(prepared: PreparedPage, box: tuple[int, int, int, int]) -> np.ndarray:
    """The line whose upright-page box is ``box``, cut from the image the recogniser read
    (the page's cleaned grey: deskewed, cropped, flattened where the light was uneven) with
    a margin of :data:`PAD`, as 3-channel BGR: the crop a fine-tuned model will be given of
    the same line.

    Cut from the master instead (the upright box around the sloping line), a line on a page
    scanned 2 degrees askew came with parts of the lines above and below it: on generated
    pages scanned 1.5-3 degrees askew the stock recogniser read such crops at 86.5 % CER,
    and these at 5.0 %.
    """
    b = prepared.geometry.line_to_ocr(Box(*box))
    grey = prepared.grey
    H, W = grey.shape[:2]
    pad = int(round(PAD * b.h))
    x0, y0 = max(0, b.x - pad), max(0, b.y - pad)
    x1, y1 = min(W, b.x + b.w + pad), min(H, b.y + b.h + pad)
    return cv2.cvtColor(grey[y0:y1, x0:x1], cv2.COLOR_GRAY2BGR)


def write_lines(archive: Archive, lines: list[CorrectedLine], dest: str | Path,
                skipped: dict[str, int] | None = None,
                progress: Progress | None = None) -> LinesReport:
    """Write ``lines`` into ``dest`` as image + ``.gt.txt`` pairs and ``lines.tsv``.

    Each page is cleaned again to cut its lines (0.43 s a page on the sample's pages), so
    ``progress`` counts pages.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} exists and is not a folder.", hint="Choose another folder.")
    dest.mkdir(parents=True, exist_ok=True)
    progress = progress or NullProgress()
    progress.start(len({line.page_id for line in lines}), "Cutting lines")
    report = LinesReport(folder=str(dest), skipped=dict(skipped or {}))
    rows, page_cache = [], {}
    for line in lines:
        if line.page_id not in page_cache:
            if page_cache:
                progress.advance()  # the page before is done
            page_cache.clear()  # lines come page by page: keep one page in memory
            # The page cleaned again as at ingest (the boxes are on its upright page).
            try:
                page_cache[line.page_id] = prepare_stored(archive, line.page_id)
            except ScanflowError:
                page_cache[line.page_id] = None
        page = page_cache[line.page_id]
        if page is None:
            report.skipped["page image missing"] = report.skipped.get("page image missing", 0) + 1
            continue
        crop = cut_line(page, line.box)
        if crop.size == 0:
            report.skipped["no box"] = report.skipped.get("no box", 0) + 1
            continue
        write_png_atomic(dest / f"{line.stem}.png", crop)
        (dest / f"{line.stem}.gt.txt").write_text(line.text + "\n", encoding="utf-8")
        rows.append([line.stem, line.piece_id, line.page_id, line.line_no, line.engine or "",
                     line.model or "", int(line.changed)])
        report.changed += line.changed
    if page_cache:
        progress.advance()
    progress.finish()
    with open(dest / MANIFEST, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(["stem", "piece_id", "page_id", "line_no", "engine", "model",
                         "changed"])
        writer.writerows(rows)
    report.lines = len(rows)
    kept = {r[0] for r in rows}
    report.pieces = len({line.piece_id for line in lines if line.stem in kept})
    report.pupils = len({line.pupil_id for line in lines if line.stem in kept})
    return report


def export_lines(archive: Archive, dest: str | Path, *, half_term: str | None = None,
                 progress: Progress | None = None) -> LinesReport:
    """Every corrected line of the archive's reviewed pieces, written into ``dest``."""
    lines, skipped = corrected_lines(archive, half_term=half_term)
    return write_lines(archive, lines, dest, skipped, progress=progress)
