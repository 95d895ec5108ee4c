"""The levels CSV for the school's MIS: one row per pupil and half term, a column per criterion.

Columns, in this order (documented for the MIS import in ``docs/archive.md``):

==============  ==========================================================================
``upn``         the pupil id (UPN) as in the class list
``surname``     legal surname; ``forename`` legal forename
``class``       the class the pupil was in that half term; ``year_group`` likewise
                (0 = Kindergarten/Reception)
``half_term``   e.g. ``2026-27-autumn-1``
``genre``       the genre of the piece (the school writes one independent piece per
                half term, so normally one row per pupil and half term; a second genre in
                the same half term is a second row)
``piece``       scanflow's piece number (``scanflow show PIECE``)
``words``       length of the final transcription in words
``<criterion>`` one column per rubric criterion, headed by its id (``audience_ideas``,
                ``character_setting``, ``vocabulary``, ``punctuation``, ``spelling``,
                ``text_structure``, ``sentence_structure``, ``cohesion`` for the narrative
                rubric): the teacher's latest level, 1-5; empty if not scored
``scored_on``   date of the latest level given (YYYY-MM-DD); ``scored_by`` who gave it
``stale``       ``yes`` when a level in the row was given on an earlier text of the piece
                (it was corrected or a page was added after scoring): score it again
==============  ==========================================================================

UTF-8 with a byte-order mark (Excel opens it with names intact), comma-separated, one
header row. Only pieces with at least one level, unless ``include_unscored``. A text cell
starting with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) gets a leading
apostrophe, so a spreadsheet shows it rather than running it as a formula (a pupil
"named" ``=HYPERLINK(...)`` in an imported class list).

>>> export_levels_csv(archive, "levels.csv", half_term="2026-27-autumn-1")   # doctest: +SKIP
58
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from scanflow.archive.placement import Placements
from scanflow.archive.store import Archive
from scanflow.archive.terms import HalfTerm
from scanflow.exports.portfolio import count_words
from scanflow.scoring.levels import current_levels, ordered_criteria

FIXED_COLUMNS = ["upn", "surname", "forename", "class", "year_group", "half_term", "genre",
                 "piece", "words"]
TAIL_COLUMNS = ["scored_on", "scored_by", "stale"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A CSV cell a spreadsheet will not run: text that could start a formula is quoted
    with a leading apostrophe (OWASP's advice for CSV injection); numbers are kept."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(output: str | Path, header: list[str], rows: list[dict]) -> None:
    """Write rows as a CSV file safely: every cell through :func:`spreadsheet_safe`,
    UTF-8 with a byte-order mark, replacing the file only once it is complete."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)
    tmp.replace(output)


def level_rows(archive: Archive, *, half_term: str | None = None,
               class_name: str | None = None, year_group: int | None = None,
               genre: str | None = None, include_unscored: bool = False,
               rubric_dir: str | Path | None = None) -> tuple[list[str], list[dict]]:
    """The CSV's header and rows as dicts (for callers that want them without a file)."""
    where, params = ["pieces.status != 'discarded'"], []
    if half_term:
        where.append("pieces.half_term = ?")
        params.append(str(HalfTerm.parse(half_term)))
    if genre:
        where.append("pieces.genre = ?")
        params.append(genre.strip().lower())
    rows = archive.db.execute(
        "SELECT pieces.id, pieces.pupil_id, pupils.surname, pupils.first_name, "
        "pieces.half_term, pieces.genre, pieces.version, COALESCE(piece_texts.text, '') "
        "FROM pieces JOIN pupils ON pupils.pupil_id = pieces.pupil_id "
        "LEFT JOIN piece_texts ON piece_texts.piece_id = pieces.id "
        f"WHERE {' AND '.join(where)}", params).fetchall()
    # One piece per pupil, half term and genre: the latest version kept.
    latest: dict[tuple, tuple] = {}
    for row in sorted(rows, key=lambda r: r[6]):
        latest[(row[1], row[4], row[5])] = row
    pieces = list(latest.values())
    levels = current_levels(archive, [r[0] for r in pieces])
    if not include_unscored:
        pieces = [r for r in pieces if levels.get(r[0])]
    placements = Placements(archive, sorted({r[1] for r in pieces}))
    criteria = ordered_criteria([levels.get(r[0], {}) for r in pieces],
                                {r[5] for r in pieces}, rubric_dir,
                                every_rubric_criterion=True)
    out = []
    for piece_id, pupil_id, surname, forename, term, gen, _version, text in pieces:
        where_then = placements.at(pupil_id, term)
        if class_name and where_then.class_name != class_name:
            continue
        if year_group is not None and where_then.year_group != year_group:
            continue
        lv = levels.get(piece_id, {})
        latest_score = max(lv.values(), key=lambda v: v.scored_at, default=None)
        row = {"upn": pupil_id, "surname": surname, "forename": forename,
               "class": where_then.class_name or "",
               "year_group": "" if where_then.year_group is None else where_then.year_group,
               "half_term": term, "genre": gen, "piece": piece_id, "words": count_words(text)}
        row.update({cid: lv[cid].level if cid in lv else "" for cid in criteria})
        row["scored_on"] = latest_score.scored_at[:10] if latest_score else ""
        row["scored_by"] = latest_score.scorer if latest_score else ""
        row["stale"] = "yes" if any(v.stale for v in lv.values()) else ""
        out.append(row)
    out.sort(key=lambda r: (HalfTerm.parse(r["half_term"]).index, r["class"], r["surname"],
                            r["forename"], r["genre"]))
    return FIXED_COLUMNS + list(criteria) + TAIL_COLUMNS, out


def export_levels_csv(archive: Archive, output: str | Path, **filters) -> int:
    """Write the levels CSV (see the module docstring). Returns the number of rows."""
    header, rows = level_rows(archive, **filters)
    write_csv(output, header, rows)
    archive.log_event("export.levels", output.name, rows=len(rows),
                      filters=json.dumps({k: v for k, v in filters.items() if v}, default=str))
    return len(rows)
