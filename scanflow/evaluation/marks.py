"""Which words the review screen marks as unsure, and how far a teacher can trust the marks.

A word is marked when its confidence (0-100) is below :data:`UNSURE_BELOW`. For RapidOCR
a word's confidence is the product of its characters' CTC probabilities
(:func:`scanflow.ocr.ctc.word_confidence`); Tesseract gives its own word confidence.

Marks are judged by two shares (:func:`mark_quality`, reported by ``scanflow eval``):
of the words read wrong, how many are marked (``wrong_marked``: a teacher who checks only
the marks finds these), and of all words read, how many are marked (``marked``: what the
teacher has to look at). The threshold is calibrated on the development pages
(``scanflow eval ../shared/eval/handwriting/iam_dev_pages --json`` reports both shares).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from rapidfuzz.distance import Levenshtein

from scanflow.evaluation.metrics import normalise

# Calibrated on iam_dev_lines (3,220 words, 34 % wrong) with lines fitted
# (scanflow.ocr.lineprep), checked on iam_dev_pages (other writers, 683 words, 37 % wrong):
# there it marks 24 % of words holding 53 % of the wrong ones (lines: 22 %, 50 %). With over
# a third of words wrong, a quarter of them could hold at most 68 %. 50 marks 20 % of the
# pages' words holding 46 %; 58 marks 26 % holding 55 %. docs/recognition.md has the curve.
UNSURE_BELOW = 55.0


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
                 threshold: float = UNSURE_BELOW) -> MarkCounts:
    """Counts for one page: ``words`` are ``(text, confidence 0-100)`` in reading order."""
    words = list(words)
    wrong = wrong_words(reference, [w for w, _ in words])
    marked = [c < threshold for _, c in words]
    return MarkCounts(len(words), sum(wrong), sum(marked),
                      sum(w and m for w, m in zip(wrong, marked)))
