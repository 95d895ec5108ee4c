"""The text detector (scanflow.ocr.detection) finds the boxes RapidOCR's own detector finds,
without RapidOCR's configuration machinery."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from scanflow.errors import UsageError
from scanflow.ocr.detection import DetectorSettings, reading_order, scaled_size

pytest.importorskip("rapidocr")
pytest.importorskip("onnxruntime")


def pages() -> dict[str, np.ndarray]:
    """Greys the detector meets: written pages (tilted, shaded, photographed), a wide
    strip (padded before detection), a small line, an empty page and noise."""
    from scanflow.evaluation.synth import render_page

    out = {}
    for name, kwargs in {"scan": {"seed": 1}, "tilted": {"seed": 2, "skew_deg": 2.5},
                         "shaded": {"seed": 3, "lighting": 0.5, "noise": 0.3},
                         "photo": {"seed": 4, "photo": True}}.items():
        out[name] = cv2.cvtColor(render_page(**kwargs).image, cv2.COLOR_RGB2GRAY)
    scan = out["scan"]
    out["strip"] = scan[600:700, :]
    out["line"] = cv2.resize(scan[600:760, 200:1400], None, fx=0.4, fy=0.4)
    out["empty"] = np.full((900, 700), 255, np.uint8)
    out["noise"] = np.random.default_rng(0).integers(0, 256, (400, 900), dtype=np.uint8)
    return out


def test_same_boxes_as_rapidocr():
    from rapidocr import RapidOCR
    from rapidocr.utils.process_img import apply_vertical_padding, map_boxes_to_original

    from scanflow.ocr.rapid import RapidOcrEngine, _rgb

    engine = RapidOcrEngine(threads=1)
    theirs = RapidOCR(params=engine.config())
    their_detector = theirs._load_det_model()
    ours = engine._detector()
    found = 0
    for name, grey in pages().items():
        small, record = theirs.preprocess_img(grey)
        small, record = apply_vertical_padding(small, record, theirs.width_height_ratio,
                                               theirs.min_height)
        expected = their_detector(_rgb(small)).boxes
        expected = np.zeros((0, 4, 2), np.float32) if expected is None else expected
        for given in (small, _rgb(small)):  # one grey plane or three
            got = ours(given)
            assert got.dtype == np.float32, name
            assert np.array_equal(got, expected), name
        # And on the whole page: bounded, padded, detected and mapped back.
        on_page = map_boxes_to_original(expected.copy(), record, *grey.shape[:2]) \
            if len(expected) else expected
        assert np.array_equal(ours.find(grey), on_page), name
        found += len(expected)
    assert found > 40  # the written pages have lines to find


def test_engine_reads_without_rapidocr_configuration():
    # Building RapidOCR's configuration (OmegaConf, three YAML files) took half a second of
    # every worker's start; reading a page no longer needs it.
    code = (
        "import sys, numpy as np\n"
        "from scanflow.ocr.rapid import RapidOcrEngine\n"
        "e = RapidOcrEngine(threads=1)\n"
        "e.warm_up()\n"
        "img = np.full((200, 600), 255, np.uint8)\n"
        "img[90:110, 50:550:20] = 0\n"
        "e.recognise(img)\n"
        "print(sorted(m for m in ('omegaconf', 'rapidocr.main') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_settings_from_rapidocr_entries():
    settings = DetectorSettings.from_params({
        "Det.unclip_ratio": 1.3, "Global.max_side_len": 1600, "Global.text_score": 0.3,
        "Det.model_path": "/x.onnx", "Rec.model_path": "/y.onnx",
        "EngineConfig.onnxruntime.intra_op_num_threads": 2})
    assert settings.unclip_ratio == 1.3 and settings.max_side_len == 1600
    assert settings.box_thresh == DetectorSettings().box_thresh
    with pytest.raises(UsageError) as err:
        DetectorSettings.from_params({"Det.box_thres": 0.6})
    assert "Det.box_thresh" in err.value.hint


def test_scaled_size_is_within_the_limit_in_multiples_of_32():
    assert scaled_size((3508, 2480), 1280, "max") == (896, 1280)
    assert scaled_size((100, 300), 1280, "max") == (288, 96)
    assert scaled_size((100, 300), 736, "min") == (2208, 736)
    assert scaled_size((10, 5), 1280, "max") is None  # rounds to no pixels


def test_reading_order_is_by_line_then_left_to_right():
    def box(x, y):
        return [[x, y], [x + 50, y], [x + 50, y + 20], [x, y + 20]]

    boxes = np.array([box(300, 104), box(10, 100), box(10, 160), box(200, 96)], np.float32)
    ordered = reading_order(boxes)
    assert [tuple(b[0]) for b in ordered] == [(10, 100), (200, 96), (300, 104), (10, 160)]
