"""A pupil's writing across the years: every piece, its pages, final text and levels.

:func:`pupil_portfolio` gathers it in a handful of queries (whatever the number of
pieces) into plain dataclasses that the CLI (``scanflow pupil show``), the web page, the
PDF portfolio and the growth chart all read.

Which pieces: every piece of the pupil except versions a teacher discarded (a rescan
that was not kept), in half-term order. The text is the final transcription (the
teacher's latest version, else the OCR text: ``piece_texts``, kept equal to
:func:`scanflow.archive.transcription.current_text` by triggers); levels are the latest score per
criterion (:mod:`scanflow.scoring.levels`); class and year group are those the pupil had *when
the piece was written* (:mod:`scanflow.archive.placement`).

>>> p = pupil_portfolio(archive, "A100000000001")                      # doctest: +SKIP
>>> [(x.half_term, x.levels["spelling"].level) for x in p.pieces]       # doctest: +SKIP
[('2026-27-autumn-1', 2), ('2026-27-spring-1', 3)]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from scanflow.archive.placement import Placements
from scanflow.archive.roster import Pupil, get_pupil
from scanflow.archive.store import Archive
from scanflow.archive.terms import HalfTerm
from scanflow.scoring.levels import Level, current_levels, ordered_criteria


@dataclass
class PageRef:
    id: int
    position: int | None
    status: str
    image_path: str | None
    width: int | None
    height: int | None
    dpi: float | None = None


@dataclass
class PieceRecord:
    piece_id: int
    half_term: str
    genre: str
    version: int
    status: str
    class_name: str | None  # when it was written
    year_group: int | None  # when it was written
    pages: list[PageRef]
    text: str
    words: int
    levels: dict[str, Level] = field(default_factory=dict)

    @property
    def half_term_label(self) -> str:
        return HalfTerm.parse(self.half_term).label

    @property
    def scored(self) -> bool:
        return bool(self.levels)


@dataclass
class Portfolio:
    pupil: Pupil
    placements: list[tuple[str, str | None, int | None]]  # (academic year, class, year)
    pieces: list[PieceRecord]
    criteria: dict[str, str]  # criterion id -> name, in rubric order

    def series(self) -> dict[str, list[tuple[str, int]]]:
        """Per criterion, ``(half term, level)`` for each scored piece, oldest first."""
        out: dict[str, list[tuple[str, int]]] = {cid: [] for cid in self.criteria}
        for piece in self.pieces:
            for cid, lv in piece.levels.items():
                out.setdefault(cid, []).append((piece.half_term, lv.level))
        return out

    @property
    def half_terms(self) -> list[str]:
        return sorted({p.half_term for p in self.pieces}, key=lambda h: HalfTerm.parse(h).index)


def count_words(text: str) -> int:
    """Words as the rubric's length minimum counts them (scanflow.scoring.tokens).

    >>> count_words("The dog's ball -- it was 2 big!")
    7
    """
    # The tokenizer's own pattern without building sentences: a third of the time of
    # read_text(text).words, which a year group's grid would feel. Same count (tested).
    from scanflow.scoring.tokens import _TOKEN_RE

    return sum(1 for m in _TOKEN_RE.finditer(text) if m.lastgroup in _WORD_KINDS)


_WORD_KINDS = {"word", "placeholder", "number"}


def pupil_portfolio(archive: Archive, pupil_id: str, *,
                    rubric_dir: str | Path | None = None) -> Portfolio:
    """Everything the archive holds on one pupil's writing, oldest piece first."""
    pupil = get_pupil(archive, pupil_id)
    db = archive.db
    rows = db.execute(
        "SELECT pieces.id, pieces.half_term, pieces.genre, pieces.version, pieces.status, "
        "COALESCE(piece_texts.text, '') FROM pieces "
        "LEFT JOIN piece_texts ON piece_texts.piece_id = pieces.id "
        "WHERE pieces.pupil_id = ? AND pieces.status != 'discarded'", [pupil_id]).fetchall()
    rows.sort(key=lambda r: (HalfTerm.parse(r[1]).index, r[2], r[3]))
    ids = [r[0] for r in rows]
    pages: dict[int, list[PageRef]] = {}
    for piece_id, *rest in db.execute(
            "SELECT piece_id, id, position, status, image_path, width, height, dpi FROM pages "
            "WHERE piece_id IN (SELECT value FROM json_each(?)) AND status != 'discarded' "
            "ORDER BY piece_id, position, id", [json.dumps(ids)]):
        pages.setdefault(piece_id, []).append(PageRef(*rest))
    levels = current_levels(archive, ids)
    placements = Placements(archive, [pupil_id])
    pieces = []
    for piece_id, half_term, genre, version, status, text in rows:
        where = placements.at(pupil_id, half_term)
        pieces.append(PieceRecord(
            piece_id=piece_id, half_term=half_term, genre=genre, version=version,
            status=status, class_name=where.class_name, year_group=where.year_group,
            pages=pages.get(piece_id, []), text=text, words=count_words(text),
            levels=levels.get(piece_id, {})))
    criteria = ordered_criteria([p.levels for p in pieces], {p.genre for p in pieces},
                                rubric_dir)
    history = []
    for year in sorted({HalfTerm.parse(p.half_term).academic_year for p in pieces}):
        where = placements.at(pupil_id, f"{year}-autumn-1")
        history.append((year, where.class_name, where.year_group))
    return Portfolio(pupil=pupil, placements=history, pieces=pieces, criteria=criteria)


def level_cell(level: Level) -> str:
    """A level as a grid shows it: ``3``, or ``3*`` when the text changed after scoring."""
    return f"{level.level}*" if level.stale else str(level.level)


def format_portfolio(p: Portfolio) -> str:
    """The text ``scanflow pupil show`` prints: the pupil, a level grid, each piece."""
    from scanflow.scoring.levels import short_name

    pupil = p.pupil
    out = [f"{pupil.display_name} ({pupil.pupil_id}), class {pupil.class_name or '-'}, "
           f"year {pupil.year_group if pupil.year_group is not None else '-'}"
           + (f", left {pupil.left_on}" if pupil.left_on else "")]
    if p.placements:
        out.append("  classes: " + ", ".join(
            f"{year} {cls or '?'} (year {yg if yg is not None else '?'})"
            for year, cls, yg in p.placements))
    if not p.pieces:
        out.append("No pieces of writing yet.")
        return "\n".join(out)
    out.append(f"{len(p.pieces)} piece(s), {sum(x.scored for x in p.pieces)} scored.")
    if p.criteria:
        heads = [short_name(cid, name) for cid, name in p.criteria.items()]
        out.append("")
        out.append(f"{'half term':<18} {'genre':<11} {'words':>5}  " +
                   " ".join(f"{h:>6}" for h in heads))
        for x in p.pieces:
            cells = [level_cell(x.levels[c]) if c in x.levels else "-" for c in p.criteria]
            out.append(f"{x.half_term:<18} {x.genre:<11} {x.words:>5}  " +
                       " ".join(f"{c:>6}" for c in cells))
        out.append("  (" + ", ".join(f"{short_name(c, n)} = {n}" for c, n in p.criteria.items())
                   + "; levels 1-5, '-' not scored" + (
                       "; * stale: given on an earlier text, score again"
                       if any(lv.stale for x in p.pieces for lv in x.levels.values()) else "")
                   + ")")
    for x in p.pieces:
        out.append("")
        out.append(f"--- piece {x.piece_id}: {x.half_term_label}, {x.genre}, class "
                   f"{x.class_name or '?'}, {len(x.pages)} page(s), {x.words} words, "
                   f"{x.status.replace('_', ' ')} ---")
        out.append(x.text if x.text.strip() else "(no text)")
    return "\n".join(out)
