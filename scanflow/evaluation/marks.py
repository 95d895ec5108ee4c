"""Which words the review screen marks for the teacher to check, and how far a teacher
can trust the marks.

A word is marked when it is not an English word (:func:`unknown_word`: not in Debian's
British word list, nor an American spelling of one of its words; a name or number is
never unknown by its digits) or when the recogniser was unsure of it (confidence 0-100
below :data:`UNSURE_BELOW`). For RapidOCR a word's confidence is the product of its
characters' CTC probabilities (:func:`scanflow.ocr.ctc.word_confidence`); Tesseract gives
its own word confidence.

Why the dictionary: the recogniser misreads handwriting into non-words far more often than
into other words, and its confidence separates right from wrong words poorly. On
``iam_dev_lines`` (3,220 words, 34 % of them read wrong) 26 % of words read were not in the
word list and 96 % of those were wrong; marking them holds 73 % of the wrong words, where
the confidence alone, marking as many, held 55 %. A child's own misspelling is marked too:
it is exactly what the teacher must check is kept as written (spelling is scored), so the
review screen says "not in the dictionary: keep it if the child wrote it so". Nothing is
ever changed towards the dictionary.

Marks are judged by two shares (:func:`mark_quality`, reported by ``scanflow eval``):
of the words read wrong, how many are marked (``wrong_marked``: a teacher who checks only
the marks finds these), and of all words read, how many are marked (``marked``: what the
teacher has to look at).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from rapidfuzz.distance import Levenshtein

from scanflow.errors import MissingDependency
from scanflow.evaluation.metrics import normalise
from scanflow.scoring.features import known_word
from scanflow.scoring.wordlists import Dictionary, load_dictionary

log = logging.getLogger(__name__)

# With the dictionary marking most misreadings, confidence adds the words read as another
# real word that the recogniser doubted. Measured on iam_dev_lines (recall of wrong words /
# share of words marked): dictionary alone 73.2 % / 25.9 %; with confidence below 20,
# 73.8 % / 26.6 %; below 30, 74.7 % / 27.3 % (iam_dev_pages: 69.7 % / 26.9 %); below 55
# (the threshold used alone before), 79.7 % / 32.2 %; confidence alone below 55, 50 % / 21 %
# (docs/recognition.md).
UNSURE_BELOW = 30.0
_EDGE = "\"'()[],.;:!?-\u2018\u2019\u201c\u201d"


def unknown_word(text: str, dictionary: Dictionary, names: frozenset[str] = frozenset()
                 ) -> bool:
    """Whether ``text`` (one word as read, punctuation and all) is not an English word, nor
    one of ``names`` (lower-cased: the school's pupils, whose stories name each other).

    >>> d = load_dictionary()  # doctest: +SKIP
    >>> [unknown_word(w, d) for w in ("dragon,", "becaus", "Sam's", "24th", "~~~")]  # doctest: +SKIP
    [False, True, False, False, False]
    """
    core = text.strip(_EDGE)
    if not re.search(r"[A-Za-z]", core) or re.search(r"\d", core):
        return False
    # The Spelling criterion's own judgement, so a word marked here is one it counts as
    # misspelt: hyphenated parts and regular forms ("Sam's", "unzipping") are known.
    return not known_word(core.lower().replace("\u2019", "'"), dictionary, names)


@functools.lru_cache(maxsize=1)
def marks_dictionary() -> Dictionary | None:
    """The word list marks are checked against; None (marks by confidence alone, said once
    in the log) when Debian's ``wbritish`` is not installed."""
    try:
        return load_dictionary()
    except MissingDependency as exc:
        log.warning("%s Words are marked by the recogniser's confidence alone.", exc)
        return None


def needs_check(text: str, confidence: float, dictionary: Dictionary | None,
                threshold: float = UNSURE_BELOW, names: frozenset[str] = frozenset()
                ) -> str | None:
    """Why the teacher should check this word: ``"unknown"`` (not an English word nor one
    of ``names``), ``"unsure"`` (the recogniser's confidence is below ``threshold``), or
    None."""
    if dictionary is not None and unknown_word(text, dictionary, names):
        return "unknown"
    if confidence < threshold:
        return "unsure"
    return None


@dataclass
class MarkCounts:
    """Words read, of them wrong, marked, and both (one page or summed over many)."""

    words: int = 0
    wrong: int = 0
    marked: int = 0
    wrong_marked: int = 0

    def __add__(self, other: "MarkCounts") -> "MarkCounts":
        return MarkCounts(self.words + other.words, self.wrong + other.wrong,
                          self.marked + other.marked, self.wrong_marked + other.wrong_marked)

    def to_dict(self) -> dict:
        return {"words": self.words, "wrong": self.wrong, "marked": self.marked,
                "wrong_marked": self.wrong_marked,
                "recall_of_wrong_words": round(self.wrong_marked / self.wrong, 4)
                if self.wrong else None,
                "share_of_words_marked": round(self.marked / self.words, 4)
                if self.words else None}


def wrong_words(reference: str, words: Sequence[str]) -> list[bool]:
    """For each word read, whether it is wrong: not matched to an identical reference
    word by a word-level edit alignment (case and punctuation count, as in CER).

    >>> wrong_words("the cat sat", ["the", "cot", "sat", "down"])
    [False, True, False, True]
    """
    ref = normalise(reference).split()
    hyp = [normalise(w) for w in words]
    wrong = [True] * len(hyp)
    for op in Levenshtein.opcodes(ref, hyp):
        if op.tag == "equal":
            for j in range(op.dest_start, op.dest_end):
                wrong[j] = False
    return wrong


def mark_quality(reference: str, words: Iterable[tuple[str, float]],
                 threshold: float = UNSURE_BELOW,
                 dictionary: Dictionary | None = None) -> MarkCounts:
    """Counts for one page: ``words`` are ``(text, confidence 0-100)`` in reading order,
    marked as :func:`needs_check` marks them (by confidence alone without a dictionary)."""
    words = list(words)
    wrong = wrong_words(reference, [w for w, _ in words])
    marked = [needs_check(w, c, dictionary, threshold) is not None for w, c in words]
    return MarkCounts(len(words), sum(wrong), sum(marked),
                      sum(w and m for w, m in zip(wrong, marked)))
