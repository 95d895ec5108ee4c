"""PP-OCR's line recogniser run directly through onnxruntime, decoded for English only.

RapidOCR decodes the recogniser's output by taking, at every time step, the most likely of
its 18,710 classes (mostly CJK) and deleting what is not wanted afterwards: a handwritten
"m" read as a CJK character becomes nothing, although "m" was the second choice. Here
the classes a child's English page cannot contain are masked *before* the CTC argmax
(:func:`latin_mask`), so the best Latin reading wins; and the probability of every
character read is kept (:class:`LineReading`), which is what word confidence is made of
(:func:`word_confidence`).

Input scaling and batching follow RapidOCR 3.10's ``TextRecognizer`` (height 48, width
in proportion, batches of 6 sorted by width), so with the mask off the text is the same.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from scanflow.ocr.lineprep import fit_line

HEIGHT = 48
MIN_WIDTH = 320  # RapidOCR's rec_img_shape: narrower lines are padded to this
BATCH = 6

# Characters the recogniser (a Chinese + multilingual model) emits that have a plain
# English equivalent. Full-width ASCII (，：（）...) is handled by NFKC normalisation.
CHAR_MAP = {
    "。": ".", "、": ",", "﹒": ".", "·": ".", "‧": ".",
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "`": "'", "´": "'",
    "“": '"', "”": '"', "„": '"', "«": '"', "»": '"',
    "–": "-", "—": "-", "―": "-", "‐": "-", "‑": "-", "−": "-",
    "…": "...", "×": "x",
    "「": '"', "」": '"', "『": '"', "』": '"', "【": "(", "】": ")", "《": '"', "》": '"',
}

# What a child's English writing can contain: letters, digits, the punctuation and signs
# taught in primary school, and Latin letters with accents (café, naïve, names). Not the
# keyboard-only ASCII (\ ^ _ { } | ~ < > `): a stroke read as "|" is an "l" or "I".
ALLOWED = re.compile(r"[ A-Za-z0-9!\"#$%&'()*+,\-./:;=?@\[\]£€À-ÖØ-öø-ÿ]")


@functools.lru_cache(maxsize=None)  # called for every character read; 18,710 classes at most
def english(char: str) -> str:
    """``char`` as English writing would show it ('' when it has no place there).

    >>> english("。"), english("Ａ"), english("狗"), english("|")
    ('.', 'A', '', '')
    """
    out = CHAR_MAP.get(char, char)
    out = unicodedata.normalize("NFKC", out)
    out = "".join(CHAR_MAP.get(c, c) for c in out)
    return out if out and all(ALLOWED.match(c) for c in out) else ""


def latin_mask(characters: Sequence[str]) -> np.ndarray:
    """Which of the recogniser's classes may be read: blank (class 0) and every class
    whose character has an English form (:func:`english`)."""
    mask = np.array([bool(english(c)) for c in characters], dtype=bool)
    mask[0] = True
    return mask


@dataclass
class LineReading:
    """What the recogniser read in one line image.

    ``chars`` are ``(text, probability, first column, last column)``: the character in its
    English form, the recogniser's probability for it (the highest over the time steps it
    spans), and the time steps it spans. ``width`` is the share of the time steps that
    cover the line (the rest is padding). ``foreign`` measures how little the line looks
    like Latin script to the model: the probability it gives to classes English writing
    cannot hold, averaged over the time steps that are not blank (an upside-down line of
    English scores several times higher than the same line upright).
    """

    chars: list[tuple[str, float, int, int]] = field(default_factory=list)
    steps: int = 1
    width: float = 1.0
    foreign: float = 0.0  # mean probability given to non-Latin classes where ink was seen

    @property
    def text(self) -> str:
        return "".join(c for c, _, _, _ in self.chars)

    @property
    def score(self) -> float:
        """Mean character probability (RapidOCR's line score); 0 when nothing was read."""
        probs = [p for c, p, _, _ in self.chars if not c.isspace()]
        return float(np.mean(probs)) if probs else 0.0

    def words(self) -> list[tuple[str, float, float, float]]:
        """``(word, confidence 0..1, start, end)`` with start/end as shares of the line's
        length, for each space-separated word."""
        out, current = [], []
        for item in self.chars + [(" ", 1.0, 0, 0)]:
            if item[0].isspace():
                if current:
                    text = "".join(c for c, _, _, _ in current)
                    scale = self.width * self.steps
                    start = max(0.0, current[0][2] / scale)
                    end = min(1.0, (current[-1][3] + 1) / scale)
                    out.append((text, word_confidence([p for _, p, _, _ in current]),
                                start, max(end, start + 1e-3)))
                current = []
            else:
                current.append(item)
        return out


def word_confidence(probs: Sequence[float]) -> float:
    """The chance that every letter of the word is right: the product of its characters'
    probabilities. One doubtful letter makes the word doubtful, and so does a long run of
    merely likely ones. Calibrated against the least sure letter alone, the margin over
    the runner-up class and the blank steps between letters, on iam_dev_pages: this put
    the most wrong words among the quarter of words marked (docs/recognition.md).

    >>> round(word_confidence([0.99, 0.5, 0.9]), 3)
    0.446
    """
    return float(np.prod(probs)) if len(probs) else 0.0


def decode(probs: np.ndarray, characters: Sequence[str], mask: np.ndarray | None
           ) -> list[tuple[str, float, int, int]]:
    """Greedy CTC decoding of one line's ``(steps, classes)`` probabilities into
    characters as in :class:`LineReading`.

    Masked classes are never chosen; the probability kept for a character is the one the
    model gave it (not renormalised), so a letter chosen only because the model's first
    choice was masked keeps its low probability.
    """
    if mask is None:
        best = probs.argmax(axis=1)
    else:
        # The best of the allowed columns only (about 150 of 18,710): the same choice as
        # masking the others out, without copying the whole output for every line.
        allowed = np.flatnonzero(mask)
        best = allowed[probs[:, allowed].argmax(axis=1)]
    prob = np.take_along_axis(probs, best[:, None], axis=1)[:, 0]
    chars: list[tuple[str, float, int, int]] = []
    t, n = 0, len(best)
    while t < n:
        end = t
        while end + 1 < n and best[end + 1] == best[t]:
            end += 1
        cls = int(best[t])
        if cls != 0:
            text = english(characters[cls]) if mask is not None else characters[cls]
            if text:
                chars.append((text, float(prob[t:end + 1].max()), t, end))
        t = end + 1
    return chars


def cpu_session(model_path: Path, threads: int = 1):
    """An onnxruntime session on the CPU with ``threads`` threads that sleep between runs.

    onnxruntime's threads spin while they wait for work by default: measured on a page with
    2 threads, 2.18 CPU-s of which 0.5 were spent waiting, against 1.65 with spinning off
    for the same wall time; the cores they would burn belong to the other workers.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model_path), sess_options=options,
                                providers=["CPUExecutionProvider"])


class LineRecogniser:
    """The recogniser ONNX model, its character list (from the model's own metadata) and
    the Latin-only mask; reads line images (RGB or grey, any size). With ``fit`` each line
    is first stretched to the letter spacing the recogniser reads best
    (:func:`scanflow.ocr.lineprep.fit_line`); without, it is scaled as RapidOCR does."""

    def __init__(self, model_path: Path, threads: int = 1, latin_only: bool = True,
                 fit: bool = True):
        self.session = cpu_session(model_path, threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        # As RapidOCR builds it: blank first, the model's characters, then the space.
        self.characters = ["blank", *meta["character"].splitlines(), " "]
        self.latin = latin_mask(self.characters)
        self.mask = self.latin if latin_only else None
        self.fit = bool(fit)
        self.latin_classes = np.flatnonzero(self.latin)
        self.input = self.session.get_inputs()[0].name

    def read(self, images: Sequence[np.ndarray]) -> list[LineReading]:
        """One :class:`LineReading` per image, in the order given."""
        results: list[LineReading] = [LineReading()] * len(images)
        if self.fit:
            # A uniform stretch: where a word lies, as a share of the line, is unchanged.
            images = [fit_line(img)[0] for img in images]
        ratios = [img.shape[1] / max(1, img.shape[0]) for img in images]
        order = np.argsort(ratios, kind="stable")
        for start in range(0, len(images), BATCH):
            batch = order[start:start + BATCH]
            widest = max([MIN_WIDTH / HEIGHT] + [ratios[i] for i in batch])
            padded = int(HEIGHT * widest)
            tensors, widths = [], []
            for i in batch:
                tensor, used = normalise_line(images[i], padded)
                tensors.append(tensor)
                widths.append(used / padded)
            probs = self.session.run(None, {self.input: np.stack(tensors)})[0]
            for j, i in enumerate(batch):
                results[i] = LineReading(decode(probs[j], self.characters, self.mask),
                                         steps=probs.shape[1], width=widths[j],
                                         foreign=self._foreign(probs[j], widths[j]))
        return results

    def _foreign(self, probs: np.ndarray, width: float) -> float:
        seen = probs[: max(1, int(np.ceil(len(probs) * width)))]
        seen = seen[seen[:, 0] < 0.5]
        # What the blank and the Latin classes leave of each step's probability (the
        # model's output is a softmax): 150 columns summed instead of 18,560.
        foreign = 1.0 - seen[:, self.latin_classes].sum(axis=1)
        return float(np.clip(foreign, 0.0, 1.0).mean()) if len(seen) else 0.0


def normalise_line(img: np.ndarray, padded: int) -> tuple[np.ndarray, int]:
    """The line scaled to height 48, as RapidOCR feeds it (CHW float32, values -1..1),
    zero-padded on the right to ``padded``, and the width it fills."""
    h, w = img.shape[:2]
    width = min(padded, int(math.ceil(HEIGHT * w / max(1, h))))
    resized = cv2.resize(img, (max(1, width), HEIGHT)).astype(np.float32)
    out = np.zeros((3, HEIGHT, padded), dtype=np.float32)
    # A grey line is scaled once and given as all three channels: the same values as
    # scaling it as RGB (checked on 300 IAM and Hooker lines), a third of the work.
    planes = resized if resized.ndim == 2 else resized.transpose(2, 0, 1)
    out[:, :, :width] = (planes / 255.0 - 0.5) / 0.5
    return out, width
