"""Recognition accuracy on generated exercise-book pages, per engine, with misspellings.

    .venv/bin/python benchmarks/handwriting_eval.py [--pages 12] [--photos 4] [--faint 4] [--grey 4] [--tilted 2] [--engines rapidocr,tesseract] [--json] [--keep DIR]
    .venv/bin/python benchmarks/handwriting_eval.py --real [--limit N] [--engines ...] [--json]

``--real`` measures real handwriting from ``../shared/eval/handwriting`` instead, so a
failure can be placed: line-level CER on ``iam_dev_lines``/``hooker_lines`` (recognition
alone) and page-level CER on ``iam_dev_pages``/``hooker_pages``, bare engine beside the
pipeline (see :func:`real_handwriting`).

Generates (scanflow.evaluation.synth, deterministic seeds) child-like handwriting on ruled paper —
pencil and pen, blue and grey rules, skew up to ±4°, uneven light, scanner noise, JPEG —
plus phone-photo pages (perspective, desk, shadow), photos taken at a steep angle
(``tilted``: the photo seen through a camera tilted ~25°), faint-pencil pages (the same pages'
pencil lightened to 30-50 % of its darkness: a light hand or a hard pencil) and
greyscale scans (an office scanner in grey mode: blue rules and the red margin turn as
dark as pencil), writes them in the layout ``scanflow eval`` reads (``<stem>.jpg`` +
``<stem>.gt.txt``), runs the same pipeline as an ingest, and reports per engine and per
kind (scan/photo/tilted/faint/greyscan):

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

from scanflow.evaluation.evaluate import evaluate  # noqa: E402
from scanflow.evaluation.synth import MISSPELLINGS, render_page, write_sample  # noqa: E402

KINDS = ("scan", "photo", "tilted", "faint", "greyscan")


def faint_page(seed: int, lightness: float, **kw):
    """A pencil page whose strokes keep only ``lightness`` of their darkness.

    The page is rendered twice with the same seed, with and without writing: paper,
    ruling, lighting and noise come from their own random streams in scanflow.evaluation.synth, so
    the two differ only by the writing, and ``blank + lightness * (page - blank)`` is the
    same page written faintly (noise and lighting untouched).
    """
    import numpy as np

    page = render_page(seed=seed, ink="pencil", **kw)
    blank = render_page([""], seed=seed, ink="pencil", **kw)
    mixed = blank.image.astype(np.float32) + lightness * (
        page.image.astype(np.float32) - blank.image.astype(np.float32))
    page.image = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    page.settings["faint"] = lightness
    return page


def tilt_photo(page, tilt_deg: float, turn_deg: float):
    """The phone held at an angle: the photo seen through a camera turned ``tilt_deg``
    about the horizontal axis and ``turn_deg`` about the lens axis (a real perspective:
    far edge narrower *and* shorter, which synth's keystone alone does not do).
    ``settings["photo_corners"]`` follow the page."""
    import math

    import cv2
    import numpy as np

    h, w = page.image.shape[:2]
    f = 1.2 * max(h, w)  # a phone's wide lens, ~53 degrees across the long side
    k = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]])
    t, r = math.radians(tilt_deg), math.radians(turn_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(t), -math.sin(t)], [0, math.sin(t), math.cos(t)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    m = k @ rz @ rx @ np.linalg.inv(k)
    # Keep the whole (moved) frame in view: shrink about the centre until it fits.
    frame = cv2.perspectiveTransform(np.float64([[[0, 0], [w, 0], [w, h], [0, h]]]), m)[0]
    span = frame.max(axis=0) - frame.min(axis=0)
    s = 1.0 / max(span[0] / w, span[1] / h)
    fit = np.array([[s, 0, 0], [0, s, 0], [0, 0, 1.0]])
    fit[:2, 2] = np.array([w / 2, h / 2]) - s * (frame.min(axis=0) + span / 2)
    m = fit @ m
    page.image = cv2.warpPerspective(page.image, m, (w, h), flags=cv2.INTER_AREA,
                                     borderMode=cv2.BORDER_REPLICATE)
    corners = np.float64([page.settings["photo_corners"]])
    page.settings["photo_corners"] = cv2.perspectiveTransform(corners, m)[0].tolist()
    page.settings["tilt"] = [tilt_deg, turn_deg]
    return page


def make_set(folder: Path, pages: int, photos: int, faint: int = 0,
             grey: int = 0, tilted: int = 0) -> dict[str, str]:
    """Write the evaluation pages; returns stem -> kind (one of ``KINDS``).

    Every page comes from a fixed seed, so a page already in ``folder`` (its image and
    ``.gt.txt``) is kept rather than rendered again (several seconds a page).
    """
    kinds: dict[str, str] = {}

    def add(stem: str, kind: str, make, **write) -> None:
        kinds[stem] = kind
        ext = write.get("fmt", "png")
        if not ((folder / f"{stem}.{ext}").is_file() and (folder / f"{stem}.gt.txt").is_file()):
            write_sample(folder / stem, make(), **write)

    inks = ["pencil", "pencil", "blue", "black"]
    for i in range(pages):
        add(f"scan{i:02d}", "scan", lambda i=i: render_page(
            seed=1000 + i, ink=inks[i % 4], skew_deg=((i * 37) % 9 - 4) * 1.0,
            lighting=0.3 + 0.1 * (i % 4), noise=0.15 + 0.05 * (i % 3), jpeg_quality=80,
            lines_colour="grey" if i % 3 == 2 else "blue"), fmt="jpg", quality=85)
    for i in range(photos):
        add(f"photo{i:02d}", "photo", lambda i=i: render_page(
            seed=2000 + i, ink=inks[i % 4], skew_deg=(i % 5) - 2.0, lighting=0.5, noise=0.1,
            photo=True), fmt="jpg", quality=85)
    for i in range(tilted):
        add(f"tilted{i:02d}", "tilted", lambda i=i: tilt_photo(render_page(
            seed=6000 + i, ink=inks[i % 4], skew_deg=(i % 3) - 1.0, lighting=0.4, noise=0.1,
            photo=True), tilt_deg=(25.0 if i % 2 else -25.0) + 3 * i, turn_deg=4.0 - 3 * i),
            fmt="jpg", quality=85)
    for i in range(faint):
        add(f"faint{i:02d}", "faint", lambda i=i: faint_page(
            4000 + i, (0.35, 0.45, 0.3, 0.5)[i % 4], skew_deg=((i * 29) % 7 - 3) * 1.0,
            lighting=0.3 + 0.1 * (i % 3), noise=0.15,
            lines_colour="grey" if i % 4 == 2 else "blue"), fmt="jpg", quality=80)
    for i in range(grey):
        add(f"greyscan{i:02d}", "greyscan", lambda i=i: render_page(
            seed=5000 + i, ink=inks[i % 4], skew_deg=((i * 23) % 7 - 3) * 1.0,
            lighting=0.3 + 0.1 * (i % 3), noise=0.15,
            lines_colour="grey" if i % 2 else "blue"), fmt="jpg", quality=85, grey=True)
    return kinds


SHARED = ROOT.parent / "shared" / "eval" / "handwriting"
SHARED_SETS = {"iam": "iam_dev_pages", "iam_lines": "iam_dev_lines", "hooker": "hooker_pages",
               "hooker_lines": "hooker_lines"}


def eval_folder(name: str) -> Path | None:
    """The folder of a named evaluation set: ``synth`` (this module's generated pages, the
    34 that README's table and ``preprocess_steps.py`` measure, kept in
    ``benchmarks/out/handwriting-set``) or one of ``SHARED_SETS`` (``None`` when
    ``../shared`` does not hold it)."""
    if name == "synth":
        folder = ROOT / "benchmarks" / "out" / "handwriting-set"
        folder.mkdir(parents=True, exist_ok=True)
        make_set(folder, pages=12, photos=6, faint=8, grey=4, tilted=4)
        return folder
    folder = SHARED / SHARED_SETS[name]
    return folder if folder.is_dir() else None


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
    for kind in KINDS:
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


def real_handwriting(engines: list[str], limit: int | None,
                     sets: tuple[str, ...] = tuple(SHARED_SETS)) -> list[dict]:
    """Lines and pages of real handwriting from ``../shared`` (sets absent are skipped).

    Lines (``iam_lines``, ``hooker_lines``) measure recognition alone: RapidOCR reads each
    line image whole (no detection, no cleaning), with and without Latin-only decoding and
    the line fit (:mod:`scanflow.ocr.lineprep`).
    Pages (``iam``, ``hooker``) measure everything: each engine bare (the page as scanned,
    lines scaled as RapidOCR scales them) and through the pipeline, with the pages the pipeline reads more than one CER point
    worse than bare, and the review marks (wrong words marked, words marked).
    """
    from scanflow.ocr.preprocess import PreprocessSettings

    rows = []
    runs = [("iam_lines", "rapidocr", "recognition, latin-only", PreprocessSettings.bare(),
             {"params": {"Global.use_det": False}}),
            ("iam_lines", "rapidocr", "recognition, no line fit", PreprocessSettings.bare(),
             {"params": {"Global.use_det": False}, "line_fit": False}),
            ("iam_lines", "rapidocr", "recognition, all classes", PreprocessSettings.bare(),
             {"params": {"Global.use_det": False}, "latin_only": False}),
            ("hooker_lines", "rapidocr", "recognition, latin-only", PreprocessSettings.bare(),
             {"params": {"Global.use_det": False}})]
    for name in ("iam", "hooker"):
        for engine in engines:
            # Bare: the page as scanned, each line scaled as RapidOCR scales it.
            bare_options = {"line_fit": False} if engine == "rapidocr" else {}
            runs += [(name, engine, "bare", PreprocessSettings.bare(), bare_options),
                     (name, engine, "pipeline", PreprocessSettings(), {})]
    bare: dict[tuple[str, str], dict[str, float]] = {}
    for name, engine, label, settings, options in runs:
        folder = eval_folder(name) if name in sets else None
        if folder is None or engine not in engines:
            continue
        report = evaluate(folder, engine, preprocess=settings, engine_options=options,
                          limit=limit)
        per = {r.stem: r.cer for r in report.results}
        if label == "bare":
            bare[name, engine] = per
        base = bare.get((name, engine), {}) if label == "pipeline" else {}
        rows.append({"set": name, "engine": engine, "run": label, "items": report.images,
                     "cer": round(report.cer, 4), "wer": round(report.wer, 4),
                     "seconds_per_item": report.seconds_per_image,
                     "cpu_seconds_per_item": report.cpu_seconds_per_image,
                     "worse_than_bare": [s for s, c in per.items() if s in base and c > base[s] + 0.01],
                     "marks": report.marks})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=12)
    ap.add_argument("--photos", type=int, default=4)
    ap.add_argument("--faint", type=int, default=4, help="faint-pencil pages")
    ap.add_argument("--grey", type=int, default=4, help="greyscale-scanned pages")
    ap.add_argument("--tilted", type=int, default=2,
                    help="phone photos taken at a steep angle")
    ap.add_argument("--engines", default="rapidocr,tesseract")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="write the pages here and keep them")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--real", action="store_true",
                    help="measure real handwriting from ../shared instead: lines (recognition "
                         "alone) and pages (bare engine against the pipeline)")
    ap.add_argument("--limit", type=int, default=0, help="with --real: items per set (0 = all)")
    ap.add_argument("--sets", default=",".join(SHARED_SETS),
                    help=f"with --real: which of {', '.join(SHARED_SETS)}")
    args = ap.parse_args()
    if args.real:
        rows = real_handwriting(args.engines.split(","), args.limit or None,
                                tuple(args.sets.split(",")))
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        for r in rows:
            m = r["marks"]
            marks = (f"  marks: {m['recall_of_wrong_words']:.0%} of wrong words, "
                     f"{m['share_of_words_marked']:.0%} of words" if m.get("words") else "")
            worse = f"  worse than bare: {len(r['worse_than_bare'])}" if r["run"] == "pipeline" else ""
            print(f"{r['set']:<12} {r['engine']:<9} {r['run']:<25} {r['items']:>4}  CER {r['cer']:6.1%}"
                  f"  WER {r['wer']:6.1%}  {r['seconds_per_item']:.2f} s{worse}{marks}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        kinds = make_set(folder, args.pages, args.photos, args.faint, args.grey, args.tilted)
        results = [summarise(evaluate(folder, name, jobs=args.jobs), kinds)
                   for name in args.engines.split(",")]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        a = r["all"]
        print(f"{r['engine']:<10} all {a['pages']} pages: CER {a['cer']:.1%}  WER {a['wer']:.1%}  "
              f"{a['seconds_per_page']:.2f} s/page")
        for kind in KINDS:
            if kind in r:
                k = r[kind]
                print(f"{'':<10} {kind:<8} {k['pages']:>2} pages: CER {k['cer']:.1%}  misspellings "
                      f"kept {k['misspellings_kept']}/{k['misspellings']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
