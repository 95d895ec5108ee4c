"""Line images fitted to the recogniser's letter spacing (scanflow.ocr.lineprep)."""

import numpy as np
import pytest

from scanflow.ocr.lineprep import HEIGHT, STRETCH, TARGET_PITCH, fit_line, stroke_pitch


def strokes(spacing: int, height: int = 120, width: int = 900) -> np.ndarray:
    """A white line with 3-px vertical strokes ``spacing`` px apart across its middle
    (the small letters' band), and one taller stroke (an ascender) above it."""
    img = np.full((height, width), 235, np.uint8)
    for x in range(20, width - 20, spacing):
        img[height // 3:2 * height // 3, x:x + 3] = 30
    img[5:height // 3, 20:23] = 30
    return img


@pytest.mark.parametrize("spacing", [12, 20, 30])
def test_stroke_pitch_measures_the_distance_between_strokes(spacing):
    assert stroke_pitch(strokes(spacing)) == pytest.approx(spacing, rel=0.1)


def test_closely_written_lines_are_stretched_more_than_spaced_ones():
    narrow, fit_narrow = fit_line(strokes(12))
    wide, fit_wide = fit_line(strokes(30))
    assert narrow.shape[0] == wide.shape[0] == HEIGHT
    assert fit_narrow.stretch > fit_wide.stretch
    # At the recogniser's scale the strokes end up the target distance apart, unless the
    # stretch had to be bounded.
    for fit in (fit_narrow, fit_wide):
        if STRETCH[0] < fit.stretch < STRETCH[1]:
            assert fit.pitch * HEIGHT / 120 * fit.stretch == pytest.approx(TARGET_PITCH)


def test_the_stretch_is_bounded():
    _, very_narrow = fit_line(strokes(4))
    _, very_wide = fit_line(strokes(80))
    assert very_narrow.stretch == STRETCH[1]
    assert very_wide.stretch == STRETCH[0]


def test_a_line_without_ink_keeps_its_proportions():
    blank = np.full((96, 480), 240, np.uint8)
    out, fit = fit_line(blank)
    assert fit.pitch is None and fit.stretch == 1.0
    assert out.shape == (HEIGHT, 240)


def test_rgb_lines_stay_rgb_and_keep_their_ink():
    img = np.repeat(strokes(20)[:, :, None], 3, axis=2)
    out, _ = fit_line(img)
    assert out.shape[0] == HEIGHT and out.shape[2] == 3
    assert out.min() < 120  # the strokes survive the shrink (area averaging)
