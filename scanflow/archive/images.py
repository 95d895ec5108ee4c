"""The archive's image store: page masters, OCR images, and the upright view of a page.

A page's *master* is the image as the scanner made it: an image file's own bytes, or the
one image a scanner's PDF page holds, extracted without re-encoding. Only a page that has
no such image (a rendered PDF page, a frame of a multi-page TIFF) is encoded here, and
losslessly. Turning a page upright is data (``pages.image_turn``), applied by
:func:`load_view` whenever the page is shown or read again, never baked into the master.

Everything that writes a page image into ``images/`` (ingest, cover sheets, the review
app reading a page again) goes through here, so no reader ever sees half a file.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from scanflow.errors import ArchiveError, ScanflowError
from scanflow.imaging import shrink


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
    """Remove half-written images, and folders of images being extracted, left by an
    interrupted run."""
    removed = 0
    for tmp in list(images_dir.rglob(".*.tmp-*")):
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        removed += 1
    return removed


# --- masters and the upright view of them -------------------------------------------

# What each master format is, by its first bytes; the extension follows the format, not
# the name the scanner gave the file.
_SIGNATURES = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG", "png"), (b"II*\x00", "tif"),
               (b"MM\x00*", "tif"), (b"\x00\x00\x00\x0cjP  ", "jp2"), (b"\xff\x4f\xff\x51", "j2k"))
# Formats a browser shows as they are; any other master is shown through a derived copy.
BROWSER_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def master_ext(data: bytes) -> str:
    """The file extension for an image's bytes (``jpg``, ``png``, ``tif``, ``jp2``, ...)."""
    for signature, ext in _SIGNATURES:
        if data.startswith(signature):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    raise ScanflowError("the page image is in a format scanflow does not keep "
                        "(not JPEG, PNG, TIFF, JPEG 2000 or WebP)")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that a reader never sees half a file (tmp + fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def encode_ocr_image(image: np.ndarray) -> tuple[bytes, str]:
    """The OCR image's bytes and extension: CCITT Group 4 TIFF when it is black and white.

    Measured on the sample's six pages: Group 4 is 15-53 KB a page, a third of a level-1
    PNG (55-156 KB) and half of lossless WebP, and encodes in 20 ms. A grey OCR image
    (binarise off) stays a PNG.
    """
    if image.ndim == 2 and set(np.unique(image[::16, ::16])) <= {0, 255}:
        buf = io.BytesIO()
        # Packed to one bit a pixel by numpy: PIL's convert("1") took 36 ms a page, this 4.
        bits = np.packbits(image > 127, axis=1).tobytes()
        Image.frombytes("1", (image.shape[1], image.shape[0]), bits).save(
            buf, format="TIFF", compression="group4")
        return buf.getvalue(), "tif"
    ok, png = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise ScanflowError("could not encode the OCR image")
    return png.tobytes(), "png"


def encode_lossless(rgb: np.ndarray) -> bytes:
    """A page that has no scanner bytes of its own (a rendered PDF page, a TIFF frame),
    kept losslessly as PNG."""
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise ScanflowError("could not encode the page image")
    return png.tobytes()


def decode_image(path: Path, at_least: int | None = None) -> np.ndarray:
    """An image file as RGB pixels, turned as its own EXIF orientation says.

    ``at_least``: both sides need only be this many pixels; a JPEG is then decoded at
    1/2, 1/4 or 1/8 scale by its own DCT where that is still enough (4-8x faster).
    """
    try:
        with Image.open(path) as img:
            if at_least and img.format == "JPEG":
                img.draft("RGB", (at_least, at_least))
            img = ImageOps.exif_transpose(img)
            return np.asarray(img.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ArchiveError(f"The page image {path.name} cannot be read ({exc}).",
                           hint="Restore it from a backup (scanflow check --repair "
                                "--from-backup DIR), or rescan the page.") from None


def upright(rgb: np.ndarray, turn: int | None) -> np.ndarray:
    """``rgb`` turned ``turn`` degrees clockwise (a multiple of 90)."""
    turns = ((turn or 0) // 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, k=-turns)) if turns else rgb


def shown_as_stored(path: Path, turn: int | None) -> bool:
    """True when the master, as it is, shows the page upright (no turn, no EXIF turn)."""
    if (turn or 0) % 360:
        return False
    try:
        with Image.open(path) as img:
            return img.getexif().get(0x0112, 1) in (1, None)
    except OSError:
        return False


def load_view(path: Path, turn: int | None) -> np.ndarray:
    """The page as it is shown and was read: the master decoded, EXIF-oriented, turned."""
    return upright(decode_image(path), turn)


# --- what a browser is sent: the master itself where it can be, small copies elsewhere ---

DERIVED = "derived"
# A page is shown from its master whenever a browser can show the master as it is: a
# JPEG (any turn: see :func:`with_orientation`), or a PNG/WebP needing no turn, up to this
# size. The master is the scan, so nothing is lost, and storing a display copy beside a
# JPEG would cost 0.14-0.29x the input again (benchmarks/archive_size.py). Beyond this
# size (a 12-MP phone photo, an older archive's 4 MB upright PNG) a small copy is cheaper
# to send and to decode than the master is.
SHOW_AS_IS_BYTES = 2_500_000
# Display copies are WebP: a third of a JPEG's bytes at 85 for the same page (83-176 KB
# against 245-409 KB on the sample at 1600 px). Nothing reads text from them: reading a
# page again and rebuilding the OCR image start from the master. "display" is only made
# for pages whose master cannot be sent as it is; "full" (the whole page at scan
# resolution) only for a turned master other than a JPEG. Thumbnails: 300 px at 65 is
# 5-9 KB a page, sharp at the 136-176 CSS px the lists show them (1.7x for HiDPI).
DISPLAY_SIZES = {"display": 1600, "thumb": 300, "full": None}
WEBP_QUALITY = {"display": 80, "thumb": 65, "full": 90}
WEBP_EFFORT = 2
_ORIENTATION = 0x0112


def fingerprint(path: Path, turn: int | None = 0) -> str:
    """Changes whenever the image file is replaced (size and modification time) or the
    page is turned another way."""
    st = path.stat()
    return hashlib.sha1(f"{st.st_size}:{st.st_mtime_ns}:{turn or 0}".encode()).hexdigest()[:12]


def derived_rel(page_id: int, key: str, kind: str) -> str:
    """Where a page's display copy of ``kind`` lives, relative to ``images/``."""
    return f"{DERIVED}/p{page_id}/{key}.{kind}.webp"


def exif_orientation(path: Path) -> int:
    """The EXIF orientation (1-8) an image file carries; 1 when it has none."""
    try:
        with Image.open(path) as img:
            # PIL decodes a whole PNG to look for EXIF after its pixels (0.1-0.2 s for a
            # scan); EXIF a browser would apply stands before them, read at open.
            if img.format == "PNG" and "exif" not in img.info:
                return 1
            value = img.getexif().get(_ORIENTATION, 1)
    except OSError:
        return 1
    return value if value in range(1, 9) else 1


# EXIF orientation -> how to make the stored pixels upright: (mirror first, quarter turns
# clockwise after), as the EXIF specification and PIL's exif_transpose define them.
_EXIF_OPS = {1: (False, 0), 2: (True, 0), 3: (False, 2), 4: (True, 2),
             5: (True, 3), 6: (False, 1), 7: (True, 1), 8: (False, 3)}


def orientation_to_show(exif: int, turn: int | None) -> int:
    """The EXIF orientation that shows the stored pixels upright once ``turn`` (degrees
    clockwise, applied after the file's own ``exif`` orientation) is applied too.

    >>> orientation_to_show(1, 90), orientation_to_show(6, 90), orientation_to_show(1, 0)
    (6, 3, 1)
    """
    mirror, quarters = _EXIF_OPS.get(exif, (False, 0))
    quarters = (quarters + ((turn or 0) // 90)) % 4
    return next(o for o, op in _EXIF_OPS.items() if op == (mirror, quarters))


def shown_from_master(path: Path, turn: int | None, kind: str = "display") -> int | None:
    """Whether a browser can be sent the master itself for ``kind``; if so, the EXIF
    orientation the bytes sent must carry (see :func:`with_orientation`), else None.

    Browsers turn a JPEG as its EXIF orientation says, <img> and CSS backgrounds alike
    (CSS ``image-orientation: from-image``, the default since Chrome/Edge 81, Firefox 77,
    Safari 13.1), so a turned JPEG is sent as its own bytes with another orientation
    tag. A PNG or WebP is sent as it is only when it needs no turn at all.
    """
    ext = path.suffix.lstrip(".").lower()
    if ext not in BROWSER_TYPES or kind == "thumb":
        return None
    if kind == "display" and path.stat().st_size > SHOW_AS_IS_BYTES:
        return None
    orientation = orientation_to_show(exif_orientation(path), turn)
    if ext == "jpg":
        return orientation
    return 1 if orientation == 1 and exif_orientation(path) == 1 else None


def with_orientation(data: bytes, orientation: int) -> bytes:
    """A JPEG's bytes with its EXIF orientation set to ``orientation``, the compressed
    image untouched (a new EXIF segment of 36 bytes replaces any the file had).

    The file's other EXIF fields are dropped from what is sent (the master keeps them):
    some browsers size an image by its EXIF resolution, and only the turn matters here.
    """
    if not data.startswith(b"\xff\xd8"):
        raise ScanflowError("not a JPEG")
    # TIFF header (big-endian), one IFD entry: Orientation, SHORT, count 1, value.
    tiff = (b"MM\x00*\x00\x00\x00\x08" + b"\x00\x01" + b"\x01\x12\x00\x03\x00\x00\x00\x01"
            + orientation.to_bytes(2, "big") + b"\x00\x00" + b"\x00\x00\x00\x00")
    payload = b"Exif\x00\x00" + tiff
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    kept, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xDA or not 0xE0 <= marker <= 0xFE:  # image data or tables: stop
            break
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if not (marker == 0xE1 and data[pos + 4:pos + 10] == b"Exif\x00\x00"):
            kept.append(data[pos:pos + 2 + length])
        pos += 2 + length
    # APP0 (JFIF) first where there is one, then the EXIF, as cameras write them.
    head = [k for k in kept if k[1] == 0xE0][:1]
    rest = [k for k in kept if k not in head]
    return b"".join([b"\xff\xd8", *head, segment, *rest, data[pos:]])


def load_view_reduced(path: Path, turn: int | None, width: int) -> np.ndarray:
    """The upright page at least ``width`` pixels across (both sides: any turn is safe),
    decoded no larger than needed (:func:`decode_image`)."""
    return upright(decode_image(path, at_least=width), turn)


def encode_display(upright_rgb: np.ndarray, kind: str) -> bytes:
    """The WebP display copy of ``kind`` of an upright page (RGB)."""
    img = upright_rgb
    h, w = img.shape[:2]
    width = DISPLAY_SIZES[kind]
    if width and w > width:
        img = shrink(img, width / w)
    buf = io.BytesIO()
    # libwebp's effort 2 of 6 (OpenCV always asks for 4): a page's thumbnail in 3.4
    # instead of 8.1 CPU-ms, for 10 % more bytes (7.8 against 7.0 KB).
    try:
        Image.fromarray(img).save(buf, format="WEBP", quality=WEBP_QUALITY[kind],
                                  method=WEBP_EFFORT)
    except (OSError, ValueError) as exc:
        raise ScanflowError(f"could not make the {kind} picture ({exc})") from None
    return buf.getvalue()


def copies_to_make(master: Path) -> tuple[str, ...]:
    """The display copies worth making while a page's pixels are in memory at ingest:
    the thumbnail (5-9 KB, and lists open dozens at once), and the 1600-px copy only
    when the master cannot be sent to a browser as it is. A turn is not known here; a
    turned PNG gets its copy on first view instead (rare: scanners write JPEG)."""
    if shown_from_master(master, 0) is None:
        return ("display", "thumb")
    return ("thumb",)


def stage_display_copies(master: Path, upright_rgb: np.ndarray) -> dict[str, str]:
    """Write the page's display copies (:func:`copies_to_make`) beside its master under
    temporary names (the page has no id yet); :func:`place_display_copies` moves them
    into place once it has.

    Made while the page's pixels are in memory anyway, so the first time a teacher opens
    the page it is served at once. An ingest that stops in between leaves temporary
    files its next run deletes.
    """
    staged = {}
    for kind in copies_to_make(master):
        tmp = master.with_name(f".{master.stem}.{kind}.webp.tmp-staged")
        write_bytes_atomic(tmp, encode_display(upright_rgb, kind))
        staged[kind] = tmp.name
    return staged


def place_display_copies(images_dir: Path, master_rel: str, turn: int, page_id: int,
                         staged: dict[str, str]) -> None:
    """Move staged display copies to their page's place (see :func:`stage_display_copies`)."""
    master = images_dir / master_rel
    key = fingerprint(master, turn)
    for kind, name in staged.items():
        target = images_dir / derived_rel(page_id, key, kind)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(master.with_name(name), target)
        except OSError:
            pass  # a cache: the review app makes it on first use instead


def unused_copies(images_dir: Path, page_id: int, master_rel: str | None,
                  turn: int | None) -> list[Path]:
    """A page's cached copies nothing will ask for again: those of an earlier master or
    turn, and display copies of a page now sent from its master (archives from before
    masters were sent as they are kept a 1600-px copy of every page)."""
    folder = images_dir / DERIVED / f"p{page_id}"
    if not folder.is_dir():
        return []
    master = images_dir / master_rel if master_rel else None
    if master is None or not master.is_file():
        return []  # the master's problem is check's to report; keep what shows the page
    key = fingerprint(master, turn)
    unused = []
    for path in folder.iterdir():
        if path.name.startswith("."):
            continue  # being written by a request right now
        stem, kind, ext = (path.name.split(".") + ["", ""])[:3]
        if (stem, ext) != (key, "webp") or kind not in DISPLAY_SIZES or (
                kind != "thumb" and shown_from_master(master, turn, kind) is not None):
            unused.append(path)
    return unused


# --- older archives: their upright PNGs, kept or made smaller losslessly --------------


@dataclass
class CompactReport:
    """What :func:`compact_masters` did: images re-encoded, kept, and bytes before/after."""

    reencoded: int = 0
    kept: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    problems: list[str] = field(default_factory=list)


def compact_masters(archive, progress=None) -> CompactReport:
    """Re-encode pages stored before migration 8 (lossless PNG) as lossless WebP where
    that is smaller; every other master is left as it is.

    Those PNGs are the only copy of the scan, so nothing is lost: the WebP is decoded
    again and compared pixel for pixel before it replaces the PNG, the row then names
    it with its new checksum (one transaction), and only then is the PNG deleted. A PNG
    whose checksum does not match the recorded one is left for ``scanflow check``.
    Measured on the sample's PNGs: WebP (method 0) is 60 % of a level-1 PNG, 2.7 s a page;
    a level-9 PNG would be 74 % and take 10 s.
    """
    from scanflow.archive.backup import sha256_file
    from scanflow.progress import NullProgress

    progress = progress or NullProgress()
    report = CompactReport()
    rows = archive.db.execute(
        "SELECT image_path, MAX(image_sha256) FROM pages WHERE image_origin = 'upright-png' "
        "AND image_path LIKE '%.png' GROUP BY image_path ORDER BY image_path").fetchall()
    progress.start(len(rows), "Compacting older page images")
    for rel, digest in rows:
        progress.advance()
        source = archive.image(rel)
        if not source.is_file() or (digest and sha256_file(source) != digest):
            report.problems.append(f"images/{rel} is missing or damaged: run scanflow check")
            continue
        size = source.stat().st_size
        data = _lossless_webp(source)
        report.bytes_before += size
        if data is None or len(data) >= size:
            report.kept += 1
            report.bytes_after += size
            continue
        new_rel = rel[:-len(".png")] + ".webp"
        target = archive.image(new_rel)
        write_bytes_atomic(target, data)
        with archive.transaction() as db:
            db.execute("UPDATE pages SET image_path = ?, image_origin = 'lossless-webp' "
                       "WHERE image_path = ?", [new_rel, rel])
            db.execute("UPDATE pages SET image_sha256 = ? WHERE image_path = ?",
                       [sha256_file(target), new_rel])
            archive.log_event("image.compact", new_rel, before=size, after=len(data))
        source.unlink()
        report.reencoded += 1
        report.bytes_after += len(data)
    progress.finish()
    return report


def _lossless_webp(path: Path) -> bytes | None:
    """``path`` as lossless WebP, or None when it cannot be made pixel-identical."""
    with Image.open(path) as img:
        img.load()
        if img.mode not in ("RGB", "L", "RGBA"):
            return None  # 16-bit or palette: WebP cannot hold it exactly
        buf = io.BytesIO()
        img.save(buf, format="WEBP", lossless=True, method=0, quality=0, exact=True)
        data = buf.getvalue()
        with Image.open(io.BytesIO(data)) as back:
            same = np.array_equal(np.asarray(back.convert(img.mode)), np.asarray(img))
    return data if same else None
