"""Error-rate metrics, the evaluation runner and the ``scanflow eval`` command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFont

from scanflow.cli import cli
from scanflow.errors import UsageError
from scanflow.evaluation.evaluate import evaluate, find_pairs, load_image, sample
from scanflow.evaluation.metrics import (
    Corpus,
    cer,
    char_errors,
    corpus_rates,
    normalise,
    wer,
)
from scanflow.ocr.preprocess import PreprocessSettings

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

TEXTS = {
    "page1": "Once upon a time there was a dragon.\nHe lived in a cave by the sea.",
    "page2": "My best friend is called Sam and\nwe play football after school.",
    "page3": "The cat sat on the mat",
}


# --------------------------------------------------------------------------- metrics


def test_cer_one_substitution_in_three():
    assert cer("abc", "abd") == pytest.approx(1 / 3)


def test_cer_counts_insertions_and_deletions():
    assert cer("abc", "abxc") == pytest.approx(1 / 3)
    assert cer("abc", "ac") == pytest.approx(1 / 3)
    assert cer("abc", "") == 1.0
    assert cer("ab", "abcdef") == pytest.approx(2.0)  # can exceed 1


def test_wer_on_word_tokens():
    assert wer("the cat sat", "the cat sad") == pytest.approx(1 / 3)
    assert wer("the cat sat", "the  cat\nsat") == 0.0
    assert wer("the cat sat on", "thecat sat on") == pytest.approx(2 / 4)  # sub + del


def test_whitespace_is_collapsed_not_counted():
    assert cer("Once upon\na time", "Once  upon a time ") == 0.0


def test_normalise_case_and_punctuation():
    assert normalise("  Don't\tSTOP! ") == "Don't STOP!"
    assert normalise("Don't -- STOP!", case=False) == "don't -- stop!"
    assert normalise("Don't -- STOP!", case=False, punctuation=False) == "dont stop"
    assert cer("Hello, World.", "hello world", case=False, punctuation=False) == 0.0
    assert cer("Hello, World.", "hello world") > 0.2


def test_empty_reference():
    assert cer("", "") == 0.0
    assert cer("", "x") == 1.0


def test_corpus_is_total_over_total_not_mean_of_rates():
    pairs = [("abcdefghij", "abcdefghij"), ("ab", "xy")]
    c, w = corpus_rates(pairs)
    assert c == pytest.approx(2 / 12)
    mean_of_rates = (0.0 + 1.0) / 2
    assert c != pytest.approx(mean_of_rates)
    corpus = Corpus()
    for ref, hyp in pairs:
        corpus.add(ref, hyp)
    assert corpus.chars.edits == 2 and corpus.chars.length == 12
    assert corpus.wer == pytest.approx(1 / 2)  # one word wrong out of two
    assert char_errors("abc", "abd").edits == 1


# --------------------------------------------------------------------------- data set


def render(path: Path, text: str, dpi: int | None = 300) -> None:
    """Printed text, black on white, 12 pt at 300 dpi (50 px), like a clean scan of part
    of a page (page-sized enough that rule removal keeps letter stems: its vertical
    kernel is an eighth of the image height)."""
    font = ImageFont.truetype(FONT, 50)
    lines = text.split("\n")
    img = Image.new("RGB", (1300, 640), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((80, 70 + 90 * i), line, font=font, fill=(20, 20, 20))
    img.save(path, dpi=(dpi, dpi)) if dpi else img.save(path)
    path.with_name(path.stem + ".gt.txt").write_text(text + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    if not Path(FONT).exists():
        pytest.skip("DejaVu font not installed")
    folder = tmp_path_factory.mktemp("evalset")
    render(folder / "page1.png", TEXTS["page1"])
    render(folder / "page2.png", TEXTS["page2"], dpi=None)  # no resolution in the file
    render(folder / "page3.tif", TEXTS["page3"])
    (folder / "orphan.png").write_bytes((folder / "page1.png").read_bytes())  # no .gt.txt
    (folder / "notes.gt.txt").write_text("no image for this one")
    return folder


def test_find_pairs_matches_images_and_ground_truth(dataset):
    pairs = find_pairs(dataset)
    assert [stem for stem, _, _ in pairs] == ["page1", "page2", "page3"]
    assert pairs[2][1].suffix == ".tif"


def test_missing_resolution_defaults_to_300(dataset):
    assert load_image(dataset / "page2.png")[1] == 300
    assert load_image(dataset / "page1.png")[1] == pytest.approx(300, abs=1)


def test_sample_spreads_over_the_folder():
    assert sample(list(range(10)), 3) == [0, 3, 6]
    assert sample(list(range(4)), None) == [0, 1, 2, 3]
    assert sample(list(range(4)), 10) == [0, 1, 2, 3]


def test_missing_folder_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        find_pairs(tmp_path / "nope")


def test_empty_folder_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="No image \\+ ground-truth pairs"):
        evaluate(tmp_path, "tesseract")


def _require(engine: str) -> None:
    if engine == "tesseract" and not shutil.which("tesseract"):
        pytest.skip("tesseract not installed")
    if engine == "rapidocr":
        pytest.importorskip("rapidocr")
        pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("engine", ["tesseract", "rapidocr"])
def test_eval_reads_printed_pages_accurately(dataset, engine):
    _require(engine)
    report = evaluate(dataset, engine)
    assert report.images == 3
    assert report.errors == []
    assert report.cer < 0.05, report.format()
    assert report.wer < 0.15, report.format()
    assert report.cer_ignore_case_punct <= report.cer + 1e-9
    assert report.ref_words == sum(len(t.split()) for t in TEXTS.values())
    assert len(report.worst) == 3 and report.worst[0]["cer"] >= report.worst[-1]["cer"]
    assert report.seconds_per_image > 0


def test_eval_notices_wrong_text(dataset, tmp_path):
    """The comparison can fail: a wrong transcription gives a high error rate."""
    _require("tesseract")
    folder = tmp_path / "wrong"
    folder.mkdir()
    shutil.copy(dataset / "page3.tif", folder / "page3.tif")
    (folder / "page3.gt.txt").write_text("A completely different sentence here")
    report = evaluate(folder, "tesseract", preprocess=PreprocessSettings(orient=False))
    assert report.cer > 0.5
    assert report.worst[0]["stem"] == "page3" and report.worst[0]["hypothesis"]


def test_cli_eval_json(dataset):
    _require("tesseract")
    result = CliRunner().invoke(cli, ["eval", str(dataset), "--engine", "tesseract",
                                      "--limit", "1", "--json", "--binarise", "sauvola",
                                      "--no-orient"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in ("cer", "wer", "images", "seconds_per_image", "cer_ignore_case",
                "wer_ignore_case", "cer_ignore_case_punct", "wer_ignore_case_punct", "worst"):
        assert key in data
    assert data["images"] == 1
    assert data["preprocess"]["binarise"] == "sauvola"
    assert data["cer"] < 0.05


def test_cli_eval_human_output(dataset):
    _require("tesseract")
    result = CliRunner().invoke(cli, ["eval", str(dataset), "--limit", "1", "--no-deskew",
                                      "--no-orient"])
    assert result.exit_code == 0, result.output
    assert "CER" in result.output and "s per image" in result.output


def test_cli_eval_empty_folder_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(cli, ["eval", str(tmp_path), "--engine", "tesseract"])
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "No image + ground-truth pairs found" in lines[0]
    assert "Traceback" not in result.output


def test_cli_eval_unknown_engine(dataset):
    result = CliRunner().invoke(cli, ["eval", str(dataset), "--engine", "nosuch"])
    assert result.exit_code != 0
    assert "Unknown OCR engine 'nosuch'" in result.output
