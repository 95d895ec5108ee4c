"""Is a display copy good enough to read? CER on the master against CER on its display copy.

    .venv/bin/python benchmarks/derived_quality.py [--pages 4] [--qualities 60,80,90] [--engine rapidocr] [--json]

The review app shows a page through a derived copy (``scanflow.review.pageimages``: WebP,
at most 1600 px wide). The issue asks that recognition on such a copy stay within 0.2 CER
points of recognition on the master, so the copy loses nothing a reader (or a re-read)
needs. For each image of
* the real handwriting in ``../shared/eval/handwriting/iam_dev_pages`` (skipped if absent),
* ``--pages`` generated 300-dpi exercise-book pages (``scanflow.evaluation.synth``, JPEG
  85 as an office scanner writes them),
the benchmark makes the display copy exactly as the app does (same code) at each WebP
quality (``display-qN``), and the same WebP at the master's full size (``fullsize-qN``:
the compression alone, without the reduction to 1600 px), stores its pixels losslessly
with the master's resolution scaled as the copy was, and runs ``scanflow eval``'s
pipeline on the masters (the reference, same run) and on each set of copies. Reported:
corpus CER per set, its difference from the masters' in points, and the copies' bytes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
from PIL import Image  # noqa: E402

from scanflow.archive.images import load_view  # noqa: E402
from scanflow.evaluation.evaluate import evaluate, find_pairs  # noqa: E402
from scanflow.review import pageimages  # noqa: E402

IAM = ROOT.parent / "shared" / "eval" / "handwriting" / "iam_dev_pages"


def display_copy(master: Path, quality: int, resize: bool = True) -> tuple[bytes, object, float]:
    """The display copy the app would serve (WebP bytes), its decoded pixels (BGR) and
    the factor it was scaled by (``resize=False``: WebP at the master's full size)."""
    img = cv2.cvtColor(load_view(master, 0), cv2.COLOR_RGB2BGR)
    h, w = img.shape[:2]
    width = pageimages.SIZES["display"]
    scale = width / w if resize and w > width else 1.0
    if scale < 1.0:
        img = cv2.resize(img, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, quality])
    return buf.tobytes(), cv2.imdecode(buf, cv2.IMREAD_COLOR), scale


def generated(folder: Path, pages: int) -> Path:
    from scanflow.evaluation.synth import render_page, write_sample

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(pages):
        page = render_page(seed=1600 + i, dpi=300, skew_deg=1.5, lighting=0.3, noise=0.3)
        write_sample(folder / f"gen{i:02d}", page, fmt="jpg", quality=85)
    return folder


def measure(data: Path, qualities: list[int], engine: str, work: Path) -> dict:
    masters = evaluate(data, engine)
    out = {"images": masters.images, "master_cer": round(100 * masters.cer, 2), "copies": {}}
    variants = [(f"display-q{q}", q, True) for q in qualities] + \
        [(f"fullsize-q{q}", q, False) for q in qualities]
    for name, q, resize in variants:
        copies = work / f"{data.name}-{name}"
        copies.mkdir(parents=True, exist_ok=True)
        total = 0
        for stem, image, gt in find_pairs(data):
            data_bytes, pixels, scale = display_copy(image, q, resize)
            total += len(data_bytes)
            # The copy's pixels, losslessly, with the master's resolution scaled as the
            # copy was (else the pipeline would guess another dpi and differ for that).
            dpi = Image.open(image).info.get("dpi", (300, 300))[0] * scale
            Image.fromarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)).save(
                copies / f"{stem}.png", dpi=(dpi, dpi))
            shutil.copy(gt, copies / gt.name)
        report = evaluate(copies, engine)
        out["copies"][name] = {"cer": round(100 * report.cer, 2),
                            "points": round(100 * (report.cer - masters.cer), 2),
                            "kb_per_page": round(total / 1024 / max(1, report.images))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=4, help="generated pages (default 4)")
    ap.add_argument("--qualities", default="80")
    ap.add_argument("--engine", default="rapidocr")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    qualities = [int(q) for q in args.qualities.split(",")]
    results = {}
    with tempfile.TemporaryDirectory(prefix="scanflow-derived-") as tmp:
        work = Path(tmp)
        if IAM.is_dir():
            results["iam_dev_pages"] = measure(IAM, qualities, args.engine, work)
        else:
            print(f"skipped real handwriting: {IAM} is absent", file=sys.stderr)
        if args.pages:
            results["generated"] = measure(generated(work / "generated", args.pages),
                                           qualities, args.engine, work)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, r in results.items():
        print(f"{name}: {r['images']} pages, CER on the masters {r['master_cer']:.2f} %")
        for name, c in r["copies"].items():
            print(f"  {name:>14}: CER {c['cer']:.2f} % ({c['points']:+.2f} points), "
                  f"{c['kb_per_page']} KB a page")


if __name__ == "__main__":
    main()
