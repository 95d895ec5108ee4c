import cv2
import numpy as np
import pytest
from conftest import page_image

from scanflow.ocr import preprocess as P
from scanflow.ocr.model import Box


@pytest.mark.parametrize("angle", [-4.0, -1.5, 2.5, 6.0])
def test_deskew_recovers_the_angle(angle):
    img = np.asarray(page_image(["Once upon a time there was", "a dragon called Spark",
                                 "who lived in a cave"], angle=angle))
    est = P.estimate_skew(P.to_grey(img))
    # PIL rotates counter-clockwise for positive angles; the fix is the opposite turn.
    assert est == pytest.approx(-angle, abs=0.35)


def test_prepare_records_each_step_and_flags_blank_pages():
    blank = np.asarray(page_image([], angle=0))
    prepared = P.prepare(blank)
    names = [s.name for s in prepared.steps]
    assert names == ["dewarp", "deskew", "crop", "flatten", "binarise", "remove_rules",
                     "blank_check"]
    assert prepared.blank  # ruled lines and margin alone are not writing
    one_word = P.prepare(np.asarray(page_image(["The end"])))
    assert not one_word.blank


def test_faithful_image_keeps_colour_and_is_only_turned():
    img = np.asarray(page_image(["hello"], angle=3))
    prepared = P.prepare(img, osd=lambda grey: (180, 9.0))
    assert prepared.rotation == 180
    assert np.array_equal(prepared.faithful, P.rotate_right_angle(img, 180))
    assert set(np.unique(prepared.ocr)) <= {0, 255}


def test_ruled_lines_are_removed_but_letters_stay():
    img = np.asarray(page_image(["Hello world"]))
    grey = np.full(img.shape[:2], 255, np.uint8)
    grey[400:404, :] = 0  # a dark rule across the page
    grey[300:420, 500:506] = 0  # a stroke crossing it
    ink = P.ink_mask(P.binarise_otsu(grey))
    rules = P.ruled_lines_mask(ink)
    assert rules[401, 100] and rules[401, 1000]
    assert not rules[350, 503]  # the stroke above the rule survives


def test_boxes_map_back_to_the_faithful_page():
    # A box drawn on the faithful page lands in the same place after prepare's transforms.
    img = np.asarray(page_image([], rules=False))
    img = img.copy()
    img[800:820, 300:400] = 30  # a pen-thick dark mark (shorter than a rule)
    prepared = P.prepare(img)
    ys, xs = np.nonzero(prepared.ocr == 0)
    box = Box(int(xs.min()), int(ys.min()), int(xs.max() - xs.min()), int(ys.max() - ys.min()))
    back = prepared.geometry.to_faithful(box)
    assert abs(back.x - 300) <= 4 and abs(back.y - 800) <= 4
    assert abs(back.w - 100) <= 6 and abs(back.h - 20) <= 6


def test_flattening_removes_a_shadow():
    grey = np.full((800, 600), 240, np.uint8)
    grey[:, :300] = 150  # half the page in shadow
    flat = P.flatten_illumination(grey)
    assert abs(int(flat[400, 100]) - int(flat[400, 500])) < 30


def test_crop_cuts_dark_edges_but_never_shaded_paper():
    grey = np.full((1000, 700), 235, np.uint8)
    grey[:, :80] = 40  # scanner lid along the left edge
    grey[900:, :] = 50  # and the bottom
    x, y, w, h = P.find_paper(grey)
    assert abs(x - 80) <= 3 and y == 0 and abs(h - 900) <= 3 and x + w == 700
    shaded = np.full((1000, 700), 235, np.uint8)
    shaded[:400, :] = 170  # the top of the sheet in shadow, still paper
    assert P.find_paper(shaded) == (0, 0, 700, 1000)


def test_faint_dashed_rules_are_removed_and_crossing_strokes_rejoined():
    ink = np.zeros((2000, 1400), np.uint8)  # page-sized: letters are short next to rules
    for x in range(0, 1400, 12):  # a faint rule broken into dashes by binarisation
        ink[300:303, x:x + 8] = 255
    ink[250:350, 600:604] = 255  # a letter's downstroke crossing the rule
    cleaned = P.remove_rules(ink, P.ruled_lines_mask(ink))
    assert cleaned[301, 100] == 0 and cleaned[301, 1000] == 0  # rule gone
    assert cleaned[250:350, 601].all()  # stroke intact through the rule


def test_flattening_in_fixed_point_rounds_down_as_floating_point_would():
    rng = np.random.default_rng(3)
    grey = rng.integers(0, 256, (300, 400), dtype=np.uint8)
    background = rng.integers(1, 256, (75, 100), dtype=np.uint8)
    flat = P.flatten_illumination(grey, background)
    big = cv2.resize(background, (400, 300), interpolation=cv2.INTER_LINEAR)
    typical = P._ranked(np.arange(256.0), P._histogram(big), 0.5)
    exact = np.minimum(np.floor(grey.astype(np.float64) * typical / big), 255)
    # Off by one only where the quotient is within 1/512 of the next whole number.
    assert np.count_nonzero(flat != exact) <= flat.size // 200
    assert np.abs(flat.astype(int) - exact).max() <= 1


def test_specks_removed_one_by_one_or_all_at_once_alike(monkeypatch):
    rng = np.random.default_rng(5)
    ink = ((rng.random((300, 400)) < 0.08) * 255).astype(np.uint8)
    ink[100:140, 50:70] = 255  # a letter-sized mark, kept
    one_by_one = P.despeckle_labelled(ink)
    monkeypatch.setattr(P, "SPECKS_ONE_BY_ONE", -1)
    at_once = P.despeckle_labelled(ink)
    assert one_by_one[1] == at_once[1] > 100
    assert np.array_equal(one_by_one[0], at_once[0])
    assert np.array_equal(one_by_one[2][1], at_once[2][1])
    assert one_by_one[0][120, 60] == 255


def test_rules_grown_strip_by_strip_as_over_the_whole_page(monkeypatch):
    rng = np.random.default_rng(7)
    ink = ((rng.random((200, 300)) < 0.3) * 255).astype(np.uint8)
    rows, cols = np.array([0, 1, 2, 50, 51, 120, 199]), np.array([5, 6, 150, 299])
    lines = np.zeros_like(ink)
    lines[rows] = ink[rows]
    lines[:, cols] |= ink[:, cols]
    page_wide = cv2.bitwise_and(cv2.dilate(lines, np.ones((3, 3), np.uint8)), ink)
    assert np.array_equal(P._grown_into_ink(lines, ink, rows, cols), page_wide)
    monkeypatch.setattr(P, "MAX_STRIPS", 0)
    assert np.array_equal(P._grown_into_ink(lines, ink, rows, cols), page_wide)


def test_rules_removed_near_their_rows_and_columns_as_over_the_whole_page(monkeypatch):
    rng = np.random.default_rng(11)
    ink = ((rng.random((400, 500)) < 0.05) * 255).astype(np.uint8)
    ink[[3, 60, 61, 200, 398], :] = 255  # rules, one at each edge
    ink[:, [2, 250, 497]] = 255
    rules, rows, cols = P.ruled_lines(ink, 100)
    assert np.count_nonzero(rules) > 0
    page_wide = P.remove_rules(ink, rules, 100)
    assert np.array_equal(P.remove_rules(ink, rules, 100, near=(rows, cols)), page_wide)
    monkeypatch.setattr(P, "MAX_STRIPS", 0)
    assert np.array_equal(P.remove_rules(ink, rules, 100, near=(rows, cols)), page_wide)
