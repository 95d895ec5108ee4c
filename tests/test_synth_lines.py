"""The simulated school's corrected lines: generated pages read by the pipeline, cut as
``scanflow export lines`` cuts them, each with the text written on its ruled line."""

from __future__ import annotations

import math

import pytest

from scanflow.evaluation.synth import render_page
from scanflow.evaluation.synth_lines import ruled_line_of, write_synth_lines
from scanflow.ocr import finetune


def _box_on_line(page, index: int, width: float = 400.0) -> tuple[int, int, int, int]:
    """Where the writing of line ``index`` lands on the (skewed) page, as a box."""
    s = page.settings
    h, w = page.image.shape[:2]
    x = s["margin_x"] + width / 2 + 20
    y = s["rules_y"][s["written_rules"][index]] - 0.35 * s["rule_spacing_px"]
    t = math.radians(s["skew_deg"])
    dx, dy = x - w / 2, y - h / 2
    # cv2.getRotationMatrix2D's rotation, as synth applies it.
    rx = math.cos(t) * dx + math.sin(t) * dy + w / 2
    ry = -math.sin(t) * dx + math.cos(t) * dy + h / 2
    bh = 0.6 * s["rule_spacing_px"] + width * abs(math.sin(t))
    return (int(rx - width / 2), int(ry - bh / 2), int(width), int(bh))


@pytest.mark.parametrize("skew", [0.0, 1.5, -1.5])
def test_a_detected_line_is_matched_to_the_ruled_line_it_sits_on(skew):
    page = render_page(None, seed=4, dpi=100, skew_deg=skew)
    for index in range(len(page.lines)):
        assert ruled_line_of(_box_on_line(page, index), page) == index


def test_a_box_over_two_ruled_lines_or_between_none_is_not_matched():
    page = render_page(None, seed=4, dpi=100)
    x, y, w, h = _box_on_line(page, 2)
    spacing = page.settings["rule_spacing_px"]
    assert ruled_line_of((x, y, w, int(h + 1.5 * spacing)), page) is None
    assert ruled_line_of((x, 5, w, h), page) is None  # above the ruling


def test_write_synth_lines_gives_line_crops_with_the_written_text(tmp_path):
    from scanflow.ocr.engine import get_engine

    text = ["Me and my brother waited for the bus in the rain for a hole hour.",
            "Then it came and we got on and it was warm."]
    report = write_synth_lines(tmp_path, text, get_engine("rapidocr"), pupils=[5, 6],
                               lines_per_pupil=2, font="kalam", dpi=150)
    assert report.lines == 4 and report.pupils == 2
    examples = finetune.read_line_dir(tmp_path)
    assert {e.group for e in examples} == {f"{tmp_path.name}/h0005", f"{tmp_path.name}/h0006"}
    written = " ".join(text).split()
    # The ruling in the image the recogniser read: the 150 dpi page resampled to 300.
    spacing = 8.5 / 25.4 * 300
    for e in examples:
        assert set(e.text.split()) <= set(written)
        img = finetune.load_line(e.image)
        # One line, not a paragraph or the page.
        assert img.shape[0] < 2 * spacing and img.shape[1] > img.shape[0]
