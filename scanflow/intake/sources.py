"""Scan files: finding them, identifying them by SHA-256, and rendering one page at a time.

Nothing here holds more than one page in memory: PDFs are rasterised page by page with
Poppler (``pdftoppm -f N -l N``), multi-page TIFFs are read one frame at a time.
Every problem with a file becomes an :class:`~scanflow.errors.InputFileError` that names
the file and says what to do.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from scanflow.errors import InputFileError, MissingDependency
from scanflow.intake.pdfjpeg import jpeg_stream

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
PDF_SUFFIXES = {".pdf"}
# Default cap on a page's pixels: an A3 page at 600 dpi is ~70 million; beyond that a
# file is almost certainly a mistake or a decompression bomb.
DEFAULT_MAX_PIXELS = 100_000_000

# Pillow's own decompression-bomb guard stops at a fixed limit before the size is known;
# scanflow reads the header, applies its configurable --max-pixels limit with a message
# that shows the size, and only then decodes. So Pillow's guard is handed over to ours.
Image.MAX_IMAGE_PIXELS = None

POPPLER_HINT = "Install Poppler with: sudo apt-get install poppler-utils (or run: bash setup.sh)."


@dataclass(frozen=True)
class ScanFile:
    path: Path
    sha256: str
    size: int
    kind: str  # "pdf" or "image"
    page_count: int


def discover(paths: list[str | Path]) -> tuple[list[Path], list[Path]]:
    """Expand folders into scan files, sorted by name. Returns ``(scans, skipped)``.

    A file named explicitly must be a scan (or it is an error later, with a message);
    files inside a folder that are not scans (a manifest CSV, notes) are skipped. A broken
    or looping symbolic link is returned with the scans so that :func:`inspect` names it
    as what it is; a link to a folder is not followed (it may lead back up the tree).
    """
    scans: list[Path] = []
    skipped: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists() and not path.is_symlink():
            raise InputFileError("no such file or folder.", path=display_path(path),
                                 hint="Check the path and try again.")
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.name.startswith("."):
                    continue
                if child.is_symlink() and child.is_dir():
                    log.warning("%s: a link to a folder, not followed (read the folder it "
                                "points to by naming it)", display_path(child))
                    skipped.append(child)
                elif child.is_file() or link_problem(child):
                    (scans if is_scan_name(child) or link_problem(child) else
                     skipped).append(child)
        else:
            scans.append(path)
    return scans, skipped


def link_problem(path: Path) -> str | None:
    """Why the symbolic link ``path`` leads nowhere (a loop, a missing target), or None."""
    if not path.is_symlink():
        return None
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link that loops back on itself, so there is no file to read."
        target = os.readlink(path)
        return f"is a symbolic link to {display_path(target)}, which does not exist."
    return None


def display_path(path: str | Path) -> str:
    """``path`` as text that can be stored and printed whatever bytes its name holds.

    A name that is not valid UTF-8 (from a USB stick or an old Windows share) arrives with
    its odd bytes as surrogates, which SQLite and a terminal refuse; they are shown as
    ``\\xe9`` instead. The file itself is still opened by its real name.

    >>> display_path(os.fsdecode(b"caf\\xe9.pdf"))
    'caf\\\\xe9.pdf'
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def is_scan_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES | PDF_SUFFIXES


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sniff_kind(path: Path) -> str:
    """``pdf`` or ``image`` from the file's first bytes, not its name."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(b"%PDF"):
        return "pdf"
    if (head.startswith(b"\x89PNG") or head.startswith(b"\xff\xd8\xff")
            or head[:4] in (b"II*\x00", b"MM\x00*")):
        return "image"
    raise InputFileError(
        "is not a PDF or an image scanflow can read.", path=display_path(path),
        hint="Scan to PDF, PNG, JPEG or TIFF; if it is one, it may be damaged: scan it again.",
    )


def inspect(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> ScanFile:
    """Identify a scan and count its pages, without rendering any of them."""
    path = Path(path)
    problem = link_problem(path)
    if problem:
        raise InputFileError(problem, path=display_path(path),
                             hint="Point the link at the scan, or name the scan itself.")
    if not path.is_file():
        raise InputFileError("no such file.", path=display_path(path), hint="Check the path.")
    size = path.stat().st_size
    if size == 0:
        raise InputFileError("is empty (0 bytes).", path=display_path(path),
                             hint="The scan did not save; scan the pages again.")
    kind = sniff_kind(path)
    sha = sha256_file(path)
    pages = _pdf_page_count(path) if kind == "pdf" else _image_frame_count(path, max_pixels)
    if pages == 0:
        raise InputFileError("has no pages.", path=display_path(path), hint="Scan the pages again.")
    return ScanFile(path=path, sha256=sha, size=size, kind=kind, page_count=pages)


def _pdfinfo(path: Path, *extra: str) -> str:
    import subprocess

    exe = shutil.which("pdfinfo")
    if not exe:
        raise MissingDependency("Poppler's pdfinfo is not installed.", hint=POPPLER_HINT)
    proc = subprocess.run([exe, *extra, str(path)], capture_output=True, text=True,
                          errors="replace", timeout=120)
    err = proc.stderr.strip()
    if proc.returncode != 0:
        if "password" in err.lower() or "encrypt" in err.lower():
            raise InputFileError(
                "is encrypted (password-protected).", path=display_path(path),
                hint="Turn off the scanner's PDF password or security setting and scan again.",
            )
        raise InputFileError(
            f"is a damaged or incomplete PDF ({_first_line(err)}).", path=display_path(path),
            hint="Copy it again from the scanner, or scan the pages again.",
        )
    return proc.stdout


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else "unreadable"


def _pdf_page_count(path: Path) -> int:
    info = _pdfinfo(path)
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    if fields.get("Encrypted", "no").strip().startswith("yes"):
        # Some encrypted PDFs open without a password but may refuse rendering; they are
        # still marked, and printing/copy restrictions do not stop us reading our own scan.
        log.debug("%s: encrypted PDF that opens without a password", path)
    try:
        return int(fields["Pages"].strip())
    except (KeyError, ValueError):
        raise InputFileError("is a PDF whose page count cannot be read.", path=display_path(path),
                             hint="Copy it again from the scanner, or scan the pages again.")


def _open_image(path: Path) -> Image.Image:
    """Open an image by reading its header only; nothing is decoded yet."""
    try:
        img = Image.open(path)
    except Exception as exc:
        raise InputFileError(f"cannot be read as an image ({exc}).", path=display_path(path),
                             hint="It may be damaged: scan the page again.") from None
    return img


def _too_big(path: Path, size, max_pixels: int, page: int | None = None) -> InputFileError:
    dims = f"{size[0]}x{size[1]} pixels" if size else "too many pixels"
    which = f"page {page} " if page else ""
    return InputFileError(
        f"{which}is too large to process safely ({dims}; the limit is {max_pixels:,} pixels).",
        path=display_path(path),
        hint="Scan at 300 dpi (A4 is about 2480x3508), or raise the limit with --max-pixels.",
    )


def _image_frame_count(path: Path, max_pixels: int) -> int:
    """How many pages (frames) the image holds.

    A single image too large for ``max_pixels`` fails here, as a file. In a multi-page
    TIFF each page is measured when it is read (:func:`_seek_frame`, header only, before
    any decoding), so one huge page, first or hidden behind small ones, fails on its own
    and the book's other pages are still read.
    """
    with _open_image(path) as img:
        frames = _frames(img)
        if frames == 1:
            _seek_frame(img, path, 1, max_pixels)
        return frames


def _frames(img: Image.Image) -> int:
    return getattr(img, "n_frames", 1)


def _seek_frame(img: Image.Image, path: Path, page_number: int, max_pixels: int) -> None:
    """Move ``img`` to page ``page_number`` (1-based) and check its size; nothing decoded."""
    try:
        img.seek(page_number - 1)
    except EOFError:
        raise InputFileError(f"has no page {page_number}.", path=display_path(path),
                             hint="Scan the pages again.") from None
    except Exception as exc:  # a damaged frame directory
        raise InputFileError(f"page {page_number} cannot be read ({exc}).",
                             path=display_path(path), hint="Copy or scan it again.") from None
    w, h = img.size
    if w * h > max_pixels:
        raise _too_big(path, (w, h), max_pixels, page=page_number if _frames(img) > 1 else None)


@dataclass
class RenderedPage:
    rgb: np.ndarray
    dpi: float
    source: str  # "scan" or "photo"
    # The page's master as the scanner made it, when it has one: an image file's bytes, or
    # the PDF page's one embedded image as stored. None: keep ``rgb`` losslessly.
    master: bytes | None = None
    origin: str = "rendered"  # scan-file, pdf-image, rendered or tiff-frame (pages.image_origin)


def render_page(scan: ScanFile, page_number: int, dpi: int = 300,
                max_pixels: int = DEFAULT_MAX_PIXELS,
                layout: PdfPage | None = None, work_dir: Path | None = None) -> RenderedPage:
    """Rasterise page ``page_number`` (1-based) of ``scan`` as RGB.

    ``layout``: the PDF page as :func:`pdf_pages` described it, when the caller asked for
    the whole file at once; without it Poppler is asked about this page alone.
    ``work_dir``: where a page image Poppler extracts is written for a moment (the
    system's temporary folder when None; see :func:`extract_embedded`).
    """
    if scan.kind == "pdf":
        return _render_pdf_page(scan.path, page_number, dpi, max_pixels, layout, work_dir)
    return _load_image_frame(scan.path, page_number, max_pixels)


@dataclass(frozen=True)
class EmbeddedImage:
    """The one image a PDF page consists of, as ``pdfimages -list`` describes it."""

    width: int
    height: int
    encoding: str  # jpeg, jpx, image (Flate), ccitt, jbig2, ...
    colour: str
    ppi: float
    object: tuple[int, int] | None = None  # the image's object number and generation


@dataclass(frozen=True)
class PdfPage:
    """What Poppler says of one PDF page before it is rendered: its size in points, whether
    a /Rotate turns it, and its one image when the page is just that image."""

    size_pts: tuple[float, float] | None
    rotated: bool
    image: EmbeddedImage | None


def pdf_pages(path: Path, first: int, last: int) -> dict[int, PdfPage]:
    """Pages ``first`` to ``last`` of a PDF, described by one ``pdfinfo`` and one
    ``pdfimages -list`` run: asked page by page, the two runs cost 20 CPU-ms a page.

    Raises :class:`InputFileError` when Poppler cannot read the file.
    """
    import subprocess

    info = _pdfinfo(path, "-f", str(first), "-l", str(last))
    exe = shutil.which("pdfimages")
    rows: dict[int, list[list[str]]] = {}
    if exe:
        proc = subprocess.run([exe, "-list", "-f", str(first), "-l", str(last), str(path)],
                              capture_output=True, text=True, errors="replace", timeout=300)
        if proc.returncode == 0:
            for line in proc.stdout.splitlines()[2:]:
                row = line.split()
                if row and row[0].isdigit():
                    rows.setdefault(int(row[0]), []).append(row)
    geometry = _page_geometries(info, first)
    pages = {}
    for number in range(first, last + 1):
        size, rotated = geometry.get(number, (None, False))
        image = embedded_image(rows.get(number, []), size, rotated) if exe else None
        pages[number] = PdfPage(size, rotated, image)
    return pages


def embedded_image(rows: list[list[str]], page_pts: tuple[float, float] | None,
                   rotated: bool) -> EmbeddedImage | None:
    """The page's single image, if the page is just that image filling it; else None.
    ``rows``: the page's rows of ``pdfimages -list``, split into fields.

    What office scanners write: one image per page, placed over the whole page. A page
    with anything else (two images, a soft mask, a page /Rotate, an image not covering
    the page) is not one image and is rendered instead.
    """
    if page_pts is None or rotated:
        return None
    if len(rows) != 1 or len(rows[0]) < 14 or rows[0][2] != "image":
        return None
    row = rows[0]
    try:
        width, height, x_ppi, y_ppi = int(row[3]), int(row[4]), float(row[12]), float(row[13])
        obj = (int(row[10]), int(row[11]))
    except ValueError:
        return None
    w_pt, h_pt = page_pts
    # The image must span the page at one resolution both ways (2 % for rounding).
    covers = (abs(width / x_ppi * 72 - w_pt) <= 0.02 * w_pt
              and abs(height / y_ppi * 72 - h_pt) <= 0.02 * h_pt) if x_ppi and y_ppi else False
    if not covers or abs(x_ppi - y_ppi) > 0.02 * x_ppi:
        return None
    return EmbeddedImage(width, height, row[8], row[5], x_ppi, obj)


def extract_embedded(path: Path, page_number: int, image: EmbeddedImage,
                     work_dir: Path | None = None) -> bytes:
    """The page's image bytes: a JPEG or JPEG 2000 stream exactly as the PDF stores it;
    any other encoding (Flate, CCITT, JBIG2) decoded to a lossless PNG.

    ``pdfimages`` writes the image to a file, in a folder made in ``work_dir`` and removed
    at once. Ingest gives the archive's image folder: a run killed there (power cut,
    ``kill -9``) would otherwise leave a child's page in the system's temporary folder,
    out of reach of erasure; in the archive the next ingest deletes it
    (:func:`scanflow.archive.images.clean_temporary_files` removes ``.*.tmp-*``).
    """
    import subprocess
    import tempfile

    if image.encoding == "jpeg" and image.colour in ("rgb", "gray"):
        if image.object is not None:
            data = jpeg_stream(path, *image.object)
            if data is not None:
                return data
        mode = "-j"  # the DCT stream as it is (CMYK JPEGs are decoded instead)
    elif image.encoding == "jpx":
        mode = "-jp2"
    else:
        mode = "-png"
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pdfimages.tmp-", dir=work_dir) as tmp:
        proc = subprocess.run([shutil.which("pdfimages") or "pdfimages", mode, "-f",
                               str(page_number), "-l", str(page_number), str(path),
                               f"{tmp}/page"], capture_output=True, text=True,
                              errors="replace", timeout=300)
        written = sorted(Path(tmp).iterdir())
        if proc.returncode != 0 or len(written) != 1:
            raise InputFileError(f"page {page_number}: its image could not be extracted "
                                 f"({_first_line(proc.stderr.strip())}).", path=str(path),
                                 hint="The PDF may be damaged: scan it again.")
        return written[0].read_bytes()


_PAGE_LINE = re.compile(r"Page\s*(\d*)\s+(size|rot):(.*)")


def _page_geometries(info: str, first: int) -> dict[int, tuple[tuple[float, float] | None,
                                                                bool]]:
    """``{page: (size in points, turned by /Rotate)}`` from ``pdfinfo -f N -l M`` output,
    in one pass over it (looking each page up in the whole text took 4 s for a 1,500-page
    batch). A line without a page number ("Page size:") is page ``first``'s."""
    pages: dict[int, tuple[tuple[float, float] | None, bool]] = {}
    for line in info.splitlines():
        found = _PAGE_LINE.match(line)
        if found is None:
            continue
        number = int(found.group(1)) if found.group(1) else first
        size, rotated = pages.get(number, (None, False))
        value = found.group(3)
        if found.group(2) == "size":
            parts = value.split()
            try:
                size = (float(parts[0]), float(parts[2]))
            except (IndexError, ValueError):
                pass
        else:
            rotated = value.strip() not in ("0", "")
        pages[number] = (size, rotated)
    return pages


def _decode_bytes(path: Path, page_number: int, data: bytes,
                  max_pixels: int) -> np.ndarray | None:
    import io

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > max_pixels:
                raise _too_big(path, img.size, max_pixels)
            if img.getexif().get(0x0112, 1) not in (1, None):
                # A PDF reader ignores an EXIF turn inside the stream and the archive
                # would apply it: such a page is rendered instead, as the reader shows it.
                return None
            if img.format == "JPEG" and img.mode in ("RGB", "L"):
                # libjpeg-turbo through OpenCV: the same pixels as PIL's (checked on the
                # generated scans) in a third of the CPU (22 against 63 ms an A4 page),
                # decoded straight to RGB order (6 ms a page less than swapping after).
                rgb = cv2.imdecode(np.frombuffer(data, np.uint8),
                                   cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION)
                if rgb is not None:
                    return rgb
            return _rgb_pixels(img)
    except InputFileError:
        raise
    except Exception as exc:
        raise InputFileError(f"page {page_number}'s image is damaged ({exc}).", path=str(path),
                             hint="Copy it again from the scanner, or scan the page again.") \
            from None


def _render_pdf_page(path: Path, page_number: int, dpi: int, max_pixels: int,
                     layout: PdfPage | None = None,
                     work_dir: Path | None = None) -> RenderedPage:
    if not shutil.which("pdftoppm"):
        raise MissingDependency("Poppler's pdftoppm is not installed.", hint=POPPLER_HINT)
    if layout is None:
        layout = pdf_pages(path, page_number, page_number)[page_number]
    image = layout.image
    if image is not None:
        # The scanner's own image is the page: keep its bytes and read its pixels, at its
        # own resolution, rather than rendering a resampled copy.
        data = extract_embedded(path, page_number, image, work_dir)
        rgb = _decode_bytes(path, page_number, data, max_pixels)
        if rgb is not None:
            return RenderedPage(rgb=rgb, dpi=float(image.ppi), source="scan", master=data,
                                origin="pdf-image")
    return _rasterise_pdf_page(path, page_number, dpi, max_pixels, layout.size_pts)


def _rasterise_pdf_page(path: Path, page_number: int, dpi: int, max_pixels: int,
                        size_pts: tuple[float, float] | None) -> RenderedPage:
    from pdf2image import convert_from_path
    from pdf2image.exceptions import PDFPageCountError, PDFSyntaxError

    if size_pts is not None:
        w_pt, h_pt = size_pts
        pixels = (w_pt / 72 * dpi) * (h_pt / 72 * dpi)
        if pixels > max_pixels:
            raise InputFileError(
                f"page {page_number} is {w_pt / 72:.0f}x{h_pt / 72:.0f} inches, too large "
                f"to render at {dpi} dpi (limit {max_pixels:,} pixels).",
                path=display_path(path),
                hint="Check the scanner's paper size setting, or raise --max-pixels.",
            )
    try:
        images = convert_from_path(str(path), dpi=dpi, first_page=page_number,
                                   last_page=page_number, fmt="ppm", thread_count=1,
                                   timeout=300)
    except (PDFPageCountError, PDFSyntaxError) as exc:
        raise InputFileError(f"page {page_number} could not be rendered ({exc}).",
                             path=display_path(path), hint="Scan the page again.") from None
    if not images:
        raise InputFileError(f"page {page_number} could not be rendered (no image).",
                             path=display_path(path), hint="The PDF may be damaged: scan it again.")
    with images[0] as img:
        rgb = np.asarray(img.convert("RGB"))
    return RenderedPage(rgb=rgb, dpi=float(dpi), source="scan")


def _load_image_frame(path: Path, page_number: int, max_pixels: int) -> RenderedPage:
    with _open_image(path) as img:
        # Checked again here, not only in inspect(): the file may have changed since.
        _seek_frame(img, path, page_number, max_pixels)
        try:
            # Reading a PNG's EXIF reads to its end: a truncated file fails here already.
            exif = img.getexif()
            frame = ImageOps.exif_transpose(img) if page_number == 1 else img
            frame.load()
        except Exception as exc:
            raise InputFileError(f"page {page_number} is damaged or truncated ({exc}).",
                                 path=display_path(path), hint="Copy or scan it again.") from None
        source = "photo" if (exif.get(0x010F) or exif.get(0x0110)) and not img.info.get("dpi") \
            else "scan"
        dpi = estimate_dpi(frame)
        rgb = _rgb_pixels(frame)
        frames = getattr(img, "n_frames", 1)
    if frames == 1:
        # One image, one page: the file's own bytes are the master (EXIF orientation and
        # all; the archive applies it when showing the page, as here).
        return RenderedPage(rgb=rgb, dpi=dpi, source=source, master=path.read_bytes(),
                            origin="scan-file")
    return RenderedPage(rgb=rgb, dpi=dpi, source=source, origin="tiff-frame")


def _rgb_pixels(img: Image.Image) -> np.ndarray:
    """The image as an RGB array, copied once (``convert`` copies even an RGB image)."""
    return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))


def estimate_dpi(img: Image.Image) -> float:
    """The image's resolution: its own metadata, else guessed from an A4 page's width."""
    info = img.info.get("dpi")
    if info:
        try:
            dpi = float(info[0])
            if 50 <= dpi <= 1200:
                return dpi
        except (TypeError, ValueError, IndexError):
            pass
    # No (or nonsense) metadata: phone photos and some scanners. Assume the paper spans
    # the image's shorter side, as an A4 page's 8.27 inches.
    return max(50.0, min(img.size) / 8.27)
