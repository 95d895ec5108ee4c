"""``scanflow model``: the school's own recogniser versions (train, list, use, rollback)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from scanflow.cli.base import archive_option, cli


@cli.group()
def model():
    """Teach the recogniser the school's handwriting from the teachers' corrections."""


def _pct(value) -> str:
    return "-" if value is None else f"{value:.1%}"


@model.command("train")
@archive_option
@click.option("--extra", "extra_dirs", multiple=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Also train on this folder of <stem>.png + <stem>.gt.txt lines (repeatable).")
@click.option("--holdout", type=float, default=0.2, show_default=True,
              help="Share of the pupils whose lines are held back to judge the new model.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Passes over the lines (default: 3 to 12, fewer the more lines there are).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for training (default: all cores).")
@click.option("--half-term", help="Only lines of this half term's pieces.")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Stop after N steps (a quick trial).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def train(archive, extra_dirs, holdout, epochs, threads, half_term, max_steps, as_json):
    """Fine-tune the recogniser on the reviewed pieces' lines.

    A share of the pupils is held back; the new version becomes the default only if it
    reads their lines better than the current one. Ctrl+C stops; running the same
    command again resumes from the last checkpoint.
    """
    import os

    from scanflow.ocr.finetune import TrainSettings
    from scanflow.progress import progress_for
    from scanflow.training.school import train_school_model

    settings = TrainSettings(epochs=epochs,
                             threads=threads or os.cpu_count() or 1,
                             max_steps=max_steps)
    report = train_school_model(archive, extra_dirs=extra_dirs, holdout=holdout,
                                settings=settings, half_term=half_term,
                                progress=progress_for(), log=lambda m: click.echo(m, err=True))
    v = report.version
    if as_json:
        click.echo(json.dumps({"version": v.id, "file": v.file, "became_default":
                               report.became_default, "base_model": report.base_model,
                               "cer_before": round(report.cer_before, 4),
                               "cer_after": round(report.cer_after, 4),
                               "train_lines": report.train_lines,
                               "heldout_lines": report.heldout_lines,
                               "extra_lines": report.extra_lines, "steps": report.steps,
                               "train_seconds": report.seconds}))
        return
    click.echo(f"Model {v.name} ({v.file}): held-back lines of {report.heldout_pupils} pupil(s) "
               f"read with {_pct(report.cer_before)} CER by {report.base_model}, "
               f"{_pct(report.cer_after)} by {v.name}.")
    if report.became_default:
        click.echo(f"{v.name} reads new pages from now on (undo: scanflow model rollback).")
    else:
        click.echo(f"{v.name} is not better, so {report.base_model} stays in use "
                   f"(try it anyway: scanflow model use {v.id}).")


@model.command("list")
@archive_option
@click.option("--json", "as_json", is_flag=True)
def list_cmd(archive, as_json):
    """The recogniser versions, with the CER each had on its held-back lines."""
    from scanflow.archive.models import list_models

    versions = list_models(archive)
    if as_json:
        click.echo(json.dumps([{k: getattr(v, k) for k in (
            "id", "file", "status", "active", "base_model", "created_at", "train_lines",
            "heldout_lines", "extra_lines", "cer_before", "cer_after", "train_seconds",
            "erased_at")}
            for v in versions]))
        return
    active = any(v.active for v in versions)
    click.echo(f"{'':2}{'version':<8} {'created':<20} {'lines':>6} {'held':>5} "
               f"{'CER before':>10} {'after':>7}  status")
    click.echo(f"{'*' if not active else '':2}{'stock':<8} {'(rapidocr wheel)':<20}")
    for v in versions:
        click.echo(f"{'*' if v.active else '':2}{v.name:<8} {v.created_at[:19]:<20} "
                   f"{v.train_lines:>6} {v.heldout_lines:>5} {_pct(v.cer_before):>10} "
                   f"{_pct(v.cer_after):>7}  {v.state}")
    click.echo("* reads new pages")


@model.command("use")
@archive_option
@click.argument("version")
def use(archive, version):
    """Read new pages with VERSION (a number from 'scanflow model list', or 'stock')."""
    from scanflow.archive.models import use_model

    chosen = use_model(archive, version)
    click.echo(f"New pages will be read with {chosen.name if chosen else 'the stock model'}.")


@model.command("rollback")
@archive_option
def rollback_cmd(archive):
    """Stop using the current version and go back to the one before it."""
    from scanflow.archive.models import rollback

    retired, now_active = rollback(archive)
    click.echo(f"{retired.name} retired; new pages will be read with "
               f"{now_active.name if now_active else 'the stock model'}.")
