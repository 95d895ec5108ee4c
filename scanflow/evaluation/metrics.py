"""Character and word error rates, for one text or a whole corpus.

Edit distances are Levenshtein distances (insertions, deletions, substitutions, each
costing 1) from :mod:`rapidfuzz`; the word error rate runs the same algorithm on lists of
word tokens. Both texts are first passed through :func:`normalise`, which always collapses
whitespace (so line breaks and double spaces are not errors) and can also ignore case and
punctuation.

A corpus rate is *total edits / total reference length*, not the mean of per-text rates:
a one-word line with one error must not weigh as much as a full page.

>>> round(cer("abc", "abd"), 4)
0.3333
>>> wer("the cat sat", "the cat sad")  # doctest: +ELLIPSIS
0.333...
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

_WHITESPACE = re.compile(r"\s+")


def normalise(text: str, case: bool = True, punctuation: bool = True) -> str:
    """Collapse whitespace; ``case=False`` lowercases, ``punctuation=False`` removes
    punctuation and symbols (Unicode categories P* and S*).

    ``case`` and ``punctuation`` say whether those *count*: the defaults keep both.

    >>> normalise("  Once upon\\n a  time. ")
    'Once upon a time.'
    >>> normalise("Don't -- STOP!", case=False, punctuation=False)
    'dont stop'
    """
    text = unicodedata.normalize("NFC", text or "")
    if not case:
        text = text.casefold()
    if not punctuation:
        text = "".join(ch for ch in text if unicodedata.category(ch)[0] not in "PS")
    return _WHITESPACE.sub(" ", text).strip()


@dataclass
class ErrorCount:
    """Edits needed to turn the hypothesis into the reference, and the reference length."""

    edits: int = 0
    length: int = 0

    @property
    def rate(self) -> float:
        """edits / length; an empty reference gives 0.0 if nothing was read, else 1.0."""
        if self.length == 0:
            return 0.0 if self.edits == 0 else 1.0
        return self.edits / self.length

    def __add__(self, other: "ErrorCount") -> "ErrorCount":
        return ErrorCount(self.edits + other.edits, self.length + other.length)


def char_errors(ref: str, hyp: str, case: bool = True, punctuation: bool = True) -> ErrorCount:
    r, h = normalise(ref, case, punctuation), normalise(hyp, case, punctuation)
    return ErrorCount(Levenshtein.distance(r, h), len(r))


def word_errors(ref: str, hyp: str, case: bool = True, punctuation: bool = True) -> ErrorCount:
    r = normalise(ref, case, punctuation).split()
    h = normalise(hyp, case, punctuation).split()
    return ErrorCount(Levenshtein.distance(r, h), len(r))


def cer(ref: str, hyp: str, case: bool = True, punctuation: bool = True) -> float:
    """Character error rate of ``hyp`` against the reference ``ref`` (can exceed 1)."""
    return char_errors(ref, hyp, case, punctuation).rate


def wer(ref: str, hyp: str, case: bool = True, punctuation: bool = True) -> float:
    """Word error rate: edit distance between the word token lists / reference words."""
    return word_errors(ref, hyp, case, punctuation).rate


class Corpus:
    """Accumulates errors over many texts; rates are total edits / total reference length.

    >>> c = Corpus()
    >>> _ = c.add("abcd", "abcd"); _ = c.add("ab", "xy")
    >>> round(c.cer, 4)  # 2 edits / 6 chars, not the mean of 0 and 1
    0.3333
    """

    def __init__(self, case: bool = True, punctuation: bool = True):
        self.case = case
        self.punctuation = punctuation
        self.chars = ErrorCount()
        self.words = ErrorCount()
        self.texts = 0

    def add(self, ref: str, hyp: str) -> tuple[ErrorCount, ErrorCount]:
        """Add one text; returns its (character, word) error counts."""
        c = char_errors(ref, hyp, self.case, self.punctuation)
        w = word_errors(ref, hyp, self.case, self.punctuation)
        self.chars += c
        self.words += w
        self.texts += 1
        return c, w

    @property
    def cer(self) -> float:
        return self.chars.rate

    @property
    def wer(self) -> float:
        return self.words.rate


def corpus_rates(pairs, case: bool = True, punctuation: bool = True) -> tuple[float, float]:
    """(CER, WER) over ``(reference, hypothesis)`` pairs, aggregated total/total."""
    corpus = Corpus(case, punctuation)
    for ref, hyp in pairs:
        corpus.add(ref, hyp)
    return corpus.cer, corpus.wer
