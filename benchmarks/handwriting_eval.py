"""Recognition accuracy on generated exercise-book pages, per engine, with misspellings.

    .venv/bin/python benchmarks/handwriting_eval.py [--pages 12] [--photos 4] [--engines rapidocr,tesseract] [--json] [--keep DIR]

Generates (scanflow.synth, deterministic seeds) child-like handwriting on ruled paper —
pencil and pen, blue and grey rules, skew up to ±4°, uneven light, scanner noise, JPEG —
plus phone-photo pages (perspective, desk, shadow), writes them in the layout
``scanflow eval`` reads (``<stem>.jpg`` + ``<stem>.gt.txt``), runs the same pipeline as an
ingest, and reports per engine and per kind (scan/photo):

* corpus CER and WER (whitespace collapsed), seconds per page;
* misspellings preserved: of the deliberate children's misspellings in the ground truth,
  the share that comes back exactly as written (a recogniser that "corrects" spelling
  scores low here even when its CER looks fine).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scanflow.evaluate import evaluate  # noqa: E402
from scanflow.synth import MISSPELLINGS, render_page, write_sample  # noqa: E402


def make_set(folder: Path, pages: int, photos: int) -> dict[str, str]:
    """Write the evaluation pages; returns stem -> kind ("scan" or "photo")."""
    kinds = {}
    inks = ["pencil", "pencil", "blue", "black"]
    for i in range(pages):
        page = render_page(seed=1000 + i, ink=inks[i % 4], skew_deg=((i * 37) % 9 - 4) * 1.0,
                           lighting=0.3 + 0.1 * (i % 4), noise=0.15 + 0.05 * (i % 3),
                           jpeg_quality=80, lines_colour="grey" if i % 3 == 2 else "blue")
        write_sample(folder / f"scan{i:02d}", page, fmt="jpg", quality=85)
        kinds[f"scan{i:02d}"] = "scan"
    for i in range(photos):
        page = render_page(seed=2000 + i, ink=inks[i % 4], skew_deg=(i % 5) - 2.0,
                           lighting=0.5, noise=0.1, photo=True)
        write_sample(folder / f"photo{i:02d}", page, fmt="jpg", quality=85)
        kinds[f"photo{i:02d}"] = "photo"
    return kinds


def misspellings_kept(reference: str, hypothesis: str) -> tuple[int, int]:
    """(misspelt words in the reference, how many of them appear verbatim in the output)."""
    words = re.findall(r"[A-Za-z']+", reference)
    wanted = [w for w in words if w.lower() in MISSPELLINGS]
    got = re.findall(r"[A-Za-z']+", hypothesis)
    pool: dict[str, int] = {}
    for w in got:
        pool[w.lower()] = pool.get(w.lower(), 0) + 1
    kept = 0
    for w in wanted:
        if pool.get(w.lower(), 0):
            pool[w.lower()] -= 1
            kept += 1
    return len(wanted), kept


def summarise(report, kinds: dict[str, str]) -> dict:
    out = {"engine": report.engine, "all": {"cer": round(report.cer, 4), "wer": round(report.wer, 4),
                                            "pages": report.images,
                                            "seconds_per_page": round(report.seconds_per_image, 2)}}
    per = [vars(r) for r in report.results]
    for kind in ("scan", "photo"):
        rows = [r for r in per if kinds.get(r["stem"]) == kind]
        if not rows:
            continue
        edits = sum(r["char_edits"] for r in rows)
        chars = sum(r["ref_chars"] for r in rows)
        miss = [misspellings_kept(r["reference"], r["hypothesis"]) for r in rows]
        total, kept = sum(m[0] for m in miss), sum(m[1] for m in miss)
        out[kind] = {"pages": len(rows), "cer": round(edits / chars, 4) if chars else None,
                     "misspellings": total, "misspellings_kept": kept,
                     "misspellings_kept_rate": round(kept / total, 4) if total else None}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=12)
    ap.add_argument("--photos", type=int, default=4)
    ap.add_argument("--engines", default="rapidocr,tesseract")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="write the pages here and keep them")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        kinds = make_set(folder, args.pages, args.photos)
        results = [summarise(evaluate(folder, name, jobs=args.jobs), kinds)
                   for name in args.engines.split(",")]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        a = r["all"]
        print(f"{r['engine']:<10} all {a['pages']} pages: CER {a['cer']:.1%}  WER {a['wer']:.1%}  "
              f"{a['seconds_per_page']:.2f} s/page")
        for kind in ("scan", "photo"):
            if kind in r:
                k = r[kind]
                print(f"{'':<10} {kind:<5} {k['pages']:>2} pages: CER {k['cer']:.1%}  misspellings "
                      f"kept {k['misspellings_kept']}/{k['misspellings']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
