"""Derived images made again from a page's master: the OCR image, for ``scanflow check``.

The OCR image is derived data: the master put through the same cleaning steps as at
ingest, with the page's recorded turn in place of orientation detection (a person or the
detector has decided it already) and a label painted out where one was found. So a lost
or damaged OCR image needs no backup: :func:`rebuild_ocr_image` makes it again. What the
engine read of a page can be had again the same way (:func:`prepare_stored`): ``export
lines`` cuts the lines a teacher corrected from it.
Display copies are rebuilt by the review app on the next request
(:func:`scanflow.review.pageimages.derived_image`).

>>> rebuild_ocr_image(archive, 12)          # doctest: +SKIP
'd7/d7d1.../p0001.ocr.tif'
"""

from __future__ import annotations

import json
from pathlib import Path

from scanflow.archive.backup import sha256_file
from scanflow.archive.images import decode_image, encode_ocr_image, write_bytes_atomic
from scanflow.archive.store import Archive
from scanflow.errors import ArchiveError
from scanflow.ocr.preprocess import PreparedPage, PreprocessSettings, prepare


def prepare_stored(archive: Archive, page_id: int) -> PreparedPage:
    """Page ``page_id``'s master cleaned again as at ingest: the images the engine read
    (``grey``, ``ocr``) and how they map onto the upright page (``geometry``).

    Raises :class:`ArchiveError` when the page or its master is missing.

    >>> prepared = prepare_stored(archive, 12)          # doctest: +SKIP
    >>> prepared.grey.shape                             # doctest: +SKIP
    (3508, 2480)
    """
    row = archive.db.execute(
        "SELECT image_path, image_turn, dpi, code FROM pages WHERE id = ?",
        [page_id]).fetchone()
    if row is None or not row[0]:
        raise ArchiveError(f"Page {page_id} has no master image to rebuild from.",
                           hint="Rescan the page and ingest it again.")
    image_path, turn, dpi, code = row
    master = archive.image(image_path)
    if not master.is_file():
        raise ArchiveError(f"The master image of page {page_id} is missing ({image_path}).",
                           hint="Restore it first: scanflow check --repair --from-backup DIR")
    region = (json.loads(code) or {}).get("region") if code else None
    return prepare(decode_image(master), dpi=dpi or 300, settings=PreprocessSettings(),
                   osd=lambda _grey: (turn or 0, {"reason": "the turn the archive recorded"}),
                   hide=[region] if region else None)


def rebuild_ocr_image(archive: Archive, page_id: int) -> str:
    """Make page ``page_id``'s OCR image again from its master; record its checksum.

    Returns the image's path relative to ``images/``. Raises :class:`ArchiveError` when
    the master itself is missing (restore that from a backup first).
    """
    prepared = prepare_stored(archive, page_id)
    image_path, old_rel = archive.db.execute(
        "SELECT image_path, ocr_image_path FROM pages WHERE id = ?", [page_id]).fetchone()
    data, ext = encode_ocr_image(prepared.ocr)
    rel = str(Path(image_path).with_name(f"{Path(image_path).stem}.ocr.{ext}"))
    write_bytes_atomic(archive.image(rel), data)
    with archive.transaction() as db:
        db.execute("UPDATE pages SET ocr_image_path = ? WHERE id = ?", [rel, page_id])
        # After the path (whose trigger clears the checksum): the new file's own.
        db.execute("UPDATE pages SET ocr_image_sha256 = ? WHERE id = ?",
                   [sha256_file(archive.image(rel)), page_id])
    if old_rel and old_rel != rel:
        archive.image(old_rel).unlink(missing_ok=True)
    return rel
