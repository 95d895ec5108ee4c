"""The archive's image store: page images written so that no reader sees half a file.

Everything that writes a page image into ``images/`` (ingest, cover sheets, the review
app reading a page again) goes through here.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from scanflow.errors import ScanflowError


def write_png_atomic(path: Path, image: np.ndarray) -> None:
    """Write a lossless PNG so that a reader never sees half a file (tmp + fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Level 1: a noisy 300-dpi scan encodes in 0.5 s instead of 1.9 s at level 6, for
    # about 20 % more disk; the page images are written once and read often.
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1]
    if image.ndim == 2 and set(np.unique(image[::16, ::16])) <= {0, 255}:
        params += [cv2.IMWRITE_PNG_BILEVEL, 1]  # the binarised OCR image: 1 bit, 8x faster
    ok, buf = cv2.imencode(".png", image, params)
    if not ok:
        raise ScanflowError(f"could not encode {path.name}")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(buf.tobytes())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def clean_temporary_files(images_dir: Path) -> int:
    """Remove half-written images left by an interrupted run."""
    removed = 0
    for tmp in images_dir.rglob(".*.tmp-*"):
        tmp.unlink(missing_ok=True)
        removed += 1
    return removed


# --- stage 3: store ----------------------------------------------------------------
