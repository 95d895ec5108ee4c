"""The ``scanflow`` group itself: known errors become one line and an exit code, and the
shared ``--archive`` option.
"""

from __future__ import annotations

import functools
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
        from scanflow.archive.store import open_archive

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
