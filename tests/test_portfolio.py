"""Seeing growth: a pupil's pieces over time, the chart, class and year-group grids."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from archive_helpers import make_school
from click.testing import CliRunner
from PIL import Image

from scanflow.archive.versions import discard_version
from scanflow.cli import cli
from scanflow.errors import UsageError
from scanflow.exports.charts import chart_svg, growth_chart, save_chart
from scanflow.exports.classview import class_view, year_view
from scanflow.exports.portfolio import count_words, pupil_portfolio
from scanflow.scoring.tokens import read_text


@pytest.fixture
def school(archive, tmp_path):
    return make_school(archive, tmp_path)


def test_word_count_is_the_rubric_tokenizers(archive):
    for text in ["The dog's ball -- it was 2 big!", "@CAPS1 went home... 'Stop!' he said",
                 "well-known e.g. Mr. Fox", "", "i  went\n\nhome"]:
        assert count_words(text) == len(read_text(text).words)


def test_portfolio_has_every_kept_piece_in_order_with_text_pages_and_levels(archive, school):
    p = pupil_portfolio(archive, "A100000000001")
    assert [x.piece_id for x in p.pieces] == [school["ava1"], school["ava2"]]
    first = p.pieces[0]
    assert (first.half_term, first.class_name, first.year_group) == ("2026-27-autumn-1", "3A", 3)
    assert len(first.pages) == 2 and all(pg.image_path for pg in first.pages)
    assert first.text.startswith("Once upon a time there was a dragon called Fizz")
    assert {c: lv.level for c, lv in first.levels.items()} == {"spelling": 2, "punctuation": 2}
    assert list(p.criteria) == ["punctuation", "spelling"]  # rubric order
    assert p.series() == {"punctuation": [("2026-27-autumn-1", 2), ("2026-27-spring-1", 2)],
                          "spelling": [("2026-27-autumn-1", 2), ("2026-27-spring-1", 3)]}
    # A rescan's discarded version is not part of the record.
    discard_version(archive, school["ava2"])
    assert [x.piece_id for x in pupil_portfolio(archive, "A100000000001").pieces] == \
        [school["ava1"]]


def test_chart_files_and_the_web_svg(archive, school, tmp_path):
    chart = growth_chart(pupil_portfolio(archive, "A100000000001"))
    assert chart.half_terms == ["2026-27-autumn-1", "2026-27-spring-1"]
    assert chart.series == {"Punctuation": [2, 2], "Spelling": [2, 3]}
    png = save_chart(chart, tmp_path / "ava.png")
    with Image.open(png) as im:
        assert im.format == "PNG" and im.width > 600
    svg = save_chart(chart, tmp_path / "ava.svg")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    web = chart_svg(chart)
    ET.fromstring(web)  # well-formed
    assert "style=" not in web and "<script" not in web  # the app's CSP allows neither
    assert web.count("<circle") == 4 and "Spelling: 3" in web
    with pytest.raises(UsageError) as err:
        save_chart(chart, tmp_path / "ava.jpg")
    assert str(err.value) == ("ava.jpg: a chart can be saved as PNG, SVG or PDF. End the file "
                              "name with .png, .svg or .pdf.")


def test_pupil_show_cli(archive, school, tmp_path):
    runner = CliRunner()
    chart = tmp_path / "chart.svg"
    result = runner.invoke(cli, ["pupil", "show", "--archive", str(archive.path),
                                 "A100000000001", "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Ava Smith (A100000000001), class 3A, year 3"
    assert "2026-27-autumn-1   narrative      40       2      2" in lines
    assert "2026-27-spring-1   narrative      10       2      3" in lines
    assert chart.is_file() and f"Chart written to {chart}" in result.output
    result = runner.invoke(cli, ["pupil", "show", "--archive", str(archive.path),
                                 "A100000000001", "--json"])
    data = json.loads(result.output)
    assert [x["levels"]["spelling"]["level"] for x in data["pieces"]] == [2, 3]
    result = runner.invoke(cli, ["pupil", "show", "--archive", str(archive.path), "X1"])
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: No pupil with id 'X1' in the archive. Check the "
                                     "id, or import the class list first: scanflow roster "
                                     "import FILE.csv")


def test_class_grid_distribution_length_and_change(archive, school):
    v = class_view(archive, "3A", "2026-27-spring-1")
    assert [r.name for r in v.rows] == ["Ben Jones", "Zephyrine Quillfeather", "Ava Smith"]
    ava = next(r for r in v.rows if r.pupil_id == "A100000000001")
    assert ava.levels == {"spelling": 3, "punctuation": 2}
    assert ava.change == {"spelling": 1, "punctuation": 0}
    assert v.previous_half_term == "2026-27-autumn-1"
    assert v.distribution["spelling"] == {1: 0, 2: 0, 3: 1, 4: 0, 5: 0}
    assert v.mean_change["spelling"] == 1.0
    # Year 3's band has no length of its own: Year 2's 60 words, the nearest younger band.
    assert (v.band, v.min_words) == ("Year 3", 60)
    assert [r.name for r in v.below_minimum] == ["Ava Smith"]  # 10 words
    assert [r.name for r in v.without_piece] == ["Zephyrine Quillfeather"]
    assert [r.name for r in v.unscored] == ["Ben Jones"]  # his recount is not scored
    assert list(v.criteria)[:3] == ["audience_ideas", "character_setting", "vocabulary"]


def test_year_view_and_unknown_class(archive, school):
    v = year_view(archive, 3, "2026-27-autumn-1")
    assert [c.class_name for c in v.classes] == ["3A"]
    assert v.classes[0].pupils == 3 and v.classes[0].scored == 3
    assert v.classes[0].mean["spelling"] == 3.0
    with pytest.raises(UsageError) as err:
        class_view(archive, "9Z", "2026-27-autumn-1")
    assert str(err.value) == ("No pupils were in class '9Z' in Autumn 1 2026-27. Classes then: "
                              "3A, 4B.")


def test_grid_cli(archive, school):
    runner = CliRunner()
    result = runner.invoke(cli, ["grid", "--archive", str(archive.path), "--class", "3A",
                                 "--half-term", "2026-27-spring-1"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "Class 3A, Spring 1 2026-27: 3 pupils, 2 pieces, 1 scored; band Year 3, minimum "
        "length 60 words, Year 2's: the rubric gives none for Year 3")
    assert "Below the minimum length of 60 words (*): Ava Smith (10)" in result.output
    assert "No piece this half term: Zephyrine Quillfeather" in result.output
    result = runner.invoke(cli, ["grid", "--archive", str(archive.path), "--year", "3",
                                 "--half-term", "2026-27-autumn-1", "--json"])
    data = json.loads(result.output)
    assert data["distribution"]["spelling"] == {"1": 0, "2": 1, "3": 1, "4": 1, "5": 0}
    result = runner.invoke(cli, ["grid", "--archive", str(archive.path), "--half-term",
                                 "2026-27-autumn-1"])
    assert result.exit_code == 2
    assert result.output.strip() == ("Error: Give either --class or --year. e.g. scanflow grid "
                                      "--class 3A --half-term 2026-27-autumn-1")


def test_a_pupil_with_no_writing_yet(archive):
    p = pupil_portfolio(archive, "A100000000003")
    assert p.pieces == [] and growth_chart(p).empty
