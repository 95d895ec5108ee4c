"""Fine-tune the line recogniser on line folders, then read EVAL_DIR with the stock and the
fine-tuned model.

    .venv/bin/python benchmarks/finetune.py TRAIN_DIR... --eval EVAL_DIR [--json]
        [--epochs N] [--holdout 0.15] [--threads 2] [--batch-size 4] [--limit-train N] [--max-steps N]
    .venv/bin/python benchmarks/finetune.py --school-hand zeyada [--school-lines 200] [--json]

Training uses the product's own code (:func:`scanflow.ocr.finetune.fine_tune`, the recipe
``scanflow model train`` runs): the TRAIN_DIR lines are split by form (IAM) or page
(scanflow's exported lines) into training lines and ``--holdout`` validation lines that
choose the best checkpoint. EVAL_DIR (image + ``.gt.txt`` pairs, whole pages or single
lines) is then read the way ``scanflow eval --model`` reads it (the whole pipeline:
cleaning, detection, recognition), once with each model. ``--json`` prints one object with
``cer_before``, ``cer_after``, ``train_seconds``, ``peak_rss_mb``, the reading time per
image of both models and their ratio.

Training lines whose words are mostly also on the EVAL_DIR pages are left out (IAM has
several writers copy the same passage: 17 of ``iam_dev_lines`` repeat the text of 3 of the 9
``iam_dev_pages``), so the figure is for text the model has not been taught; ``--keep-overlap``
keeps them.

``--school-hand FONT`` simulates a school instead (no TRAIN_DIR, no EVAL_DIR): pupils write
in a handwriting font used nowhere else in the project (a key of ``synth.OTHER_FONTS``), on
generated exercise-book pages the pipeline reads; the lines it finds are cut as ``scanflow
export lines`` cuts a reviewed piece's lines (:mod:`scanflow.evaluation.synth_lines`), with
the written text as the teacher's correction. ``--school-lines`` of them (10 pupils) are
trained on, 2 more pupils' lines pick the best checkpoint, and fresh pages of other pupils
in the same hand, with different text (synth's stories; the training text is children's
essays from ``../shared/eval/scoring``), are read with the stock and the fine-tuned model.

Use only data you may train on: ``../shared/eval/handwriting/iam_dev_lines`` or generated
lines (other public copies of IAM overlap the pages the product's accuracy is reported on).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scanflow.evaluation.evaluate import evaluate  # noqa: E402
from scanflow.evaluation.synth import render_page, write_sample  # noqa: E402
from scanflow.evaluation.synth_lines import page_kwargs, write_synth_lines  # noqa: E402
from scanflow.ocr.engine import get_engine  # noqa: E402
from scanflow.ocr import finetune  # noqa: E402
from scanflow.ocr.rapid import model_files  # noqa: E402
from scanflow.progress import progress_for  # noqa: E402


SHARED = ROOT.parent / "shared"
ESSAYS = SHARED / "eval" / "scoring" / "asap_prompt7_dev.tsv"
TRAIN_PUPILS = range(301, 311)     # 10 pupils' lines to train on
HELD_PUPILS = (311, 312)           # 2 pupils' lines choose the best checkpoint
EVAL_PUPILS = range(901, 907)      # 6 pupils write the pages read at the end


def essay_paragraphs(path: Path = ESSAYS) -> list[str]:
    """Children's narrative essays as plain paragraphs: anonymising tokens (@CAPS1) and
    characters a child's page would not hold left out, lost quotes made apostrophes."""
    import csv

    csv.field_size_limit(10**7)
    out = []
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            words = [w for w in row["essay"].replace("\ufffd", "'").split()
                     if "@" not in w and w.isascii()]
            if words:
                out.append(" ".join(words))
    return out


def overlapping(examples, eval_dir: Path, share: float = 0.5) -> set:
    """Training lines most of whose word triples are in the ground truth of ``eval_dir``."""
    def triples(text: str) -> set:
        words = [w.strip(".,;:!?\"'()").lower() for w in text.split()]
        return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}

    seen: set = set()
    for gt in eval_dir.glob("*.gt.txt"):
        seen |= triples(" ".join(gt.read_text(encoding="utf-8").split()))
    return {id(e) for e in examples
            if (t := triples(e.text)) and len(t & seen) >= share * len(t)}


def school_case(work: Path, font: str, lines: int, threads: int, log) -> tuple[list, list, Path]:
    """Write the simulated school's training and held-back lines and its fresh pages."""
    if not ESSAYS.is_file():
        raise SystemExit(f"{ESSAYS} is missing: the school case writes children's essays "
                         "from ../shared/eval/scoring as its training text.")
    engine = get_engine("rapidocr", threads=threads)
    per_pupil = max(1, round(lines / len(TRAIN_PUPILS)))
    texts = essay_paragraphs()
    started = time.perf_counter()
    # Written once per --work folder: later runs (other settings) train on the same lines.
    made = None if any((work / "school_lines").glob("*.gt.txt")) else write_synth_lines(work / "school_lines", texts, engine, font=font,
                             pupils=[*TRAIN_PUPILS, *HELD_PUPILS], lines_per_pupil=per_pupil,
                             progress=progress_for())
    if made:
        log(f"{made.lines} lines of {font} from {made.pages} pages ({made.unmatched} ruled "
            f"lines the engine merged or split left out) in "
            f"{time.perf_counter() - started:.0f} s")
    examples = finetune.read_line_dir(work / "school_lines")
    held_groups = {f"school_lines/h{p:04d}" for p in HELD_PUPILS}
    train = [e for e in examples if e.group not in held_groups]
    held = [e for e in examples if e.group in held_groups]
    pages = work / "school_pages"
    for i, pupil in enumerate(EVAL_PUPILS):
        if (pages / f"page{pupil}.gt.txt").is_file():
            continue
        page = render_page(None, seed=pupil, hand=pupil, font=font, **page_kwargs(i))
        write_sample(pages / f"page{pupil}", page, fmt="jpg", quality=90)
    return train, held, pages


def with_overrides(settings, overrides: list[str], parser):
    """``settings`` with ``FIELD=VALUE`` pairs applied, each value read as its field's type."""
    changes = {}
    for item in overrides:
        name, _, text = item.partition("=")
        if name not in settings.to_dict() or not text:
            parser.error(f"--set {item}: expected FIELD=VALUE, FIELD one of "
                         f"{', '.join(settings.to_dict())}")
        current = getattr(settings, name)
        if isinstance(current, bool):
            changes[name] = text.lower() in ("1", "true", "yes", "on")
        elif isinstance(current, float):
            changes[name] = float(text)
        elif isinstance(current, str):
            changes[name] = text
        else:  # int, or None for epochs and max_steps
            changes[name] = None if text.lower() == "none" else int(text)
    return replace(settings, **changes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train_dirs", nargs="*", type=Path)
    parser.add_argument("--eval", dest="eval_dir", type=Path)
    parser.add_argument("--school-hand", metavar="FONT",
                        help="Simulate a school writing in this font (zeyada).")
    parser.add_argument("--school-lines", type=int, default=200)
    parser.add_argument("--keep-overlap", action="store_true",
                        help="Train also on lines whose text is on the EVAL_DIR pages.")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--epochs", type=int, default=None,
                        help="Passes over the lines (default: the recipe's, 3-12 by the data).")
    parser.add_argument("--holdout", type=float, default=0.15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=finetune.TrainSettings.batch_size)
    parser.add_argument("--learning-rate", type=float, default=finetune.TrainSettings.learning_rate)
    parser.add_argument("--limit-train", type=int, default=None,
                        help="Train on at most N lines (spread over the folders).")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="FIELD=VALUE",
                        help="Any other TrainSettings field (anchor=1e-4, augment_strokes=1).")
    parser.add_argument("--work", type=Path, default=None,
                        help="Keep the model and checkpoint here (default: a temporary folder).")
    args = parser.parse_args(argv)
    if bool(args.school_hand) == bool(args.train_dirs and args.eval_dir):
        parser.error("give TRAIN_DIR... --eval EVAL_DIR, or --school-hand FONT")

    why = finetune.training_available()
    if why:
        print(why, file=sys.stderr)
        return 2
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731
    dropped = 0
    if not args.school_hand:
        examples = [e for d in args.train_dirs for e in finetune.read_line_dir(d)]
        if not args.keep_overlap:
            leaked = overlapping(examples, args.eval_dir)
            examples = [e for e in examples if id(e) not in leaked]
            dropped = len(leaked)
            log(f"{dropped} training lines left out: their text is on the {args.eval_dir} pages")
        train, held = finetune.split_by_group(examples, args.holdout)
        if args.limit_train and len(train) > args.limit_train:
            step = len(train) / args.limit_train
            train = [train[int(i * step)] for i in range(args.limit_train)]
    settings = finetune.TrainSettings(epochs=args.epochs, threads=args.threads,
                                      batch_size=args.batch_size,
                                      learning_rate=args.learning_rate,
                                      max_steps=args.max_steps)
    settings = with_overrides(settings, args.overrides, parser)
    base = model_files()["rec"]
    with tempfile.TemporaryDirectory(prefix="scanflow-finetune-") as tmp:
        work = args.work or Path(tmp)
        if args.school_hand:
            train, held, args.eval_dir = school_case(work, args.school_hand, args.school_lines,
                                                     args.threads, log)
        cpu_started = time.process_time()
        result = finetune.fine_tune(base, train, held, work / "finetuned.onnx", work,
                                    settings, progress=progress_for(), log=log)
        train_cpu = time.process_time() - cpu_started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        stock = evaluate(args.eval_dir, "rapidocr", threads=args.threads)
        tuned = evaluate(args.eval_dir, "rapidocr", threads=args.threads,
                         engine_options={"rec_model": str(result.model)})
        log(f"read {args.eval_dir} twice in {time.perf_counter() - started:.0f} s")
    out = {
        "train_dirs": [str(d) for d in args.train_dirs], "eval_dir": str(args.eval_dir),
        "school_hand": args.school_hand, "overlap_lines_left_out": dropped,
        "train_lines": result.train_lines, "validation_lines": result.validation_lines,
        "steps": result.steps, "best_step": result.best_step, "settings": {**settings.to_dict(), "epochs": result.epochs,
                                               "precision": result.precision},
        "validation_cer_start": round(result.validation_cer_start, 4),
        "validation_cer_best": round(result.validation_cer_best, 4),
        "history": result.history,
        "eval_images": stock.images,
        "cer_before": round(stock.cer, 4), "cer_after": round(tuned.cer, 4),
        "cer_reduction": round(1 - tuned.cer / stock.cer, 3) if stock.cer else None,
        "wer_before": round(stock.wer, 4), "wer_after": round(tuned.wer, 4),
        "train_seconds": result.seconds,
        "train_seconds_per_1000_lines_per_epoch": round(
            result.seconds / max(result.steps * settings.batch_size, 1) * 1000, 1),
        # CPU time is what a machine of its own would need at most (busy machine or not):
        # the wall time is that or less with 2 threads on 2 free cores.
        "train_cpu_seconds": round(train_cpu, 1),
        "train_cpu_minutes_per_1000_lines": round(train_cpu / max(len(train), 1) * 1000 / 60, 1),
        "step_seconds_per_line": round(
            result.step_seconds / max(result.steps * settings.batch_size, 1), 3),
        "peak_rss_mb": round(peak, 1),
        "seconds_per_image_before": stock.cpu_seconds_per_image,
        "seconds_per_image_after": tuned.cpu_seconds_per_image,
        "reading_time_ratio": round(tuned.cpu_seconds_per_image
                                    / max(stock.cpu_seconds_per_image, 1e-9), 3),
    }
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:40} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
