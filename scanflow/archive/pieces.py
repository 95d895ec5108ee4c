"""Pieces of writing: one pupil's pages for one half term and genre, in page order.

Also the *unassigned* list: pages that could not be linked to a pupil at ingest wait
there until someone assigns them (:func:`assign_pages`) or discards them.
"""

from __future__ import annotations

from dataclasses import dataclass

from scanflow.archive.roster import get_pupil
from scanflow.archive.store import Archive, now
from scanflow.archive.terms import HalfTerm
from scanflow.errors import UsageError

AWAITING_REVIEW = "awaiting_review"
REVIEWED = "reviewed"


@dataclass
class PieceSummary:
    id: int
    pupil_id: str
    pupil_name: str
    class_name: str | None
    half_term: str
    genre: str
    version: int
    status: str
    pages: int
    words: int
    mean_confidence: float | None


@dataclass
class PageSummary:
    id: int
    file_name: str
    page_number: int
    half_term: str
    genre: str
    status: str
    words: int | None
    image_path: str | None
    error: str | None
    preview: str


def check_genre(archive: Archive, genre: str) -> str:
    genre = genre.strip().lower()
    row = archive.db.execute("SELECT name FROM genres WHERE name = ?", [genre]).fetchone()
    if not row:
        known = [r[0] for r in archive.db.execute("SELECT name FROM genres ORDER BY name")]
        raise UsageError(
            f"'{genre}' is not one of the archive's genres ({', '.join(known)}).",
            hint=f"Add it with: scanflow genre add {genre}",
        )
    return genre


def add_genre(archive: Archive, name: str, label: str | None = None) -> str:
    """Let the school extend the genre list (e.g. 'playscript')."""
    name = name.strip().lower()
    if not name.replace("-", "").isalnum():
        raise UsageError(f"'{name}' is not a usable genre name.",
                         hint="Use letters, digits and hyphens, e.g. non-chronological-report.")
    with archive.transaction() as db:
        db["genres"].upsert({"name": name, "label": label or name.replace("-", " ").capitalize()},
                            pk="name")
        archive.log_event("genre.add", name)
    return name


def piece_for(archive: Archive, pupil_id: str, half_term: str, genre: str) -> int:
    """The open piece for pupil x half term x genre, creating it if needed.

    A piece a teacher has already reviewed is never changed by new pages: a rescan of it
    starts a new version, which the teacher keeps or discards.
    """
    db = archive.db
    row = db.execute(
        "SELECT id, status, version FROM pieces WHERE pupil_id = ? AND half_term = ? "
        "AND genre = ? ORDER BY version DESC LIMIT 1", [pupil_id, half_term, genre]).fetchone()
    if row and row[1] == AWAITING_REVIEW:
        return row[0]
    version = row[2] + 1 if row else 1
    stamp = now()
    return db["pieces"].insert({
        "pupil_id": pupil_id, "half_term": half_term, "genre": genre, "version": version,
        "status": AWAITING_REVIEW, "created_at": stamp, "updated_at": stamp,
    }).last_pk


def next_position(archive: Archive, piece_id: int) -> int:
    row = archive.db.execute("SELECT COALESCE(MAX(position), 0) FROM pages WHERE piece_id = ?",
                             [piece_id]).fetchone()
    return row[0] + 1


_PIECE_SQL = """
SELECT pieces.id, pieces.pupil_id,
       COALESCE(pupils.preferred_name, pupils.first_name) || ' ' || pupils.surname,
       pupils.class_name, pieces.half_term, pieces.genre, pieces.version, pieces.status,
       COUNT(pages.id), COALESCE(SUM(pages.word_count), 0),
       SUM(pages.mean_confidence * pages.word_count) / NULLIF(SUM(pages.word_count), 0)
FROM pieces
JOIN pupils ON pupils.pupil_id = pieces.pupil_id
-- A cover sheet is kept with its piece but is not a page of writing.
LEFT JOIN pages ON pages.piece_id = pieces.id AND pages.status NOT IN ('cover', 'discarded')
"""


def list_pieces(archive: Archive, *, class_name: str | None = None,
                half_term: str | None = None, genre: str | None = None,
                status: str | None = None, pupil_id: str | None = None) -> list[PieceSummary]:
    where, params = [], []
    for column, value in (("pupils.class_name", class_name), ("pieces.half_term", half_term),
                          ("pieces.genre", genre), ("pieces.status", status),
                          ("pieces.pupil_id", pupil_id)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    sql = _PIECE_SQL + (" WHERE " + " AND ".join(where) if where else "")
    sql += " GROUP BY pieces.id ORDER BY pupils.class_name, pupils.surname, pieces.half_term"
    return [PieceSummary(*row) for row in archive.db.execute(sql, params)]


def check_piece_filters(archive: Archive, *, class_name: str | None = None,
                        half_term: str | None = None,
                        genre: str | None = None) -> tuple[str | None, str | None, str | None]:
    """The filters of a piece listing, checked against the archive and written as stored.

    A filter that can match nothing (a class no pupil is in, 'autumn' for a half term) is an
    error that says what is wrong, not an empty list that looks like "no pieces yet".
    """
    if class_name:
        known = [r[0] for r in archive.db.execute(
            "SELECT DISTINCT class_name FROM pupils WHERE class_name IS NOT NULL "
            "ORDER BY class_name")]
        match = [c for c in known if c.lower() == class_name.strip().lower()]
        if not match:
            listed = ", ".join(known) if known else "none: no class list imported yet"
            raise UsageError(f"No class '{class_name}' in the archive (classes: {listed}).",
                             hint="Check the class name as the class list writes it, or "
                                  "import the class list: scanflow roster import FILE.csv")
        class_name = match[0]
    if half_term:
        half_term = str(HalfTerm.parse(half_term))
    if genre:
        genre = check_genre(archive, genre)
    return class_name, half_term, genre


def get_piece(archive: Archive, piece_id: int) -> PieceSummary:
    rows = archive.db.execute(_PIECE_SQL + " WHERE pieces.id = ? GROUP BY pieces.id",
                              [piece_id]).fetchall()
    if not rows:
        raise UsageError(f"There is no piece {piece_id}.",
                         hint="List pieces with: scanflow pieces")
    return PieceSummary(*rows[0])


def piece_text(archive: Archive, piece_id: int) -> list[tuple[int, str]]:
    """``(page position, OCR text)`` for each page of a piece, in order."""
    return [(pos, text or "") for pos, text in archive.db.execute(
        "SELECT position, ocr_text FROM pages WHERE piece_id = ? "
        "AND status NOT IN ('cover', 'discarded') ORDER BY position", [piece_id])]


def list_unassigned(archive: Archive) -> list[PageSummary]:
    rows = archive.db.execute(
        "SELECT pages.id, files.name, pages.page_number, pages.half_term, pages.genre, "
        "pages.status, pages.word_count, pages.image_path, pages.error, "
        "COALESCE(substr(pages.ocr_text, 1, 60), '') "
        "FROM pages JOIN files ON files.sha256 = pages.file_sha256 "
        "WHERE pages.piece_id IS NULL AND pages.status != 'discarded' "
        "ORDER BY pages.id").fetchall()
    return [PageSummary(*row[:9], preview=row[9].replace("\n", " ")) for row in rows]


def assign_pages(archive: Archive, page_ids: list[int], pupil_id: str, *,
                 half_term: str | None = None, genre: str | None = None,
                 actor: str | None = None) -> int:
    """Link unassigned pages to a pupil's piece, in the order given. Returns the piece id.

    The half term and genre default to the ones the pages were ingested with.

    >>> assign_pages(archive, [7, 8], "A100000000005")   # doctest: +SKIP
    12
    """
    get_pupil(archive, pupil_id)
    if half_term:
        half_term = str(HalfTerm.parse(half_term))
    if genre:
        genre = check_genre(archive, genre)
    piece_id = None
    with archive.transaction() as db:
        for page_id in page_ids:
            row = db.execute("SELECT piece_id, half_term, genre, status FROM pages WHERE id = ?",
                             [page_id]).fetchone()
            if row is None:
                raise UsageError(f"There is no page {page_id}.",
                                 hint="See the waiting pages with: scanflow unassigned")
            if row[0] is not None:
                raise UsageError(f"Page {page_id} already belongs to piece {row[0]}.",
                                 hint="Only pages on the unassigned list can be assigned.")
            piece_id = piece_for(archive, pupil_id, half_term or row[1], genre or row[2])
            db.execute("UPDATE pages SET piece_id = ?, position = ?, half_term = ?, genre = ? "
                       "WHERE id = ?", [piece_id, next_position(archive, piece_id),
                                        half_term or row[1], genre or row[2], page_id])
            archive.log_event("page.assign", f"page:{page_id}", actor=actor,
                              pupil_id=pupil_id, piece_id=piece_id)
    return piece_id


def discard_pages(archive: Archive, page_ids: list[int], actor: str | None = None) -> None:
    """Take pages off the unassigned list (a stray cover, a blank insert). Kept, not deleted."""
    with archive.transaction() as db:
        for page_id in page_ids:
            cur = db.execute("UPDATE pages SET status = 'discarded' WHERE id = ? "
                             "AND piece_id IS NULL", [page_id])
            if cur.rowcount != 1:
                raise UsageError(f"Page {page_id} is not on the unassigned list.",
                                 hint="See the waiting pages with: scanflow unassigned")
            archive.log_event("page.discard", f"page:{page_id}", actor=actor)

