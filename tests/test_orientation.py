"""Which way up: Tesseract's OSD on handwriting at the resolutions schools scan at."""

import shutil

import numpy as np
import pytest

from scanflow.ocr.orientation import detect_orientation
from scanflow.ocr.preprocess import rotate_right_angle, to_grey

pytestmark = pytest.mark.skipif(not shutil.which("tesseract"), reason="needs tesseract")


@pytest.mark.parametrize("dpi", [150, 300])
def test_upright_and_upside_down_handwriting_at_150_and_300_dpi(dpi):
    from scanflow.evaluation.synth import render_page

    grey = to_grey(np.asarray(render_page(None, seed=41, dpi=dpi, ink="blue").image))
    # A 150 dpi page used to be halved before OSD and came back "upside down" (3.5 sure).
    assert detect_orientation(grey)[0] == 0
    assert detect_orientation(rotate_right_angle(grey, 180))[0] == 180


def test_the_150_dpi_sample_page_stays_upright():
    from pathlib import Path

    from PIL import Image

    page = Path(__file__).parent.parent / "scans_sample" / "A100000000004_narrative.png"
    grey = to_grey(np.asarray(Image.open(page).convert("RGB")))
    assert grey.shape[1] == 1240  # the regression was on exactly this size
    assert detect_orientation(grey)[0] == 0
