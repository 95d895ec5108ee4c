"""Cover-sheet code detection: how often, and how fast next to OCR.

    .venv/bin/python benchmarks/codes_bench.py [--sheets 200] [--damaged 30] [--ocr-pages 5]
                                               [--seed 1] [--json]

1. Detection rate: ``--sheets`` cover sheets printed by ``scanflow sheets`` for a 30-pupil
   class, rendered by Poppler at 150, 200, 240 or 300 dpi and degraded at random like a
   print -> (photocopy ->) scan: greyscale or colour, up to +-10 degrees skew, blur up to
   0.12 mm, sensor noise, JPEG 40-85, low contrast on tinted paper (scanflow.evaluation.degrade).
   Reported: share decoded to the right pupil, wrong (must be 0), missed; which detection
   pass succeeded; seconds per sheet.
2. Damaged codes: ``--damaged`` sheets whose QR code is scribbled over or torn, same
   degradation. Reported: share still recognised as a sheet, share whose printed code was
   read back right by OCR, share read wrong (these are reported for checking at ingest).
3. Cost next to OCR: seconds of ``find_code`` on writing pages (no code: the common case)
   and on sheets, against seconds of the OCR stage (``read_page``: clean + Tesseract) on the
   same writing pages, measured in this run. Writing pages are the real handwriting scans
   in ../shared/eval/handwriting/hooker_pages (read in place, not copied).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from scanflow.archive.roster import import_roster  # noqa: E402
from scanflow.archive.store import init_archive  # noqa: E402
from scanflow.evaluation.degrade import (  # noqa: E402
    damage_code,
    degrade,
    random_scan_like,
    render_pdf_pages,
)
from scanflow.exports.sheets import print_sheets  # noqa: E402
from scanflow.intake.codes import READ, TEXT, find_code  # noqa: E402

HANDWRITING = ROOT.parent / "shared" / "eval" / "handwriting" / "hooker_pages"
DPIS = (150, 200, 240, 300)


def make_sheets(tmp: Path) -> tuple[Path, list[str]]:
    archive = init_archive(tmp / "archive")
    rows = ["UPN,Forename,Surname,Class,Year Group"]
    rows += [f"B{200000000000 + i:012d},Child{i},Surname{i:02d},4B,4" for i in range(1, 31)]
    (tmp / "roster.csv").write_text("\n".join(rows) + "\n")
    import_roster(archive, tmp / "roster.csv")
    print_sheets(archive, tmp / "sheets.pdf", class_name="4B", half_term="2026-27-autumn-1",
                 genre="narrative")
    pupils = [r[0] for r in archive.db.execute(
        "SELECT pupil_id FROM pupils ORDER BY class_name, surname, first_name")]
    archive.close()
    return tmp / "sheets.pdf", pupils


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sheets", type=int, default=200)
    ap.add_argument("--damaged", type=int, default=30)
    ap.add_argument("--ocr-pages", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    cv2.setNumThreads(1)  # as in an ingest worker
    rng = np.random.default_rng(args.seed)
    out: dict = {"seed": args.seed}
    with tempfile.TemporaryDirectory() as tmp:
        pdf, pupils = make_sheets(Path(tmp))
        from functools import lru_cache

        @lru_cache(maxsize=16)  # a whole class at 300 dpi would hold 2 GB: render on demand
        def sheet(dpi: int, index: int) -> np.ndarray:
            return render_pdf_pages(pdf, dpi, index + 1, index + 1)[0]

        # 1. Detection rate on degraded sheets.
        outcome, attempts, seconds, misses = collections.Counter(), collections.Counter(), [], []
        by_dpi = collections.defaultdict(lambda: [0, 0])
        for i in range(args.sheets):
            dpi = DPIS[i % len(DPIS)]
            index = int(rng.integers(len(pupils)))
            settings = random_scan_like(rng, dpi=dpi)
            page = degrade(sheet(dpi, index), settings, rng)
            hit, sec = timed(find_code, page)
            seconds.append(sec)
            ok = hit is not None and hit.status == READ and hit.code.pupil_id == pupils[index]
            wrong = hit is not None and hit.code is not None and hit.code.pupil_id != pupils[index]
            outcome["decoded" if ok else "wrong" if wrong else "missed"] += 1
            by_dpi[dpi][0] += ok
            by_dpi[dpi][1] += 1
            if hit is not None:
                attempts[hit.attempt] += 1
            if not ok:
                misses.append({"dpi": dpi, "settings": settings.to_dict(),
                               "found": hit.to_dict() if hit else None})
        out["sheets"] = {
            "n": args.sheets, "decoded_rate": outcome["decoded"] / args.sheets,
            "wrong": outcome["wrong"], "missed": outcome["missed"],
            "decoded_rate_by_dpi": {d: round(a / b, 3) for d, (a, b) in sorted(by_dpi.items())},
            "passes": dict(attempts), "seconds_mean": float(np.mean(seconds)),
            "seconds_p95": float(np.percentile(seconds, 95)), "misses": misses,
        }

        # 2. Damaged codes.
        dmg = collections.Counter()
        dmg_seconds = []
        for i in range(args.damaged):
            dpi = DPIS[i % len(DPIS)]
            index = int(rng.integers(len(pupils)))
            how = ("scribble", "tear")[i % 2]
            page = degrade(damage_code(sheet(dpi, index), rng, how),
                           random_scan_like(rng, dpi=dpi), rng)
            hit, sec = timed(find_code, page)
            dmg_seconds.append(sec)
            dmg["recognised_as_sheet"] += hit is not None and hit.is_cover
            if hit is not None and hit.code is not None:
                right = hit.code.pupil_id == pupils[index]
                dmg["read_right" if right else "read_wrong"] += 1
                dmg["via_text"] += hit.status == TEXT
        out["damaged"] = {"n": args.damaged,
                          **{k: dmg[k] for k in ("recognised_as_sheet", "read_right",
                                                  "read_wrong", "via_text")},
                          "seconds_mean": float(np.mean(dmg_seconds)) if dmg_seconds else None}

    # 3. Cost next to OCR, on real handwriting pages.
    from scanflow.ocr.engine import get_engine
    from scanflow.ocr.reader import read_page

    files = sorted(HANDWRITING.glob("*.jpg"))[: args.ocr_pages]
    if not files:
        out["cost"] = {"error": f"no handwriting pages in {HANDWRITING}"}
    else:
        engine = get_engine("tesseract", threads=1)
        detect_s, ocr_s, false_codes = [], [], 0
        for f in files:
            rgb = cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)
            hit, sec = timed(find_code, rgb)
            detect_s.append(sec)
            false_codes += hit is not None
            _, sec = timed(read_page, rgb, engine, dpi=300)
            ocr_s.append(sec)
        d, o = float(np.mean(detect_s)), float(np.mean(ocr_s))
        out["cost"] = {
            "writing_pages": len(files), "detect_seconds_per_writing_page": d,
            "ocr_seconds_per_writing_page": o, "detect_to_ocr_ratio": d / o,
            "sheet_detect_to_ocr_ratio": out["sheets"]["seconds_mean"] / o,
            "codes_found_on_writing_pages": false_codes,
        }

    if args.json:
        print(json.dumps(out, indent=2))
        return
    s, dm, c = out["sheets"], out["damaged"], out["cost"]
    print(f"Sheets: {s['n']} degraded (150-300 dpi, grey/colour, +-10 deg, blur, noise, JPEG, "
          f"low contrast): decoded {s['decoded_rate']:.1%}, wrong {s['wrong']}, "
          f"missed {s['missed']}")
    print(f"  by dpi: {s['decoded_rate_by_dpi']}   passes: {s['passes']}")
    print(f"  find_code: {s['seconds_mean']:.3f} s/sheet (p95 {s['seconds_p95']:.3f})")
    print(f"Damaged QR codes: {dm['n']}: recognised as sheets {dm['recognised_as_sheet']}, "
          f"printed code read right {dm['read_right']}, wrong {dm['read_wrong']} "
          f"({dm['seconds_mean']:.2f} s/sheet with OCR of the printed code)")
    if "error" in c:
        print(f"Cost: {c['error']}")
    else:
        print(f"Cost on {c['writing_pages']} real writing pages: find_code "
              f"{c['detect_seconds_per_writing_page']:.3f} s/page, OCR stage "
              f"{c['ocr_seconds_per_writing_page']:.2f} s/page: ratio "
              f"{c['detect_to_ocr_ratio']:.3f} (sheets: {c['sheet_detect_to_ocr_ratio']:.3f}); "
              f"codes wrongly found on writing: {c['codes_found_on_writing_pages']}")
    for m in s["misses"][:5]:
        print(f"  missed: {m}")


if __name__ == "__main__":
    main()
