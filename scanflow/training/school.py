"""``scanflow model train``: fine-tune the recogniser on the school's corrected lines.

The loop: cut every corrected line of the reviewed pieces from its page
(:func:`scanflow.exports.lines.corrected_lines`), hold back a share of the *pupils* (a
pupil's lines are all in training or all held back, so the judgement is on hands the
model has not seen), measure the current recogniser on the held-back lines, fine-tune it
(:func:`scanflow.ocr.finetune.fine_tune`), measure the new one on the same lines, and
store it as the next version. It becomes the archive's default only if it reads the
held-back lines better.

The line images exist only while training runs (in ``models/work/lines``, deleted at the
end, also on Ctrl+C): the next run cuts them afresh from the archive, so an erased pupil's
lines are never trained on again. The checkpoint (weights only) stays in ``models/work``
until the run finishes, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from scanflow.archive.models import (WORK, ModelVersion, active_model, model_path,
                                     models_dir, register_model, use_model)
from scanflow.archive.store import Archive
from scanflow.errors import UsageError
from scanflow.exports.lines import corrected_lines, write_lines
from scanflow.ocr import finetune
from scanflow.ocr.rapid import model_files
from scanflow.progress import Progress

ENGINE = "rapidocr"


@dataclass
class TrainReport:
    """What ``scanflow model train`` did."""

    version: ModelVersion
    became_default: bool
    base_model: str
    cer_before: float
    cer_after: float
    train_lines: int
    heldout_lines: int
    extra_lines: int
    pupils: int
    heldout_pupils: int
    steps: int
    seconds: float
    resumed_from: int


def work_dir(archive: Archive) -> Path:
    return models_dir(archive) / WORK


def train_school_model(archive: Archive, *, extra_dirs: Sequence[str | Path] = (),
                       holdout: float = 0.2,
                       settings: finetune.TrainSettings = finetune.TrainSettings(),
                       half_term: str | None = None, progress: Progress | None = None,
                       log=None, actor: str | None = None) -> TrainReport:
    """Train, judge and register a new recogniser version (see the module docstring).

    ``extra_dirs`` are line folders (``<stem>.png`` + ``<stem>.gt.txt``) added to the
    training lines only; the judgement is always on the school's own held-back lines.
    """
    if not 0 < holdout < 1:
        raise UsageError(f"--holdout {holdout} must be between 0 and 1 (e.g. 0.2).")
    finetune.require_training()  # before any work: says how to install it
    log = log or (lambda message: None)
    extras = [e for d in extra_dirs for e in finetune.read_line_dir(d)]
    lines, _skipped = corrected_lines(archive, half_term=half_term)
    pupils = sorted({line.pupil_id for line in lines})
    if len(pupils) < 2:
        raise UsageError(
            f"Training needs corrected lines from at least two pupils; the archive has "
            f"{len(lines)} line(s) from {len(pupils)} pupil(s) in reviewed pieces.",
            hint="Correct and mark reviewed more pieces in the review app (scanflow serve), "
                 "then run this again.")

    current = active_model(archive)
    base_path = model_path(archive, current) if current else model_files()["rec"]
    base_name = f"{current.name} ({current.file})" if current else f"stock ({base_path.name})"
    work = work_dir(archive)
    data_dir = work / "lines"
    shutil.rmtree(data_dir, ignore_errors=True)
    try:
        report = write_lines(archive, lines, data_dir, progress=progress)
        by_stem = {line.stem: line for line in lines}
        school = [finetune.LineExample(data_dir / f"{stem}.png", by_stem[stem].text,
                                       by_stem[stem].pupil_id)
                  for stem in sorted(p.name[:-len(".gt.txt")]
                                     for p in data_dir.glob("*.gt.txt"))]
        train, held = finetune.split_by_group(school, holdout, seed=settings.seed)
        log(f"{report.lines} corrected lines from {len(pupils)} pupils: {len(train)} to train "
            f"on, {len(held)} held back ({len({e.group for e in held})} pupils)"
            + (f"; {len(extras)} extra lines" if extras else ""))
        cer_before = finetune.line_cer(base_path, held, threads=settings.threads)
        log(f"{base_name} reads the held-back lines with {cer_before:.2%} CER")
        result = finetune.fine_tune(base_path, train + extras, held, work / "candidate.onnx",
                                    work, settings, progress=progress, log=log)
        cer_after = finetune.line_cer(result.model, held, threads=settings.threads)
        better = cer_after < cer_before
        version = register_model(
            archive, result.model, engine=ENGINE, base_model=base_name,
            base_id=current.id if current else None,
            status="better" if better else "not_better", train_lines=len(train),
            heldout_lines=len(held), extra_lines=len(extras), pupils=len(pupils),
            cer_before=round(cer_before, 5), cer_after=round(cer_after, 5),
            train_seconds=result.seconds,
            settings={**settings.to_dict(), "epochs": result.epochs,
                      "precision": result.precision, "holdout": holdout},
            data={"pieces": report.pieces, "changed_lines": report.changed,
                  "heldout_pupils": len({e.group for e in held}),
                  "extra_dirs": [str(d) for d in extra_dirs], "half_term": half_term,
                  "steps": result.steps, "best_step": result.best_step,
                  "history": result.history},
            learnt_from=sorted({e.group for e in train}), actor=actor)
        if better:
            version = use_model(archive, version.id, actor=actor)
        # Finished: the checkpoint is not needed to resume any more.
        for name in ("checkpoint.pt", "candidate.onnx"):
            (work / name).unlink(missing_ok=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return TrainReport(version=version, became_default=better, base_model=base_name,
                       cer_before=cer_before, cer_after=cer_after, train_lines=len(train),
                       heldout_lines=len(held), extra_lines=len(extras), pupils=len(pupils),
                       heldout_pupils=len({e.group for e in held}), steps=result.steps,
                       seconds=result.seconds, resumed_from=result.resumed_from)
