"""Page pictures for the review screens: display copies, turning a page, reading it again.

A page's master in the archive is the scanner's own image (a JPEG of a few hundred KB,
or a lossless PNG) at scan resolution, and it may need turning to be upright
(``pages.image_turn``). :func:`picture` says what a browser is sent for it: the master's
own bytes wherever a browser can show them (a JPEG, turned by its EXIF orientation tag;
a PNG or WebP that needs no turn), so an archive stores no second copy of a page; a
*display copy* (WebP, at most :data:`SIZES` pixels wide, turned upright) only where it
cannot, and a thumbnail (300 px) for the lists, made once and cached under
``images/derived/``. A cached file's name carries a fingerprint of the master and its
turn, so turning a page makes new copies and a browser can cache each URL for as long as
it likes.

Turning a page (``rotate_page``) is for pages on the unassigned list, where a page the
scanner fed sideways usually lands: the master is left as it is, ``pages.image_turn``
and ``pages.rotation`` record the new total turn, every line and word box is turned with
it, and the page is marked ``ocr_stale`` because its text was read the other way up. :func:`read_again` reads it afresh (it takes a few seconds) and clears the mark.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from scanflow.archive.images import (
    BROWSER_TYPES,
    DISPLAY_SIZES,
    derived_rel,
    encode_display,
    encode_ocr_image,
    exif_orientation,
    fingerprint,
    load_view,
    load_view_reduced,
    shown_from_master,
    with_orientation,
    write_bytes_atomic,
)
from scanflow.archive.store import Archive, now
from scanflow.errors import ArchiveError, UsageError

SIZES = DISPLAY_SIZES
DERIVED = "derived"


def _page_row(archive: Archive, page_id: int) -> tuple:
    row = archive.db.execute(
        "SELECT image_path, piece_id, status, width, height, rotation, image_turn FROM pages "
        "WHERE id = ?", [page_id]).fetchone()
    if row is None:
        raise UsageError(f"There is no page {page_id}.",
                         hint="See the waiting pages with: scanflow unassigned")
    return row


def page_key(archive: Archive, page_id: int) -> str:
    """The fingerprint of a page's picture as shown, for its URLs (``?v=``)."""
    row = archive.db.execute("SELECT image_path, image_turn FROM pages WHERE id = ?",
                             [page_id]).fetchone()
    if not row or not row[0]:
        return ""
    try:
        return fingerprint(archive.image(row[0]), row[1])
    except (OSError, ArchiveError):
        return "missing"


def master_path(archive: Archive, page_id: int) -> tuple[Path, int]:
    """The page's master file and the turn that shows it upright; errors say what to do."""
    image_path, *_rest, turn = _page_row(archive, page_id)
    if not image_path:
        raise UsageError(f"Page {page_id} has no stored image (it could not be read).",
                         hint="Rescan the page and ingest it again.")
    source = archive.image(image_path)
    if not source.is_file():
        raise ArchiveError(f"The image of page {page_id} is missing from the archive "
                           f"({image_path}).", hint="Restore the archive's images/ folder "
                                                    "from a backup.")
    return source, turn or 0


@dataclass
class Picture:
    """What a browser is sent for a page's picture: a file as it is (``path``), or bytes
    made for this request (``data``: the master with another orientation tag)."""

    mimetype: str
    key: str  # the page's fingerprint (master and turn): an ETag that changes with them
    path: Path | None = None
    data: bytes | None = None


def picture(archive: Archive, page_id: int, kind: str) -> Picture:
    """The page's ``display``, ``thumb`` or ``full`` picture, upright.

    The master itself wherever a browser can show it (:func:`shown_from_master`): nothing
    is made or stored, and a turned JPEG costs only a new 36-byte EXIF segment (about a
    millisecond). Otherwise a WebP copy, made on first use and cached.
    """
    if kind not in SIZES:
        raise UsageError(f"Unknown picture size '{kind}'.", hint="Use display, thumb or full.")
    source, turn = master_path(archive, page_id)
    key = fingerprint(source, turn)
    orientation = shown_from_master(source, turn, kind)
    if orientation is None:
        return Picture("image/webp", key, path=derived_image(archive, page_id, kind))
    mimetype = BROWSER_TYPES[source.suffix.lstrip(".").lower()]
    if orientation == exif_orientation(source):
        return Picture(mimetype, key, path=source)
    return Picture(mimetype, key, data=with_orientation(source.read_bytes(), orientation))


def derived_image(archive: Archive, page_id: int, kind: str) -> Path:
    """The display, thumbnail or full-size WebP of a page, made on first use and cached.

    Made from the master, EXIF-oriented and turned upright as ``pages.image_turn`` says
    (a JPEG decoded at the smallest DCT scale that is still large enough: a thumbnail in
    tens of milliseconds); ``scanflow check --repair`` deletes copies nothing shows any
    more, and any copy deleted is made again on the next request.
    """
    if kind not in SIZES:
        raise UsageError(f"Unknown picture size '{kind}'.", hint="Use display or thumb.")
    source, turn = master_path(archive, page_id)
    target = archive.image(derived_rel(page_id, fingerprint(source, turn), kind))
    if target.is_file():
        return target
    view = load_view_reduced(source, turn, SIZES[kind]) if SIZES[kind] else load_view(source, turn)
    write_bytes_atomic(target, encode_display(view, kind))
    # Copies of an image since turned (or JPEG copies of older versions). Not temporary
    # files: another request may be writing the same copy at this moment.
    for pattern in (f"*.{kind}.webp", f"*.{kind}.jpg"):
        for old in target.parent.glob(pattern):
            if old != target and not old.name.startswith("."):
                old.unlink(missing_ok=True)
    return target


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
    image_path, piece_id, status, width, height, rotation, _turn = _page_row(archive, page_id)
    if piece_id is not None:
        raise UsageError(f"Page {page_id} belongs to piece {piece_id}; only pages on the "
                         "unassigned list can be turned.",
                         hint="Pages are turned upright before they are assigned.")
    if not image_path:
        raise UsageError(f"Page {page_id} has no stored image to turn.",
                         hint="Rescan the page and ingest it again.")
    if quarter_turns == 0:
        return rotation or 0
    h0, w0 = height, width  # the upright page's size, as the boxes know it
    new_rotation = ((rotation or 0) + 90 * quarter_turns) % 360
    # The master is not touched: the turn is data, applied whenever the page is shown.
    with archive.transaction() as db:
        for table in ("lines", "words"):
            rows = db.execute(f"SELECT id, x, y, w, h FROM {table} WHERE page_id = ? "
                              "AND x IS NOT NULL", [page_id]).fetchall()
            db.conn.executemany(
                f"UPDATE {table} SET x = ?, y = ?, w = ?, h = ? WHERE id = ?",
                [(*turn_box(x, y, w, h, w0, h0, quarter_turns), rid)
                 for rid, x, y, w, h in rows])
        nw, nh = (h0, w0) if quarter_turns % 2 else (w0, h0)
        db.execute("UPDATE pages SET rotation = ?, image_turn = (image_turn + ?) % 360, "
                   "width = ?, height = ?, ocr_stale = "
                   "CASE WHEN status = 'ok' THEN 1 ELSE ocr_stale END WHERE id = ?",
                   [new_rotation, 90 * quarter_turns, nw, nh, page_id])
        archive.log_event("page.rotate", f"page:{page_id}", actor=actor,
                          quarter_turns=quarter_turns, rotation=new_rotation)
    return new_rotation


def read_again(archive: Archive, page_id: int, *, engine_name: str | None = None,
               actor: str | None = None) -> int:
    """Recognise an unassigned page again as it now stands. Returns its number of lines.

    Used after turning a page: orientation detection is off (a person has just said which
    way up it is); the other cleaning steps run as at ingest.
    """
    from scanflow.archive.models import engine_options
    from scanflow.intake.ingest import DEFAULT_ENGINE
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
    source, turn = master_path(archive, page_id)
    prepared, rec = read_page(load_view(source, turn), engine, dpi=dpi or 300,
                              settings=PreprocessSettings(orient=False))
    data, ext = encode_ocr_image(prepared.ocr)
    new_ocr_rel = str(Path(image_path).with_name(f"{Path(image_path).stem}.ocr.{ext}"))
    write_bytes_atomic(archive.image(new_ocr_rel), data)
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
            "status = ?, ocr_stale = 0, ocr_image_path = ?, ocr_image_sha256 = NULL "
            "WHERE id = ?",
            [rec.text, mean, len(words), rec.engine, rec.engine_version, rec.model,
             json.dumps(rec.settings), json.dumps({"source": "reread", "at": now(),
                                                   "steps": [asdict(s) for s in prepared.steps]}),
             "blank" if prepared.blank else "ok", new_ocr_rel, page_id])
        archive.log_event("page.read_again", f"page:{page_id}", actor=actor, engine=rec.engine,
                          lines=len(rec.lines))
    if ocr_rel and ocr_rel != new_ocr_rel:
        archive.image(ocr_rel).unlink(missing_ok=True)  # an older PNG, now replaced
    return len(rec.lines)
