"""The ``scanflow`` command: a thin click layer over the importable API.

Each command parses options, calls one library function, and prints its result. Known
errors (:class:`scanflow.errors.ScanflowError`) become one line on stderr and an exit code;
a traceback appears only with ``scanflow --debug``. Results go to stdout, progress and
logs to stderr.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path

import click

from scanflow.errors import ExitCode, ScanflowError


class ScanflowGroup(click.Group):
    """Turns known errors into one clear line and an exit code, for every subcommand."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ScanflowError as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(int(ExitCode.ctrl_c))
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:
            if (ctx.obj or {}).get("debug"):
                raise
            click.echo(f"Error: unexpected {type(exc).__name__}: {exc}. This is a bug in "
                       "scanflow; run the command again with 'scanflow --debug ...' and report "
                       "what it prints.", err=True)
            ctx.exit(int(ExitCode.other_error))


def archive_option(fn):
    """``--archive PATH``, defaulting to $SCANFLOW_ARCHIVE, else ./scanflow-archive."""

    @click.option("--archive", "archive_path", type=click.Path(file_okay=False, path_type=Path),
                  envvar="SCANFLOW_ARCHIVE", default="scanflow-archive", show_default=True,
                  help="The archive folder (or set SCANFLOW_ARCHIVE).")
    @functools.wraps(fn)
    def wrapper(*args, archive_path, **kwargs):
        from scanflow.archive import open_archive

        archive = open_archive(archive_path)
        try:
            return fn(archive, *args, **kwargs)
        finally:
            archive.close()

    return wrapper


@click.group(cls=ScanflowGroup)
@click.version_option(package_name="scanflow")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("-v", "--verbose", count=True, help="More log detail on stderr (-vv for debug).")
@click.pass_context
def cli(ctx, debug, verbose):
    """scanflow: scanned English assessment books in, each pupil's writing archived.

    \b
    Typical half term:
      scanflow init
      scanflow roster import pupils.csv
      scanflow ingest scans/ --half-term 2026-27-autumn-1 --genre narrative
      scanflow unassigned            # pages no pupil could be found for
      scanflow pieces                # what is waiting for review
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    level = logging.DEBUG if (debug or verbose > 1) else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(stream=sys.stderr, level=level, format="%(levelname)s: %(message)s",
                        force=True)


@cli.command()
@click.argument("archive_path", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--archive", "archive_opt", type=click.Path(file_okay=False, path_type=Path),
              envvar="SCANFLOW_ARCHIVE", default=None, help="Same as ARCHIVE_PATH.")
def init(archive_path, archive_opt):
    """Create an archive (a folder with scanflow.db and images/). Safe to run again."""
    from scanflow.archive import default_location, init_archive

    path = archive_path or archive_opt or default_location()
    archive = init_archive(path)
    archive.close()
    click.echo(f"Archive ready at {path}")


# --- roster ---


@cli.group()
def roster():
    """Pupils: import the class lists your MIS exports."""


@roster.command("import")
@archive_option
@click.argument("csv_file", type=click.Path(path_type=Path))
def roster_import(archive, csv_file):
    """Load or update pupils from a CSV (UPN, forename, surname, class, year group)."""
    from scanflow.roster import import_roster

    report = import_roster(archive, csv_file)
    click.echo(f"{csv_file}: {report.added} added, {report.updated} updated, "
               f"{report.unchanged} unchanged, {len(report.rejected)} rows not used")
    for line, reason in report.rejected:
        click.echo(f"  line {line}: {reason}", err=True)


@roster.command("list")
@archive_option
@click.option("--class", "class_name", help="Only this class.")
def roster_list(archive, class_name):
    """List pupils."""
    from scanflow.roster import list_pupils

    for p in list_pupils(archive, class_name):
        click.echo(f"{p.pupil_id}  {p.display_name:<28} class {p.class_name or '-':<5} "
                   f"year {p.year_group if p.year_group is not None else '-'}")


# --- genres ---


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
    from scanflow.pieces import add_genre

    click.echo(f"Genre '{add_genre(archive, name, label)}' is available.")


# --- ingest ---


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
@click.option("--dpi", type=int, default=300, show_default=True, help="PDF rendering resolution.")
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
    from scanflow.ingest import IngestOptions, ingest as run_ingest, summary_dict
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
    s += report.codes.lines() if report.codes else []  # cover sheets (scanflow.codes)
    s.append("Next:")
    if report.unassigned:
        s.append(f"  {report.unassigned} page(s) have no pupil yet: scanflow unassigned, then "
                 "scanflow assign PAGE --pupil ID")
    s.append("  scanflow pieces             list the pieces waiting for review")
    s.append("  scanflow show PIECE         read a piece's transcription")
    if report.failed_pages:
        s.append("  fix or rescan the failed pages, then run the same ingest with --retry-failed")
    return "\n".join(s)


# --- pieces and unassigned pages ---


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

    from scanflow.pieces import list_pieces

    rows = list_pieces(archive, class_name=class_name, half_term=half_term, genre=genre_name,
                       status=status)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    for r in rows:
        conf = f"{r.mean_confidence:.0f}%" if r.mean_confidence is not None else "-"
        click.echo(f"{r.id:>5}  {r.pupil_name:<24} {r.class_name or '-':<4} {r.half_term:<18} "
                   f"{r.genre:<11} {r.pages}p {r.words:>4}w conf {conf:>4}  {r.status}")
    if not rows:
        click.echo("No pieces yet. Ingest scans with: scanflow ingest PATH --half-term ... --genre ...")


@cli.command()
@archive_option
@click.argument("piece_id", type=int)
def show(archive, piece_id):
    """Print a piece's details and its text, page by page."""
    from scanflow.pieces import get_piece, piece_text

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
    from scanflow.pieces import list_unassigned

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
    from scanflow.pieces import assign_pages

    piece_id = assign_pages(archive, list(page_ids), pupil, half_term=half_term, genre=genre_name)
    click.echo(f"{len(page_ids)} page(s) added to piece {piece_id}.")


@cli.command()
@archive_option
@click.argument("page_ids", nargs=-1, type=int, required=True)
def discard(archive, page_ids):
    """Take pages off the unassigned list (they stay in the archive, marked discarded)."""
    from scanflow.pieces import discard_pages

    discard_pages(archive, list(page_ids))
    click.echo(f"{len(page_ids)} page(s) discarded.")


@cli.command()
@archive_option
def status(archive):
    """What the archive holds: pupils, pieces, pages, and what needs doing."""
    from scanflow.summary import archive_status

    for line in archive_status(archive):
        click.echo(line)


@cli.command()
@archive_option
@click.argument("name", required=False)
def engine(archive, name):
    """Show or set the archive's OCR engine (a run can still choose with --engine)."""
    from scanflow.ingest import DEFAULT_ENGINE, set_default_engine
    from scanflow.ocr.engine import available_engines

    if name:
        set_default_engine(archive, name)
    current = archive.setting("engine") or DEFAULT_ENGINE
    for known in available_engines():
        click.echo(f"{'*' if known == current else ' '} {known}")


@cli.command()
@archive_option
@click.option("--half-term", help="Only this half term.")
@click.option("--class", "class_name", help="Only this class.")
@click.option("--json", "as_json", is_flag=True)
def accuracy(archive, half_term, class_name, as_json):
    """How far recognition was from the teachers' corrected transcriptions.

    Per engine and per class, over the pieces a teacher has saved a transcription for:
    character and word error rates of the OCR text against the corrected text.
    """
    from scanflow.accuracy import archive_accuracy

    report = archive_accuracy(archive, half_term=half_term, class_name=class_name)
    rows = [{"engine": g.engine, "class": g.class_name, "pieces": g.pieces, "pages": g.pages,
             "cer": round(g.cer, 4), "wer": round(g.wer, 4)}
            for g in report.engines + report.groups]
    if as_json:
        click.echo(json.dumps({"corrected_pieces": report.corrected_pieces,
                               "uncorrected_pieces": report.uncorrected_pieces,
                               "groups": rows}, indent=2))
        return
    click.echo(f"{report.corrected_pieces} corrected piece(s) compared "
               f"({report.uncorrected_pieces} not corrected yet, left out).")
    if not rows:
        click.echo("Nothing to compare yet: correct some pieces in the review app first "
                   "(scanflow serve).")
        return
    click.echo(f"{'engine':<10} {'class':<6} {'pieces':>6} {'pages':>6} {'CER':>7} {'WER':>7}")
    for r in rows:
        click.echo(f"{r['engine']:<10} {r['class']:<6} {r['pieces']:>6} {r['pages']:>6} "
                   f"{r['cer']:>7.1%} {r['wer']:>7.1%}")


# --- review commands ---


@cli.command()
@archive_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but 127.0.0.1/::1 lets other computers "
                   "connect, and then everyone must log in.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--require-login", is_flag=True,
              help="Ask for a login even on this computer (needs an account).")
@click.option("--threads", type=click.IntRange(1, 32), default=4, show_default=True,
              help="Requests served at once.")
def serve(archive, host, port, require_login, threads):
    """Start the review web app and print its address (Ctrl+C stops it)."""
    from scanflow.review.server import serve as run_server

    run_server(archive.path, host, port, require_login=require_login, threads=threads,
               echo=click.echo)


@cli.group()
def user():
    """Accounts for the review web app: office, teacher, lead."""


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@user.command("add")
@archive_option
@click.argument("name")
@click.option("--role", type=click.Choice(["office", "teacher", "lead"]), required=True,
              help="office: assign pages; teacher: review their classes; lead: everything.")
@click.option("--class", "classes", multiple=True, help="A teacher's class (repeat for more).")
@click.option("--display-name", help="How the name is shown, e.g. 'Mrs Khan'.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add(archive, name, role, classes, display_name, password_stdin):
    """Create an account (asks for its password)."""
    from scanflow.review.accounts import add_user, check_password

    password = _new_password(password_stdin)
    check_password(password, name)
    u = add_user(archive, name, role, password, classes=list(classes),
                 display_name=display_name)
    known = {r[0] for r in archive.db.execute("SELECT DISTINCT class_name FROM pupils")}
    unknown = [c for c in u.classes if c not in known]
    click.echo(f"Account '{u.username}' ({u.role}{': ' + ', '.join(u.classes) if u.classes else ''}) "
               "created.")
    if unknown:
        click.echo(f"Note: no pupil is in class {', '.join(unknown)} yet; check the spelling "
                   "against: scanflow roster list", err=True)


@user.command("list")
@archive_option
def user_list(archive):
    """List accounts."""
    from scanflow.review.accounts import list_users

    rows = list_users(archive)
    for u, last, removed in rows:
        state = f"removed {removed[:10]}" if removed else \
            f"last login {last[:16].replace('T', ' ')}" if last else "never logged in"
        click.echo(f"{u.username:<20} {u.role:<8} {', '.join(u.classes) or '-':<14} {state}")
    if not rows:
        click.echo("No accounts. Create one with: scanflow user add NAME --role lead")


@user.command("passwd")
@archive_option
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_passwd(archive, name, password_stdin):
    """Set a new password (logs the account out everywhere, lifts a lock)."""
    from scanflow.review.accounts import set_password

    set_password(archive, name, _new_password(password_stdin))
    click.echo(f"Password for '{name}' changed.")


@user.command("classes")
@archive_option
@click.argument("name")
@click.option("--class", "classes", multiple=True, required=True,
              help="The teacher's classes (replaces the old list).")
def user_classes(archive, name, classes):
    """Replace a teacher's classes."""
    from scanflow.review.accounts import set_classes

    u = set_classes(archive, name, list(classes))
    click.echo(f"'{u.username}' now reviews {', '.join(u.classes)}.")


@user.command("remove")
@archive_option
@click.argument("name")
def user_remove(archive, name):
    """Remove an account (it is logged out; its name stays in the history)."""
    from scanflow.review.accounts import remove_user

    remove_user(archive, name)
    click.echo(f"Account '{name}' removed.")


# --- scoring commands ---


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

    from scanflow.archive import current_user
    from scanflow.scoring import format_score_report, parse_assignment, score_piece

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


# --- sheets commands ---


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
    from scanflow.sheets import print_sheets

    count = print_sheets(archive, output, half_term=half_term, genre=genre_name,
                         class_name=class_name, pupil_ids=list(pupil_ids) or None,
                         labels=labels, rubric_dir=rubric_dir)
    what = "label(s)" if labels else "cover sheet(s)"
    click.echo(f"{output}: {count} {what} for {class_name or ', '.join(pupil_ids)}, "
               f"{half_term} {genre_name}. Print at 100% (actual size), not 'fit to page'.")


@cli.command()
@archive_option
@click.argument("piece_id", type=int)
def versions(archive, piece_id):
    """List the versions of a piece (a rescan of the same pupil, half term and genre)."""
    from scanflow.versions import list_versions

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
    from scanflow.versions import keep_version

    others = keep_version(archive, piece_id)
    click.echo(f"Kept piece {piece_id}." + (
        f" Discarded: {', '.join(map(str, others))} (undo with scanflow keep PIECE)."
        if others else ""))


@cli.command("discard-version")
@archive_option
@click.argument("piece_id", type=int)
def discard_version_cmd(archive, piece_id):
    """Mark one version of a piece discarded (kept in the archive; undo with keep)."""
    from scanflow.versions import discard_version

    discard_version(archive, piece_id)
    click.echo(f"Piece {piece_id} discarded. Undo with: scanflow keep {piece_id}")


@roster.command("leave")
@archive_option
@click.argument("pupil_id")
@click.option("--date", "left_on", required=True, help="The day they left, YYYY-MM-DD.")
def roster_leave(archive, pupil_id, left_on):
    """Record that a pupil has left the school (their writing stays in the archive)."""
    from scanflow.roster import mark_left

    pupil = mark_left(archive, pupil_id, left_on)
    click.echo(f"{pupil.display_name} ({pupil.pupil_id}) left on {pupil.left_on}. "
               "Their pieces stay in the archive.")


@roster.command("return")
@archive_option
@click.argument("pupil_id")
def roster_return(archive, pupil_id):
    """Undo 'roster leave': the pupil is on roll again."""
    from scanflow.roster import mark_returned

    pupil = mark_returned(archive, pupil_id)
    click.echo(f"{pupil.display_name} ({pupil.pupil_id}) is on roll again.")


@roster.command("sync")
@archive_option
@click.argument("csv_file", type=click.Path(path_type=Path))
@click.option("--left-on", required=True, help="Leaving date for pupils missing from the "
              "file, YYYY-MM-DD.")
def roster_sync(archive, csv_file, left_on):
    """Import a WHOLE-SCHOOL export and mark pupils missing from it as having left."""
    from scanflow.roster import import_roster

    report = import_roster(archive, csv_file, mark_missing_as_left=left_on)
    click.echo(f"{csv_file}: {report.added} added, {report.updated} updated, "
               f"{report.unchanged} unchanged, {len(report.rejected)} rows not used, "
               f"{len(report.left)} marked as left, {len(report.returned)} back on roll")
    for line, reason in report.rejected:
        click.echo(f"  line {line}: {reason}", err=True)
    if report.left:
        click.echo("  left: " + ", ".join(report.left))


# --- archive commands ---


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

    from scanflow.portfolio import format_portfolio, pupil_portfolio

    p = pupil_portfolio(archive, pupil_id, rubric_dir=rubric_dir)
    if chart:
        from scanflow.charts import growth_chart, save_chart

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
    from scanflow.pdfexport import portfolio_pdf

    portfolio_pdf(archive, pupil_id, output, rubric_dir=rubric_dir)
    click.echo(f"{output}: portfolio of {pupil_id} ({output.stat().st_size // 1024} KB).")


@pupil.command("erase")
@archive_option
@click.argument("pupil_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
def pupil_erase(archive, pupil_id, yes):
    """Erase a pupil completely: every row, image and derived file (cannot be undone)."""
    from scanflow.erase import erase_pupils, erasure_plan

    plan = erasure_plan(archive, pupil_id)
    click.echo(f"This permanently deletes {plan.pupil.display_name} ({pupil_id}): "
               f"{plan.pieces} piece(s), {plan.pages} page(s), {plan.images} image file(s), "
               "their transcriptions, levels and history. Backups made before now still "
               "hold them.", err=True)
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
    from scanflow.erase import leavers_before, purge as run_purge

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
    from scanflow.placement import read_class_map, rollover

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

    from scanflow.classview import class_view, format_view, year_view
    from scanflow.errors import UsageError

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

    from scanflow.errors import UsageError
    from scanflow.search import rebuild as rebuild_index, search as run_search

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


@cli.group()
def export():
    """Data out: levels CSV for the MIS, ALTO XML, searchable PDF."""


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
    from scanflow.export import export_levels_csv

    n = export_levels_csv(archive, output, half_term=half_term, class_name=class_name,
                          year_group=year_group, genre=genre_name,
                          include_unscored=include_unscored)
    click.echo(f"{output}: {n} row(s).")


@export.command("alto")
@archive_option
@click.argument("piece_id", type=int)
@click.option("-o", "--output", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder to write into.")
@click.option("--no-images", is_flag=True, help="Only the XML, not the page images.")
def export_alto(archive, piece_id, out_dir, no_images):
    """ALTO XML per page (line and word boxes), with the page images, for HTR tools."""
    from scanflow.alto import write_alto

    paths = write_alto(archive, piece_id, out_dir, images=not no_images)
    click.echo(f"{out_dir}: " + ", ".join(p.name for p in paths))


@export.command("pdf")
@archive_option
@click.argument("piece_id", type=int)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The PDF to write.")
def export_pdf(archive, piece_id, output):
    """A searchable PDF of a piece: page images with the final text as an invisible layer."""
    from scanflow.pdfexport import searchable_pdf

    searchable_pdf(archive, piece_id, output)
    click.echo(f"{output}: piece {piece_id} ({output.stat().st_size // 1024} KB).")


@cli.command("backup")
@archive_option
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
def backup_cmd(archive, dest):
    """Copy the archive to a NEW folder DEST with a checksum manifest (safe while in use)."""
    from scanflow.backup import backup as run_backup
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
    from scanflow.backup import restore as run_restore

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
def check_cmd(archive, repair, quick, from_backup):
    """Is the archive whole? Database, every image (present, right checksum), no orphans,
    search index. --repair: rebuild the index, clear caches, move orphan images to
    quarantine/, and (with --from-backup) copy back lost images."""
    from scanflow.check import check_archive, format_check
    from scanflow.progress import progress_for

    report = check_archive(archive, repair=repair, quick=quick, from_backup=from_backup,
                           progress=progress_for())
    click.echo(format_check(report))
    if not report.ok:
        sys.exit(int(ExitCode.archive))


# --- debug commands ---


def _key_value(pair: str) -> tuple[str, object]:
    """``KEY=VALUE`` from an option; the value as JSON when it parses (numbers, true)."""
    import json

    key, sep, value = pair.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"expected KEY=VALUE, got '{pair}'")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def _preprocess_settings(overrides, **explicit):
    """Default preprocessing settings changed by ``-S KEY=VALUE`` options and ``explicit``
    (options given their own flag; ``None`` means not given)."""
    import dataclasses

    from scanflow.errors import UsageError
    from scanflow.ocr.preprocess import PreprocessSettings

    changes = dict(_key_value(o) for o in overrides)
    changes.update({k: v for k, v in explicit.items() if v is not None})
    known = {f.name for f in dataclasses.fields(PreprocessSettings)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise UsageError(f"Unknown preprocessing setting '{unknown[0]}'.",
                         hint=f"Use one of: {', '.join(sorted(known))}.")
    return dataclasses.replace(PreprocessSettings(), **changes)


@cli.command("debug-page")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True,
              help="Which page of a PDF or multi-page TIFF.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the step images and steps.json (created if missing).")
@click.option("--engine", "engine_name", default=None,
              help="Also read the page with this engine and draw the lines it found.")
@click.option("-S", "--setting", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Preprocessing setting, repeatable (e.g. -S contrast=clahe -S dewarp=false).")
def debug_page_cmd(file, page, out_dir, engine_name, overrides):
    """Show what each cleaning step does to one page: a numbered PNG per step and
    steps.json with every step's settings and result."""
    from scanflow.ocr.debug import debug_page

    settings = _preprocess_settings(overrides)
    engine = None
    if engine_name:
        from scanflow.ocr.engine import get_engine

        engine = get_engine(engine_name)
    report = debug_page(file, out_dir, page=page, settings=settings, engine=engine)
    for step in report.steps:
        result = ", ".join(f"{k}={v}" for k, v in step["result"].items() if k != "bands")
        click.echo(f"{step['name']:<14} {result}")
    click.echo(f"Wrote {len(report.files)} images and steps.json to {report.out_dir}")


# --- eval command ---


@cli.command("eval")
@click.argument("data_dir", type=click.Path(path_type=str))
@click.option("--engine", "engine_name", default="rapidocr", show_default=True,
              help="OCR engine to measure (tesseract, rapidocr).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Evaluate only N image pairs, spread evenly over the folder.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--binarise", type=click.Choice(["otsu", "sauvola", "none"]), default=None,
              help="Binarisation before OCR (default: the preprocessing default).")
@click.option("--deskew/--no-deskew", default=None, help="Straighten skewed pages.")
@click.option("--crop/--no-crop", default=None, help="Crop to the sheet of paper.")
@click.option("--flatten/--no-flatten", default=None, help="Flatten uneven lighting.")
@click.option("--remove-rules/--no-remove-rules", default=None,
              help="Remove ruled lines and margins.")
@click.option("--orient/--no-orient", default=None,
              help="Turn pages upright (from line shape and the recogniser; see orientation.py).")
@click.option("-O", "--engine-option", "engine_options", multiple=True, metavar="KEY=VALUE",
              help="Engine option, repeatable (e.g. -O source=binary -O text_score=0.5).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (engine threads = cores / jobs).")
@click.option("-S", "--setting", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Any preprocessing setting, repeatable (e.g. -S dewarp=false); "
                   "'scanflow debug-page' shows what each does.")
@click.option("--per-image", is_flag=True, help="With --json, include every image's result.")
def eval_command(data_dir, engine_name, limit, as_json, binarise, deskew, crop, flatten,
                 remove_rules, orient, engine_options, jobs, overrides, per_image):
    """Measure OCR accuracy on DATA_DIR: images with <stem>.gt.txt transcriptions.

    Reports corpus CER and WER (exact, ignoring case, ignoring case and punctuation),
    the worst images and the time per image.
    """
    import json
    import sys

    from scanflow.errors import ScanflowError
    from scanflow.evaluate import evaluate

    settings = _preprocess_settings(overrides, binarise=binarise, deskew=deskew, crop=crop,
                                    flatten=flatten, remove_rules=remove_rules, orient=orient)
    options = dict(_key_value(o) for o in engine_options)

    def progress(done, total, stem):
        click.echo(f"\r{done}/{total} {stem[:40]:<40}", nl=False, err=True)
        if done == total:
            click.echo("", err=True)

    try:
        report = evaluate(data_dir, engine_name, preprocess=settings, limit=limit, jobs=jobs,
                          engine_options=options,
                          progress=progress if sys.stderr.isatty() else None)
    except ScanflowError as err:
        failure = click.ClickException(str(err))
        failure.exit_code = int(err.exit_code)
        raise failure from None
    if as_json:
        click.echo(json.dumps(report.to_dict(per_image=per_image), ensure_ascii=False))
    else:
        click.echo(report.format())


# --- rubric commands ---


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
    from scanflow.rubric import check_rubric, summarize_problems

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
    from scanflow.rubric import (band_for_year, default_rubric_dir, format_band,
                                 format_overview, load_rubric_for_genre, parse_year_group)

    loaded = load_rubric_for_genre(rubric_dir or default_rubric_dir(), genre_name)
    if year is None:
        click.echo(format_overview(loaded))
    else:
        click.echo(format_band(loaded, band_for_year(loaded, parse_year_group(year))))


def main():
    cli(obj={})
