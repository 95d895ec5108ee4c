"""Scoring a piece against the school's rubric: suggestions with evidence, and the
teacher's confirmed levels, with their history and provenance.

A *suggestion* is worked out from the teacher-corrected transcription
(:func:`scanflow.transcription.current_text`) by :mod:`scanflow.features`: one per
criterion of the pupil's band, each with the counts and highlighted spans it rests on
("3 of 11 sentences start without a capital: ..."). Three kinds:

* ``suggested``: a level the evidence supports (Vocabulary, Punctuation, Spelling, Text
  Structure, Sentence Structure, Cohesion);
* ``teacher judgement``: Audience and Ideas, Character and Setting. The evidence is
  shown with the level it points to, but these are the teacher's call: they are never
  accepted in bulk;
* ``no suggestion``: the rubric has no descriptors for this criterion in this band
  (marked missing in the rubric file). Nothing is invented in its place.

The teacher confirms or changes each level (:func:`confirm_level`). Every confirmation is
a new row in ``scores``; earlier rows stay, so a changed mind is visible. Each row keeps
who, when, the suggestion and its evidence as shown, the transcription version scored,
and the rubric's id, version and content hash together with the descriptor text of the
level given, so a later edit of the rubric file never changes a past score.

How evidence becomes a level: each criterion's rule (below) turns the features into a
few inputs, measured against the band (length against the band's own minimum, "Text =
N+ words", the Level 3 length; counts against what that length holds). :data:`MODEL`
weighs them into a score on the Year 6+ scale (the rubric's fullest band), kept inside
what the descriptors allow (:func:`descriptor_bounds`), then moved to the pupil's band
by :data:`BAND_SHIFT`. The score (for example 2.6) is rounded to the nearest level and
kept with the suggestion. ``benchmarks/agreement.py`` measures the levels against human
raters.

>>> result = suggest_for_piece(archive, 12)                             # doctest: +SKIP
>>> [(s.criterion_id, s.level, s.confidence) for s in result.suggestions][:2]  # doctest: +SKIP
[('audience_ideas', 3, 'teacher judgement'), ('character_setting', 2, 'teacher judgement')]
>>> confirm_level(archive, 12, "punctuation", 3, scorer="mrs.k")       # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scanflow.archive import Archive, now
from scanflow.errors import UsageError
from scanflow.features import Features, Found, analyse
from scanflow.rubric import (Band, Criterion, Rubric, band_for_year, content_hash,
                             default_rubric_dir, load_rubric_for_genre)
from scanflow.wordlists import statutory_list_name

SUGGESTER_VERSION = "3"
SUGGESTED = "suggested"
JUDGEMENT = "teacher judgement"
NO_SUGGESTION = "no suggestion"
JUDGEMENT_CRITERIA = {"audience_ideas", "character_setting"}
TOP_BAND = "year6plus"
EXAMPLES = 4  # quoted examples per evidence sentence
LENGTH_CAP = 1.0  # length counts up to twice the band's minimum (see _Scale)
ACCURACY_LENGTH_CAP = 0.5  # ... and for Punctuation and Spelling up to about 1.4 times

# How each criterion's inputs (see the rules below) make its score on the Year 6+ scale:
# intercept + sum(weight * input); the level is the score rounded, kept within 1-5 (and
# within descriptor_bounds). The inputs and the direction of each weight follow the
# rubric's descriptors (errors can only lower a level, everything else only raise it; an
# input whose weight came out against that is left out). The sizes were set on the ASAP
# narrative essays in ../shared/eval/scoring (US grades 7 and 10, the only scored writing
# we have): least squares against the matching trait, one level = 1.3 standard deviations
# within a prompt, Level 3.2 half-way between the grade 7 and grade 10 averages (which
# come out near 2.3 and 4.0). benchmarks/agreement.py measures the result.
# text_structure's "paragraphs" weight is set by hand: those essays have no paragraph
# breaks (version 3 finds paragraphs on scanned pages and keeps a single paragraph below
# the levels that ask for paragraphs; on those essays, told their paragraphs are unknown,
# it suggests what version 2 did for all but 1 of 1,373). Since version 2 the "length"
# input stops counting at twice the band's minimum (1.4 times for Punctuation and
# Spelling, see _Scale); the weights were not refitted for that.
# benchmarks/fit_suggester.py is that fit, reproducible: its refit lands within 0.1 of
# each weight here (intercepts within 0.8), so these were kept; it also says what to
# expect on essays not used for fitting, and the ceiling these inputs allow.
MODEL: dict[str, dict[str, float]] = {
    "spelling": {"intercept": 2.27, "length": 0.52, "error_rate": -0.21, "challenging": 0.36,
        "statutory_missed": -0.13},
    "punctuation": {"intercept": 1.49, "length": 0.53, "sentence_accuracy": 1.41,
        "commas": 0.18, "wider_range": 0.13, "missing_apostrophes": -0.15,
        "lowercase_i": -0.16, "speech": 0.03},
    "sentence_structure": {"intercept": 1.9, "length": 0.77, "correct_share": 0.86,
        "subordinators": 0.02, "openers": 0.12, "non_finite_embedded": 0.16},
    "vocabulary": {"intercept": -3.39, "precise": 0.19, "diversity": 0.33, "word_length": 0.25,
        "content_words": 0.7},
    "cohesion": {"intercept": 1.99, "length": 0.84, "linking_words": 0.32,
        "repeated_openers": -0.05, "and_then": -0.01},
    "text_structure": {"intercept": 1.69, "length": 0.83, "parts": 0.05, "paragraphs": 0.3,
        "linking_words": 0.24, "correct_share": 0.72},
    "audience_ideas": {"intercept": -1.62, "content_words": 0.46, "precise": 0.13,
        "diversity": 0.1, "feelings": 0.12, "dialogue": 0.05, "reader_questions": 0.09,
        "characters": 0.11, "setting": 0.15, "parts": 0.17},
    "character_setting": {"intercept": 1.64, "length": 0.55, "characters": 0.16,
        "feelings": 0.17, "dialogue": 0.08, "setting": 0.21},
}

# How many levels higher the same evidence reads in a younger band than in Year 6+.
# Taken from the rubric itself, where the same descriptor appears in two bands at
# different levels: Year 6+ Sentence Structure level 1 is Kindergarten level 5 (+4) and
# Year 1 level 4 (+3); Audience and Ideas "Basic awareness of audience..." is Year 6+
# level 2, Kindergarten level 4 (+2) and Year 1 level 3 (+1); Character and Setting
# Year 6+ level 1 is Kindergarten and Year 1 level 2 (+1); Text Structure Year 3 level 5
# is Year 6+ level 3 but Year 3 level 2 is Year 6+ level 1; Year 4 Cohesion levels 3 and
# 4 are Year 6+ levels 2 and 3 (+1); Year 3/4 Punctuation levels 4 and 5 are Year 6+
# levels 3 and 4 (+1). Where the rubric links a band to Year 6+ in two ways, the smaller
# shift is used (counts are already compared at the band's own length, see _Scale).
# Spelling and Vocabulary use the same wording from Year 1 to Year 6+ (0); for spelling
# the "grade appropriate" words change with the year (the statutory lists). Keyed by band
# id; a band not listed (a school's own) gets no shift. tests/test_scoring.py checks the
# anchors against rubrics/narrative.yaml.
BAND_SHIFT: dict[str, dict[str, float]] = {
    "kindergarten": {"audience_ideas": 2, "character_setting": 1, "vocabulary": 1,
                     "punctuation": 1, "text_structure": 2, "sentence_structure": 4},
    "year1": {"audience_ideas": 1, "character_setting": 1, "punctuation": 1,
              "text_structure": 1, "sentence_structure": 3},
    "year2": {"punctuation": 1, "text_structure": 1},
    "year3": {"punctuation": 1, "text_structure": 1},
    "year4": {"punctuation": 1, "cohesion": 1},
    "year5": {},
    "year6plus": {},
}


# --------------------------------------------------------------------------------------
# Data at the boundary
# --------------------------------------------------------------------------------------


@dataclass
class Evidence:
    """One finding shown to the teacher: a sentence, and the spans it points at."""

    sentence: str
    spans: list[tuple[int, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"sentence": self.sentence, "spans": [list(s) for s in self.spans]}


@dataclass
class Suggestion:
    criterion_id: str
    criterion_name: str
    level: int | None  # 1-5; None when there is no suggestion
    confidence: str  # 'suggested', 'teacher judgement' or 'no suggestion'
    evidence: list[Evidence] = field(default_factory=list)
    descriptor: str | None = None  # the band's descriptor for ``level``
    score: float | None = None  # the evidence score before rounding, e.g. 2.6
    reason: str | None = None  # why there is no suggestion

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["evidence"] = [e.to_dict() for e in self.evidence]
        return data


@dataclass
class PieceSuggestions:
    piece_id: int
    pupil_id: str
    year_group: int
    band_id: str
    band_label: str
    rubric_id: str
    rubric_version: str
    rubric_hash: str
    rubric_path: str | None
    transcription_version: int
    text: str
    words: int
    min_words: int | None
    suggestions: list[Suggestion]
    level_labels: dict[int, str] = field(default_factory=dict)  # 3 -> "C, Sound"
    # The band's descriptor per criterion and level, None where marked missing; an empty
    # dict for a criterion the band lacks altogether.
    descriptors: dict[str, dict[int, str | None]] = field(default_factory=dict)
    suggester_version: str = SUGGESTER_VERSION

    def get(self, criterion_id: str) -> Suggestion:
        for s in self.suggestions:
            if s.criterion_id == criterion_id:
                return s
        known = ", ".join(s.criterion_id for s in self.suggestions)
        raise UsageError(f"'{criterion_id}' is not a criterion of this rubric.",
                         hint=f"Criteria: {known}.")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["suggestions"] = [s.to_dict() for s in self.suggestions]
        return data


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


@dataclass
class PieceScores:
    piece_id: int
    current: dict[str, Score]  # criterion id -> latest score
    history: list[Score]  # every score ever given, oldest first


# --------------------------------------------------------------------------------------
# Suggesting (pure: no archive)
# --------------------------------------------------------------------------------------


def suggest(text: str, band: Band, rubric: Rubric, *, year_group: int | None = None,
            features: Features | None = None, ignore_breaks: tuple[int, ...] = (),
            paragraphs_known: bool = True) -> list[Suggestion]:
    """One suggestion per criterion of ``band``, in the rubric's order.

    ``year_group`` picks the statutory spelling lists (default: the band's youngest year).
    ``paragraphs_known=False`` for text that lost its paragraph breaks (see ``analyse``).

    >>> rubric = load_rubric_for_genre(default_rubric_dir(), "narrative")  # doctest: +SKIP
    >>> s = suggest("once upon a time ther was a dragon", band_for_year(rubric, 3), rubric)
    ... # doctest: +SKIP
    """
    if year_group is None:
        year_group = min(band.year_groups)
    f = features or analyse(text, year_group=year_group, ignore_breaks=ignore_breaks,
                            paragraphs_known=paragraphs_known)
    out = []
    for crit in band.criteria:
        out.append(_suggest_one(crit, band, rubric, f, year_group))
    return out


def evidence_score(criterion_id: str, inputs: dict[str, float],
                   model: dict[str, dict[str, float]] | None = None) -> float:
    """A criterion's score on the Year 6+ level scale: the weighted inputs of MODEL.

    ``model`` replaces :data:`MODEL` (``benchmarks/fit_suggester.py`` tries candidates).
    """
    weights = (model or MODEL)[criterion_id]
    return weights["intercept"] + sum(w * inputs[k] for k, w in weights.items()
                                      if k != "intercept")


def level_score(crit: Criterion, f: Features, inputs: dict[str, float], band_id: str,
                model: dict[str, dict[str, float]] | None = None
                ) -> tuple[int, float, str | None]:
    """``(level, score, note)`` for one criterion of a band: the evidence score kept
    within what the descriptors allow, moved to the band, rounded to the nearest level
    1-5; ``note`` says why a level was held down by the band's own descriptors."""
    score = descriptor_bounds(crit.id, f, evidence_score(crit.id, inputs, model))
    score += BAND_SHIFT.get(band_id, {}).get(crit.id, 0)
    level = int(min(5, max(1, math.floor(score + 0.5))))
    note = None
    if crit.id == "text_structure":
        level, note = _paragraph_cap(crit, f, level)
    return level, score, note


def descriptor_bounds(criterion_id: str, f: Features, score: float) -> float:
    """Keep a Year 6+ score where the descriptors put the evidence, whatever the length.

    Spelling with no word out of 30 or more misspelt meets "spells most ... words
    correctly" (at least Level 3); more than one word in ten misspelt does not (at most 2).
    Punctuation or sentences wrong at half the sentence boundaries or more cannot be
    "mostly correct" (at most 2); all sentence punctuation right in three or more
    sentences is "correct most of the time" (at least 2). (Keeping a piece with none of
    the wider range, : ; ... - ( ), below "Experiments with a greater range of
    punctuation" was tried: agreement on Conventions fell from .51/.55 to .43/.45 on
    ASAP prompt 7 and from .60/.56 to .44/.45 on prompt 8, so it is not done.) Text
    Structure with no sign of an opening, a complication or an ending is "minimal evidence
    of narrative structure" (at most 1). One sign found no longer caps the level: the signs are found by word
    lists, which miss many real openings and endings (a scene set without a time phrase,
    an ending without a stock closing), so a missing sign is weaker evidence than a found
    one; the level then rests on the other evidence, and the teacher sees which signs
    were and were not found.
    """
    if criterion_id == "spelling" and f.checked_words:
        rate = f.misspelt.count / f.checked_words
        if rate == 0 and f.checked_words >= 30:
            score = max(score, 2.5)
        elif rate > 0.10:
            score = min(score, 2.49)
    elif criterion_id == "punctuation":
        accuracy = _sentence_accuracy(f)
        if accuracy < 0.5:
            score = min(score, 2.49)
        elif accuracy == 1 and f.sentences >= 3:
            score = max(score, 1.5)
    elif criterion_id == "sentence_structure" and _correct_share(f) < 0.5:
        score = min(score, 2.49)
    elif criterion_id == "text_structure":
        parts = sum(1 for found in (f.orientation, f.complication, f.ending) if found.count)
        score = min(score, 1.99) if parts == 0 else score
    return score


_PARAGRAPHS = re.compile(r"\bparagraphs\b", re.IGNORECASE)


def _paragraph_cap(crit: Criterion, f: Features, level: int) -> tuple[int, str | None]:
    """A single paragraph stays below the first level whose descriptor asks for
    paragraphs ("Paragraphs are evident...": Year 3 level 4, Year 6+ level 2), when the
    text's paragraphs are known."""
    needs = next((n for n in range(2, 6) if crit.levels.get(n) and
                  _PARAGRAPHS.search(crit.levels[n])), None)
    if not f.paragraphs_known or f.paragraphs > 1 or needs is None or level < needs:
        return level, None
    return needs - 1, (f"Level {needs} and above ask for paragraphs and this piece has "
                       f"one, so the suggestion stays at level {needs - 1}.")


def _reference_words(rubric: Rubric) -> int:
    """The calibration band's minimum length (Year 6+: 240 words in narrative.yaml)."""
    for band in rubric.bands:
        if band.id == TOP_BAND and band.min_words:
            return band.min_words
    return 240


def _suggest_one(crit: Criterion, band: Band, rubric: Rubric, f: Features,
                 year_group: int) -> Suggestion:
    name = rubric.criteria.get(crit.id, crit.name)
    if crit.missing:
        return Suggestion(
            crit.id, name, None, NO_SUGGESTION,
            reason=f"The rubric has no {name} descriptors for {band.label} (marked missing "
                   f"in {rubric.path.name if rubric.path else rubric.id}), so there is "
                   "nothing to suggest against. Score it from the school's own document.")
    if crit.id not in RULES:
        return Suggestion(crit.id, name, None, NO_SUGGESTION,
                          reason=f"scanflow has no evidence rules for '{crit.id}': score it "
                                 "by hand.")
    inputs, evidence = criterion_inputs(f, band, crit.id, year_group=year_group, rubric=rubric)
    level, score, note = level_score(crit, f, inputs, band.id)
    if note:
        evidence.append(Evidence(note))
    if crit.levels.get(level) is None:
        return Suggestion(
            crit.id, name, None, NO_SUGGESTION, evidence=evidence, score=round(score, 2),
            reason=f"The evidence points to level {level}, but the rubric has no {name} "
                   f"level {level} descriptor for {band.label} (marked missing).")
    confidence = JUDGEMENT if crit.id in JUDGEMENT_CRITERIA else SUGGESTED
    return Suggestion(crit.id, name, level, confidence, evidence=evidence,
                      descriptor=crit.levels.get(level), score=round(score, 2))


# -- evidence sentences ----------------------------------------------------------------


def _quote(found: Found, limit: int = EXAMPLES, distinct: bool = False) -> str:
    """The first ``limit`` words found, quoted; ``distinct``: each word once (a name
    used five times is one name)."""
    words = found.words
    if distinct:
        first: dict[str, str] = {}
        for w in words:
            first.setdefault(w.lower(), w)
        words = list(first.values())
    shown = ", ".join(f'"{_short(w)}"' for w in words[:limit])
    more = f" (+{len(words) - limit} more)" if len(words) > limit else ""
    return shown + more


def _short(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _clamp(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return max(lo, min(hi, x))


class _Scale:
    """How a band's expectations scale the evidence.

    ``length``: log2(words / the band's minimum), 0 at the minimum (the rubric's Level 3
    column is headed "Text = N+ words"), counted up to twice the minimum (1): the rubric
    asks for a length, not for ever more words, so beyond that the levels rest on what
    the words do. ``accuracy_length`` (Punctuation, Spelling) stops sooner, at about 1.4
    times the minimum (0.5): a piece that long already shows whether control is
    sustained, and a longer one is not more accurate for being longer. ``count()``
    compares a count with what a piece of the calibration band's minimum length would
    hold: a Year 2 piece of 60 words is read against a Year 6+ piece of 240 (different
    words grow more slowly than words, so their counts are scaled less). A band without a
    minimum in the rubric (Years 3 and 4 in narrative.yaml) uses the nearest younger
    band's, and says so in the evidence.
    """

    def __init__(self, f: Features, minimum: int | None, source: Band | None,
                 reference_words: int):
        self.minimum, self.source = minimum, source
        base = minimum or max(f.words, 1)  # no minimum anywhere: length is not judged
        self.length = min(math.log2(max(f.words, 1) / base), LENGTH_CAP)
        self.accuracy_length = min(self.length, ACCURACY_LENGTH_CAP)
        self.per = reference_words / base

    def count(self, n: float, distinct: bool = False) -> float:
        return math.log2(1 + n * (self.per ** 0.6 if distinct else self.per))


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


def _length_evidence(f: Features, band: Band, evidence: list[Evidence], s: _Scale) -> None:
    minimum, source = s.minimum, s.source
    if minimum is None or source is None:
        evidence.append(Evidence(
            f"{f.words} words; the rubric gives no minimum length for {band.label} or any "
            "younger band, so length is not judged."))
    elif source is band:
        relation = "at least" if f.words >= minimum else "below"
        evidence.append(Evidence(
            f"{f.words} words: {relation} the {band.label} minimum for Level 3 "
            f"({minimum}+ words)."))
    else:
        relation = "at least" if f.words >= minimum else "below"
        evidence.append(Evidence(
            f"{f.words} words. The rubric gives no minimum length for {band.label}; "
            f"compared with {source.label}'s ({minimum}+ words), the nearest younger band "
            f"that has one, it is {relation} that."))


def _sentence_accuracy(f: Features) -> float:
    """Share of sentence boundaries marked right: capital, end mark, no fused sentences."""
    joins = f.run_on_kinds["fused"] + f.run_on_kinds["comma splice"]
    boundaries = max(f.sentences, 1) + joins
    return 1 - (f.no_capital.count + f.no_end_mark.count + joins) / boundaries


def _correct_share(f: Features) -> float:
    return 1 - (f.run_ons.count + f.kinds["fragment"]) / max(f.sentences, 1)


def _distinct(found: Found) -> int:
    return len(found.distinct())


# -- one rule per criterion: evidence for the teacher, and the inputs of its score --------


def _spelling(f: Features, band: Band, evidence: list[Evidence], year: int,
              s: _Scale) -> dict[str, float]:
    rate = f.misspelt.count / max(f.checked_words, 1)
    missed = sorted(set(f.statutory_targets))
    if f.misspelt.count:
        evidence.append(Evidence(
            f"{f.misspelt.count} of {f.checked_words} words checked "
            f"{'is' if f.misspelt.count == 1 else 'are'} not in the "
            f"dictionary: {_quote(f.misspelt, 8)}", f.misspelt.spans))
    else:
        evidence.append(Evidence(f"All {f.checked_words} words checked are in the dictionary."))
    if year >= 1:
        listed = statutory_list_name(year)
        if missed:
            evidence.append(Evidence(
                f"{_plural(len(missed), 'word')} from the {listed} "
                + ("looks" if len(missed) == 1 else "look") + " misspelt: "
                + ", ".join(f'"{w}"' for w in missed[:8]), f.statutory_missed.spans))
        if f.statutory_ok.count:
            evidence.append(Evidence(
                f"{_plural(_distinct(f.statutory_ok), 'word')} from the {listed} spelt "
                f"correctly: {', '.join(f.statutory_ok.distinct()[:8])}", f.statutory_ok.spans))
    if f.challenging.count:
        evidence.append(Evidence(
            f"{_plural(f.challenging.count, 'more challenging word')} spelt correctly: "
            f"{_quote(f.challenging, 6)}", f.challenging.spans))
    if f.american.count:
        evidence.append(Evidence(
            f"{_plural(f.american.count, 'American spelling')} (not counted as errors): "
            f"{_quote(f.american)}", f.american.spans))
    if f.names.count:
        evidence.append(Evidence(
            f"{_plural(_distinct(f.names), 'name')} not spell-checked: "
            f"{_quote(f.names, distinct=True)}",
            f.names.spans))
    return {"length": s.accuracy_length, "error_rate": math.log2(1 + rate / 0.015),
            "challenging": s.count(f.challenging.count),
            "statutory_missed": min(len(missed), 3)}


def _punctuation(f: Features, band: Band, evidence: list[Evidence], year: int,
                 s: _Scale) -> dict[str, float]:
    n = max(f.sentences, 1)
    joins = f.run_on_kinds["fused"] + f.run_on_kinds["comma splice"]
    if f.no_capital.count:
        evidence.append(Evidence(
            f"{f.no_capital.count} of {_plural(n, 'sentence')} "
            f"{'starts' if f.no_capital.count == 1 else 'start'} without a capital: "
            f"{_quote(f.no_capital)}", f.no_capital.spans))
    if f.no_end_mark.count:
        evidence.append(Evidence(
            f"{f.no_end_mark.count} of {_plural(n, 'sentence')} "
            f"{'ends' if f.no_end_mark.count == 1 else 'end'} without a full stop, "
            f"! or ?: {_quote(f.no_end_mark)}", f.no_end_mark.spans))
    if joins:
        evidence.append(Evidence(
            f"{_plural(joins, 'place')} where a new sentence starts without a full stop "
            f"({f.run_on_kinds['comma splice']} with only a comma): {_quote(f.run_ons, 2)}",
            f.run_ons.spans))
    if f.lowercase_i.count:
        evidence.append(Evidence(
            f"'I' written as a small letter {_plural(f.lowercase_i.count, 'time')}",
            f.lowercase_i.spans))
    if not (f.no_capital.count or f.no_end_mark.count or joins):
        evidence.append(Evidence(f"All {_plural(n, 'sentence')} start with a capital and "
                                 "end with a full stop, ! or ?."))
    if f.commas:
        evidence.append(Evidence(f"{_plural(f.commas, 'comma')} in {_plural(n, 'sentence')}",
                                 f.variety["comma"].spans))
    else:
        evidence.append(Evidence("No commas."))
    if f.apostrophes_missing.count:
        evidence.append(Evidence(
            f"{_plural(f.apostrophes_missing.count, 'contraction')} without an apostrophe: "
            f"{_quote(f.apostrophes_missing)}", f.apostrophes_missing.spans))
    if f.apostrophes_ok.count:
        evidence.append(Evidence(
            f"{_plural(f.apostrophes_ok.count, 'apostrophe')} used: "
            f"{_quote(f.apostrophes_ok)}", f.apostrophes_ok.spans))
    if f.speech:
        evidence.append(Evidence(
            f"{_plural(f.speech, 'piece')} of direct speech; {f.speech_ok.count} punctuated "
            "inside the speech marks", f.speech_ok.spans + f.speech_unpunctuated.spans))
    if f.speech_unclosed.count:
        evidence.append(Evidence(
            f"{_plural(f.speech_unclosed.count, 'speech mark')} opened but not closed",
            f.speech_unclosed.spans))
    wider = [k for k in WIDER_PUNCTUATION if k in f.variety]
    if wider:
        evidence.append(Evidence(f"Wider range of punctuation: {', '.join(wider)}",
                                 [sp for k in wider for sp in f.variety[k].spans]))
    else:
        evidence.append(Evidence("No colons, semi-colons, ellipses, dashes, hyphens or "
                                 "brackets."))
    return {"length": s.accuracy_length, "sentence_accuracy": _sentence_accuracy(f),
            "commas": s.count(f.commas), "wider_range": len(wider),
            "missing_apostrophes": min(f.apostrophes_missing.count, 3),
            "lowercase_i": min(f.lowercase_i.count, 3),
            "speech": f.speech_ok.count - f.speech_unpunctuated.count - f.speech_unclosed.count}


def _sentence_structure(f: Features, band: Band, evidence: list[Evidence], year: int,
                        s: _Scale) -> dict[str, float]:
    k = f.kinds
    complex_n = k["complex"] + k["compound-complex"]
    evidence.append(Evidence(
        f"{_plural(f.sentences, 'sentence')} by clause analysis: {k['simple']} simple, "
        f"{k['compound']} compound, {complex_n} complex, {f.run_ons.count} run-on, "
        f"{k['fragment']} without a main clause",
        [sp for kind in ("complex", "compound-complex") for sp in f.kind_spans.get(kind, [])]))
    if f.run_ons.count:
        kinds = ", ".join(f"{v} {key}" for key, v in sorted(f.run_on_kinds.items()))
        evidence.append(Evidence(f"Run-on sentences ({kinds}): {_quote(f.run_ons, 3)}",
                                 f.run_ons.spans))
    if k["fragment"]:
        evidence.append(Evidence(f"{_plural(k['fragment'], 'sentence')} with no main clause",
                                 f.kind_spans.get("fragment", [])))
    if f.subordinators:
        evidence.append(Evidence(
            "Words starting subordinate clauses: "
            + ", ".join(f"{w} ({c})" for w, c in f.subordinators.most_common(8))))
    if f.sentence_lengths:
        evidence.append(Evidence(
            f"Sentence length: {f.mean_sentence_length:.0f} words on average "
            f"(shortest {min(f.sentence_lengths)}, longest {max(f.sentence_lengths)})",
            f.long_sentences.spans))
    openings = {t: c for t, c in f.opener_types.items() if t not in ("subject", "other")}
    if openings:
        evidence.append(Evidence(
            "Sentences not opening with the subject: "
            + ", ".join(f"{c} {t}" for t, c in sorted(openings.items()))))
    for found, what in ((f.fronted_subordinate, "open(s) with a subordinate clause"),
                        (f.non_finite, "ha(s/ve) a non-finite clause (-ing, -ed or to-)"),
                        (f.embedded, "ha(s/ve) an embedded (relative) clause")):
        if found.count:
            verb = what.replace("(s/ve)", "s" if found.count == 1 else "ve").replace(
                "(s)", "s" if found.count == 1 else "")
            evidence.append(Evidence(f"{_plural(found.count, 'sentence')} {verb}: "
                                     f"{_quote(found, 2)}", found.spans))
    return {"length": s.length, "correct_share": _correct_share(f),
            "subordinators": math.log2(1 + len(f.subordinators)),
            "openers": len(openings),
            "non_finite_embedded": min(f.non_finite.count + f.embedded.count, 3)}


def _vocabulary(f: Features, band: Band, evidence: list[Evidence], year: int,
                s: _Scale) -> dict[str, float]:
    precise = f.less_common.count + f.ly_adverbs.count
    evidence.append(Evidence(
        f"{f.distinct_content} different content words in {_plural(f.words, 'word')} "
        f"(lexical diversity MTLD {f.mtld:.0f}); average word length "
        f"{f.mean_word_length:.1f} letters"))
    if f.less_common.count:
        evidence.append(Evidence(
            f"{_plural(f.less_common.count, 'less common word')}: {_quote(f.less_common, 8)}",
            f.less_common.spans))
    else:
        evidence.append(Evidence("No less common words (all are everyday words)."))
    if f.ly_adverbs.count:
        evidence.append(Evidence(f"{_plural(f.ly_adverbs.count, 'adverb')} ending in -ly: "
                                 f"{_quote(f.ly_adverbs, 6)}", f.ly_adverbs.spans))
    if f.generic.count:
        common = ", ".join(f"{w} ({c})" for w, c in
                           Counter(w.lower() for w in f.generic.words).most_common(6))
        evidence.append(Evidence(f"Everyday words used {f.generic.count} times: {common}",
                                 f.generic.spans))
    return {"precise": s.count(precise), "diversity": f.mtld / 50,
            "word_length": f.mean_word_length, "content_words": s.count(f.distinct_content, distinct=True)}


def _cohesion(f: Features, band: Band, evidence: list[Evidence], year: int,
              s: _Scale) -> dict[str, float]:
    _length_evidence(f, band, evidence, s)
    distinct = f.connectives.distinct()
    if distinct:
        types = ", ".join(f"{t} {c}" for t, c in f.connective_types.most_common())
        evidence.append(Evidence(
            f"{_plural(len(distinct), 'different linking word')} ({types}): "
            + ", ".join(distinct[:10]), f.connectives.spans))
    else:
        evidence.append(Evidence("No linking words or phrases between ideas."))
    if f.referring.count:
        evidence.append(Evidence(f"{_plural(f.referring.count, 'referring word')} "
                                 "(he, she, it, they, this...)", f.referring.spans))
    if f.and_then.count > 2:
        evidence.append(Evidence(f"'and then' used {f.and_then.count} times",
                                 f.and_then.spans))
    if f.repeated_subjects.count:
        evidence.append(Evidence(
            "The same word opens several sentences in a row where a referring word could "
            f"be used: {_quote(f.repeated_subjects)}", f.repeated_subjects.spans))
    return {"length": s.length, "linking_words": s.count(len(distinct), distinct=True),
            "repeated_openers": min(f.repeated_subjects.count, 3),
            "and_then": min(f.and_then.count, 5)}


def _text_structure(f: Features, band: Band, evidence: list[Evidence], year: int,
                    s: _Scale) -> dict[str, float]:
    _length_evidence(f, band, evidence, s)
    parts = 0
    for found, what in ((f.orientation, "an opening that sets the scene"),
                        (f.complication, "a problem or turning point"),
                        (f.ending, "an ending or closing reflection")):
        if found.count:
            parts += 1
            evidence.append(Evidence(f"Signs of {what}: {_quote(found, 3)}", found.spans))
        else:
            evidence.append(Evidence(f"No clear sign of {what}."))
    if f.connective_types["time"]:
        evidence.append(Evidence(
            f"{_plural(f.connective_types['time'], 'time connective')} sequence events"))
    if not f.paragraphs_known:
        evidence.append(Evidence("Paragraph breaks are not known for this text."))
    elif f.paragraphs <= 1:
        evidence.append(Evidence("1 paragraph: no new paragraph on the page (a line left "
                                 "short, a skipped line or an indent) or in the text (a "
                                 "blank line)."))
    else:
        evidence.append(Evidence(f"{f.paragraphs} paragraphs."))
    return {"length": s.length, "parts": parts, "paragraphs": max(0, min(f.paragraphs - 1, 2)),
            "time_connectives": s.count(f.connective_types["time"]),
            "linking_words": s.count(len(f.connectives.distinct()), distinct=True),
            "correct_share": _correct_share(f)}


def _audience_ideas(f: Features, band: Band, evidence: list[Evidence], year: int,
                    s: _Scale) -> dict[str, float]:
    _length_evidence(f, band, evidence, s)
    evidence.append(Evidence(f"{f.distinct_content} different content words carry the ideas; "
                             f"{_plural(f.less_common.count, 'less common word')}"))
    if f.title:
        evidence.append(Evidence("Has a title", [f.title]))
    if f.speech:
        evidence.append(Evidence(f"{_plural(f.speech, 'piece')} of dialogue",
                                 f.speech_ok.spans + f.speech_unpunctuated.spans))
    if f.questions or f.exclamations:
        evidence.append(Evidence(f"{f.questions} question(s) and {f.exclamations} "
                                 "exclamation(s) to involve the reader"))
    feelings = sorted(set(w.lower() for w in f.feelings.words))
    if feelings:
        evidence.append(Evidence(f"Feelings and thoughts: {', '.join(feelings[:8])}",
                                 f.feelings.spans))
    if f.ending.count:
        evidence.append(Evidence(f"Closing reflection: {_quote(f.ending, 3)}", f.ending.spans))
    setting = len(set(w.lower() for w in f.setting.words)) + f.place_phrases.count
    parts = sum(1 for found in (f.orientation, f.complication, f.ending) if found.count)
    return {"content_words": s.count(f.distinct_content, distinct=True),
            "precise": s.count(f.less_common.count + f.ly_adverbs.count),
            "diversity": f.mtld / 50, "feelings": math.log2(1 + len(feelings)),
            "dialogue": math.log2(1 + f.speech),
            "reader_questions": float(f.questions + f.exclamations > 0),
            "characters": math.log2(1 + f.characters.count),
            "setting": math.log2(1 + setting), "parts": parts}


def _character_setting(f: Features, band: Band, evidence: list[Evidence], year: int,
                       s: _Scale) -> dict[str, float]:
    if f.characters.count:
        evidence.append(Evidence(f"Characters named or introduced: {_quote(f.characters, 6)}",
                                 f.characters.spans))
    else:
        evidence.append(Evidence("No character is named or introduced."))
    feelings = sorted(set(w.lower() for w in f.feelings.words))
    if feelings:
        evidence.append(Evidence(f"Thoughts, feelings and reactions: {', '.join(feelings[:8])}",
                                 f.feelings.spans))
    if f.speech:
        evidence.append(Evidence(f"{_plural(f.speech, 'piece')} of dialogue",
                                 f.speech_ok.spans + f.speech_unpunctuated.spans))
    setting = sorted(set(w.lower() for w in f.setting.words))
    if setting or f.place_phrases.count:
        evidence.append(Evidence(
            f"Time and place: {', '.join(setting[:8])}"
            + (f"; {_quote(f.place_phrases, 4)}" if f.place_phrases.count else ""),
            f.setting.spans + f.place_phrases.spans))
    else:
        evidence.append(Evidence("No words placing the story in time or place."))
    return {"length": s.length, "characters": math.log2(1 + f.characters.count),
            "feelings": math.log2(1 + len(feelings)), "dialogue": math.log2(1 + f.speech),
            "setting": math.log2(1 + len(setting) + f.place_phrases.count)}


RULES = {
    "audience_ideas": _audience_ideas,
    "character_setting": _character_setting,
    "vocabulary": _vocabulary,
    "punctuation": _punctuation,
    "spelling": _spelling,
    "text_structure": _text_structure,
    "sentence_structure": _sentence_structure,
    "cohesion": _cohesion,
}
# Signs the rubric fixes: these inputs can only lower a level; all others only raise it.
LOWERING = {"error_rate", "statutory_missed", "missing_apostrophes", "lowercase_i",
            "repeated_openers", "and_then"}
WIDER_PUNCTUATION = ("colon", "semi-colon", "ellipsis", "dash", "brackets", "hyphen")


def criterion_inputs(f: Features, band: Band, criterion_id: str, *, year_group: int,
                     rubric: Rubric) -> tuple[dict[str, float], list[Evidence]]:
    """The inputs of one criterion's score, and its evidence sentences."""
    evidence: list[Evidence] = []
    scale = _Scale(f, *length_minimum(rubric, band), _reference_words(rubric))
    inputs = RULES[criterion_id](f, band, evidence, year_group, scale)
    return inputs, evidence


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
    from scanflow.terms import HalfTerm

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
    """Where each line starts in :func:`scanflow.transcription.lines_text` of ``lines``."""
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
    from scanflow.transcription import get_version

    genre_row = archive.db.execute("SELECT genre FROM pieces WHERE id = ?",
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
    return PieceSuggestions(
        piece_id=piece_id, pupil_id=pupil_id, year_group=year_group, band_id=band.id,
        band_label=band.label, rubric_id=rubric.id, rubric_version=str(rubric.version),
        rubric_hash=content_hash(rubric), rubric_path=str(rubric.path) if rubric.path else None,
        transcription_version=version.number, text=text, words=features.words,
        min_words=band.min_words, suggestions=suggestions,
        level_labels={n: f"{lv.letter}, {lv.label}" for n, lv in rubric.levels.items()},
        descriptors={c.id: ({} if c.missing else {n: c.levels.get(n) for n in range(1, 6)})
                     for c in band.criteria})


_SCORE_COLUMNS = (
    "id, piece_id, criterion_id, criterion_name, level, level_descriptor, scorer, scored_at, "
    "note, suggested_level, suggestion_confidence, suggestion, band_id, year_group, rubric_id, "
    "rubric_version, rubric_hash, transcription_version, suggester_version, supersedes")


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
    from scanflow.pieces import get_piece

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
    source = (f"transcription version {r.transcription_version} (teacher's corrections)"
              if r.transcription_version else "the OCR text (not corrected yet)")
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
