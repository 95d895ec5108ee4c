"""Does orientation detection turn pages the right way, and never an upright one?

    .venv/bin/python benchmarks/orientation_bench.py [--sets iam,hooker,synth] [--limit 0] [--json]

Every page of each set is given as it is and turned 90, 180 and 270 degrees clockwise;
:func:`scanflow.ocr.orientation.decide_orientation` (with RapidOCR, as every engine uses
it) must give back the turn that makes it upright. Sets: ``iam`` and ``hooker`` are
``../shared/eval/handwriting/{iam_dev_pages,hooker_pages}`` (skipped when absent),
``synth`` the generated exercise-book pages of ``handwriting_eval.py`` (kept in
``benchmarks/out/handwriting-set``). Prints, per set and turn: pages turned right, upright
pages turned (must be 0), and seconds per decision.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from handwriting_eval import eval_folder  # noqa: E402
from scanflow.evaluation.evaluate import find_pairs, load_image, sample  # noqa: E402
from scanflow.ocr.engine import get_engine  # noqa: E402
from scanflow.ocr.orientation import decide_orientation  # noqa: E402
from scanflow.ocr.preprocess import rotate_right_angle, to_grey  # noqa: E402



def run(name: str, folder: Path, reader, limit: int | None) -> dict:
    rows = {turn: {"pages": 0, "right": 0, "turned": 0, "wrong": []} for turn in (0, 90, 180, 270)}
    seconds, decisions = 0.0, 0
    for stem, image, _ in sample(find_pairs(folder), limit):
        grey = to_grey(load_image(image)[0])
        for turn in rows:
            start = time.perf_counter()
            found = decide_orientation(rotate_right_angle(grey, turn), reader)
            seconds += time.perf_counter() - start
            decisions += 1
            row = rows[turn]
            row["pages"] += 1
            row["right"] += (turn + found.rotate) % 360 == 0
            row["turned"] += found.rotate != 0
            if (turn + found.rotate) % 360:
                row["wrong"].append({"stem": stem, **found.to_dict()})
    return {"set": name, "turns": {str(t): r for t, r in rows.items()},
            "seconds_per_decision": round(seconds / max(1, decisions), 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="iam,hooker,synth")
    ap.add_argument("--limit", type=int, default=0, help="pages per set (0 = all)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    reader = get_engine("rapidocr", threads=2)
    results = []
    for name in args.sets.split(","):
        folder = eval_folder(name)
        if folder is None:
            print(f"{name}: data not found, skipped", file=sys.stderr)
            continue
        results.append(run(name, folder, reader, args.limit or None))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'set':<8} {'turned':>6} {'pages':>5} {'right':>6} {'upright pages turned':>21} s/decision")
    for r in results:
        for turn, row in r["turns"].items():
            upright = f"{row['turned']}/{row['pages']}" if turn == "0" else ""
            print(f"{r['set']:<8} {turn:>6} {row['pages']:>5} {row['right'] / row['pages']:>6.0%} "
                  f"{upright:>21} {r['seconds_per_decision']:.2f}")
            for w in row["wrong"]:
                print(f"{'':<15} wrong: {w['stem']} -> {w['rotate']} ({w['reason']}; "
                      f"sideways {w['sideways_share']}, foreign {w['foreign']}, score {w['score']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
