"""Year rollover and placements: pupils move up; their earlier writing keeps its class."""

from __future__ import annotations

import pytest
from archive_helpers import add_piece, make_school, score
from click.testing import CliRunner

from scanflow.archive.placement import (
    Placements,
    half_term_start,
    next_class_name,
    rollover,
)
from scanflow.archive.roster import get_pupil, import_roster
from scanflow.cli import cli
from scanflow.errors import UsageError
from scanflow.exports.classview import class_view
from scanflow.scoring.scores import year_group_for_piece


@pytest.fixture
def school(archive, tmp_path):
    return make_school(archive, tmp_path)


def test_half_term_starts_and_class_names():
    assert str(half_term_start("2026-27-autumn-2")) == "2026-11-01"
    assert str(half_term_start("2026-27-summer-2")) == "2027-06-01"
    assert next_class_name("3A", 3) == "4A"
    assert next_class_name("Y5 Oak", 5) == "Y6 Oak"
    assert next_class_name("Robins", 2) is None
    assert next_class_name("13B", 3) is None  # 3 only inside 13: not the year


def test_rollover_moves_everyone_up_and_keeps_their_history(archive, school):
    report = rollover(archive, "2027-28")
    assert (report.moved, report.left) == (4, [])
    assert report.classes == {"3A": "4A", "4B": "5B"}
    ava = get_pupil(archive, "A100000000001")
    assert (ava.class_name, ava.year_group) == ("4A", 4)
    history = archive.db.execute("SELECT class_name, year_group, changed_at FROM pupil_history "
                                 "WHERE pupil_id = 'A100000000001' ORDER BY id").fetchall()
    assert history == [("3A", 3, "2026-09-05T09:00:00+00:00"),
                       ("4A", 4, "2027-09-01T00:00:00+00:00")]
    places = Placements(archive)
    assert places.at("A100000000001", "2027-28-summer-2").class_name == "4A"
    assert places.at("A100000000001", "2026-27-summer-2").class_name == "3A"
    # Last year's grid is still last year's class; the scoring band follows the same rule.
    assert {r.pupil_id for r in class_view(archive, "3A", "2026-27-spring-1").rows} == \
        {"A100000000001", "A100000000002", "A100000000009"}
    assert year_group_for_piece(archive, school["ava1"]) == ("A100000000001", 3)
    new = add_piece(archive, "A100000000001", "2027-28-autumn-1", "narrative",
                    [["In year four I wrote a longer story"]])
    assert year_group_for_piece(archive, new) == ("A100000000001", 4)
    assert [r.pupil_id for r in class_view(archive, "4A", "2027-28-autumn-1").rows
            if r.piece_id] == ["A100000000001"]


def test_year_six_leave_and_a_second_rollover_to_the_same_year_is_refused(archive, tmp_path):
    roster = tmp_path / "y6.csv"
    roster.write_text("UPN,Forename,Surname,Class,Year Group\nA600000000001,Sam,Lee,6C,6\n")
    import_roster(archive, roster)
    report = rollover(archive, "2027-28")
    assert report.left == ["A600000000001"]
    assert get_pupil(archive, "A600000000001").left_on == "2027-08-31"
    with pytest.raises(UsageError) as err:
        rollover(archive, "2027-28")
    assert str(err.value).startswith("The archive has already been rolled over to 2027-28.")


def test_classes_without_the_year_in_their_name_need_a_map(archive, tmp_path):
    roster = tmp_path / "birds.csv"
    roster.write_text("UPN,Forename,Surname,Class,Year Group\nA700000000001,Kit,Ray,Robins,2\n"
                      "A700000000002,Jo,Ray,Robins,2\n")
    import_roster(archive, roster)
    with pytest.raises(UsageError) as err:
        rollover(archive, "2027-28")
    assert str(err.value) == (
        "Next year's class is unknown for Robins (2 pupils): the name does not contain the year "
        "group. Give a class map: --class-map FILE.csv with the columns from,to (one line per "
        "class, e.g. Robins,Owls). Nothing was changed.")
    assert get_pupil(archive, "A100000000001").year_group == 3  # nothing changed
    mapping = tmp_path / "map.csv"
    mapping.write_text("from,to\nRobins,Owls\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["roster", "rollover", "--archive", str(archive.path),
                                 "--to", "2027-28", "--class-map", str(mapping)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == \
        "2027-28: moved 5 pupil(s) up a year; 0 leaver(s) from year 6"
    assert "  Robins -> Owls" in result.output
    assert get_pupil(archive, "A700000000001").class_name == "Owls"


def test_dry_run_changes_nothing(archive):
    runner = CliRunner()
    result = runner.invoke(cli, ["roster", "rollover", "--archive", str(archive.path),
                                 "--to", "2027-28", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would move 3 pupil(s)" in result.output and "dry run" in result.output
    assert get_pupil(archive, "A100000000001").class_name == "3A"
    result = runner.invoke(cli, ["roster", "rollover", "--archive", str(archive.path),
                                 "--to", "2027"])
    assert result.exit_code == 2
    assert "Error: '2027' is not an academic year. Write it as YYYY-YY, for example 2027-28." \
        in result.output


def test_pieces_from_before_the_first_class_list_keep_their_year_not_a_guessed_class(
        archive, school):
    # Ava's book from the year before scanflow: year 2 then, class unknown (not 3A).
    old = add_piece(archive, "A100000000001", "2025-26-summer-1", "narrative",
                    [["When I was in year two"]])
    where = Placements(archive).at("A100000000001", "2025-26-summer-1")
    assert (where.class_name, where.year_group) == (None, 2)
    score(archive, old, {"spelling": 2})
    assert year_group_for_piece(archive, old) == ("A100000000001", 2)


def test_the_school_s_placements_are_kept_until_the_archive_changes(archive, school):
    from scanflow.archive.store import open_archive

    kept = Placements.of_school(archive)
    assert Placements.of_school(archive) is kept  # nothing written: not read again
    assert "A100000000001" in {r.pupil_id for r in class_view(
        archive, "3A", "2027-28-autumn-1").rows}  # next year, as the records stand now
    # Written through this connection: the grid follows at once.
    rollover(archive, "2027-28")
    assert Placements.of_school(archive) is not kept
    with pytest.raises(UsageError, match="No pupils were in class '3A'"):
        class_view(archive, "3A", "2027-28-autumn-1")
    assert "A100000000001" in {r.pupil_id for r in class_view(
        archive, "4A", "2027-28-autumn-1").rows}
    # Written through another connection (the roster imported while the app runs).
    kept = Placements.of_school(archive)
    other = open_archive(archive.path)
    with other.transaction() as db:
        db.execute("UPDATE pupils SET class_name = '4Z' WHERE pupil_id = 'A100000000001'")
        db.execute("INSERT INTO pupil_history (pupil_id, class_name, year_group, changed_at) "
                   "VALUES ('A100000000001', '4Z', 4, '2027-10-01T00:00:00+00:00')")
    other.close()
    assert Placements.of_school(archive) is not kept
    assert [r.pupil_id for r in class_view(archive, "4Z", "2027-28-autumn-2").rows] == \
        ["A100000000001"]
