"""Fine-tune the line recogniser on line folders, then read EVAL_DIR with the stock and the
fine-tuned model.

    .venv/bin/python benchmarks/finetune.py TRAIN_DIR... --eval EVAL_DIR [--json]
        [--epochs 3] [--holdout 0.15] [--threads 2] [--batch-size 4] [--limit-train N] [--max-steps N]

Training uses the product's own code (:func:`scanflow.ocr.finetune.fine_tune`, the recipe
``scanflow model train`` runs): the TRAIN_DIR lines are split by form (IAM) or page
(scanflow's exported lines) into training lines and ``--holdout`` validation lines that
choose the best checkpoint. EVAL_DIR (image + ``.gt.txt`` pairs, whole pages or single
lines) is then read the way ``scanflow eval --model`` reads it (the whole pipeline:
cleaning, detection, recognition), once with each model. ``--json`` prints one object with
``cer_before``, ``cer_after``, ``train_seconds``, ``peak_rss_mb``, the reading time per
image of both models and their ratio.

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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scanflow.evaluation.evaluate import evaluate  # noqa: E402
from scanflow.ocr import finetune  # noqa: E402
from scanflow.ocr.rapid import model_files  # noqa: E402
from scanflow.progress import progress_for  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("train_dirs", nargs="+", type=Path)
    parser.add_argument("--eval", dest="eval_dir", required=True, type=Path)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--holdout", type=float, default=0.15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=finetune.TrainSettings.batch_size)
    parser.add_argument("--learning-rate", type=float, default=finetune.TrainSettings.learning_rate)
    parser.add_argument("--limit-train", type=int, default=None,
                        help="Train on at most N lines (spread over the folders).")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--work", type=Path, default=None,
                        help="Keep the model and checkpoint here (default: a temporary folder).")
    args = parser.parse_args(argv)

    why = finetune.training_available()
    if why:
        print(why, file=sys.stderr)
        return 2
    examples = [e for d in args.train_dirs for e in finetune.read_line_dir(d)]
    train, held = finetune.split_by_group(examples, args.holdout)
    if args.limit_train and len(train) > args.limit_train:
        step = len(train) / args.limit_train
        train = [train[int(i * step)] for i in range(args.limit_train)]
    settings = finetune.TrainSettings(epochs=args.epochs, threads=args.threads,
                                      batch_size=args.batch_size,
                                      learning_rate=args.learning_rate,
                                      max_steps=args.max_steps)
    base = model_files()["rec"]
    with tempfile.TemporaryDirectory(prefix="scanflow-finetune-") as tmp:
        work = args.work or Path(tmp)
        log = lambda message: print(message, file=sys.stderr)  # noqa: E731
        result = finetune.fine_tune(base, train, held, work / "finetuned.onnx", work,
                                    settings, progress=progress_for(), log=log)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        stock = evaluate(args.eval_dir, "rapidocr", threads=args.threads)
        tuned = evaluate(args.eval_dir, "rapidocr", threads=args.threads,
                         engine_options={"rec_model": str(result.model)})
        log(f"read {args.eval_dir} twice in {time.perf_counter() - started:.0f} s")
    out = {
        "train_dirs": [str(d) for d in args.train_dirs], "eval_dir": str(args.eval_dir),
        "train_lines": result.train_lines, "validation_lines": result.validation_lines,
        "steps": result.steps, "best_step": result.best_step, "settings": settings.to_dict(),
        "validation_cer_start": round(result.validation_cer_start, 4),
        "validation_cer_best": round(result.validation_cer_best, 4),
        "history": result.history,
        "eval_images": stock.images,
        "cer_before": round(stock.cer, 4), "cer_after": round(tuned.cer, 4),
        "wer_before": round(stock.wer, 4), "wer_after": round(tuned.wer, 4),
        "train_seconds": result.seconds,
        "train_seconds_per_1000_lines_per_epoch": round(
            result.seconds / max(result.steps * settings.batch_size, 1) * 1000, 1),
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
