"""Which way up a page is: Tesseract's orientation detection, whatever engine reads it.

Kept apart from the engines because the faithful page must be turned upright before any
engine sees it, and Tesseract (always installed with scanflow) is the one that can tell.
"""

from __future__ import annotations

import os
import shutil

import cv2
import numpy as np

# OSD on handwriting is less sure than on print; below this it is ignored.
MIN_CONFIDENCE = 2.0
# OSD runs on a copy this wide (an A4 page at about 150 dpi): fast, and the same answer as
# at 300 dpi; smaller than this it starts to misread handwriting (a 150 dpi page halved
# came back upside down with confidence 3.5).
OSD_WIDTH = 1240


def detect_orientation(grey: np.ndarray, threads: int = 1) -> tuple[int, float]:
    """Clockwise degrees (0, 90, 180, 270) that turn ``grey`` upright, and the confidence.

    Runs on a flattened, binarised 1-bit copy at most ``OSD_WIDTH`` pixels wide: Tesseract's
    start-up dominates (about 0.4 s a page) and the answer is the same as at full size. Returns ``(0, 0.0)``
    when Tesseract is missing or the page has too little text to tell.
    """
    if not shutil.which("tesseract"):
        return 0, 0.0
    import pytesseract
    from PIL import Image

    from scanflow.ocr.preprocess import binarise_otsu, flatten_illumination

    scale = min(1.0, OSD_WIDTH / max(1, min(grey.shape[:2])))
    small = grey if scale == 1.0 else cv2.resize(grey, None, fx=scale, fy=scale,
                                                 interpolation=cv2.INTER_AREA)
    binary = Image.fromarray(binarise_otsu(flatten_illumination(small))).convert("1")
    os.environ["OMP_THREAD_LIMIT"] = str(max(1, threads))
    try:
        osd = pytesseract.image_to_osd(binary, config="--psm 0",
                                       output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractError:
        return 0, 0.0
    rotate = int(osd.get("rotate", 0)) % 360
    conf = round(float(osd.get("orientation_conf", 0.0)), 2)
    return (rotate, conf) if conf >= MIN_CONFIDENCE else (0, conf)
