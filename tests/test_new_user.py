"""What a new school office hit on a fresh clone (issue 17), each kept fixed by a test."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from conftest import write_png
from fake_engine import fake_engine  # noqa: F401 (a fixture)

from scanflow.cli import cli

TERM = "2026-27-autumn-1"
README = Path(__file__).parents[1] / "README.md"


def run(archive, *args, input=None):
    return CliRunner().invoke(cli, [args[0], "--archive", str(archive.path), *args[1:]],
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
