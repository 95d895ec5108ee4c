#!/usr/bin/env python
"""Are a piece's paragraphs found from where its lines sit on the page?

Recognition returns one line of text per written line and never a blank line, so before
``scoring.paragraph_starts`` every scanned piece read as one paragraph (and Text Structure,
which asks for paragraphs, was judged on nothing). This benchmark writes generated
exercise-book pages (``scanflow.evaluation.synth``: date, title, then a story in 1-3 paragraphs, each
starting on a new ruled line, some hands skipping a line between them), reads them as an
ingest does, and compares the paragraphs found with the ones written:

* pages whose paragraph count is exactly right, and the mean count error;
* paragraph starts: found / written / right (a start is right when the first two words of
  a found paragraph are those of a written one, allowing OCR slips);
* the same with the text alone (no geometry): the reference, measured in the same run.

    .venv/bin/python benchmarks/paragraphs.py [--pages 16] [--photos 4] [--engine rapidocr] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rapidfuzz.distance import Levenshtein  # noqa: E402

from scanflow.archive.transcription import TLine, lines_text  # noqa: E402
from scanflow.evaluation.synth import render_page, story_paragraphs  # noqa: E402
from scanflow.ocr.engine import get_engine  # noqa: E402
from scanflow.ocr.reader import read_page  # noqa: E402
from scanflow.scoring.scores import paragraph_starts  # noqa: E402
from scanflow.scoring.tokens import read_text  # noqa: E402


def written_paragraphs(paragraphs: list[str], lines: list[str]) -> list[str]:
    """The body paragraphs (after date and title) that made it onto the page, as written."""
    out, k = [], 0
    for j, para in enumerate(paragraphs):
        words, got = len(para.split()), []
        while k < len(lines) and sum(len(x.split()) for x in got) < words:
            got.append(lines[k])
            k += 1
        if j >= 2 and got:  # 0: date, 1: title
            out.append(" ".join(got))
    return out


def found_paragraphs(tlines: list[TLine], geometry: bool) -> list[str]:
    text = lines_text(tlines)
    starts = paragraph_starts(tlines) if geometry else ()
    doc = read_text(text, paragraph_starts=starts)
    return [" ".join(text[a:b].split()) for a, b in doc.paragraphs]


def _head(paragraph: str) -> str:
    return " ".join(paragraph.lower().split()[:2])


def _same(a: str, b: str) -> bool:
    return Levenshtein.normalized_distance(_head(a), _head(b)) <= 0.34


def score(written: list[str], found: list[str]) -> dict:
    right = sum(1 for f in found[1:] if any(_same(f, w) for w in written[1:]))
    return {"written": len(written), "found": len(found), "starts_written": len(written) - 1,
            "starts_found": max(len(found) - 1, 0), "starts_right": right,
            "count_right": len(found) == len(written)}


def run(pages: int, photos: int, engine_name: str) -> dict:
    engine = get_engine(engine_name)
    rows = []
    for i in range(pages + photos):
        seed = 4000 + i
        photo = i >= pages
        paras = story_paragraphs(seed)
        page = render_page(paras, seed=seed, skew_deg=((i * 37) % 7 - 3) * 1.0,
                           lighting=0.3 + 0.1 * (i % 4), noise=0.1, jpeg_quality=85,
                           photo=photo, ink=("pencil", "blue", "black")[i % 3])
        written = written_paragraphs(paras, page.lines)
        started = time.perf_counter()
        _prepared, rec = read_page(page.image, engine)
        seconds = time.perf_counter() - started
        tlines = [TLine(1, ln.text, ln.box.x, ln.box.y, ln.box.w, ln.box.h, ln.confidence)
                  for ln in rec.lines]
        row = {"seed": seed, "kind": "photo" if photo else "scan", "seconds": round(seconds, 2),
               "with_geometry": score(written, found_paragraphs(tlines, True)),
               "text_only": score(written, found_paragraphs(tlines, False))}
        rows.append(row)
    summary = {}
    for method in ("with_geometry", "text_only"):
        for kind in ("scan", "photo", "all"):
            part = [r[method] for r in rows if kind == "all" or r["kind"] == kind]
            if not part:
                continue
            summary[f"{method}/{kind}"] = {
                "pages": len(part),
                "count_right": sum(p["count_right"] for p in part),
                "mean_count_error": round(sum(abs(p["found"] - p["written"]) for p in part)
                                          / len(part), 2),
                "starts_written": sum(p["starts_written"] for p in part),
                "starts_found": sum(p["starts_found"] for p in part),
                "starts_right": sum(p["starts_right"] for p in part)}
    return {"engine": engine_name, "pages": rows, "summary": summary}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=16, help="generated scans")
    parser.add_argument("--photos", type=int, default=4, help="generated phone photos")
    parser.add_argument("--engine", default="rapidocr")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = run(args.pages, args.photos, args.engine)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"paragraphs found on generated pages ({args.engine}):")
    print(f"  {'method/kind':<20} {'pages':>5} {'count right':>11} {'mean error':>10} "
          f"{'starts written':>14} {'found':>6} {'right':>6}")
    for key, s in report["summary"].items():
        print(f"  {key:<20} {s['pages']:>5} {s['count_right']:>11} {s['mean_count_error']:>10} "
              f"{s['starts_written']:>14} {s['starts_found']:>6} {s['starts_right']:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
