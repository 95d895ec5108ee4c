"""Commands for pupils and their classes: class lists, genres, one pupil's writing,
erasure and retention.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from scanflow.cli.base import archive_option, cli
from scanflow.errors import ExitCode


@cli.group()
def roster():
    """Pupils: import the class lists your MIS exports."""


@roster.command("import")
@archive_option
@click.argument("csv_file", type=click.Path(path_type=Path))
def roster_import(archive, csv_file):
    """Load or update pupils from a CSV (UPN, forename, surname, class, year group)."""
    from scanflow.archive.roster import import_roster

    report = import_roster(archive, csv_file)
    click.echo(f"{csv_file}: {report.added} added, {report.updated} updated, "
               f"{report.unchanged} unchanged, {len(report.rejected)} rows not used")
    _echo_problems(report)


def _echo_problems(report) -> None:
    for line, reason in report.rejected:
        click.echo(f"  line {line}: {reason}", err=True)
    for line, warning in report.warnings:
        click.echo(f"  line {line}: warning: {warning}", err=True)


@roster.command("list")
@archive_option
@click.option("--class", "class_name", help="Only this class.")
def roster_list(archive, class_name):
    """List pupils."""
    from scanflow.archive.roster import list_pupils

    for p in list_pupils(archive, class_name):
        click.echo(f"{p.pupil_id}  {p.display_name:<28} class {p.class_name or '-':<5} "
                   f"year {p.year_group if p.year_group is not None else '-'}")


@cli.group()
def genre():
    """The genres pieces can be filed under."""


@genre.command("list")
@archive_option
def genre_list(archive):
    """List genres."""
    for name, label in archive.db.execute("SELECT name, label FROM genres ORDER BY name"):
        click.echo(f"{name:<16} {label}")


@genre.command("add")
@archive_option
@click.argument("name")
@click.option("--label", help="How it is shown, e.g. 'Playscript'.")
def genre_add(archive, name, label):
    """Add a genre the school teaches."""
    from scanflow.archive.pieces import add_genre

    click.echo(f"Genre '{add_genre(archive, name, label)}' is available.")


@roster.command("leave")
@archive_option
@click.argument("pupil_id")
@click.option("--date", "left_on", required=True, help="The day they left, YYYY-MM-DD.")
def roster_leave(archive, pupil_id, left_on):
    """Record that a pupil has left the school (their writing stays in the archive)."""
    from scanflow.archive.roster import mark_left

    pupil = mark_left(archive, pupil_id, left_on)
    click.echo(f"{pupil.display_name} ({pupil.pupil_id}) left on {pupil.left_on}. "
               "Their pieces stay in the archive.")


@roster.command("return")
@archive_option
@click.argument("pupil_id")
def roster_return(archive, pupil_id):
    """Undo 'roster leave': the pupil is on roll again."""
    from scanflow.archive.roster import mark_returned

    pupil = mark_returned(archive, pupil_id)
    click.echo(f"{pupil.display_name} ({pupil.pupil_id}) is on roll again.")


@roster.command("sync")
@archive_option
@click.argument("csv_file", type=click.Path(path_type=Path))
@click.option("--left-on", required=True, help="Leaving date for pupils missing from the "
              "file, YYYY-MM-DD.")
def roster_sync(archive, csv_file, left_on):
    """Import a WHOLE-SCHOOL export and mark pupils missing from it as having left."""
    from scanflow.archive.roster import import_roster

    report = import_roster(archive, csv_file, mark_missing_as_left=left_on)
    click.echo(f"{csv_file}: {report.added} added, {report.updated} updated, "
               f"{report.unchanged} unchanged, {len(report.rejected)} rows not used, "
               f"{len(report.left)} marked as left, {len(report.returned)} back on roll")
    _echo_problems(report)
    if report.left:
        click.echo("  left: " + ", ".join(report.left))


@cli.group()
def pupil():
    """One pupil's writing over the years: show it, print a portfolio, erase it."""


@pupil.command("show")
@archive_option
@click.argument("pupil_id")
@click.option("--chart", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the levels over time to this file (.png, .svg or .pdf).")
@click.option("--rubrics", "rubric_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of rubric files (default: ./rubrics).")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def pupil_show(archive, pupil_id, chart, rubric_dir, as_json):
    """Every piece of a pupil, half term by half term: levels, text, and a growth chart."""
    from dataclasses import asdict

    from scanflow.exports.portfolio import format_portfolio, pupil_portfolio

    p = pupil_portfolio(archive, pupil_id, rubric_dir=rubric_dir)
    if chart:
        from scanflow.exports.charts import growth_chart, save_chart

        save_chart(growth_chart(p), chart)
    if as_json:
        click.echo(json.dumps(asdict(p), ensure_ascii=False, indent=2))
    else:
        click.echo(format_portfolio(p))
    if chart:
        click.echo(f"Chart written to {chart}", err=True)


@pupil.command("portfolio")
@archive_option
@click.argument("pupil_id")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The PDF to write, e.g. ava-smith.pdf")
@click.option("--rubrics", "rubric_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of rubric files (default: ./rubrics).")
def pupil_portfolio_cmd(archive, pupil_id, output, rubric_dir):
    """A PDF portfolio: cover, growth chart, each piece's levels, text and pages."""
    from scanflow.exports.pdf import portfolio_pdf

    portfolio_pdf(archive, pupil_id, output, rubric_dir=rubric_dir)
    click.echo(f"{output}: portfolio of {pupil_id} ({output.stat().st_size // 1024} KB).")


@pupil.command("erase")
@archive_option
@click.argument("pupil_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
def pupil_erase(archive, pupil_id, yes):
    """Erase a pupil completely: every row, image and derived file (cannot be undone)."""
    from scanflow.archive.erase import erase_pupils, erasure_plan

    plan = erasure_plan(archive, pupil_id)
    click.echo(f"This permanently deletes {plan.pupil.display_name} ({pupil_id}): "
               f"{plan.pieces} piece(s), {plan.pages} page(s), {plan.images} image file(s), "
               "their transcriptions, levels and history. Backups made before now still "
               "hold them.", err=True)
    if plan.models:
        click.echo(f"It also deletes recogniser version(s) {', '.join(plan.models)}, which "
                   "learnt from their handwriting; retrain afterwards with: scanflow model "
                   "train", err=True)
    if not yes:
        typed = click.prompt("Type the pupil id to confirm", default="", show_default=False,
                             err=True)
        if typed.strip() != pupil_id:
            click.echo("Not erased: the id typed did not match.", err=True)
            sys.exit(int(ExitCode.bad_args))
    click.echo(_erasure_summary(erase_pupils(archive, [pupil_id])))


def _erasure_summary(report) -> str:
    lines = [f"Erased {report.pupils} pupil(s): {report.total_rows} row(s) and "
             f"{report.files_deleted} image file(s). Audit entry: pupil.erased {report.token} "
             "(note this token with the request; the log keeps no name)."]
    if report.redacted:
        lines.append(f"  {report.redacted} other mention(s) replaced by [erased].")
    if report.models_deleted:
        now_reading = ""
        if report.model_now:
            name = "the stock model" if report.model_now == "stock" else report.model_now
            now_reading = f" New pages are read with {name}."
        lines.append(f"  Recogniser version(s) {', '.join(report.models_deleted)} deleted: they "
                     f"had learnt from this handwriting.{now_reading} To learn from the other "
                     "pupils' corrections again: scanflow model train")
    if report.mentions:
        lines.append("  Other pupils' writing names them (left as written): pieces "
                     + ", ".join(map(str, report.mentions)))
    if not report.wal_cleared:
        lines.append("  Another program (the review app?) still had the old data open: stop "
                     "it, then run 'scanflow check' to finish clearing the log file.")
    return "\n".join(lines)


@cli.command()
@archive_option
@click.option("--left-before", required=True, help="Erase pupils who left before this date "
              "(YYYY-MM-DD), e.g. the school's retention limit.")
@click.option("--dry-run", is_flag=True, help="Only list who would be erased.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
def purge(archive, left_before, dry_run, yes):
    """Retention: erase every pupil who left before a date (as 'pupil erase' does)."""
    from scanflow.archive.erase import leavers_before
    from scanflow.archive.erase import purge as run_purge

    pupils = leavers_before(archive, left_before)
    if not pupils:
        click.echo(f"No pupil left before {left_before}. Nothing to erase.")
        return
    for p in pupils:
        click.echo(f"  {p.pupil_id}  {p.display_name:<28} left {p.left_on}")
    if dry_run:
        click.echo(f"{len(pupils)} pupil(s) would be erased (dry run: nothing changed).")
        return
    if not yes and not click.confirm(f"Erase these {len(pupils)} pupil(s) permanently?",
                                     err=True):
        click.echo("Nothing erased.", err=True)
        sys.exit(int(ExitCode.bad_args))
    click.echo(_erasure_summary(run_purge(archive, left_before)))


@roster.command("rollover")
@archive_option
@click.option("--to", "to_year", required=True, help="The new school year, e.g. 2027-28.")
@click.option("--class-map", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV from,to: next year's class for each class (default: 3A -> 4A).")
@click.option("--left-on", help="Leaving date for Year 6 (default: 31 August).")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
def roster_rollover(archive, to_year, class_map, left_on, dry_run):
    """New school year: everyone up a year and into next year's class; Year 6 leave."""
    from scanflow.archive.placement import read_class_map, rollover

    mapping = read_class_map(class_map) if class_map else None
    report = rollover(archive, to_year, class_map=mapping, left_on=left_on, dry_run=dry_run)
    verb = "would move" if dry_run else "moved"
    click.echo(f"{report.academic_year}: {verb} {report.moved} pupil(s) up a year; "
               f"{len(report.left)} leaver(s) from year 6"
               + (" (dry run: nothing changed)" if dry_run else ""))
    for old, new in sorted(report.classes.items()):
        click.echo(f"  {old} -> {new}")
    for pupil_id, reason in report.skipped:
        click.echo(f"  {pupil_id} not moved: {reason}", err=True)
