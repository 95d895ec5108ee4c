"""The levels of many pieces at once: what the archive views and exports read.

A piece's level for a criterion is its latest score (the row :func:`scanflow.scoring.scores.
piece_scores` reports as ``current``); this module reads them for a whole class or a
pupil's whole history in one query instead of one per piece, and puts criteria in the
rubric's order.

>>> current_levels(archive, [12, 13])[12]["punctuation"].level      # doctest: +SKIP
3
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from scanflow.archive.store import Archive


@dataclass(frozen=True)
class Level:
    criterion_id: str
    criterion_name: str
    level: int
    scorer: str
    scored_at: str
    band_id: str
    year_group: int
    descriptor: str | None = None  # the rubric's wording of this level, as scored
    stale: bool = False  # the piece's text changed after this level was given


def text_hash(text: str) -> str:
    """The fingerprint a score keeps of the text it judged (``scores.text_sha256``)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_stale(scored_hash: str | None, scored_version: int, text: str,
             latest_version: int) -> bool:
    """Whether a level was given on other text than the piece has now.

    Levels given before scores kept a fingerprint of their text are judged by the
    transcription version instead (an added page then goes unnoticed: nothing better is
    known about them).
    """
    if scored_hash:
        return scored_hash != text_hash(text)
    return scored_version != latest_version


def current_levels(archive: Archive, piece_ids: list[int]) -> dict[int, dict[str, Level]]:
    """``{piece id: {criterion id: Level}}``; pieces with no score are left out."""
    if not piece_ids:
        return {}
    rows = archive.db.execute(
        "SELECT s.piece_id, s.criterion_id, s.criterion_name, s.level, s.scorer, s.scored_at, "
        "s.band_id, s.year_group, s.level_descriptor, s.text_sha256, s.transcription_version, "
        "(SELECT COALESCE(MAX(number), 0) FROM transcription_versions "
        "  AS v WHERE v.piece_id = s.piece_id) FROM scores AS s JOIN ("
        "  SELECT MAX(id) AS id FROM scores WHERE piece_id IN (SELECT value FROM json_each(?))"
        "  GROUP BY piece_id, criterion_id) AS latest ON latest.id = s.id",
        [json.dumps(list(piece_ids))]).fetchall()
    # Each piece's text once (a class grid's levels are six rows a piece), and only for
    # pieces whose levels kept a fingerprint to compare it with.
    texts = dict(archive.db.execute(
        "SELECT piece_id, text FROM piece_texts WHERE piece_id IN "
        "(SELECT value FROM json_each(?))",
        [json.dumps(sorted({r[0] for r in rows if r[9]}))]))
    out: dict[int, dict[str, Level]] = {}
    for piece_id, *rest in rows:
        scored_hash, scored_version, latest = rest[8:]
        text = texts.get(piece_id) or ""
        out.setdefault(piece_id, {})[rest[0]] = Level(
            *rest[:8], stale=is_stale(scored_hash, scored_version, text, latest))
    return out


_RUBRICS: dict[tuple, dict] = {}


def rubric_for(genre: str, rubric_dir: str | Path | None = None):
    """The genre's :class:`~scanflow.scoring.rubric.Rubric`, or None if the folder has none.

    Views ask for it on every request, and reading the rubric files (YAML) takes a tenth
    of a second each, so the folder is read again only when a file in it changes.
    """
    from scanflow.errors import ScanflowError
    from scanflow.scoring.rubric import RUBRIC_SUFFIXES
    from scanflow.scoring.rubric_file import (
        default_rubric_dir,
        find_rubrics,
        load_rubric,
    )

    directory = Path(rubric_dir or default_rubric_dir())
    try:
        signature = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in directory.iterdir()
                                 if p.suffix in RUBRIC_SUFFIXES and p.is_file()))
    except OSError:
        return None
    key = (str(directory.resolve()), signature)
    if key not in _RUBRICS:
        loaded: dict = {}
        try:
            for name, path in find_rubrics(directory).items():
                try:
                    loaded[name] = load_rubric(path)
                except ScanflowError:
                    loaded[name] = None
        except ScanflowError:
            pass
        _RUBRICS.clear()  # one folder in use at a time; keep memory flat
        _RUBRICS[key] = loaded
    return _RUBRICS[key].get(genre)


def rubric_criteria(genre: str, rubric_dir: str | Path | None = None) -> dict[str, str]:
    """``{criterion id: name}`` in the rubric's display order; empty if the genre has none."""
    rubric = rubric_for(genre, rubric_dir)
    return dict(rubric.criteria) if rubric else {}


def ordered_criteria(levels: list[dict[str, Level]], genres: set[str],
                     rubric_dir: str | Path | None = None, *,
                     every_rubric_criterion: bool = False) -> dict[str, str]:
    """Every criterion that appears in ``levels``, rubric order first, then as met.

    With ``every_rubric_criterion``, also the rubric's criteria nobody was scored on yet
    (a grid or a CSV keeps the same columns whatever has been scored).
    """
    order: dict[str, str] = {}
    for genre in sorted(genres):
        order.update(rubric_criteria(genre, rubric_dir))
    seen: dict[str, str] = {}
    for piece in levels:
        for cid, lv in piece.items():
            seen.setdefault(cid, lv.criterion_name)
    result = {cid: name for cid, name in order.items() if cid in seen or every_rubric_criterion}
    result.update({cid: name for cid, name in seen.items() if cid not in result})
    return result


SHORT_NAMES = {
    "audience_ideas": "Aud", "character_setting": "Char", "text_structure": "Struct",
    "sentence_structure": "Sent", "cohesion": "Coh", "vocabulary": "Voc",
    "punctuation": "Punc", "spelling": "Spell",
}


def short_name(criterion_id: str, name: str) -> str:
    """A column heading a few letters wide: Voc, Punc, Spell..."""
    return SHORT_NAMES.get(criterion_id) or name.split()[0][:6]
