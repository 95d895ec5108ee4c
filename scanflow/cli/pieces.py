"""Commands on pieces of writing: list and show them, link unassigned pages, choose
between versions of a rescanned piece.
"""

from __future__ import annotations

import json

import click

from scanflow.cli.base import archive_option, cli


@cli.command()
@archive_option
@click.option("--class", "class_name", help="Only this class.")
@click.option("--half-term", help="Only this half term.")
@click.option("--genre", "genre_name", help="Only this genre.")
@click.option("--status", type=click.Choice(["awaiting_review", "reviewed"]))
@click.option("--json", "as_json", is_flag=True)
def pieces(archive, class_name, half_term, genre_name, status, as_json):
    """List pieces of writing."""
    from dataclasses import asdict

    from scanflow.archive.pieces import check_piece_filters, list_pieces

    class_name, half_term, genre_name = check_piece_filters(
        archive, class_name=class_name, half_term=half_term, genre=genre_name)
    rows = list_pieces(archive, class_name=class_name, half_term=half_term, genre=genre_name,
                       status=status)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    for r in rows:
        conf = f"{r.mean_confidence:.0f}%" if r.mean_confidence is not None else "-"
        click.echo(f"{r.id:>5}  {r.pupil_name:<24} {r.class_name or '-':<4} {r.half_term:<18} "
                   f"{r.genre:<11} {r.pages}p {r.words:>4}w conf {conf:>4}  {r.status}")
    if not rows and (class_name or half_term or genre_name or status):
        click.echo("No pieces match these filters.")
    elif not rows:
        click.echo("No pieces yet. Ingest scans with: scanflow ingest PATH --half-term ... --genre ...")


@cli.command()
@archive_option
@click.argument("piece_id", type=int)
def show(archive, piece_id):
    """Print a piece's details and its text, page by page."""
    from scanflow.archive.pieces import get_piece, piece_text

    p = get_piece(archive, piece_id)
    click.echo(f"Piece {p.id}: {p.pupil_name} ({p.pupil_id}), class {p.class_name or '-'}, "
               f"{p.half_term}, {p.genre}, version {p.version}, {p.status}")
    for position, text in piece_text(archive, piece_id):
        click.echo(f"--- page {position} ---")
        click.echo(text)


@cli.command()
@archive_option
def unassigned(archive):
    """Pages waiting to be linked to a pupil."""
    from scanflow.archive.pieces import list_unassigned

    rows = list_unassigned(archive)
    for r in rows:
        click.echo(f"page {r.id:>5}  {r.file_name} p{r.page_number}  {r.half_term} {r.genre}  "
                   f"{r.status}  \"{r.preview}\"")
        if r.image_path:
            click.echo(f"            image: {archive.images_dir / r.image_path}")
    if rows:
        click.echo("Link them with: scanflow assign PAGE [PAGE...] --pupil ID "
                   "(or take one off the list: scanflow discard PAGE)")
    else:
        click.echo("No pages are waiting for a pupil.")


@cli.command()
@archive_option
@click.argument("page_ids", nargs=-1, type=int, required=True)
@click.option("--pupil", required=True, help="The pupil id (e.g. UPN).")
@click.option("--half-term", help="Default: the half term the page was ingested with.")
@click.option("--genre", "genre_name", help="Default: the genre the page was ingested with.")
def assign(archive, page_ids, pupil, half_term, genre_name):
    """Link unassigned pages to a pupil's piece (in the order given)."""
    from scanflow.archive.pieces import assign_pages

    piece_id = assign_pages(archive, list(page_ids), pupil, half_term=half_term, genre=genre_name)
    click.echo(f"{len(page_ids)} page(s) added to piece {piece_id}.")


@cli.command()
@archive_option
@click.argument("page_ids", nargs=-1, type=int, required=True)
def discard(archive, page_ids):
    """Take pages off the unassigned list (they stay in the archive, marked discarded)."""
    from scanflow.archive.pieces import discard_pages

    discard_pages(archive, list(page_ids))
    click.echo(f"{len(page_ids)} page(s) discarded.")


@cli.command()
@archive_option
@click.argument("piece_id", type=int)
def versions(archive, piece_id):
    """List the versions of a piece (a rescan of the same pupil, half term and genre)."""
    from scanflow.archive.versions import list_versions

    rows = list_versions(archive, piece_id)
    for v in rows:
        reviewed = f" by {v.reviewed_by} {v.reviewed_at}" if v.reviewed_at else ""
        click.echo(f"piece {v.piece_id:>5}  version {v.version}  {v.status}{reviewed}  "
                   f"{v.pages} page(s) {v.words} words  scanned {v.created_at} "
                   f"(batch {', '.join(map(str, v.batches)) or '-'})"
                   f"{'  corrected' if v.corrected else ''}")
    if len([v for v in rows if v.status != "discarded"]) > 1:
        click.echo("Keep one with: scanflow keep PIECE (the others are discarded, not deleted)")


@cli.command()
@archive_option
@click.argument("piece_id", type=int)
def keep(archive, piece_id):
    """Keep this version of a piece; its other versions are marked discarded."""
    from scanflow.archive.versions import keep_version

    others = keep_version(archive, piece_id)
    click.echo(f"Kept piece {piece_id}." + (
        f" Discarded: {', '.join(map(str, others))} (undo with scanflow keep PIECE)."
        if others else ""))


@cli.command("discard-version")
@archive_option
@click.argument("piece_id", type=int)
def discard_version_cmd(archive, piece_id):
    """Mark one version of a piece discarded (kept in the archive; undo with keep)."""
    from scanflow.archive.versions import discard_version

    discard_version(archive, piece_id)
    click.echo(f"Piece {piece_id} discarded. Undo with: scanflow keep {piece_id}")
