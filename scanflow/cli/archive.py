"""Commands on the archive as a whole: create it, what it holds, search it, back it up,
restore it, check it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from scanflow.cli.base import archive_option, cli
from scanflow.errors import ExitCode


@cli.command()
@click.argument("archive_path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--archive", "archive_opt", type=click.Path(file_okay=False, path_type=Path),
              envvar="SCANFLOW_ARCHIVE", default=None, help="Same as ARCHIVE_PATH.")
def init(archive_path, archive_opt):
    """Create an archive (a folder with scanflow.db and images/). Safe to run again."""
    from scanflow.archive.store import default_location, init_archive

    path = archive_path or archive_opt or default_location()
    archive = init_archive(path)
    archive.close()
    click.echo(f"Archive ready at {path}")


@cli.command()
@archive_option
def status(archive):
    """What the archive holds: pupils, pieces, pages, and what needs doing."""
    from scanflow.archive.summary import archive_status

    for line in archive_status(archive):
        click.echo(line)


@cli.command()
@archive_option
@click.argument("query", required=False)
@click.option("--pupil", "pupil_id", help="Only this pupil's pieces.")
@click.option("--class", "class_name", help="Only pieces written in this class.")
@click.option("--genre", "genre_name", help="Only this genre.")
@click.option("--half-term", help="Only this half term.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--rebuild", is_flag=True, help="Rebuild the search index from the texts.")
@click.option("--json", "as_json", is_flag=True)
def search(archive, query, pupil_id, class_name, genre_name, half_term, limit, rebuild,
           as_json):
    """Find pieces by their words: scanflow search dragon --class 3A"""
    from dataclasses import asdict

    from scanflow.archive.search import rebuild as rebuild_index
    from scanflow.archive.search import search as run_search
    from scanflow.errors import UsageError

    if rebuild:
        click.echo(f"Search index rebuilt: {rebuild_index(archive)} piece(s).")
        if not query:
            return
    if not query:
        raise UsageError("Give the words to search for.", hint="e.g. scanflow search dragon")
    hits = run_search(archive, query, pupil_id=pupil_id, class_name=class_name,
                      genre=genre_name, half_term=half_term, limit=limit)
    if as_json:
        click.echo(json.dumps([asdict(h) | {"snippet": h.snippet_text("**", "**")}
                               for h in hits], ensure_ascii=False, indent=2))
        return
    for h in hits:
        click.echo(f"piece {h.piece_id:>5}  {h.pupil_name:<22} {h.class_name or '-':<5} "
                   f"{h.half_term:<18} {h.genre:<11} {h.snippet_text('[', ']')}")
    click.echo(f"{len(hits)} piece(s)" + (" (more: raise --limit)" if len(hits) == limit else "")
               + (". Read one with: scanflow show PIECE" if hits else "."))


@cli.command("backup")
@archive_option
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
def backup_cmd(archive, dest):
    """Copy the archive to a NEW folder DEST with a checksum manifest (safe while in use)."""
    from scanflow.archive.backup import backup as run_backup
    from scanflow.progress import progress_for

    r = run_backup(archive, dest, progress=progress_for())
    click.echo(f"Backup written to {r.path}: {r.pupils} pupils, {r.pieces} pieces, "
               f"{r.images} images, {(r.total_bytes) / 1e6:.1f} MB in {r.seconds:.1f}s.")
    for warning in r.warnings:
        click.echo(f"  warning: {warning}", err=True)
    click.echo(f"Check it any time with: cd {r.path} && sha256sum -c --quiet MANIFEST.sha256")


@cli.command("restore")
@click.argument("backup_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--archive", "archive_path", type=click.Path(file_okay=False, path_type=Path),
              envvar="SCANFLOW_ARCHIVE", default="scanflow-archive", show_default=True,
              help="Where to restore to (or set SCANFLOW_ARCHIVE).")
@click.option("--force", is_flag=True, help="Replace an archive that holds data (it is kept, "
              "renamed, beside the restored one).")
def restore_cmd(backup_dir, archive_path, force):
    """Restore a backup after checking every file against its manifest."""
    from scanflow.archive.backup import restore as run_restore

    r = run_restore(backup_dir, archive_path, force=force)
    click.echo(f"Restored {backup_dir} to {r.archive}: {r.pupils} pupils, {r.pieces} pieces, "
               f"{r.images} images.")
    if r.kept_old:
        click.echo(f"The archive that was there is kept at {r.kept_old}.")


@cli.command("check")
@archive_option
@click.option("--repair", is_flag=True, help="Fix what is safe to fix (see --help text).")
@click.option("--quick", is_flag=True, help="Faster: files present, no checksums.")
@click.option("--from-backup", type=click.Path(file_okay=False, path_type=Path),
              help="With --repair: copy missing or damaged images back from this backup.")
@click.option("--compact", is_flag=True, help="First re-encode page images stored by older "
              "versions (lossless PNG) as lossless WebP where smaller, checked pixel by pixel.")
def check_cmd(archive, repair, quick, from_backup, compact):
    """Is the archive whole? Database, every image (present, right checksum), no orphans,
    search index. --repair: rebuild the index and lost OCR images, clear caches, move
    orphan images to quarantine/, and (with --from-backup) copy back lost scans."""
    from scanflow.archive.check import check_archive, format_check
    from scanflow.archive.images import compact_masters
    from scanflow.intake.rebuild import rebuild_ocr_image
    from scanflow.progress import progress_for

    if compact:
        done = compact_masters(archive, progress=progress_for())
        click.echo(f"Re-encoded {done.reencoded} older page image(s) losslessly "
                   f"({done.bytes_before / 1e6:.1f} MB -> {done.bytes_after / 1e6:.1f} MB); "
                   f"kept {done.kept} as they were.")
        for problem in done.problems:
            click.echo(problem)
    report = check_archive(archive, repair=repair, quick=quick, from_backup=from_backup,
                           progress=progress_for(), rebuild=rebuild_ocr_image)
    click.echo(format_check(report))
    if not report.ok:
        sys.exit(int(ExitCode.archive))
