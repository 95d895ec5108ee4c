"""Commands that measure recognition: against ground truth (``eval``), against the
teachers' corrections (``accuracy``), and a page's cleaning steps (``debug-page``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from scanflow.cli.base import archive_option, cli


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
    from scanflow.evaluation.accuracy import archive_accuracy

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


def _model_option(name: str, archive_path: Path, engine_name: str) -> dict:
    """Engine options that make ``engine_name`` read with model ``name``."""
    from scanflow.archive.models import get_model, model_path
    from scanflow.archive.store import open_archive
    from scanflow.errors import UsageError

    if engine_name != "rapidocr":
        raise UsageError(f"--model works with the rapidocr engine, not {engine_name}.",
                         hint="Leave out --engine, or use --engine rapidocr.")
    if name.lower().endswith(".onnx"):
        if not Path(name).is_file():
            raise UsageError(f"The model file {name} does not exist.")
        return {"rec_model": name}
    archive = open_archive(archive_path)
    try:
        version = get_model(archive, name)
        return {"rec_model": str(model_path(archive, version))} if version else {}
    finally:
        archive.close()


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
    from scanflow.evaluation.debug import debug_page

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
@click.option("--model", "model_name", default=None, metavar="VERSION|FILE",
              help="Read with this recogniser: a version from 'scanflow model list' (in "
                   "--archive), 'stock', or an .onnx file (rapidocr only).")
@click.option("--archive", "archive_path", type=click.Path(file_okay=False, path_type=Path),
              envvar="SCANFLOW_ARCHIVE", default="scanflow-archive", show_default=True,
              help="The archive whose model versions --model names.")
def eval_command(data_dir, engine_name, limit, as_json, binarise, deskew, crop, flatten,
                 remove_rules, orient, engine_options, jobs, overrides, per_image, model_name,
                 archive_path):
    """Measure OCR accuracy on DATA_DIR: images with <stem>.gt.txt transcriptions.

    Reports corpus CER and WER (exact, ignoring case, ignoring case and punctuation),
    the worst images and the time per image.
    """
    import json

    from scanflow.errors import ScanflowError
    from scanflow.evaluation.evaluate import evaluate

    settings = _preprocess_settings(overrides, binarise=binarise, deskew=deskew, crop=crop,
                                    flatten=flatten, remove_rules=remove_rules, orient=orient)
    options = dict(_key_value(o) for o in engine_options)
    if model_name:
        options.update(_model_option(model_name, archive_path, engine_name))

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
