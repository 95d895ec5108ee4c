"""Line pictures for the piece screen: each line of a page cut to its own writing, in one image.

The piece screen shows every line's picture above its text box. Cut from the page as
rectangles, tightly written lines show the ascenders and descenders of the lines above and
below; cut by CSS from the page picture, every line had the whole page laid out and
painted behind it. So the server cuts them, once per page and set of line boxes, into
one image (one request for all the page's lines):

* row ``k`` of the image is line ``k``'s band (its box less the page's slope, as
  ``band()`` in review.js computes it, with the same padding), turned level and scaled to
  :data:`ROW` pixels high, left-aligned on paper;
* every ink stroke in it that belongs to another line is painted over with the paper's
  colour. A stroke (a connected blob of ink on the display copy) belongs to the line
  whose centre line is nearest its centre; a blob that reaches across two lines' centres
  (a tail joined to a letter of the line below) is shared out pixel by pixel instead.

The boxes come in the URL (``/page/ID/lines.jpg?b=x,y,w,h;...``, page pixels), so the
picture follows splits and joins of a teacher's draft. It is cut from the master (a JPEG
decoded at half scale) and kept in the review app's memory (:class:`PictureCache`), not in
the archive: a page's stored bytes stay its master, OCR image and thumbnail, and erasing
a page leaves no line picture behind on disk. The browser keeps it too (the URL carries
the master's fingerprint), so it is cut again only after the server restarts.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from scanflow.archive.images import fingerprint, load_view_reduced
from scanflow.archive.store import Archive
from scanflow.errors import UsageError
from scanflow.imaging import label_marks
from scanflow.ocr.preprocess import level_size
from scanflow.review import pageimages

ROW = 56  # pixels per line in the picture: twice the 28 px the screen shows (sharp on hi-DPI)
MAX_WIDTH = 4096
MAX_BOXES = 500
# Half a 300-dpi A4 scan's width: lines ~50-75 px high, enough for ROW-pixel rows, and a
# JPEG master decodes at half scale by its own DCT (about 4x faster than in full).
DECODE_WIDTH = 1200
CACHE_BYTES = 64 * 1024 * 1024  # some 600 pages' pictures: a class's pieces fit
_BOXES = re.compile(r"^\d{1,6},\d{1,6},\d{1,6},\d{1,6}(;\d{1,6},\d{1,6},\d{1,6},\d{1,6})*$")


@dataclass
class Band:
    """A line's writing on the page: centre, size along and across it, slope in degrees."""

    cx: float
    cy: float
    w: float
    h: float
    deg: float


def parse_boxes(text: str) -> list[tuple[int, int, int, int]]:
    """``"x,y,w,h;x,y,w,h"`` (page pixels) as boxes; a usage error for anything else."""
    if not text or len(text) > MAX_BOXES * 28 or not _BOXES.match(text):
        raise UsageError("The line picture's address lists no line boxes it can use.",
                         hint="Reload the piece.")
    boxes = [tuple(int(v) for v in part.split(",")) for part in text.split(";")]
    if len(boxes) > MAX_BOXES or any(w < 1 or h < 1 for _x, _y, w, h in boxes):
        raise UsageError("The line picture's address lists no line boxes it can use.",
                         hint="Reload the piece.")
    return boxes


def band(box: tuple[int, int, int, int], skew: float) -> Band:
    """The band of writing inside an upright box around a line sloping by ``skew``
    degrees (the same sums as ``band()`` in review.js, so the picture and the screen
    agree)."""
    x, y, w, h = box
    size = level_size(w, h, skew)
    if size is None:
        return Band(x + w / 2, y + h / 2, w, h, 0.0)
    return Band(x + w / 2, y + h / 2, size[0], size[1], skew or 0.0)


def padding(b: Band) -> tuple[float, float]:
    """The margin around a band in page pixels, across and along it (as review.js)."""
    return max(3, round(b.h * 0.08)), 10


def ink_owners(gray: np.ndarray, bands: list[Band]) -> np.ndarray:
    """For each pixel of ``gray`` (bands in its pixels): the index of the line its ink
    belongs to, -1 for paper."""
    _t, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    n, labels, stats, centroids = label_marks(ink)
    if n <= 1 or not bands:
        return np.full(gray.shape, -1, np.int16)
    cx = np.array([b.cx for b in bands])
    cy = np.array([b.cy for b in bands])
    t = np.radians([b.deg for b in bands])
    cos, sin = np.cos(t), np.sin(t)
    half_w = np.array([b.w / 2 for b in bands])
    pitch = float(np.median([b.h for b in bands]))  # a line's height, typically

    def nearest(px: np.ndarray, py: np.ndarray) -> np.ndarray:
        dx, dy = px[:, None] - cx, py[:, None] - cy
        across = np.abs(-dx * sin + dy * cos)
        beyond = np.maximum(0, np.abs(dx * cos + dy * sin) - half_w)  # past a line's ends
        return np.argmin(across + 4 * beyond, axis=1).astype(np.int16)

    table = np.full(n, -1, np.int16)
    table[1:] = nearest(centroids[1:, 0], centroids[1:, 1])
    owners = table[labels]
    # Blobs that reach across two lines' centres (a tail joined to a letter below) are
    # shared out by each pixel's nearest line; a tall letter that only reaches into the
    # next line's band stays whole with its own line.
    tall = np.nonzero(stats[1:, cv2.CC_STAT_HEIGHT] > 0.5 * pitch)[0] + 1
    if len(tall):
        x0, y0 = stats[tall, 0][:, None], stats[tall, 1][:, None]
        x1 = x0 + stats[tall, 2][:, None]
        y1 = y0 + stats[tall, 3][:, None]
        mid = np.clip(centroids[tall, 0][:, None], cx - half_w, cx + half_w)
        centre_y = cy + (mid - cx) * np.tan(t)  # each line's centre line at the blob
        crossed = ((centre_y >= y0) & (centre_y <= y1)
                   & (x1 >= cx - half_w) & (x0 <= cx + half_w)).sum(axis=1)
        tall = tall[crossed >= 2]
    for label in tall:
        x, y, w, h = stats[label, :4]
        window = labels[y:y + h, x:x + w] == label
        ys, xs = np.nonzero(window)
        owners[y + ys, x + xs] = nearest(xs + x + 0.5, ys + y + 0.5)
    return owners


def cut_lines(image: np.ndarray, scale: float, boxes: list[tuple[int, int, int, int]],
              skew: float = 0.0) -> np.ndarray:
    """The line picture of a page: ``image`` is the upright page (BGR) at ``scale`` times
    the size the ``boxes`` are given in. Row ``k`` (``ROW`` pixels high) is box ``k``'s
    line, levelled, with the other lines' ink painted out."""
    bands = [band(b, skew) for b in boxes]
    shown = [Band(b.cx * scale, b.cy * scale, b.w * scale, b.h * scale, b.deg) for b in bands]
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    owners = ink_owners(gray, shown)
    widths = []
    for b in bands:
        pad_y, pad_x = padding(b)
        widths.append(min(MAX_WIDTH, max(1, int(ROW * (b.w + 2 * pad_x) / (b.h + 2 * pad_y)))))
    sheet = np.full((ROW * len(bands), max(widths, default=1), 3), 255, np.uint8)
    colour = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    owners = owners.astype(np.float32)  # warpAffine's nearest-neighbour wants floats
    for k, (b, width) in enumerate(zip(bands, widths)):
        pad_y, _pad_x = padding(b)
        r = ROW / ((b.h + 2 * pad_y) * scale)  # strip pixels per display pixel
        t = math.radians(b.deg)
        c, s = math.cos(t) / r, math.sin(t) / r
        # Strip (u, v) -> display: the band's centre plus (u, v) turned by the slope.
        m = np.array([[c, -s, b.cx * scale - (c * width / 2 - s * ROW / 2)],
                      [s, c, b.cy * scale - (s * width / 2 + c * ROW / 2)]])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        strip = cv2.warpAffine(colour, m, (width, ROW), flags=flags,
                               borderMode=cv2.BORDER_REPLICATE)
        own = cv2.warpAffine(owners, m, (width, ROW),
                             flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=-1)
        foreign = ((own >= 0) & (own != k)).astype(np.uint8)
        if foreign.any():
            # Anti-aliased edges of a neighbour's strokes are lighter than the ink
            # threshold: widen what is painted out, never over this line's own ink.
            grown = cv2.dilate(foreign, np.ones((3, 3), np.uint8), iterations=2)
            paint = (grown > 0) & (own != k)
            paper = strip[own < 0]
            strip[paint] = np.median(paper, axis=0) if len(paper) else 255
        sheet[k * ROW:(k + 1) * ROW, :width] = strip
    return sheet


def line_picture(archive: Archive, page_id: int, boxes: list[tuple[int, int, int, int]],
                 cache: PictureCache | None = None) -> bytes:
    """The JPEG line picture of ``boxes`` on a page (see the module docstring)."""
    source, turn = pageimages.master_path(archive, page_id)
    width, skew = archive.db.execute("SELECT width, skew FROM pages WHERE id = ?",
                                     [page_id]).fetchone()
    key = (str(archive.path), page_id, fingerprint(source, turn), tuple(boxes), skew, ROW)
    if cache is not None and (data := cache.get(key)) is not None:
        return data
    image = cv2.cvtColor(load_view_reduced(source, turn, DECODE_WIDTH), cv2.COLOR_RGB2BGR)
    scale = image.shape[1] / width if width else 1.0
    # JPEG: a twentieth of WebP's encoding time (~5 against ~140 ms for a page's lines),
    # which the teacher would wait for on a page's first view.
    _ok, encoded = cv2.imencode(".jpg", cut_lines(image, scale, boxes, skew or 0.0),
                                [cv2.IMWRITE_JPEG_QUALITY, 85])
    data = encoded.tobytes()
    if cache is not None:
        cache.put(key, data)
    return data


class PictureCache:
    """Line pictures the review app has cut, most recently used kept, at most ``limit``
    bytes in all; one per app, shared by the server's threads."""

    def __init__(self, limit: int = CACHE_BYTES):
        self.limit = limit
        self.size = 0
        self._items: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: tuple, data: bytes) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = data
            self.size += len(data)
            while self.size > self.limit and len(self._items) > 1:
                _old, dropped = self._items.popitem(last=False)
                self.size -= len(dropped)
