"""RapidOCR (PP-OCR models run by onnxruntime) as one :class:`~scanflow.ocr.engine.OcrEngine`.

RapidOCR detects text boxes (quadrilaterals) and reads each box as one string. This module
turns that into the same :class:`~scanflow.ocr.model.Recognition` as the Tesseract engine:
boxes are grouped into lines in reading order (:func:`group_detections`, a pure function),
and every line carries word boxes with confidences on a 0-100 scale.

No download at run time: the detection and recognition models are the ONNX files shipped
inside the installed ``rapidocr`` wheel and are passed to RapidOCR by explicit path
(``Det.model_path``, ``Rec.model_path``, ``Cls.model_path``). With ``model_path`` set,
RapidOCR's onnxruntime session never calls its downloader, and the recogniser's character
list is read from the model's own metadata (so ``rec_keys_path`` is not fetched either).

Choices, measured with ``scanflow eval`` (corpus CER on the Hooker handwriting pages / lines):

* the 0/180 degree line classifier is off (``use_cls=False``): it flips handwritten lines,
  and pages reach the engine already upright;
* ``text_score=0.3`` keeps low-scoring boxes (0.5 was 1.3 points worse on pages): a child's
  word read with low confidence is better shown to the teacher (flagged) than dropped;
* the engine reads the *greyscale* page by default (``source="grey"``); the binarised
  image (``source="binary"``) was 2-3 points worse on pages, 0.5-1.4 on lines;
* detection never upscales (``Det.limit_type="max"``, 1280): RapidOCR's own default
  (shortest side raised to 736) made line images 8 points worse and 16x slower.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from scanflow.errors import EngineUnavailable, UsageError
from scanflow.ocr.ctc import LineReading, LineRecogniser, english
from scanflow.ocr.detection import DetectorSettings, TextDetector
from scanflow.ocr.engine import OcrEngine, register
from scanflow.ocr.model import Box, Line, Recognition, Word

INSTALL_HINT = "Install it with: pip install rapidocr==3.10.0 onnxruntime"

# Preferred model files (the ones RapidOCR 3.10's config names); any other *_det_*/*_rec_*
# ONNX file found in the package is used only if these are absent.
PREFERRED = {
    "det": "PP-OCRv6_det_small.onnx",
    "rec": "PP-OCRv6_rec_small.onnx",
    "cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
}


# --------------------------------------------------------------------------- text cleaning

_SPACES = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Map CJK punctuation to ASCII, drop characters implausible in English writing
    (the same rule the Latin-only decoding masks by: :func:`scanflow.ocr.ctc.english`).

    >>> clean_text("Once upon a time。")
    'Once upon a time.'
    >>> clean_text("the 狗 dog，ran")
    'the dog,ran'
    """
    text = "".join(" " if ch.isspace() else english(ch) for ch in text)
    return _SPACES.sub(" ", text).strip()


# --------------------------------------------------------------------------- grouping


@dataclass
class Detection:
    """One RapidOCR result: a quadrilateral (4 points, clockwise from top-left), the text
    read in it, its score (0..1), and optionally RapidOCR's own word split as
    ``[(text, score, quad), ...]``."""

    quad: Sequence[Sequence[float]]
    text: str
    score: float
    words: Sequence[tuple] | None = None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        pts = np.asarray(self.quad, dtype=np.float64).reshape(-1, 2)
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)


def _box_from_points(pts: np.ndarray) -> Box:
    x0, y0 = np.floor(pts.min(axis=0)).astype(int)
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int)
    return Box(int(x0), int(y0), max(1, int(x1 - x0)), max(1, int(y1 - y0)))


def _quad_slice(quad: np.ndarray, t0: float, t1: float) -> Box:
    """Axis-aligned box of the part of ``quad`` between fractions t0..t1 of its length.

    Interpolates along the top edge (p0->p1) and the bottom edge (p3->p2), so a slanted
    line's words get boxes that follow the slant.
    """
    return _box_from_points(quad_part(quad, t0, t1))


def quad_part(quad: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """The corners (TL, TR, BR, BL) of the part of ``quad`` between fractions t0..t1."""
    p0, p1, p2, p3 = quad
    return np.array([p0 + (p1 - p0) * t0, p0 + (p1 - p0) * t1,
                     p3 + (p2 - p3) * t1, p3 + (p2 - p3) * t0])


def split_words(det: Detection) -> list[Word]:
    """Word boxes for one detection (its text must already be cleaned).

    RapidOCR's own word boxes are used when its word split agrees with the text's spaces;
    otherwise the box is divided along its length in proportion to character counts
    (spaces count as one character), and every word gets the box's score.
    """
    text = det.text
    tokens = text.split()
    if not tokens:
        return []
    if det.words:
        cleaned = [(clean_text(str(t)), float(s), q) for t, s, q in det.words]
        cleaned = [(t, s, q) for t, s, q in cleaned if t and q is not None]
        if [t for t, _, _ in cleaned] == tokens:
            return [Word(t, _box_from_points(np.asarray(q, dtype=np.float64).reshape(-1, 2)),
                         round(100.0 * s, 2)) for t, s, q in cleaned]
    quad = np.asarray(det.quad, dtype=np.float64).reshape(4, 2)
    n = len(text)
    words, pos = [], 0
    for token in tokens:
        start = text.index(token, pos)
        end = start + len(token)
        pos = end
        words.append(Word(token, _quad_slice(quad, start / n, end / n),
                          round(100.0 * float(det.score), 2)))
    return words


@dataclass
class _Band:
    """A box's centreline and height: left and right centre points, slope, height."""

    xl: float
    yl: float
    xr: float
    yr: float
    height: float

    @staticmethod
    def of(det: Detection, max_slope: float) -> "_Band":
        p0, p1, p2, p3 = np.asarray(det.quad, dtype=np.float64).reshape(4, 2)
        left, right = (p0 + p3) / 2, (p1 + p2) / 2
        if right[0] < left[0]:
            left, right = right, left
        height = (np.linalg.norm(p3 - p0) + np.linalg.norm(p2 - p1)) / 2
        dx = max(right[0] - left[0], 1.0)
        # A short box's quadrilateral can be tilted by a stray stroke; clamp its slope.
        slope = float(np.clip((right[1] - left[1]) / dx, -max_slope, max_slope))
        cx, cy = (left + right) / 2
        half = (right[0] - left[0]) / 2
        return _Band(cx - half, cy - slope * half, cx + half, cy + slope * half,
                     max(float(height), 1.0))

    @property
    def cx(self) -> float:
        return (self.xl + self.xr) / 2

    @property
    def cy(self) -> float:
        return (self.yl + self.yr) / 2

    def y_at(self, x: float) -> float:
        slope = (self.yr - self.yl) / max(self.xr - self.xl, 1.0)
        return self.yl + slope * (x - self.xl)


def _overlap(band: _Band, members: list[_Band]) -> float:
    """Vertical overlap of ``band`` with a line, as a share of the smaller height.

    The line's centreline is that of its member nearest in x, extended to ``band``'s
    centre, so fragments of a slanted line are compared where they are.
    """
    def gap(m: _Band) -> float:
        return max(m.xl - band.xr, band.xl - m.xr, 0.0)

    near = min(members, key=gap)
    y = near.y_at(band.cx)
    top, bottom = max(y - near.height / 2, band.cy - band.height / 2), \
        min(y + near.height / 2, band.cy + band.height / 2)
    return (bottom - top) / min(near.height, band.height)


def group_detections(detections: Sequence[Detection], min_overlap: float = 0.5,
                     max_slope: float = 0.15) -> list[Line]:
    """Group detected boxes into lines in reading order.

    Each box is reduced to its centreline and height (from its quadrilateral, so a slanted
    box does not count as tall). Boxes are taken top to bottom; a box joins the line it
    overlaps most vertically, measured against the centreline of the line's member nearest
    in x, if that overlap is at least ``min_overlap`` of the smaller height; otherwise it
    starts a new line. Lines are ordered by their mean centre height, boxes within a line
    left to right. Texts are cleaned with :func:`clean_text`; boxes left empty are dropped.
    """
    items = []
    for det in detections:
        text = clean_text(det.text)
        if not text:
            continue
        det = Detection(det.quad, text, det.score, det.words)
        items.append((_Band.of(det, max_slope), det))
    items.sort(key=lambda it: (it[0].cy, it[0].xl))

    lines: list[list[tuple[_Band, Detection]]] = []
    for band, det in items:
        best, best_ratio = -1, 0.0
        for i, members in enumerate(lines):
            ratio = _overlap(band, [b for b, _ in members])
            if ratio > best_ratio:
                best, best_ratio = i, ratio
        if best >= 0 and best_ratio >= min_overlap:
            lines[best].append((band, det))
        else:
            lines.append([(band, det)])

    lines.sort(key=lambda members: sum(b.cy for b, _ in members) / len(members))
    result = []
    for members in lines:
        members = sorted(members, key=lambda m: (m[0].xl, m[0].cy))
        words = [w for _, det in members for w in split_words(det)]
        if not words:
            continue
        boxes = []
        for _, det in members:
            x0, y0, x1, y1 = det.bounds
            boxes.append(Box(int(np.floor(x0)), int(np.floor(y0)),
                             max(1, int(np.ceil(x1 - x0))), max(1, int(np.ceil(y1 - y0)))))
        result.append(Line(
            text=" ".join(w.text for w in words),
            box=Box.union(boxes),
            confidence=round(sum(w.confidence for w in words) / len(words), 2),
            words=words,
        ))
    return result


# --------------------------------------------------------------------------- engine


@functools.lru_cache(maxsize=1)
def _package_dir() -> Path:
    try:
        import rapidocr  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise EngineUnavailable(f"RapidOCR is not installed ({exc.name} is missing).",
                                hint=INSTALL_HINT) from None
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def rapidocr_version() -> str:
    _package_dir()
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rapidocr")
    except PackageNotFoundError:  # pragma: no cover - a source checkout
        from rapidocr._version import __version__

        return str(__version__)


def model_files() -> dict[str, Path]:
    """The ONNX files shipped inside the installed rapidocr package, by task."""
    models = _package_dir() / "models"
    found: dict[str, Path] = {}
    for task, name in PREFERRED.items():
        path = models / name
        if not path.is_file():
            candidates = sorted(models.glob(f"*_{task}_*.onnx"))
            path = candidates[-1] if candidates else None
        if path is not None:
            found[task] = path
    missing = [t for t in ("det", "rec") if t not in found]
    if missing:
        raise EngineUnavailable(
            f"RapidOCR's {' and '.join(missing)} model is missing from {models}.",
            hint="Reinstall it with: pip install --force-reinstall rapidocr==3.10.0 onnxruntime",
        )
    return found


def crop_quad(img: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The line inside ``quad`` (TL, TR, BR, BL) straightened into its own image.

    Unlike RapidOCR's crop, a tall box is not turned on its side: on an upright English
    page a tall box is a capital or an "l", not a column of vertical writing.
    """
    q = np.asarray(quad, dtype=np.float32).reshape(4, 2)
    w = int(max(np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[2] - q[3])))
    h = int(max(np.linalg.norm(q[0] - q[3]), np.linalg.norm(q[1] - q[2])))
    w, h = max(1, w), max(1, h)
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(q, dst)
    return cv2.warpPerspective(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE,
                               flags=cv2.INTER_CUBIC)


@register("rapidocr")
class RapidOcrEngine(OcrEngine):
    """Options: ``text_score`` (minimum line score 0..1, default 0.3), ``use_cls`` (the 0/180
    line classifier, default off), ``source`` (``"grey"`` or ``"binary"``: which prepared
    image is read, default grey), ``word_boxes`` (word boxes from where the recogniser read
    each word, default on; off: boxes in proportion to characters), ``latin_only`` (decode
    only classes English writing can hold, default on), ``params`` (extra RapidOCR
    configuration entries such as ``{"Det.box_thresh": 0.6}``; model paths cannot be
    overridden), ``rec_model`` (an ONNX line recogniser to read with instead of the
    wheel's, such as a school's fine-tuned version: its file name is recorded as the model
    of every page it reads), ``line_fit`` (stretch each line to the letter spacing the
    recogniser reads best before reading it, :mod:`scanflow.ocr.lineprep`, default on).

    RapidOCR finds the text boxes; the recogniser runs through :mod:`scanflow.ocr.ctc`,
    which masks non-Latin classes before decoding and keeps every character's probability
    (a word's confidence is the product of its characters' probabilities)."""

    def __init__(self, threads: int = 1, text_score: float = 0.3, use_cls: bool = False,
                 source: str = "grey", word_boxes: bool = True, latin_only: bool = True,
                 params: dict | None = None, rec_model: str | Path | None = None,
                 line_fit: bool = True, **options):
        super().__init__(threads=threads, **options)
        if source not in ("grey", "binary"):
            raise UsageError(f"Unknown RapidOCR source '{source}'.", hint="Use grey or binary.")
        self.text_score = float(text_score)
        self.use_cls = bool(use_cls)
        self.source = source
        self.word_boxes = bool(word_boxes)
        self.latin_only = bool(latin_only)
        self.line_fit = bool(line_fit)
        self.extra = {k: v for k, v in (params or {}).items()
                      if not k.endswith((".model_path", ".model_dir", "model_root_dir"))}
        self.models = model_files()
        if rec_model:
            path = Path(rec_model)
            if not path.is_file():
                raise UsageError(f"The recognition model {path} does not exist.",
                                 hint="See the archive's models with: scanflow model list")
            self.models["rec"] = path.resolve()
        self._ocr = None
        self._det = None
        self._rec = None

    def version(self) -> str:
        return rapidocr_version()

    def model(self) -> str:
        tasks = ["det", "rec"] + (["cls"] if self.use_cls else [])
        return " + ".join(self.models[t].name for t in tasks if t in self.models)

    @property
    def settings(self) -> dict:
        return {"text_score": self.text_score, "use_cls": self.use_cls, "source": self.source,
                "threads": self.threads,
                "decoding": "ctc-greedy, latin-only" if self.latin_only else "ctc-greedy",
                "word_confidence": "product of character probabilities",
                "line_fit": "stroke pitch" if self.line_fit else "off", **self.extra}

    def config(self) -> dict:
        """RapidOCR configuration: explicit local model paths, capped threads."""
        params = {
            # Never upscale for detection (RapidOCR's default, "min" side 736, blows a
            # 130 px line image up 5x: slower and worse); pages are scaled down to 1280.
            "Det.limit_type": "max",
            "Det.limit_side_len": 1280,
            **self.extra,
            "Global.use_cls": self.use_cls,
            "Global.text_score": self.text_score,
            "Global.log_level": "error",
            "Global.model_root_dir": str(self.models["det"].parent),
            "Det.model_path": str(self.models["det"]),
            "Rec.model_path": str(self.models["rec"]),
            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        if "cls" in self.models:
            params["Cls.model_path"] = str(self.models["cls"])
        return params

    def _engine(self):
        if self._ocr is None:
            from rapidocr import RapidOCR

            self._ocr = RapidOCR(params=self.config())
        return self._ocr

    @property
    def recogniser(self) -> LineRecogniser:
        if self._rec is None:
            self._rec = LineRecogniser(self.models["rec"], self.threads, self.latin_only,
                                       fit=self.line_fit)
        return self._rec

    def warm_up(self) -> None:
        """Build the detection and recognition sessions and run each once on a small blank
        page (a session's first run also sizes its buffers): about a second of a worker's
        start, spent before the first page arrives rather than on it."""
        blank = np.full((48, 192), 255, dtype=np.uint8)
        self.find_lines(blank)
        self.read_lines(blank, [np.array([[0, 0], [192, 0], [192, 48], [0, 48]],
                                         dtype=np.float64)])

    def _detector(self) -> TextDetector:
        """The text detector, built on first use (its settings from ``params``)."""
        if self._det is None:
            self._det = TextDetector(self.models["det"], self.threads,
                                     DetectorSettings.from_params(self.config()))
        return self._det

    def find_lines(self, img: np.ndarray) -> list[np.ndarray]:
        """Text-box quadrilaterals (TL, TR, BR, BL) the detector finds in ``img``
        (:meth:`TextDetector.find`: RapidOCR's steps around its detector, on the one grey
        channel, without cutting out every box found as RapidOCR's whole pipeline did: the
        recogniser cuts its own lines)."""
        if self.extra.get("Global.use_det") is False:
            h, w = img.shape[:2]
            return [np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)]
        return [np.asarray(b, dtype=np.float64).reshape(4, 2)
                for b in self._detector().find(img)]

    def read_lines(self, img: np.ndarray, quads: Sequence[np.ndarray]) -> list[LineReading]:
        """What the recogniser reads in each quadrilateral of ``img``."""
        crops = [crop_quad(img, q) for q in quads]
        if self.use_cls and crops:
            crops = list(self._engine()._load_cls_model()([_rgb(c) for c in crops]).img_list)
        return self.recogniser.read(crops)

    def image_for(self, image: np.ndarray, grey: np.ndarray | None) -> np.ndarray:
        """Which of the prepared images this engine reads (``source``)."""
        return grey if (self.source == "grey" and grey is not None) else image

    def read_boxes(self, img: np.ndarray) -> list[tuple[np.ndarray, LineReading]]:
        """Every text box in ``img`` with what the recogniser read in it, however unsure."""
        quads = self.find_lines(img)
        return list(zip(quads, self.read_lines(img, quads)))

    def detect(self, img: np.ndarray, lines: list | None = None) -> list[Detection]:
        """Boxes found and read in one image (or ``lines`` already read there by
        :meth:`read_boxes`), as :class:`Detection` objects; lines scoring below
        ``text_score`` are left out."""
        detections = []
        for quad, reading in self.read_boxes(img) if lines is None else lines:
            text = reading.text.strip()
            if not text or reading.score < self.text_score:
                continue
            words = None
            if self.word_boxes:
                words = [(w, c, quad_part(quad, t0, t1)) for w, c, t0, t1 in reading.words()]
            detections.append(Detection(quad, text, reading.score, words))
        return detections

    def recognise(self, image: np.ndarray, *, grey: np.ndarray | None = None,
                  lines: list | None = None) -> Recognition:
        """Read a page; ``lines`` (from :meth:`read_boxes` on the same image) saves
        reading it again."""
        lines = group_detections(self.detect(self.image_for(image, grey), lines))
        return Recognition(lines=lines, engine=self.name, engine_version=self.version(),
                           model=self.model(), settings=self.settings)


def _rgb(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return np.ascontiguousarray(np.repeat(img[:, :, None], 3, axis=2))
    return img
