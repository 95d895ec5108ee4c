"""Commands for scoring against the rubric: suggested and confirmed levels, and the rubric
files themselves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from scanflow.cli.base import archive_option, cli
from scanflow.errors import ExitCode


@cli.command()
@archive_option
@click.argument("piece_id", type=int)
@click.option("--set", "assignments", multiple=True, metavar="CRITERION=LEVEL",
              help="Record a level, e.g. --set punctuation=3 (repeat for more criteria).")
@click.option("--accept-suggestions", is_flag=True,
              help="Record every suggested level as it stands. Never Audience and Ideas or "
                   "Character and Setting: those are the teacher's judgement.")
@click.option("--scorer", help="Who is scoring (default: your login name).")
@click.option("--note", help="A note kept with the levels recorded now.")
@click.option("--rubrics", "rubric_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder of rubric files (default: ./rubrics).")
@click.option("--history", is_flag=True, help="Also list every level given before.")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def score(archive, piece_id, assignments, accept_suggestions, scorer, note, rubric_dir,
          history, as_json):
    """Suggested rubric levels for a piece with their evidence; record the teacher's levels.

    \b
      scanflow score 12                                  show suggestions and scores
      scanflow score 12 --set punctuation=3 --set spelling=2 --scorer mrs.k
    """
    from dataclasses import asdict

    from scanflow.archive.store import current_user
    from scanflow.scoring.scores import (
        format_score_report,
        parse_assignment,
        score_piece,
    )

    levels = dict(parse_assignment(a) for a in assignments)
    report = score_piece(archive, piece_id, levels=levels, accept=accept_suggestions,
                         scorer=scorer or current_user(), note=note, rubric_dir=rubric_dir)
    if as_json:
        click.echo(json.dumps({"suggestions": report.suggestions.to_dict(),
                               "current": {k: asdict(v) for k, v in
                                           report.scores.current.items()},
                               "history": [asdict(v) for v in report.scores.history],
                               "recorded": [asdict(v) for v in report.recorded]},
                              ensure_ascii=False, indent=2))
    else:
        click.echo(format_score_report(report, history=history))


@cli.group()
def rubric():
    """Writing rubrics (rubrics/*.yaml): check a file, show a year's descriptors."""


@rubric.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def rubric_check(file):
    """Check a rubric file; print FILE:LINE: severity: message for each problem.

    Exit code 1 if there is any error. Gaps (text marked missing because the school's
    document lacks it) and warnings are listed but do not fail the check.
    """
    from scanflow.scoring.rubric import summarize_problems
    from scanflow.scoring.rubric_file import check_rubric

    problems = check_rubric(file)
    for problem in problems:
        click.echo(str(problem))
    click.echo(summarize_problems(file, problems))
    if any(p.severity == "error" for p in problems):
        sys.exit(int(ExitCode.other_error))


@rubric.command("show")
@click.option("--genre", "genre_name", default="narrative", show_default=True,
              help="Which rubric (the genre: line of a file in the rubrics folder).")
@click.option("--year", help="Year group: 0 or K for Kindergarten, 1, 2, ... "
                             "Without it, list the bands.")
@click.option("--dir", "rubric_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder of rubric files (default: ./rubrics).")
def rubric_show(genre_name, year, rubric_dir):
    """Print a rubric's bands, or one year's criteria and level descriptors."""
    from scanflow.scoring.rubric import (
        band_for_year,
        format_band,
        format_overview,
        parse_year_group,
    )
    from scanflow.scoring.rubric_file import default_rubric_dir, load_rubric_for_genre

    loaded = load_rubric_for_genre(rubric_dir or default_rubric_dir(), genre_name)
    if year is None:
        click.echo(format_overview(loaded))
    else:
        click.echo(format_band(loaded, band_for_year(loaded, parse_year_group(year))))
