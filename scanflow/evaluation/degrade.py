"""Make a clean rendered page look printed, photocopied and scanned.

For testing and benchmarking code detection (:mod:`scanflow.intake.codes`): the office prints
sheets, sometimes photocopies them, sticks them into books and scans at 150-300 dpi in
greyscale or colour, a little crooked. Each effect is a field of :class:`ScanLike`;
:func:`random_scan_like` draws a plausible mixture.

>>> rng = np.random.default_rng(1)
>>> settings = random_scan_like(rng)
>>> page = degrade(clean_rgb, settings, rng)     # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ScanLike:
    angle: float = 0.0  # degrees anticlockwise (a crooked sheet on the glass)
    blur: float = 0.0  # Gaussian sigma in pixels (focus, toner spread)
    contrast: float = 1.0  # 1 = black ink on white; 0.4 = grey ink on grey paper
    paper: tuple[int, int, int] = (255, 255, 255)  # RGB of the paper
    noise: float = 0.0  # standard deviation of sensor noise, in grey levels
    jpeg: int | None = None  # JPEG quality, None for lossless
    grey: bool = False  # a greyscale scan
    photocopy: bool = False  # a copy of a copy: hard, thickened black

    def to_dict(self) -> dict:
        return asdict(self)


def degrade(rgb: np.ndarray, s: ScanLike, rng: np.random.Generator) -> np.ndarray:
    """Apply ``s`` to an RGB page; returns RGB (or grey when ``s.grey``)."""
    img = rgb.astype(np.float32)
    if s.photocopy:
        # Toner: dark gets darker and spreads by a pixel, light washes out.
        g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        g = cv2.erode(g, np.ones((2, 2), np.uint8))
        g = np.where(g < 150, g * 0.5, np.minimum(255, g * 1.1)).astype(np.float32)
        img = np.repeat(g[:, :, None], 3, axis=2)
    # Contrast: ink and paper move towards each other; the paper takes its colour.
    paper = np.array(s.paper, np.float32)
    ink = paper * (1.0 - s.contrast)
    img = ink + (img / 255.0) * (paper - ink)
    if s.angle:
        h, w = img.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), s.angle, 1.0)
        img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR,
                             borderValue=tuple(float(v) for v in paper))
    if s.blur:
        img = cv2.GaussianBlur(img, (0, 0), s.blur)
    if s.noise:
        img = img + rng.normal(0.0, s.noise, img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if s.grey:
        out = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
    if s.jpeg:
        ok, buf = cv2.imencode(".jpg", out if s.grey else cv2.cvtColor(out, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, int(s.jpeg)])
        out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        if not s.grey:
            out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    return out


def random_scan_like(rng: np.random.Generator, *, max_angle: float = 10.0,
                     dpi: int = 300) -> ScanLike:
    """A plausible office scan: any of the effects, within the range the issue asks for.

    Blur is given in pixels at ``dpi``: the same optical blur is fewer pixels at 150 dpi.
    """
    per_mm = dpi / 25.4
    return ScanLike(
        angle=float(rng.uniform(-max_angle, max_angle)),
        blur=float(rng.uniform(0.0, 0.12) * per_mm),  # up to 0.12 mm sigma
        contrast=float(rng.choice([1.0, rng.uniform(0.45, 0.9)])),
        paper=tuple(int(v) for v in rng.choice(
            [(255, 255, 255), (246, 242, 228), (236, 236, 236), (250, 240, 210)])),
        noise=float(rng.uniform(0, 14)),
        jpeg=int(rng.choice([0, 0, 85, 60, 40])) or None,
        grey=bool(rng.random() < 0.5),
        photocopy=bool(rng.random() < 0.2),
    )


def render_pdf_pages(pdf: str, dpi: int, first: int | None = None,
                     last: int | None = None) -> list[np.ndarray]:
    """Pages of a PDF as RGB arrays (Poppler's pdftoppm, as ingest uses)."""
    from pdf2image import convert_from_path

    images = convert_from_path(str(pdf), dpi=dpi, first_page=first, last_page=last)
    return [np.asarray(im.convert("RGB")) for im in images]


def damage_code(rgb: np.ndarray, rng: np.random.Generator, how: str = "scribble") -> np.ndarray:
    """Make the QR code on a clean page unreadable, as a child's pen or a torn corner does.

    ``scribble`` draws dense pen strokes over the code, ``tear`` whites out a third of it.
    Raises ValueError if the page has no QR code to damage.
    """
    text, points, _ = cv2.QRCodeDetectorAruco().detectAndDecode(rgb)
    if points is None:
        raise ValueError("no QR code on this page")
    pts = np.asarray(points, np.float32).reshape(-1, 2)
    x0, y0 = pts.min(axis=0).astype(int)
    x1, y1 = pts.max(axis=0).astype(int)
    out = rgb.copy()
    if how == "tear":
        out[y0:y1, x0:x0 + (x1 - x0) // 3] = 255
        out[y0:y0 + (y1 - y0) // 3, x0:x1] = 255
        return out
    width = max(2, (x1 - x0) // 25)
    for _ in range(40):
        a = (int(rng.integers(x0, x1)), int(rng.integers(y0, y1)))
        b = (int(rng.integers(x0, x1)), int(rng.integers(y0, y1)))
        cv2.line(out, a, b, (20, 40, 160), width)
    return out
