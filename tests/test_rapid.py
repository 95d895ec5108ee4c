"""The RapidOCR engine: text cleaning, grouping of detected boxes into lines, and (when the
package is installed) a real read with no network access."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import numpy as np
import pytest

from scanflow.errors import EngineUnavailable
from scanflow.ocr import rapid
from scanflow.ocr.model import Box
from scanflow.ocr.rapid import Detection, clean_text, group_detections, split_words

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def rect(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def slanted(x0, y0, x1, y1, dy):
    """A box whose right end is ``dy`` pixels lower than its left end."""
    return [[x0, y0], [x1, y0 + dy], [x1, y1 + dy], [x0, y1]]


# --------------------------------------------------------------------------- cleaning


@pytest.mark.parametrize("raw, expected", [
    ("Once upon a time。", "Once upon a time."),
    ("the 狗 dog", "the dog"),
    ("Hello，world：yes（no）", "Hello,world:yes(no)"),
    ("“Stop!” she said — I can’t", "\"Stop!\" she said - I can't"),
    ("café £5", "café £5"),
    ("★♪■", ""),
    ("  spaced   out  ", "spaced out"),
])
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


# --------------------------------------------------------------------------- grouping


def test_boxes_are_grouped_into_lines_in_reading_order():
    dets = [
        Detection(rect(600, 210, 900, 260), "the sea.", 0.8),     # line 2, right
        Detection(rect(100, 100, 500, 150), "Once upon", 0.9),    # line 1, left
        Detection(rect(100, 205, 560, 262), "He lived by", 0.7),  # line 2, left
        Detection(rect(540, 104, 900, 148), "a time", 0.95),      # line 1, right
    ]
    lines = group_detections(dets)
    assert [line.text for line in lines] == ["Once upon a time", "He lived by the sea."]
    assert lines[0].box == Box(100, 100, 800, 50)
    assert [w.text for w in lines[1].words] == ["He", "lived", "by", "the", "sea."]
    assert lines[0].confidence == pytest.approx((90 + 90 + 95 + 95) / 4)
    assert all(0 <= w.confidence <= 100 for line in lines for w in line.words)


def test_fragments_of_a_slanted_line_stay_together():
    # A line sloping down 60 px over 1200 px, detected as two pieces; the next line below.
    dets = [
        Detection(slanted(100, 100, 700, 160, 30), "I went to", 0.9),
        Detection(slanted(720, 131, 1300, 191, 30), "the park", 0.9),
        Detection(slanted(100, 200, 1300, 260, 60), "and then home", 0.9),
    ]
    lines = group_detections(dets)
    assert [line.text for line in lines] == ["I went to the park", "and then home"]


def test_tall_slanted_box_does_not_swallow_the_next_line():
    # Axis-aligned, the first box spans y 100..300 and overlaps the second line entirely;
    # its true height is 60 px, so it is a separate line.
    dets = [
        Detection(slanted(100, 100, 1100, 160, 140), "from us to you", 0.9),
        Detection(rect(150, 230, 500, 290), "all", 0.9),
    ]
    assert [line.text for line in group_detections(dets)] == ["from us to you", "all"]


def test_words_get_boxes_in_proportion_to_characters():
    det = Detection(rect(0, 0, 110, 20), "ab cdefgh", 0.5)
    words = split_words(det)
    assert [w.text for w in words] == ["ab", "cdefgh"]
    # 9 characters over 110 px: "ab" spans 0..2/9, "cdefgh" 3/9..9/9.
    assert words[0].box.x == 0 and words[0].box.w == pytest.approx(110 * 2 / 9, abs=1.5)
    assert words[1].box.x == pytest.approx(110 * 3 / 9, abs=1.5)
    assert words[1].box.x + words[1].box.w == pytest.approx(110, abs=1)
    assert all(w.confidence == 50.0 for w in words)


def test_rapidocr_word_boxes_used_when_they_agree_with_the_text():
    det = Detection(rect(0, 0, 100, 20), "big dog", 0.6,
                    words=[("big", 0.9, rect(2, 1, 30, 19)), ("dog", 0.4, rect(50, 1, 98, 19))])
    words = split_words(det)
    assert [(w.text, w.box.x, w.confidence) for w in words] == [("big", 2, 90.0),
                                                                ("dog", 50, 40.0)]
    # RapidOCR split "bigdog" differently from the text: fall back to apportioning.
    det = Detection(rect(0, 0, 100, 20), "big dog", 0.6,
                    words=[("bi", 0.9, rect(2, 1, 20, 19)), ("gdog", 0.4, rect(25, 1, 98, 19))])
    assert [w.confidence for w in split_words(det)] == [60.0, 60.0]


def test_empty_and_symbol_only_boxes_are_dropped():
    dets = [Detection(rect(0, 0, 50, 20), "★", 0.9), Detection(rect(0, 40, 50, 60), " ", 0.9),
            Detection(rect(0, 80, 50, 100), "Hi。", 0.9)]
    lines = group_detections(dets)
    assert [line.text for line in lines] == ["Hi."]


def test_grouping_nothing():
    assert group_detections([]) == []


# --------------------------------------------------------------------------- the engine


def test_missing_package_raises_engine_unavailable(monkeypatch):
    monkeypatch.setitem(sys.modules, "rapidocr", None)  # makes "import rapidocr" fail
    rapid._package_dir.cache_clear()
    try:
        with pytest.raises(EngineUnavailable, match="pip install rapidocr"):
            rapid.RapidOcrEngine()
    finally:
        rapid._package_dir.cache_clear()


@pytest.fixture(scope="module")
def engine():
    pytest.importorskip("rapidocr")
    pytest.importorskip("onnxruntime")
    from scanflow.ocr.engine import get_engine

    return get_engine("rapidocr", threads=1)


def test_models_are_the_files_inside_the_package(engine):
    import rapidocr

    package = Path(rapidocr.__file__).resolve().parent
    config = engine.config()
    for key in ("Det.model_path", "Rec.model_path"):
        path = Path(config[key])
        assert path.is_file() and package in path.parents
    assert config["Global.use_cls"] is False
    assert config["EngineConfig.onnxruntime.intra_op_num_threads"] == 1
    assert engine.model() == "PP-OCRv6_det_small.onnx + PP-OCRv6_rec_small.onnx"
    assert engine.version() == "3.10.0"


def test_reads_printed_text_without_network(engine, monkeypatch):
    if not Path(FONT).exists():
        pytest.skip("DejaVu font not installed")
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("L", (1300, 260), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 50)
    draw.text((60, 40), "The dog ran home.", font=font, fill=0)
    draw.text((60, 140), "It was very happy", font=font, fill=0)
    grey = np.asarray(img)

    def no_network(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    rec = engine.recognise((grey > 128).astype(np.uint8) * 255, grey=grey)
    assert [line.text for line in rec.lines] == ["The dog ran home.", "It was very happy"]
    assert [w.text for w in rec.lines[1].words] == ["It", "was", "very", "happy"]
    words = rec.lines[0].words
    assert all(a.box.x + a.box.w <= b.box.x + 5 for a, b in zip(words, words[1:]))
    assert all(50 < w.confidence <= 100 for w in rec.words)
    assert rec.engine == "rapidocr" and rec.settings["use_cls"] is False
