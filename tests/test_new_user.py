"""What a new school office hit on a fresh clone (issue 17), each kept fixed by a test."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from conftest import write_png
from fake_engine import fake_engine  # noqa: F401 (a fixture)

from scanflow.cli import cli

TERM = "2026-27-autumn-1"
README = Path(__file__).parents[1] / "README.md"


def run(archive, command, *args, input=None):
    """``scanflow COMMAND --archive ... ARGS``; COMMAND may be two words ("roster import")."""
    return CliRunner().invoke(cli, [*command.split(), "--archive", str(archive.path), *args],
                              input=input, catch_exceptions=False)


def all_rows(archive) -> dict[str, int]:
    tables = [r[0] for r in archive.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%_fts%'")]
    return {t: archive.db.execute(f"SELECT COUNT(*) FROM [{t}]").fetchone()[0] for t in tables}


def ingest_args(folder):
    return ("ingest", str(folder), "--half-term", TERM, "--genre", "narrative", "--engine",
            "fake", "--jobs", "1", "--quiet")


def test_ingesting_the_same_files_again_changes_nothing(archive, scans, fake_engine):
    first = run(archive, *ingest_args(scans))
    assert first.exit_code == 0, first.output
    before = all_rows(archive)
    again = run(archive, *ingest_args(scans))
    assert again.exit_code == 0, again.output
    assert all_rows(archive) == before  # no empty batch, no event: nothing at all
    assert "Nothing new to read" in again.output and "archive is unchanged" in again.output


def test_files_that_are_not_scans_are_named_in_the_summary(archive, scans, fake_engine):
    (scans / "letter to parents.docx").write_bytes(b"PK\x03\x04")
    (scans / "readme.txt").write_text("scanned on Tuesday")
    result = run(archive, *ingest_args(scans))
    assert result.exit_code == 0, result.output
    line = next(s for s in result.output.splitlines() if s.startswith("Skipped"))
    assert "3 file(s) that are not scans" in line
    assert all(n in line for n in ("letter to parents.docx", "readme.txt", "notes.csv"))
    as_json = run(archive, *ingest_args(scans), "--json")
    assert '"files_skipped"' in as_json.output and "readme.txt" in as_json.output


def test_exit_codes_match_the_readme(archive, tmp_path, fake_engine):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "cut.pdf").write_bytes(b"%PDF-1.4\n garbage")
    assert run(archive, *ingest_args(folder / "cut.pdf")).exit_code == 3  # nothing readable
    write_png(folder / "A100000000001_story.png", ["the cat sat"])
    assert run(archive, *ingest_args(folder)).exit_code == 6  # some read, one not
    assert run(archive, *ingest_args(folder / "A100000000001_story.png")).exit_code == 0
    assert run(archive, "ingest", str(folder), "--half-term", "autumn",
               "--genre", "narrative").exit_code == 2
    readme = " ".join(README.read_text().split())
    assert "3 no file could be read" in readme and "6 the run read some pages" in readme


def test_rubric_show_and_score_agree_on_a_band_without_a_minimum_length(tmp_path):
    from scanflow.scoring.criteria import length_minimum as used_by_score
    from scanflow.scoring.levels import rubric_for
    from scanflow.scoring.rubric import band_for_year, describe_length_minimum, format_band

    rubric = rubric_for("narrative", None)
    year3 = band_for_year(rubric, 3)
    minimum, source = used_by_score(rubric, year3)
    assert (minimum, source.label) == (60, "Year 2")
    said = describe_length_minimum(rubric, year3)
    assert said == "minimum length 60 words, Year 2's: the rubric gives none for Year 3"
    assert said in " ".join(format_band(rubric, year3).split())
    assert describe_length_minimum(rubric, band_for_year(rubric, 5)) == "minimum length 180 words"


def test_piece_filters_that_match_nothing_say_why(archive):
    result = run(archive, "pieces", "--class", "3C")
    assert result.exit_code == 2
    assert "No class '3C' in the archive (classes: 3A, 4B)" in result.output
    result = run(archive, "pieces", "--half-term", "autumn")
    assert result.exit_code == 2 and "'autumn' is not a half term" in result.output
    result = run(archive, "pieces", "--genre", "novel")
    assert result.exit_code == 2 and "scanflow genre add novel" in result.output
    result = run(archive, "pieces", "--class", "3a", "--half-term", TERM)
    assert result.exit_code == 0 and result.output.strip() == "No pieces match these filters."
    assert "No pieces yet" in run(archive, "pieces").output


def test_a_binary_file_given_as_the_class_list_is_named_not_printed(archive, tmp_path):
    xlsx = tmp_path / "pupils.csv"
    xlsx.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00b\xee\x9dh^\x01")
    result = run(archive, "roster import", str(xlsx))
    assert result.exit_code == 3
    assert "is not a CSV file (it looks like an Excel workbook (.xlsx)" in result.output
    assert "Save As > CSV" in result.output and "\\x" not in result.output
    blob = tmp_path / "export.csv"
    blob.write_bytes(bytes(range(256)) * 4)
    result = run(archive, "roster import", str(blob))
    assert result.exit_code == 3 and "a binary file, not text" in result.output
    utf16 = tmp_path / "unicode.csv"
    utf16.write_text("UPN,Forename,Surname,Class,Year Group\n"
                     "A100000000009,Zoë,Brontë,3A,3\n", encoding="utf-16")
    result = run(archive, "roster import", str(utf16))
    assert result.exit_code == 0, result.output


def test_user_add_without_a_terminal_says_to_use_password_stdin(archive):
    result = run(archive, "user add", "office1", "--role", "office")
    assert result.exit_code == 2
    assert "no terminal to type the password in" in result.output
    assert "--password-stdin" in result.output and "GetPassWarning" not in result.output
    result = run(archive, "user add", "office1", "--role", "office", "--password-stdin",
                 input="correct horse battery staple\n")
    assert result.exit_code == 0, result.output


def test_eval_reads_page_truths_beside_the_scans_as_scans_sample_has_them(tmp_path,
                                                                           fake_engine):
    from conftest import write_pdf

    from scanflow.evaluation.evaluate import ScanPage, evaluate, find_pairs

    write_pdf(tmp_path / "class-3A.pdf", [["ther was a dragon"], ["ther was a dragon"]])
    write_png(tmp_path / "A100000000003_story.png", ["ther was a dragon"])
    truth = tmp_path / "truth"
    truth.mkdir()
    for stem in ("class-3A.p1", "class-3A.p2", "A100000000003_story.p1", "missing.p1"):
        (truth / f"{stem}.gt.txt").write_text("ther was a dragon\n")
    pairs = find_pairs(truth)
    assert [(stem, img) for stem, img, _ in pairs] == [
        ("A100000000003_story.p1", ScanPage(tmp_path / "A100000000003_story.png", 1)),
        ("class-3A.p1", ScanPage(tmp_path / "class-3A.pdf", 1)),
        ("class-3A.p2", ScanPage(tmp_path / "class-3A.pdf", 2))]
    report = evaluate(truth, "fake")
    assert report.images == 3 and report.cer == 0.0 and not report.errors


def test_scans_sample_truth_pairs_with_the_sample_scans():
    from scanflow.evaluation.evaluate import find_pairs

    pairs = find_pairs(README.parent / "scans_sample" / "truth")
    assert len(pairs) == 6  # every page of the sample batch
