"""Cleaning steps that act only when the page needs them (issue 13: on evenly lit, nearly
straight flatbed scans of real handwriting, deskewing and flattening read worse)."""

import numpy as np

from conftest import page_image
from scanflow.ocr import preprocess as P

LINES = ["Once upon a time", "there was a dragon", "who liked to read"]


def steps_of(img, **settings):
    prepared = P.prepare(np.asarray(img), dpi=300,
                         settings=P.PreprocessSettings(orient=False, **settings))
    return {s.name: s for s in prepared.steps}, prepared


def test_a_slight_skew_is_left_alone_and_a_real_one_straightened():
    slight, prepared = steps_of(page_image(LINES, angle=0.5))
    assert slight["deskew"].result["applied"] is False
    assert prepared.geometry.homography[0, 1] == 0  # the pixels were not turned
    real, _ = steps_of(page_image(LINES, angle=3))
    assert real["deskew"].result["applied"] is True
    assert abs(abs(real["deskew"].result["angle"]) - 3) < 0.5


def test_flattening_only_where_the_light_is_uneven():
    even = page_image(LINES)
    steps, prepared = steps_of(even)
    assert steps["flatten"].result["applied"] is False
    assert steps["flatten"].result["unevenness"] < 0.05  # of the strokes' contrast
    # A shadow across half the page: a tenth of the paper's brightness and more.
    arr = np.asarray(even).astype(np.float32)
    arr *= np.linspace(1.0, 0.6, arr.shape[1])[None, :, None]
    steps, prepared = steps_of(arr.astype(np.uint8))
    assert steps["flatten"].result["applied"] is True
    paper = prepared.grey[:: 20, :: 20]
    assert np.percentile(paper, 90) - np.percentile(paper, 60) < 15  # light evened out


def test_the_thresholds_are_settings():
    steps, _ = steps_of(page_image(LINES, angle=0.5), min_skew_deg=0.1, min_unevenness=0.0)
    assert steps["deskew"].result["applied"] is True
    assert steps["flatten"].result["applied"] is True
