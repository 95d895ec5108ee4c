"""PAGE XML export, validated against the published PAGE 2019 schema.

The schema file (``page.xsd``, PAGE 2019-07-15) comes from the PyPI package
``ocrd-validators`` (the OCR-D project ships it there); ``bash setup.sh test`` installs that
package without its dependencies, as only the file is needed. lxml does the validating.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from archive_helpers import make_school
from click.testing import CliRunner

from scanflow.archive import transcription as T
from scanflow.cli import cli
from scanflow.exports.page_xml import CORRECTED, PAGE_NS, write_page_xml

etree = pytest.importorskip("lxml.etree")
P = f"{{{PAGE_NS}}}"


def page_schema():
    spec = importlib.util.find_spec("ocrd_validators")  # located, not imported
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the PAGE schema is not installed: run bash setup.sh test "
                    "(pip install --no-deps ocrd-validators)")
    xsd = Path(list(spec.submodule_search_locations)[0]) / "page.xsd"
    assert f'targetNamespace="{PAGE_NS}"' in xsd.read_text()
    return etree.XMLSchema(etree.parse(str(xsd)))


def points(element) -> list[tuple[int, int]]:
    return [tuple(map(int, p.split(","))) for p in element.get("points").split()]


@pytest.fixture
def school(archive, tmp_path):
    return make_school(archive, tmp_path)


def test_page_xml_is_valid_page_2019_with_lines_words_and_corrections(archive, school,
                                                                        tmp_path):
    schema = page_schema()
    piece = school["ava1"]
    lines = T.current_lines(archive, piece)
    lines[0].text = "Once upon a time there was a dragon named Fizz"  # called -> named
    lines.append(T.TLine(page_id=lines[-1].page_id, text="THE END"))  # a line typed in
    T.save_version(archive, piece, lines, based_on=0, author="mrs.k")
    paths = write_page_xml(archive, piece, tmp_path / "page")
    assert [p.name for p in paths] == ["piece1_p1.page.xml", "piece1_p1.png",
                                       "piece1_p2.page.xml", "piece1_p2.png"]
    for path in paths[::2]:
        doc = etree.parse(str(path))
        assert schema.validate(doc), schema.error_log
    root = etree.parse(str(paths[0])).getroot()
    page = root.find(f"{P}Page")
    assert page.get("imageFilename") == "piece1_p1.png"
    w, h = archive.db.execute("SELECT width, height FROM pages WHERE id = ?",
                              [lines[0].page_id]).fetchone()
    assert (int(page.get("imageWidth")), int(page.get("imageHeight"))) == (w, h)
    region = page.find(f"{P}TextRegion")
    assert page.find(f".//{P}RegionRefIndexed").get("regionRef") == region.get("id")
    text_lines = region.findall(f"{P}TextLine")
    first = text_lines[0]
    assert first.find(f"{P}TextEquiv/{P}Unicode").text == lines[0].text
    assert first.get("comments") == CORRECTED
    words = first.findall(f"{P}Word")
    assert [wd.find(f"{P}TextEquiv/{P}Unicode").text for wd in words] == lines[0].text.split()
    ocr = archive.db.execute("SELECT text, x, y, w, h, confidence FROM words WHERE page_id = ? "
                             "ORDER BY id LIMIT 10", [lines[0].page_id]).fetchall()
    for word, (text, x, y, ww, hh, conf) in zip(words, ocr):
        assert word.find(f"{P}Coords").get("points") == \
            f"{x},{y} {x + ww},{y} {x + ww},{y + hh} {x},{y + hh}"
        equiv = word.find(f"{P}TextEquiv")
        if equiv.find(f"{P}Unicode").text == text:  # kept: the recogniser's confidence
            assert float(equiv.get("conf")) == pytest.approx(conf / 100, abs=0.01)
        else:  # "called" became "named": a person's word, in the same place
            assert (text, word.get("comments"), equiv.get("conf")) == ("called", CORRECTED,
                                                                       None)
    # The baseline runs left to right inside the line's box.
    pts = points(first.find(f"{P}Baseline"))
    box = points(first.find(f"{P}Coords"))
    (lx, ly), (lx1, ly1) = min(box), max(box)
    assert [x for x, _ in pts] == sorted(x for x, _ in pts)
    assert all(lx <= x <= lx1 and ly <= y <= ly1 for x, y in pts)
    page2 = etree.parse(str(paths[2])).getroot()
    typed = page2.findall(f".//{P}TextLine")[-1]
    assert typed.find(f"{P}TextEquiv/{P}Unicode").text == "THE END"
    region_text = page2.find(f".//{P}TextRegion/{P}TextEquiv/{P}Unicode").text
    assert region_text.endswith("\nTHE END")


def test_export_page_cli(archive, school, tmp_path):
    schema = page_schema()
    base = ["--archive", str(archive.path)]
    result = CliRunner().invoke(cli, ["export", "page", *base, str(school["ben1"]), "-o",
                                      str(tmp_path / "out"), "--no-images"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("piece2_p1.page.xml")
    assert schema.validate(etree.parse(str(tmp_path / "out" / "piece2_p1.page.xml")))
    result = CliRunner().invoke(cli, ["export", "page", *base, "999", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "There is no piece 999" in result.output


def test_schema_check_catches_a_broken_file(tmp_path):
    """The validation above can fail: a line without its Coords is rejected."""
    schema = page_schema()
    bad = (f'<PcGts xmlns="{PAGE_NS}"><Metadata><Creator>x</Creator>'
           "<Created>2026-12-07T06:00:00+00:00</Created>"
           "<LastChange>2026-12-07T06:00:00+00:00</LastChange></Metadata>"
           '<Page imageFilename="a.png" imageWidth="10" imageHeight="10">'
           '<TextRegion id="r1"><Coords points="0,0 1,0 1,1 0,1"/>'
           '<TextLine id="l1"><TextEquiv><Unicode>x</Unicode></TextEquiv></TextLine>'
           "</TextRegion></Page></PcGts>")
    assert not schema.validate(etree.fromstring(bad.encode()).getroottree())
