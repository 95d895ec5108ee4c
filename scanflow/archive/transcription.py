"""The teacher's transcription of a piece: versioned, never silently overwritten.

The OCR text stays on the pages as recognised. A teacher's corrections are saved as
*versions* of the whole piece (every line, with the page and box it belongs to). Version 0
is implicit: the OCR lines. A save names the version it was based on; if someone else
saved in between, the save is refused with :class:`EditConflict` and nothing is lost.

>>> lines = current_lines(archive, piece_id)                     # doctest: +SKIP
>>> lines[0].text = "Once upon a time ther was a dragon"          # doctest: +SKIP
>>> save_version(archive, piece_id, lines, based_on=0, author="mrs.k")  # doctest: +SKIP
1
"""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass

from scanflow.archive.store import Archive, now
from scanflow.errors import ScanflowError, UsageError


class EditConflict(ScanflowError):
    """Someone saved the piece after the version this edit started from."""


@dataclass
class TLine:
    page_id: int
    text: str
    x: int | None = None
    y: int | None = None
    w: int | None = None
    h: int | None = None
    confidence: float | None = None  # OCR confidence of the line, None once typed by a person
    ocr_line_id: int | None = None


@dataclass
class Version:
    number: int
    author: str
    created_at: str
    based_on: int | None
    note: str | None
    lines: list[TLine]

    @property
    def text(self) -> str:
        return lines_text(self.lines)


def lines_text(lines: list[TLine]) -> str:
    """Plain text, pages separated by a blank line."""
    out, page = [], None
    for line in lines:
        if page is not None and line.page_id != page:
            out.append("")
        out.append(line.text)
        page = line.page_id
    return "\n".join(out)


def ocr_lines(archive: Archive, piece_id: int) -> list[TLine]:
    rows = archive.db.execute(
        "SELECT lines.page_id, lines.text, lines.x, lines.y, lines.w, lines.h, "
        "lines.confidence, lines.id FROM lines JOIN pages ON pages.id = lines.page_id "
        "WHERE pages.piece_id = ? AND pages.status != 'discarded' "
        "ORDER BY pages.position, lines.line_no", [piece_id]).fetchall()
    return [TLine(*row) for row in rows]


def latest_number(archive: Archive, piece_id: int) -> int:
    row = archive.db.execute("SELECT MAX(number) FROM transcription_versions WHERE piece_id = ?",
                             [piece_id]).fetchone()
    return row[0] or 0


def get_version(archive: Archive, piece_id: int, number: int | None = None) -> Version:
    """A saved version (the latest by default); version 0 is the OCR text."""
    if number is None:
        number = latest_number(archive, piece_id)
    if number == 0:
        return Version(0, "ocr", "", None, "recognised text", ocr_lines(archive, piece_id))
    row = archive.db.execute(
        "SELECT number, author, created_at, based_on, note, lines FROM transcription_versions "
        "WHERE piece_id = ? AND number = ?", [piece_id, number]).fetchone()
    if row is None:
        raise UsageError(f"Piece {piece_id} has no transcription version {number}.",
                         hint="See its versions with: scanflow history PIECE")
    return Version(*row[:5], lines=[TLine(**d) for d in json.loads(row[5])])


def current_lines(archive: Archive, piece_id: int) -> list[TLine]:
    return get_version(archive, piece_id).lines


def current_text(archive: Archive, piece_id: int) -> str:
    """The best text for a piece: the teacher's latest version, else the OCR text."""
    return get_version(archive, piece_id).text


def is_corrected(archive: Archive, piece_id: int) -> bool:
    return latest_number(archive, piece_id) > 0


def save_version(archive: Archive, piece_id: int, lines: list[TLine], *, based_on: int,
                 author: str, note: str | None = None) -> int:
    """Store ``lines`` as the next version. Refuses if ``based_on`` is not the latest."""
    with archive.transaction() as db:
        latest = latest_number(archive, piece_id)
        if based_on != latest:
            who = db.execute("SELECT author, created_at FROM transcription_versions "
                             "WHERE piece_id = ? AND number = ?", [piece_id, latest]).fetchone()
            raise EditConflict(
                f"Piece {piece_id} was saved by {who[0]} at {who[1]} (version {latest}) after "
                f"you opened it (version {based_on}). Your text was not saved.",
                hint="Copy your changes, reload the piece, and apply them to the new version.")
        number = latest + 1
        db["transcription_versions"].insert({
            "piece_id": piece_id, "number": number, "author": author, "created_at": now(),
            "based_on": based_on, "note": note,
            "lines": json.dumps([asdict(line) for line in lines]),
        })
        db.execute("UPDATE pieces SET updated_at = ? WHERE id = ?", [now(), piece_id])
        archive.log_event("transcription.save", f"piece:{piece_id}", actor=author,
                          version=number)
    return number


def history(archive: Archive, piece_id: int) -> list[Version]:
    return [get_version(archive, piece_id, n) for n in range(0, latest_number(archive, piece_id) + 1)]


def diff(old: Version, new: Version) -> list[str]:
    """Unified diff of two versions' text, line by line."""
    return list(difflib.unified_diff(old.text.splitlines(), new.text.splitlines(),
                                     f"version {old.number}", f"version {new.number}",
                                     lineterm=""))


def restore(archive: Archive, piece_id: int, number: int, *, author: str) -> int:
    """Make an old version current again, as a new version (history is never rewritten)."""
    old = get_version(archive, piece_id, number)
    return save_version(archive, piece_id, old.lines, based_on=latest_number(archive, piece_id),
                        author=author, note=f"restored version {number}")


def mark_reviewed(archive: Archive, piece_id: int, *, reviewer: str) -> None:
    with archive.transaction() as db:
        db.execute("UPDATE pieces SET status = 'reviewed', reviewed_by = ?, reviewed_at = ?, "
                   "updated_at = ? WHERE id = ?", [reviewer, now(), now(), piece_id])
        archive.log_event("piece.reviewed", f"piece:{piece_id}", actor=reviewer)


def reopen(archive: Archive, piece_id: int, *, actor: str) -> None:
    with archive.transaction() as db:
        db.execute("UPDATE pieces SET status = 'awaiting_review', updated_at = ? WHERE id = ?",
                   [now(), piece_id])
        archive.log_event("piece.reopened", f"piece:{piece_id}", actor=actor)
