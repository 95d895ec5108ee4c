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
@click.option("--threads", type=click.IntRange(1, 64), help="Engine threads in each worker "
              "(default: cores / workers).")
@click.option("--dpi", type=int, default=300, show_default=True, help="Resolution for PDF "
              "pages that must be rendered; a scanner's page (one image) is read at its own.")
@click.option("--max-pixels", type=int, default=100_000_000, show_default=True,
              help="Refuse page images larger than this.")
@click.option("--retry-failed", is_flag=True, help="Read again pages that failed last time.")
@click.option("--class", "expect_class", help="Expect a cover sheet for every pupil of this "
              "class; report those with none.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def ingest(archive, paths, half_term, genre_name, pupil, manifest, engine, jobs, threads, dpi,
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
                            jobs=jobs, threads=threads, dpi=dpi, max_pixels=max_pixels,
                            retry_failed=retry_failed, expect_class=expect_class)
    report = run_ingest(archive, list(paths), options, progress=progress_for(quiet))
    if as_json:
        click.echo(json.dumps(summary_dict(report), indent=2))
    else:
        click.echo(format_ingest_report(report))
    sys.exit(int(ingest_exit_code(report)))


def ingest_exit_code(report) -> ExitCode:
    """0 all read; 3 nothing could be read because of the files; 6 some files or pages
    failed beside others that were read (or pages failed); 130 interrupted."""
    if report.interrupted:
        return ExitCode.ctrl_c
    if report.ok:
        return ExitCode.ok
    read = report.pages_ok + report.pages_blank + sum(f.status == "already" for f in report.files)
    if report.failed_files and not report.failed_pages and not read:
        return ExitCode.input_file
    return ExitCode.partial


def format_ingest_report(report) -> str:
    s = []
    new = sum(f.status in ("new", "resumed") for f in report.files)
    already = [f for f in report.files if f.status == "already"]
    if report.batch_id is None:
        s.append(f"Nothing new to read: {len(already)} file(s) already in the archive, "
                 f"{len(report.failed_files)} could not be read. The archive is unchanged.")
    else:
        s.append(f"Batch {report.batch_id}: {new} file(s) read, {len(already)} already in the "
                 f"archive, {len(report.failed_files)} could not be read.")
    for f in already:
        s.append(f"  {f.path}: {f.message}")
    if report.skipped:
        s.append(f"Skipped {len(report.skipped)} file(s) that are not scans (PDF, PNG, JPEG, "
                 "TIFF): " + ", ".join(report.skipped))
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
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--half-term", help="For files not in a half-term sub-folder, e.g. 2026-27-autumn-1")
@click.option("--genre", "genre_name", help="For files not in a genre sub-folder, e.g. narrative")
@click.option("--engine", help="OCR engine (default: the archive's setting).")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), help="Worker processes (default: cores).")
@click.option("--settle", type=click.FloatRange(0.1, 600), default=5.0, show_default=True,
              help="Seconds a file must stay unchanged before it is read.")
@click.option("--poll/--no-poll", default=None,
              help="Poll the folder instead of waiting for events (default: poll only on a "
                   "network share).")
@click.option("--poll-interval", type=click.FloatRange(0.2, 600), default=2.0, show_default=True,
              help="Seconds between polls.")
@click.option("--once", is_flag=True, help="Read what is in the folder now, then stop (exit "
              "code 3 if no file could be read, 6 if some could not).")
def watch(archive, folder, half_term, genre_name, engine, jobs, settle, poll, poll_interval,
          once):
    """Watch a scan folder and read each file that arrives (Ctrl+C stops).

    Half term and genre come from sub-folders (FOLDER/2026-27-autumn-1/narrative/...) or the
    options. A file read goes to FOLDER/done/, one that cannot be read to FOLDER/failed/
    with a .txt beside it saying why. One line per file is printed.
    """
    import signal
    from datetime import datetime

    from scanflow.intake.watch import WatchOptions
    from scanflow.intake.watch import watch as run_watch

    def stop_on_term(signum, frame):  # systemd stops a service with SIGTERM
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_term)
    options = WatchOptions(half_term=half_term, genre=genre_name, engine=engine, jobs=jobs,
                           settle=settle, poll=poll, poll_interval=poll_interval)

    root = folder.resolve()
    statuses = []

    def line(done):
        statuses.append(done.status)
        where = f" (why: {done.moved_to.relative_to(root)}.txt)" if done.status == "failed" else ""
        click.echo(f"{datetime.now():%Y-%m-%d %H:%M:%S} {done.status:7} {done.relative}: "
                   f"{done.message}{where}")

    if not once:
        click.echo(f"Watching {folder} (Ctrl+C stops). Files read go to done/, files that "
                   "cannot be read to failed/.", err=True)
    run_watch(archive, folder, options, on_file=line, once=once)
    # --once runs from cron or a script: its exit code says how it went, as ingest's does.
    if "failed" in statuses:
        sys.exit(int(ExitCode.partial if set(statuses) - {"failed"} else ExitCode.input_file))


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
