"""Page image cleaning for OCR, as a list of small named steps.

Two images leave this module (as in OCRmyPDF, the picture a person sees and the picture
the recogniser reads are made separately):

* the *faithful* page: the scan as it was, only turned upright (90° steps), kept lossless
  for the archive and the teacher;
* the *OCR* page: greyscale, deskewed, cropped to the paper, illumination flattened and
  binarised; with a :class:`Geometry` that maps boxes on it back onto the faithful page.

Each step appends a :class:`Step` with its settings and what it decided (angle, crop...),
which the archive stores as provenance for the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field, asdict
from typing import Any

import cv2
import numpy as np

from scanflow.ocr.model import Box


@dataclass(frozen=True)
class PreprocessSettings:
    """Knobs for :func:`prepare`. Defaults suit 300 dpi scans of exercise books."""

    orient: bool = True
    deskew: bool = True
    max_skew_deg: float = 12.0
    crop: bool = True
    flatten: bool = True
    binarise: str = "otsu"  # "otsu", "sauvola" or "none"
    remove_rules: bool = True
    work_dpi: int = 300  # the OCR image is resampled to this resolution
    blank_min_marks: int = 3  # fewer letter-sized marks than this: the page is blank

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Step:
    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class Geometry:
    """Maps OCR-image coordinates back to the faithful (upright) page.

    OCR image = crop(rotate(scale(faithful))). ``matrix`` is the 2x3 affine from faithful to
    OCR coordinates before the crop; ``crop`` is the (x, y) offset taken off afterwards.
    """

    matrix: np.ndarray
    crop: tuple[int, int] = (0, 0)

    def to_faithful(self, box: Box) -> Box:
        inv = cv2.invertAffineTransform(self.matrix)
        cx, cy = self.crop
        pts = np.array(
            [
                [box.x + cx, box.y + cy],
                [box.x + box.w + cx, box.y + cy],
                [box.x + cx, box.y + box.h + cy],
                [box.x + box.w + cx, box.y + box.h + cy],
            ],
            dtype=np.float64,
        )
        mapped = pts @ inv[:, :2].T + inv[:, 2]
        x0, y0 = np.floor(mapped.min(axis=0)).astype(int)
        x1, y1 = np.ceil(mapped.max(axis=0)).astype(int)
        return Box(int(x0), int(y0), int(x1 - x0), int(y1 - y0))


@dataclass
class PreparedPage:
    faithful: np.ndarray  # RGB, upright
    grey: np.ndarray  # flattened greyscale, OCR geometry
    ocr: np.ndarray  # binarised (or grey when binarise="none"), OCR geometry
    geometry: Geometry
    steps: list[Step]
    blank: bool
    ink_ratio: float

    @property
    def rotation(self) -> int:
        for step in self.steps:
            if step.name == "orient":
                return int(step.result.get("rotate", 0))
        return 0

    @property
    def skew(self) -> float:
        for step in self.steps:
            if step.name == "deskew":
                return float(step.result.get("angle", 0.0))
        return 0.0


def prepare(
    rgb: np.ndarray,
    *,
    dpi: float = 300,
    settings: PreprocessSettings = PreprocessSettings(),
    osd=None,
) -> PreparedPage:
    """Run the cleaning steps on one page.

    ``osd`` is an optional callable ``grey -> (degrees_clockwise, confidence)`` used to turn
    the page upright (Tesseract's orientation detection); without it pages stay as scanned.
    """
    steps: list[Step] = []
    faithful = rgb
    grey = to_grey(rgb)

    if settings.orient and osd is not None:
        rotate, conf = osd(grey)
        steps.append(Step("orient", {"method": "tesseract-osd", "min_confidence": 2.0},
                          {"rotate": rotate, "confidence": conf}))
        if rotate:
            faithful = rotate_right_angle(faithful, rotate)
            grey = rotate_right_angle(grey, rotate)

    scale = settings.work_dpi / dpi if dpi else 1.0
    # Resampling only when far from the working resolution avoids blurring good scans.
    if not 0.8 <= scale <= 1.25:
        grey = cv2.resize(grey, None, fx=scale, fy=scale,
                          interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
        steps.append(Step("resample", {"from_dpi": round(dpi, 1), "to_dpi": settings.work_dpi},
                          {"scale": round(scale, 4)}))
    else:
        scale = 1.0
    matrix = np.array([[scale, 0, 0], [0, scale, 0]], dtype=np.float64)

    if settings.deskew:
        angle = estimate_skew(grey, settings.max_skew_deg)
        steps.append(Step("deskew", {"method": "projection-profile",
                                     "max_deg": settings.max_skew_deg},
                          {"angle": round(angle, 2)}))
        if abs(angle) >= 0.1:
            grey, rot = rotate_by(grey, angle)
            matrix = _compose(rot, matrix)

    crop = (0, 0)
    if settings.crop:
        x, y, w, h = find_paper(grey)
        steps.append(Step("crop", {"method": "dark-edge-strips", "dark": 0.6},
                          {"x": x, "y": y, "w": w, "h": h}))
        grey = grey[y:y + h, x:x + w]
        crop = (x, y)

    if settings.flatten:
        grey = flatten_illumination(grey)
        steps.append(Step("flatten", {"method": "divide-by-background", "kernel": "page/40"}))

    if settings.binarise == "otsu":
        ocr = binarise_otsu(grey)
    elif settings.binarise == "sauvola":
        ocr = binarise_sauvola(grey)
    else:
        ocr = grey
    steps.append(Step("binarise", {"method": settings.binarise}))

    ink = ink_mask(ocr if settings.binarise != "none" else binarise_otsu(grey))
    if settings.remove_rules:
        rules = ruled_lines_mask(ink, settings.work_dpi)
        ink = remove_rules(ink, rules, settings.work_dpi)
        if settings.binarise != "none":
            ocr = cv2.bitwise_not(ink)
        else:
            # Continuous tone for engines that want it: rules painted paper-white.
            ocr = grey.copy()
            ocr[(rules > 0) & (ink == 0)] = 255
        steps.append(Step("remove_rules", {"method": "long-horizontal-vertical-runs"},
                          {"rule_pixels": int(np.count_nonzero(rules))}))
    ratio = float(np.count_nonzero(ink)) / ink.size if ink.size else 0.0
    marks = count_marks(ink, settings.work_dpi)
    blank = marks < settings.blank_min_marks
    steps.append(Step("blank_check", {"min_marks": settings.blank_min_marks},
                      {"marks": marks, "ink_ratio": round(ratio, 5), "blank": blank}))

    return PreparedPage(faithful=faithful, grey=grey, ocr=ocr,
                        geometry=Geometry(matrix=matrix, crop=crop),
                        steps=steps, blank=blank, ink_ratio=ratio)


def to_grey(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim == 2:
        return rgb
    if rgb.shape[2] == 4:
        rgb = rgb[:, :, :3]
    # The red margin and blue rules should fade, pencil should not: the max channel
    # keeps coloured lines light while grey pencil stays dark in every channel.
    return rgb.max(axis=2).astype(np.uint8) if _is_colour(rgb) else rgb[:, :, 0].copy()


def _is_colour(rgb: np.ndarray) -> bool:
    small = rgb[:: max(1, rgb.shape[0] // 200), :: max(1, rgb.shape[1] // 200)].astype(np.int16)
    return bool(np.abs(small - small.mean(axis=2, keepdims=True)).max() > 12)


def rotate_right_angle(img: np.ndarray, degrees_clockwise: int) -> np.ndarray:
    turns = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180,
             270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    code = turns.get(int(degrees_clockwise) % 360)
    return img if code is None else cv2.rotate(img, code)


def estimate_skew(grey: np.ndarray, max_deg: float = 12.0) -> float:
    """Angle (degrees, counter-clockwise positive as in OpenCV) that makes lines level.

    Projection profile: the row sums of ink are sharpest when text lines and rules are
    horizontal. Searched coarse-to-fine on a downscaled copy, so it costs ~50 ms a page.
    """
    h, w = grey.shape
    f = 800.0 / max(h, w)
    small = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else grey
    small = cv2.adaptiveThreshold(small, 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                  cv2.THRESH_BINARY_INV, 31, 10)
    # Ignore the outer band where scanner edges and the desk dominate.
    mh, mw = small.shape[0] // 12, small.shape[1] // 12
    small = small[mh:-mh or None, mw:-mw or None]

    def score(angle: float) -> float:
        m = cv2.getRotationMatrix2D((small.shape[1] / 2, small.shape[0] / 2), angle, 1.0)
        rot = cv2.warpAffine(small, m, (small.shape[1], small.shape[0]),
                             flags=cv2.INTER_NEAREST, borderValue=0)
        profile = rot.sum(axis=1, dtype=np.float64)
        return float(np.var(np.diff(profile)))

    best, step = 0.0, 1.0
    candidates = np.arange(-max_deg, max_deg + 1e-9, step)
    while step >= 0.1:
        scores = [score(a) for a in candidates]
        best = float(candidates[int(np.argmax(scores))])
        step /= 5
        candidates = np.arange(best - 5 * step, best + 5 * step + 1e-9, step)
    return best


def rotate_by(img: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotate about the centre, growing the canvas so no corner is cut; fill with white."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    out = cv2.warpAffine(img, m, (nw, nh), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    return out, m


def _compose(second: np.ndarray, first: np.ndarray) -> np.ndarray:
    a = np.vstack([second, [0, 0, 1]]) @ np.vstack([first, [0, 0, 1]])
    return a[:2]


def find_paper(grey: np.ndarray, dark: float = 0.6) -> tuple[int, int, int, int]:
    """Bounding box of the sheet: the image less any dark strips along its edges.

    A flatbed scan is all paper and comes back whole; a dark scanner lid or desk along an
    edge is cut off. Only rows/columns that are mostly much darker than the paper count
    as background, so shading on the paper itself (a book's gutter, uneven light) is never
    mistaken for it: cutting off writing would be far worse than keeping a dark strip.
    """
    h, w = grey.shape
    f = 600.0 / max(h, w)
    small = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    paper = float(np.percentile(small, 90))
    limit = paper * dark

    def edge(profile: np.ndarray) -> int:
        n = 0
        while n < len(profile) // 3 and profile[n] < limit:
            n += 1
        return n

    rows, cols = np.median(small, axis=1), np.median(small, axis=0)
    top, bottom = edge(rows), edge(rows[::-1])
    left, right = edge(cols), edge(cols[::-1])
    x0, y0 = int(left / f), int(top / f)
    x1, y1 = w - int(right / f), h - int(bottom / f)
    return x0, y0, x1 - x0, y1 - y0


def flatten_illumination(grey: np.ndarray) -> np.ndarray:
    """Divide by an estimate of the paper's brightness so shadows and gradients vanish."""
    h, w = grey.shape
    f = 0.25
    small = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    k = max(15, (max(small.shape) // 40) | 1)
    # Closing removes dark strokes (they are thinner than k), leaving the paper.
    background = cv2.morphologyEx(small, cv2.MORPH_CLOSE,
                                  cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    background = cv2.GaussianBlur(background, (k, k), 0)
    background = cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)
    # Paper goes to its typical brightness, not pure white: clipping the paper to 255
    # cost RapidOCR 1-2 points of CER on grey input, and Otsu does not care.
    flat = cv2.divide(grey.astype(np.float32), np.maximum(background, 1).astype(np.float32),
                      scale=float(np.median(background)))
    return np.clip(flat, 0, 255).astype(np.uint8)


def binarise_otsu(grey: np.ndarray) -> np.ndarray:
    _, out = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return out


def binarise_sauvola(grey: np.ndarray, window: int = 41, k: float = 0.2) -> np.ndarray:
    g = grey.astype(np.float64)
    mean = cv2.boxFilter(g, -1, (window, window))
    sq = cv2.boxFilter(g * g, -1, (window, window))
    std = np.sqrt(np.maximum(sq - mean * mean, 0))
    thresh = mean * (1 + k * (std / 128.0 - 1))
    return np.where(g > thresh, 255, 0).astype(np.uint8)


def ink_mask(binary: np.ndarray) -> np.ndarray:
    return cv2.bitwise_not(binary)


def count_marks(ink: np.ndarray, dpi: float = 300) -> int:
    """Letter-sized connected marks: a page with a single word has several, scanner dust
    and JPEG speckle have none (they are smaller than ~0.7 mm)."""
    min_h = max(3, int(dpi * 0.027))
    max_h = int(dpi * 1.5)
    clean = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(clean, connectivity=8)
    heights, areas = stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_AREA]
    return int(np.count_nonzero((heights >= min_h) & (heights <= max_h) & (areas >= min_h * 2)))


def ruled_lines_mask(ink: np.ndarray, dpi: float = 300) -> np.ndarray:
    """Ink pixels that belong to long straight horizontal or vertical lines (rules, margins).

    Faint ruling breaks into dashes when binarised, so short gaps are closed before looking
    for runs longer than an eighth of the page and at least an inch (so a letter's stem on
    a single-line image is never taken for a rule); only pixels that were ink are returned.
    """
    h, w = ink.shape
    rect = lambda kw, kh: cv2.getStructuringElement(cv2.MORPH_RECT, (kw, kh))  # noqa: E731
    joined_h = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, rect(max(9, w // 120), 1))
    horiz = cv2.morphologyEx(joined_h, cv2.MORPH_OPEN, rect(max(int(dpi), w // 8), 1))
    joined_v = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, rect(1, max(9, h // 120)))
    vert = cv2.morphologyEx(joined_v, cv2.MORPH_OPEN, rect(1, max(int(dpi), h // 8)))
    lines = cv2.dilate(cv2.bitwise_or(horiz, vert), rect(3, 3))
    return cv2.bitwise_and(lines, ink)


def remove_rules(ink: np.ndarray, rules: np.ndarray, dpi: float = 300) -> np.ndarray:
    """Ink without the rules, with letter strokes that crossed a rule joined up again."""
    kept = cv2.bitwise_and(ink, cv2.bitwise_not(rules))
    k = max(5, int(dpi * 0.03)) | 1  # a little more than a rule's thickness
    bridged = cv2.morphologyEx(kept, cv2.MORPH_CLOSE,
                               cv2.getStructuringElement(cv2.MORPH_RECT, (1, k)))
    return cv2.bitwise_or(kept, cv2.bitwise_and(bridged, rules))
