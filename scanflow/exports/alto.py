"""ALTO XML (v4) for each page of a piece: the final transcription with line and word boxes.

ALTO is what handwriting-recognition tools (eScriptorium, Transkribus, kraken, OCR-D)
import and export, so a piece opens in them with its page image. Coordinates are pixels
of the stored faithful page image (``MeasurementUnit`` pixel), the image the boxes were
recognised on.

Where the text comes from, line by line (:func:`page_lines`), for the final version:

* a line the teacher left as the OCR read it keeps the OCR's word boxes and word
  confidences (``WC``, 0-1);
* a line the teacher changed keeps its line box; its words are laid out across the box
  in proportion to their length (no recogniser saw them, so no finer geometry exists),
  with ``WC="1"`` and ``CS="true"`` (corrected by a person, as ALTO defines it);
* a line the teacher added has no box: it is placed under the line before it, and
  marked the same way.

>>> paths = write_alto(archive, 12, "out/")                 # doctest: +SKIP
>>> [p.name for p in paths]                                 # doctest: +SKIP
['piece12_p1.alto.xml', 'piece12_p1.png']
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from scanflow.archive.images import encode_lossless, load_view, shown_as_stored, write_bytes_atomic
from scanflow.archive.store import Archive, now
from scanflow.errors import UsageError

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{ALTO_NS} http://www.loc.gov/standards/alto/v4/alto-4-2.xsd"


@dataclass
class WordBox:
    text: str
    x: int
    y: int
    w: int
    h: int
    confidence: float | None  # 0-1; None where a person typed it
    corrected: bool = False


@dataclass
class LineBox:
    text: str
    x: int
    y: int
    w: int
    h: int
    corrected: bool
    words: list[WordBox] = field(default_factory=list)


@dataclass
class PageText:
    page_id: int
    position: int
    image_path: str | None
    width: int
    height: int
    lines: list[LineBox]


def _split_words(text: str, x: int, y: int, w: int, h: int) -> list[WordBox]:
    """Words of ``text`` across the box ``x, y, w, h``, each as wide as its share of letters.

    >>> [(b.text, b.x, b.w) for b in _split_words("I ran", 100, 0, 50, 10)]
    [('I', 100, 10), ('ran', 120, 30)]
    """
    words = text.split()
    if not words:
        return []
    total = len(text.strip())
    per = w / max(total, 1)
    out, offset = [], 0
    stripped = text.strip()
    for word in words:
        start = stripped.index(word, offset)
        out.append(WordBox(word, x + round(start * per), y, max(1, round(len(word) * per)), h,
                           None, True))
        offset = start + len(word)
    return out


def _align_words(text: str, ocr: list[WordBox], line_box: tuple[int, int, int, int]
                 ) -> list[WordBox]:
    """Boxes for a corrected line: words the teacher kept keep their OCR box and
    confidence; a word put in place of one word takes that word's box; other runs of new
    words share the space between their neighbours, in proportion to their length.

    >>> ocr = [WordBox("ther", 0, 0, 40, 10, 0.5), WordBox("was", 50, 0, 30, 10, 0.9)]
    >>> [(b.text, b.x, b.w, b.corrected) for b in _align_words("there was", ocr, (0, 0, 80, 10))]
    [('there', 0, 40, True), ('was', 50, 30, False)]
    """
    import difflib

    new = text.split()
    x0, y0, w0, h0 = line_box
    out: list[WordBox] = []
    matcher = difflib.SequenceMatcher(a=[o.text for o in ocr], b=new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            out += ocr[a1:a2]
        elif op == "replace" and a2 - a1 == b2 - b1:
            out += [WordBox(word, o.x, o.y, o.w, o.h, None, True)
                    for word, o in zip(new[b1:b2], ocr[a1:a2])]
        elif b2 > b1:  # new words: over the replaced ones, else the gap where they go
            if a2 > a1:
                left, right = ocr[a1].x, ocr[a2 - 1].x + ocr[a2 - 1].w
            else:
                left = ocr[a1 - 1].x + ocr[a1 - 1].w if a1 > 0 else x0
                right = ocr[a1].x if a1 < len(ocr) else x0 + w0
            if right - left < 4 * (b2 - b1):  # no room: squeeze in after the left edge
                right = left + 4 * (b2 - b1)
            out += _split_words(" ".join(new[b1:b2]), left, y0, right - left, h0)
    return out


def page_lines(archive: Archive, piece_id: int) -> list[PageText]:
    """The final transcription of a piece, page by page, with a box for every line and word."""
    from scanflow.archive.transcription import get_version

    db = archive.db
    pages = db.execute(
        "SELECT id, position, image_path, width, height FROM pages WHERE piece_id = ? "
        "AND status != 'discarded' ORDER BY position, id", [piece_id]).fetchall()
    if not pages and not db.execute("SELECT 1 FROM pieces WHERE id = ?", [piece_id]).fetchone():
        raise UsageError(f"There is no piece {piece_id}.", hint="List pieces with: scanflow pieces")
    version = get_version(archive, piece_id)
    ocr_lines = {lid: (text, (x, y, w, h)) for lid, text, x, y, w, h in db.execute(
        "SELECT lines.id, lines.text, lines.x, lines.y, lines.w, lines.h FROM lines "
        "JOIN pages ON pages.id = lines.page_id WHERE pages.piece_id = ?", [piece_id])}
    ocr_words: dict[int, list[WordBox]] = {}
    for lid, text, x, y, w, h, conf in db.execute(
            "SELECT words.line_id, words.text, words.x, words.y, words.w, words.h, "
            "words.confidence FROM words JOIN pages ON pages.id = words.page_id "
            "WHERE pages.piece_id = ? ORDER BY words.line_id, words.word_no", [piece_id]):
        ocr_words.setdefault(lid, []).append(WordBox(
            text, x or 0, y or 0, w or 1, h or 1,
            None if conf is None else max(0.0, min(1.0, conf / 100))))
    by_page: dict[int, list] = {}
    for line in version.lines:
        by_page.setdefault(line.page_id, []).append(line)
    out = []
    for page_id, position, image_path, width, height in pages:
        boxes: list[LineBox] = []
        for line in by_page.get(page_id, []):
            ocr = ocr_lines.get(line.ocr_line_id) if line.ocr_line_id else None
            box = (line.x, line.y, line.w, line.h)
            if None in box and ocr:
                box = ocr[1]
            if None in box:  # a line a person added: under the one before
                prev = boxes[-1] if boxes else None
                h = prev.h if prev else max(40, (height or 1000) // 40)
                y = prev.y + prev.h + h // 3 if prev else h
                x = prev.x if prev else (width or 1000) // 10
                box = (x, min(y, max(0, (height or y + h) - h)), (prev.w if prev else
                                                                 (width or 1000) * 8 // 10), h)
            x, y, w, h = (int(v) for v in box)
            unchanged = ocr is not None and ocr[0] == line.text and \
                line.ocr_line_id in ocr_words
            if unchanged:
                words = ocr_words[line.ocr_line_id]
            elif ocr is not None and ocr_words.get(line.ocr_line_id):
                words = _align_words(line.text, ocr_words[line.ocr_line_id], (x, y, w, h))
            else:
                words = _split_words(line.text, x, y, w, h)
            boxes.append(LineBox(line.text, x, y, w, h, not unchanged, words))
        out.append(PageText(page_id, position or 0, image_path, width or 0, height or 0, boxes))
    return out


def alto_xml(page: PageText, *, image_name: str, piece_id: int, version: int,
             software_version: str) -> bytes:
    """One page as ALTO v4 (UTF-8 bytes)."""
    ET.register_namespace("", ALTO_NS)
    ET.register_namespace("xsi", XSI_NS)
    q = lambda tag: f"{{{ALTO_NS}}}{tag}"  # noqa: E731
    root = ET.Element(q("alto"), {f"{{{XSI_NS}}}schemaLocation": SCHEMA_LOCATION,
                                  "SCHEMAVERSION": "4.2"})
    desc = ET.SubElement(root, q("Description"))
    ET.SubElement(desc, q("MeasurementUnit")).text = "pixel"
    source = ET.SubElement(desc, q("sourceImageInformation"))
    ET.SubElement(source, q("fileName")).text = image_name
    proc = ET.SubElement(desc, q("Processing"), {"ID": "proc1"})
    ET.SubElement(proc, q("processingDateTime")).text = now()
    ET.SubElement(proc, q("processingStepDescription")).text = (
        f"scanflow piece {piece_id}, transcription version {version} "
        f"({'OCR' if version == 0 else 'corrected by a teacher'})")
    software = ET.SubElement(proc, q("processingSoftware"))
    ET.SubElement(software, q("softwareName")).text = "scanflow"
    ET.SubElement(software, q("softwareVersion")).text = software_version
    layout = ET.SubElement(root, q("Layout"))
    pg = ET.SubElement(layout, q("Page"), {
        "ID": f"page{page.page_id}", "PHYSICAL_IMG_NR": str(page.position),
        "WIDTH": str(page.width), "HEIGHT": str(page.height)})
    space = ET.SubElement(pg, q("PrintSpace"), {
        "HPOS": "0", "VPOS": "0", "WIDTH": str(page.width), "HEIGHT": str(page.height)})
    if page.lines:
        x0 = min(line.x for line in page.lines)
        y0 = min(line.y for line in page.lines)
        x1 = max(line.x + line.w for line in page.lines)
        y1 = max(line.y + line.h for line in page.lines)
        block = ET.SubElement(space, q("TextBlock"), {
            "ID": f"p{page.page_id}_b1", "HPOS": str(x0), "VPOS": str(y0),
            "WIDTH": str(x1 - x0), "HEIGHT": str(y1 - y0)})
        for i, line in enumerate(page.lines, start=1):
            attrs = {"ID": f"p{page.page_id}_l{i}", "HPOS": str(line.x), "VPOS": str(line.y),
                     "WIDTH": str(line.w), "HEIGHT": str(line.h)}
            if line.corrected:
                attrs["CS"] = "true"
            tl = ET.SubElement(block, q("TextLine"), attrs)
            for k, word in enumerate(line.words, start=1):
                if k > 1:
                    prev = line.words[k - 2]
                    gap_x = prev.x + prev.w
                    ET.SubElement(tl, q("SP"), {"HPOS": str(gap_x), "VPOS": str(line.y),
                                                "WIDTH": str(max(1, word.x - gap_x))})
                wattrs = {"ID": f"p{page.page_id}_l{i}_w{k}", "CONTENT": word.text,
                          "HPOS": str(word.x), "VPOS": str(word.y), "WIDTH": str(word.w),
                          "HEIGHT": str(word.h),
                          "WC": "1" if word.confidence is None else f"{word.confidence:.2f}"}
                if word.corrected:
                    wattrs["CS"] = "true"
                ET.SubElement(tl, q("String"), wattrs)
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def write_alto(archive: Archive, piece_id: int, out_dir: str | Path, *,
               images: bool = True) -> list[Path]:
    """Write ``piece<ID>_p<N>.alto.xml`` for each page (and its image beside it)."""
    return write_per_page(archive, piece_id, out_dir, ".alto.xml", alto_xml, images=images)


def write_per_page(archive: Archive, piece_id: int, out_dir: str | Path, suffix: str,
                   to_xml: Callable[..., bytes], *, images: bool = True) -> list[Path]:
    """Write ``piece<ID>_p<N><suffix>`` made by ``to_xml`` for each page of the final
    transcription, with the page image beside it; shared by the ALTO and PAGE exports.

    ``to_xml(page, image_name=, piece_id=, version=, software_version=)`` returns bytes.
    """
    from scanflow import __version__
    from scanflow.archive.transcription import latest_number

    out_dir = Path(out_dir)
    pages = page_lines(archive, piece_id)
    if not pages:
        raise UsageError(f"Piece {piece_id} has no pages to export.",
                         hint=f"Check it with: scanflow show {piece_id}")
    out_dir.mkdir(parents=True, exist_ok=True)
    version = latest_number(archive, piece_id)
    written = []
    turns = dict(archive.db.execute("SELECT id, image_turn FROM pages WHERE piece_id = ?",
                                    [piece_id]))
    for page in pages:
        stem = f"piece{piece_id}_p{page.position}"
        source = archive.image(page.image_path) if images and page.image_path else None
        turn = turns.get(page.page_id, 0)
        # The boxes are on the upright page: the master itself when it shows that as it
        # is, else an upright lossless copy.
        as_is = source is not None and source.is_file() and shown_as_stored(source, turn)
        image_name = f"{stem}{source.suffix if as_is else '.png'}"
        xml_path = out_dir / f"{stem}{suffix}"
        xml_path.write_bytes(to_xml(page, image_name=image_name, piece_id=piece_id,
                                    version=version, software_version=__version__))
        written.append(xml_path)
        if source is not None and source.is_file():
            if as_is:
                shutil.copyfile(source, out_dir / image_name)
            else:
                write_bytes_atomic(out_dir / image_name, encode_lossless(load_view(source, turn)))
            written.append(out_dir / image_name)
    return written
