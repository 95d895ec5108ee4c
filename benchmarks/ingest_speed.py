"""Ingest speed and memory, measured against bare Tesseract in the same run.

    .venv/bin/python benchmarks/ingest_speed.py [--pages 10] [--big 100] [--json]

1. Speed: a PDF of N synthetic handwriting pages (scanflow.evaluation.synth) is
   a) rasterised with pdftoppm at 300 dpi and read by bare ``tesseract`` (same
      no-dictionary settings, one process per core, OMP_THREAD_LIMIT=1) — the reference;
   b) ingested by ``scanflow ingest --engine tesseract`` (rasterise + clean + OCR + store)
      with --jobs = cores: the ratio reference / scanflow is our overhead (goal >= 0.9);
   c) ingested with the default engine (RapidOCR), for the speed a school actually gets.
2. Memory: peak resident memory of the whole ``scanflow ingest`` process tree (sampled
   from /proc every 20 ms) for a 10-page and a --big-page PDF. Flat = pages are streamed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from scanflow.evaluation.synth import render_page  # noqa: E402

HALF_TERM = "2026-27-autumn-1"


def make_pdf(path: Path, pages: int, distinct: int = 10) -> Path:
    """A PDF of ``pages`` synthetic pages; ``distinct`` different renders are cycled so a
    100-page file costs 10 renders. Embedded as JPEG like a scanner's PDF."""
    images = [Image.fromarray(render_page(seed=i, skew_deg=(i % 5) - 2, lighting=0.4,
                                          noise=0.3).image)
              for i in range(min(distinct, pages))]
    seq = [images[i % len(images)] for i in range(pages)]
    seq[0].save(path, save_all=True, append_images=seq[1:], resolution=300, quality=80)
    return path


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, in KiB."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def run_measured(cmd: list[str], env: dict | None = None) -> tuple[float, int, int]:
    """Run ``cmd``; return (seconds, peak tree RSS in MiB, exit code)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss_kib(proc.pid))
            time.sleep(0.02)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = proc.communicate()
    stop.set()
    t.join()
    if proc.returncode not in (0,):
        sys.stderr.write(err.decode(errors="replace")[-2000:])
    return time.monotonic() - start, peak // 1024, proc.returncode


def bare_tesseract(pdf: Path, work: Path, cores: int) -> tuple[float, float]:
    """(seconds rasterising with pdftoppm, seconds of tesseract on those pages)."""
    t0 = time.monotonic()
    subprocess.run(["pdftoppm", "-r", "300", str(pdf), str(work / "p")], check=True)
    raster = time.monotonic() - t0
    pages = sorted(work.glob("p*.ppm"))
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def one(png: Path):
        subprocess.run(["tesseract", str(png), "-", "--psm", "4", "--oem", "1",
                        "-c", "load_system_dawg=0", "-c", "load_freq_dawg=0"],
                       check=True, capture_output=True, env=env)

    t0 = time.monotonic()
    with ThreadPoolExecutor(cores) as pool:
        list(pool.map(one, pages))
    return raster, time.monotonic() - t0


def scanflow_ingest(pdf: Path, archive: Path, cores: int,
                    engine: str | None = None) -> tuple[float, int, int]:
    exe = str(Path(sys.executable).parent / "scanflow")
    subprocess.run([exe, "init", str(archive)], check=True, capture_output=True)
    cmd = [exe, "ingest", "--archive", str(archive), str(pdf), "--half-term", HALF_TERM,
           "--genre", "narrative", "--jobs", str(cores), "-q"]
    return run_measured(cmd + (["--engine", engine] if engine else []))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10, help="pages for the speed run")
    ap.add_argument("--big", type=int, default=100, help="pages of the large memory run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    for tool in ("tesseract", "pdftoppm"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed: run bash setup.sh install")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        small = make_pdf(tmp / "small.pdf", args.pages)
        (tmp / "raster").mkdir()
        raster_s, tess_s = bare_tesseract(small, tmp / "raster", cores)
        tess_ingest_s, _, rc0 = scanflow_ingest(small, tmp / "a0", cores, "tesseract")
        ingest_s, mem_small, rc1 = scanflow_ingest(small, tmp / "a1", cores)
        big = make_pdf(tmp / "big.pdf", args.big)
        big_s, mem_big, rc2 = scanflow_ingest(big, tmp / "a2", cores)
    result = {
        "cores": cores,
        "pages": args.pages,
        "bare_tesseract_seconds": round(tess_s, 2),
        "bare_pdftoppm_seconds": round(raster_s, 2),
        "scanflow_ingest_tesseract_seconds": round(tess_ingest_s, 2),
        "ratio_vs_tesseract": round(tess_s / tess_ingest_s, 3),
        "ratio_vs_pdftoppm_plus_tesseract": round((raster_s + tess_s) / tess_ingest_s, 3),
        "scanflow_ingest_default_engine_seconds": round(ingest_s, 2),
        "ratio_default_engine_vs_tesseract": round(tess_s / ingest_s, 3),
        "seconds_per_page_scanflow": round(ingest_s / args.pages, 2),
        "peak_rss_mib": {str(args.pages): mem_small, str(args.big): mem_big},
        "big_run_seconds": round(big_s, 1),
        "exit_codes": [rc0, rc1, rc2],
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.pages} pages, {cores} cores")
        print(f"  bare tesseract (pre-rasterised): {tess_s:6.1f} s  (+ pdftoppm {raster_s:.1f} s)")
        print(f"  scanflow ingest, --engine tesseract (all stages): {tess_ingest_s:6.1f} s")
        print(f"  speed ratio tesseract/scanflow:  {result['ratio_vs_tesseract']:.2f}x "
              f"(with rasterising: {result['ratio_vs_pdftoppm_plus_tesseract']:.2f}x; goal >= 0.9)")
        print(f"  scanflow ingest, default engine: {ingest_s:6.1f} s "
              f"({result['ratio_default_engine_vs_tesseract']:.2f}x bare tesseract's speed)")
        print(f"  peak memory: {mem_small} MiB for {args.pages} pages, {mem_big} MiB for "
              f"{args.big} pages (goal: flat)")
    return 0 if rc0 == rc1 == rc2 == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
