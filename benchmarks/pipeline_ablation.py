"""Does every cleaning step earn its place on real pages? Bare engine, each step alone, the
whole pipeline and the pipeline without each step, per engine.

    .venv/bin/python benchmarks/pipeline_ablation.py [--sets iam,hooker,synth] \\
        [--engines rapidocr,tesseract] [--configs bare,+deskew,...,default] [--limit 0] \\
        [--out benchmarks/out/pipeline_ablation.json]

``bare`` is the engine reading the page as scanned (greyscale, nothing turned, cleaned
or binarised); ``+<step>`` is bare with that one step on; ``default`` is
:class:`~scanflow.ocr.preprocess.PreprocessSettings` as shipped; ``-<step>`` is the default
without that step. Sets: ``iam`` and ``hooker`` (``../shared/eval/handwriting``, skipped
when absent; ``--limit`` pages spread over each) and ``synth`` (the generated exercise-book
pages of ``handwriting_eval.py``, in ``benchmarks/out/handwriting-set``).

Prints corpus CER and WER, seconds per page, and how many pages the configuration reads
more than one CER point worse than bare (the issue-13 rule: none may be).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from handwriting_eval import eval_folder  # noqa: E402
from scanflow.evaluation.evaluate import evaluate  # noqa: E402
from scanflow.ocr.preprocess import PreprocessSettings  # noqa: E402

OUT = ROOT / "benchmarks" / "out"

# Each step as the settings that switch it on (from bare) or off (from the default).
STEPS = {
    "orient": ({"orient": True}, {"orient": False}),
    "dewarp": ({"dewarp": True}, {"dewarp": False}),
    "deskew": ({"deskew": True}, {"deskew": False}),
    "crop": ({"crop": True}, {"crop": False}),
    "flatten": ({"flatten": True}, {"flatten": False}),
    "binarise": ({"binarise": "otsu"}, {"binarise": "none"}),
    "rules": ({"remove_rules": True, "despeckle": True},
              {"remove_rules": False, "despeckle": False}),
}


def configs() -> dict[str, PreprocessSettings]:
    out = {"bare": PreprocessSettings.bare()}
    for name, (on, _) in STEPS.items():
        out[f"+{name}"] = PreprocessSettings.bare(**on)
    out["default"] = PreprocessSettings()
    for name, (_, off) in STEPS.items():
        out[f"-{name}"] = replace(PreprocessSettings(), **off)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="iam,hooker,synth")
    ap.add_argument("--engines", default="rapidocr,tesseract")
    ap.add_argument("--configs", default="", help="comma-separated names (default: all)")
    ap.add_argument("--limit", type=int, default=0, help="pages per set (0 = all)")
    ap.add_argument("--out", type=Path, default=OUT / "pipeline_ablation.json")
    args = ap.parse_args()
    every = configs()
    chosen = args.configs.split(",") if args.configs else list(every)
    unknown = [c for c in chosen if c not in every]
    if unknown:
        ap.error(f"unknown configuration {unknown[0]}; choose from {', '.join(every)}")
    rows = []
    print(f"{'set':<7} {'engine':<10} {'config':<10} {'CER':>7} {'WER':>7} {'s/page':>7} "
          f"worse>1pt")
    for set_name in args.sets.split(","):
        folder = eval_folder(set_name)
        if folder is None:
            print(f"{set_name}: data not found, skipped", file=sys.stderr)
            continue
        for engine in args.engines.split(","):
            bare_cer: dict[str, float] = {}
            for name in chosen:
                report = evaluate(folder, engine, preprocess=every[name],
                                  limit=args.limit or None)
                per = {r.stem: r.cer for r in report.results}
                if name == "bare":
                    bare_cer = per
                worse = [s for s, c in per.items() if s in bare_cer and c > bare_cer[s] + 0.01]
                rows.append({"set": set_name, "engine": engine, "config": name,
                             "cer": round(report.cer, 4), "wer": round(report.wer, 4),
                             "seconds_per_page": report.seconds_per_image,
                             "cpu_seconds_per_page": report.cpu_seconds_per_image,
                             "pages": report.images, "worse_than_bare": worse,
                             "per_page": {s: round(c, 4) for s, c in per.items()}})
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(rows, indent=2))  # kept if interrupted
                print(f"{set_name:<7} {engine:<10} {name:<10} {report.cer:>7.2%} "
                      f"{report.wer:>7.2%} {report.seconds_per_image:>7.2f} "
                      f"{len(worse) if bare_cer else '-'} {' '.join(worse)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
