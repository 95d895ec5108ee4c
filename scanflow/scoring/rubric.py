"""A school's writing rubric as data: its bands, criteria and levels, and the band for a year.

Rubrics live in YAML files (one per genre, ``rubrics/narrative.yaml``) that teachers may
edit; :mod:`scanflow.scoring.rubric_file` reads and checks them and ``rubrics/README.md``
describes the format. Two rules shape this module:

* **Never guess wording.** Text the school's document lacks is written in the file as a
  marker, ``{missing: true, note: ...}``. It loads as ``None`` and is reported as a *gap*,
  which is not an error: the rubric stays usable for everything that is there.
* **Scores record what they were scored against.** :func:`content_hash` fingerprints the
  rubric's content; a score stores it next to ``rubric.version``.

>>> from scanflow.scoring.rubric_file import load_rubric
>>> rubric = load_rubric("rubrics/narrative.yaml")            # doctest: +SKIP
>>> band_for_year(rubric, 4).criterion("punctuation").levels[3]  # doctest: +SKIP
'Uses correct spacing most of the time. ...'
"""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanflow.errors import UsageError

__all__ = [
    "Band",
    "Criterion",
    "Gap",
    "Level",
    "Problem",
    "Rubric",
    "band_for_year",
    "content_hash",
    "format_band",
    "format_overview",
    "parse_year_group",
    "summarize_problems",
]

SEVERITIES = ("error", "warning", "gap")
LEVEL_NUMBERS = (1, 2, 3, 4, 5)
MAX_YEAR_GROUP = 13
RUBRIC_SUFFIXES = (".yaml", ".yml")



# --------------------------------------------------------------------------------------
# The data
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """One step of the achievement scale: ``Level(3, "C", "Sound")``."""

    number: int
    letter: str
    label: str

    def __str__(self) -> str:
        return f"Level {self.number} ({self.letter}, {self.label})"


@dataclass(frozen=True)
class Gap:
    """A place the rubric file marks as missing (the school's document has no text there).

    ``criterion`` is None for band-wide values (``min_words``); ``field`` is None when a
    whole criterion is missing, else ``"min_words"``, ``"statement"``, ``"outcomes"`` or
    ``"levels.N"``.
    """

    band: str
    criterion: str | None
    field: str | None
    note: str
    line: int = 0

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        return (self.band, self.criterion, self.field)

    @property
    def where(self) -> str:
        return " / ".join(part for part in self.key if part)


@dataclass(frozen=True)
class Problem:
    """Something :func:`check_rubric` found. ``severity`` is 'error', 'warning' or 'gap'."""

    path: str
    line: int
    severity: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"


@dataclass
class Criterion:
    """One criterion of one band. ``levels[n]`` is None where the text is marked missing."""

    id: str
    name: str
    outcomes: list[str] = field(default_factory=list)
    statement: str | None = None
    levels: dict[int, str | None] = field(default_factory=dict)
    organisers: list[str] = field(default_factory=list)
    footnote: str | None = None  # printed under the criterion, e.g. "*Do not penalise ..."
    missing: bool = False  # the whole criterion is absent from the school's document
    missing_note: str | None = None
    line: int = 0

    def descriptor(self, level: int) -> str | None:
        return self.levels.get(level)

    @property
    def complete(self) -> bool:
        """True when the statement and all five descriptors are present."""
        return (
            not self.missing
            and self.statement is not None
            and all(self.levels.get(n) for n in LEVEL_NUMBERS)
        )


@dataclass
class Band:
    """The rubric for one year group (or several): its word count and criteria."""

    id: str
    label: str
    year_groups: tuple[int, ...]
    min_words: int | None  # None when marked missing
    criteria: list[Criterion]
    and_above: bool = False  # also covers every year after max(year_groups)
    line: int = 0

    def covers(self, year_group: int) -> bool:
        if year_group in self.year_groups:
            return True
        return self.and_above and year_group > max(self.year_groups)

    def criterion(self, criterion_id: str) -> Criterion:
        for crit in self.criteria:
            if crit.id == criterion_id:
                return crit
        known = ", ".join(c.id for c in self.criteria)
        raise UsageError(
            f"band '{self.id}' has no criterion '{criterion_id}'.", hint=f"Known criteria: {known}."
        )


@dataclass
class Rubric:
    id: str
    genre: str
    title: str
    version: int | str
    levels: dict[int, Level]
    criteria: dict[str, str]  # criterion id -> display name, in display order
    bands: list[Band]
    gaps: list[Gap] = field(default_factory=list)  # every place marked missing
    source: str | None = None
    path: Path | None = None

    def band(self, band_id: str) -> Band:
        for band in self.bands:
            if band.id == band_id:
                return band
        known = ", ".join(b.id for b in self.bands)
        raise UsageError(
            f"rubric '{self.id}' has no band '{band_id}'.", hint=f"Known bands: {known}."
        )

    def to_dict(self) -> dict[str, Any]:
        """The rubric's content as plain data, in a canonical order.

        Holds everything a scorer sees. Leaves out ``version``, ``source``, the ``gaps:``
        summary list, comments and formatting: these are not content.
        """

        def value(v: Any, note: str | None) -> Any:
            return {"missing": True, "note": note or ""} if v is None else v

        bands = []
        for band in sorted(self.bands, key=lambda b: min(b.year_groups)):
            gaps = {g.key: g.note for g in self.gaps if g.band == band.id}
            crits = []
            for crit in band.criteria:
                if crit.missing:
                    crits.append({"id": crit.id, "missing": True, "note": crit.missing_note or ""})
                    continue
                crits.append(
                    {
                        "id": crit.id,
                        "outcomes": value(
                            crit.outcomes if (band.id, crit.id, "outcomes") not in gaps else None,
                            gaps.get((band.id, crit.id, "outcomes")),
                        ),
                        "organisers": list(crit.organisers),
                        "footnote": crit.footnote,
                        "statement": value(
                            crit.statement, gaps.get((band.id, crit.id, "statement"))
                        ),
                        "levels": {
                            str(n): value(
                                crit.levels.get(n), gaps.get((band.id, crit.id, f"levels.{n}"))
                            )
                            for n in sorted(crit.levels)
                        },
                    }
                )
            bands.append(
                {
                    "id": band.id,
                    "label": band.label,
                    "year_groups": sorted(band.year_groups),
                    "and_above": band.and_above,
                    "min_words": value(band.min_words, gaps.get((band.id, None, "min_words"))),
                    "criteria": crits,
                }
            )
        return {
            "id": self.id,
            "genre": self.genre,
            "title": self.title,
            "levels": {
                str(n): {"letter": lv.letter, "label": lv.label}
                for n, lv in sorted(self.levels.items())
            },
            "criteria": [{"id": cid, "name": name} for cid, name in self.criteria.items()],
            "bands": bands,
        }


# --------------------------------------------------------------------------------------
# Finding rubrics, bands and provenance
# --------------------------------------------------------------------------------------


def content_hash(rubric: Rubric) -> str:
    """sha256 (hex) of the rubric's canonical content (see :meth:`Rubric.to_dict`).

    Changes when any wording, word count, band or marker changes; does not change for
    comments, re-wrapped text blocks, the order of keys or the version number. A score
    stores it together with ``rubric.version``.
    """
    canonical = json.dumps(
        rubric.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def band_for_year(rubric: Rubric, year_group: int) -> Band:
    """The band covering ``year_group`` (Kindergarten is 0)."""
    if not isinstance(year_group, int) or isinstance(year_group, bool):
        raise UsageError(
            f"year group must be a whole number (Kindergarten is 0), not {year_group!r}."
        )
    for band in rubric.bands:
        if band.covers(year_group):
            return band
    covered = ", ".join(
        f"{b.label} ({'+'.join(map(str, b.year_groups))}{' and above' if b.and_above else ''})"
        for b in rubric.bands
    )
    where = rubric.path or rubric.id
    raise UsageError(
        f"{where}: no band covers year group {year_group}.",
        hint=f"Bands: {covered}. Add the year to a band's year_groups in the rubric file.",
    )


def parse_year_group(text: str | int) -> int:
    """``"4"``, ``"Year 4"``, ``"Y4"`` -> 4; ``"K"``, ``"Kindergarten"`` -> 0."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    cleaned = str(text).strip().lower()
    if cleaned in ("k", "kindy", "kindergarten", "reception", "r"):
        return 0
    m = re.fullmatch(r"(?:year|yr|y)?\s*(\d{1,2})\+?", cleaned)
    if not m:
        raise UsageError(
            f"'{text}' is not a year group.",
            hint="Write a number such as 4, or K for Kindergarten.",
        )
    return int(m[1])


# --------------------------------------------------------------------------------------
# Text for people
# --------------------------------------------------------------------------------------


def _wrap(text: str, indent: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines += textwrap.wrap(
            paragraph,
            width=width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        ) or [indent]
    return lines


def length_minimum(rubric: Rubric, band: Band) -> tuple[int | None, Band | None]:
    """The minimum length to judge ``band`` against, and the band it comes from.

    The band's own ``min_words``; where the rubric marks it missing, the nearest younger
    band's (never a number the rubric does not have); None if no band has one.
    """
    if band.min_words is not None:
        return band.min_words, band
    younger = sorted((b for b in rubric.bands if b.min_words is not None and
                      max(b.year_groups) < min(band.year_groups)),
                     key=lambda b: max(b.year_groups))
    if younger:
        return younger[-1].min_words, younger[-1]
    return None, None


def describe_length_minimum(rubric: Rubric, band: Band) -> str:
    """The minimum length ``band`` is judged against, in the one wording every screen uses
    (``grid``, ``rubric show``, the review app), so none can contradict ``score``'s evidence."""
    minimum, source = length_minimum(rubric, band)
    if minimum is None or source is None:
        return (f"no minimum length: the rubric gives none for {band.label} or any younger "
                "band")
    if source is band:
        return f"minimum length {minimum} words"
    return (f"minimum length {minimum} words, {source.label}'s: the rubric gives none for "
            f"{band.label}")


def format_band(rubric: Rubric, band: Band, width: int = 88) -> str:
    """A band's criteria and descriptors, for reading in a terminal."""
    years = ", ".join("K" if y == 0 else str(y) for y in band.year_groups)
    if band.and_above:
        years += " and above"
    out = [f"{rubric.title} (version {rubric.version})", f"{band.label} (year group {years})"]
    if band.min_words is None:
        out.append("Minimum length (Level 3): missing in the school's document; scoring "
                   "and class grids use " + describe_length_minimum(rubric, band))
    else:
        out.append(f"Minimum length (Level 3): {band.min_words}+ words")
    for crit in band.criteria:
        out.append("")
        codes = f"  [{', '.join(crit.outcomes)}]" if crit.outcomes else ""
        out.append(f"{crit.name}{codes}")
        if crit.missing:
            out += _wrap(
                f"MISSING: {crit.missing_note or 'not in the school document.'}", "  ", width
            )
            continue
        out += _wrap(crit.statement or "(statement missing in the school's document)", "  ", width)
        for number in LEVEL_NUMBERS:
            level = rubric.levels[number]
            out.append(f"  {level}:")
            text = crit.levels.get(number)
            out += _wrap(
                text if text is not None else "(missing in the school's document)", "      ", width
            )
        if crit.footnote:
            out += _wrap(f"Note: {crit.footnote}", "  ", width)
    gaps = [g for g in rubric.gaps if g.band == band.id]
    if gaps:
        out.append("")
        out.append(
            f"{_plural(len(gaps), 'gap')} in this band (missing in the school's source document):"
        )
        for gap in gaps:
            out.append(f"  - {gap.where}")
    return "\n".join(out)


def format_overview(rubric: Rubric) -> str:
    """One line per band: years, word count, complete criteria, gaps."""
    out = [f"{rubric.title} (genre {rubric.genre}, version {rubric.version})"]
    for band in rubric.bands:
        years = "+".join("K" if y == 0 else str(y) for y in band.year_groups)
        if band.and_above:
            years += " and above"
        words = f"{band.min_words}+ words" if band.min_words is not None else "word count missing"
        complete = sum(1 for c in band.criteria if c.complete)
        gaps = sum(1 for g in rubric.gaps if g.band == band.id)
        out.append(
            f"  {band.id:<14} {band.label:<14} year {years:<12} {words:<20} "
            f"{complete}/{len(band.criteria)} criteria complete"
            + (f", {_plural(gaps, 'gap')}" if gaps else "")
        )
    out.append("Use --year N to see a band's descriptors.")
    return "\n".join(out)

def summarize_problems(path: str | Path, problems: list[Problem]) -> str:
    """``narrative.yaml: 0 errors, 10 gaps (missing in the school's source document)``"""
    counts = {sev: sum(1 for p in problems if p.severity == sev) for sev in SEVERITIES}
    parts = [_plural(counts["error"], "error")]
    if counts["warning"]:
        parts.append(_plural(counts["warning"], "warning"))
    parts.append(_plural(counts["gap"], "gap") + " (missing in the school's source document)")
    return f"{Path(path).name}: " + ", ".join(parts)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
