"""Commands that bring scans in: ingest, the coded cover sheets that split a batch, and
the engine an ingest reads with.
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
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--half-term", required=True, help="e.g. 2026-27-autumn-1")
@click.option("--genre", "genre_name", required=True, help="e.g. narrative")
@click.option("--pupil", help="Every page belongs to this pupil id.")
@click.option("--manifest", type=click.Path(path_type=Path),
              help="CSV file,first_page,last_page,pupil_id linking page ranges to pupils.")
@click.option("--engine", help="OCR engine (default: the archive's setting).")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), help="Worker processes (default: cores).")
@click.option("--dpi", type=int, default=300, show_default=True, help="Resolution for PDF "
              "pages that must be rendered; a scanner's page (one image) is read at its own.")
@click.option("--max-pixels", type=int, default=100_000_000, show_default=True,
              help="Refuse page images larger than this.")
@click.option("--retry-failed", is_flag=True, help="Read again pages that failed last time.")
@click.option("--class", "expect_class", help="Expect a cover sheet for every pupil of this "
              "class; report those with none.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def ingest(archive, paths, half_term, genre_name, pupil, manifest, engine, jobs, dpi,
           max_pixels, retry_failed, expect_class, quiet, as_json):
    """Read scans (PDF, PNG, JPEG, TIFF, or folders of them) into the archive.

    Each page is linked to a pupil by --pupil, by --manifest, or by a file name that starts
    with the pupil id (A123456789012_anything.pdf); other pages go to 'scanflow unassigned'.
    """
    from scanflow.intake.ingest import IngestOptions, summary_dict
    from scanflow.intake.ingest import ingest as run_ingest
    from scanflow.progress import progress_for

    options = IngestOptions(half_term=half_term, genre=genre_name, pupil=pupil,
                            manifest=str(manifest) if manifest else None, engine=engine,
                            jobs=jobs, dpi=dpi, max_pixels=max_pixels, retry_failed=retry_failed,
                            expect_class=expect_class)
    report = run_ingest(archive, list(paths), options, progress=progress_for(quiet))
    if as_json:
        click.echo(json.dumps(summary_dict(report), indent=2))
    else:
        click.echo(format_ingest_report(report))
    if report.interrupted:
        sys.exit(int(ExitCode.ctrl_c))
    if not report.ok:
        sys.exit(int(ExitCode.partial))


def format_ingest_report(report) -> str:
    s = []
    new = sum(f.status in ("new", "resumed") for f in report.files)
    already = [f for f in report.files if f.status == "already"]
    s.append(f"Batch {report.batch_id}: {new} file(s) read, {len(already)} already in the "
             f"archive, {len(report.failed_files)} could not be read.")
    for f in already:
        s.append(f"  {f.path}: {f.message}")
    conf = f"{report.mean_confidence:.0f}%" if report.mean_confidence is not None else "-"
    s.append(f"  pieces: {len(report.pieces)}   pages: {report.pages_ok + report.pages_blank} "
             f"({report.pages_blank} blank)   words: {report.words}   "
             f"mean OCR confidence: {conf}   time: {report.seconds:.1f}s")
    if report.failed_files or report.failed_pages:
        s.append("Failures:")
        s += [f"  {f.message}" for f in report.failed_files]
        s += [f"  {p} page {n}: {e}" for p, n, e in report.failed_pages]
    if report.interrupted:
        s.append("Interrupted: every page listed above is saved. Run the same command again "
                 "to finish the rest.")
    s += report.codes.lines() if report.codes else []  # cover sheets (scanflow.intake.codes)
    s.append("Next:")
    if report.unassigned:
        s.append(f"  {report.unassigned} page(s) have no pupil yet: scanflow unassigned, then "
                 "scanflow assign PAGE --pupil ID")
    s.append("  scanflow pieces             list the pieces waiting for review")
    s.append("  scanflow show PIECE         read a piece's transcription")
    if report.failed_pages:
        s.append("  fix or rescan the failed pages, then run the same ingest with --retry-failed")
    return "\n".join(s)


@cli.command()
@archive_option
@click.argument("name", required=False)
def engine(archive, name):
    """Show or set the archive's OCR engine (a run can still choose with --engine)."""
    from scanflow.intake.ingest import DEFAULT_ENGINE, set_default_engine
    from scanflow.ocr.engine import available_engines

    if name:
        set_default_engine(archive, name)
    current = archive.setting("engine") or DEFAULT_ENGINE
    for known in available_engines():
        click.echo(f"{'*' if known == current else ' '} {known}")


@cli.command()
@archive_option
@click.option("--class", "class_name", help="Print for every pupil of this class.")
@click.option("--pupil", "pupil_ids", multiple=True, help="Print for this pupil id (repeatable).")
@click.option("--half-term", required=True, help="e.g. 2026-27-autumn-1")
@click.option("--genre", "genre_name", required=True, help="e.g. narrative")
@click.option("--labels", is_flag=True,
              help="Small labels (14 to a page) to stick where the piece starts, instead of "
                   "A4 cover sheets.")
@click.option("--rubrics", "rubric_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of rubric files (default: ./rubrics).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The PDF to write, e.g. sheets.pdf")
def sheets(archive, class_name, pupil_ids, half_term, genre_name, labels, rubric_dir, output):
    """Print coded cover sheets (or labels) for a class: one A4 page per pupil.

    Each sheet carries a QR code with the pupil id, half term and genre, the same in large
    print, the pupil's name and class, and the rubric grid for their year group. Scan each
    book with its sheet in front: ingest starts the pupil's piece at the sheet.
    """
    from scanflow.exports.sheets import print_sheets

    count = print_sheets(archive, output, half_term=half_term, genre=genre_name,
                         class_name=class_name, pupil_ids=list(pupil_ids) or None,
                         labels=labels, rubric_dir=rubric_dir)
    what = "label(s)" if labels else "cover sheet(s)"
    click.echo(f"{output}: {count} {what} for {class_name or ', '.join(pupil_ids)}, "
               f"{half_term} {genre_name}. Print at 100% (actual size), not 'fit to page'.")
