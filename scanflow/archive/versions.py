"""Versions of a piece: when the same pupil x half term x genre is scanned again.

A rescan never changes a piece a teacher has reviewed, and never mixes into an earlier
scan: it becomes a new *version* (``pieces.version`` 2, 3...). The teacher compares them
and keeps one; the others are marked discarded, with their pages, transcriptions and
scores left in place, so a discard can be undone by keeping that version again.

>>> [(v.piece_id, v.version, v.status) for v in list_versions(archive, 12)]  # doctest: +SKIP
[(7, 1, 'reviewed'), (12, 2, 'awaiting_review')]
>>> keep_version(archive, 12, actor="mrs.k")       # doctest: +SKIP
[7]
"""

from __future__ import annotations

from dataclasses import dataclass

from scanflow.archive.store import Archive, current_user, now
from scanflow.errors import UsageError

DISCARDED = "discarded"


@dataclass
class VersionInfo:
    piece_id: int
    version: int
    status: str
    pages: int  # pages of writing (the cover not counted)
    words: int
    created_at: str
    reviewed_by: str | None
    reviewed_at: str | None
    batches: list[int]
    corrected: bool  # the teacher has saved a transcription of it


def _key(archive: Archive, piece_id: int) -> tuple[str, str, str]:
    row = archive.db.execute("SELECT pupil_id, half_term, genre FROM pieces WHERE id = ?",
                             [piece_id]).fetchone()
    if row is None:
        raise UsageError(f"There is no piece {piece_id}.", hint="List pieces with: scanflow pieces")
    return row


def list_versions(archive: Archive, piece_id: int) -> list[VersionInfo]:
    """Every version of the piece's pupil x half term x genre, oldest first."""
    key = _key(archive, piece_id)
    rows = archive.db.execute(
        "SELECT pieces.id, pieces.version, pieces.status, "
        "  (SELECT COUNT(*) FROM pages WHERE piece_id = pieces.id AND status != 'cover'), "
        "  (SELECT COALESCE(SUM(word_count), 0) FROM pages WHERE piece_id = pieces.id), "
        "  pieces.created_at, pieces.reviewed_by, pieces.reviewed_at, "
        "  (SELECT GROUP_CONCAT(DISTINCT batch_id) FROM pages WHERE piece_id = pieces.id), "
        "  EXISTS (SELECT 1 FROM transcription_versions WHERE piece_id = pieces.id) "
        "FROM pieces WHERE pupil_id = ? AND half_term = ? AND genre = ? ORDER BY version",
        list(key)).fetchall()
    return [VersionInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7],
                        sorted(int(b) for b in (r[8] or "").split(",") if b), bool(r[9]))
            for r in rows]


def discard_version(archive: Archive, piece_id: int, actor: str | None = None) -> None:
    """Mark one version discarded (kept in the archive; undo with :func:`keep_version`)."""
    actor = actor or current_user()
    _key(archive, piece_id)
    with archive.transaction() as db:
        status = db.execute("SELECT status FROM pieces WHERE id = ?", [piece_id]).fetchone()[0]
        if status == DISCARDED:
            raise UsageError(f"Piece {piece_id} is already discarded.",
                             hint=f"Bring it back with: scanflow keep {piece_id}")
        _discard(archive, piece_id, status, actor)


def _discard(archive: Archive, piece_id: int, status: str, actor: str) -> None:
    archive.db.execute(
        "UPDATE pieces SET status = ?, status_before_discard = ?, discarded_at = ?, "
        "discarded_by = ?, updated_at = ? WHERE id = ?",
        [DISCARDED, status, now(), actor, now(), piece_id])
    archive.log_event("piece.discard", f"piece:{piece_id}", actor=actor, previous_status=status)


def keep_version(archive: Archive, piece_id: int, actor: str | None = None) -> list[int]:
    """Keep this version and discard the others. Returns the ids newly discarded.

    Keeping a discarded version brings it back with the status it had.
    """
    actor = actor or current_user()
    key = _key(archive, piece_id)
    discarded = []
    with archive.transaction() as db:
        row = db.execute("SELECT status, status_before_discard FROM pieces WHERE id = ?",
                         [piece_id]).fetchone()
        if row[0] == DISCARDED:
            db.execute("UPDATE pieces SET status = ?, status_before_discard = NULL, "
                       "discarded_at = NULL, discarded_by = NULL, updated_at = ? WHERE id = ?",
                       [row[1] or "awaiting_review", now(), piece_id])
        for other, status in db.execute(
                "SELECT id, status FROM pieces WHERE pupil_id = ? AND half_term = ? AND genre = ? "
                "AND id != ? AND status != ?", [*key, piece_id, DISCARDED]).fetchall():
            _discard(archive, other, status, actor)
            discarded.append(other)
        archive.log_event("piece.keep", f"piece:{piece_id}", actor=actor, discarded=discarded)
    return discarded
