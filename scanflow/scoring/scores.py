"""Scoring a piece in the archive: its suggestions, the teacher's confirmed levels, and
their history and provenance.

The teacher confirms or changes each level (:func:`confirm_level`). Every confirmation is
a new row in ``scores``; earlier rows stay, so a changed mind is visible. Each row keeps
who, when, the suggestion and its evidence as shown, the transcription version scored,
and the rubric's id, version and content hash together with the descriptor text of the
level given, so a later edit of the rubric file never changes a past score.

>>> result = suggest_for_piece(archive, 12)                             # doctest: +SKIP
>>> [(s.criterion_id, s.level, s.confidence) for s in result.suggestions][:2]  # doctest: +SKIP
[('audience_ideas', 3, 'teacher judgement'), ('character_setting', 2, 'teacher judgement')]
>>> confirm_level(archive, 12, "punctuation", 3, scorer="mrs.k")       # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanflow.archive.store import Archive, now
from scanflow.errors import UsageError
from scanflow.scoring.features import analyse
from scanflow.scoring.levels import is_stale, text_hash
from scanflow.scoring.rubric import band_for_year, content_hash
from scanflow.scoring.rubric_file import default_rubric_dir, load_rubric_for_genre
from scanflow.scoring.suggest import (
    JUDGEMENT,
    NO_SUGGESTION,
    SUGGESTED,
    WAIT_FOR_REVIEW,
    PieceSuggestions,
    awaiting_review,
    suggest,
)

# --------------------------------------------------------------------------------------
# Data at the boundary
# --------------------------------------------------------------------------------------


@dataclass
class Score:
    """A level a teacher gave (one row of ``scores``)."""

    id: int
    piece_id: int
    criterion_id: str
    criterion_name: str
    level: int
    level_descriptor: str | None
    scorer: str
    scored_at: str
    note: str | None
    suggested_level: int | None
    suggestion_confidence: str
    suggestion: dict[str, Any] | None
    band_id: str
    year_group: int
    rubric_id: str
    rubric_version: str
    rubric_hash: str
    transcription_version: int
    suggester_version: str
    supersedes: int | None
    text_sha256: str | None = None  # fingerprint of the text judged (None before migration 7)
    words: int | None = None  # its length in words
    stale: bool = False  # the piece's text changed after this level was given


@dataclass
class PieceScores:
    piece_id: int
    current: dict[str, Score]  # criterion id -> latest score
    history: list[Score]  # every score ever given, oldest first


# --------------------------------------------------------------------------------------
# Pieces in the archive
# --------------------------------------------------------------------------------------


def _academic_start(date: dt.date) -> int:
    return date.year if date.month >= 9 else date.year - 1


def year_group_for_piece(archive: Archive, piece_id: int) -> tuple[str, int]:
    """``(pupil_id, year group when the piece was written)``.

    The roster gives a pupil's year group when it was imported; a piece from an earlier
    (or later) academic year is shifted by the years between.
    """
    from scanflow.archive.terms import HalfTerm

    row = archive.db.execute(
        "SELECT pieces.pupil_id, pieces.half_term, pupils.year_group, pupils.updated_at "
        "FROM pieces JOIN pupils ON pupils.pupil_id = pieces.pupil_id WHERE pieces.id = ?",
        [piece_id]).fetchone()
    if row is None:
        raise UsageError(f"There is no piece {piece_id}.", hint="List pieces with: scanflow pieces")
    pupil_id, half_term, year_group, _updated = row
    if year_group is None:
        raise UsageError(
            f"Pupil {pupil_id} has no year group in the roster, so the rubric band for piece "
            f"{piece_id} is unknown.",
            hint="Re-import the class list with a Year Group column: scanflow roster import FILE.csv")
    placed = archive.db.execute(
        "SELECT changed_at FROM pupil_history WHERE pupil_id = ? AND year_group = ? "
        "ORDER BY changed_at DESC LIMIT 1", [pupil_id, year_group]).fetchone()
    if placed is None:
        return pupil_id, year_group
    roster_year = _academic_start(dt.date.fromisoformat(placed[0][:10]))
    piece_year = HalfTerm.parse(half_term).start_year
    return pupil_id, max(0, year_group + piece_year - roster_year)


def _line_offsets(lines) -> list[int]:
    """Where each line starts in :func:`scanflow.archive.transcription.lines_text` of ``lines``."""
    out, offset, page = [], 0, None
    for line in lines:
        if page is not None and line.page_id != page:
            offset += 1  # the blank line between pages
        out.append(offset)
        offset += len(line.text) + 1
        page = line.page_id
    return out


def _page_breaks(lines) -> tuple[int, ...]:
    """Offsets of the blank lines :func:`lines_text` puts between pages."""
    offsets = _line_offsets(lines)
    return tuple(offsets[k] - 1 for k in range(1, len(lines))
                 if lines[k].page_id != lines[k - 1].page_id)


def _margin(lines, ks: list[int], height: int) -> tuple[float, float]:
    """``(slope, x0)`` of the page's left margin, x = x0 + slope * y, fitted through the
    lines' left ends (again without the indented ones)."""
    keep = list(ks)
    slope, x0 = 0.0, float(sorted(lines[k].x for k in ks)[len(ks) // 4])
    for _ in range(2):
        ys = [lines[k].y for k in keep]
        xs = [lines[k].x for k in keep]
        my, mx = sum(ys) / len(ys), sum(xs) / len(xs)
        var = sum((y - my) ** 2 for y in ys)
        slope = sum((y - my) * (x - mx) for x, y in zip(xs, ys)) / var if var else 0.0
        slope = max(-0.1, min(0.1, slope))  # at most ~6 degrees: beyond that, not skew
        x0 = mx - slope * my
        keep = [k for k in ks if lines[k].x - (x0 + slope * lines[k].y) < height / 2] or ks
    return slope, x0


def paragraph_starts(lines) -> tuple[int, ...]:
    """Offsets (in the piece's text) of lines the page shows starting a new paragraph.

    Recognition gives a line of text per written line, never a blank line, so a new
    paragraph is read from where the lines sit on the page: a line indented from the
    page's left edge (by more than a line's height), a skipped line (a gap of more than
    1.7 times the usual line spacing), or a line after one that ends a sentence short of
    the right edge by more than this line's first word needs (a writer only leaves room on
    a line unused to start a paragraph).
    Lines without a box (typed in by the teacher) give no signal; a typed blank line is a
    paragraph break anyway.
    """
    offsets = _line_offsets(lines)
    starts = []
    pages: dict[int, list[int]] = {}
    for k, line in enumerate(lines):
        if None not in (line.x, line.y, line.w, line.h) and line.text.strip():
            pages.setdefault(line.page_id, []).append(k)
    for ks in pages.values():
        if len(ks) < 3:
            continue
        height = sorted(lines[k].h for k in ks)[len(ks) // 2]
        # A page scanned a little skewed moves both margins sideways down the page: measure
        # each line against margins that lean the same way.
        slope, left0 = _margin(lines, ks, height)
        rights = sorted(lines[k].x + lines[k].w - slope * lines[k].y for k in ks)
        right0 = rights[(len(ks) * 9) // 10]
        pitches = sorted(lines[b].y - lines[a].y for a, b in zip(ks, ks[1:]))
        pitch = pitches[len(pitches) // 2]
        width = right0 - left0
        for a, b in zip(ks, ks[1:]):
            prev, line = lines[a], lines[b]
            indented = line.x - (left0 + slope * line.y) > height
            gap = pitch > 0 and line.y - prev.y > 1.7 * pitch
            # The next line's first word would have fitted where this one stopped.
            first = line.text.split()[0] if line.text.split() else ""
            fits = (len(first) + 1) * line.w / max(len(line.text), 1)
            room = right0 + slope * prev.y - (prev.x + prev.w)
            short = (room > max(fits, 0.08 * width) and
                     prev.text.rstrip()[-1:] in ".!?\"'\u201d\u2019")
            if indented or gap or short:
                starts.append(offsets[b])
    return tuple(sorted(starts))


def suggest_for_piece(archive: Archive, piece_id: int, *,
                      rubric_dir: str | Path | None = None) -> PieceSuggestions:
    """Suggestions for a piece's current text (the teacher's latest version, else OCR)."""
    from scanflow.archive.transcription import get_version

    genre_row = archive.db.execute("SELECT genre, status FROM pieces WHERE id = ?",
                                   [piece_id]).fetchone()
    if genre_row is None:
        raise UsageError(f"There is no piece {piece_id}.", hint="List pieces with: scanflow pieces")
    rubric = load_rubric_for_genre(rubric_dir or default_rubric_dir(), genre_row[0])
    pupil_id, year_group = year_group_for_piece(archive, piece_id)
    band = band_for_year(rubric, year_group)
    version = get_version(archive, piece_id)
    text = version.text
    if not text.strip():
        raise UsageError(f"Piece {piece_id} has no text to score.",
                         hint=f"Check its pages with: scanflow show {piece_id}")
    features = analyse(text, year_group=year_group, ignore_breaks=_page_breaks(version.lines),
                       paragraph_starts=paragraph_starts(version.lines))
    suggestions = suggest(text, band, rubric, year_group=year_group, features=features)
    reviewed = version.number > 0 or genre_row[1] == "reviewed"
    if not reviewed:
        suggestions = [awaiting_review(s) if s.criterion_id in WAIT_FOR_REVIEW else s
                       for s in suggestions]
    return PieceSuggestions(
        piece_id=piece_id, pupil_id=pupil_id, year_group=year_group, band_id=band.id,
        band_label=band.label, rubric_id=rubric.id, rubric_version=str(rubric.version),
        rubric_hash=content_hash(rubric), rubric_path=str(rubric.path) if rubric.path else None,
        transcription_version=version.number, text=text, words=features.words,
        min_words=band.min_words, suggestions=suggestions, reviewed=reviewed,
        level_labels={n: f"{lv.letter}, {lv.label}" for n, lv in rubric.levels.items()},
        descriptors={c.id: ({} if c.missing else {n: c.levels.get(n) for n in range(1, 6)})
                     for c in band.criteria})


_SCORE_COLUMNS = (
    "id, piece_id, criterion_id, criterion_name, level, level_descriptor, scorer, scored_at, "
    "note, suggested_level, suggestion_confidence, suggestion, band_id, year_group, rubric_id, "
    "rubric_version, rubric_hash, transcription_version, suggester_version, supersedes, "
    "text_sha256, words")


def _score(row) -> Score:
    data = dict(zip([c.strip() for c in _SCORE_COLUMNS.split(",")], row))
    data["suggestion"] = json.loads(data["suggestion"]) if data["suggestion"] else None
    return Score(**data)


def confirm_level(archive: Archive, piece_id: int, criterion_id: str, level: int, *,
                  scorer: str, note: str | None = None,
                  rubric_dir: str | Path | None = None,
                  suggestions: PieceSuggestions | None = None) -> Score:
    """Record the teacher's level for one criterion (a new row; earlier ones are kept).

    ``suggestions`` may be passed when already computed (the CLI sets several at once);
    otherwise they are worked out now from the piece's current text.
    """
    if not scorer or not scorer.strip():
        raise UsageError("A score needs the name of the person giving it.",
                         hint="Pass --scorer NAME.")
    result = suggestions or suggest_for_piece(archive, piece_id, rubric_dir=rubric_dir)
    suggestion = result.get(criterion_id)
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
        raise UsageError(f"{suggestion.criterion_name}: the level must be a whole number "
                         f"from 1 to 5, not {level!r}.",
                         hint="For example: scanflow score PIECE --set punctuation=3")
    descriptors = result.descriptors.get(criterion_id, {})
    if not descriptors:
        raise UsageError(
            f"{suggestion.criterion_name} cannot be scored for {result.band_label}: the rubric "
            "has no descriptors for it (marked missing).",
            hint="Add the school's wording to the rubric file (see rubrics/README.md) and "
                 "bump its version, then score again.")
    if descriptors.get(level) is None:
        raise UsageError(
            f"{suggestion.criterion_name} level {level} has no descriptor for "
            f"{result.band_label} in the rubric (marked missing).",
            hint="Choose another level, or add the school's wording to the rubric file.")
    with archive.transaction() as db:
        previous = db.execute(
            "SELECT id FROM scores WHERE piece_id = ? AND criterion_id = ? "
            "ORDER BY id DESC LIMIT 1", [piece_id, criterion_id]).fetchone()
        row_id = db["scores"].insert({
            "piece_id": piece_id, "criterion_id": criterion_id,
            "criterion_name": suggestion.criterion_name, "level": level,
            "level_descriptor": descriptors[level], "scorer": scorer.strip(),
            "scored_at": now(), "note": note, "suggested_level": suggestion.level,
            "suggestion_confidence": suggestion.confidence,
            "suggestion": json.dumps(suggestion.to_dict(), ensure_ascii=False),
            "band_id": result.band_id, "year_group": result.year_group,
            "rubric_id": result.rubric_id, "rubric_version": result.rubric_version,
            "rubric_hash": result.rubric_hash,
            "transcription_version": result.transcription_version,
            "suggester_version": result.suggester_version,
            "supersedes": previous[0] if previous else None,
            "text_sha256": text_hash(result.text), "words": result.words,
        }).last_pk
        archive.log_event("score.confirm", f"piece:{piece_id}", actor=scorer.strip(),
                          criterion=criterion_id, level=level,
                          suggested=suggestion.level, score_id=row_id)
    return _score(archive.db.execute(f"SELECT {_SCORE_COLUMNS} FROM scores WHERE id = ?",
                                     [row_id]).fetchone())


def _genre(archive: Archive, piece_id: int) -> str:
    row = archive.db.execute("SELECT genre FROM pieces WHERE id = ?", [piece_id]).fetchone()
    if row is None:
        raise UsageError(f"There is no piece {piece_id}.", hint="List pieces with: scanflow pieces")
    return row[0]


def accept_suggestions(archive: Archive, piece_id: int, *, scorer: str,
                       rubric_dir: str | Path | None = None) -> list[Score]:
    """Confirm every *suggested* level as it stands (never the teacher-judgement ones)."""
    result = suggest_for_piece(archive, piece_id, rubric_dir=rubric_dir)
    return [confirm_level(archive, piece_id, s.criterion_id, s.level, scorer=scorer,
                          note="accepted suggestion", rubric_dir=rubric_dir,
                          suggestions=result)
            for s in result.suggestions if s.confidence == SUGGESTED and s.level is not None]


def piece_scores(archive: Archive, piece_id: int) -> PieceScores:
    """The current level per criterion, and every score ever given for the piece."""
    _genre(archive, piece_id)
    history = [_score(r) for r in archive.db.execute(
        f"SELECT {_SCORE_COLUMNS} FROM scores WHERE piece_id = ? ORDER BY id", [piece_id])]
    if history:
        from scanflow.archive.transcription import get_version

        version = get_version(archive, piece_id)
        for score in history:
            score.stale = is_stale(score.text_sha256, score.transcription_version,
                                   version.text, version.number)
    current: dict[str, Score] = {}
    for score in history:
        current[score.criterion_id] = score
    return PieceScores(piece_id=piece_id, current=current, history=history)


def parse_assignment(text: str) -> tuple[str, int]:
    """``"punctuation=3"`` -> ("punctuation", 3), with a message a teacher can act on."""
    key, sep, value = text.partition("=")
    key = key.strip().lower().replace(" ", "_").replace("-", "_")
    if not sep or not key:
        raise UsageError(f"'{text}' is not CRITERION=LEVEL.",
                         hint="For example: --set punctuation=3")
    try:
        level = int(value.strip())
    except ValueError:
        raise UsageError(f"'{text}': the level must be a number from 1 to 5.",
                         hint="For example: --set punctuation=3") from None
    return key, level


# --------------------------------------------------------------------------------------
# One call for the CLI and the review screen: record levels, then report everything
# --------------------------------------------------------------------------------------


@dataclass
class ScoreReport:
    suggestions: PieceSuggestions
    scores: PieceScores
    recorded: list[Score] = field(default_factory=list)  # rows written by this call
    pupil_name: str = ""


def score_piece(archive: Archive, piece_id: int, *, levels: dict[str, int] | None = None,
                accept: bool = False, scorer: str | None = None, note: str | None = None,
                rubric_dir: str | Path | None = None) -> ScoreReport:
    """Suggestions for a piece; record ``levels`` (criterion -> level) and, with
    ``accept``, every *suggested* level not given in ``levels``. All or nothing: if one
    level is refused, none is recorded."""
    from scanflow.archive.pieces import get_piece

    levels = dict(levels or {})
    result = suggest_for_piece(archive, piece_id, rubric_dir=rubric_dir)
    for criterion_id in levels:
        result.get(criterion_id)  # an unknown criterion is refused before anything is written
    if accept:
        for s in result.suggestions:
            if s.confidence == SUGGESTED and s.level is not None:
                levels.setdefault(s.criterion_id, s.level)
    if levels and not (scorer and scorer.strip()):
        raise UsageError("A score needs the name of the person giving it.",
                         hint="Pass --scorer NAME.")
    recorded = []
    with archive.transaction():
        for criterion_id, level in levels.items():
            accepted = accept and level == result.get(criterion_id).level
            recorded.append(confirm_level(
                archive, piece_id, criterion_id, level, scorer=scorer or "",
                note=note or ("accepted suggestion" if accepted else None),
                rubric_dir=rubric_dir, suggestions=result))
    return ScoreReport(suggestions=result, scores=piece_scores(archive, piece_id),
                       recorded=recorded, pupil_name=get_piece(archive, piece_id).pupil_name)


def _when(stamp: str) -> str:
    return stamp.replace("T", " ")[:16]


def format_score_report(report: ScoreReport, *, history: bool = False,
                        width: int = 88) -> str:
    """The text ``scanflow score PIECE`` prints."""
    import textwrap

    r = report.suggestions
    out = [f"Piece {r.piece_id}: {report.pupil_name} ({r.pupil_id}), year group "
           f"{'K' if r.year_group == 0 else r.year_group}: rubric band {r.band_label} "
           f"({r.rubric_id} version {r.rubric_version})"]
    if r.transcription_version:
        source = f"transcription version {r.transcription_version} (teacher's corrections)"
    elif r.reviewed:
        source = "the recognised text, reviewed by a teacher"
    else:
        source = ("the recognised text, which NO TEACHER HAS REVIEWED yet: these suggestions "
                  "may be misled by reading mistakes, and Spelling and Punctuation wait for "
                  "the reviewed text")
    if r.min_words is None:
        length = f"{r.words} words; the rubric gives no minimum length for {r.band_label}"
    else:
        relation = "meets" if r.words >= r.min_words else "below"
        length = (f"{r.words} words ({relation} the {r.band_label} Level 3 length: "
                  f"{r.min_words}+ words)")
    out.append(f"Scored text: {source}; {length}.")
    out.append("")
    for line in r.text.splitlines():
        out.append(f"    {line}" if line.strip() else "")
    for i, recorded in enumerate(report.recorded):
        out.insert(1 + i, f"Recorded: {recorded.criterion_name} level {recorded.level} by "
                          f"{recorded.scorer}.")
    for s in r.suggestions:
        out.append("")
        if s.confidence == NO_SUGGESTION:
            out.append(f"{s.criterion_name}: no suggestion.")
            out += textwrap.wrap(s.reason or "", width, initial_indent="  ",
                                 subsequent_indent="  ")
        else:
            label = r.level_labels.get(s.level, "")
            if s.confidence == JUDGEMENT:
                out.append(f"{s.criterion_name}: the teacher's judgement (the evidence "
                           f"points to level {s.level}, {label}; not a confident number)")
            else:
                out.append(f"{s.criterion_name}: suggested level {s.level} ({label})")
            out += textwrap.wrap(f'"{s.descriptor}"', width, initial_indent="    ",
                                 subsequent_indent="     ")
        for e in s.evidence:
            out += textwrap.wrap(e.sentence, width, initial_indent="  - ",
                                 subsequent_indent="    ")
        current = report.scores.current.get(s.criterion_id)
        if current is None:
            out.append("  Not scored yet.")
        else:
            out.append(_score_line(current, r))
            if current.stale:
                judged = f" of {current.words} words" if current.words is not None else ""
                out.append(f"  STALE: this level was given on an earlier text{judged}; the "
                           f"text has changed since (now {r.words} words). Score it again.")
    if history and report.scores.history:
        out.append("")
        out.append("Every level given (oldest first):")
        for sc in report.scores.history:
            out.append(f"  {sc.criterion_name}: " + _score_line(sc, r).strip()[len("Scored: "):])
    out.append("")
    out.append(f"Record levels: scanflow score {r.piece_id} --set punctuation=3 "
               "--set spelling=2 [--scorer NAME]  (or --accept-suggestions)")
    return "\n".join(out)


def _score_line(score: Score, r: PieceSuggestions) -> str:
    suggested = (f"suggested {score.suggested_level}" if score.suggested_level is not None
                 else "no suggestion")
    line = (f"  Scored: level {score.level} by {score.scorer} on {_when(score.scored_at)} "
            f"({suggested}; transcription version {score.transcription_version}")

    if score.rubric_hash != r.rubric_hash:
        line += (f"; given against rubric version {score.rubric_version}, whose wording has "
                 "changed since")
    line += ")"
    if score.note:
        line += f" note: {score.note}"
    return line
