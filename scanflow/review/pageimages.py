"""Page pictures for the review screens: display copies, turning a page, reading it again.

The faithful page image in the archive is a lossless PNG at scan resolution (an A4 page
at 300 dpi is about 2500 x 3500 pixels, several megabytes). A browser needs far less to
show it beside the text, so the review app serves a *display copy* (JPEG, at most
:data:`SIZES` pixels wide) made once and cached in the archive under ``images/derived/``.
The cached file's name carries a fingerprint of the source image, so turning a page makes
new copies and a browser can cache each URL for as long as it likes.

Turning a page (``rotate_page``) is for pages on the unassigned list, where a page the
scanner fed sideways usually lands: the faithful image is rotated in 90° steps and written
atomically, every line and word box is turned with it, ``pages.rotation`` records the
new total turn, and the page is marked ``ocr_stale`` because its text was read the other
way up. :func:`read_again` reads it afresh (it takes a few seconds) and clears the mark.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from scanflow.archive.store import Archive, now
from scanflow.errors import ArchiveError, UsageError

SIZES = {"display": 1600, "thumb": 360}
JPEG_QUALITY = {"display": 85, "thumb": 80}
DERIVED = "derived"


def _page_row(archive: Archive, page_id: int) -> tuple:
    row = archive.db.execute(
        "SELECT image_path, piece_id, status, width, height, rotation FROM pages WHERE id = ?",
        [page_id]).fetchone()
    if row is None:
        raise UsageError(f"There is no page {page_id}.",
                         hint="See the waiting pages with: scanflow unassigned")
    return row


def fingerprint(path: Path) -> str:
    """Changes whenever the image file is replaced (size and modification time)."""
    st = path.stat()
    return hashlib.sha1(f"{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:12]


def image_key(archive: Archive, image_path: str) -> str:
    try:
        return fingerprint(archive.image(image_path))
    except (OSError, ArchiveError):
        return "missing"


def derived_image(archive: Archive, page_id: int, kind: str) -> Path:
    """The display or thumbnail JPEG of a page, made on first use and cached."""
    if kind not in SIZES:
        raise UsageError(f"Unknown picture size '{kind}'.", hint="Use display or thumb.")
    image_path = _page_row(archive, page_id)[0]
    if not image_path:
        raise UsageError(f"Page {page_id} has no stored image (it could not be read).",
                         hint="Rescan the page and ingest it again.")
    source = archive.image(image_path)
    if not source.is_file():
        raise ArchiveError(f"The image of page {page_id} is missing from the archive "
                           f"({image_path}).", hint="Restore the archive's images/ folder "
                                                    "from a backup.")
    target = archive.image(f"{DERIVED}/p{page_id}/{fingerprint(source)}.{kind}.jpg")
    if target.is_file():
        return target
    img = cv2.imread(str(source), cv2.IMREAD_COLOR)
    if img is None:
        raise ArchiveError(f"The image of page {page_id} cannot be read ({image_path}).",
                           hint="Restore it from a backup, or rescan the page.")
    h, w = img.shape[:2]
    width = SIZES[kind]
    if w > width:
        img = cv2.resize(img, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY[kind]])
    if not ok:
        raise ArchiveError(f"Could not make a {kind} picture of page {page_id}.")
    for old in target.parent.glob(f"*.{kind}.jpg") if target.parent.is_dir() else ():
        old.unlink(missing_ok=True)  # copies of an image since turned
    _write_atomic(target, buf.tobytes())
    return target


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Thread id in the name: two requests for the same new picture must not share a file.
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def turn_box(x: int, y: int, w: int, h: int, width: int, height: int,
             quarter_turns: int) -> tuple[int, int, int, int]:
    """A box on a ``width`` x ``height`` image after turning the image clockwise.

    >>> turn_box(10, 20, 30, 40, 100, 200, 1)   # 100x200 becomes 200x100
    (140, 10, 40, 30)
    >>> turn_box(*turn_box(10, 20, 30, 40, 100, 200, 1), 200, 100, 3)
    (10, 20, 30, 40)
    """
    for _ in range(quarter_turns % 4):
        x, y, w, h = height - (y + h), x, h, w
        width, height = height, width
    return x, y, w, h


def rotate_page(archive: Archive, page_id: int, quarter_turns: int, *,
                actor: str | None = None) -> int:
    """Turn an unassigned page clockwise by ``quarter_turns`` x 90°. Returns the new rotation."""
    quarter_turns %= 4
    image_path, piece_id, status, width, height, rotation = _page_row(archive, page_id)
    if piece_id is not None:
        raise UsageError(f"Page {page_id} belongs to piece {piece_id}; only pages on the "
                         "unassigned list can be turned.",
                         hint="Pages are turned upright before they are assigned.")
    if not image_path:
        raise UsageError(f"Page {page_id} has no stored image to turn.",
                         hint="Rescan the page and ingest it again.")
    if quarter_turns == 0:
        return rotation or 0
    source = archive.image(image_path)
    img = cv2.imread(str(source), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ArchiveError(f"The image of page {page_id} cannot be read ({image_path}).",
                           hint="Restore it from a backup, or rescan the page.")
    turned = np.ascontiguousarray(np.rot90(img, k=-quarter_turns))  # rot90 turns anticlockwise
    ok, buf = cv2.imencode(".png", turned, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise ArchiveError(f"Could not write the turned image of page {page_id}.")
    tmp = source.with_name(f".{source.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    tmp.write_bytes(buf.tobytes())
    h0, w0 = img.shape[:2]
    new_rotation = ((rotation or 0) + 90 * quarter_turns) % 360
    try:
        with archive.transaction() as db:
            for table in ("lines", "words"):
                rows = db.execute(f"SELECT id, x, y, w, h FROM {table} WHERE page_id = ? "
                                  "AND x IS NOT NULL", [page_id]).fetchall()
                db.conn.executemany(
                    f"UPDATE {table} SET x = ?, y = ?, w = ?, h = ? WHERE id = ?",
                    [(*turn_box(x, y, w, h, w0, h0, quarter_turns), rid)
                     for rid, x, y, w, h in rows])
            nw, nh = (h0, w0) if quarter_turns % 2 else (w0, h0)
            db.execute("UPDATE pages SET rotation = ?, width = ?, height = ?, ocr_stale = "
                       "CASE WHEN status = 'ok' THEN 1 ELSE ocr_stale END WHERE id = ?",
                       [new_rotation, nw, nh, page_id])
            archive.log_event("page.rotate", f"page:{page_id}", actor=actor,
                              quarter_turns=quarter_turns, rotation=new_rotation)
            # Last step inside the transaction: if the swap fails, the rows roll back too.
            os.replace(tmp, source)
    finally:
        tmp.unlink(missing_ok=True)
    return new_rotation


def read_again(archive: Archive, page_id: int, *, engine_name: str | None = None,
               actor: str | None = None) -> int:
    """Recognise an unassigned page again as it now stands. Returns its number of lines.

    Used after turning a page: orientation detection is off (a person has just said which
    way up it is); the other cleaning steps run as at ingest.
    """
    from scanflow.archive.models import engine_options
    from scanflow.intake.ingest import DEFAULT_ENGINE, write_png_atomic
    from scanflow.ocr.engine import get_engine
    from scanflow.ocr.preprocess import PreprocessSettings
    from scanflow.ocr.reader import read_page

    image_path, piece_id, status, *_ = _page_row(archive, page_id)
    if piece_id is not None:
        raise UsageError(f"Page {page_id} belongs to piece {piece_id}; only pages on the "
                         "unassigned list are read again here.",
                         hint="Correct its text on the piece's review screen instead.")
    row = archive.db.execute("SELECT dpi, engine, ocr_image_path FROM pages WHERE id = ?",
                             [page_id]).fetchone()
    dpi, used_engine, ocr_rel = row
    engine_name = engine_name or used_engine or archive.setting("engine") or DEFAULT_ENGINE
    engine = get_engine(engine_name, **engine_options(archive, engine_name))
    bgr = cv2.imread(str(archive.image(image_path)), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ArchiveError(f"The image of page {page_id} cannot be read ({image_path}).",
                           hint="Restore it from a backup, or rescan the page.")
    prepared, rec = read_page(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), engine, dpi=dpi or 300,
                              settings=PreprocessSettings(orient=False))
    if ocr_rel:
        write_png_atomic(archive.image(ocr_rel), prepared.ocr)
    words = [w for line in rec.lines for w in line.words]
    mean = (sum(w.confidence for w in words) / len(words)) if words else None
    with archive.transaction() as db:
        db.execute("DELETE FROM words WHERE page_id = ?", [page_id])
        db.execute("DELETE FROM lines WHERE page_id = ?", [page_id])
        for line_no, line in enumerate(rec.lines, start=1):
            line_id = db["lines"].insert({
                "page_id": page_id, "line_no": line_no, "text": line.text,
                "x": line.box.x, "y": line.box.y, "w": line.box.w, "h": line.box.h,
                "confidence": line.confidence}).last_pk
            db["words"].insert_all(({
                "line_id": line_id, "page_id": page_id, "word_no": i, "text": w.text,
                "x": w.box.x, "y": w.box.y, "w": w.box.w, "h": w.box.h,
                "confidence": w.confidence} for i, w in enumerate(line.words, start=1)))
        db.execute(
            "UPDATE pages SET ocr_text = ?, mean_confidence = ?, word_count = ?, engine = ?, "
            "engine_version = ?, model = ?, ocr_settings = ?, preprocess = ?, "
            "status = ?, ocr_stale = 0 WHERE id = ?",
            [rec.text, mean, len(words), rec.engine, rec.engine_version, rec.model,
             json.dumps(rec.settings), json.dumps({"source": "reread", "at": now(),
                                                   "steps": [asdict(s) for s in prepared.steps]}),
             "blank" if prepared.blank else "ok", page_id])
        archive.log_event("page.read_again", f"page:{page_id}", actor=actor, engine=rec.engine,
                          lines=len(rec.lines))
    return len(rec.lines)
