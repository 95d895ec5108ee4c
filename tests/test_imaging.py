"""The fast paths of scanflow.imaging and the cleaning steps built on them give what the
plain OpenCV / numpy calls they replace give."""

import cv2
import numpy as np
import pytest

from scanflow.evaluation.synth import render_page
from scanflow.imaging import label_marks, shrink, shrink_by
from scanflow.ocr import preprocess as P


@pytest.fixture(scope="module")
def ruled_ink():
    # A greyscale scan of a ruled, skewed page: the rules are as dark as the writing.
    rgb = render_page(seed=3, lighting=0.4, noise=0.3, lines_colour="grey", skew_deg=1.5).image
    return P.ink_mask(P.binarise_otsu(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)))


def _rules_the_slow_way(ink, dpi=300):
    h, w = ink.shape
    rect = P._rect
    horiz = cv2.morphologyEx(cv2.morphologyEx(ink, cv2.MORPH_CLOSE, rect(max(9, w // 120), 1)),
                             cv2.MORPH_OPEN, rect(max(int(dpi), w // 8), 1))
    vert = cv2.morphologyEx(cv2.morphologyEx(ink, cv2.MORPH_CLOSE, rect(1, max(9, h // 120))),
                            cv2.MORPH_OPEN, rect(1, max(int(dpi), h // 8)))
    return cv2.bitwise_and(cv2.dilate(cv2.bitwise_or(horiz, vert), rect(3, 3)), ink)


def test_rule_finder_finds_exactly_what_the_full_page_search_finds(ruled_ink):
    fast = P.ruled_lines_mask(ruled_ink)
    assert np.count_nonzero(fast) > 100_000  # the rules are there to be found
    assert np.array_equal(fast, _rules_the_slow_way(ruled_ink))


def test_rule_finder_on_tiny_and_empty_images():
    for ink in (np.zeros((5, 900), np.uint8), np.full((7, 7), 255, np.uint8),
                np.zeros((400, 300), np.uint8)):
        assert np.array_equal(P.ruled_lines_mask(ink), _rules_the_slow_way(ink))


def test_long_runs_is_an_opening_by_a_line(ruled_ink):
    for axis, line in ((1, P._rect(301, 1)), (0, P._rect(1, 301))):
        expected = cv2.morphologyEx(ruled_ink, cv2.MORPH_OPEN, line)
        assert np.array_equal(P.long_runs(ruled_ink, 301, axis=axis), expected)


def test_label_marks_matches_opencv_and_survives_many_marks(ruled_ink):
    n, labels, stats, _ = label_marks(ruled_ink)
    n2, labels2, stats2, _ = cv2.connectedComponentsWithStats(ruled_ink, connectivity=8)
    assert n == n2 and np.array_equal(labels, labels2) and np.array_equal(stats, stats2)
    dots = np.zeros((700, 700), np.uint8)
    dots[::2, ::2] = 255  # 122,500 separate marks: more than 16-bit labels hold
    assert label_marks(dots)[0] == 350 * 350 + 1


def test_stroke_contrast_from_a_histogram_is_the_sorted_figure(ruled_ink):
    rng = np.random.default_rng(0)
    for grey in (cv2.bitwise_not(ruled_ink) // 2 + 100, rng.integers(0, 256, (61, 47), np.uint8),
                 np.full((40, 40), 200, np.uint8)):
        sample = grey[::2, ::2]
        paper = float(np.median(sample))
        noise = 1.4826 * float(np.median(np.abs(sample.astype(np.float32) - paper))) + 1.0
        dark = sample[sample < paper - 6 * noise]
        expected = (paper, 0.0 if dark.size < 50 else paper - float(np.percentile(dark, 10)))
        assert P.stroke_contrast(grey) == pytest.approx(expected, abs=1e-6)


def test_counting_marks_from_labels_agrees_on_written_and_blank_pages(ruled_ink):
    ink = P.remove_rules(ruled_ink, P.ruled_lines_mask(ruled_ink))
    marks = label_marks(ink)[1:3]
    quick = P.count_marks(ink, marks=marks)
    careful = P.count_marks(ink)
    assert quick >= P.PLENTY_OF_MARKS and careful >= P.PLENTY_OF_MARKS
    specks = np.zeros((3508, 2480), np.uint8)
    specks[1000:1012, 1000:1001] = 255  # one hairline mark: the careful count drops it
    assert P.count_marks(specks, marks=label_marks(specks)[1:3]) == P.count_marks(specks) == 0


def test_shrink_gives_opencvs_size_and_nearly_its_pixels():
    page = render_page(seed=1).image
    for fx in (0.25, 0.171, 0.121):
        expected = cv2.resize(page, None, fx=fx, fy=fx, interpolation=cv2.INTER_AREA)
        got = shrink(page, fx)
        assert got.shape == expected.shape
        assert np.abs(got.astype(int) - expected).mean() < 2.0
    assert np.array_equal(shrink(page, 0.25),
                          cv2.resize(page, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA))
    assert shrink_by(page, 2).shape == (page.shape[0] // 2, page.shape[1] // 2, 3)
