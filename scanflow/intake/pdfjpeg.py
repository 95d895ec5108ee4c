"""A scanner's JPEG read straight out of its PDF, without running Poppler for it.

Office scanners write each page as one JPEG: an image object whose stream is the JPEG file
itself (``/Filter /DCTDecode``). ``pdfimages -list`` names that object, and the file's
cross-reference table says where it starts, so the page's bytes are one seek and one read
away; running ``pdfimages -j`` for every page cost 14 CPU-ms a page. Anything less plain
(a cross-reference stream, an encrypted file, a chain of filters, a length that does not
end at ``endstream``) gives None, and the caller asks Poppler as before.

>>> jpeg_stream(Path("batch.pdf"), 23)  # doctest: +SKIP
b'\\xff\\xd8\\xff\\xe0...'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO

# How much of the file is read at a time: the end (for ``startxref``), an object's
# dictionary, a cross-reference section's header.
CHUNK = 4096
# Cross-reference sections followed through /Prev (incremental updates) at most.
MAX_SECTIONS = 64

_STARTXREF = re.compile(rb"startxref\s+(\d+)")
_SUBSECTION = re.compile(rb"\s*(\d+)\s+(\d+)[ \t]*\r?\n")
_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])")
_PREV = re.compile(rb"/Prev\s+(\d+)")
_LENGTH = re.compile(rb"/Length\s+(\d+)(?:\s+(\d+)\s+R)?")
_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[A-Za-z0-9]+)")


def jpeg_stream(path: Path, number: int, generation: int = 0) -> bytes | None:
    """The raw stream of image object ``number`` when it is a plain JPEG, else None."""
    try:
        with open(path, "rb") as fh:
            offset = object_offset(fh, number, generation)
            if offset is None:
                return None
            return _dct_stream(fh, offset, number, generation)
    except (OSError, ValueError, OverflowError):
        return None


def object_offset(fh: BinaryIO, number: int, generation: int = 0) -> int | None:
    """Where object ``number`` starts, by the file's classic cross-reference tables (the
    newest first, then each /Prev); None for an encrypted file or one without them."""
    fh.seek(0, 2)
    size = fh.tell()
    fh.seek(max(0, size - CHUNK))
    found = _STARTXREF.findall(fh.read())
    if not found:
        return None
    at = int(found[-1])
    for section in range(MAX_SECTIONS):
        fh.seek(at)
        head = fh.read(CHUNK)
        if not head.lstrip().startswith(b"xref"):
            return None  # a cross-reference stream (PDF 1.5+): Poppler reads those
        pos = head.index(b"xref") + 4
        while True:
            fh.seek(at + pos)
            line = fh.read(64)
            sub = _SUBSECTION.match(line)
            if sub is None:
                break  # the trailer
            start, count = int(sub.group(1)), int(sub.group(2))
            pos += sub.end()
            if start <= number < start + count:
                fh.seek(at + pos + (number - start) * 20)
                entry = _ENTRY.match(fh.read(20))
                if entry is None or entry.group(3) != b"n" or int(entry.group(2)) != generation:
                    return None
                return int(entry.group(1))
            pos += count * 20
        fh.seek(at + pos)
        # This section's trailer only: what follows it may be a later update's.
        trailer = fh.read(CHUNK).split(b"startxref")[0]
        if b"/Encrypt" in trailer:
            return None  # its streams are encrypted: not JPEG bytes as they stand
        prev = _PREV.search(trailer)
        if prev is None:
            return None
        at = int(prev.group(1))
    return None


def _dct_stream(fh: BinaryIO, offset: int, number: int, generation: int) -> bytes | None:
    fh.seek(offset)
    head = fh.read(CHUNK)
    opening = re.match(rb"\s*%d\s+%d\s+obj" % (number, generation), head)
    begins = head.find(b"stream")
    if opening is None or begins < 0:
        return None
    dictionary = head[opening.end():begins]
    kind = _FILTER.search(dictionary)
    if kind is None or kind.group(1).strip(b"[] \r\n\t") != b"/DCTDecode":
        return None
    length = _LENGTH.search(dictionary)
    if length is None:
        return None
    if length.group(2) is not None:  # /Length 24 0 R: the length is an object of its own
        length_at = object_offset(fh, int(length.group(1)), int(length.group(2)))
        if length_at is None:
            return None
        fh.seek(length_at)
        value = re.match(rb"\s*\d+\s+\d+\s+obj\s*(\d+)", fh.read(256))
        if value is None:
            return None
        n = int(value.group(1))
    else:
        n = int(length.group(1))
    start = begins + len(b"stream")
    start += 2 if head[start:start + 2] == b"\r\n" else 1
    fh.seek(0, 2)
    if n > fh.tell() - (offset + start):
        return None  # a damaged length, longer than the file: never read (or allocated)
    fh.seek(offset + start)
    data = fh.read(n)
    after = fh.read(32).lstrip()
    if len(data) != n or not data.startswith(b"\xff\xd8") or not after.startswith(b"endstream"):
        return None
    return data
