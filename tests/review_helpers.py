"""Build review-ready pieces quickly: real page images, lines and words written straight to
the archive as ingest would store them, without waiting for an OCR engine.

The page shows the *truth* (what the child wrote, drawn with conftest's ``page_image``);
the stored lines are what a recogniser *read* (``ocr``: text, or ``(text, where)`` with
``where`` as in :func:`ocr_box`), with boxes where that writing is on the page, so the
review screen has genuine corrections to make. Words listed in ``doubtful`` get a
low confidence (20), others 92.
"""

from __future__ import annotations

import hashlib

import numpy as np
from conftest import FONT, page_image
from PIL import ImageFont

from scanflow.archive.pieces import next_position, piece_for
from scanflow.archive.store import Archive, now
from scanflow.archive.images import write_png_atomic

_FONT = ImageFont.truetype(FONT, 44)
LEFT, TOP, STEP = 150, 205, 100


def _batch(archive: Archive, half_term: str, genre: str) -> int:
    row = archive.db.execute("SELECT id FROM batches WHERE half_term = ? AND genre = ?",
                             [half_term, genre]).fetchone()
    if row:
        return row[0]
    return archive.db["batches"].insert({
        "started_at": now(), "half_term": half_term, "genre": genre, "engine": "test",
        "status": "finished"}).last_pk


def line_box(i: int, text: str) -> tuple[int, int, int, int]:
    l, t, r, b = _FONT.getbbox(text or " ")
    return LEFT + l, TOP + i * STEP + t, max(1, r - l), max(1, b - t)


def _union(a, b):
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    return x0, y0, max(a[0] + a[2], b[0] + b[2]) - x0, max(a[1] + a[3], b[1] + b[3]) - y0


def ocr_box(where, i: int, truth: list[str], text: str) -> tuple[int, int, int, int]:
    """Where a recognised line sits on the page.

    ``where`` is None (truth line ``i``), ``k`` (truth line k, or the blank ruled line k
    below the writing), ``(k, m)`` (lines k to m read as one), or ``(k, start, end)``
    (characters start:end of line k, a line the recogniser cut in two).
    """
    if where is None:
        where = i
    if isinstance(where, int):
        return line_box(where, truth[where] if where < len(truth) else text)
    if len(where) == 2:
        box = line_box(where[0], truth[where[0]])
        for k in range(where[0] + 1, where[1] + 1):
            box = _union(box, line_box(k, truth[k]))
        return box
    k, start, end = where
    x, y, _, h = line_box(k, truth[k])
    x0 = LEFT + round(_FONT.getlength(truth[k][:start]))
    x1 = LEFT + round(_FONT.getlength(truth[k][:end]))
    return x0, y, max(1, x1 - x0), h


def add_page(archive: Archive, truth: list[str], ocr: list[str] | None = None, *,
             pupil_id: str | None = None, half_term: str = "2026-27-autumn-1",
             genre: str = "narrative", doubtful: set[str] = frozenset(),
             name: str | None = None) -> int:
    """One page (assigned to ``pupil_id``'s piece, or unassigned). Returns the page id."""
    ocr = truth if ocr is None else ocr
    placed = [(o, None) if isinstance(o, str) else o for o in ocr]
    ocr = [text for text, _ in placed]
    img = np.asarray(page_image(truth))[:, :, ::-1]  # RGB -> BGR for OpenCV
    sha = hashlib.sha256(("\n".join(truth) + (name or "") + str(pupil_id) + now()
                          + str(archive.db.execute("SELECT COUNT(*) FROM pages").fetchone()[0])
                          ).encode()).hexdigest()
    rel = f"{sha[:2]}/{sha}/p0001.png"
    write_png_atomic(archive.image(rel), np.ascontiguousarray(img))
    with archive.transaction() as db:
        batch = _batch(archive, half_term, genre)
        db["files"].insert({"sha256": sha, "batch_id": batch, "path": f"/scans/{name or sha[:8]}.png",
                            "name": f"{name or sha[:8]}.png", "size": 1, "kind": "image",
                            "page_count": 1, "status": "done", "added_at": now()})
        piece_id = position = None
        if pupil_id:
            piece_id = piece_for(archive, pupil_id, half_term, genre)
            position = next_position(archive, piece_id)
        confidences = []
        page_id = db["pages"].insert({
            "file_sha256": sha, "page_number": 1, "batch_id": batch, "piece_id": piece_id,
            "position": position, "half_term": half_term, "genre": genre, "status": "ok",
            "image_path": rel, "ocr_image_path": rel.replace(".png", ".ocr.png"),
            "width": img.shape[1], "height": img.shape[0], "dpi": 300.0, "rotation": 0,
            "engine": "test", "ocr_text": "\n".join(ocr), "word_count": 0,
            "created_at": now()}).last_pk
        for i, (text, where) in enumerate(placed):
            x, y, w, h = ocr_box(where, i, truth, text)
            words = text.split()
            line_conf = [20.0 if wd in doubtful else 92.0 for wd in words]
            line_id = db["lines"].insert({
                "page_id": page_id, "line_no": i + 1, "text": text, "x": x, "y": y, "w": w,
                "h": h, "confidence": (sum(line_conf) / len(line_conf)) if line_conf else 0.0,
            }).last_pk
            offset = 0
            for n, word in enumerate(words, start=1):
                start = text.index(word, offset)
                offset = start + len(word)
                wx = x + round(w * start / max(1, len(text)))
                ww = max(1, round(w * len(word) / max(1, len(text))))
                db["words"].insert({"line_id": line_id, "page_id": page_id, "word_no": n,
                                    "text": word, "x": wx, "y": y, "w": ww, "h": h,
                                    "confidence": line_conf[n - 1]})
                confidences.append(line_conf[n - 1])
        db.execute("UPDATE pages SET word_count = ?, mean_confidence = ? WHERE id = ?",
                   [len(confidences), (sum(confidences) / len(confidences)) if confidences
                    else None, page_id])
    return page_id


def add_piece(archive: Archive, pupil_id: str, truth: list[str], ocr: list[str] | None = None,
              **kw) -> int:
    page_id = add_page(archive, truth, ocr, pupil_id=pupil_id, **kw)
    return archive.db.execute("SELECT piece_id FROM pages WHERE id = ?", [page_id]).fetchone()[0]
