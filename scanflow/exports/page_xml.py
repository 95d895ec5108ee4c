"""PAGE XML (the 2019-07-15 schema) for each page of a piece: regions, lines, words, text.

eScriptorium, Transkribus and OCR-D exchange transcriptions as PAGE as well as ALTO; the
lines and words (and how a teacher's corrections are placed) are the ALTO export's
(:func:`scanflow.exports.alto.page_lines`), so both say the same. Coordinates are pixels of
the faithful page image written beside each file.

* one ``TextRegion`` per page around all its lines (scanflow does not store paragraphs as
  regions), listed in the ``ReadingOrder``;
* each ``TextLine`` has its box as ``Coords`` and a ``Baseline`` through the bottom of its
  words' x-height band, estimated at 80 % of each word box's height: no engine scanflow uses
  reports baselines, and HTR tools (eScriptorium, Transkribus) need one per line;
* each ``Word`` has its box and its text, with the recogniser's confidence as ``conf``;
  words a teacher typed or changed have no ``conf`` and ``comments="corrected by a person"``;
* each line and the region carry their whole text in ``TextEquiv`` as well.

>>> [p.name for p in write_page_xml(archive, 12, "out/")]   # doctest: +SKIP
['piece12_p1.page.xml', 'piece12_p1.png']
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from scanflow.archive.store import Archive, now
from scanflow.exports.alto import LineBox, PageText, WordBox, write_per_page

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{PAGE_NS} {PAGE_NS}/pagecontent.xsd"
BASELINE_AT = 0.8  # share of a word box's height where the writing sits on the line
CORRECTED = "corrected by a person"


def write_page_xml(archive: Archive, piece_id: int, out_dir: str | Path, *,
                   images: bool = True) -> list[Path]:
    """Write ``piece<ID>_p<N>.page.xml`` for each page (and its image beside it)."""
    return write_per_page(archive, piece_id, out_dir, ".page.xml", page_xml, images=images)


def page_xml(page: PageText, *, image_name: str, piece_id: int, version: int,
             software_version: str) -> bytes:
    """One page as PAGE 2019 (UTF-8 bytes)."""
    ET.register_namespace("", PAGE_NS)
    ET.register_namespace("xsi", XSI_NS)
    q = lambda tag: f"{{{PAGE_NS}}}{tag}"  # noqa: E731
    root = ET.Element(q("PcGts"), {f"{{{XSI_NS}}}schemaLocation": SCHEMA_LOCATION,
                                   "pcGtsId": f"piece{piece_id}_p{page.position}"})
    meta = ET.SubElement(root, q("Metadata"))
    ET.SubElement(meta, q("Creator")).text = f"scanflow {software_version}"
    stamp = now()
    ET.SubElement(meta, q("Created")).text = stamp
    ET.SubElement(meta, q("LastChange")).text = stamp
    ET.SubElement(meta, q("Comments")).text = (
        f"scanflow piece {piece_id}, page {page.position}, transcription version {version} "
        f"({'OCR' if version == 0 else 'corrected by a teacher'})")
    pg = ET.SubElement(root, q("Page"), {"imageFilename": image_name,
                                         "imageWidth": str(page.width),
                                         "imageHeight": str(page.height)})
    if not page.lines:
        return _serialise(root)
    region_id = f"p{page.page_id}_r1"
    order = ET.SubElement(ET.SubElement(pg, q("ReadingOrder")), q("OrderedGroup"),
                          {"id": f"p{page.page_id}_ro"})
    ET.SubElement(order, q("RegionRefIndexed"), {"index": "0", "regionRef": region_id})
    region = ET.SubElement(pg, q("TextRegion"), {"id": region_id, "type": "paragraph"})
    ET.SubElement(region, q("Coords"), {"points": _points(*_around(page.lines))})
    for i, line in enumerate(page.lines, start=1):
        line_id = f"p{page.page_id}_l{i}"
        tl = ET.SubElement(region, q("TextLine"), {"id": line_id, **_corrected(line.corrected)})
        ET.SubElement(tl, q("Coords"), {"points": _points(line.x, line.y, line.w, line.h)})
        ET.SubElement(tl, q("Baseline"), {"points": _baseline(line)})
        for k, word in enumerate(line.words, start=1):
            w = ET.SubElement(tl, q("Word"), {"id": f"{line_id}_w{k}",
                                              **_corrected(word.corrected)})
            ET.SubElement(w, q("Coords"), {"points": _points(word.x, word.y, word.w, word.h)})
            _text(w, q, word.text, word)
        _text(tl, q, line.text)
    _text(region, q, "\n".join(line.text for line in page.lines))
    return _serialise(root)


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _text(parent: ET.Element, q, text: str, word: WordBox | None = None) -> None:
    attrs = {}
    if word is not None and word.confidence is not None and not word.corrected:
        attrs["conf"] = f"{word.confidence:.2f}"
    ET.SubElement(ET.SubElement(parent, q("TextEquiv"), attrs), q("Unicode")).text = text


def _corrected(corrected: bool) -> dict[str, str]:
    return {"comments": CORRECTED} if corrected else {}


def _around(lines: list[LineBox]) -> tuple[int, int, int, int]:
    x0, y0 = min(ln.x for ln in lines), min(ln.y for ln in lines)
    x1 = max(ln.x + ln.w for ln in lines)
    y1 = max(ln.y + ln.h for ln in lines)
    return x0, y0, x1 - x0, y1 - y0


def _points(x: int, y: int, w: int, h: int) -> str:
    """A box as PAGE's polygon: corners clockwise from the top left."""
    x1, y1 = x + max(w, 1), y + max(h, 1)
    return f"{x},{y} {x1},{y} {x1},{y1} {x},{y1}"


def _baseline(line: LineBox) -> str:
    """Left to right along the words' feet, so it follows a sloping line; the line box's
    own when it has no words."""
    parts = line.words or [WordBox(line.text, line.x, line.y, line.w, line.h, None)]
    points = []
    for word in sorted(parts, key=lambda wd: wd.x):
        y = word.y + round(word.h * BASELINE_AT)
        points += [(word.x, y), (word.x + max(word.w, 1), y)]
    return " ".join(f"{x},{y}" for x, y in points)
