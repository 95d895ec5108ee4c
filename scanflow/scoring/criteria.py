"""Each criterion's rule: the inputs a level rests on, and the evidence a teacher sees.

Comes in: the :class:`~scanflow.scoring.features.Features` of a text and the pupil's
band. Goes out: per criterion, a few numbers measured against the band (length against
the band's own minimum, counts against what that length holds) and the sentences of
:class:`Evidence` that quote where in the text they come from. :mod:`scanflow.scoring.suggest`
weighs the numbers into a level; nothing here reads the archive.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scanflow.scoring.features import Features, Found
from scanflow.scoring.rubric import Band, Rubric, length_minimum  # noqa: F401 (used here, and by callers)
from scanflow.scoring.wordlists import statutory_list_name

TOP_BAND = "year6plus"
EXAMPLES = 4  # quoted examples per evidence sentence
LENGTH_CAP = 1.0  # length counts up to twice the band's minimum (see _Scale)
ACCURACY_LENGTH_CAP = 0.5  # ... and for Punctuation and Spelling up to about 1.4 times


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


def _reference_words(rubric: Rubric) -> int:
    """The calibration band's minimum length (Year 6+: 240 words in narrative.yaml)."""
    for band in rubric.bands:
        if band.id == TOP_BAND and band.min_words:
            return band.min_words
    return 240


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


def sentence_accuracy(f: Features) -> float:
    """Share of sentence boundaries marked right: capital, end mark, no fused sentences."""
    joins = f.run_on_kinds["fused"] + f.run_on_kinds["comma splice"]
    boundaries = max(f.sentences, 1) + joins
    return 1 - (f.no_capital.count + f.no_end_mark.count + joins) / boundaries


def correct_share(f: Features) -> float:
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
    return {"length": s.accuracy_length, "sentence_accuracy": sentence_accuracy(f),
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
    return {"length": s.length, "correct_share": correct_share(f),
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
            "correct_share": correct_share(f)}


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
