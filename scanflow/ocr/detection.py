"""Where the text lines are on a page: PP-OCR's DB text detector run through onnxruntime.

The detector (a "differentiable binarisation" network, Liao et al. 2020) gives every pixel
of a scaled-down page a probability of lying inside a line of text. A line's box is a
connected region of that map above ``thresh``, kept when its mean probability reaches
``box_thresh``, grown outwards by ``unclip_ratio`` (the network is trained on lines
shrunk by that much) and turned into the smallest rotated rectangle around it.

This is the procedure RapidOCR 3.10 runs around the same ONNX model, with the same
settings and arithmetic, so the boxes are the same to the pixel (``tests/test_detection.py``
compares them with RapidOCR's own detector). It is done here rather than through RapidOCR
because building RapidOCR's configuration took half a second of every worker's start
(three YAML files through OmegaConf), more than loading the models themselves; the page
scaling and padding around the detector are still RapidOCR's functions.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import cv2
import numpy as np

from scanflow.errors import UsageError


@dataclass(frozen=True)
class DetectorSettings:
    """How the page is scaled for the detector and which regions become boxes.

    The defaults are RapidOCR 3.10's (``config.yaml``), except that the page is only ever
    scaled down, to 1280 px on its longer side (``limit_type="max"``): RapidOCR's own
    default (shorter side raised to 736) made line images 8 points worse and 16x slower.
    """

    limit_side_len: int = 1280
    limit_type: str = "max"       # "max": longer side at most this; "min": shorter at least
    thresh: float = 0.3           # pixel probability counted as text
    box_thresh: float = 0.5       # a region's mean probability for it to become a box
    max_candidates: int = 1000
    unclip_ratio: float = 1.6
    use_dilation: bool = True     # join regions one pixel apart
    # Before the detector (RapidOCR's Global section): the page is first brought within
    # these bounds, and a very wide strip is padded to a taller one.
    use_preprocess_img: bool = True
    min_side_len: int = 30
    max_side_len: int = 2000
    use_vertical_padding: bool = True
    min_height: int = 30
    width_height_ratio: float = 8

    @classmethod
    def from_params(cls, params: dict) -> "DetectorSettings":
        """Settings from RapidOCR-style configuration entries (``{"Det.box_thresh": 0.6,
        "Global.max_side_len": 1600}``); entries for other parts of RapidOCR are ignored,
        an unknown detection entry is refused.

        >>> DetectorSettings.from_params({"Det.unclip_ratio": 1.3}).unclip_ratio
        1.3
        """
        known = {f.name: f.type for f in fields(cls)}
        changes = {}
        for key, value in params.items():
            section, _, name = key.partition(".")
            if section not in ("Det", "Global") or name in OTHER_ENTRIES:
                continue
            if name not in known:
                raise UsageError(f"Unknown detection setting '{key}'.",
                                 hint="Use one of: " + ", ".join(sorted(
                                     f"Det.{n}" for n in known)) + ".")
            changes[name] = value
        return cls(**changes)


# Configuration entries of those sections that are not about finding boxes.
OTHER_ENTRIES = {"text_score", "use_det", "use_cls", "use_rec", "return_word_box",
                 "return_single_char_box", "font_path", "log_level", "model_root_dir",
                 "model_path", "model_dir", "engine_type", "lang_type", "model_type",
                 "ocr_version", "task_type"}


class TextDetector:
    """The DB detector of ``model_path``. ``detector.find(page)`` gives the boxes of the
    lines on a page as ``(N, 4, 2)`` float32 corners (top left, top right, bottom right,
    bottom left) in its pixels, in reading order (top to bottom, then left to right);
    ``detector(img)`` the same for an image already within the detector's bounds.

    >>> detector = TextDetector(model_files()["det"])  # doctest: +SKIP
    >>> detector.find(page_grey).shape  # doctest: +SKIP
    (23, 4, 2)
    """

    def __init__(self, model_path: Path, threads: int = 1,
                 settings: DetectorSettings = DetectorSettings()):
        from scanflow.ocr.ctc import cpu_session

        self.settings = settings
        self.session = cpu_session(model_path, threads)
        self.input_name = self.session.get_inputs()[0].name

    def find(self, page: np.ndarray) -> np.ndarray:
        """The lines' boxes on a whole page (or any image), in its pixels: the page is
        first brought within the size bounds and a very wide strip padded (RapidOCR's own
        functions for both), then the boxes are mapped back, in float32 as RapidOCR maps
        them (the same boxes to the last bit, so the same line images and reading)."""
        from rapidocr.utils.process_img import (apply_vertical_padding,
                                                map_boxes_to_original,
                                                resize_image_within_bounds)

        s = self.settings
        h, w = page.shape[:2]
        small, ratio_h, ratio_w = page, 1.0, 1.0
        if s.use_preprocess_img:
            small, ratio_h, ratio_w = resize_image_within_bounds(page, s.min_side_len,
                                                                 s.max_side_len)
        record = {"preprocess": {"ratio_h": ratio_h, "ratio_w": ratio_w}}
        if s.use_vertical_padding:
            small, record = apply_vertical_padding(small, record, s.width_height_ratio,
                                                   s.min_height)
        boxes = self(small)
        return map_boxes_to_original(boxes, record, h, w) if len(boxes) else boxes

    def __call__(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        batch = self.network_input(img)
        if batch is None:
            return np.zeros((0, 4, 2), dtype=np.float32)
        probability = self.session.run(None, {self.input_name: batch})[0][0, 0]
        return reading_order(self.boxes(probability, w, h))

    def network_input(self, img: np.ndarray) -> np.ndarray | None:
        """The page scaled to multiples of 32 px and normalised to -1..1, as a batch of one
        (1, 3, H, W); None when it would have no pixels."""
        size = scaled_size(img.shape[:2], self.settings.limit_side_len, self.settings.limit_type)
        if size is None:
            return None
        small = cv2.resize(img, size)
        if small.ndim == 2:  # a grey page: one plane computed, given as all three
            small = small[:, :, None]
        # The same dtypes as RapidOCR (scaled in float32, centred in float64), so the same
        # values to the last bit.
        x = (small.astype(np.float32) * (1 / 255.0) - np.float64(0.5)) / np.float64(0.5)
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)
        return np.repeat(x, 3, axis=1) if x.shape[1] == 1 else x

    def boxes(self, probability: np.ndarray, width: int, height: int) -> np.ndarray:
        """Line boxes from the detector's probability map, in a ``width`` x ``height``
        image's pixels."""
        s = self.settings
        mask = (probability > s.thresh).astype(np.uint8)
        if s.use_dilation:
            mask = cv2.dilate(mask, np.ones((2, 2), np.uint8))
        map_h, map_w = mask.shape
        contours, _ = cv2.findContours(mask * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        found = []
        for contour in contours[:s.max_candidates]:
            corners, short = min_area_box(contour)
            if short < MIN_SIZE or mean_inside(probability, corners) < s.box_thresh:
                continue
            corners, short = min_area_box(grown(corners, s.unclip_ratio))
            if short < MIN_SIZE + 2:
                continue
            corners[:, 0] = np.clip(np.round(corners[:, 0] / map_w * width), 0, width)
            corners[:, 1] = np.clip(np.round(corners[:, 1] / map_h * height), 0, height)
            box = clockwise(corners.astype(np.int32))
            # Corners on the image (whole pixels), and boxes of a few pixels dropped.
            box[:, 0] = np.clip(box[:, 0], 0, width - 1).astype(np.int32)
            box[:, 1] = np.clip(box[:, 1], 0, height - 1).astype(np.int32)
            if (int(np.linalg.norm(box[0] - box[1])) <= MIN_SIZE
                    or int(np.linalg.norm(box[0] - box[3])) <= MIN_SIZE):
                continue
            found.append(box)
        return np.array(found, dtype=np.float32).reshape(-1, 4, 2)


MIN_SIZE = 3  # px of the probability map: a region thinner than this is noise
LINE_STEP = 10  # px: boxes whose tops differ by less are on the same line (reading order)


def scaled_size(shape: tuple[int, int], limit: int, limit_type: str
                ) -> tuple[int, int] | None:
    """(width, height) the detector reads a ``shape`` (h, w) image at: within ``limit``
    (longer side at most, or shorter side at least), each a multiple of 32.

    >>> scaled_size((3508, 2480), 1280, "max")
    (896, 1280)
    """
    h, w = shape
    if limit_type == "max":
        ratio = limit / max(h, w) if max(h, w) > limit else 1.0
    else:
        ratio = limit / min(h, w) if min(h, w) < limit else 1.0
    # round() on halves goes to the even multiple, as in RapidOCR.
    height, width = (int(round(int(side * ratio) / 32) * 32) for side in (h, w))
    if width <= 0 or height <= 0:
        return None
    return width, height


def min_area_box(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The smallest rotated rectangle around ``points``: its corners (top left, top
    right, bottom right, bottom left) and its shorter side."""
    rect = cv2.minAreaRect(points)
    corners = sorted(cv2.boxPoints(rect), key=lambda p: p[0])  # stable: ties keep order
    left = (corners[0], corners[1]) if corners[1][1] > corners[0][1] else (corners[1], corners[0])
    right = (corners[2], corners[3]) if corners[3][1] > corners[2][1] else (corners[3], corners[2])
    # left/right hold (upper, lower) by image rows.
    return np.array([left[0], right[0], right[1], left[1]]), min(rect[1])


def mean_inside(probability: np.ndarray, corners: np.ndarray) -> float:
    """The mean probability inside the quadrilateral ``corners`` (its pixels whole)."""
    h, w = probability.shape
    x0, x1 = (int(np.clip(v, 0, w - 1)) for v in (np.floor(corners[:, 0].min()),
                                                   np.ceil(corners[:, 0].max())))
    y0, y1 = (int(np.clip(v, 0, h - 1)) for v in (np.floor(corners[:, 1].min()),
                                                   np.ceil(corners[:, 1].max())))
    inside = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
    shifted = corners - np.array([x0, y0], dtype=corners.dtype)
    cv2.fillPoly(inside, shifted.reshape(1, -1, 2).astype(np.int32), 1)
    return cv2.mean(probability[y0:y1 + 1, x0:x1 + 1], inside)[0]


def grown(corners: np.ndarray, ratio: float) -> np.ndarray:
    """``corners`` offset outwards by area x ratio / perimeter, with round joins (the
    inverse of the shrinking the detector was trained on)."""
    import pyclipper
    from shapely.geometry import Polygon

    # Shapely's area and length, as RapidOCR measures them: another formula may differ in
    # the last bit, and the offset is rounded to whole pixels.
    polygon = Polygon(corners)
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(corners, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return np.array(offset.Execute(polygon.area * ratio / polygon.length)).reshape(-1, 1, 2)


def clockwise(box: np.ndarray) -> np.ndarray:
    """The four corners as top left, top right, bottom right, bottom left (float32):
    the two leftmost are the left side, each side's upper one first."""
    by_x = box[np.argsort(box[:, 0])]
    left, right = by_x[:2], by_x[2:]
    top_left, bottom_left = left[np.argsort(left[:, 1])]
    top_right, bottom_right = right[np.argsort(right[:, 1])]
    return np.array([top_left, top_right, bottom_right, bottom_left], dtype=np.float32)


def reading_order(boxes: np.ndarray) -> np.ndarray:
    """Boxes top to bottom by their top-left corner; a box whose top is within
    :data:`LINE_STEP` px of the one above joins its line, and a line reads left to right."""
    if len(boxes) == 0:
        return boxes
    by_top = boxes[np.argsort(boxes[:, 0, 1], kind="stable")]
    tops = by_top[:, 0, 1]
    line = np.concatenate([[0], np.cumsum(np.diff(tops) >= LINE_STEP)])
    return by_top[np.lexsort((by_top[:, 0, 0], line))]
