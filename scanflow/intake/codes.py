"""Codes on cover sheets and labels: what they carry and finding them on a page.

Splitting a scanned batch into pieces at each code is :mod:`scanflow.intake.batches`.

The school sticks an assessment sheet in the front of every English assessment book
(``scanflow sheets`` prints it, see :mod:`scanflow.exports.sheets`). The office scans a whole class
set in one go; scanflow finds the sheet in the stream of pages, starts that pupil's piece
there, and files the pages that follow under it until the next sheet.

**The payload.** A QR code holding ``SF1|<kind>|<pupil id>|<half term>|<genre>``, e.g.
``SF1|S|A100000000001|2026-27-autumn-1|narrative``. ``SF1`` names the format and its
version (a later format is ``SF2``: an older scanflow reports such a code as unreadable
rather than misreading it). ``kind`` is ``S`` for a cover *sheet* (the page is the piece's
cover, kept as an image and not read as writing) or ``L`` for a *label* stuck on the first
page of writing (for books that carry one cover for the whole year: the page is writing,
and is read). The payload is 46 bytes for a 13-character UPN: a version 4 QR code at
error-correction level Q, 33 modules square.

**Recognising a sheet whose code fails.** Each sheet and label also carries an ArUco
marker (5x5, id 17 on sheets, 23 on labels) and the payload in large printed text. A page
with the marker but no readable QR code is still known to be a sheet: its pages are never
filed under the previous pupil. Tesseract then reads the printed code; a code read that
way is used, and reported so that someone checks it.

>>> code = SheetCode("A100000000001", "2026-27-autumn-1", "narrative")
>>> code.payload()
'SF1|S|A100000000001|2026-27-autumn-1|narrative'
>>> parse_payload("SF1|L|A100000000001|2026-27-autumn-1|narrative").kind
'L'
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from scanflow.imaging import shrink_by

log = logging.getLogger(__name__)

FORMAT = "SF1"
SHEET = "S"
LABEL = "L"
KIND_NAMES = {SHEET: "cover sheet", LABEL: "label"}

# The marker printed beside the QR code: it says "this is a scanflow sheet/label" even
# when the QR code is smudged, torn or photocopied to grey mush.
ARUCO_DICTIONARY = cv2.aruco.DICT_5X5_50
MARKER_IDS = {SHEET: 17, LABEL: 23}
MARKER_KINDS = {v: k for k, v in MARKER_IDS.items()}

_HALF_TERM = r"\d{4}-\d{2}-(?:autumn|spring|summer)-[12]"


class CodeFormatError(ValueError):
    """Text that claims to be a scanflow code but cannot be understood."""


@dataclass(frozen=True)
class SheetCode:
    """What one code says: whose piece starts here, for which half term and genre."""

    pupil_id: str
    half_term: str
    genre: str
    kind: str = SHEET

    def payload(self) -> str:
        for name, value in (("pupil id", self.pupil_id), ("half term", self.half_term),
                            ("genre", self.genre)):
            if not value or "|" in value or value != value.strip():
                raise CodeFormatError(f"{name} {value!r} cannot go in a code")
        return "|".join((FORMAT, self.kind, self.pupil_id, self.half_term, self.genre))

    def printed(self) -> str:
        """The human-readable line printed under the code (and read back by OCR)."""
        return f"{self.pupil_id}  {self.half_term}  {self.genre}"

    @property
    def is_cover(self) -> bool:
        return self.kind == SHEET


def parse_payload(text: str) -> SheetCode | None:
    """The code in a decoded QR text; None if the QR code is not one of ours.

    Raises :class:`CodeFormatError` for text that starts like ours but is damaged or from a
    newer format.

    >>> parse_payload("https://example.org/worksheet") is None
    True
    >>> parse_payload("SF2|S|X|2026-27-autumn-1|narrative")
    Traceback (most recent call last):
    ...
    scanflow.intake.codes.CodeFormatError: code format SF2 is newer than this scanflow understands
    """
    text = (text or "").strip()
    if not re.match(r"^SF\d+\|", text):
        return None
    parts = text.split("|")
    if parts[0] != FORMAT:
        raise CodeFormatError(f"code format {parts[0]} is newer than this scanflow understands")
    if len(parts) != 5:
        raise CodeFormatError(f"code has {len(parts)} fields, expected 5")
    _, kind, pupil_id, half_term, genre = parts
    if kind not in (SHEET, LABEL):
        raise CodeFormatError(f"unknown code kind {kind!r}")
    if not pupil_id or not re.fullmatch(_HALF_TERM, half_term) or not genre:
        raise CodeFormatError(f"code fields are not pupil|half term|genre: {text!r}")
    return SheetCode(pupil_id, half_term, genre, kind)


# --- finding a code on a page ------------------------------------------------------

READ = "read"  # the QR code was decoded
TEXT = "text"  # the QR code failed; the printed code was read by OCR (check it)
UNREADABLE = "unreadable"  # a sheet or label is there, but no code could be read
INVALID = "invalid"  # a scanflow QR code was decoded but does not make sense


@dataclass
class CodeHit:
    """What :func:`find_code` found on one page.

    ``angle`` is how far the code is turned, in degrees anticlockwise from upright, so a
    cover page can be stored upright. ``attempt`` names the detection pass that succeeded
    (provenance, and a way to see which retries earn their keep).
    """

    status: str
    kind: str
    code: SheetCode | None = None
    raw: str | None = None
    attempt: str = ""
    angle: float = 0.0
    problem: str | None = None
    seconds: float = 0.0
    # A label's outline on the page (four [x, y] corners, page pixels), from its marker:
    # the label is printed matter on a page of writing and is kept out of the OCR.
    region: list[list[float]] | None = None

    @property
    def is_cover(self) -> bool:
        """A cover sheet (kept as the piece's cover, not read as writing)."""
        return self.kind == SHEET

    @property
    def rotation(self) -> int:
        """Quarter turns (0, 90, 180, 270, clockwise) that make the page upright."""
        return int(round(self.angle / 90.0)) % 4 * 90

    def describe(self) -> str:
        what = KIND_NAMES.get(self.kind, "code")
        if self.status == READ:
            return f"{what} {self.code.payload()}"
        if self.status == TEXT:
            return f"{what} with an unreadable QR code; printed code read as {self.code.printed()!r}"
        return f"{what} whose code could not be read ({self.problem})"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["code"] = asdict(self.code) if self.code else None
        d["seconds"] = round(self.seconds, 4)
        d["angle"] = round(self.angle, 1)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CodeHit":
        d = dict(d)
        d["code"] = SheetCode(**d["code"]) if d.get("code") else None
        return cls(**d)


@dataclass
class _Look:
    """Scratch state for one page's search: the working images, made once, on demand."""

    grey: np.ndarray
    scale: float  # work image = scale x original
    work: np.ndarray
    attempts: list[str] = field(default_factory=list)


# Pages are searched at about 150-200 dpi: a module of the printed code (1.2 mm) is then
# 7+ pixels, plenty for the detector, and the search costs a quarter of full resolution.
# The page is shrunk by the whole factor that brings its long side nearest this
# (1200-2700 pixels: 3508 -> 1754).
WORK_LONG_SIDE = 1800


def find_code(rgb: np.ndarray, *, read_text: bool = True) -> CodeHit | None:
    """Find a scanflow code on a page image (RGB or grey). None when the page has none.

    Pure: no files, no archive. Cheap on a page without a code (one QR pass and one marker
    pass at reduced size); retries on a copy that is binarised, rescaled, or cropped around
    the candidate only when something code-like was seen. With ``read_text``, a sheet whose
    QR code fails has its printed code read by Tesseract.

    >>> hit = find_code(page_rgb)          # doctest: +SKIP
    >>> hit.status, hit.code.pupil_id      # doctest: +SKIP
    ('read', 'A100000000001')
    """
    started = time.monotonic()
    grey = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    # A whole factor: OpenCV averages 2x2 blocks 30 times faster than it resizes an A4
    # page at 300 dpi to exactly 1800 pixels (0.5 against 17 ms).
    step = max(1, round(max(grey.shape[:2]) / WORK_LONG_SIDE))
    scale = 1.0 / step
    work = shrink_by(grey, step)
    look = _Look(grey=grey, scale=scale, work=work)
    hit = _search(look, read_text)
    if hit is not None:
        if hit.kind == LABEL:
            hit.region = label_region(look)
        hit.seconds = time.monotonic() - started
    return hit


# Where a label lies around its marker, in marker widths from the marker's top-left
# corner (sheets.draw_label: a 99.1 x 38.1 mm label, the 9 mm marker 2 mm in from its
# top-right corner), with 2 mm spare for a label stuck on a little crooked.
_LABEL_AROUND_MARKER = ((-88.1 - 2) / 9, (-2 - 2) / 9, (11.0 + 2) / 9, (36.1 + 2) / 9)


def label_region(look: _Look) -> list[list[float]] | None:
    """The label's four corners on the page, from its marker (any rotation), or None."""
    for kind, quad in _marker_quads(look.work):
        if kind != LABEL:
            continue
        quad = quad / look.scale
        x0, y0, x1, y1 = _LABEL_AROUND_MARKER
        # The marker's corners come clockwise from its own top-left: an affine map from
        # marker units to the page, whichever way up the label was stuck.
        origin, right, down = quad[0], quad[1] - quad[0], quad[3] - quad[0]
        corners = [origin + x * right + y * down for x, y in ((x0, y0), (x1, y0), (x1, y1),
                                                               (x0, y1))]
        return [[round(float(c[0]), 1), round(float(c[1]), 1)] for c in corners]
    return None


def mask_label(rgb: np.ndarray, hit: CodeHit | None) -> np.ndarray:
    """``rgb`` with the label painted paper-white, as the OCR sees it (ingest passes
    ``hit.region`` to the cleaning as a region to hide). Unchanged when there is no label
    or its place is unknown."""
    from scanflow.ocr.preprocess import paint_out

    return paint_out(rgb, [hit.region] if hit is not None and hit.region is not None else [])


def _search(look: _Look, read_text: bool) -> CodeHit | None:
    # OpenCV's ArUco-based QR detector finds more degraded codes than the classic one, and
    # faster; the classic one is the first retry.
    text, points = _qr(cv2.QRCodeDetectorAruco(), look.work)
    if text:
        return _from_qr(text, points, "qr")
    markers = _markers(look.work)
    if points is None and not markers:
        return None  # the common case: a page of writing
    for name, image in _retries(look, points, thorough=bool(markers)):
        text, pts = _qr(cv2.QRCodeDetector() if name.startswith("classic") else
                        cv2.QRCodeDetectorAruco(), image)
        if text:
            return _from_qr(text, pts, name)
    if not markers:
        # Finder-pattern-like shapes but no marker and nothing decoded: handwriting, a
        # drawing or a foreign code. Not a sheet.
        return None
    kind, angle = markers[0]
    if read_text:
        code = read_printed_code(look.grey, kind, angle)
        if code is not None:
            return CodeHit(TEXT, kind, code=code, attempt="printed text", angle=angle,
                           problem="QR code unreadable")
    return CodeHit(UNREADABLE, kind, attempt="marker", angle=angle,
                   problem="marker found, QR code unreadable")


def _qr(detector, image: np.ndarray) -> tuple[str, np.ndarray | None]:
    try:
        text, points, _ = detector.detectAndDecode(image)
    except cv2.error:  # OpenCV raises on some degenerate candidate quadrilaterals
        return "", None
    if points is not None:
        points = np.asarray(points, dtype=np.float32).reshape(-1, 2)
        if len(points) != 4 or not np.isfinite(points).all():
            points = None
    return text or "", points


def _from_qr(text: str, points: np.ndarray | None, attempt: str) -> CodeHit | None:
    angle = _angle(points) if points is not None else 0.0
    try:
        code = parse_payload(text)
    except CodeFormatError as exc:
        kind = text.split("|")[1] if text.count("|") >= 1 else SHEET
        return CodeHit(INVALID, kind if kind in (SHEET, LABEL) else SHEET, raw=text,
                       attempt=attempt, angle=angle, problem=str(exc))
    if code is None:
        log.debug("ignoring a QR code that is not scanflow's: %r", text[:60])
        return None
    return CodeHit(READ, code.kind, code=code, raw=text, attempt=attempt, angle=angle)


def _angle(points: np.ndarray) -> float:
    """Anticlockwise turn of a quadrilateral whose first edge is the symbol's top edge."""
    (x0, y0), (x1, y1) = points[0], points[1]
    # Image y grows downwards, so negate dy for the usual anticlockwise angle.
    return float(np.degrees(np.arctan2(-(y1 - y0), x1 - x0))) % 360.0


def _markers(image: np.ndarray) -> list[tuple[str, float]]:
    """``(kind, angle)`` for each sheet/label marker on the page."""
    return [(kind, _angle(quad)) for kind, quad in _marker_quads(image)]


def _marker_quads(image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """``(kind, corners)`` for each sheet/label marker: four corners clockwise from the
    marker's own top-left, in ``image`` pixels."""
    params = cv2.aruco.DetectorParameters()
    # Thresholding windows of 13 and 23 pixels, not also 3: the 9 mm marker's cells are
    # 7-8 pixels at the search's 150 dpi, and a 3-pixel window only traces edges. A third
    # less of the search on every page (20 -> 14 CPU-ms); the same sheets found in
    # benchmarks/codes_bench.py, damaged ones included.
    params.adaptiveThreshWinSizeMin = 13
    detector = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(ARUCO_DICTIONARY),
                                       params)
    corners, ids, _ = detector.detectMarkers(image)
    found = []
    if ids is not None:
        for quad, marker_id in zip(corners, ids.ravel()):
            kind = MARKER_KINDS.get(int(marker_id))
            if kind:
                found.append((kind, np.asarray(quad, dtype=np.float32).reshape(4, 2)))
    return found


def _retries(look: _Look, points: np.ndarray | None, thorough: bool):
    """Second chances, cheapest and likeliest first.

    Without a marker on the page (``thorough`` False) only the small crop round the
    candidate is retried: handwriting often looks finder-pattern-like, and a page of
    writing must stay cheap.
    """
    if points is not None:
        # Crop round the candidate at full resolution, enlarged if small: a blurred or
        # low-resolution code decodes better when its modules are 8+ pixels.
        crop = _crop(look.grey, points / look.scale, margin=0.35)
        if crop is not None:
            factor = max(1.0, 600.0 / max(crop.shape))
            if factor > 1.0:
                crop = cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
            yield "crop", crop
            _, crop_bin = cv2.threshold(cv2.GaussianBlur(crop, (5, 5), 0), 0, 255,
                                        cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            yield "crop-binarised", crop_bin
    if not thorough:
        return
    yield "classic", look.work
    binar = cv2.adaptiveThreshold(cv2.GaussianBlur(look.work, (3, 3), 0), 255,
                                  cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 51, 10)
    yield "binarised", binar
    if look.scale < 1.0:
        yield "full", look.grey
    elif max(look.grey.shape) < 2 * WORK_LONG_SIDE:
        yield "upscaled", cv2.resize(look.grey, None, fx=2.0, fy=2.0,
                                     interpolation=cv2.INTER_CUBIC)
    yield "classic-full", look.grey


def _crop(grey: np.ndarray, points: np.ndarray, margin: float) -> np.ndarray | None:
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    pad = margin * max(x1 - x0, y1 - y0)
    h, w = grey.shape[:2]
    xa, ya = int(max(0, x0 - pad)), int(max(0, y0 - pad))
    xb, yb = int(min(w, x1 + pad)), int(min(h, y1 + pad))
    if xb - xa < 20 or yb - ya < 20:
        return None
    return grey[ya:yb, xa:xb]


# --- the printed code, read by OCR when the QR code fails --------------------------

_PRINTED = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]{2,})\s+(" + _HALF_TERM + r")\s+([a-z][a-z-]+)")


def read_printed_code(grey: np.ndarray, kind: str, angle: float) -> SheetCode | None:
    """Read the large printed ``<pupil id>  <half term>  <genre>`` line with Tesseract.

    The page is first turned upright using the marker's angle (sheets are printed with
    the marker upright). Returns None if nothing code-shaped was read.
    """
    try:
        import pytesseract
    except ImportError:  # the OCR engine is optional here; the sheet is still reported
        return None
    upright = _turn(grey, angle)
    h, w = upright.shape[:2]
    # The code line sits in the top third of a sheet; a label can be anywhere on the page.
    region = upright[: h // 3] if kind == SHEET else upright
    scale = min(1.0, 2400.0 / max(region.shape))
    if scale < 1.0:
        region = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    try:
        text = pytesseract.image_to_string(region, config="--psm 11 -c load_system_dawg=0 "
                                                          "-c load_freq_dawg=0")
    except Exception as exc:  # Tesseract missing or crashed: the sheet is still reported
        log.debug("printed-code OCR failed: %s", exc)
        return None
    return parse_printed(text, kind)


def parse_printed(text: str, kind: str = SHEET) -> SheetCode | None:
    """Find ``<pupil id> <half term> <genre>`` in OCR text, tolerating OCR's usual slips.

    >>> parse_printed("Pupil\\nA1OOOOOOOOOO1  2026-27-autumn-1  narrative\\n")
    SheetCode(pupil_id='A100000000001', half_term='2026-27-autumn-1', genre='narrative', kind='S')
    """
    flat = " ".join(text.replace("—", "-").replace("–", "-").split())
    m = _PRINTED.search(flat)
    if not m:
        return None
    pupil_id = m.group(1)
    # UPN-shaped ids are a letter and 12 digits: O/o -> 0, I/l -> 1 after the first letter.
    if re.fullmatch(r"[A-Za-z][0-9OoIl]{12}", pupil_id):
        pupil_id = pupil_id[0].upper() + pupil_id[1:].translate(str.maketrans("OoIl", "0011"))
    return SheetCode(pupil_id, m.group(2), m.group(3), kind)


def _turn(grey: np.ndarray, angle: float) -> np.ndarray:
    """Rotate by ``-angle`` degrees (undo an anticlockwise turn), keeping the whole page."""
    if abs(((angle + 180) % 360) - 180) < 0.5:
        return grey
    h, w = grey.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(grey, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=255)


def upright(rgb: np.ndarray, hit: CodeHit) -> np.ndarray:
    """The page turned by quarter turns so the code is upright (for storing a cover)."""
    turns = hit.rotation // 90
    # angle 90 = turned anticlockwise a quarter: turn it back clockwise.
    return np.ascontiguousarray(np.rot90(rgb, k=-turns)) if turns else rgb
