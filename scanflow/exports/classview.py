"""A class (or a whole year group) in one half term: levels, spread, length, change.

For a class and half term, :func:`class_view` gives

* a grid: one row per pupil who was in the class *then* (:mod:`scanflow.archive.placement`),
  one column per rubric criterion, the pupil's current level in each;
* the distribution of levels per criterion (how many at 1, 2, ... 5) and the mean;
* the pupils whose piece is shorter than the year band's minimum length (the rubric's
  "Text = N+ words" at Level 3, :func:`scanflow.scoring.rubric.length_minimum`);
* the change since the previous assessed half term (the latest earlier half term in
  which these pupils have scored pieces), per pupil and as a mean per criterion;
* who has no piece, and whose piece is not scored yet.

:func:`year_view` does the same across every class of a year group, with a summary row
per class, for the assessment lead.

>>> v = class_view(archive, "3A", "2026-27-spring-1")           # doctest: +SKIP
>>> v.distribution["spelling"]                                   # doctest: +SKIP
{1: 2, 2: 9, 3: 14, 4: 3, 5: 0}
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from scanflow.archive.placement import Placements
from scanflow.archive.store import Archive
from scanflow.archive.terms import HalfTerm
from scanflow.errors import UsageError
from scanflow.exports.portfolio import count_words
from scanflow.scoring.levels import current_levels, ordered_criteria

LEVELS = (1, 2, 3, 4, 5)
LOOK_BACK = 6  # half terms searched for the previous assessment (one school year)


@dataclass
class GridRow:
    pupil_id: str
    name: str
    class_name: str | None
    piece_id: int | None = None
    genre: str | None = None
    words: int | None = None
    min_words: int | None = None
    levels: dict[str, int] = field(default_factory=dict)
    previous: dict[str, int] = field(default_factory=dict)  # levels at the previous term
    stale: list[str] = field(default_factory=list)  # criteria scored on an earlier text

    @property
    def below_minimum(self) -> bool:
        return self.words is not None and self.min_words is not None and \
            self.words < self.min_words

    @functools.cached_property
    def change(self) -> dict[str, int]:
        # Cached: the grid template asks for it per cell and per summary; the row is
        # complete (levels and previous set) before it leaves class_view/year_view.
        return {c: lv - self.previous[c] for c, lv in self.levels.items() if c in self.previous}


@dataclass
class ClassSummary:
    class_name: str
    pupils: int
    pieces: int
    scored: int
    below_minimum: int
    mean: dict[str, float]


@dataclass
class GroupView:
    title: str
    half_term: str
    previous_half_term: str | None
    year_groups: list[int]
    band: str | None  # the rubric band's label, e.g. "Year 4"
    min_words: int | None
    length_rule: str | None  # how min_words was decided (scanflow.scoring.rubric)
    criteria: dict[str, str]
    rows: list[GridRow]
    classes: list[ClassSummary] = field(default_factory=list)  # year view only

    @property
    def distribution(self) -> dict[str, dict[int, int]]:
        out = {}
        for cid in self.criteria:
            counts = Counter(r.levels[cid] for r in self.rows if cid in r.levels)
            out[cid] = {lv: counts.get(lv, 0) for lv in LEVELS}
        return out

    @property
    def mean(self) -> dict[str, float | None]:
        return {cid: _mean([r.levels[cid] for r in self.rows if cid in r.levels])
                for cid in self.criteria}

    @property
    def mean_change(self) -> dict[str, float | None]:
        return {cid: _mean([r.change[cid] for r in self.rows if cid in r.change])
                for cid in self.criteria}

    @property
    def below_minimum(self) -> list[GridRow]:
        return [r for r in self.rows if r.below_minimum]

    @property
    def without_piece(self) -> list[GridRow]:
        return [r for r in self.rows if r.piece_id is None]

    @property
    def unscored(self) -> list[GridRow]:
        return [r for r in self.rows if r.piece_id is not None and not r.levels]


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def class_view(archive: Archive, class_name: str, half_term: str, *,
               genre: str | None = None, rubric_dir: str | Path | None = None,
               placements: Placements | None = None) -> GroupView:
    """The grid for the pupils who were in ``class_name`` in ``half_term``.

    ``placements``: the school's placements if the caller has loaded them already (the
    review app does, for its list of classes).
    """
    ht = HalfTerm.parse(half_term)
    placements = placements or Placements.of_school(archive)
    pupils = placements.pupils_in_class(class_name, ht)
    if not pupils:
        known = ", ".join(placements.classes_in(ht)) or "none"
        raise UsageError(f"No pupils were in class '{class_name}' in {ht.label}.",
                         hint=f"Classes then: {known}.")
    return _view(archive, f"Class {class_name}", ht, pupils, placements, genre, rubric_dir)


def year_view(archive: Archive, year_group: int, half_term: str, *,
              genre: str | None = None, rubric_dir: str | Path | None = None,
              placements: Placements | None = None) -> GroupView:
    """Every class of a year group in ``half_term``, with a summary per class
    (``placements``: the school's, if the caller has loaded them already)."""
    ht = HalfTerm.parse(half_term)
    placements = placements or Placements.of_school(archive)
    pupils = placements.pupils_in_year(year_group, ht)
    if not pupils:
        raise UsageError(f"No pupils were in year {year_group} in {ht.label}.",
                         hint="Check the year group and the half term (e.g. 2026-27-autumn-1).")
    view = _view(archive, f"Year {year_group}", ht, pupils, placements, genre, rubric_dir)
    by_class: dict[str, list[GridRow]] = {}
    for row in view.rows:
        by_class.setdefault(row.class_name or "-", []).append(row)
    from scanflow.archive.placement import _class_key

    for name in sorted(by_class, key=_class_key):
        rows = by_class[name]
        view.classes.append(ClassSummary(
            class_name=name, pupils=len(rows), pieces=sum(r.piece_id is not None for r in rows),
            scored=sum(bool(r.levels) for r in rows),
            below_minimum=sum(r.below_minimum for r in rows),
            mean={cid: _mean([r.levels[cid] for r in rows if cid in r.levels])
                  for cid in view.criteria}))
    return view


def _view(archive: Archive, title: str, ht: HalfTerm, pupil_ids: list[str],
          placements: Placements, genre: str | None,
          rubric_dir: str | Path | None) -> GroupView:
    db = archive.db
    ids = json.dumps(pupil_ids)
    names = {pid: name for pid, name in db.execute(
        "SELECT pupil_id, COALESCE(preferred_name, first_name) || ' ' || surname FROM pupils "
        "WHERE pupil_id IN (SELECT value FROM json_each(?))", [ids])}
    earliest = HalfTerm.parse(str(ht))
    terms = [str(ht)]
    for _ in range(LOOK_BACK):
        earliest = earliest.previous()
        terms.append(str(earliest))
    # Texts are read below for the half term's chosen pieces only, not for the six
    # half terms before it looked back on (a seventh of the text).
    sql = ("SELECT pieces.id, pieces.pupil_id, pieces.half_term, pieces.genre, pieces.version "
           "FROM pieces WHERE pieces.pupil_id IN (SELECT value FROM json_each(?)) "
           "AND pieces.half_term IN (SELECT value FROM json_each(?)) "
           "AND pieces.status != 'discarded'")
    params = [ids, json.dumps(terms)]
    if genre:
        sql += " AND pieces.genre = ?"
        params.append(genre)
    pieces = db.execute(sql, params).fetchall()
    scored = {r[0] for r in db.execute(
        "SELECT DISTINCT piece_id FROM scores WHERE piece_id IN (SELECT value FROM json_each(?))",
        [json.dumps([p[0] for p in pieces])])}
    # One piece per pupil and half term: the scored one, else the latest version.
    chosen: dict[tuple[str, str], tuple] = {}
    for piece in sorted(pieces, key=lambda p: (p[0] in scored, p[4], p[0])):
        chosen[(piece[1], piece[2])] = piece
    previous_term = next((t for t in terms[1:] if any(
        key[1] == t and p[0] in scored for key, p in chosen.items())), None)
    # Levels only of the pieces shown: this half term's and the previous assessed one's.
    levels = current_levels(archive, [p[0] for (_, t), p in chosen.items()
                                      if t in (str(ht), previous_term)])

    years = Counter(y for pid in pupil_ids
                    if (y := placements.at(pid, ht).year_group) is not None)
    year_groups = sorted(years)
    main_year = years.most_common(1)[0][0] if years else None
    band_label, min_words, length_rule = _length_rule(
        genre or _main_genre(chosen, str(ht), rubric_dir), main_year, rubric_dir)
    texts = dict(db.execute(
        "SELECT piece_id, text FROM piece_texts WHERE piece_id IN "
        "(SELECT value FROM json_each(?))",
        [json.dumps([p[0] for (_, term), p in chosen.items() if term == str(ht)])]))
    rules: dict[tuple[str, int | None], int | None] = {}
    rows = []
    for pid in pupil_ids:
        row = GridRow(pupil_id=pid, name=names.get(pid, pid),
                      class_name=placements.at(pid, ht).class_name)
        piece = chosen.get((pid, str(ht)))
        if piece:
            row.piece_id, row.genre = piece[0], piece[3]
            row.words = count_words(texts.get(piece[0]) or "")
            key = (piece[3], placements.at(pid, ht).year_group)
            if key not in rules:  # the minimum of the piece's own genre and year
                rules[key] = _length_rule(key[0], key[1], rubric_dir)[1]
            row.min_words = rules[key]
            row.levels = {c: lv.level for c, lv in levels.get(piece[0], {}).items()}
            row.stale = sorted(c for c, lv in levels.get(piece[0], {}).items() if lv.stale)
        before = chosen.get((pid, previous_term)) if previous_term else None
        if before:
            row.previous = {c: lv.level for c, lv in levels.get(before[0], {}).items()}
        rows.append(row)
    rows.sort(key=lambda r: (r.class_name or "", r.name.split(" ")[-1], r.name))
    criteria = ordered_criteria([levels.get(p[0], {}) for p in chosen.values()],
                                {p[3] for p in chosen.values()} or {genre or "narrative"},
                                rubric_dir, every_rubric_criterion=True)
    return GroupView(title=title, half_term=str(ht), previous_half_term=previous_term,
                     year_groups=year_groups, band=band_label, min_words=min_words,
                     length_rule=length_rule,
                     criteria=criteria, rows=rows)


def _main_genre(chosen: dict, term: str, rubric_dir: str | Path | None) -> str:
    """The genre most pieces of the half term have, among those with a rubric."""
    from scanflow.scoring.levels import rubric_criteria

    genres = Counter(p[3] for (pid, t), p in chosen.items() if t == term)
    for genre, _n in genres.most_common():
        if rubric_criteria(genre, rubric_dir):
            return genre
    return "narrative"


def _length_rule(genre: str, year_group: int | None,
                 rubric_dir: str | Path | None) -> tuple[str | None, int | None, str | None]:
    """The band label, its minimum length (the nearest younger band's if missing) and the
    words that say so."""
    if year_group is None:
        return None, None, None
    from scanflow.errors import ScanflowError
    from scanflow.scoring.levels import rubric_for
    from scanflow.scoring.rubric import band_for_year, describe_length_minimum, length_minimum

    rubric = rubric_for(genre, rubric_dir)
    if rubric is None:
        return None, None, None
    try:
        band = band_for_year(rubric, year_group)
    except ScanflowError:
        return None, None, None
    return (band.label, length_minimum(rubric, band)[0],
            describe_length_minimum(rubric, band))


def format_view(view: GroupView) -> str:
    """The text ``scanflow grid`` prints."""
    from scanflow.scoring.levels import short_name

    ht = HalfTerm.parse(view.half_term)
    heads = {cid: short_name(cid, name) for cid, name in view.criteria.items()}
    out = [f"{view.title}, {ht.label}: {len(view.rows)} pupils, "
           f"{sum(r.piece_id is not None for r in view.rows)} pieces, "
           f"{sum(bool(r.levels) for r in view.rows)} scored"
           + (f"; band {view.band}, {view.length_rule}" if view.band and view.length_rule
              else f"; band {view.band}" if view.band else "")]
    prev = f" (change since {view.previous_half_term})" if view.previous_half_term else ""
    out.append("")
    out.append(f"{'pupil':<24} {'class':<6} {'words':>5}  " +
               " ".join(f"{h:>7}" for h in heads.values()) + prev)
    for r in view.rows:
        cells = []
        for cid in view.criteria:
            if cid not in r.levels:
                cells.append("-")
            else:
                d = r.change.get(cid)
                cells.append(f"{r.levels[cid]}" + (f"({d:+d})" if d is not None else ""))
        words = "-" if r.words is None else f"{r.words}{'*' if r.below_minimum else ''}"
        out.append(f"{r.name[:24]:<24} {r.class_name or '-':<6} {words:>5}  " +
                   " ".join(f"{c:>7}" for c in cells))
    out.append("")
    out.append("Levels 1-5 per criterion:")
    for cid, counts in view.distribution.items():
        mean = view.mean[cid]
        change = view.mean_change[cid]
        out.append(f"  {view.criteria[cid]:<22} " + "  ".join(f"{lv}:{n:>3}" for lv, n in
                                                             counts.items())
                   + (f"   mean {mean:.2f}" if mean is not None else "   mean -")
                   + (f" ({change:+.2f})" if change is not None else ""))
    for c in view.classes:
        out.append(f"  class {c.class_name:<6} {c.pupils} pupils, {c.scored} scored, "
                   f"{c.below_minimum} below minimum; mean " + " ".join(
                       f"{heads[cid]} {m:.1f}" for cid, m in c.mean.items() if m is not None))
    if view.below_minimum:
        out.append(f"Below the minimum length of {view.min_words} words (*): " + ", ".join(
            f"{r.name} ({r.words})" for r in view.below_minimum))
    if view.without_piece:
        out.append("No piece this half term: " + ", ".join(r.name for r in view.without_piece))
    if view.unscored:
        out.append("Not scored yet: " + ", ".join(f"{r.name} (scanflow score {r.piece_id})"
                                                  for r in view.unscored))
    return "\n".join(out)
