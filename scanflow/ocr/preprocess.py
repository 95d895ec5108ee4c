"""Page image cleaning for OCR, as a list of small named steps.

Two images leave this module (as in OCRmyPDF, the picture a person sees and the picture
the recogniser reads are made separately):

* the *faithful* page: the scan or photo as it was, only turned upright (90° steps), kept
  lossless for the archive and the teacher;
* the *OCR* page: greyscale, perspective-corrected (photos), deskewed, cropped to the
  paper, illumination flattened, rules removed and binarised; with a :class:`Geometry`
  that maps boxes on it back onto the faithful page.

The steps, in order (each one a function here, each switchable in
:class:`PreprocessSettings`)::

    orient -> dewarp -> resample -> deskew -> crop -> flatten -> contrast -> binarise
           -> remove_rules -> segment_lines -> blank_check

Each step appends a :class:`Step` with its settings and what it decided (angle, corners,
crop, line bands...), which the archive stores as provenance for the page; ``prepare(...,
trace=[])`` also collects the image after each step (``scanflow debug-page`` writes them).
Which steps are on by default, and why, is measured in ``docs/recognition.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, asdict
from typing import Any

import cv2
import numpy as np

from scanflow.errors import UsageError
from scanflow.imaging import label_marks, shrink, shrink_by
from scanflow.ocr.model import Box


@dataclass(frozen=True)
class PreprocessSettings:
    """Knobs for :func:`prepare`. Defaults suit 300 dpi scans of exercise books.

    Each default was measured on and off (``benchmarks/preprocess_steps.py``; figures in
    ``docs/recognition.md``): ``dewarp`` and ``despeckle`` are on because they read
    better; ``contrast``, ``rules_from_grey`` and ``line_bands`` are off because they did
    not (on average), and stay available for pages where they help.
    """

    orient: bool = True
    dewarp: bool = True  # find the sheet in a photo and straighten its perspective
    paper_width_in: float = 8.27  # a dewarped sheet's width (A4), for its resolution
    deskew: bool = True
    max_skew_deg: float = 12.0
    min_skew_deg: float = 1.0  # a smaller skew is left alone (turning only blurs)
    crop: bool = True
    flatten: bool = True
    min_unevenness: float = 0.15  # flatten when the light varies this share of the strokes' contrast
    contrast: str = "none"  # faint-pencil recovery: "none", "stretch" or "clahe"
    faint_below: int = 70  # recover when paper-to-stroke contrast is below this (0-255)
    binarise: str = "otsu"  # "otsu", "sauvola" or "none"
    remove_rules: bool = True
    rules_from_grey: bool = False  # also paint rules out of the grey image (RapidOCR's)
    despeckle: bool = True  # with remove_rules: drop specks under ~0.1 mm² (rule crossings)
    # Line bands are found when line_bands uses them or the debug view draws them; this
    # records them on every page as well (18 CPU-ms a page that nothing else reads).
    segment_lines: bool = False
    line_bands: str = "off"  # use the bands when reading: "off", "regroup" or "read"
    work_dpi: int = 300  # the OCR image is resampled to this resolution
    blank_min_marks: int = 3  # fewer letter-sized marks than this: the page is blank

    def __post_init__(self):
        for name, value, allowed in (("binarise", self.binarise, BINARISE),
                                     ("contrast", self.contrast, CONTRAST),
                                     ("line_bands", self.line_bands, LINE_BANDS)):
            if value not in allowed:
                raise UsageError(f"Unknown {name} setting '{value}'.",
                                 hint=f"Use one of: {', '.join(allowed)}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def bare(cls, **changes) -> "PreprocessSettings":
        """Every step off: the engine reads the page as scanned, in greyscale (what the
        pipeline is measured against), with ``changes`` on top."""
        off = {"orient": False, "dewarp": False, "deskew": False, "crop": False,
               "flatten": False, "contrast": "none", "binarise": "none", "remove_rules": False,
               "despeckle": False, "segment_lines": False, "line_bands": "off"}
        return cls(**{**off, **changes})


BINARISE = ("otsu", "sauvola", "none")
CONTRAST = ("none", "stretch", "clahe")
LINE_BANDS = ("off", "regroup", "read")


@dataclass
class Step:
    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class Geometry:
    """Maps OCR-image coordinates back to the faithful (upright) page.

    OCR image = crop(warp(faithful)). ``matrix`` maps faithful to OCR coordinates before
    the crop: a 2x3 affine (scale, rotation) for scans, or a 3x3 homography when a photo's
    perspective was corrected; ``crop`` is the (x, y) offset taken off afterwards.

    >>> g = Geometry(np.array([[0.5, 0, 0], [0, 0.5, 0]]), crop=(10, 0))
    >>> g.to_faithful(Box(0, 0, 10, 10))
    Box(x=20, y=0, w=20, h=20)
    """

    matrix: np.ndarray
    crop: tuple[int, int] = (0, 0)

    @property
    def homography(self) -> np.ndarray:
        """``matrix`` as 3x3 (an affine gets the row ``0 0 1``)."""
        m = np.asarray(self.matrix, dtype=np.float64)
        return m if m.shape == (3, 3) else np.vstack([m, [0.0, 0.0, 1.0]])

    def to_faithful(self, box: Box) -> Box:
        """The faithful-page box around ``box`` (an OCR-image box) once mapped back."""
        cx, cy = self.crop
        pts = _box_corners(box) + [cx, cy]
        return _bounds(_apply(np.linalg.inv(self.homography), pts))

    def to_ocr(self, box: Box) -> Box:
        """The OCR-image box around ``box`` (a faithful-page box): the inverse mapping."""
        cx, cy = self.crop
        return _bounds(_apply(self.homography, _box_corners(box)) - [cx, cy])

    def line_to_ocr(self, box: Box) -> Box:
        """Where the engine read a line whose faithful-page box is ``box``: its box in the
        OCR image.

        A line is level in the OCR image (the page was deskewed), and :meth:`to_faithful`
        gave it the upright box around its slope, taller by the turn. :meth:`to_ocr` of
        that box would grow it by the turn again and take in parts of the neighbouring
        lines. So the line's own size is worked back from the turn (:func:`level_size`),
        at the scale the page was resampled or straightened by, and centred where the
        box's centre maps to.

        >>> g = Geometry(np.array([[0.5, 0, 0], [0, 0.5, 0]]), crop=(10, 0))
        >>> g.line_to_ocr(g.to_faithful(Box(0, 0, 100, 10)))
        Box(x=0, y=0, w=100, h=10)
        """
        tl, tr, bl, _ = _apply(self.homography, _box_corners(box)) - self.crop
        along, across = tr - tl, bl - tl
        turn = np.degrees(np.arctan2(along[1], along[0]))
        size = level_size(box.w, box.h, turn) or (box.w, box.h)
        w = size[0] * np.hypot(*along) / max(box.w, 1)
        h = size[1] * np.hypot(*across) / max(box.h, 1)
        centre = (tr + bl) / 2
        return _bounds(np.array([centre - [w / 2, h / 2], centre + [w / 2, h / 2]]))


def level_size(w: float, h: float, turn_deg: float) -> tuple[float, float] | None:
    """The size of the level line whose upright box is ``w`` x ``h`` once it is turned by
    ``turn_deg``; None when no such line fits (a box that is not a sloping line's, or a
    turn near 45 degrees), and ``(w, h)`` itself when there is no turn.

    >>> [round(v) for v in level_size(2001.4, 184.6, 3.0)]
    [2000, 80]
    """
    t = np.radians(turn_deg or 0.0)
    c, s = float(np.cos(t)), abs(float(np.sin(t)))
    if s == 0:
        return float(w), float(h)
    d = c * c - s * s
    if d <= 0:
        return None
    lw, lh = (w * c - h * s) / d, (h * c - w * s) / d
    return (lw, lh) if lh > h * 0.3 and lw > w * 0.5 else None


def _box_corners(box: Box) -> np.ndarray:
    return np.array([[box.x, box.y], [box.x + box.w, box.y],
                     [box.x, box.y + box.h], [box.x + box.w, box.y + box.h]], dtype=np.float64)


def _apply(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Points through a 3x3 projective transform (the divide makes perspective work)."""
    p = np.hstack([pts, np.ones((len(pts), 1))]) @ h.T
    return p[:, :2] / p[:, 2:3]


def _bounds(pts: np.ndarray) -> Box:
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
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
    bands: list[tuple[int, int]] = field(default_factory=list)  # text line y ranges (OCR image)

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
    trace: list | None = None,
    hide: list | None = None,
) -> PreparedPage:
    """Run the cleaning steps on one page.

    ``osd`` is an optional callable ``grey -> (degrees_clockwise, evidence dict or a
    confidence)`` used to turn the page upright (:mod:`scanflow.ocr.orientation`); its ``settings`` attribute, if
    any, and the evidence are recorded; without it pages stay as scanned.
    ``trace``, if a list, receives ``(step name, image)`` after each step that changes an
    image (the debug view); the images are the arrays themselves, not copies.
    ``hide`` lists polygons (corners in ``rgb``'s pixels) painted paper-white in what the
    engine reads but kept in the faithful page: printed matter such as a pupil's label.

    >>> prepared = prepare(page_rgb, dpi=300)  # doctest: +SKIP
    >>> [s.name for s in prepared.steps]  # doctest: +SKIP
    ['dewarp', 'deskew', 'crop', 'flatten', 'binarise', 'remove_rules', 'blank_check']
    """
    steps: list[Step] = []
    faithful = rgb
    grey = paint_out(to_grey(rgb), hide or [])

    def show(name: str, image: np.ndarray) -> None:
        if trace is not None:
            trace.append((name, image))

    show("input", grey)
    if settings.orient and osd is not None:
        rotate, evidence = osd(grey)
        if not isinstance(evidence, dict):  # a plain (degrees, confidence) decider
            evidence = {"confidence": evidence}
        steps.append(Step("orient", dict(getattr(osd, "settings", {})),
                          {**evidence, "rotate": rotate}))
        if rotate:
            faithful = rotate_right_angle(faithful, rotate)
            grey = rotate_right_angle(grey, rotate)
            show("orient", grey)

    matrix = np.eye(3)
    dewarped = False
    if settings.dewarp:
        quad = find_page_quad(faithful)
        result: dict[str, Any] = {"found": quad.found, "reason": quad.reason, **quad.measures}
        if quad.found:
            grey, matrix, info = dewarp(grey, quad.corners, settings.work_dpi,
                                        settings.paper_width_in)
            result.update(info)
            dewarped = True
        steps.append(Step("dewarp", {"method": "min-channel-otsu-quad",
                                     "paper_width_in": settings.paper_width_in}, result))
        if trace is not None:
            show("dewarp", grey if dewarped else draw_quad(faithful, quad))

    declared, dpi = dpi, plausible_dpi(grey.shape, dpi, settings.work_dpi)
    scale = settings.work_dpi / dpi if dpi else 1.0
    # Resampling only when far from the working resolution avoids blurring good scans.
    if not dewarped and not 0.8 <= scale <= 1.25:
        grey = cv2.resize(grey, None, fx=scale, fy=scale,
                          interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)
        steps.append(Step("resample", {"from_dpi": round(dpi, 1), "to_dpi": settings.work_dpi,
                                       "declared_dpi": round(declared or 0, 1)},
                          {"scale": round(scale, 4)}))
        matrix = np.diag([scale, scale, 1.0])
        show("resample", grey)

    if settings.deskew:
        angle = estimate_skew(grey, settings.max_skew_deg)
        turn = abs(angle) >= settings.min_skew_deg
        steps.append(Step("deskew", {"method": "projection-profile",
                                     "max_deg": settings.max_skew_deg,
                                     "min_deg": settings.min_skew_deg},
                          {"angle": round(angle, 2), "applied": turn}))
        if turn:
            grey, rot = rotate_by(grey, angle)
            matrix = _compose(rot, matrix)
            show("deskew", grey)

    crop = (0, 0)
    if settings.crop:
        x, y, w, h = find_paper(grey)
        steps.append(Step("crop", {"method": "dark-edge-strips", "dark": 0.6},
                          {"x": x, "y": y, "w": w, "h": h}))
        grey = grey[y:y + h, x:x + w]
        crop = (x, y)
        show("crop", grey)

    if settings.flatten:
        background = paper_background(grey)
        uneven = unevenness(background, stroke_contrast(grey)[1])
        applied = uneven >= settings.min_unevenness
        if applied:
            grey = flatten_illumination(grey, background)
            show("flatten", grey)
        steps.append(Step("flatten", {"method": "divide-by-background", "kernel": "page/40",
                                      "min_unevenness": settings.min_unevenness},
                          {"unevenness": round(min(uneven, 99.0), 3), "applied": applied}))

    if settings.contrast != "none":
        grey, result = recover_faint(grey, method=settings.contrast,
                                     faint_below=settings.faint_below)
        steps.append(Step("contrast", {"method": settings.contrast,
                                       "faint_below": settings.faint_below}, result))
        show("contrast", grey)

    if settings.binarise == "otsu":
        ocr = binarise_otsu(grey)
    elif settings.binarise == "sauvola":
        ocr = binarise_sauvola(grey)
    else:
        ocr = grey
    steps.append(Step("binarise", {"method": settings.binarise}))
    if settings.binarise != "none":
        show("binarise", ocr)

    ink = ink_mask(ocr if settings.binarise != "none" else binarise_otsu(grey))
    labelled = None  # the ink's marks, labelled when despeckling (segment_lines uses them)
    if settings.remove_rules:
        rules, rows, cols = ruled_lines(ink, settings.work_dpi)
        ink = remove_rules(ink, rules, settings.work_dpi, near=(rows, cols))
        result = {"rule_pixels": int(np.count_nonzero(rules))}
        if settings.despeckle:
            ink, specks, labelled = despeckle_labelled(ink, settings.work_dpi)
            result["specks_removed"] = specks
        if settings.rules_from_grey:
            grey, painted = paint_rules(grey, rules, ink)
            result["grey_pixels_painted"] = painted
        if settings.binarise != "none":
            ocr = cv2.bitwise_not(ink)
        else:
            # Continuous tone for engines that want it: rules painted paper-white.
            ocr = grey.copy()
            ocr[(rules > 0) & (ink == 0)] = 255
        steps.append(Step("remove_rules", {"method": "long-horizontal-vertical-runs",
                                           "from_grey": settings.rules_from_grey,
                                           "despeckle": settings.despeckle}, result))
        show("remove_rules", ocr)
        if settings.rules_from_grey:
            show("remove_rules_grey", grey)

    bands: list[tuple[int, int]] = []
    if settings.segment_lines or settings.line_bands != "off" or trace is not None:
        bands = segment_lines(ink, settings.work_dpi, marks=labelled)
        steps.append(Step("segment_lines", {"method": "projection-profile"},
                          {"count": len(bands), "bands": [list(b) for b in bands]}))
        if trace is not None:
            show("segment_lines", draw_bands(grey, bands))

    ratio = float(np.count_nonzero(ink)) / ink.size if ink.size else 0.0
    marks = count_marks(ink, settings.work_dpi, marks=labelled)
    blank = marks < settings.blank_min_marks
    steps.append(Step("blank_check", {"min_marks": settings.blank_min_marks},
                      {"marks": marks, "ink_ratio": round(ratio, 5), "blank": blank}))

    return PreparedPage(faithful=faithful, grey=grey, ocr=ocr,
                        geometry=Geometry(matrix=matrix, crop=crop),
                        steps=steps, blank=blank, ink_ratio=ratio, bands=bands)


# The longest sheet a school scans (A3, 16.5 in) with room to spare: a resolution that
# makes the image longer than this describes a screen, not the paper.
MAX_PAPER_IN = 18.0


def plausible_dpi(shape: tuple[int, ...], dpi: float | None, fallback: float = 300) -> float:
    """``dpi`` if it gives the image a paper-sized extent, else ``fallback``.

    Image files often carry a screen resolution (72 or 96 dpi) that no scanner used: a
    1950-pixel-wide 300 dpi scan labelled 72 dpi would be 27 inches wide, and resampling
    it to the working resolution makes it four times larger, slower and no better read.

    >>> plausible_dpi((1569, 1950), 72.0)
    300
    >>> plausible_dpi((1169, 827), 100.0)
    100.0
    """
    if not dpi or max(shape[:2]) / dpi > MAX_PAPER_IN:
        return fallback
    return dpi


def to_grey(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim == 2:
        return rgb
    if rgb.shape[2] == 4:
        rgb = rgb[:, :, :3]
    # The red margin and blue rules should fade, pencil should not: the max channel
    # keeps coloured lines light while grey pencil stays dark in every channel.
    if not _is_colour(rgb):
        return rgb[:, :, 0].copy()
    return channel_extreme(rgb, np.maximum)


def channel_extreme(rgb: np.ndarray, pick=np.maximum) -> np.ndarray:
    """Per pixel, the largest (``np.maximum``) or smallest (``np.minimum``) of R, G, B.

    Pairwise over the channel planes: ``rgb.max(axis=2)`` gives the same answer but
    reduces along the innermost, 3-long axis, 25 times slower (0.17 s on an A4 page).
    """
    return pick(pick(rgb[:, :, 0], rgb[:, :, 1]), rgb[:, :, 2]).astype(np.uint8, copy=False)


def paint_out(image: np.ndarray, polygons: list) -> np.ndarray:
    """A copy of ``image`` with each polygon (a list of ``[x, y]`` corners) painted white;
    ``image`` itself when there are none."""
    if not polygons:
        return image
    painted = image.copy()
    white = (255,) * (painted.shape[2] if painted.ndim == 3 else 1)
    cv2.fillPoly(painted, [np.round(np.asarray(p)).astype(np.int32) for p in polygons], white)
    return painted


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
    small = shrink(grey, f) if f < 1 else grey
    small = cv2.adaptiveThreshold(small, 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                  cv2.THRESH_BINARY_INV, 31, 10)
    # Ignore the outer band where scanner edges and the desk dominate.
    mh, mw = small.shape[0] // 12, small.shape[1] // 12
    small = small[mh:-mh or None, mw:-mw or None]

    def score(angle: float) -> float:
        m = cv2.getRotationMatrix2D((small.shape[1] / 2, small.shape[0] / 2), angle, 1.0)
        rot = cv2.warpAffine(small, m, (small.shape[1], small.shape[0]),
                             flags=cv2.INTER_NEAREST, borderValue=0)
        # Row sums by OpenCV: exact in 32 bits, and a fifth of numpy's time on uint8.
        profile = cv2.reduce(rot, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel().astype(np.float64)
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
    """``second`` after ``first``, both 2x3 or 3x3, as 3x3."""
    def full(m):
        return m if m.shape == (3, 3) else np.vstack([m, [0, 0, 1]])

    return full(np.asarray(second, np.float64)) @ full(np.asarray(first, np.float64))


def find_paper(grey: np.ndarray, dark: float = 0.6) -> tuple[int, int, int, int]:
    """Bounding box of the sheet: the image less any dark strips along its edges.

    A flatbed scan is all paper and comes back whole; a dark scanner lid or desk along an
    edge is cut off. Only rows/columns that are mostly much darker than the paper count
    as background, so shading on the paper itself (a book's gutter, uneven light) is never
    mistaken for it: cutting off writing would be far worse than keeping a dark strip.
    """
    h, w = grey.shape
    f = 600.0 / max(h, w)
    small = shrink(grey, f)
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


def paper_background(grey: np.ndarray) -> np.ndarray:
    """The paper's brightness with the writing taken out, at a quarter of the size."""
    small = cv2.resize(grey, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    k = max(15, (max(small.shape) // 40) | 1)
    # Closing removes dark strokes (they are thinner than k), leaving the paper.
    background = cv2.morphologyEx(small, cv2.MORPH_CLOSE,
                                  cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return cv2.GaussianBlur(background, (k, k), 0)


def unevenness(background: np.ndarray, contrast: float) -> float:
    """How much the light varies over the page, against how dark the writing is: the
    spread of the paper's brightness (2nd to 98th percentile) over the strokes' contrast
    (:func:`stroke_contrast`). Shading a tenth as dark as a pen stroke does not matter;
    the same shading on faint pencil is a third of a stroke, enough to break a single
    threshold. Measured: flatbed IAM scans 0.01-0.11, generated scans 0.12-0.43, faint
    pencil 0.31-0.43, photographed letters 0.10-0.19, phone photos 1 and more."""
    lo, hi = np.percentile(background[:: 2, :: 2], [2, 98])
    return float((hi - lo) / contrast) if contrast > 0 else float("inf")


def flatten_illumination(grey: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
    """Divide by an estimate of the paper's brightness so shadows and gradients vanish.

    On evenly lit scans it only disturbs the strokes' tones (one of nine flatbed IAM
    pages read more than a point worse), so :func:`prepare` applies it when the light is
    uneven for the writing on the page (:func:`unevenness`).
    """
    h, w = grey.shape
    if background is None:
        background = paper_background(grey)
    # Kept off 0 before it is enlarged: interpolating between values of 1 or more gives 1
    # or more, and the small copy is a sixteenth of the pixels.
    background = cv2.resize(np.maximum(background, 1), (w, h), interpolation=cv2.INTER_LINEAR)
    # Paper goes to its typical brightness, not pure white: clipping the paper to 255
    # cost RapidOCR 1-2 points of CER on grey input, and Otsu does not care.
    typical = _ranked(np.arange(256.0), _histogram(background), 0.5)
    # grey * typical / background, rounded down and kept to 255, in fixed point: OpenCV
    # rounds the quotient times 256 into 16 bits (saturating, which is the cap at 255),
    # and the top byte is the quotient rounded down. The same pixels as dividing in
    # floating point on the generated and IAM pages, in half the time (10 -> 5 ms).
    flat = cv2.divide(grey, background, scale=typical * 256, dtype=cv2.CV_16U)
    return (flat >> 8).astype(np.uint8)


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


def count_marks(ink: np.ndarray, dpi: float = 300,
                marks: tuple[np.ndarray, np.ndarray] | None = None) -> int:
    """Letter-sized connected marks: a page with a single word has several, scanner dust
    and JPEG speckle have none (they are smaller than ~0.7 mm).

    Marks are counted after a 2x2 opening, so hairline fibres and one-pixel streaks do not
    count. ``marks``: ``ink``'s marks already labelled (:func:`despeckle_labelled`); when
    they hold plenty of letter-sized ones (a written page) that count is returned as it is,
    since the opening and second labelling (80 ms a page) cannot turn a page of writing
    blank; near the blank threshold the marks are counted the careful way.
    """
    min_h = max(3, int(dpi * 0.027))
    max_h = int(dpi * 1.5)

    def letters(stats: np.ndarray) -> int:
        heights, areas = stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_AREA]
        return int(np.count_nonzero((heights >= min_h) & (heights <= max_h)
                                    & (areas >= min_h * 2)))

    if marks is not None:
        found = letters(marks[1])
        if found >= PLENTY_OF_MARKS:
            return found
    clean = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    return letters(label_marks(clean)[2])


# A written page has hundreds of letter-sized marks, a blank one fewer than a handful.
PLENTY_OF_MARKS = 50


def ruled_lines_mask(ink: np.ndarray, dpi: float = 300) -> np.ndarray:
    """:func:`ruled_lines`' mask alone."""
    return ruled_lines(ink, dpi)[0]


def ruled_lines(ink: np.ndarray, dpi: float = 300
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(mask, rows, cols)``: the ink pixels that belong to long straight horizontal or
    vertical lines (rules, margins), and the rows and columns they were looked for in.

    Faint ruling breaks into dashes when binarised, so short gaps are closed before looking
    for runs longer than an eighth of the page and at least an inch (so a letter's stem on
    a single-line image is never taken for a rule); only pixels that were ink are returned.

    Closing and opening by a one-pixel-thin line treat each row (or column) on its own, so
    they are run at full resolution only on the rows and columns where a quick look at half
    resolution (a 2x2 block is ink when any of its pixels is, with a shorter run and a
    wider gap allowed) sees a run that long: a page's rules, not its writing. The result is
    the full-page search's, at 40 instead of 120-180 CPU-ms a page. (Taking the half-
    resolution rules themselves, a pixel coarser, cost Tesseract 0.5 points of CER on
    ruled pages.) ``rows`` and ``cols`` are where the mask can be set: every pixel of it
    is within a pixel of one of them (:func:`remove_rules` works only there).
    """
    h, w = ink.shape
    gap_h, run_h = max(9, w // 120), max(int(dpi), w // 8)
    gap_v, run_v = max(9, h // 120), max(int(dpi), h // 8)
    rows, cols = np.arange(h), np.arange(w)
    if min(h, w) >= 8:
        small = shrink_by(ink, 2)
        small[small > 0] = 255
        # A row holds a run that long exactly when the erosion half of the opening
        # leaves anything in it: the dilation half is not needed to know which rows.
        line_h, line_v = _rect(max(1, run_h // 2 - 2), 1), _rect(1, max(1, run_v // 2 - 2))
        rows = _near(np.flatnonzero(cv2.erode(cv2.morphologyEx(
            small, cv2.MORPH_CLOSE, _rect(gap_h // 2 + 2, 1)), line_h).any(axis=1)), h)
        cols = _near(np.flatnonzero(cv2.erode(cv2.morphologyEx(
            small, cv2.MORPH_CLOSE, _rect(1, gap_v // 2 + 2)), line_v).any(axis=0)), w)
    lines = np.zeros_like(ink)
    if len(rows):
        joined = cv2.morphologyEx(np.ascontiguousarray(ink[rows]), cv2.MORPH_CLOSE,
                                  _rect(gap_h, 1))
        lines[rows] = long_runs(joined, run_h, axis=1)
    if len(cols):
        joined = cv2.morphologyEx(np.ascontiguousarray(ink[:, cols]), cv2.MORPH_CLOSE,
                                  _rect(1, gap_v))
        lines[:, cols] |= long_runs(joined, run_v, axis=0)
    return _grown_into_ink(lines, ink, rows, cols), rows, cols


def _grown_into_ink(lines: np.ndarray, ink: np.ndarray, rows: np.ndarray,
                    cols: np.ndarray) -> np.ndarray:
    """``cv2.bitwise_and(cv2.dilate(lines, 3x3), ink)`` for ``lines`` that are empty
    outside ``rows`` and ``cols``: worked out on each run of neighbouring rows (columns)
    and a pixel either side, which is the same, instead of over the page (5 CPU-ms)."""
    square = _rect(3, 3)
    row_runs, col_runs = _runs(rows), _runs(cols)
    if len(row_runs) + len(col_runs) > MAX_STRIPS:
        return cv2.bitwise_and(cv2.dilate(lines, square), ink)
    h, w = ink.shape
    out = np.zeros_like(ink)
    for a, b in row_runs:
        lo, hi = max(0, a - 1), min(h, b + 1)
        strip = np.zeros((hi - lo, w), np.uint8)
        strip[a - lo:b - lo] = lines[a:b]
        out[lo:hi] |= cv2.bitwise_and(cv2.dilate(strip, square), ink[lo:hi])
    for a, b in col_runs:
        lo, hi = max(0, a - 1), min(w, b + 1)
        strip = np.zeros((h, hi - lo), np.uint8)
        strip[:, a - lo:b - lo] = lines[:, a:b]
        out[:, lo:hi] |= cv2.bitwise_and(cv2.dilate(strip, square), np.ascontiguousarray(
            ink[:, lo:hi]))
    return out


# Past this many strips (a page of noise) the page-wide dilation is quicker.
MAX_STRIPS = 200


def _runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive values in sorted ``indices``, as ``(first, last + 1)``.

    >>> _runs(np.array([3, 4, 5, 9, 11, 12]))
    [(3, 6), (9, 10), (11, 13)]
    """
    if not len(indices):
        return []
    breaks = np.flatnonzero(np.diff(indices) != 1) + 1
    starts = np.r_[indices[0], indices[breaks]]
    ends = np.r_[indices[breaks - 1], indices[-1]] + 1
    return [(int(a), int(b)) for a, b in zip(starts, ends)]


def _near(blocks: np.ndarray, size: int) -> np.ndarray:
    """The full-resolution rows (or columns) of half-resolution ``blocks``, with two on
    either side."""
    if not len(blocks):
        return blocks
    near = np.zeros(size + 6, bool)
    for offset in range(-2, 4):
        near[np.clip(blocks * 2 + offset, 0, size - 1)] = True
    return np.flatnonzero(near[:size])


def _rect(width: int, height: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_RECT, (width, height))


def long_runs(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """The runs of ``mask`` at least ``length`` long along rows (``axis=1``) or columns
    (``axis=0``): a morphological opening by a line of that length.

    An opening by a one-pixel-thin line treats every row (or column) on its own, so the
    dilation half is run only on the rows the erosion left anything in: on a page those are
    the few rows a rule runs along, and the full-page dilation by a 300-pixel line was most
    of the rule finder's 0.2 CPU-s. The result is the same as ``cv2.morphologyEx(mask,
    cv2.MORPH_OPEN, line)``.

    >>> m = np.zeros((3, 12), np.uint8); m[1, 2:10] = 255; m[2, 4:7] = 255
    >>> long_runs(m, 5, axis=1).any(axis=1).tolist()
    [False, True, False]
    """
    line = _rect(length, 1) if axis == 1 else _rect(1, length)
    eroded = cv2.erode(mask, line)
    out = np.zeros_like(mask)
    if axis == 1:
        rows = np.flatnonzero(eroded.any(axis=1))
        if len(rows):
            out[rows] = cv2.dilate(np.ascontiguousarray(eroded[rows]), line)
    else:
        cols = np.flatnonzero(eroded.any(axis=0))
        if len(cols):
            out[:, cols] = cv2.dilate(np.ascontiguousarray(eroded[:, cols]), line)
    return out


def remove_rules(ink: np.ndarray, rules: np.ndarray, dpi: float = 300,
                 near: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Ink without the rules, with letter strokes that crossed a rule joined up again.

    ``near``: the rows and columns the rules lie along (:func:`ruled_lines`); the joining
    up is then worked out only around them, with the same result (4 CPU-ms a page less).
    """
    if not cv2.countNonZero(rules):
        return ink  # plain paper: nothing to take out or join up (15 ms a page saved)
    kept = cv2.bitwise_and(ink, cv2.bitwise_not(rules))
    k = max(5, int(dpi * 0.03)) | 1  # a little more than a rule's thickness
    upright = cv2.getStructuringElement(cv2.MORPH_RECT, (1, k))
    if near is None or len(_runs(near[0])) + len(_runs(near[1])) > MAX_STRIPS:
        bridged = cv2.morphologyEx(kept, cv2.MORPH_CLOSE, upright)
    else:
        bridged = _closed_near(kept, upright, k - 1, *near)
    return cv2.bitwise_or(kept, cv2.bitwise_and(bridged, rules))


def _closed_near(image: np.ndarray, upright: np.ndarray, reach: int, rows: np.ndarray,
                 cols: np.ndarray) -> np.ndarray:
    """``image`` closed by the one-pixel-wide ``upright`` line, exact within a pixel of
    ``rows`` and ``cols`` and 0 elsewhere. A closing by an upright line looks only up and
    down its own column, ``reach`` pixels at most: the columns' strips are closed whole,
    the rows' strips with ``reach`` rows either side to look at."""
    h, w = image.shape
    out = np.zeros_like(image)
    for a, b in _runs(rows):
        lo, hi = max(0, a - 1), min(h, b + 1)
        top, bottom = max(0, lo - reach), min(h, hi + reach)
        closed = cv2.morphologyEx(image[top:bottom], cv2.MORPH_CLOSE, upright)
        out[lo:hi] = closed[lo - top:hi - top]
    for a, b in _runs(cols):
        lo, hi = max(0, a - 1), min(w, b + 1)
        out[:, lo:hi] = cv2.morphologyEx(np.ascontiguousarray(image[:, lo:hi]),
                                         cv2.MORPH_CLOSE, upright)
    return out


# --------------------------------------------------------------------------- page detection


@dataclass
class PageQuad:
    """What :func:`find_page_quad` decided: the paper's corners (TL, TR, BR, BL, in the
    image's pixels) when it is confident, else ``corners=None`` and the reason."""

    corners: np.ndarray | None
    reason: str
    measures: dict[str, Any] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return self.corners is not None


def find_page_quad(
    image: np.ndarray,
    *,
    min_area: float = 0.25,
    max_area: float = 0.97,
    min_contrast: float = 1.4,
    max_corner_deg: float = 30.0,
    min_edge_support: float = 0.4,
) -> PageQuad:
    """Find the sheet of paper in a photo: a bright, neutral quadrilateral on a darker desk.

    Works on a copy about 500 px across. The paper is separated from the desk by Otsu's
    threshold on the *minimum* RGB channel (a white sheet is high in every channel, a brown
    desk or a blue cloth is low in at least one, and a shadow dims both by the same factor),
    the largest bright region's convex outline is reduced to four corners, and each side
    is refitted to the outline's points so the corners are better than a small pixel.

    A quad is returned only when every check passes, so a flatbed scan (all paper, or
    paper on a white lid) is left alone: four corners; the paper covers ``min_area`` to
    ``max_area`` of the image; the outline fills the quad; every corner is within
    ``max_corner_deg`` of a right angle; no side runs along the image border (the sheet
    would go on beyond it); and the paper is at least ``min_contrast`` times brighter than
    a band of desk just outside each side.

    >>> quad = find_page_quad(photo_rgb)  # doctest: +SKIP
    >>> quad.found, quad.corners.round()  # doctest: +SKIP
    (True, array([[ 398.,  348.], [2140.,  388.], [2206., 3296.], [ 123., 3185.]]))
    """
    h, w = image.shape[:2]
    f = min(1.0, 512.0 / max(h, w))
    if f < 1:
        # A quick look first, at every few pixels (1 CPU-ms on an A4 page at 300 dpi,
        # against 28 for the exact copy below). A flatbed scan's brightness classes
        # differ 1.03-1.4x, a photo's sheet and desk 4x and more, and the quick look is
        # within 0.1 of the exact one below 1.5 (84 generated and real pages), so only a
        # page well short of the limit is turned away on it; any other page is looked
        # at as before.
        step = int(1 / f)
        quick = _min_channel(image[::step, ::step])
        split = _split_brightness(quick)[1]
        if split < min_contrast - QUICK_SPLIT_MARGIN:
            return _no_surround(split)
    feature = _min_channel(image)
    raw = cv2.resize(feature, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 \
        else feature
    sh, sw = raw.shape
    bright, split = _split_brightness(raw)
    if split < min_contrast:
        return _no_surround(split)
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return PageQuad(None, "no bright region")
    outline = max(contours, key=cv2.contourArea)
    region = np.zeros_like(bright)
    cv2.drawContours(region, [outline], -1, 255, thickness=cv2.FILLED)
    share = float(np.count_nonzero(region)) / region.size
    measures: dict[str, Any] = {"area_share": round(share, 3)}
    if not min_area <= share <= max_area:
        return PageQuad(None, f"paper covers {share:.0%} of the image "
                              f"(expected {min_area:.0%}-{max_area:.0%})", measures)

    hull = cv2.convexHull(outline)
    perimeter = cv2.arcLength(hull, True)
    approx = None
    for eps in (0.01, 0.015, 0.02, 0.03, 0.04, 0.05):
        candidate = cv2.approxPolyDP(hull, eps * perimeter, True)
        if len(candidate) == 4:
            approx = candidate.reshape(4, 2).astype(np.float64)
            break
        if len(candidate) < 4:
            break
    if approx is None:
        return PageQuad(None, "the bright region does not have four corners", measures)
    # Outline points on the image border are where the picture ends, not the paper.
    pts = outline.reshape(-1, 2).astype(np.float64)
    inner = (pts[:, 0] > 0) & (pts[:, 0] < sw - 1) & (pts[:, 1] > 0) & (pts[:, 1] < sh - 1)
    corners, support = _refine_sides(_order_corners(approx), pts[inner])
    measures["edge_support"] = round(support, 2)
    if corners is None or support < min_edge_support:
        # A side along the image border: the sheet goes on beyond the picture (or this
        # is a scan with a dark lid strip), so there is no edge to straighten against.
        return PageQuad(None, "a side of the paper is not visible in the image", measures)

    quad_area = abs(cv2.contourArea(corners.astype(np.float32)))
    fill = float(np.count_nonzero(region)) / max(quad_area, 1.0)
    measures["fill"] = round(fill, 3)
    if not 0.93 <= fill <= 1.05:
        return PageQuad(None, f"the bright region fills {fill:.0%} of its quadrilateral", measures)
    if not cv2.isContourConvex(corners.astype(np.float32).reshape(-1, 1, 2)):
        return PageQuad(None, "the quadrilateral is not convex", measures)
    angles = _corner_angles(corners)
    measures["corner_deg"] = [round(a, 1) for a in angles]
    if max(abs(a - 90.0) for a in angles) > max_corner_deg:
        return PageQuad(None, "a corner is far from a right angle", measures)
    contrast = _surround_contrast(raw, corners)
    measures["contrast"] = round(contrast, 2)
    if contrast < min_contrast:
        return PageQuad(None, f"paper is only {contrast:.2f}x brighter than its surround "
                              f"(need {min_contrast})", measures)
    # Small-image pixel centres sit at (i + 0.5) / f - 0.5 in the full image.
    return PageQuad((corners + 0.5) / f - 0.5, "found", measures)


_LOG_LUT = np.round(255 * np.log1p(np.arange(256)) / np.log(256)).astype(np.uint8)
# How far below find_page_quad's min_contrast the quick look must find a page to turn it
# away without the exact look.
QUICK_SPLIT_MARGIN = 0.2


def _min_channel(image: np.ndarray) -> np.ndarray:
    return channel_extreme(image[:, :, :3], np.minimum) if image.ndim == 3 else image


def _split_brightness(raw: np.ndarray) -> tuple[np.ndarray, float]:
    """The bright region of a small min-channel image (the paper, if this is a photo)
    and how many times brighter it is than the rest, by their median levels."""
    # Closing wipes writing and ruling (thin and dark) so the sheet is one bright region.
    small = cv2.morphologyEx(raw, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    small = cv2.medianBlur(small, 5)
    # Otsu on log brightness: shading multiplies paper and desk alike, so in log terms a
    # shadow shifts both by the same amount and a sheet half in shadow stays one region.
    _, bright = cv2.threshold(_LOG_LUT[small], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = cv2.morphologyEx(bright, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    paper_level = float(np.median(raw[bright > 0])) if np.any(bright) else 0.0
    desk_level = float(np.median(raw[bright == 0])) if np.any(bright == 0) else paper_level
    return bright, (paper_level + 1.0) / (desk_level + 1.0)


def _no_surround(split: float) -> PageQuad:
    return PageQuad(None, f"no darker surround (the two brightness classes differ only "
                          f"{split:.2f}x)", {"split_contrast": round(split, 2)})


def _order_corners(pts: np.ndarray) -> np.ndarray:
    """TL, TR, BR, BL: the corner sums and differences of x and y pick them apart."""
    s, d = pts.sum(axis=1), pts[:, 0] - pts[:, 1]
    ordered = np.array([pts[np.argmin(s)], pts[np.argmax(d)], pts[np.argmax(s)],
                        pts[np.argmin(d)]])
    return ordered if len({tuple(p) for p in ordered}) == 4 else pts


def _refine_sides(corners: np.ndarray, outline: np.ndarray) -> tuple[np.ndarray | None, float]:
    """Fit a straight line to the outline points along each side (ignoring the fifth of
    the side nearest each corner, where the outline rounds off) and intersect them.

    Also returns the worst side's support: the share of its middle covered by outline
    points (a side along the image border has none)."""
    lines = []
    support = 1.0
    for i in range(4):
        a, b = corners[i], corners[(i + 1) % 4]
        d = b - a
        length = float(np.hypot(*d))
        if length < 10:
            return None, 0.0
        u = d / length
        n = np.array([-u[1], u[0]])
        rel = outline - a
        t = rel @ u
        dist = np.abs(rel @ n)
        near = (t > 0.2 * length) & (t < 0.8 * length) & (dist < max(3.0, 0.02 * length))
        pts = outline[near]
        covered = len(np.unique(np.round(t[near]).astype(int)))
        support = min(support, covered / (0.6 * length))
        if len(pts) < 10:
            return None, support
        vx, vy, x0, y0 = cv2.fitLine(pts.astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append((np.array([x0, y0], np.float64), np.array([vx, vy], np.float64)))
    # The outline runs through the outermost paper pixels' centres; the paper's edge is
    # half a pixel further out.
    centre = corners.mean(axis=0)
    for i, (p, u) in enumerate(lines):
        n = np.array([-u[1], u[0]])
        if (centre - p) @ n > 0:
            n = -n
        lines[i] = (p + 0.5 * n, u)
    out = []
    for i in range(4):
        (p, u), (q, v) = lines[i - 1], lines[i]
        m = np.array([u, -v]).T
        if abs(np.linalg.det(m)) < 1e-6:
            return None, support
        s, _ = np.linalg.solve(m, q - p)
        out.append(p + s * u)  # side i-1 and side i meet at corner i
    return np.array(out), support


def _corner_angles(corners: np.ndarray) -> list[float]:
    angles = []
    for i in range(4):
        a, b, c = corners[i - 1], corners[i], corners[(i + 1) % 4]
        u, v = a - b, c - b
        cos = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-9))
        angles.append(float(np.degrees(np.arccos(np.clip(cos, -1, 1)))))
    return angles


def _surround_contrast(small: np.ndarray, corners: np.ndarray) -> float:
    """Worst side's ratio of paper brightness (a band just inside) to desk (just outside)."""
    h, w = small.shape
    centre = corners.mean(axis=0)
    band = max(2.0, 0.012 * max(h, w))
    worst = np.inf
    for i in range(4):
        a, b = corners[i], corners[(i + 1) % 4]
        ts = np.linspace(0.15, 0.85, 40)
        along = a + np.outer(ts, b - a)
        d = b - a
        n = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-9)
        if (centre - a) @ n < 0:
            n = -n  # inward
        inside = along + n * band
        outside = along - n * band
        ok = ((outside[:, 0] >= 0) & (outside[:, 0] < w) & (outside[:, 1] >= 0)
              & (outside[:, 1] < h))
        if ok.sum() < 10:
            return 0.0  # no desk visible beyond this side
        pin = small[inside[ok, 1].astype(int).clip(0, h - 1), inside[ok, 0].astype(int).clip(0, w - 1)]
        pout = small[outside[ok, 1].astype(int), outside[ok, 0].astype(int)]
        ratio = (float(np.median(pin)) + 1.0) / (float(np.median(pout)) + 1.0)
        worst = min(worst, ratio)
    return float(worst)


def dewarp(grey: np.ndarray, corners: np.ndarray, work_dpi: int = 300,
           paper_width_in: float = 8.27, inset: float = 0.004
           ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Warp the sheet inside ``corners`` (TL, TR, BR, BL) to an upright rectangle.

    The rectangle's sides are the quad's mean side lengths, so the photo's own sampling is
    kept; the sheet's resolution is its width over ``paper_width_in``, and the warp also
    resamples to ``work_dpi`` when that is far off (as the resample step does for scans).
    ``inset`` (a share of each side) is trimmed so no sliver of desk is left at the edges.
    Returns the warped image, the 3x3 homography (image -> warped) and what was decided.
    """
    c = np.asarray(corners, dtype=np.float64)
    width = (np.hypot(*(c[1] - c[0])) + np.hypot(*(c[2] - c[3]))) / 2
    height = (np.hypot(*(c[3] - c[0])) + np.hypot(*(c[2] - c[1]))) / 2
    page_dpi = width / paper_width_in
    scale = work_dpi / page_dpi
    if 0.8 <= scale <= 1.25:
        scale = 1.0
    w, h = max(1, int(round(width * scale))), max(1, int(round(height * scale)))
    mx, my = inset * w, inset * h
    dst = np.array([[-mx, -my], [w + mx, -my], [w + mx, h + my], [-mx, h + my]])
    m = cv2.getPerspectiveTransform(c.astype(np.float32), dst.astype(np.float32))
    # Parts of the sheet outside the picture (a corner cut off) are filled with paper.
    paper = int(np.percentile(grey[:: 8, :: 8], 90))
    if scale < 0.7:
        # Linear interpolation aliases when shrinking a lot: shrink first, then warp.
        pre = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        m = m @ np.diag([1 / scale, 1 / scale, 1.0])
        out = cv2.warpPerspective(pre, m, (w, h), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=paper)
        m = m @ np.diag([scale, scale, 1.0])
    else:
        out = cv2.warpPerspective(grey, m, (w, h), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=paper)
    info = {"corners": [[round(float(x), 1), round(float(y), 1)] for x, y in c],
            "size": [w, h], "page_dpi": round(float(page_dpi), 1), "scale": round(scale, 4)}
    return out, m, info


def draw_quad(rgb: np.ndarray, quad: PageQuad) -> np.ndarray:
    """For the debug view: the sheet found outlined in green, or why none was (in red)."""
    out = rgb.copy() if rgb.ndim == 3 else cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
    t = max(2, max(out.shape[:2]) // 400)
    if quad.found:
        cv2.polylines(out, [np.round(quad.corners).astype(np.int32)], True, (0, 200, 0), t)
    else:
        size = out.shape[1] / 1800
        cv2.putText(out, f"no page outline: {quad.reason}", (t * 10, int(60 * size) + t * 10),
                    cv2.FONT_HERSHEY_SIMPLEX, size, (220, 0, 0), t)
    return out


# --------------------------------------------------------------------------- faint pencil


def stroke_contrast(grey: np.ndarray) -> tuple[float, float]:
    """(paper level, how much darker the writing's cores are) on a flattened page.

    The paper is the median; the strokes are the darkest tenth of the pixels that stand
    clearly out of the paper's noise (more than six robust standard deviations), so
    ruling and speckle hardly count on a written page. All three figures are read off one
    histogram (:func:`_ranked`): sorting a page's pixels for them cost 36 ms.
    """
    hist = _histogram(grey[:: 2, :: 2])
    levels = np.arange(256, dtype=np.float64)
    paper = _ranked(levels, hist, 0.5)
    distance = np.abs(levels - paper)
    order = np.argsort(distance, kind="stable")
    noise = 1.4826 * _ranked(distance[order], hist[order], 0.5) + 1.0
    dark = hist * (levels < paper - 6 * noise)
    if dark.sum() < 50:
        return paper, 0.0
    return paper, paper - _ranked(levels, dark, 0.1)


def _histogram(grey: np.ndarray) -> np.ndarray:
    """How many pixels of a uint8 image have each of the 256 levels (OpenCV's count is
    several times faster than ``np.bincount``; exact up to 16 million pixels a level)."""
    counts = cv2.calcHist([np.ascontiguousarray(grey)], [0], None, [256], [0, 256])
    return counts.ravel().astype(np.int64)


def _ranked(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """``np.percentile(sample, 100 * q)`` (linear interpolation) of a sample given as sorted
    ``values`` with how often each occurs.

    >>> _ranked(np.array([1.0, 2.0, 5.0]), np.array([2, 0, 1]), 0.5), float(np.median([1, 1, 5]))
    (1.0, 1.0)
    """
    ends = np.cumsum(counts)
    position = q * (int(ends[-1]) - 1)
    below = int(np.floor(position))

    def at(rank: int) -> float:
        return float(values[np.searchsorted(ends, rank, side="right")])

    low = at(below)
    return low if position == below else low + (at(below + 1) - low) * (position - below)


def recover_faint(grey: np.ndarray, *, method: str = "stretch", faint_below: int = 70,
                  target: int = 110, max_gain: float = 3.0) -> tuple[np.ndarray, dict[str, Any]]:
    """Darken faint pencil on a flattened page; pages already contrasted pass unchanged.

    A page is faint when its strokes are less than ``faint_below`` grey levels darker than
    the paper (:func:`stroke_contrast`; measured: ordinary pencil 85-110, pen 150-170,
    a light hand 30-50). ``stretch`` pulls every pixel away from the paper level by one
    gain, chosen so the strokes' contrast reaches ``target`` (at most ``max_gain``): the
    paper stays as it was, light strokes get dark. ``clahe`` applies OpenCV's contrast-limited adaptive
    histogram equalisation instead (tiles about an inch across), also only on faint pages.

    >>> out, info = recover_faint(faint_page)  # doctest: +SKIP
    >>> info  # doctest: +SKIP
    {'paper': 236.0, 'stroke_contrast': 48.0, 'gain': 2.29, 'applied': True}
    """
    paper, contrast = stroke_contrast(grey)
    info: dict[str, Any] = {"paper": round(paper, 1), "stroke_contrast": round(contrast, 1)}
    if contrast <= 0 or contrast >= faint_below:
        info["applied"] = False
        return grey, info
    if method == "clahe":
        tiles = max(2, int(round(max(grey.shape) / 300)))
        clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(tiles, tiles))
        info["applied"] = True
        return clahe.apply(grey), info
    gain = min(max_gain, target / contrast)
    lut = np.clip(paper - (paper - np.arange(256, dtype=np.float32)) * gain, 0, 255)
    info.update(gain=round(gain, 2), applied=True)
    return lut.astype(np.uint8)[grey], info


def despeckle(ink: np.ndarray, dpi: float = 300) -> tuple[np.ndarray, int]:
    """Ink without marks smaller than about 0.1 mm² (13 pixels at 300 dpi).

    Where a faint rule crosses the margin the two inks add up, and binarisation keeps a
    dot of a few pixels there once the lines themselves are gone: Tesseract reads those
    as "_" or "|" at the start of every line. A child's full stop or i-dot in pencil is
    several times larger. Returns the cleaned ink and the number of specks removed.
    """
    out, specks, _ = despeckle_labelled(ink, dpi)
    return out, specks


# Past this many specks (a noisy photo) one look-up over the whole page is quicker.
SPECKS_ONE_BY_ONE = 3000


def despeckle_labelled(ink: np.ndarray, dpi: float = 300
                       ) -> tuple[np.ndarray, int, tuple[np.ndarray, np.ndarray]]:
    """:func:`despeckle`, also returning the marks of ``ink`` it labelled, as
    ``(labels, stats)`` with the removed specks' areas set to 0: the marks of the cleaned
    ink, which :func:`segment_lines` would otherwise label again (60 ms a page)."""
    limit = max(3, int(round((dpi * 0.012) ** 2)))
    n, labels, stats, _ = label_marks(ink)
    small = stats[:, cv2.CC_STAT_AREA] < limit
    small[0] = False
    if not small.any():
        return ink, 0, (labels, stats)
    out = ink.copy()
    specks = np.flatnonzero(small)
    if len(specks) <= SPECKS_ONE_BY_ONE:
        # Each speck within its own few-pixel box: 3 ms for a page's 700 specks, where
        # looking up every pixel's label in the whole page took 14.
        for label in specks:
            x, y, w, h = stats[label, :4]
            box = out[y:y + h, x:x + w]
            box[labels[y:y + h, x:x + w] == label] = 0
    else:
        out[small[labels]] = 0
    stats = stats.copy()
    stats[small, cv2.CC_STAT_AREA] = 0
    return out, int(np.count_nonzero(small)), (labels, stats)


# --------------------------------------------------------------------------- rules in grey


def paint_rules(grey: np.ndarray, rules: np.ndarray, ink: np.ndarray) -> tuple[np.ndarray, int]:
    """Paint rule pixels in the grey image with the paper's value around them.

    ``rules`` are the rule pixels found on the binarised page and ``ink`` the writing that
    remains once they are removed (with crossing strokes re-bridged): only rule pixels
    that are not writing are painted, grown by a pixel to take the rules' soft edges.
    The paper value is a local one (a blurred, writing-free copy of the page), so shading
    that flattening left does not show as bands. Returns the new image and pixels painted.
    """
    grow = cv2.dilate(rules, np.ones((3, 3), np.uint8))
    paint = (grow > 0) & (cv2.dilate(ink, np.ones((3, 3), np.uint8)) == 0)
    # The paper behind: closing (a max then min filter) removes dark marks thinner than
    # the kernel, then a box blur smooths it; done on a quarter-size copy for speed.
    small = cv2.resize(grey, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    small = cv2.morphologyEx(small, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    small = cv2.blur(small, (9, 9))
    paper = cv2.resize(small, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR)
    out = grey.copy()
    out[paint] = paper[paint]
    return out, int(np.count_nonzero(paint))


# --------------------------------------------------------------------------- line bands


def segment_lines(ink: np.ndarray, dpi: float = 300, *, min_gap_mm: float = 4.0,
                  marks: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> list[tuple[int, int]]:
    """Horizontal bands (y0, y1) that each hold one line of writing, top to bottom.

    ``ink`` is the page's writing with rules already removed. The row profile of ink is
    smoothed; its peaks at least ``min_gap_mm`` apart (a child's lines are 8-9 mm apart,
    an adult's 5-8 mm) and holding at least an eighth of what the fullest lines hold are
    line centres. Only letter-like marks count (specks, dots and leftover bits of ruling
    do not). Each band grows from its centre while rows still hold writing, but never
    past the emptiest row between it and a neighbouring line.

    ``marks``: ``ink``'s marks already labelled, ``(labels, stats)``, where a mark of
    area 0 is no longer in ``ink`` (:func:`despeckle_labelled`).

    >>> segment_lines(ink_of_three_lines)  # doctest: +SKIP
    [(120, 215), (215, 318), (318, 409)]
    """
    h, w = ink.shape
    if h == 0 or w == 0:
        return []
    # Only letter-like marks count: taller than ~0.75 mm (not specks, dots or the thin
    # leftovers of a rule), not long (a rule that survived removal) and not touching the
    # image's edge (shadows and fill left by cropping and deskewing).
    if marks is None:
        _, labels, stats, _ = label_marks(ink)
    else:
        labels, stats = marks
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    widths, heights = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    inside = (x > 0) & (y > 0) & (x + widths < w) & (y + heights < h)
    letter = (heights >= max(3, dpi * 0.03)) & (widths <= w / 4) & (heights <= dpi * 0.8) & inside
    letter &= stats[:, cv2.CC_STAT_AREA] > 0
    letter[0] = False
    profile = np.count_nonzero(letter[labels], axis=1).astype(np.float32)
    sigma = max(1.0, dpi * 0.5 / 25.4 * 1.5)  # ~1.5 mm: merges a line's x-height
    smooth = cv2.GaussianBlur(profile.reshape(-1, 1), (1, 0), sigmaX=0, sigmaY=sigma).ravel()
    if smooth.max() <= 0:
        return []
    min_gap = dpi * min_gap_mm / 25.4
    # Local maxima, strongest first, kept when far enough from the ones already kept.
    is_peak = np.r_[False, (smooth[1:-1] >= smooth[:-2]) & (smooth[1:-1] > smooth[2:]), False]
    candidates = sorted(np.nonzero(is_peak)[0], key=lambda y: -smooth[y])
    peaks: list[int] = []
    for y in candidates:
        if all(abs(y - p) >= min_gap for p in peaks):
            peaks.append(int(y))
    if not peaks:
        return []
    # A line of writing holds a real share of what the fullest lines hold; leftover bits
    # of ruling, a page edge or a stray mark do not.
    strong = 0.12 * float(np.percentile(smooth[peaks], 90))
    peaks = sorted(p for p in peaks if smooth[p] >= strong)
    cuts = [int(a + np.argmin(smooth[a:b + 1])) for a, b in zip(peaks, peaks[1:])]
    limits = [0, *cuts, h]
    bands = []
    for i, peak in enumerate(peaks):
        # From the peak outwards while the row still holds some of the line's writing.
        lo, hi, edge = peak, peak, 0.05 * float(smooth[peak])
        while lo > limits[i] and smooth[lo - 1] > edge:
            lo -= 1
        while hi < limits[i + 1] - 1 and smooth[hi + 1] > edge:
            hi += 1
        bands.append((int(lo), int(hi + 1)))
    return bands


def line_images(ocr: np.ndarray, grey: np.ndarray, bands: list[tuple[int, int]]
                ) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Each band's line as its own pair of images, ``(y0, ocr, grey)``, top to bottom.

    Every connected mark of ink belongs to the band its centre lies in (or the nearest),
    so a line keeps its ascenders and descenders where they reach into a neighbour's
    band, and the neighbours' marks are painted out (white in ``ocr``, the paper level in
    ``grey``). ``y0`` is the crop's top row in the page.
    """
    if not bands:
        return []
    ink = (ocr < 128).astype(np.uint8)
    n, labels, stats, centroids = label_marks(ink)
    centres = np.array([(a + b) / 2 for a, b in bands], dtype=np.float64)
    owner = np.full(n, -1, dtype=np.int32)
    for label in range(1, n):
        cy = centroids[label, 1]
        inside = [i for i, (a, b) in enumerate(bands) if a <= cy < b]
        owner[label] = inside[0] if inside else int(np.argmin(np.abs(centres - cy)))
    paper = int(np.median(grey[:: 4, :: 4]))
    out = []
    for i, (a, b) in enumerate(bands):
        mine = np.nonzero(owner == i)[0]
        if len(mine):
            top = int(stats[mine, cv2.CC_STAT_TOP].min())
            bottom = int((stats[mine, cv2.CC_STAT_TOP] + stats[mine, cv2.CC_STAT_HEIGHT]).max())
            a, b = min(a, top), max(b, bottom)
        pad = max(2, (b - a) // 10)
        a, b = max(0, a - pad), min(ocr.shape[0], b + pad)
        lab = labels[a:b]
        others = (lab > 0) & (owner[lab] != i)
        line_ocr = ocr[a:b].copy()
        line_ocr[others] = 255
        line_grey = grey[a:b].copy()
        line_grey[cv2.dilate(others.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0] = paper
        out.append((a, line_ocr, line_grey))
    return out


def draw_bands(grey: np.ndarray, bands: list[tuple[int, int]]) -> np.ndarray:
    """The page with each line band tinted in alternating colours and numbered."""
    out = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    tints = [(255, 230, 150), (150, 220, 255)]
    for i, (y0, y1) in enumerate(bands):
        region = out[y0:y1]
        region[:] = (region.astype(np.float32) * (np.array(tints[i % 2]) / 255.0)).astype(np.uint8)
        size = max(0.6, grey.shape[1] / 1600)
        cv2.putText(out, str(i + 1), (4, max(y0 + 20, (y0 + y1) // 2)), cv2.FONT_HERSHEY_SIMPLEX,
                    size, (200, 0, 0), max(1, int(size * 2)))
    return out
