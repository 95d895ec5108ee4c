"""The review queue: which pieces wait for a teacher, filtered, counted and paged.

An archive grows by a few thousand pieces a year and keeps them all, so the queue never
lists everything at once: it shows one page of rows, and counts for the whole filter.

>>> q = queue_page(archive, QueueFilter(class_name="3A"))   # doctest: +SKIP
>>> q.awaiting, q.reviewed, [r.pupil_name for r in q.rows][:2]   # doctest: +SKIP
(12, 3, ['Ben Jones', 'Ava Smith'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scanflow.archive.store import Archive

PER_PAGE = 50
STATUSES = ("awaiting_review", "reviewed", "all")


@dataclass
class QueueFilter:
    class_name: str | None = None
    half_term: str | None = None
    genre: str | None = None
    status: str = "awaiting_review"
    search: str | None = None  # part of a pupil's name or id
    allowed_classes: tuple[str, ...] | None = None  # a teacher's classes; None: every class

    def where(self, *, with_status: bool = True) -> tuple[str, list]:
        clauses, params = [], []
        for column, value in (("pupils.class_name", self.class_name),
                              ("pieces.half_term", self.half_term),
                              ("pieces.genre", self.genre)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if with_status and self.status in ("awaiting_review", "reviewed"):
            clauses.append("pieces.status = ?")
            params.append(self.status)
        if self.search:
            like = f"%{self.search.strip()}%"
            clauses.append("(pupils.first_name || ' ' || pupils.surname LIKE ? OR "
                           "COALESCE(pupils.preferred_name, '') LIKE ? OR pupils.pupil_id LIKE ?)")
            params += [like, like, like]
        if self.allowed_classes is not None:
            marks = ",".join("?" * len(self.allowed_classes)) or "NULL"
            clauses.append(f"pupils.class_name IN ({marks})")
            params += list(self.allowed_classes)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def as_query(self) -> dict[str, str]:
        """The filter as URL parameters (for links that keep it)."""
        out = {"class": self.class_name, "half_term": self.half_term, "genre": self.genre,
               "status": self.status if self.status != "awaiting_review" else None,
               "q": self.search}
        return {k: v for k, v in out.items() if v}


@dataclass
class QueueRow:
    id: int
    pupil_id: str
    pupil_name: str
    class_name: str | None
    half_term: str
    genre: str
    status: str
    updated_at: str
    reviewed_by: str | None
    pages: int = 0
    words: int = 0
    mean_confidence: float | None = None
    versions: int = 0


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int  # rows matching the filter, status included
    awaiting: int  # for the filter without its status: the progress of the work
    reviewed: int
    page: int
    pages: int
    filter: QueueFilter = field(default_factory=QueueFilter)

    @property
    def progress(self) -> int:
        done = self.awaiting + self.reviewed
        return round(100 * self.reviewed / done) if done else 0


_ORDER = ("pupils.class_name, pupils.surname, pupils.first_name, pieces.half_term, "
          "pieces.genre, pieces.id")


def queue_page(archive: Archive, filt: QueueFilter, page: int = 1,
               per_page: int = PER_PAGE) -> QueuePage:
    db = archive.db
    where, params = filt.where(with_status=False)
    counts = dict(db.execute(
        "SELECT pieces.status, COUNT(*) FROM pieces JOIN pupils ON pupils.pupil_id = "
        f"pieces.pupil_id{where} GROUP BY pieces.status", params).fetchall())
    awaiting, reviewed = counts.get("awaiting_review", 0), counts.get("reviewed", 0)
    total = {"awaiting_review": awaiting, "reviewed": reviewed}.get(filt.status,
                                                                    sum(counts.values()))
    pages = max(1, -(-total // per_page))
    page = max(1, min(page, pages))
    where, params = filt.where()
    rows = [QueueRow(*r) for r in db.execute(
        "SELECT pieces.id, pieces.pupil_id, COALESCE(pupils.preferred_name, pupils.first_name) "
        "|| ' ' || pupils.surname, pupils.class_name, pieces.half_term, pieces.genre, "
        "pieces.status, pieces.updated_at, pieces.reviewed_by FROM pieces JOIN pupils ON "
        f"pupils.pupil_id = pieces.pupil_id{where} ORDER BY {_ORDER} LIMIT ? OFFSET ?",
        params + [per_page, (page - 1) * per_page])]
    if rows:
        # Page and version counts for the rows shown only, not for the whole archive.
        by_id = {r.id: r for r in rows}
        marks = ",".join("?" * len(by_id))
        for piece_id, n, words, conf in db.execute(
                "SELECT piece_id, COUNT(*), COALESCE(SUM(word_count), 0), "
                "SUM(mean_confidence * word_count) / NULLIF(SUM(word_count), 0) FROM pages "
                f"WHERE piece_id IN ({marks}) AND status NOT IN ('discarded', 'cover') "
                "GROUP BY piece_id",
                list(by_id)):
            by_id[piece_id].pages, by_id[piece_id].words = n, words
            by_id[piece_id].mean_confidence = conf
        for piece_id, n in db.execute(
                "SELECT piece_id, MAX(number) FROM transcription_versions "
                f"WHERE piece_id IN ({marks}) GROUP BY piece_id", list(by_id)):
            by_id[piece_id].versions = n
    return QueuePage(rows, total, awaiting, reviewed, page, pages, filt)


def next_piece(archive: Archive, filt: QueueFilter, after: int) -> int | None:
    """The piece after ``after`` in queue order that still awaits review (else the first)."""
    import dataclasses

    todo = dataclasses.replace(filt, status="awaiting_review")
    where, params = todo.where()
    key = archive.db.execute(
        "SELECT pupils.class_name, pupils.surname, pupils.first_name, pieces.half_term, "
        "pieces.genre, pieces.id FROM pieces JOIN pupils ON pupils.pupil_id = pieces.pupil_id "
        "WHERE pieces.id = ?", [after]).fetchone()
    base = ("SELECT pieces.id FROM pieces JOIN pupils ON pupils.pupil_id = pieces.pupil_id"
            + where)
    joiner = " AND " if where else " WHERE "
    if key is not None:
        # Row-value comparison: the next row in the same order as the queue shows them.
        row = archive.db.execute(
            base + joiner + "(COALESCE(pupils.class_name, ''), pupils.surname, "
            "pupils.first_name, pieces.half_term, pieces.genre, pieces.id) > "
            "(COALESCE(?, ''), ?, ?, ?, ?, ?)" + f" ORDER BY {_ORDER} LIMIT 1",
            params + list(key)).fetchone()
        if row:
            return row[0]
    row = archive.db.execute(base + joiner + "pieces.id != ?" + f" ORDER BY {_ORDER} LIMIT 1",
                             params + [after]).fetchone()
    return row[0] if row else None


def filter_choices(archive: Archive, allowed_classes: tuple[str, ...] | None = None
                   ) -> dict[str, list[str]]:
    """The values the queue's filter menus offer."""
    db = archive.db
    classes = [r[0] for r in db.execute(
        "SELECT DISTINCT class_name FROM pupils WHERE class_name IS NOT NULL ORDER BY 1")]
    if allowed_classes is not None:
        classes = [c for c in classes if c in allowed_classes]
    half_terms = [r[0] for r in db.execute(
        "SELECT DISTINCT half_term FROM pieces ORDER BY 1 DESC")]
    genres = [r[0] for r in db.execute("SELECT DISTINCT genre FROM pieces ORDER BY 1")]
    return {"classes": classes, "half_terms": half_terms, "genres": genres}
