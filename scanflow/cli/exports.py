"""Commands that take data out: the levels CSV, ALTO XML, searchable PDFs, class grids.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from scanflow.cli.base import archive_option, cli


@cli.command()
@archive_option
@click.option("--class", "class_name", help="A class, as it was that half term (e.g. 3A).")
@click.option("--year", "year_group", type=int, help="A whole year group (e.g. 4).")
@click.option("--half-term", required=True, help="e.g. 2026-27-autumn-1")
@click.option("--genre", "genre_name", help="Only pieces of this genre.")
@click.option("--rubrics", "rubric_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of rubric files (default: ./rubrics).")
@click.option("--json", "as_json", is_flag=True, help="Print the grid as JSON.")
def grid(archive, class_name, year_group, half_term, genre_name, rubric_dir, as_json):
    """Levels of a class (or a year group) in a half term: grid, spread, length, change."""
    from dataclasses import asdict

    from scanflow.errors import UsageError
    from scanflow.exports.classview import class_view, format_view, year_view

    if bool(class_name) == (year_group is not None):
        raise UsageError("Give either --class or --year.",
                         hint="e.g. scanflow grid --class 3A --half-term 2026-27-autumn-1")
    view = class_view(archive, class_name, half_term, genre=genre_name, rubric_dir=rubric_dir) \
        if class_name else year_view(archive, year_group, half_term, genre=genre_name,
                                     rubric_dir=rubric_dir)
    if as_json:
        data = asdict(view) | {"distribution": view.distribution, "mean": view.mean,
                               "mean_change": view.mean_change}
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(format_view(view))


@cli.group()
def export():
    """Data out: levels CSV for the MIS, ALTO and PAGE XML, searchable PDF."""


@export.command("levels")
@archive_option
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The CSV file to write.")
@click.option("--half-term", help="Only this half term.")
@click.option("--class", "class_name", help="Only this class (as it was then).")
@click.option("--year", "year_group", type=int, help="Only this year group (as it was then).")
@click.option("--genre", "genre_name", help="Only this genre.")
@click.option("--all", "include_unscored", is_flag=True, help="Also pieces not scored yet.")
def export_levels(archive, output, half_term, class_name, year_group, genre_name,
                  include_unscored):
    """Levels as CSV for the school MIS: a row per pupil and half term (docs/archive.md)."""
    from scanflow.exports.levels_csv import export_levels_csv

    n = export_levels_csv(archive, output, half_term=half_term, class_name=class_name,
                          year_group=year_group, genre=genre_name,
                          include_unscored=include_unscored)
    click.echo(f"{output}: {n} row(s).")


def per_page_xml_options(fn):
    """PIECE_ID, -o FOLDER and --no-images: what every per-page XML export takes."""
    fn = click.option("--no-images", is_flag=True,
                      help="Only the XML, not the page images.")(fn)
    fn = click.option("-o", "--output", "out_dir", required=True,
                      type=click.Path(file_okay=False, path_type=Path),
                      help="Folder to write into.")(fn)
    fn = click.argument("piece_id", type=int)(fn)
    return archive_option(fn)


@export.command("alto")
@per_page_xml_options
def export_alto(archive, piece_id, out_dir, no_images):
    """ALTO XML per page (line and word boxes), with the page images, for HTR tools."""
    from scanflow.exports.alto import write_alto

    paths = write_alto(archive, piece_id, out_dir, images=not no_images)
    click.echo(f"{out_dir}: " + ", ".join(p.name for p in paths))


@export.command("page")
@per_page_xml_options
def export_page(archive, piece_id, out_dir, no_images):
    """PAGE XML (2019) per page: region, lines with baselines, words, text; for eScriptorium
    and Transkribus."""
    from scanflow.exports.page_xml import write_page_xml

    paths = write_page_xml(archive, piece_id, out_dir, images=not no_images)
    click.echo(f"{out_dir}: " + ", ".join(p.name for p in paths))


@export.command("pdf")
@archive_option
@click.argument("piece_id", type=int)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The PDF to write.")
def export_pdf(archive, piece_id, output):
    """A searchable PDF of a piece: page images with the final text as an invisible layer."""
    from scanflow.exports.pdf import searchable_pdf

    searchable_pdf(archive, piece_id, output)
    click.echo(f"{output}: piece {piece_id} ({output.stat().st_size // 1024} KB).")


@export.command("lines")
@archive_option
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--half-term", help="Only pieces of this half term.")
def export_lines_cmd(archive, dest, half_term):
    """Every line of the reviewed pieces as DEST/<stem>.png + <stem>.gt.txt (the teacher's
    text), with DEST/lines.tsv naming each line's piece, page, engine and model: the
    examples 'scanflow model train' learns from."""
    from scanflow.exports.lines import export_lines
    from scanflow.progress import progress_for

    report = export_lines(archive, dest, half_term=half_term, progress=progress_for())
    skipped = "".join(f"; {n} skipped ({why})" for why, n in sorted(report.skipped.items()))
    click.echo(f"{dest}: {report.lines} line(s) from {report.pieces} reviewed piece(s) of "
               f"{report.pupils} pupil(s), {report.changed} corrected by a teacher{skipped}.")
