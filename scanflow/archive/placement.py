"""Where a pupil was placed (class and year group) in any half term, and the yearly rollover.

A pupil's class and year group change every September and sometimes in between; their
writing from earlier years must stay with the class they were in *then*. Every change is
a row of ``pupil_history`` (written by the roster import and by :func:`rollover`), and
:func:`placement_at` reads the row in force at the start of a half term:

* the latest row whose ``changed_at`` is on or before the half term's first day
  (:data:`HALF_TERM_STARTS`);
* a half term before any row (pieces from before the class list was first imported):
  the first row, its year group moved back by the years between; the class is kept only
  within the same academic year, else it is unknown (``None``) rather than guessed.

A rollover's rows are dated 1 September of the new year whenever it is run (in July
or late in September), so pieces of the summer stay with the old class and pieces of
the autumn go with the new one. The same date makes
:func:`scanflow.scoring.scores.year_group_for_piece` shift year groups correctly.

>>> report = rollover(archive, "2027-28")                   # doctest: +SKIP
>>> report.moved, report.left                               # doctest: +SKIP
(642, 58)
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from scanflow.archive.store import Archive, now
from scanflow.archive.terms import HalfTerm
from scanflow.errors import InputFileError, UsageError

# First day of each half term, as (month, day) and whether it falls in the second
# calendar year of the academic year. English terms; a few days either way do not
# matter, since a class changes at most a couple of times a year.
HALF_TERM_STARTS = {
    ("autumn", 1): (9, 1, 0), ("autumn", 2): (11, 1, 0),
    ("spring", 1): (1, 1, 1), ("spring", 2): (2, 20, 1),
    ("summer", 1): (4, 15, 1), ("summer", 2): (6, 1, 1),
}
TOP_YEAR = 6  # the last year group of a primary school: they leave at rollover


def half_term_start(half_term: str | HalfTerm) -> dt.date:
    """The first day of a half term.

    >>> half_term_start("2026-27-spring-1")
    datetime.date(2027, 1, 1)
    """
    ht = half_term if isinstance(half_term, HalfTerm) else HalfTerm.parse(half_term)
    month, day, later = HALF_TERM_STARTS[(ht.season, ht.part)]
    return dt.date(ht.start_year + later, month, day)


def academic_start(date: dt.date) -> int:
    """The calendar year in which the academic year holding ``date`` began."""
    return date.year if date.month >= 9 else date.year - 1


def parse_academic_year(text: str) -> int:
    """``"2027-28"`` -> 2027, with a message a person can act on.

    >>> parse_academic_year("2027-28")
    2027
    """
    m = re.fullmatch(r"\s*(\d{4})\s*[-/]\s*(\d{2})\s*", text or "")
    if not m or (int(m[1]) + 1) % 100 != int(m[2]):
        raise UsageError(f"'{text}' is not an academic year.",
                         hint="Write it as YYYY-YY, for example 2027-28.")
    return int(m[1])


@dataclass(frozen=True)
class Placement:
    class_name: str | None
    year_group: int | None


class _Row(NamedTuple):  # a tuple: a whole school's history is loaded per class grid
    changed_at: str
    class_name: str | None
    year_group: int | None


class Placements:
    """Every pupil's placement history, loaded once, answering "where was X in term T?".

    One query for the whole school (a few thousand rows), so a class grid or a search
    filter costs no query per pupil.
    """

    def __init__(self, archive: Archive, pupil_ids: list[str] | None = None):
        where, params = "", []
        if pupil_ids is not None:
            where = " WHERE pupil_id IN (SELECT value FROM json_each(?))"
            params = [_json(pupil_ids)]
        self.current: dict[str, Placement] = {}
        self.left_on: dict[str, str | None] = {}
        for pid, cls, year, left in archive.db.execute(
                "SELECT pupil_id, class_name, year_group, left_on FROM pupils" + where, params):
            self.current[pid] = Placement(cls, year)
            self.left_on[pid] = left
        self.history: dict[str, list[_Row]] = {}
        self._terms: dict[str, tuple[HalfTerm, str]] = {}
        self._in_term: dict[str, dict[str, Placement]] = {}
        for pid, at, cls, year in archive.db.execute(
                "SELECT pupil_id, changed_at, class_name, year_group FROM pupil_history"
                + where + " ORDER BY pupil_id, changed_at, id", params):
            self.history.setdefault(pid, []).append(_Row(at, cls, year))

    @classmethod
    def of_school(cls, archive: Archive) -> "Placements":
        """Every pupil's placements, kept with ``archive``'s connection and loaded again
        only once something in the archive changed: a class grid then no longer reads and
        parses the school's whole history (4,000 rows, 20 ms) on every request."""
        mark = archive.change_mark()
        kept = archive.loaded.get("placements")
        if kept is None or kept[0] != mark:
            kept = archive.loaded["placements"] = (mark, cls(archive))
        return kept[1]

    def at(self, pupil_id: str, half_term: str | HalfTerm) -> Placement:
        """The pupil's class and year group at the start of ``half_term``."""
        known = self._in_term.get(str(half_term))
        if known is not None and pupil_id in known:
            return known[pupil_id]
        return self._at(pupil_id, half_term)

    def in_term(self, half_term: str | HalfTerm) -> dict[str, Placement]:
        """Every pupil's placement in ``half_term``, worked out once per half term."""
        key = str(half_term)
        if key not in self._in_term:
            self._in_term[key] = {pid: self._at(pid, half_term) for pid in self.current}
        return self._in_term[key]

    def _at(self, pupil_id: str, half_term: str | HalfTerm) -> Placement:
        rows = self.history.get(pupil_id)
        if not rows:  # pupils added without a history row: their record as it stands
            return self.current.get(pupil_id, Placement(None, None))
        # A class grid asks this for every pupil of the school: parse each term once.
        ht, start = self._term(half_term)
        for row in reversed(rows):  # the latest row in force
            if row.changed_at[:10] <= start:
                return Placement(row.class_name, row.year_group)
        first = rows[0]
        first_year = academic_start(dt.date.fromisoformat(first.changed_at[:10]))
        year = None if first.year_group is None else \
            max(0, first.year_group + ht.start_year - first_year)
        return Placement(first.class_name if first_year == ht.start_year else None, year)

    def _term(self, half_term: str | HalfTerm) -> tuple[HalfTerm, str]:
        key = str(half_term)
        if key not in self._terms:
            ht = half_term if isinstance(half_term, HalfTerm) else HalfTerm.parse(half_term)
            self._terms[key] = (ht, half_term_start(ht).isoformat())
        return self._terms[key]

    def pupils_in_class(self, class_name: str, half_term: str | HalfTerm) -> list[str]:
        return [pid for pid, p in self.in_term(half_term).items() if p.class_name == class_name]

    def pupils_in_year(self, year_group: int, half_term: str | HalfTerm) -> list[str]:
        return [pid for pid, p in self.in_term(half_term).items() if p.year_group == year_group]

    def classes_in(self, half_term: str | HalfTerm) -> list[str]:
        return sorted({p.class_name for p in self.in_term(half_term).values() if p.class_name},
                      key=_class_key)

    def years_in(self, half_term: str | HalfTerm) -> list[int]:
        """The year groups that had pupils in ``half_term``, youngest first."""
        return sorted({p.year_group for p in self.in_term(half_term).values()
                       if p.year_group is not None})


def _class_key(name: str) -> tuple:
    m = re.match(r"\D*(\d+)", name)
    return (int(m[1]) if m else 99, name)


def _json(values) -> str:
    import json

    return json.dumps(list(values))


# --- the yearly rollover ---------------------------------------------------------------


@dataclass
class RolloverReport:
    academic_year: str
    moved: int = 0
    left: list[str] = field(default_factory=list)  # pupil ids marked as left
    classes: dict[str, str] = field(default_factory=dict)  # old class -> new class
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (pupil id, reason)
    dry_run: bool = False


def read_class_map(path: str | Path) -> dict[str, str]:
    """A CSV with columns ``from,to``: each old class and the class it becomes."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError("class map not found.", path=str(path),
                             hint="Give a CSV with the columns from,to (e.g. Robins,Owls).")
    mapping: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        headers = [h.strip().lower() for h in reader.fieldnames or []]
        if not {"from", "to"} <= set(headers):
            raise InputFileError("the class map needs the columns from,to.", path=str(path),
                                 hint=f"Its header is: {','.join(reader.fieldnames or [])}")
        for line, row in enumerate(reader, start=2):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            if not row["from"]:
                continue
            if row["from"] in mapping:
                raise InputFileError(f"line {line}: class {row['from']} is listed twice.",
                                     path=str(path), hint="Keep one line per old class.")
            mapping[row["from"]] = row["to"]
    return mapping


def next_class_name(class_name: str, year_group: int) -> str | None:
    """The class a class becomes next year when its name carries the year: 3A -> 4A.

    >>> next_class_name("3A", 3), next_class_name("Y5 Oak", 5), next_class_name("Robins", 2)
    ('4A', 'Y6 Oak', None)
    """
    pattern = re.compile(rf"(?<!\d){year_group}(?!\d)")
    if len(pattern.findall(class_name)) != 1:
        return None
    return pattern.sub(str(year_group + 1), class_name)


def rollover(archive: Archive, to_year: str, *, class_map: dict[str, str] | None = None,
             left_on: str | None = None, top_year: int = TOP_YEAR, dry_run: bool = False,
             actor: str | None = None) -> RolloverReport:
    """Move every pupil on roll up a year group into next year's class.

    Pupils in ``top_year`` (Year 6) are marked as having left on ``left_on`` (default:
    31 August before the new year). Each class becomes the class ``class_map`` names,
    else the same name with the year changed (3A -> 4A); a class that can be mapped
    neither way stops the rollover before anything changes, naming the class. Their
    history (and every piece, with the class it was written in) is kept.
    """
    start = parse_academic_year(to_year)
    label = f"{start}-{(start + 1) % 100:02d}"
    done = archive.setting("rollover.last")
    if done and parse_academic_year(done) >= start and not dry_run:
        raise UsageError(f"The archive has already been rolled over to {done}.",
                         hint="Each year is rolled over once. Change single pupils by "
                              "importing the class list again: scanflow roster import FILE.csv")
    leave_date = left_on or f"{start}-08-31"
    try:
        dt.date.fromisoformat(leave_date)
    except ValueError:
        raise UsageError(f"'{leave_date}' is not a date.",
                         hint="Write it as YYYY-MM-DD, e.g. 2027-07-23.") from None
    class_map = dict(class_map or {})
    report = RolloverReport(academic_year=label, dry_run=dry_run)
    pupils = archive.db.execute(
        "SELECT pupil_id, class_name, year_group FROM pupils WHERE left_on IS NULL "
        "ORDER BY class_name, pupil_id").fetchall()
    plan: list[tuple[str, str | None, int]] = []
    unmapped: dict[str, int] = {}
    for pupil_id, class_name, year in pupils:
        if year is None:
            report.skipped.append((pupil_id, "no year group in the class list"))
            continue
        if year >= top_year:
            report.left.append(pupil_id)
            continue
        new_class = None
        if class_name:
            new_class = class_map.get(class_name) or next_class_name(class_name, year)
            if new_class is None:
                unmapped[class_name] = unmapped.get(class_name, 0) + 1
                continue
            report.classes[class_name] = new_class
        plan.append((pupil_id, new_class, year + 1))
    if unmapped:
        names = ", ".join(f"{c} ({n} pupils)" for c, n in sorted(unmapped.items()))
        raise UsageError(
            f"Next year's class is unknown for {names}: the name does not contain the year "
            "group.", hint="Give a class map: --class-map FILE.csv with the columns from,to "
                           "(one line per class, e.g. Robins,Owls). Nothing was changed.")
    report.moved = len(plan)
    if dry_run:
        return report
    # Dated 1 September of the new year: see the module docstring.
    effective = f"{start}-09-01T00:00:00+00:00"
    stamp = now()
    with archive.transaction() as db:
        for pupil_id, new_class, new_year in plan:
            db.execute("UPDATE pupils SET class_name = ?, year_group = ?, updated_at = ? "
                       "WHERE pupil_id = ?", [new_class, new_year, stamp, pupil_id])
            db.execute("INSERT INTO pupil_history (pupil_id, class_name, year_group, changed_at) "
                       "VALUES (?, ?, ?, ?)", [pupil_id, new_class, new_year, effective])
        for pupil_id in report.left:
            db.execute("UPDATE pupils SET left_on = ?, updated_at = ? WHERE pupil_id = ?",
                       [leave_date, stamp, pupil_id])
            archive.log_event("pupil.left", pupil_id, left_on=leave_date, reason="rollover")
        db["settings"].upsert({"key": "rollover.last", "value": label}, pk="key")
        archive.log_event("roster.rollover", label, actor=actor, moved=report.moved,
                          left=len(report.left), skipped=len(report.skipped))
    return report
