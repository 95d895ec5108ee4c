"""Getting data out: levels CSV, ALTO XML, searchable PDF, PDF portfolio."""

from __future__ import annotations

import csv
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest
from archive_helpers import make_school
from click.testing import CliRunner

from scanflow.archive import transcription as T
from scanflow.cli import cli
from scanflow.exports.alto import ALTO_NS, page_lines, write_alto
from scanflow.exports.levels_csv import export_levels_csv
from scanflow.exports.pdf import portfolio_pdf, searchable_pdf

A = f"{{{ALTO_NS}}}"


@pytest.fixture
def school(archive, tmp_path):
    return make_school(archive, tmp_path)


def test_levels_csv_one_row_per_pupil_and_half_term(archive, school, tmp_path):
    out = tmp_path / "levels.csv"
    assert export_levels_csv(archive, out) == 4
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel keeps names intact
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert list(rows[0]) == ["upn", "surname", "forename", "class", "year_group", "half_term",
                             "genre", "piece", "words", "audience_ideas", "character_setting",
                             "vocabulary", "punctuation", "spelling", "text_structure",
                             "sentence_structure", "cohesion", "scored_on", "scored_by",
                             "stale"]
    got = [(r["upn"], r["half_term"], r["class"], r["year_group"], r["spelling"],
            r["punctuation"], r["vocabulary"]) for r in rows]
    assert got == [
        ("A100000000002", "2026-27-autumn-1", "3A", "3", "3", "", ""),
        ("A100000000009", "2026-27-autumn-1", "3A", "3", "4", "", ""),
        ("A100000000001", "2026-27-autumn-1", "3A", "3", "2", "2", ""),
        ("A100000000001", "2026-27-spring-1", "3A", "3", "3", "2", ""),
    ]
    assert rows[0]["scored_by"] == "mrs.k" and re.fullmatch(r"\d{4}-\d\d-\d\d",
                                                             rows[0]["scored_on"])
    assert export_levels_csv(archive, out, half_term="2026-27-spring-1") == 1
    assert export_levels_csv(archive, out, class_name="4B") == 0
    assert export_levels_csv(archive, out, class_name="4B", include_unscored=True) == 1


def _check_alto(root: ET.Element) -> None:
    """What the ALTO 4 schema requires of the parts we write (no XSD ships in a package)."""
    assert root.tag == f"{A}alto"
    assert [c.tag for c in root] == [f"{A}Description", f"{A}Layout"]
    desc = root.find(f"{A}Description")
    assert desc.find(f"{A}MeasurementUnit").text == "pixel"
    assert desc.find(f"{A}Processing").get("ID")
    pages = root.findall(f"{A}Layout/{A}Page")
    assert len(pages) == 1
    ids = [e.get("ID") for e in root.iter() if e.get("ID")]
    assert len(ids) == len(set(ids))
    for page in pages:
        assert page.get("ID") and page.get("PHYSICAL_IMG_NR")
        for el in page.iter():
            for attr in ("HPOS", "VPOS", "WIDTH", "HEIGHT"):
                if el.get(attr) is not None:
                    assert float(el.get(attr)) >= 0, (el.tag, attr)
        for line in page.iter(f"{A}TextLine"):
            assert all(line.get(a) for a in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
            children = [c.tag for c in line]
            assert children[0] == f"{A}String" and children[-1] == f"{A}String"
            for s in line.findall(f"{A}String"):
                assert s.get("CONTENT")
                assert 0.0 <= float(s.get("WC")) <= 1.0


def test_alto_per_page_with_word_geometry(archive, school, tmp_path):
    piece = school["ava1"]
    lines = T.current_lines(archive, piece)
    lines[0].text = "Once upon a time there was a dragon named Fizz"  # called -> named
    lines.append(T.TLine(page_id=lines[-1].page_id, text="THE END"))  # a line typed in
    T.save_version(archive, piece, lines, based_on=0, author="mrs.k")
    paths = write_alto(archive, piece, tmp_path / "alto")
    assert [p.name for p in paths] == ["piece1_p1.alto.xml", "piece1_p1.png",
                                       "piece1_p2.alto.xml", "piece1_p2.png"]
    root = ET.parse(paths[0]).getroot()
    _check_alto(root)
    strings = root.findall(f".//{A}String")
    assert " ".join(s.get("CONTENT") for s in strings[:10]) == \
        "Once upon a time there was a dragon named Fizz"
    ocr = archive.db.execute(
        "SELECT text, x, y, w, h, confidence FROM words WHERE page_id = ? ORDER BY id LIMIT 10",
        [lines[0].page_id]).fetchall()
    # Words the teacher kept keep the OCR box and confidence; "named" takes "called"'s box.
    for s, (text, x, y, w, h, conf) in zip(strings[:10], ocr):
        assert (int(s.get("HPOS")), int(s.get("VPOS")), int(s.get("WIDTH")),
                int(s.get("HEIGHT"))) == (x, y, w, h)
        if s.get("CONTENT") == text:
            assert float(s.get("WC")) == pytest.approx(conf / 100, abs=0.01)
            assert s.get("CS") is None
        else:
            assert (text, s.get("CONTENT"), s.get("WC"), s.get("CS")) == ("called", "named",
                                                                          "1", "true")
    page2 = ET.parse(paths[2]).getroot()
    _check_alto(page2)
    typed = page2.findall(f".//{A}TextLine")[-1]
    assert [s.get("CONTENT") for s in typed.findall(f"{A}String")] == ["THE", "END"]
    above = page2.findall(f".//{A}TextLine")[-2]
    assert int(typed.get("VPOS")) > int(above.get("VPOS"))  # placed under the line before
    assert page2.find(f".//{A}sourceImageInformation/{A}fileName").text == "piece1_p2.png"


def test_searchable_pdf_has_the_words_on_their_boxes(archive, school, tmp_path):
    piece = school["ava1"]
    pdf = searchable_pdf(archive, piece, tmp_path / "piece.pdf")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "Once upon a time there was a dragon called Fizz" in text
    assert "The end becaus it was late" in text
    bbox = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    words = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" '
                       r'yMax="([\d.]+)">([^<]+)</word>', bbox)
    page = page_lines(archive, piece)[0]
    scale = 72 / 150
    for (x0, y0, x1, y1, word), box in zip(words, page.lines[0].words):
        assert word == box.text
        assert float(x0) == pytest.approx(box.x * scale, abs=1.0)
        assert float(x1) == pytest.approx((box.x + box.w) * scale, abs=1.5)
        mid = (float(y0) + float(y1)) / 2
        assert box.y * scale - 2 <= mid <= (box.y + box.h) * scale + 2
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    assert len(reader.pages) == 2
    assert float(reader.pages[0].mediabox.width) == pytest.approx(620 * scale)


def test_portfolio_pdf(archive, school, tmp_path):
    from pypdf import PdfReader

    pdf = portfolio_pdf(archive, "A100000000001", tmp_path / "ava.pdf")
    reader = PdfReader(str(pdf))
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "Writing portfolio" in text and "Ava Smith" in text
    assert "Levels over time" in text
    assert "Autumn 1 2026-27: Narrative" in text and "Spring 1 2026-27: Narrative" in text
    assert "dragon called Fizz" in text
    assert "Spelling" in text
    images = sum(len(p.images) for p in reader.pages)
    assert images == 4  # the chart and three pages


def test_export_cli_and_errors(archive, school, tmp_path):
    runner = CliRunner()
    base = ["--archive", str(archive.path)]
    result = runner.invoke(cli, ["export", "levels", *base, "-o", str(tmp_path / "l.csv")])
    assert result.output.strip() == f"{tmp_path / 'l.csv'}: 4 row(s)."
    result = runner.invoke(cli, ["export", "alto", *base, str(school["ben1"]), "-o",
                                 str(tmp_path / "alto"), "--no-images"])
    assert result.exit_code == 0 and result.output.strip().endswith("piece2_p1.alto.xml")
    result = runner.invoke(cli, ["export", "pdf", *base, "999", "-o", str(tmp_path / "x.pdf")])
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: There is no piece 999. List pieces with: "
                                     "scanflow pieces")
    result = runner.invoke(cli, ["export", "pdf", *base, "1", "-o", str(tmp_path / "x.png")])
    assert result.output.strip() == ("Error: x.png: the output must be a .pdf file. End the "
                                      "file name with .pdf")
    result = runner.invoke(cli, ["pupil", "portfolio", *base, "A100000000002", "-o",
                                 str(tmp_path / "ben.pdf")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ben.pdf").read_bytes().startswith(b"%PDF")
