"""Full-text search over every piece's final transcription (SQLite FTS5).

The index is the FTS5 table ``piece_texts_fts`` over ``piece_texts`` (one row per piece:
the teacher's latest version, else the OCR text). Triggers made by migration 6 keep both
in step with every writer: a saved transcription version, pages ingested, assigned,
discarded or read again. :func:`rebuild` recomputes them from scratch
(``scanflow search --rebuild``), for safety after a restore or a hand edit.

A query is words, all of which must appear (``dragon castle``); ``"quoted words"`` for a
phrase; ``drag*`` for words starting so; ``OR`` between words for either. Words are
matched as written, without stemming, because spelling matters here: ``becaus`` finds
the pieces where a child wrote *becaus*, not those that spell it right.

>>> [h.piece_id for h in search(archive, "dragon", class_name="3A")]   # doctest: +SKIP
[12, 40]
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass

from scanflow.archive.placement import Placements
from scanflow.archive.store import Archive
from scanflow.archive.terms import HalfTerm
from scanflow.errors import UsageError

MARK_START, MARK_END = "\u0002", "\u0003"  # snippet highlight markers, never in text


@dataclass
class Hit:
    piece_id: int
    pupil_id: str
    pupil_name: str
    class_name: str | None  # when the piece was written
    half_term: str
    genre: str
    snippet: str  # with MARK_START/MARK_END around each match
    rank: float

    def snippet_text(self, start: str = "[", end: str = "]") -> str:
        return self.snippet.replace(MARK_START, start).replace(MARK_END, end)


_TOKEN = re.compile(r'"[^"]*"|\S+')


def fts_query(text: str) -> str:
    """Turn what a person typed into a safe FTS5 query.

    Every word becomes a quoted term (so ``-``, ``:``, ``(`` or a stray ``AND`` can
    never be a syntax error); ``"..."`` stays a phrase, a trailing ``*`` a prefix, and
    ``OR`` between words keeps its meaning.

    >>> fts_query('dragon OR "best frend" castl*')
    '"dragon" OR "best frend" "castl"*'
    """
    parts: list[str] = []
    for token in _TOKEN.findall(text or ""):
        if token == "OR" and parts and parts[-1] != "OR":
            parts.append("OR")
            continue
        prefix = token.endswith("*") and not token.startswith('"')
        word = token.strip('"').rstrip("*") if not token.startswith('"') else token[1:-1]
        words = re.findall(r"\w+(?:['\u2019]\w+)*", word)
        if not words:
            continue
        term = '"' + " ".join(words).replace('"', "") + '"'
        parts.append(term + ("*" if prefix else ""))
    while parts and parts[-1] == "OR":
        parts.pop()
    if parts and parts[0] == "OR":
        parts.pop(0)
    return " ".join(parts)


def search(archive: Archive, query: str, *, pupil_id: str | None = None,
           class_name: str | None = None, genre: str | None = None,
           half_term: str | None = None, limit: int = 50,
           allowed_classes: tuple[str, ...] | None = None) -> list[Hit]:
    """Pieces whose final text matches ``query``, best match first.

    ``class_name`` is the class the pupil was in when the piece was written.
    ``allowed_classes`` (a teacher in the review app) keeps to pupils now in those
    classes, all their years included, as the review queue and pupil pages do.
    """
    match = fts_query(query)
    if not match:
        raise UsageError(f"'{query}' has no words to search for.",
                         hint='Type one or more words, e.g. dragon, or "best friend".')
    where = ["piece_texts_fts MATCH ?"]
    params: list = [match]
    if pupil_id:
        where.append("pieces.pupil_id = ?")
        params.append(pupil_id)
    if genre:
        where.append("pieces.genre = ?")
        params.append(genre.strip().lower())
    if half_term:
        where.append("pieces.half_term = ?")
        params.append(str(HalfTerm.parse(half_term)))
    if allowed_classes is not None:
        where.append("pupils.class_name IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(list(allowed_classes)))
    placements = None
    if class_name:
        # Who could have been in the class: anyone placed in it at any time.
        classes = [class_name]
        candidates = [r[0] for r in archive.db.execute(
            "SELECT pupil_id FROM pupils WHERE class_name IN (SELECT value FROM json_each(?)) "
            "UNION SELECT pupil_id FROM pupil_history WHERE class_name IN "
            "(SELECT value FROM json_each(?))", [json.dumps(classes), json.dumps(classes)])]
        where.append("pieces.pupil_id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(candidates))
        placements = Placements(archive, candidates)
    # Ranked ids first, without snippets: a common word can match every piece, and a
    # snippet costs a read of the whole text. Snippets are made for the hits kept only.
    if len(where) == 1:  # no filter: rank only the best few (see _best_unfiltered)
        rows = _best_unfiltered(archive, match, limit)
    else:
        # A filter makes the set to rank smaller, if SQLite ranks only the rows that pass:
        # "ORDER BY rank" has FTS5 rank every match before the join filters them (68 ms for
        # a word in 24,800 of 25,000 pieces, the class and half term then keeping 28), so
        # the order is SQLite's own ("+rank": 5.5 ms, same rows, same order). The
        # filtered pieces' first and last ids also bound the index scan: a half term's
        # pieces were added together, so its range is a 36th of the archive.
        # (Each condition has one parameter.)
        on_pieces = [(w, p) for w, p in zip(where[1:], params[1:]) if w.startswith("pieces.")]
        piece_where, piece_params = [w for w, _ in on_pieces], [p for _, p in on_pieces]
        span = archive.db.execute(
            "SELECT min(id), max(id) FROM pieces WHERE " + " AND ".join(piece_where),
            piece_params).fetchone() if piece_where else None
        if span is not None:
            where.insert(1, "piece_texts_fts.rowid BETWEEN ? AND ?")
            params[1:1] = [span[0] if span[0] is not None else 0,
                           span[1] if span[1] is not None else -1]
        rows = archive.db.execute(
            f"{_HIT_COLUMNS} FROM piece_texts_fts "
            "JOIN pieces ON pieces.id = piece_texts_fts.rowid "
            "JOIN pupils ON pupils.pupil_id = pieces.pupil_id "
            f"WHERE {' AND '.join(where)} AND pieces.status != 'discarded' "
            "ORDER BY +piece_texts_fts.rank", params)
    if placements is None:
        # Without a class filter every row is a hit: the first ``limit`` are the page,
        # and their pupils' classes are looked up together.
        rows = list(itertools.islice(rows, limit))
        placements = Placements(archive, sorted({r[1] for r in rows}))
    hits: list[Hit] = []
    for piece_id, pid, name, ht, gen, rank in rows:
        cls = placements.at(pid, ht).class_name
        if class_name and cls != class_name:
            continue
        hits.append(Hit(piece_id, pid, name, cls, ht, gen, "", rank))
        if len(hits) >= limit:
            break
    if hits:
        # FTS5's snippet() expands a prefix query again for every row (slow for "a*"), so
        # the snippet is cut here from the stored text, around the first match.
        texts = dict(archive.db.execute(
            "SELECT piece_id, text FROM piece_texts WHERE piece_id IN "
            "(SELECT value FROM json_each(?))", [json.dumps([h.piece_id for h in hits])]))
        pattern = _highlight_pattern(match)
        for h in hits:
            h.snippet = make_snippet(texts.get(h.piece_id, ""), pattern)
    return hits


_HIT_COLUMNS = ("SELECT pieces.id, pieces.pupil_id, "
                "COALESCE(pupils.preferred_name, pupils.first_name) || ' ' || pupils.surname, "
                "pieces.half_term, pieces.genre, piece_texts_fts.rank")


# An unfiltered search ranks at most this many of the matching pieces, the most recently
# added: ranking (bm25) every piece that holds a common word ("saw": 24,800 of 25,000)
# took 50-70 ms, ranking 3,000 takes under 10. A word that rare is ranked everywhere.
RANK_AT_MOST = 3000


def _best_unfiltered(archive: Archive, match: str, limit: int) -> list[tuple]:
    """The ``limit`` best matches, as search rows, when no filter narrows the search.

    The ranking runs on the index alone with ``ORDER BY bm25() LIMIT N`` (FTS5 then keeps
    only the best N, and nothing is joined until they are known), over the newest
    :data:`RANK_AT_MOST` matching pieces. If discarded pieces leave too few, it asks
    again for more, over all of them.
    """
    db = archive.db
    newest = db.execute("SELECT rowid FROM piece_texts_fts WHERE piece_texts_fts MATCH ? "
                        "ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                        [match, RANK_AT_MOST - 1]).fetchone()
    since = newest[0] if newest else 0
    wanted = max(limit, 1) + 20
    while True:
        ranked = db.execute(
            "SELECT rowid, bm25(piece_texts_fts) FROM piece_texts_fts "
            "WHERE piece_texts_fts MATCH ? AND rowid >= ? "
            "ORDER BY bm25(piece_texts_fts) LIMIT ?", [match, since, wanted]).fetchall()
        info = {r[0]: r for r in db.execute(
            _HIT_COLUMNS.replace("piece_texts_fts.rank", "NULL") + " FROM pieces "
            "JOIN pupils ON pupils.pupil_id = pieces.pupil_id "
            "WHERE pieces.id IN (SELECT value FROM json_each(?)) "
            "AND pieces.status != 'discarded'", [json.dumps([r[0] for r in ranked])])}
        rows = [(*info[rowid][:5], rank) for rowid, rank in ranked if rowid in info]
        if len(rows) >= limit or (len(ranked) < wanted and not since):
            return rows[:limit]
        if len(ranked) < wanted:
            since = 0  # the newest were not enough: rank them all
        else:
            wanted *= 4


def _highlight_pattern(match: str) -> re.Pattern:
    """A regular expression finding what an :func:`fts_query` query matches."""
    alternatives = []
    for phrase, star in re.findall(r'"([^"]*)"(\*?)', match):
        words = [re.escape(w) for w in phrase.split()]
        if not words:
            continue
        body = r"\W+".join(words) + (r"\w*" if star else "")
        alternatives.append(rf"(?<!\w){body}(?!\w)")
    return re.compile("|".join(alternatives) or r"(?!)", re.IGNORECASE)


def make_snippet(text: str, pattern: re.Pattern, words: int = 16) -> str:
    """About ``words`` words of ``text`` around the first match, matches marked.

    >>> snippet = make_snippet("one two three dragon four", _highlight_pattern('"drag"*'), 3)
    >>> snippet.replace(MARK_START, "[").replace(MARK_END, "]")
    '… three [dragon] four'
    """
    flat = " ".join(text.split())
    first = pattern.search(flat)
    if first is None:
        return " ".join(flat.split(" ")[:words]) + (" …" if len(flat.split(" ")) > words else "")
    before = flat[:first.start()].split(" ")
    start_words = max(0, len(before) - 1 - words // 3)
    start = len(" ".join(before[:start_words])) + (1 if start_words else 0)
    rest = flat[start:].split(" ")
    window = " ".join(rest[:words])
    marked = pattern.sub(lambda m: f"{MARK_START}{m.group(0)}{MARK_END}", window)
    return ("… " if start else "") + marked + (" …" if len(rest) > words else "")


def rebuild(archive: Archive) -> int:
    """Recompute every piece's final text and the whole index. Returns the pieces indexed."""
    from scanflow.archive.migrations import _piece_text_select

    with archive.transaction() as db:
        db.execute("DELETE FROM piece_texts")
        db.execute("INSERT INTO piece_texts (piece_id, text, version, updated_at)"
                   + _piece_text_select("1"))
        db.execute("INSERT INTO piece_texts_fts (piece_texts_fts) VALUES ('rebuild')")
        count = db.execute("SELECT COUNT(*) FROM piece_texts").fetchone()[0]
        archive.log_event("search.rebuild", "", pieces=count)
    return count


def index_problems(archive: Archive) -> list[str]:
    """What is out of step between pieces, their final texts and the index (for check)."""
    problems = []
    db = archive.db
    missing = db.execute("SELECT COUNT(*) FROM pieces WHERE id NOT IN "
                         "(SELECT piece_id FROM piece_texts)").fetchone()[0]
    if missing:
        problems.append(f"{missing} piece(s) have no entry in the search index")
    from scanflow.archive.migrations import _piece_text_select

    stale = db.execute(
        "SELECT COUNT(*) FROM piece_texts AS t JOIN (" + _piece_text_select("1") + ") AS fresh "
        "ON fresh.piece_id = t.piece_id WHERE fresh.text IS NOT t.text "
        "OR fresh.version IS NOT t.version").fetchone()[0]
    if stale:
        problems.append(f"{stale} piece(s) have an out-of-date text in the search index")
    try:
        db.execute("INSERT INTO piece_texts_fts (piece_texts_fts, rank) "
                   "VALUES ('integrity-check', 1)")
    except Exception as exc:  # sqlite3.DatabaseError: the index disagrees with the texts
        problems.append(f"the search index does not match the texts ({exc})")
    return problems
