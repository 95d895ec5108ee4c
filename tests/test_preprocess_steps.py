"""The exercise-book preprocessing steps of issue 3: page detection and perspective
correction, faint-pencil recovery, rules out of the grey image, line bands, the debug view.

Fast: generated pages at 100 dpi (scanflow.evaluation.synth) or drawn with OpenCV/PIL.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import page_image, write_png

from scanflow.cli import cli
from scanflow.errors import UsageError
from scanflow.ocr import preprocess as P
from scanflow.ocr.model import Box, Line, Recognition, Word
from scanflow.ocr.reader import read_bands, regroup_by_bands

DPI = 100
SMALL = P.PreprocessSettings(work_dpi=DPI)


@pytest.fixture(scope="module")
def photo():
    from scanflow.evaluation.synth import render_page

    return render_page(None, seed=2003, dpi=DPI, skew_deg=3.0, lighting=0.5, noise=0.1,
                       photo=True)


@pytest.fixture(scope="module")
def scan():
    from scanflow.evaluation.synth import render_page

    return render_page(None, seed=1003, dpi=DPI, skew_deg=-2.0, lighting=0.6, noise=0.2)


# --------------------------------------------------------------------------- page detection


def test_quad_found_on_a_phone_photo_matches_the_true_corners(photo):
    quad = P.find_page_quad(photo.image)
    assert quad.found, quad.reason
    truth = np.array(photo.settings["photo_corners"])
    # Within 0.5 % of the page width (4 px at 100 dpi; 1-2 px measured).
    assert np.abs(quad.corners - truth).max() < 4.0


@pytest.mark.parametrize("seed", [2000, 2005, 3010])
def test_quad_on_other_photos(seed):
    from scanflow.evaluation.synth import render_page

    page = render_page(None, seed=seed, dpi=DPI, skew_deg=(seed % 5) - 2.0, lighting=0.4,
                       noise=0.1, photo=True, ink="blue")
    quad = P.find_page_quad(page.image)
    assert quad.found, quad.reason
    assert np.abs(quad.corners - np.array(page.settings["photo_corners"])).max() < 4.0


def test_no_quad_on_flat_scans(scan):
    quad = P.find_page_quad(scan.image)
    assert not quad.found
    assert quad.reason.startswith("no darker surround")
    printed = np.asarray(page_image(["Once upon a time"], angle=2.5))
    assert not P.find_page_quad(printed).found


def test_no_quad_when_a_dark_lid_strip_runs_along_one_edge(scan):
    # A scanner lid left open: dark along the left edge, paper everywhere else. The paper
    # is bright on a dark strip, but its left side is the image border, not an edge.
    img = scan.image.copy()
    img[:, :120] = 35
    quad = P.find_page_quad(img)
    assert not quad.found
    assert quad.reason == "a side of the paper is not visible in the image"


def test_prepare_dewarps_a_photo_and_leaves_scans_alone(photo, scan):
    prepared = P.prepare(photo.image, dpi=DPI, settings=SMALL)
    step = next(s for s in prepared.steps if s.name == "dewarp")
    assert step.result["found"] is True and len(step.result["corners"]) == 4
    assert prepared.geometry.homography.shape == (3, 3)
    assert abs(prepared.geometry.homography[2, :2]).max() > 1e-6  # a true perspective
    # The sheet fills the OCR image: no desk left for the crop step to cut. (Its shape is
    # the quad's mean side lengths: synth's keystone does not foreshorten the height, so
    # this is near A4's 0.71 but not exact.)
    h, w = prepared.grey.shape
    assert [w, h] == step.result["size"]
    assert 0.68 < w / h < 0.78

    flat = P.prepare(scan.image, dpi=DPI, settings=SMALL)
    step = next(s for s in flat.steps if s.name == "dewarp")
    assert step.result["found"] is False
    assert np.allclose(flat.geometry.homography[2], [0, 0, 1])  # affine only


def test_homography_maps_ocr_boxes_back_onto_the_photo(photo):
    """A mark on the sheet, placed with the photo's true corners, is found in the OCR image
    and its box maps back onto the photo where it was drawn."""
    img = photo.image.copy()
    ph, pw = 297 / 25.4 * DPI, 210 / 25.4 * DPI  # the sheet before it was photographed
    page_to_photo = cv2.getPerspectiveTransform(
        np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]]),
        np.float32(photo.settings["photo_corners"]))
    # Narrower than an inch, so rule removal does not take it for a line.
    mark = np.float32([[0.55, 0.80], [0.65, 0.80], [0.65, 0.86], [0.55, 0.86]]) * [pw, ph]
    drawn = cv2.perspectiveTransform(mark[None], page_to_photo)[0]
    cv2.fillConvexPoly(img, np.round(drawn).astype(np.int32), (20, 20, 20))

    prepared = P.prepare(img, dpi=DPI, settings=SMALL)
    ink = (prepared.ocr == 0).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = (int(v) for v in stats[biggest, :4])
    back = prepared.geometry.to_faithful(Box(x, y, w, h))

    x0, y0 = drawn.min(axis=0)
    x1, y1 = drawn.max(axis=0)
    assert abs(back.x - x0) <= 3 and abs(back.y - y0) <= 3
    assert abs(back.x + back.w - x1) <= 3 and abs(back.y + back.h - y1) <= 3
    # ...and where it sits in the OCR image is where it sat on the sheet: straightened.
    oh, ow = prepared.ocr.shape
    assert x / ow == pytest.approx(0.55, abs=0.01) and y / oh == pytest.approx(0.80, abs=0.01)


def test_geometry_affine_and_homography_paths_agree():
    affine = np.array([[0.8, 0.1, 12.0], [-0.1, 0.8, 40.0]])
    a = P.Geometry(affine, crop=(5, 7))
    b = P.Geometry(np.vstack([affine, [0, 0, 1]]), crop=(5, 7))
    box = Box(100, 200, 50, 20)
    assert a.to_faithful(box) == b.to_faithful(box)
    # to_ocr undoes to_faithful (up to the rounding outwards of each bounding box).
    there = a.to_ocr(Box(300, 400, 60, 30))
    again = a.to_faithful(there)
    assert abs(again.x - 300) <= 10 and abs(again.y - 400) <= 10


# --------------------------------------------------------------------------- faint pencil


def _faint_page(darkness: int) -> np.ndarray:
    grey = np.full((1100, 850), 232, np.uint8)
    rng = np.random.default_rng(0)
    for row in range(6):
        y = 150 + row * 120
        for k in range(12):
            x = 80 + k * 60
            cv2.putText(grey, "ab", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.0,
                        232 - darkness, 2, cv2.LINE_AA)
    noise = rng.normal(0, 2.0, grey.shape)
    return np.clip(grey + noise, 0, 255).astype(np.uint8)


def test_faint_pencil_gets_darker_and_paper_stays():
    faint = _faint_page(40)
    paper, before = P.stroke_contrast(faint)
    out, info = P.recover_faint(faint, method="stretch")
    _, after = P.stroke_contrast(out)
    assert info["applied"] is True and info["gain"] > 2
    assert after > 2 * before and after >= 95
    assert abs(float(np.median(out)) - paper) <= 1  # the paper is not darkened


def test_pages_with_contrast_enough_are_left_alone():
    dark = _faint_page(120)
    out, info = P.recover_faint(dark, method="stretch")
    assert info["applied"] is False and out is dark
    out, info = P.recover_faint(dark, method="clahe")
    assert info["applied"] is False and out is dark


def test_clahe_variant_also_raises_faint_contrast():
    faint = _faint_page(40)
    out, info = P.recover_faint(faint, method="clahe")
    assert info["applied"] is True
    assert P.stroke_contrast(out)[1] > P.stroke_contrast(faint)[1]


def test_contrast_step_is_recorded_with_its_decision():
    img = cv2.cvtColor(_faint_page(40), cv2.COLOR_GRAY2RGB)
    prepared = P.prepare(img, dpi=DPI, settings=P.PreprocessSettings(
        work_dpi=DPI, contrast="stretch"))
    step = next(s for s in prepared.steps if s.name == "contrast")
    assert step.settings == {"method": "stretch", "faint_below": 70}
    assert step.result["applied"] is True


def test_unknown_setting_value_says_what_to_use():
    with pytest.raises(UsageError) as err:
        P.PreprocessSettings(contrast="brighter")
    assert str(err.value) == ("Unknown contrast setting 'brighter'. "
                              "Use one of: none, stretch, clahe.")


# --------------------------------------------------------------------------- rules in grey


def test_rules_are_painted_out_of_the_grey_image_but_crossing_strokes_stay():
    grey = np.full((900, 700), 228, np.uint8)
    for y in range(100, 900, 100):
        grey[y:y + 2, :] = 150  # grey (photocopied) rules, as dark as pencil
    grey[250:350, 300:305] = 60  # a letter's downstroke crossing the rule at y=300
    ink = P.ink_mask(P.binarise_otsu(grey))
    rules = P.ruled_lines_mask(ink, 100)
    kept = P.remove_rules(ink, rules, 100)
    painted, count = P.paint_rules(grey, rules, kept)
    assert count > 0
    assert abs(int(painted[300, 100]) - 228) <= 6  # the rule is paper now
    assert abs(int(painted[501, 600]) - 228) <= 6
    assert painted[300, 302] == 60  # the stroke where it crosses the rule is untouched
    assert (painted[250:350, 301:304] == 60).all()


# --------------------------------------------------------------------------- line bands


def test_line_bands_follow_the_written_lines():
    img = np.asarray(page_image(["Once upon a time there was", "a dragon called Spark",
                                 "who lived in a cave", "on a hill"]))
    prepared = P.prepare(img, dpi=300, settings=P.PreprocessSettings(segment_lines=True))
    step = next(s for s in prepared.steps if s.name == "segment_lines")
    assert step.result["count"] == 4
    # page_image writes line i from y = 205 + 100 i (text about 45 px tall).
    for i, (y0, y1) in enumerate(prepared.bands):
        assert y0 <= 205 + 100 * i + 15 and y1 >= 205 + 100 * i + 35
        assert y1 - y0 < 110
    assert step.result["bands"] == [list(b) for b in prepared.bands]


def test_blank_page_has_no_bands():
    prepared = P.prepare(np.asarray(page_image([])), dpi=300,
                         settings=P.PreprocessSettings(line_bands="regroup"))
    assert prepared.bands == []


def test_line_bands_are_found_only_when_something_uses_them():
    img = np.asarray(page_image(["Once upon a time there was", "a dragon called Spark"]))
    assert P.prepare(img).bands == []
    assert len(P.prepare(img, settings=P.PreprocessSettings(line_bands="regroup")).bands) == 2
    assert len(P.prepare(img, trace=[]).bands) == 2


class _OneWordPerImage:
    """A fake engine: reads every image as one word filling it, and counts its calls."""

    name = "fake"

    def __init__(self):
        self.shapes = []

    def version(self):
        return "1"

    def model(self):
        return "none"

    def recognise(self, image, *, grey=None):
        self.shapes.append(image.shape)
        h, w = image.shape[:2]
        ys, xs = np.nonzero(image < 128)
        box = Box(int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
        word = Word(f"line{len(self.shapes)}", box, 90.0)
        return Recognition([Line(word.text, box, 90.0, [word])], "fake", "1", "none")


def test_reading_band_by_band_keeps_page_coordinates():
    img = np.asarray(page_image(["Once upon a time", "a dragon called Spark", "who lived"]))
    prepared = P.prepare(img, dpi=300, settings=P.PreprocessSettings(line_bands="read"))
    engine = _OneWordPerImage()
    rec = read_bands(prepared, engine)
    assert [line.text for line in rec.lines] == ["line1", "line2", "line3"]
    assert len(engine.shapes) == 3 and all(s[0] < 200 for s in engine.shapes)
    for i, line in enumerate(rec.lines):
        # Each line's box is where that line's ink is on the page, not in its crop.
        assert abs(line.box.y - (205 + 100 * i + 8)) <= 15, line.box


def test_regrouping_words_by_band():
    words = [Word("dragon", Box(300, 118, 80, 30), 80.0), Word("a", Box(150, 120, 20, 25), 90.0),
             Word("Once", Box(150, 15, 60, 30), 70.0)]
    rec = Recognition([Line("Once dragon a", Box(150, 15, 230, 135), 80.0, words)],
                      "fake", "1", "none")
    out = regroup_by_bands(rec, [(0, 60), (100, 160)])
    assert [line.text for line in out.lines] == ["Once", "a dragon"]
    assert out.lines[1].box == Box(150, 118, 230, 30)


# --------------------------------------------------------------------------- debug view


def test_debug_page_writes_one_image_per_step_and_steps_json(tmp_path):
    scan_path = write_png(tmp_path / "page.png", ["Once upon a time", "there was a dragon"],
                          angle=2)
    out = tmp_path / "debug"
    result = CliRunner().invoke(cli, ["debug-page", str(scan_path), "--out", str(out),
                                      "-S", "contrast=stretch", "-S", "rules_from_grey=true",
                                      "-S", "min_unevenness=0"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["00-input.png", "01-dewarp.png", "02-deskew.png", "03-crop.png",
                     "04-flatten.png", "05-contrast.png", "06-binarise.png",
                     "07-remove_rules.png", "08-remove_rules_grey.png",
                     "09-segment_lines.png", "10-ocr.png"]
    data = json.loads((out / "steps.json").read_text())
    assert [s["name"] for s in data["steps"]] == [
        "dewarp", "deskew", "crop", "flatten", "contrast", "binarise", "remove_rules",
        "segment_lines", "blank_check"]
    deskew = data["steps"][1]
    assert deskew["settings"]["method"] == "projection-profile"
    assert deskew["result"]["angle"] == pytest.approx(-2.0, abs=0.4)
    assert data["steps"][0]["result"]["found"] is False
    assert data["settings"]["contrast"] == "stretch" and data["files"] == names + []
    assert len(data["bands"]) == 2
    # Each PNG is a real image of the page at its step.
    assert cv2.imread(str(out / "10-ocr.png"), cv2.IMREAD_GRAYSCALE).shape[0] > 1000
    assert result.output.splitlines()[-1] == f"Wrote 11 images and steps.json to {out}"


def test_debug_page_on_a_photo_shows_the_dewarp(tmp_path, photo):
    from scanflow.evaluation.debug import debug_page
    from scanflow.evaluation.synth import write_sample

    image, _ = write_sample(tmp_path / "photo", photo, fmt="jpg")
    report = debug_page(image, tmp_path / "dbg", settings=SMALL)
    assert [f.name for f in report.files][:2] == ["00-input.png", "01-dewarp.png"]
    dewarped = cv2.imread(str(report.files[1]), cv2.IMREAD_GRAYSCALE)
    assert 0.68 < dewarped.shape[1] / dewarped.shape[0] < 0.78
    assert report.steps[0]["result"]["found"] is True


def test_debug_page_wrong_page_number_is_one_clear_line(tmp_path):
    scan_path = write_png(tmp_path / "page.png", ["hello"])
    result = CliRunner().invoke(cli, ["debug-page", str(scan_path), "--page", "3",
                                      "--out", str(tmp_path / "d")])
    assert result.exit_code == 2
    assert result.output.strip() == (f"Error: {scan_path} has 1 page, so there is no page 3. "
                                     "Give --page between 1 and 1.")


def test_debug_page_unknown_setting_is_one_clear_line(tmp_path):
    scan_path = write_png(tmp_path / "page.png", ["hello"])
    result = CliRunner().invoke(cli, ["debug-page", str(scan_path), "--out", str(tmp_path / "d"),
                                      "-S", "sharpen=1"])
    assert result.exit_code == 2
    assert result.output.startswith("Error: Unknown preprocessing setting 'sharpen'. Use one of:")
    assert "Traceback" not in result.output
