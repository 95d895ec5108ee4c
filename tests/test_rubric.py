"""The narrative rubric file, its loader and checker, and `scanflow rubric`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from scanflow.cli import cli
from scanflow.errors import UsageError
from scanflow.scoring.rubric import (
    Problem,
    band_for_year,
    content_hash,
    parse_year_group,
)
from scanflow.scoring.rubric_file import (
    check_rubric,
    find_rubrics,
    load_rubric,
    load_rubric_for_genre,
)

RUBRICS = Path(__file__).resolve().parent.parent / "rubrics"
NARRATIVE = RUBRICS / "narrative.yaml"
# The plain-text extraction of the school's Word document the file was transcribed from.
# Not part of the project; the comparison test runs only where it is available.
SOURCE = Path("/work/shared/seeds/001_633f6a28d30f7da3.txt")

BAND_IDS = ["kindergarten", "year1", "year2", "year3", "year4", "year5", "year6plus"]
CRITERION_IDS = [
    "audience_ideas",
    "character_setting",
    "vocabulary",
    "punctuation",
    "spelling",
    "text_structure",
    "sentence_structure",
    "cohesion",
]
# (band, criterion, field) of everything the school's document lacks.
EXPECTED_GAPS = {
    ("kindergarten", "cohesion", None),
    ("year1", "cohesion", None),
    ("year2", "sentence_structure", None),
    ("year2", "cohesion", None),
    ("year3", None, "min_words"),
    ("year3", "sentence_structure", None),
    ("year3", "cohesion", None),
    ("year4", None, "min_words"),
    ("year4", "sentence_structure", None),
    ("year5", "sentence_structure", None),
}


@pytest.fixture(scope="module")
def narrative():
    return load_rubric(NARRATIVE)


# --------------------------------------------------------------------------------------
# The shipped narrative rubric
# --------------------------------------------------------------------------------------


def test_shipped_file_has_seven_bands_of_eight_criteria(narrative):
    assert narrative.id == "narrative" and narrative.genre == "narrative"
    assert [b.id for b in narrative.bands] == BAND_IDS
    for band in narrative.bands:
        assert [c.id for c in band.criteria] == CRITERION_IDS, band.id
    assert sum(len(b.criteria) for b in narrative.bands) == 56
    assert [(n, lv.letter, lv.label) for n, lv in sorted(narrative.levels.items())] == [
        (1, "E", "Limited"),
        (2, "D", "Basic"),
        (3, "C", "Sound"),
        (4, "B", "High"),
        (5, "A", "Outstanding"),
    ]


def test_year_groups(narrative):
    assert [b.year_groups for b in narrative.bands] == [(0,), (1,), (2,), (3,), (4,), (5,), (6,)]
    assert [b.and_above for b in narrative.bands] == [False] * 6 + [True]


def test_min_words_as_the_source_gives_them(narrative):
    # "Text = N+ words" in each block's Level 3 header; the two unheaded blocks have none.
    assert {b.id: b.min_words for b in narrative.bands} == {
        "kindergarten": 10,
        "year1": 30,
        "year2": 60,
        "year3": None,
        "year4": None,
        "year5": 180,
        "year6plus": 240,
    }


def test_gaps_are_exactly_the_places_marked_missing(narrative):
    assert {g.key for g in narrative.gaps} == EXPECTED_GAPS
    # ...and the markers agree with the data:
    for band in narrative.bands:
        for crit in band.criteria:
            marked = (band.id, crit.id, None) in EXPECTED_GAPS
            assert crit.missing is marked, (band.id, crit.id)
            if crit.missing:
                assert crit.levels == {} and crit.statement is None and crit.missing_note
            else:
                assert crit.complete, (band.id, crit.id)
                assert sorted(crit.levels) == [1, 2, 3, 4, 5]
        assert (band.min_words is None) is ((band.id, None, "min_words") in EXPECTED_GAPS)
    # ...and so does the `gaps:` list written at the end of the file.
    declared = yaml.safe_load(NARRATIVE.read_text(encoding="utf-8"))["gaps"]
    assert {(g["band"], g.get("criterion"), g.get("field")) for g in declared} == EXPECTED_GAPS
    assert all(g["what"].strip() for g in declared)


def test_shipped_file_checks_clean_apart_from_gaps():
    problems = check_rubric(NARRATIVE)
    assert [p for p in problems if p.severity != "gap"] == []
    assert len(problems) == len(EXPECTED_GAPS)


# Descriptors checked by hand against the source document.
VERIFIED = [
    (
        "kindergarten",
        "audience_ideas",
        4,
        "Basic awareness of audience using simple narrative markers and predictable ideas - "
        "E.g. title, formulaic opening, description of people or places.",
    ),
    (
        "kindergarten",
        "spelling",
        1,
        "Engages in writing-like behaviour using random letters or scribble.",
    ),
    (
        "year1",
        "sentence_structure",
        5,
        "Simple and compound sentences are correct. Meaning is clear. May attempt complex "
        "sentences using a variety of effective conjunctions like because, so, when, until, "
        "if, as.",
    ),
    (
        "year2",
        "punctuation",
        4,
        "Uses most common punctuation correctly - e.g. capitals, full stops (.!?), commas, "
        "contraction apostrophes and speech marks - most of the time.",
    ),
    (
        "year3",
        "punctuation",
        1,
        "Punctuation is omitted, minimal (only capitals and/or full stops) and/or "
        "incorrectly used.",
    ),
    (
        "year4",
        "text_structure",
        1,
        "No or minimal evidence of any structural component of a time sequenced text or simply "
        "a recount of events.",
    ),
    (
        "year4",
        "cohesion",
        2,
        "Short script. Attempts links and/or referring words but sometimes incorrect. Requires "
        "some re-reading.",
    ),
    (
        "year5",
        "cohesion",
        1,
        "Links are missing or incorrect. Short script. May be confusing to reader.",
    ),
    ("year5", "vocabulary", 1, "Very short script and few content words"),  # no full stop
    (
        "year6plus",
        "character_setting",
        2,
        "Characterisation is limited to the character\u2019s name and a very sketchy "
        "description. Setting is mentioned but may be vague.",
    ),
    (
        "year6plus",
        "sentence_structure",
        5,
        "Sentences demonstrate variety in length, structure and beginnings. For example position "
        "of dependent clause, embedded clause, non-finite clause. Meaning is clear and sentences "
        "enhance meaning.",
    ),
    (
        "year6plus",
        "text_structure",
        5,
        "Coherent, controlled and complete narrative, employing effective plot devices in an "
        "appropriate structure, including an adequate ending with \u2018wrap up\u2019 "
        "statement / coda.",
    ),
    # Blank line inside the cell in the source: a line break before the NB.
    (
        "year1",
        "character_setting",
        4,
        "Brief description (2 or 3 features), with some reference to actions, thoughts and/or "
        "feelings. Brief description of setting (time and place).\n"
        "NB Uses stage appropriate language and literary devices.",
    ),
    # The source prints these as separate lines.
    (
        "year4",
        "audience_ideas",
        5,
        "Precise, sustained choice and use of language and narrative devices to engage and "
        "directly influence reader:\ne.g.\nInclude fantasy, humour, suspense or irony\n"
        "Subvert expectations (less predictable script)\nReveal stance, values, attitudes, "
        "purpose\nEvoke reader response / reflection.",
    ),
    # The source reads "recognis-able" (a line-break hyphen), joined.
    (
        "year5",
        "audience_ideas",
        4,
        "Ideas are deliberately chosen and elaborated to explore a recognisable, central story "
        "line/theme and directly appeal to and influence reader. May explore a sub-genre theme "
        "(e.g. good vs evil, whodunit, heroic quest, overcoming the odds).",
    ),
]


@pytest.mark.parametrize("band_id, criterion_id, level, text", VERIFIED)
def test_verified_descriptors(narrative, band_id, criterion_id, level, text):
    assert narrative.band(band_id).criterion(criterion_id).levels[level] == text


def test_statements_outcomes_and_footnotes(narrative):
    k = narrative.band("kindergarten")
    assert k.criterion("audience_ideas").outcomes == ["WES1. 9 + 13"]
    assert k.criterion("audience_ideas").statement == (
        "Skilful crafting of ideas for a narrative to engage and affect the reader."
    )
    assert k.criterion("character_setting").statement == (
        "Portrayal and development of character.\n"
        "Development of a sense of time, place and atmosphere."
    )
    assert k.criterion("text_structure").organisers == [
        "Producing Texts",
        "Language Structures and Features",
    ]
    assert narrative.band("year3").criterion("punctuation").outcomes == ["W2.10"]
    assert narrative.band("year4").criterion("audience_ideas").outcomes == ["W2. 9 + 13"]
    y6_cohesion = narrative.band("year6plus").criterion("cohesion")
    assert y6_cohesion.outcomes == ["W3.10 + 14"]
    assert y6_cohesion.footnote == "*Do not penalise for poor punctuation."
    assert y6_cohesion.statement == (
        "Use of referring words, connectives, word associations and substitutions to create "
        "an extended, highly cohesive piece of writing."
    )


def _source_cells(text: str) -> list[dict]:
    """Rebuild every criterion's cells from the extraction: fragments of a column joined
    with spaces, a blank fragment inside a cell as a line break."""
    names = {
        "Audience and Ideas": "audience_ideas",
        "Character and Setting": "character_setting",
        "Vocabulary": "vocabulary",
        "Punctuation": "punctuation",
        "Spelling": "spelling",
        "Text Structure": "text_structure",
        "Sentence": "sentence_structure",
        "Cohesion": "cohesion",
    }
    blocks: list[list[dict]] = []
    rows: list[list[str]] | None = None
    for line in text.split("\n"):
        if line.startswith("WRITING ASSESSMENT RUBRIC"):
            blocks.append([])
            rows = None
            continue
        if not line.startswith("|"):
            continue
        cols = [c.strip() for c in line.split("|")[1:-1]]
        start = next((cid for name, cid in names.items() if cols[0].startswith(name)), None)
        if start:
            if start == "audience_ideas" and blocks[-1]:
                blocks.append([])  # the unheaded Year 3 and Year 4 blocks
            rows = []
            blocks[-1].append({"id": start, "rows": rows})
        if rows is not None:
            rows.append(cols)

    def cell(rows, i):
        paras, cur = [], []
        for frag in (r[i] for r in rows):
            if frag:
                cur.append(frag)
            elif cur:
                paras.append(" ".join(cur))
                cur = []
        if cur:
            paras.append(" ".join(cur))
        return "\n".join(paras)

    return [{c["id"]: [cell(c["rows"], i) for i in range(1, 7)] for c in block} for block in blocks]


@pytest.mark.skipif(not SOURCE.exists(), reason="the school's source extraction is not here")
def test_every_descriptor_matches_the_source_document(narrative):
    blocks = _source_cells(SOURCE.read_text(encoding="utf-8"))
    assert len(blocks) == 7
    compared = 0
    for band, block in zip(narrative.bands, blocks, strict=True):
        assert {c.id for c in band.criteria if not c.missing} == set(block), band.id
        for crit in band.criteria:
            if crit.missing:
                continue
            statement, *levels = block[crit.id]
            assert crit.statement == statement, (band.id, crit.id)
            for n, text in enumerate(levels, start=1):
                ours = crit.levels[n]
                # The two documented departures: a joined line-break hyphen, and a list
                # whose items the source prints on separate lines.
                text = text.replace("recognis-able", "recognisable")
                if "\nInclude fantasy" in ours:
                    ours = ours.replace("\n", " ")
                assert ours == text, (band.id, crit.id, n)
                compared += 1
    assert compared == 48 * 5


# --------------------------------------------------------------------------------------
# Bands, hashes, finding rubrics
# --------------------------------------------------------------------------------------


def test_band_for_year(narrative):
    assert band_for_year(narrative, 0).id == "kindergarten"
    assert band_for_year(narrative, 4).id == "year4"
    assert band_for_year(narrative, 6).id == "year6plus"
    assert band_for_year(narrative, 8).id == "year6plus"  # "Year 6+"
    with pytest.raises(UsageError, match="no band covers year group -1"):
        band_for_year(narrative, -1)


@pytest.mark.parametrize("text, year", [("4", 4), ("Year 3", 3), ("Y5", 5), ("K", 0), ("0", 0)])
def test_parse_year_group(text, year):
    assert parse_year_group(text) == year


def test_content_hash_ignores_layout_but_not_wording(tmp_path, narrative):
    original = content_hash(narrative)
    assert re.fullmatch(r"[0-9a-f]{64}", original)
    text = NARRATIVE.read_text(encoding="utf-8")

    one_line = (
        " " * 12 + "Links are missing or incorrect. Short script. May be confusing to reader.\n"
    )
    pad = " " * 12
    two_lines = (
        f"{pad}Links are missing or incorrect.\n{pad}Short script. May be confusing to reader.\n"
    )
    assert text.count(one_line) == 2  # Year 5 and Year 6+
    relaid = tmp_path / "relaid.yaml"
    relaid.write_text(
        "# a comment a teacher added\n"
        + text.replace("version: 1\n", "version: 2\n").replace(one_line, two_lines),
        encoding="utf-8",
    )
    again = load_rubric(relaid)
    assert again.version == 2
    assert again.band("year5").criterion("cohesion").levels[1] == (
        "Links are missing or incorrect. Short script. May be confusing to reader."
    )
    assert content_hash(again) == original

    edited = tmp_path / "edited.yaml"
    edited.write_text(
        text.replace(
            "Short script. May be confusing to reader.", "Short script. Hard to follow.", 1
        ),
        encoding="utf-8",
    )
    assert content_hash(load_rubric(edited)) != original


def test_find_rubrics_and_load_by_genre(tmp_path):
    (tmp_path / "narrative.yaml").write_text(
        NARRATIVE.read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "notes.txt").write_text("not a rubric")
    assert find_rubrics(tmp_path) == {"narrative": tmp_path / "narrative.yaml"}
    assert load_rubric_for_genre(tmp_path, "narrative").genre == "narrative"
    with pytest.raises(UsageError, match="no rubric for genre 'persuasion'"):
        load_rubric_for_genre(tmp_path, "persuasion")
    (tmp_path / "copy.yml").write_text(NARRATIVE.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(UsageError, match="both rubrics for genre 'narrative'"):
        find_rubrics(tmp_path)


def test_load_rubric_refuses_a_broken_file_and_says_what_to_run(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINI.replace("min_words: 30", "min_words: 0"), encoding="utf-8")
    with pytest.raises(UsageError) as info:
        load_rubric(bad)
    assert str(bad) in str(info.value) and "scanflow rubric check" in str(info.value)
    with pytest.raises(UsageError, match="does not exist"):
        load_rubric(tmp_path / "nope.yaml")


# --------------------------------------------------------------------------------------
# check_rubric on small broken files: the right line, the right severity
# --------------------------------------------------------------------------------------

MINI = """\
id: mini
genre: mini
title: A small rubric
version: 1
levels:
  1: {letter: E, label: Limited}
  2: {letter: D, label: Basic}
  3: {letter: C, label: Sound}
  4: {letter: B, label: High}
  5: {letter: A, label: Outstanding}
criteria:
  - {id: spelling, name: Spelling}
  - {id: cohesion, name: Cohesion}
bands:
  - id: year1
    label: Year 1
    year_groups: [1]
    min_words: 30
    criteria:
      - id: spelling
        outcomes: ["W1.11"]
        statement: >-
          Accurate spelling at grade appropriate level.
        levels:
          1: >-
            One.
          2: Two.
          3: Three.
          4: Four.
          5: Five.
      - id: cohesion
        missing: true
        note: Not in the document.
  - id: year2
    label: Year 2
    year_groups: [2]
    min_words:
      missing: true
      note: No word count in the document.
    criteria:
      - id: spelling
        outcomes: ["W1.11"]
        statement: Accurate spelling.
        levels: {1: One., 2: Two., 3: Three., 4: Four., 5: Five.}
      - id: cohesion
        outcomes: ["W1.10 + 14"]
        statement: Links.
        levels: {1: One., 2: Two., 3: Three., 4: Four., 5: Five.}
gaps:
  - band: year1
    criterion: cohesion
    what: the whole criterion
  - band: year2
    field: min_words
    what: the word count
"""


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line number of the nth line containing needle."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[nth - 1]


def check_text(tmp_path: Path, text: str) -> list[Problem]:
    path = tmp_path / "rubric.yaml"
    path.write_text(text, encoding="utf-8")
    return check_rubric(path)


def only(problems: list[Problem], severity: str) -> list[Problem]:
    return [p for p in problems if p.severity == severity]


def test_mini_rubric_is_valid_with_two_gaps(tmp_path):
    problems = check_text(tmp_path, MINI)
    assert [(p.severity, p.line) for p in problems] == [
        ("gap", line_of(MINI, "- id: cohesion")),
        ("gap", line_of(MINI, "min_words:", 2)),
    ]
    assert (
        "year1 / cohesion" in problems[0].message and "Not in the document." in problems[0].message
    )


def test_yaml_syntax_error_points_at_the_line(tmp_path):
    text = MINI.replace("  3: {letter: C, label: Sound}", "  3: {letter: C, label: Sound")
    (problem,) = check_text(tmp_path, text)
    assert problem.severity == "error"
    assert problem.line == line_of(text, "4: {letter: B")  # where the parser notices
    assert "YAML syntax" in problem.message and "line 8" in problem.message


def test_tab_indentation_is_a_syntax_error_with_a_hint(tmp_path):
    text = MINI.replace("    label: Year 1", "\tlabel: Year 1")
    (problem,) = check_text(tmp_path, text)
    assert problem.line == line_of(text, "\tlabel")
    assert "never tabs" in problem.message


def test_missing_required_key(tmp_path):
    text = MINI.replace("        statement: Links.\n", "")
    (error,) = only(check_text(tmp_path, text), "error")
    assert error.line == line_of(text, "- id: cohesion", 2)
    assert "'statement'" in error.message


def test_unknown_criterion_id(tmp_path):
    text = MINI.replace("      - id: spelling", "      - id: speling", 1)
    errors = only(check_text(tmp_path, text), "error")
    assert [e.line for e in errors] == [
        line_of(text, "- id: year1"),
        line_of(text, "- id: speling"),
    ]
    assert "has no entry for criterion 'spelling'" in errors[0].message
    assert "unknown criterion id 'speling'" in errors[1].message


@pytest.mark.parametrize(
    "old, new, needle, message",
    [
        ("          5: Five.\n", "          6: Five.\n", "6: Five.", "unknown level id '6'"),
        ("          5: Five.\n", "          L5: Five.\n", "L5: Five.", "unknown level id 'L5'"),
    ],
)
def test_unknown_level_ids(tmp_path, old, new, needle, message):
    text = MINI.replace(old, new)
    errors = only(check_text(tmp_path, text), "error")
    assert errors[0].line == line_of(text, "        levels:")  # level 5 is now absent
    assert "exactly the levels 1, 2, 3, 4, 5: level 5 is missing" in errors[0].message
    assert errors[1].line == line_of(text, needle) and message in errors[1].message


def test_duplicate_band_ids(tmp_path):
    text = MINI.replace("  - id: year2", "  - id: year1")
    errors = only(check_text(tmp_path, text), "error")
    assert [e.line for e in errors] == [line_of(text, "- id: year1", 2)]
    assert "band id 'year1' is used twice (first at line 15)" in errors[0].message


def test_overlapping_year_groups(tmp_path):
    text = MINI.replace("year_groups: [2]", "year_groups: [1, 2]")
    (error,) = only(check_text(tmp_path, text), "error")
    assert error.line == line_of(text, "year_groups: [1, 2]")
    assert "year group 1 is also in band 'year1'" in error.message


def test_and_above_may_not_overlap_a_later_band(tmp_path):
    text = MINI.replace("    year_groups: [1]\n", "    year_groups: [1]\n    and_above: true\n")
    (error,) = only(check_text(tmp_path, text), "error")
    assert error.line == line_of(text, "year_groups: [1]")
    assert "and_above" in error.message and "year group 2" in error.message


@pytest.mark.parametrize("value", ["0", "-5", "thirty", "2.5", "null"])
def test_min_words_must_be_a_positive_whole_number(tmp_path, value):
    text = MINI.replace("min_words: 30", f"min_words: {value}")
    (error,) = only(check_text(tmp_path, text), "error")
    assert error.line == line_of(text, f"min_words: {value}")
    assert "positive whole number" in error.message


@pytest.mark.parametrize("empty", ['""', "", "'   '"])
def test_empty_descriptor_without_marker_is_an_error(tmp_path, empty):
    text = MINI.replace("          3: Three.", f"          3: {empty}")
    (error,) = only(check_text(tmp_path, text), "error")
    assert error.line == line_of(text, "          3: " + empty if empty else "          3:")
    assert "level 3 is empty" in error.message and "missing: true" in error.message


def test_a_marked_descriptor_is_a_gap_not_an_error(tmp_path):
    text = MINI.replace(
        "          3: Three.", "          3: {missing: true, note: cell lost}"
    ).replace(
        "gaps:\n", "gaps:\n  - {band: year1, criterion: spelling, field: levels.3, what: x}\n"
    )
    problems = check_text(tmp_path, text)
    assert only(problems, "error") == [] and only(problems, "warning") == []
    gap = [p for p in problems if "levels.3" in p.message]
    assert [p.line for p in gap] == [line_of(text, "3: {missing: true")]
    rubric = load_rubric(tmp_path / "rubric.yaml")
    assert rubric.band("year1").criterion("spelling").levels[3] is None


def test_gaps_list_must_match_markers(tmp_path):
    # A marker with no gaps: entry, and a gaps: entry with no marker: both warnings.
    text = MINI.replace(
        "min_words:\n      missing: true\n      note: No word count in the document.",
        "min_words: 60",
    )
    text = text.replace(
        "  - band: year1\n    criterion: cohesion\n    what: the whole criterion\n", ""
    )
    problems = check_text(tmp_path, text)
    warnings = only(problems, "warning")
    assert only(problems, "error") == []
    assert [w.line for w in warnings] == [
        line_of(text, "- id: cohesion"),
        line_of(text, "- band: year2"),
    ]
    assert "not listed under gaps" in warnings[0].message
    assert "nothing there is marked missing" in warnings[1].message


def test_misspelt_key_is_a_warning_and_required_key_an_error(tmp_path):
    text = MINI.replace("    min_words: 30", "    min_word: 30")
    problems = check_text(tmp_path, text)
    assert [(p.severity, p.line) for p in problems if p.severity != "gap"] == [
        ("error", line_of(text, "- id: year1")),
        ("warning", line_of(text, "min_word: 30")),
    ]


def test_filled_in_criterion_still_marked_missing_is_an_error(tmp_path):
    text = MINI.replace(
        "        missing: true\n        note: Not in the document.\n",
        "        missing: true\n        note: Not in the document.\n        statement: Links.\n",
    )
    errors = only(check_text(tmp_path, text), "error")
    assert [e.line for e in errors] == [line_of(text, "- id: cohesion")]
    assert "marked missing but also has statement" in errors[0].message


def test_duplicate_keys_are_errors(tmp_path):
    text = MINI.replace("    label: Year 1\n", "    label: Year 1\n    label: Year One\n")
    (error,) = only(check_text(tmp_path, text), "error")
    assert error.line == line_of(text, "label: Year One")
    assert "'label' appears twice" in error.message


# --------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------

LINE_RE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<sev>error|warning|gap): .+$")


def test_cli_check_shipped_file_exit_0_with_gap_lines():
    result = CliRunner().invoke(cli, ["rubric", "check", str(NARRATIVE)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert (
        lines[-1] == "narrative.yaml: 0 errors, 10 gaps (missing in the school's source document)"
    )
    body = [LINE_RE.match(line) for line in lines[:-1]]
    assert all(body) and len(body) == 10
    assert {m["sev"] for m in body} == {"gap"}
    assert {m["file"] for m in body} == {str(NARRATIVE)}
    text = NARRATIVE.read_text(encoding="utf-8").splitlines()
    for m in body:  # each line points at a marked criterion or a marked min_words
        line = text[int(m["line"]) - 1].strip()
        assert line in ("- id: cohesion", "- id: sentence_structure", "min_words:"), line


def test_cli_check_broken_file_exit_1(tmp_path):
    path = tmp_path / "broken.yaml"
    text = MINI.replace("min_words: 30", "min_words: lots")
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["rubric", "check", str(path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0] == (
        f"{path}:{line_of(text, 'min_words: lots')}: error: band 'year1': min_words must be a "
        "positive whole number (the Level 3 'Text = N+ words'), not 'lots'. If the school's "
        "document has none, write min_words: {missing: true, note: what is missing}."
    )
    assert lines[-1] == "broken.yaml: 1 error, 2 gaps (missing in the school's source document)"


def test_cli_check_missing_file_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["rubric", "check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_cli_show_year(tmp_path):
    result = CliRunner().invoke(cli, ["rubric", "show", "--dir", str(RUBRICS), "--year", "4"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Year 4" in out and "Minimum length (Level 3): missing" in out
    assert "Level 3 (C, Sound):" in out
    assert "Uses correct spacing most of the time. Uses most common punctuation" in out
    assert "Sentence Structure\n  MISSING:" in out

    overview = CliRunner().invoke(cli, ["rubric", "show", "--dir", str(RUBRICS)])
    assert overview.exit_code == 0
    assert "year6plus" in overview.output and "240+ words" in overview.output

    unknown = CliRunner().invoke(
        cli, ["rubric", "show", "--dir", str(RUBRICS), "--genre", "recount"]
    )
    assert unknown.exit_code == 2 and "no rubric for genre 'recount'" in unknown.output
