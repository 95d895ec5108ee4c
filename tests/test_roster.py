import pytest

from scanflow.archive.roster import get_pupil, import_roster, map_columns
from scanflow.errors import InputFileError


def test_columns_are_matched_by_name():
    m = map_columns(["Legal Surname", "UPN", "Preferred Forename", "Legal Forename", "NC Year", "Reg Group"])
    assert m == {"pupil_id": "UPN", "first_name": "Legal Forename",
                 "preferred_name": "Preferred Forename", "surname": "Legal Surname",
                 "class_name": "Reg Group", "year_group": "NC Year"}


def test_reimport_updates_never_duplicates_and_keeps_history(archive, tmp_path):
    csv = tmp_path / "moved.csv"
    csv.write_text("UPN,Forename,Surname,Class,Year Group\n"
                   "A100000000001,Ava,Smith,4A,4\nA100000000002,Ben,Jones,3A,3\n")
    report = import_roster(archive, csv)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 1)
    assert archive.db["pupils"].count == 3
    assert get_pupil(archive, "A100000000001").class_name == "4A"
    history = archive.db.execute("SELECT class_name FROM pupil_history WHERE pupil_id = ? "
                                 "ORDER BY id", ["A100000000001"]).fetchall()
    assert [h[0] for h in history] == ["3A", "4A"]


def test_unusable_rows_are_reported_with_line_numbers(archive, tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("UPN,Forename,Surname,Class,Year\n"
                   ",No,Id,3A,3\nA1,,Noname,3A,3\nA2,Bad,Year,3A,eleventy\nA3,Ok,Pupil,3A,Reception\n"
                   "A3,Dup,Pupil,3A,3\n")
    report = import_roster(archive, csv)
    assert report.added == 1
    assert [line for line, _ in report.rejected] == [2, 3, 4, 6]
    assert get_pupil(archive, "A3").year_group == 0


def test_roster_without_id_column_says_which_columns_exist(archive, tmp_path):
    csv = tmp_path / "nocol.csv"
    csv.write_text("Name,Class\nAva,3A\n")
    with pytest.raises(InputFileError) as err:
        import_roster(archive, csv)
    assert "no column for pupil_id" in str(err.value)
    assert "Name, Class" in str(err.value)


def test_dates_and_upns_are_checked_with_a_warning_not_a_refusal(archive, tmp_path):
    csv_file = tmp_path / "class.csv"
    csv_file.write_text("UPN,Forename,Surname,DOB\n"
                        "H801200001001,Ann,Ok,05/09/2017\n"
                        "not-an-upn,Bea,Temp,31/31/2017\n"
                        "A801200001001,Cal,Typo,2018-02-30\n"
                        "R100000000001,Dee,Future,01/01/2999\n")
    report = import_roster(archive, csv_file)
    assert report.added == 4 and report.rejected == []
    warned: dict[int, str] = {}
    for line, text in report.warnings:
        warned[line] = warned.get(line, "") + text + "; "
    assert 2 not in warned
    assert "not a UPN" in warned[3] and "'31/31/2017' is not a date" in warned[3]
    assert "check letter should be 'H'" in warned[4] and "2018-02-30" in warned[4]
    assert "cannot be a pupil's" in warned[5] and "UPN" not in warned[5]
    assert get_pupil(archive, "H801200001001").date_of_birth == "2017-09-05"
    assert get_pupil(archive, "not-an-upn").date_of_birth is None


@pytest.mark.parametrize("sep,encoding", [(";", "utf-8"), ("\t", "utf-16"), ("\t", "utf-8")])
def test_semicolon_and_tab_separated_class_lists_import(archive, tmp_path, sep, encoding):
    """Excel in a European locale saves CSV with semicolons; its "Unicode text" and MIS
    "tab delimited" exports separate with tabs (the former in UTF-16)."""
    rows = [["UPN", "Forename", "Surname", "Reg Group", "Year"],
            ["H801200001001", "Zoë", "Ash, Jr", "5B", "5"]]
    path = tmp_path / "export.txt"
    path.write_text("\n".join(sep.join(r) for r in rows) + "\n", encoding=encoding)
    assert import_roster(archive, path).added == 1
    pupil = get_pupil(archive, "H801200001001")
    assert (pupil.first_name, pupil.surname, pupil.class_name) == ("Zoë", "Ash, Jr", "5B")
