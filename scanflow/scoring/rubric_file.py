"""Reading a rubric file: load it, check it line by line, find the one for a genre.

Three rules shape this module:

* **Never guess wording.** A gap in the school's document is written as a marker,
  ``{missing: true, note: ...}``; it loads as ``None`` and is reported as a *gap*, not an
  error.
* **Point at the line.** :func:`check_rubric` reads the file with ``yaml.compose`` so that
  every :class:`~scanflow.scoring.rubric.Problem` carries the 1-based line a teacher has
  to fix.
* **One file per genre** in the rubric folder (normally ``rubrics/``).

>>> rubric = load_rubric("rubrics/narrative.yaml")            # doctest: +SKIP
>>> [p.line for p in check_rubric("rubrics/narrative.yaml") if p.severity == "gap"][:3]  # doctest: +SKIP
[41, 57, 88]
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from scanflow.errors import UsageError
from scanflow.scoring.rubric import (
    LEVEL_NUMBERS,
    MAX_YEAR_GROUP,
    RUBRIC_SUFFIXES,
    SEVERITIES,
    Band,
    Criterion,
    Gap,
    Level,
    Problem,
    Rubric,
)

__all__ = [
    "check_rubric",
    "default_rubric_dir",
    "find_rubrics",
    "load_rubric",
    "load_rubric_for_genre",
]

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_TOP_REQUIRED = ("id", "genre", "title", "version", "levels", "criteria", "bands")
_TOP_OPTIONAL = ("source", "gaps")
_BAND_REQUIRED = ("id", "label", "year_groups", "min_words", "criteria")
_BAND_OPTIONAL = ("and_above",)
_CRITERION_REQUIRED = ("id", "outcomes", "statement", "levels")
_CRITERION_OPTIONAL = ("organisers", "footnote")
_MARKER_HINT = "{missing: true, note: what is missing}"
_GAP_FIELDS = ("min_words", "statement", "outcomes") + tuple(f"levels.{n}" for n in LEVEL_NUMBERS)


# --------------------------------------------------------------------------------------
# Reading and checking
# --------------------------------------------------------------------------------------


def load_rubric(path: str | Path) -> Rubric:
    """Load a rubric file. Raises :class:`UsageError` if it has any error (gaps are fine)."""
    rubric, problems = _read(path)
    errors = [p for p in problems if p.severity == "error"]
    if rubric is None and not errors:  # pragma: no cover - every None comes with an error
        errors = [Problem(str(path), 1, "error", "the file could not be read as a rubric.")]
    if errors or rubric is None:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise UsageError(
            f"{path} is not a usable rubric: line {first.line}: {first.message}{more}",
            hint=f"Run `scanflow rubric check {path}` to list every problem with its line number.",
        )
    return rubric


def check_rubric(path: str | Path) -> list[Problem]:
    """Every problem in a rubric file, in line order: errors, warnings and gaps.

    Raises :class:`UsageError` only if the file cannot be read at all.
    """
    _rubric, problems = _read(path)
    return problems




def _read(path: str | Path) -> tuple[Rubric | None, list[Problem]]:
    path = Path(path)
    if not path.is_file():
        raise UsageError(
            f"rubric file {path} does not exist.",
            hint="Check the path. Rubrics are .yaml files in the rubrics/ folder, one per genre.",
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        return None, [
            Problem(str(path), line, "error", "the file is not UTF-8 text: save it as UTF-8.")
        ]
    except OSError as exc:
        raise UsageError(f"cannot read rubric file {path}: {exc.strerror}.") from exc
    return _Checker(str(path)).run(text)


class _Checker:
    """Walks the composed YAML node tree, collecting Problems and building a Rubric."""

    def __init__(self, path: str):
        self.path = path
        self.problems: list[Problem] = []
        self.gaps: list[Gap] = []
        self.year_lines: dict[str, int] = {}  # band id -> line of its year_groups

    # -- reporting -------------------------------------------------------------------

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, "error", message))

    def warning(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, "warning", message))

    # -- entry point -----------------------------------------------------------------

    def run(self, text: str) -> tuple[Rubric | None, list[Problem]]:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            self.error(*_syntax_message(exc))
            return None, self.problems
        except yaml.YAMLError as exc:  # pragma: no cover - PyYAML marks nearly everything
            self.error(1, f"YAML syntax: {exc}")
            return None, self.problems
        if root is None:
            self.error(1, "the file is empty: start from rubrics/narrative.yaml.")
            return None, self.problems

        rubric = self.rubric(root)
        for gap in self.gaps:
            self.problems.append(
                Problem(self.path, gap.line, "gap", f"{gap.where}: marked missing: {gap.note}")
            )
        order = {sev: i for i, sev in enumerate(SEVERITIES)}
        self.problems.sort(key=lambda p: (p.line, order[p.severity]))
        if any(p.severity == "error" for p in self.problems):
            return None, self.problems
        return rubric, self.problems

    # -- the file --------------------------------------------------------------------

    def rubric(self, root: Node) -> Rubric | None:
        top = self.fields(root, "the rubric file", _TOP_REQUIRED, _TOP_OPTIONAL)
        if top is None:
            return None
        rid = self.ident(top.get("id"), "id")
        genre = self.ident(top.get("genre"), "genre")
        title = self.text(top.get("title"), "title")
        version = self.version(top.get("version"))
        source = self.text(top["source"], "source") if "source" in top else None
        levels = self.scale(top.get("levels"))
        catalog = self.catalog(top.get("criteria"))
        bands = self.bands(top.get("bands"), catalog)
        if "gaps" in top:
            self.declared_gaps(top["gaps"], {b.id for b in bands}, catalog)
        elif self.gaps:
            self.warning(
                root.start_mark.line + 1,
                f"{len(self.gaps)} place(s) are marked missing but the file has no `gaps:` "
                "list: add one at the end listing each (band, criterion, what).",
            )
        if None in (rid, genre, title, version, levels, catalog):
            return None
        return Rubric(
            id=rid,
            genre=genre,
            title=title,
            version=version,
            levels=levels,
            criteria=catalog,
            bands=bands,
            gaps=list(self.gaps),
            source=source,
            path=Path(self.path),
        )

    def version(self, pair: tuple[Node, Node] | None) -> int | str | None:
        if pair is None:
            return None
        key, node = pair
        value = _construct(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, datetime.date):
            return value.isoformat()
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.error(
            _line(node),
            'version must be a whole number (1, 2, 3...) or a date such as "2025-03-01": '
            "bump it every time you change the rubric.",
        )
        return None

    def scale(self, pair: tuple[Node, Node] | None) -> dict[int, Level] | None:
        if pair is None:
            return None
        _key, node = pair
        entries = self.level_mapping(node, "levels (the achievement scale)", _line(_key))
        if entries is None:
            return None
        scale: dict[int, Level] = {}
        for number, (_knode, vnode) in entries.items():
            spec = self.fields(vnode, f"level {number}", ("letter", "label"), ())
            if spec is None:
                continue
            letter = self.text(spec.get("letter"), f"level {number} letter")
            label = self.text(spec.get("label"), f"level {number} label")
            if letter and label:
                scale[number] = Level(number, letter, label)
        return scale if len(scale) == len(LEVEL_NUMBERS) else None

    def catalog(self, pair: tuple[Node, Node] | None) -> dict[str, str] | None:
        if pair is None:
            return None
        _key, node = pair
        items = self.sequence(node, "criteria (the list of criteria at the top)")
        if items is None:
            return None
        catalog: dict[str, str] = {}
        lines: dict[str, int] = {}
        for item in items:
            spec = self.fields(
                item, "a criterion in the top-level criteria list", ("id", "name"), ()
            )
            if spec is None:
                continue
            cid = self.ident(spec.get("id"), "criterion id")
            name = self.text(spec.get("name"), "criterion name")
            if cid is None or name is None:
                continue
            if cid in catalog:
                self.error(
                    _line(item),
                    f"criterion id '{cid}' is listed twice (first at line {lines[cid]}): "
                    "delete one.",
                )
                continue
            catalog[cid], lines[cid] = name, _line(item)
        if not catalog:
            self.error(
                _line(node),
                "the top-level criteria list is empty: list each criterion's id and name.",
            )
            return None
        return catalog

    # -- bands -----------------------------------------------------------------------

    def bands(self, pair: tuple[Node, Node] | None, catalog: dict[str, str] | None) -> list[Band]:
        if pair is None:
            return []
        _key, node = pair
        items = self.sequence(node, "bands")
        if items is None:
            return []
        if not items:
            self.error(_line(node), "bands is empty: add one band per year group.")
        bands: list[Band] = []
        band_lines: dict[str, int] = {}
        year_owner: dict[int, tuple[str, int]] = {}
        for item in items:
            band = self.band(item, catalog)
            if band is None:
                continue
            if band.id in band_lines:
                self.error(
                    band.line,
                    f"band id '{band.id}' is used twice (first at line {band_lines[band.id]}): "
                    "give each band its own id.",
                )
                continue
            band_lines[band.id] = band.line
            for year in band.year_groups:
                if year in year_owner:
                    other, other_line = year_owner[year]
                    self.error(
                        self.year_lines.get(band.id, band.line),
                        f"band '{band.id}': year group {year} is also in band '{other}' "
                        f"(line {other_line}): each year group belongs to one band only.",
                    )
                else:
                    year_owner[year] = (band.id, band.line)
            bands.append(band)
        open_ended = [b for b in bands if b.and_above]
        if len(open_ended) > 1:
            self.error(
                open_ended[1].line,
                f"bands '{open_ended[0].id}' and '{open_ended[1].id}' both have and_above: true: "
                "only the band for the oldest pupils may.",
            )
        elif open_ended:
            top = open_ended[0]
            for year, (owner, _line_no) in sorted(year_owner.items()):
                if year > max(top.year_groups):
                    self.error(
                        self.year_lines.get(top.id, top.line),
                        f"band '{top.id}' has and_above: true, so it also covers year group "
                        f"{year}, which band '{owner}' has: remove and_above or that year.",
                    )
        return bands

    def band(self, node: Node, catalog: dict[str, str] | None) -> Band | None:
        spec = self.fields(node, "a band", _BAND_REQUIRED, _BAND_OPTIONAL)
        if spec is None:
            return None
        bid = self.ident(spec.get("id"), "band id")
        label = self.text(spec.get("label"), "band label")
        if bid is None:
            return None
        years = self.year_groups(spec.get("year_groups"), bid)
        and_above = False
        if "and_above" in spec:
            value = _construct(spec["and_above"][1])
            if isinstance(value, bool):
                and_above = value
            else:
                self.error(
                    _line(spec["and_above"][1]), f"band '{bid}': and_above must be true or false."
                )
        min_words = self.min_words(spec.get("min_words"), bid)
        criteria = self.band_criteria(spec.get("criteria"), bid, catalog, _line(node))
        return Band(
            id=bid,
            label=label or bid,
            year_groups=years,
            min_words=min_words,
            criteria=criteria,
            and_above=and_above,
            line=_line(node),
        )

    def year_groups(self, pair: tuple[Node, Node] | None, bid: str) -> tuple[int, ...]:
        if pair is None:
            return ()
        _key, node = pair
        self.year_lines[bid] = _line(node)
        hint = (
            f"band '{bid}': year_groups must be a list of whole numbers, "
            "e.g. [3] or [5, 6] (Kindergarten is 0)"
        )
        if not isinstance(node, SequenceNode) or not node.value:
            self.error(_line(node), hint + ".")
            return ()
        years: list[int] = []
        for item in node.value:
            value = _construct(item) if isinstance(item, ScalarNode) else None
            if not isinstance(value, int) or isinstance(value, bool):
                self.error(_line(item), f"{hint}; '{_show(item)}' is not a whole number.")
            elif not 0 <= value <= MAX_YEAR_GROUP:
                self.error(
                    _line(item),
                    f"band '{bid}': year group {value} is out of range (0 to {MAX_YEAR_GROUP}).",
                )
            elif value in years:
                self.error(_line(item), f"band '{bid}': year group {value} is listed twice.")
            else:
                years.append(value)
        return tuple(years)

    def min_words(self, pair: tuple[Node, Node] | None, bid: str) -> int | None:
        if pair is None:
            return None
        key, node = pair
        if _is_marker(node):
            self.marker(node, _line(key), Gap(bid, None, "min_words", ""))
            return None
        value = _construct(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        self.error(
            _line(node),
            f"band '{bid}': min_words must be a positive whole number "
            f"(the Level 3 'Text = N+ words'), not '{_show(node)}'. "
            f"If the school's document has none, write min_words: {_MARKER_HINT}.",
        )
        return None

    def band_criteria(
        self,
        pair: tuple[Node, Node] | None,
        bid: str,
        catalog: dict[str, str] | None,
        band_line: int,
    ) -> list[Criterion]:
        if pair is None:
            return []
        _key, node = pair
        items = self.sequence(node, f"band '{bid}' criteria")
        if items is None:
            return []
        found: dict[str, Criterion] = {}
        for item in items:
            crit = self.criterion(item, bid, catalog)
            if crit is None:
                continue
            if crit.id in found:
                self.error(
                    crit.line,
                    f"band '{bid}': criterion '{crit.id}' appears twice (first at line "
                    f"{found[crit.id].line}): delete one.",
                )
                continue
            found[crit.id] = crit
        if catalog is None:
            return list(found.values())
        for cid, name in catalog.items():
            if cid not in found:
                self.error(
                    band_line,
                    f"band '{bid}' has no entry for criterion '{cid}' ({name}): add it; if the "
                    f"school's document has none, add `- id: {cid}` with `missing: true` and a "
                    "`note:`, and list it under gaps:.",
                )
        return [found[cid] for cid in catalog if cid in found]

    def criterion(self, node: Node, bid: str, catalog: dict[str, str] | None) -> Criterion | None:
        if _is_marker(node):
            spec = self.fields(
                node,
                f"a criterion of band '{bid}'",
                ("id", "missing"),
                ("note",) + _CRITERION_REQUIRED[1:] + _CRITERION_OPTIONAL,
            )
            if spec is None:
                return None
            cid = self.criterion_id(spec.get("id"), bid, catalog)
            if cid is None:
                return None
            extra = [
                k for k in _CRITERION_REQUIRED[1:] + _CRITERION_OPTIONAL if k in self.keys(node)
            ]
            if extra:
                self.error(
                    _line(node),
                    f"band '{bid}': criterion '{cid}' is marked missing but also has "
                    f"{', '.join(extra)}: if you have filled in the school's text, delete "
                    "`missing:` and `note:` here and its entry under gaps:.",
                )
            gap = self.marker(
                node, _line(node), Gap(bid, cid, None, ""), also_allowed=tuple(self.keys(node))
            )
            return Criterion(
                id=cid,
                name=(catalog or {}).get(cid, cid),
                missing=True,
                missing_note=gap.note if gap else None,
                line=_line(node),
            )

        spec = self.fields(
            node, f"a criterion of band '{bid}'", _CRITERION_REQUIRED, _CRITERION_OPTIONAL
        )
        if spec is None:
            return None
        cid = self.criterion_id(spec.get("id"), bid, catalog)
        if cid is None:
            return None
        where = f"band '{bid}' / {cid}"
        crit = Criterion(id=cid, name=(catalog or {}).get(cid, cid), line=_line(node))
        crit.outcomes = self.outcomes(spec.get("outcomes"), where, Gap(bid, cid, "outcomes", ""))
        if "statement" in spec:
            key, vnode = spec["statement"]
            crit.statement = self.descriptor(
                vnode, _line(key), f"{where}: statement", Gap(bid, cid, "statement", "")
            )
        if "organisers" in spec:
            crit.organisers = self.text_list(spec["organisers"][1], f"{where}: organisers")
        if "footnote" in spec:
            crit.footnote = self.text(spec["footnote"], f"{where}: footnote")
        if "levels" in spec:
            entries = self.level_mapping(
                spec["levels"][1], f"{where}: levels", _line(spec["levels"][0])
            )
            for number, (knode, vnode) in (entries or {}).items():
                crit.levels[number] = self.descriptor(
                    vnode,
                    _line(knode),
                    f"{where}: level {number}",
                    Gap(bid, cid, f"levels.{number}", ""),
                )
        return crit

    def criterion_id(
        self, pair: tuple[Node, Node] | None, bid: str, catalog: dict[str, str] | None
    ) -> str | None:
        cid = self.ident(pair, "criterion id")
        if cid is None or catalog is None:
            return cid
        if cid not in catalog:
            self.error(
                _line(pair[1]),
                f"band '{bid}': unknown criterion id '{cid}': use one of {', '.join(catalog)} "
                "(or add it to the criteria list at the top of the file).",
            )
            return None
        return cid

    def outcomes(self, pair: tuple[Node, Node] | None, where: str, gap: Gap) -> list[str]:
        if pair is None:
            return []
        key, node = pair
        if _is_marker(node):
            self.marker(node, _line(key), gap)
            return []
        if isinstance(node, ScalarNode):  # a single code written without [ ]
            value = self.text((key, node), f"{where}: outcomes")
            return [value] if value else []
        return self.text_list(node, f"{where}: outcomes")

    def descriptor(self, node: Node, line: int, where: str, gap: Gap) -> str | None:
        if _is_marker(node):
            self.marker(node, line, gap)
            return None
        value = _construct(node) if isinstance(node, ScalarNode) else None
        if value is None or (isinstance(value, str) and not value.strip()):
            self.error(
                line,
                f"{where} is empty: write the school's text, or if the document has none, "
                f"write {_MARKER_HINT} and add it to gaps:.",
            )
            return None
        if not isinstance(value, str):
            self.error(line, f"{where} must be text, not '{_show(node)}'.")
            return None
        return self.clean(value, line, where)

    def marker(
        self, node: Node, line: int, gap: Gap, also_allowed: tuple[str, ...] = ()
    ) -> Gap | None:
        """A ``{missing: true, note: ...}`` marker: records a Gap (with ``line``)."""
        spec = self.fields(
            node, f"the missing marker for {gap.where}", ("missing",), ("note",) + also_allowed
        )
        if spec is None:
            return None
        flag = _construct(spec["missing"][1])
        if flag is not True:
            self.error(
                _line(spec["missing"][1]),
                f"{gap.where}: `missing:` must be true. If the text is now filled in, replace the "
                "whole marker with the text and delete its gaps: entry.",
            )
            return None
        note = ""
        if "note" in spec:
            note = self.text(spec["note"], f"{gap.where}: note") or ""
        if not note:
            self.warning(
                line,
                f"{gap.where} is marked missing without a note: "
                "add `note:` saying what is missing.",
            )
        gap = Gap(gap.band, gap.criterion, gap.field, note, line)
        self.gaps.append(gap)
        return gap

    def declared_gaps(
        self, pair: tuple[Node, Node], band_ids: set[str], catalog: dict[str, str] | None
    ) -> None:
        key, node = pair
        if isinstance(node, ScalarNode) and _construct(node) is None:
            items: list[Node] = []
        else:
            items = self.sequence(node, "gaps") or []
        marked = {g.key: g for g in self.gaps}
        declared: set[tuple[str, str | None, str | None]] = set()
        for item in items:
            spec = self.fields(item, "a gaps: entry", ("band", "what"), ("criterion", "field"))
            if spec is None:
                continue
            band = self.text(spec.get("band"), "gaps: band")
            crit = self.text(spec["criterion"], "gaps: criterion") if "criterion" in spec else None
            fld = self.text(spec["field"], "gaps: field") if "field" in spec else None
            self.text(spec.get("what"), "gaps: what")
            if band is None:
                continue
            if band not in band_ids:
                self.warning(
                    _line(item), f"gaps: entry names band '{band}', which the file does not have."
                )
            if crit is not None and catalog is not None and crit not in catalog:
                self.warning(
                    _line(item),
                    f"gaps: entry names criterion '{crit}', which is not in the criteria list.",
                )
            if fld is not None and fld not in _GAP_FIELDS:
                self.warning(
                    _line(item), f"gaps: field '{fld}' is not one of {', '.join(_GAP_FIELDS)}."
                )
            entry = (band, crit, fld)
            where = " / ".join(p for p in entry if p)
            if entry in declared:
                self.warning(_line(item), f"gaps: {where} is listed twice: delete one.")
            elif entry not in marked:
                self.warning(
                    _line(item),
                    f"gaps: lists {where}, but nothing there is marked missing: if the text was "
                    "filled in, delete this entry.",
                )
            declared.add(entry)
        for gap in self.gaps:
            if gap.key not in declared:
                self.warning(
                    gap.line,
                    f"{gap.where} is marked missing but not listed under gaps: at the end of the "
                    "file: add an entry for it.",
                )

    # -- small readers ---------------------------------------------------------------

    def keys(self, node: Node) -> set[str]:
        if not isinstance(node, MappingNode):
            return set()
        return {str(k.value) for k, _v in node.value if isinstance(k, ScalarNode)}

    def fields(
        self, node: Node, what: str, required: tuple[str, ...], optional: tuple[str, ...]
    ) -> dict[str, tuple[Node, Node]] | None:
        """A mapping with string keys: checks duplicates, required and unknown keys."""
        if not isinstance(node, MappingNode):
            self.error(
                _line(node), f"{what} must be a set of `key: value` lines, not '{_show(node)}'."
            )
            return None
        out: dict[str, tuple[Node, Node]] = {}
        for knode, vnode in node.value:
            key = knode.value if isinstance(knode, ScalarNode) else None
            if not isinstance(key, str):
                self.error(_line(knode), f"{what}: a key must be a plain word.")
                continue
            if key in out:
                self.error(
                    _line(knode),
                    f"{what}: '{key}' appears twice "
                    f"(first at line {_line(out[key][0])}): delete one.",
                )
                continue
            if key not in required and key not in optional:
                allowed = ", ".join(required + optional)
                self.warning(
                    _line(knode),
                    f"{what}: unknown key '{key}' is ignored (expected: {allowed}). "
                    "Check the spelling.",
                )
                continue
            out[key] = (knode, vnode)
        for key in required:
            if key not in out:
                self.error(_line(node), f"{what} is missing the required key '{key}'.")
        return out

    def level_mapping(
        self, node: Node, what: str, line: int = 0
    ) -> dict[int, tuple[Node, Node]] | None:
        """A mapping keyed exactly by the level numbers 1..5 (``line``: of its key)."""
        if not isinstance(node, MappingNode):
            self.error(
                _line(node), f"{what} must be lines `1: ...` to `5: ...`, not '{_show(node)}'."
            )
            return None
        out: dict[int, tuple[Node, Node]] = {}
        for knode, vnode in node.value:
            number = _construct(knode) if isinstance(knode, ScalarNode) else None
            if (
                not isinstance(number, int)
                or isinstance(number, bool)
                or number not in LEVEL_NUMBERS
            ):
                self.error(
                    _line(knode),
                    f"{what}: unknown level id '{_show(knode)}': levels are numbered 1 to 5 "
                    "(write the bare number, without quotes).",
                )
                continue
            if number in out:
                self.error(
                    _line(knode),
                    f"{what}: level {number} appears twice "
                    f"(first at line {_line(out[number][0])}).",
                )
                continue
            out[number] = (knode, vnode)
        absent = [str(n) for n in LEVEL_NUMBERS if n not in out]
        if absent:
            self.error(
                line or _line(node),
                f"{what} must have exactly the levels 1, 2, 3, 4, 5: level {', '.join(absent)} "
                f"is missing. If the school's document has no text, write `N: {_MARKER_HINT}`.",
            )
        return out

    def sequence(self, node: Node, what: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.error(
                _line(node),
                f"{what} must be a list (lines starting with '- '), not '{_show(node)}'.",
            )
            return None
        return list(node.value)

    def ident(self, pair: tuple[Node, Node] | None, what: str) -> str | None:
        value = self.text(pair, what)
        if value is None:
            return None
        if not _ID_RE.match(value):
            self.error(
                _line(pair[1]),
                f"{what} '{value}' must be lower-case letters, digits and _ "
                "(starting with a letter), e.g. year3.",
            )
            return None
        return value

    def text(self, pair: tuple[Node, Node] | None, what: str) -> str | None:
        if pair is None:
            return None
        _key, node = pair
        value = _construct(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, str) or not value.strip():
            self.error(_line(node), f"{what} must be some text, not '{_show(node)}'.")
            return None
        return self.clean(value, _line(node), what)

    def text_list(self, node: Node, what: str) -> list[str]:
        if not isinstance(node, SequenceNode):
            self.error(
                _line(node), f"{what} must be a list such as [\"W2.9\"], not '{_show(node)}'."
            )
            return []
        out = []
        for item in node.value:
            value = _construct(item) if isinstance(item, ScalarNode) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str) or not value.strip():
                self.error(
                    _line(item), f"{what}: '{_show(item)}' must be some text (put it in quotes)."
                )
                continue
            out.append(value.strip())
        return out

    def clean(self, value: str, line: int, what: str) -> str:
        stripped = value.strip()
        if stripped != value:
            self.warning(
                line,
                f"{what} starts or ends with spaces or a line break: use `>-` and remove them.",
            )
        if "  " in stripped or "\n " in stripped or " \n" in stripped:
            self.warning(
                line,
                f"{what} has doubled spaces or an over-indented line: indent every line of the "
                "text the same and use single spaces.",
            )
        return stripped


def _construct(node: Node) -> Any:
    """The Python value of a node, with PyYAML's safe rules (``3`` -> 3, ``true`` -> True)."""
    return SafeConstructor().construct_document(node)


def _is_marker(node: Node) -> bool:
    return isinstance(node, MappingNode) and any(
        isinstance(k, ScalarNode) and k.value == "missing" for k, _v in node.value
    )


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _show(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return node.value if len(node.value) <= 40 else node.value[:37] + "..."
    if isinstance(node, MappingNode):
        return "a mapping"
    return "a list"


def _syntax_message(exc: yaml.MarkedYAMLError) -> tuple[int, str]:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    message = f"YAML syntax: {exc.problem or exc.context}"
    if exc.context and exc.problem and exc.context_mark is not None:
        message += f" ({exc.context} that starts at line {exc.context_mark.line + 1})"
    hint = "Check the indentation and the quotes on this line and the one above it"
    if "'\\t'" in (exc.problem or ""):  # PyYAML: found character '\t' that cannot start ...
        hint += "; indent with spaces, never tabs"
    return line, f"{message}. {hint}."


def default_rubric_dir() -> Path:
    """``./rubrics`` if it exists, else the ``rubrics/`` folder beside the scanflow source."""
    here = Path.cwd() / "rubrics"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "rubrics"


def find_rubrics(directory: str | Path) -> dict[str, Path]:
    """Map each genre to its rubric file (``*.yaml``/``*.yml`` directly in ``directory``)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(
            f"rubric folder {directory} does not exist.",
            hint="Pass the folder that holds the rubric .yaml files (normally rubrics/).",
        )
    found: dict[str, Path] = {}
    for path in sorted(
        p for p in directory.iterdir() if p.suffix in RUBRIC_SUFFIXES and p.is_file()
    ):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"{path} cannot be read as YAML ({type(exc).__name__}).",
                hint=f"Run `scanflow rubric check {path}` to see the line to fix.",
            ) from exc
        genre = data.get("genre") if isinstance(data, dict) else None
        if not isinstance(genre, str) or not genre:
            raise UsageError(
                f"{path} has no `genre:` line.",
                hint=f"Add one (e.g. genre: narrative), or move the file out of {directory}.",
            )
        if genre in found:
            raise UsageError(
                f"{found[genre]} and {path} are both rubrics for genre '{genre}'.",
                hint="Keep one file per genre: merge or delete the other.",
            )
        found[genre] = path
    return found


def load_rubric_for_genre(directory: str | Path, genre: str) -> Rubric:
    found = find_rubrics(directory)
    if genre not in found:
        have = ", ".join(sorted(found)) or "none"
        raise UsageError(
            f"no rubric for genre '{genre}' in {directory} (found: {have}).",
            hint="To add one, copy narrative.yaml to a new file and follow rubrics/README.md.",
        )
    return load_rubric(found[genre])

