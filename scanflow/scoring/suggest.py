"""Suggesting a level per criterion from the text, with the evidence it rests on.

A *suggestion* is worked out from the teacher-corrected transcription
(:func:`scanflow.archive.transcription.current_text`) by :mod:`scanflow.scoring.features`: one per
criterion of the pupil's band, each with the counts and highlighted spans it rests on
("3 of 11 sentences start without a capital: ..."). Three kinds:

* ``suggested``: a level the evidence supports (Vocabulary, Punctuation, Spelling, Text
  Structure, Sentence Structure, Cohesion);
* ``teacher judgement``: Audience and Ideas, Character and Setting. The evidence is
  shown with the level it points to, but these are the teacher's call: they are never
  accepted in bulk;
* ``no suggestion``: the rubric has no descriptors for this criterion in this band
  (marked missing in the rubric file). Nothing is invented in its place.

The teacher's confirmed levels are :mod:`scanflow.scoring.scores`; each criterion's rule
is :mod:`scanflow.scoring.criteria`.

How evidence becomes a level: each criterion's rule (below) turns the features into a
few inputs, measured against the band (length against the band's own minimum, "Text =
N+ words", the Level 3 length; counts against what that length holds). :data:`MODEL`
weighs them into a score on the Year 6+ scale (the rubric's fullest band), kept inside
what the descriptors allow (:func:`descriptor_bounds`), then moved to the pupil's band
by :data:`BAND_SHIFT`. The score (for example 2.6) is rounded to the nearest level and
kept with the suggestion. ``benchmarks/agreement.py`` measures the levels against human
raters.

>>> from scanflow.scoring.rubric_file import default_rubric_dir, load_rubric_for_genre
>>> rubric = load_rubric_for_genre(default_rubric_dir(), "narrative")  # doctest: +SKIP
>>> [(s.criterion_id, s.level) for s in suggest("Once upon a time ther was a dragon.",
...                                              band_for_year(rubric, 3), rubric)][:1]  # doctest: +SKIP
[('audience_ideas', 1)]
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from scanflow.errors import UsageError
from scanflow.scoring.criteria import (
    RULES,
    Evidence,
    correct_share,
    criterion_inputs,
    sentence_accuracy,
)
from scanflow.scoring.features import Features, analyse
from scanflow.scoring.rubric import Band, Criterion, Rubric

SUGGESTER_VERSION = "3"
SUGGESTED = "suggested"
JUDGEMENT = "teacher judgement"
NO_SUGGESTION = "no suggestion"
JUDGEMENT_CRITERIA = {"audience_ideas", "character_setting"}
# Criteria that read the text letter by letter: on recognised text a reading error
# ('gave' read as 'gaye') would count as the child's mistake, so they wait for a teacher.
WAIT_FOR_REVIEW = {"spelling", "punctuation"}

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
    # False while the text is as the recogniser read it and no teacher has reviewed it:
    # the suggestions say so, and those in WAIT_FOR_REVIEW are not made.
    reviewed: bool = True

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


def awaiting_review(s: Suggestion) -> Suggestion:
    """``s`` withheld until a teacher has reviewed the text (see ``WAIT_FOR_REVIEW``)."""
    return Suggestion(
        s.criterion_id, s.criterion_name, None, NO_SUGGESTION,
        reason=f"{s.criterion_name} waits for the reviewed text: this is the text as the "
               "recogniser read it, and its reading mistakes would be counted as the "
               "child's. Correct the transcription (or mark it reviewed), then score again.")


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
        accuracy = sentence_accuracy(f)
        if accuracy < 0.5:
            score = min(score, 2.49)
        elif accuracy == 1 and f.sentences >= 3:
            score = max(score, 1.5)
    elif criterion_id == "sentence_structure" and correct_share(f) < 0.5:
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
