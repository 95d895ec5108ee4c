"""Which way up a page is, from evidence that holds on handwriting.

Tesseract's orientation detection is trained on print; on handwriting it guessed, and
turned upright IAM pages upside down (45 % CER on the dev pages instead of 12 %). Here
two pieces of evidence decide, and a page is turned only when they are clear:

* **the axis** (0/180 against 90/270): written lines are long horizontal bands, so the
  text boxes the detector finds are wide on an upright or upside-down page and tall on a
  sideways one. The share of box length in tall boxes decides.
* **the direction**: the recogniser reads the longest lines as they are and turned round.
  Upside-down English does not look like Latin script, so the model gives more of its
  probability to other scripts' classes (``foreign``, :class:`~scanflow.ocr.ctc.LineReading`):
  measured on upright pages, 2-600 times more when turned on IAM, 1.2-6 times on Hooker's
  cursive. A page is turned round only when it reads at least ``FOREIGN_RATIO`` times more
  foreign as it is than turned, *and* its letters are read more surely turned.

Every page gets an :class:`Orientation` with the figures behind the decision; it is
recorded as the ``orient`` step of the page's provenance.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, Sequence

import cv2
import numpy as np

# Without lines already read, the page is read at most this large for the decision: the
# detector finds handwritten lines as well at ~100 dpi, in a fraction of the time.
WORK_SIDE = 800
# Lines read both ways: the longest ones carry the most letters and the least doubt.
# Turned round, only each line's middle is read, at most MAX_ASPECT times as long as high
# (a dozen letters): the evidence is an average over letters, and the recogniser's time
# grows with the length read.
LINES = 5
MAX_ASPECT = 12
# Turned round, the first this many are read, and the rest only if they could still
# make the page turn (_stays_upright).
FIRST_TURNED = 2
# A sideways page needs this share of its text length in tall boxes.
SIDEWAYS_SHARE = 0.7
# Turning round needs the page this many times more foreign-looking as it is than turned
# (upright pages measured at most 0.84 on Hooker's cursive, under 0.5 on IAM) ...
FOREIGN_RATIO = 2.0
# ... and the turned reading's mean character probability higher.
# Fewer lines than this and there is nothing to decide on: the page stays as it is.
MIN_LINES = 2
_EPS = 1e-4  # keeps the ratio finite when a page reads as pure Latin
SETTINGS = {"method": "line shape + foreign-script probability read both ways",
            "lines": LINES, "max_aspect": MAX_ASPECT, "sideways_share": SIDEWAYS_SHARE,
            "foreign_ratio": FOREIGN_RATIO}


class LineReader(Protocol):
    """What the decision needs from an engine (:class:`~scanflow.ocr.rapid.RapidOcrEngine`
    provides it): text boxes in an image, and a reading of each with its confidence."""

    def find_lines(self, img: np.ndarray) -> list[np.ndarray]: ...

    def read_lines(self, img: np.ndarray, quads: Sequence[np.ndarray]) -> list: ...


@dataclass
class Orientation:
    """Clockwise degrees that turn the page upright, and the evidence."""

    rotate: int = 0
    reason: str = ""
    boxes: int = 0
    sideways_share: float = 0.0
    # per candidate turn: mean foreign-script probability and mean character probability
    foreign: dict[int, float] = field(default_factory=dict)
    score: dict[int, float] = field(default_factory=dict)
    # lines read turned round (the turned evidence is their mean): all of them, or the
    # first FIRST_TURNED when those already rule turning out
    turned_lines: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("foreign", "score"):
            out[key] = {str(k): v for k, v in getattr(self, key).items()}
        return out


def decide_orientation(grey: np.ndarray, reader: LineReader,
                       lines: Sequence[tuple[np.ndarray, Any]] | None = None) -> Orientation:
    """How far to turn ``grey`` (clockwise, 0/90/180/270) and why.

    ``lines`` are ``(quad, reading)`` pairs the engine already read on ``grey`` as it is
    (:meth:`~scanflow.ocr.rapid.RapidOcrEngine.read_boxes`); without them the page is
    detected and read here, at most ``WORK_SIDE`` pixels large.

    >>> decide_orientation(page_upside_down, get_engine("rapidocr")).rotate  # doctest: +SKIP
    180
    """
    img = grey
    if lines is None:
        scale = min(1.0, WORK_SIDE / max(1, max(grey.shape[:2])))
        if scale < 1.0:
            img = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        lines = [(q, None) for q in reader.find_lines(img)]
    found = Orientation(boxes=len(lines))
    if len(lines) < MIN_LINES:
        found.reason = "too few text boxes to tell: left as it is"
        return found
    tall = sum(max(_sides(q)) for q, _ in lines if _sides(q)[1] > _sides(q)[0])
    length = sum(max(_sides(q)) for q, _ in lines)
    found.sideways_share = round(tall / length, 3) if length else 0.0

    base = 90 if found.sideways_share >= SIDEWAYS_SHARE else 0
    if base:
        shape, img = img.shape, _turn(img, base)
        lines = [(_turn_quad(q, shape, base), None) for q, _ in lines]
    longest = sorted((pair for pair in lines if _sides(pair[0])[0] > _sides(pair[0])[1]),
                     key=lambda pair: -_sides(pair[0])[0])[:LINES]
    if len(longest) < MIN_LINES:
        found.reason = "too few line-shaped boxes to tell: left as it is"
        return found
    quads = [q for q, _ in longest]
    ahead = [r for _, r in longest]
    if any(r is None for r in ahead):
        ahead = reader.read_lines(img, quads)
    found.foreign[base] = round(float(np.mean([r.foreign for r in ahead])), 5)
    found.score[base] = round(float(np.mean([r.score for r in ahead])), 3)
    if base == 0 and found.foreign[base] < _EPS:
        # Reading the page turned round could not make it foreign_ratio times less foreign
        # than this (the ratio stays under 2 however Latin it reads turned): upright, and
        # the turned reading, 0.1 CPU-s a page, is saved. Measured: 7 of 19 real and
        # generated upright pages.
        found.rotate = 0
        found.reason = "upright: lines are horizontal and read as pure Latin script"
        return found
    # Each middle read turned round: its corners named from the opposite one (BR, BL,
    # TL, TR) cut it out turned, the same pixels as cutting it from the page turned,
    # without turning the whole page (5 CPU-ms).
    middles = [np.roll(_middle(q), 2, axis=0) for q in quads]
    back = reader.read_lines(img, middles[:FIRST_TURNED])
    if base != 0 or not _stays_upright(found.foreign[base], back, len(middles)):
        back += reader.read_lines(img, middles[FIRST_TURNED:])
    found.turned_lines = len(back)
    found.foreign[base + 180] = round(float(np.mean([r.foreign for r in back])), 5)
    found.score[base + 180] = round(float(np.mean([r.score for r in back])), 3)
    ratio = (found.foreign[base] + _EPS) / (found.foreign[base + 180] + _EPS)
    surer = found.score[base + 180] > found.score[base]
    # Upright needs no proof; on a sideways page staying put is wrong either way, so the
    # more Latin-looking of the two quarter turns is taken.
    flip = ratio > 1.0 if base == 90 else (ratio >= FOREIGN_RATIO and surer)
    found.rotate = (base + 180) % 360 if flip else base
    found.reason = {0: "upright: lines are horizontal and read as Latin script as they are",
                    180: "upside down: lines read as Latin script only turned round"
                    }.get(found.rotate, "sideways: the text boxes are tall")
    return found


def _stays_upright(foreign: float, first: list, lines: int) -> bool:
    """True when the first lines read turned round already make turning impossible,
    whatever the other lines would read: even if they were pure Latin (foreign 0), the
    page as it is could not be ``FOREIGN_RATIO`` times as foreign as turned. Upright
    pages read garbage turned round, so this saves reading most of their lines twice
    (12 CPU-ms a page) and decides exactly as reading them all."""
    # The mean over all lines is at least what the first add up to, over all of them;
    # rounding to 5 places, as the evidence is kept, moves it at most 0.5e-5.
    least = sum(r.foreign for r in first) / lines - 1e-5
    return (foreign + _EPS) / (max(least, 0.0) + _EPS) < FOREIGN_RATIO


def _middle(quad: np.ndarray) -> np.ndarray:
    """The middle of a line box, at most ``MAX_ASPECT`` times as long as high."""
    from scanflow.ocr.rapid import quad_part

    w, h = _sides(quad)
    keep = min(1.0, MAX_ASPECT * h / max(w, 1.0))
    return quad_part(np.asarray(quad, dtype=np.float64), (1 - keep) / 2, (1 + keep) / 2)


def _sides(quad: np.ndarray) -> tuple[float, float]:
    """(extent along x, extent along y) of a box, from its edges' directions."""
    q = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    edges = np.diff(np.vstack([q, q[:1]]), axis=0)
    return float(np.abs(edges[:, 0]).sum() / 2), float(np.abs(edges[:, 1]).sum() / 2)


def _turn(img: np.ndarray, degrees: int) -> np.ndarray:
    from scanflow.ocr.preprocess import rotate_right_angle

    return rotate_right_angle(img, degrees)


def _turn_quad(quad: np.ndarray, shape: tuple[int, ...], degrees: int) -> np.ndarray:
    """``quad`` on an image of ``shape`` turned ``degrees`` clockwise, corners reordered
    TL, TR, BR, BL on the turned image."""
    h, w = shape[:2]
    q = np.asarray(quad, dtype=np.float64).reshape(4, 2)
    x, y = q[:, 0], q[:, 1]
    turns = {0: (x, y), 90: (h - 1 - y, x), 180: (w - 1 - x, h - 1 - y), 270: (y, w - 1 - x)}
    tx, ty = turns[degrees % 360]
    pts = np.stack([tx, ty], axis=1)
    # A clockwise turn by k quarters moves corner i to position (i + k) mod 4.
    return np.roll(pts, (degrees % 360) // 90, axis=0)


@functools.lru_cache(maxsize=1)
def shared_reader(threads: int = 1) -> LineReader | None:
    """A RapidOCR engine to decide orientation for engines that cannot (Tesseract), or
    ``None`` when RapidOCR is not installed."""
    from scanflow.errors import EngineUnavailable
    from scanflow.ocr.engine import get_engine

    try:
        return get_engine("rapidocr", threads=threads)
    except EngineUnavailable:
        return None


def orient_with(reader: LineReader | None = None, found: Orientation | None = None):
    """The ``grey -> (degrees, evidence)`` callable :func:`~scanflow.ocr.preprocess.prepare`
    takes: deciding with ``reader``, or applying a decision already ``found``. Without
    either the page stays as it is, with that said in the evidence."""

    def orient(grey: np.ndarray) -> tuple[int, dict[str, Any]]:
        decision = found
        if decision is None:
            decision = (decide_orientation(grey, reader) if reader is not None else
                        Orientation(reason="RapidOCR is not installed: page left as it is"))
        return decision.rotate, decision.to_dict()

    orient.settings = SETTINGS  # type: ignore[attr-defined]
    return orient
