"""A line image made the shape the recogniser reads best, before it is read.

PP-OCR's recogniser scales every line to 48 pixels high, width in proportion, and
emits one CTC time step per 8 pixels of width. It learnt mostly from print, whose letters
are about as wide as the line is high; handwriting's letters are narrow against its line
height (tall ascenders and loops, descenders, cursive joins), so at 48 pixels high a
handwritten line gets about 1.5 time steps a letter, too few for CTC to place a letter
and the blank that must separate a doubled one ("ll", "ee"). Letters were merged or
dropped and "m"/"n", "u"/"n", "a"/"o" confused.

:func:`fit_line` therefore stretches the line horizontally so that the distance between
the vertical strokes of its letters (:func:`stroke_pitch`, measured across the band where
the small letters are) comes to :data:`TARGET_PITCH` pixels at the recogniser's scale, and
resizes it to the recogniser's height with area averaging (a line 100-200 pixels high is
shrunk 2-4 times; the default bilinear resize skips rows and breaks thin strokes).
The stretch is bounded (:data:`STRETCH`), so a line whose strokes cannot be measured
is read much as before.

Measured on ``iam_dev_lines`` (423 real lines, recognition alone): CER 12.0 % → 9.3 %; a
fixed stretch of 1.3 for every line gave 9.5 %, 1.1 gave 10.2 %. Pages and the other sets:
docs/recognition.md. Nothing here knows a word of English: a misspelling is read as
written.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

HEIGHT = 48  # the recogniser's input height
# Pixels between vertical strokes at the recogniser's scale. Chosen on iam_dev_lines
# (CER 9.3 % at 10-11, 9.5 % at 13, 9.8 % at 15), checked on the pages.
TARGET_PITCH = 11.0
# Least and most a line is stretched: a line of print or capitals (wide strokes apart)
# is never squeezed much, and a scribble measured wrongly is not blown up.
STRETCH = (0.9, 1.8)


@dataclass
class LineFit:
    """How one line image was fitted: its stroke pitch in its own pixels (``None`` when
    no strokes could be measured) and the horizontal stretch applied."""

    pitch: float | None
    stretch: float


def _ink(grey: np.ndarray) -> np.ndarray:
    _, ink = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return ink


def core_band(ink: np.ndarray) -> tuple[int, int]:
    """Rows ``(top, bottom)`` of the band where the small letters are: the rows around
    the densest one that hold at least half as much ink (ascenders and descenders are
    sparse, so they fall outside)."""
    profile = np.convolve(ink.sum(axis=1).astype(np.float64), np.ones(3) / 3, mode="same")
    if profile.max() <= 0:
        return 0, ink.shape[0]
    peak = int(np.argmax(profile))
    floor = profile[peak] / 2
    top = bottom = peak
    while top > 0 and profile[top - 1] >= floor:
        top -= 1
    while bottom < len(profile) - 1 and profile[bottom + 1] >= floor:
        bottom += 1
    return top, bottom + 1


def stroke_pitch(grey: np.ndarray) -> float | None:
    """Mean horizontal distance, in ``grey``'s pixels, between the strokes that cross the
    middle half of the small letters' band: the writing's width from first to last ink
    column over the mean number of strokes a row there crosses. ``None`` when the line
    holds no ink (or too little to measure)."""
    ink = _ink(grey)
    columns = np.flatnonzero(ink.any(axis=0))
    if len(columns) < 2:
        return None
    top, bottom = core_band(ink)
    quarter = (bottom - top) // 4
    rows = ink[top + quarter:bottom - quarter] if bottom - top >= 4 else ink[top:bottom]
    strokes = (np.diff(rows.astype(np.int8), axis=1) == 1).sum(axis=1) + rows[:, 0]
    crossed = float(strokes.mean()) if len(strokes) else 0.0
    if crossed < 1.0:
        return None
    return (columns[-1] - columns[0] + 1) / crossed


def fit_line(img: np.ndarray, target_pitch: float = TARGET_PITCH,
             stretch: tuple[float, float] = STRETCH) -> tuple[np.ndarray, LineFit]:
    """``img`` (a line, grey or RGB) at the recogniser's height, stretched so its strokes
    are ``target_pitch`` pixels apart (see the module docstring), and how it was fitted.

    >>> line = np.full((100, 600), 255, np.uint8)
    >>> line[30:70, 10:590:20] = 0  # strokes 20 px apart: under 10 px at height 48
    >>> out, fit = fit_line(line)
    >>> out.shape[0], round(fit.pitch), round(fit.stretch, 2)
    (48, 19, 1.18)
    """
    h, w = img.shape[:2]
    grey = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    pitch = stroke_pitch(grey) if h >= 8 and w >= 8 else None
    factor = 1.0
    if pitch:
        factor = float(np.clip(target_pitch / (pitch * HEIGHT / h), *stretch))
    width = max(1, int(round(HEIGHT * w / max(1, h) * factor)))
    # Area averaging when shrinking (the usual case); linear when a tiny crop is enlarged.
    interpolation = cv2.INTER_AREA if h > HEIGHT else cv2.INTER_LINEAR
    return cv2.resize(img, (width, HEIGHT), interpolation=interpolation), LineFit(pitch, factor)
