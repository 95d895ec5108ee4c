"""Latin-only CTC decoding, word confidence from character probabilities, and the marks'
trustworthiness as ``scanflow eval`` reports it."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFont

from scanflow.ocr.ctc import LineReading, decode, english, latin_mask, word_confidence
from scanflow.evaluation.marks import mark_quality, wrong_words

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
CHARS = ["blank", "狗", "m", "n", "。", "|", " "]


def steps(*rows):
    """Probabilities over CHARS, one row per time step, from {char: p} dicts."""
    out = np.full((len(rows), len(CHARS)), 1e-4, dtype=np.float32)
    for t, row in enumerate(rows):
        for ch, p in row.items():
            out[t, CHARS.index(ch)] = p
    return out


def test_what_english_writing_can_hold():
    assert [english(c) for c in ["a", "É", "。", "，", "’", "狗", "|", "~", "★"]] == \
        ["a", "É", ".", ",", "'", "", "", "", ""]
    assert latin_mask(CHARS).tolist() == [True, False, True, True, True, False, True]


def test_the_best_latin_reading_wins_before_the_argmax():
    probs = steps({"狗": 0.6, "m": 0.3}, {"blank": 0.9}, {"n": 0.8}, {"。": 0.7})
    assert [c for c, *_ in decode(probs, CHARS, None)] == ["狗", "n", "。"]
    chars = decode(probs, CHARS, latin_mask(CHARS))
    assert [c for c, *_ in chars] == ["m", "n", "."]
    # The letter chosen only because the model's first choice was masked keeps its
    # low probability: it is what makes the word doubtful.
    assert chars[0][1] == pytest.approx(0.3)


def test_repeats_collapse_and_a_blank_separates_double_letters():
    probs = steps({"m": 0.9}, {"m": 0.95}, {"blank": 0.9}, {"m": 0.8})
    assert [(c, round(p, 2), a, b) for c, p, a, b in decode(probs, CHARS, None)] == \
        [("m", 0.95, 0, 1), ("m", 0.8, 3, 3)]


def test_words_carry_the_product_of_their_letters_and_where_they_lie():
    reading = LineReading([("a", 0.9, 0, 0), ("b", 0.5, 2, 2), (" ", 0.99, 4, 4),
                           ("c", 0.8, 6, 7)], steps=10, width=0.8)
    (w1, c1, s1, e1), (w2, c2, s2, e2) = reading.words()
    assert (w1, w2) == ("ab", "c")
    assert c1 == pytest.approx(0.45) and c2 == pytest.approx(0.8)
    assert (s1, e1) == (0.0, pytest.approx(3 / 8)) and (s2, e2) == (0.75, 1.0)
    assert word_confidence([]) == 0.0


def test_wrong_words_are_found_by_alignment():
    assert wrong_words("Once upon a time.", ["Once", "upon", "a", "time."]) == [False] * 4
    assert wrong_words("Once upon a time.", ["Onse", "a", "time"]) == [True, False, True]


def test_mark_quality_counts_marked_wrong_words():
    counts = mark_quality("the cat sat on the mat",
                          [("the", 95.0), ("cot", 30.0), ("sat", 40.0), ("on", 90.0),
                           ("the", 90.0), ("mad", 80.0)], threshold=50)
    assert (counts.words, counts.wrong, counts.marked, counts.wrong_marked) == (6, 2, 2, 1)
    summary = counts.to_dict()
    assert summary["recall_of_wrong_words"] == 0.5
    assert summary["share_of_words_marked"] == pytest.approx(2 / 6, abs=1e-4)


@pytest.fixture(scope="module")
def engine():
    pytest.importorskip("rapidocr")
    pytest.importorskip("onnxruntime")
    from scanflow.ocr.engine import get_engine

    return get_engine("rapidocr")


def test_the_recogniser_reads_a_line_with_latin_only_output(engine):
    if not Path(FONT).exists():
        pytest.skip("DejaVu font not installed")
    img = Image.new("L", (700, 90), 255)
    ImageDraw.Draw(img).text((20, 15), "Once upon a time", font=ImageFont.truetype(FONT, 50),
                             fill=0)
    reading, = engine.recogniser.read([np.asarray(img)])
    assert reading.text == "Once upon a time"
    assert [w for w, *_ in reading.words()] == ["Once", "upon", "a", "time"]
    assert all(0.5 < c <= 1 for _, c, _, _ in reading.words())
    assert reading.foreign < 0.01


def test_eval_json_reports_how_far_the_marks_can_be_trusted(engine, tmp_path):
    if not Path(FONT).exists():
        pytest.skip("DejaVu font not installed")
    from scanflow.cli import cli

    img = Image.new("RGB", (1300, 400), "white")
    ImageDraw.Draw(img).text((80, 100), "The dog ran home.", font=ImageFont.truetype(FONT, 50),
                             fill=(20, 20, 20))
    img.save(tmp_path / "page.png", dpi=(300, 300))
    (tmp_path / "page.gt.txt").write_text("The cat ran home.\n")
    result = CliRunner().invoke(cli, ["eval", str(tmp_path), "--json", "--no-orient"])
    assert result.exit_code == 0, result.output
    marks = json.loads(result.stdout)["marks"]
    assert (marks["words"], marks["wrong"]) == (4, 1)
    assert set(marks) >= {"threshold", "recall_of_wrong_words", "share_of_words_marked"}


def test_a_line_of_narrow_letters_is_read_once_stretched_to_the_recognisers_spacing(engine):
    """Handwriting's letters are narrow for its line height: print squeezed to 60 % of its
    width stands in for it. RapidOCR's own scaling leaves too few time steps a letter and
    the letters run together; fitted (scanflow.ocr.lineprep) the line reads."""
    if not Path(FONT).exists():
        pytest.skip("DejaVu font not installed")
    import cv2
    from rapidfuzz.distance import Levenshtein

    from scanflow.ocr.ctc import LineRecogniser

    text = "the little summer illness"
    img = Image.new("L", (1100, 150), 255)
    ImageDraw.Draw(img).text((20, 40), text, font=ImageFont.truetype(FONT, 50), fill=0)
    line = cv2.resize(np.asarray(img), (660, 150), interpolation=cv2.INTER_AREA)
    model = engine.models["rec"]
    fitted, = LineRecogniser(model, fit=True).read([line])
    plain, = LineRecogniser(model, fit=False).read([line])
    assert fitted.text.startswith("the little summer")
    assert Levenshtein.distance(fitted.text, text) * 3 <= Levenshtein.distance(plain.text, text)
    assert engine.settings["line_fit"] == "stroke pitch"
