"""Ingest speed and memory, measured against bare Tesseract in the same run.

    .venv/bin/python benchmarks/ingest_speed.py [--pages 10] [--big 100] [--json]
    .venv/bin/python benchmarks/ingest_speed.py --profile [--pages 4] [--engine tesseract]
    .venv/bin/python benchmarks/ingest_speed.py --scaling [--pages 6] [--rounds 2]
    .venv/bin/python benchmarks/ingest_speed.py --ocrmypdf [--ocrmypdf-exe PATH] [--pages 6]

1. Speed: a PDF of N synthetic handwriting pages (scanflow.evaluation.synth) is
   a) rasterised with pdftoppm at 300 dpi and read by bare ``tesseract`` (same
      no-dictionary settings, one process per core, OMP_THREAD_LIMIT=1) — the reference;
   b) ingested by ``scanflow ingest --engine tesseract`` (rasterise + clean + OCR + store)
      with --jobs = cores: the ratio reference / scanflow is our overhead (goal >= 0.9);
   c) ingested with the default engine (RapidOCR), for the speed a school actually gets.
2. Memory: peak resident memory of the whole ``scanflow ingest`` process tree (sampled
   from /proc every 20 ms) for a 10-page and a --big-page PDF. Flat = pages are streamed.

``--profile``: where each CPU-second of an ingest goes, by stage (hash, rasterise, codes,
orientation, cleaning, recognition, image writes, image hashes, database, other), from the
real ``ingest()`` run in this process with one worker and each stage's function wrapped.
The goal: everything but the engine's own recognition <= 15 % of the CPU.

``--scaling``: ``scanflow ingest`` with 1 and 2 workers, each with one engine thread and
with the threads rule of ``scanflow.intake.ingest.engine_threads`` (one worker on 2 cores
gets 2), in interleaved rounds, so a machine shared with other work slows all alike:
pages/s, CPU-s a page (the whole process tree), and the ratios of 2 workers to 1 (goal
>= 1.8x on 2 cores).

``--ocrmypdf``: scanflow's pages/s against OCRmyPDF's on the same PDF (goal >= 1.5x), when
OCRmyPDF is installed; see :func:`against_ocrmypdf`.
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
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


def scanflow_ingest(pdf: Path, archive: Path, cores: int, engine: str | None = None,
                    threads: int | None = None) -> tuple[float, int, int]:
    exe = str(Path(sys.executable).parent / "scanflow")
    subprocess.run([exe, "init", str(archive)], check=True, capture_output=True)
    cmd = [exe, "ingest", "--archive", str(archive), str(pdf), "--half-term", HALF_TERM,
           "--genre", "narrative", "--jobs", str(cores), "-q"]
    cmd += (["--engine", engine] if engine else []) + (["--threads", str(threads)] if threads
                                                       else [])
    return run_measured(cmd)


# --- the profile by stage (--profile) ------------------------------------------------

STAGES = ("hash", "rasterise", "codes", "orientation", "cleaning", "recognition",
          "image writes", "display copies", "image hashes", "database")


class StageClock:
    """CPU seconds by stage, each counted once: a stage inside another (orientation runs
    inside cleaning) is taken out of the outer one. CPU is this process's (all threads,
    so onnxruntime's too) plus its finished children's (the tesseract and pdftoppm runs)."""

    def __init__(self):
        self.seconds = {s: 0.0 for s in STAGES}
        self.stack: list[list] = []

    @staticmethod
    def cpu() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def wrap(self, stage: str, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            self.stack.append([stage, self.cpu(), 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                name, start, inner = self.stack.pop()
                spent = self.cpu() - start
                self.seconds[name] += spent - inner
                if self.stack:
                    self.stack[-1][2] += spent
        return timed


def profile_ingest(pdf: Path, archive_path: Path, engine: str | None,
                   threads: int | None = None) -> dict:
    """Ingest ``pdf`` in this process (one worker) with every stage's function wrapped in a
    :class:`StageClock`. Returns CPU seconds by stage, the total, and the page count."""
    from scanflow.archive.store import init_archive
    from scanflow.intake import codes, sources
    from scanflow.intake import ingest as ingest_mod
    from scanflow.ocr import reader

    clock = StageClock()
    patches = [
        (sources, "sha256_file", "hash"), (sources, "render_page", "rasterise"),
        (codes, "find_code", "codes"), (reader, "decide_orientation", "orientation"),
        (reader, "prepare", "cleaning"), (ingest_mod, "encode_ocr_image", "image writes"),
        (ingest_mod, "write_bytes_atomic", "image writes"),
        (ingest_mod, "stage_display_copies", "display copies"),
        (ingest_mod, "record_image_hashes", "image hashes"), (ingest_mod, "save_page", "database"),
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    real_get_engine = ingest_mod.get_engine

    def warm_engine(name, threads=1, **options):
        engine = real_get_engine(name, threads=threads, **options)
        engine.recognise = clock.wrap("recognition", engine.recognise)
        # RapidOCR finds and reads the page's lines once (read_boxes) and both orientation
        # and recognition use that reading: it counts as recognition. Orientation's own
        # cost is what it reads beyond that (each long line's middle, turned round).
        for method in ("read_boxes",):
            if hasattr(engine, method):
                setattr(engine, method, clock.wrap("recognition", getattr(engine, method)))
        if hasattr(engine, "orientation"):
            engine.orientation = clock.wrap("orientation", engine.orientation)
        return engine

    real_read_ahead = ingest_mod.read_ahead

    def one_by_one(tasks, engine):
        # The stage clock reads the process's CPU: rendering the next page in a thread
        # meanwhile would count it in whichever stage runs then.
        for task in tasks:
            yield task, ingest_mod.process_page(task, engine)

    try:
        for module, name, stage in patches:
            setattr(module, name, clock.wrap(stage, getattr(module, name)))
        ingest_mod.get_engine = warm_engine
        ingest_mod.read_ahead = one_by_one
        archive = init_archive(archive_path)
        start, wall = clock.cpu(), time.monotonic()
        report = ingest_mod.ingest(archive, [pdf], ingest_mod.IngestOptions(
            half_term=HALF_TERM, genre="narrative", jobs=1, engine=engine, threads=threads))
        total, wall = clock.cpu() - start, time.monotonic() - wall
        archive.close()
    finally:
        for module, name, fn in saved:
            setattr(module, name, fn)
        ingest_mod.get_engine = real_get_engine
        ingest_mod.read_ahead = real_read_ahead
    pages = report.pages_ok + report.pages_blank
    stages = {k: round(v, 3) for k, v in clock.seconds.items()}
    stages["other"] = round(total - sum(clock.seconds.values()), 3)
    not_engine = total - clock.seconds["recognition"]
    return {"engine": engine or "rapidocr", "pages": pages, "threads": threads or "default",
            "cpu_seconds": round(total, 2),
            "wall_seconds": round(wall, 2), "cpu_s_per_page": round(total / max(pages, 1), 2),
            "stages_cpu_s": stages,
            "not_recognition_share": round(not_engine / total, 3) if total else None}


def print_profile(p: dict) -> None:
    print(f"profile, {p['engine']}, 1 worker, {p['threads']} engine threads: {p['pages']} pages, "
          f"{p['cpu_seconds']} CPU-s "
          f"({p['cpu_s_per_page']} a page), {p['wall_seconds']} s wall")
    total = p["cpu_seconds"] or 1
    for stage, secs in p["stages_cpu_s"].items():
        print(f"  {stage:<13} {secs:7.2f} CPU-s  {100 * secs / total:5.1f} %")
    print(f"  everything but recognition: {100 * p['not_recognition_share']:.1f} % "
          "(goal <= 15 %)")


# --- 1 worker against 2 (--scaling) ----------------------------------------------------


def ingest_cpu(pdf: Path, archive: Path, jobs: int, engine: str | None,
               threads: int | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process tree) of one ``scanflow ingest``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, _, rc = scanflow_ingest(pdf, archive, jobs, engine, threads)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        sys.exit(f"scanflow ingest failed (exit {rc})")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


# (workers, engine threads a worker; None: the default rule, engine_threads)
SCALING_RUNS = {"j1t1": (1, 1), "j2t1": (2, 1), "j1": (1, None), "j2": (2, None)}


def scaling(pdf: Path, pages: int, work: Path, rounds: int, engine: str | None) -> dict:
    """Each configuration of :data:`SCALING_RUNS` once a round, the order turned round
    every other round. With the defaults on 2 cores -j2 is the same run as -j2 with one
    thread, so it is run once and reported under both."""
    from scanflow.intake.ingest import engine_threads

    cores = os.cpu_count() or 1
    distinct = {}
    for name, (jobs, threads) in SCALING_RUNS.items():
        distinct.setdefault((jobs, threads or engine_threads(jobs, cores)), []).append(name)
    runs: dict[tuple[int, int], list[tuple[float, float]]] = {k: [] for k in distinct}
    for r in range(rounds):
        for key in (list(distinct) if r % 2 == 0 else list(distinct)[::-1]):
            runs[key].append(ingest_cpu(pdf, work / f"j{key[0]}t{key[1]}-r{r}", key[0],
                                        engine, key[1]))
    out = {"pages": pages, "rounds": rounds, "engine": engine or "rapidocr", "cores": cores}
    for key, samples in runs.items():
        wall = sum(w for w, _ in samples) / len(samples)
        cpu = sum(c for _, c in samples) / len(samples)
        for name in distinct[key]:
            out[name] = {"jobs": key[0], "threads": key[1],
                         "pages_per_s": round(pages / wall, 3),
                         "cpu_s_per_page": round(cpu / pages, 2), "wall_s": round(wall, 1)}
    out["ratio_2_workers_vs_1_one_thread_each"] = round(
        out["j2t1"]["pages_per_s"] / out["j1t1"]["pages_per_s"], 2)
    out["ratio_2_workers_vs_1_defaults"] = round(
        out["j2"]["pages_per_s"] / out["j1"]["pages_per_s"], 2)
    return out


# --- against OCRmyPDF (--ocrmypdf) -----------------------------------------------------


def against_ocrmypdf(pdf: Path, pages: int, work: Path, rounds: int, exe: str | None) -> dict:
    """``scanflow ingest`` (default engine and workers) and OCRmyPDF on the same PDF, both
    with every core (``--jobs``), turning pages upright and deskewing as scanflow does,
    in alternating rounds. Skipped, saying so, when OCRmyPDF is not installed (it is not
    a scanflow dependency: ``pip install ocrmypdf`` in another environment and pass
    ``--ocrmypdf-exe``, or have it on PATH)."""
    exe = exe or shutil.which("ocrmypdf")
    if not exe:
        return {"skipped": "ocrmypdf is not installed"}
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    cores = os.cpu_count() or 1
    runs: dict[str, list[tuple[float, float]]] = {"scanflow": [], "ocrmypdf": []}
    for r in range(rounds):
        for who in (("scanflow", "ocrmypdf") if r % 2 == 0 else ("ocrmypdf", "scanflow")):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            if who == "scanflow":
                wall, _, rc = scanflow_ingest(pdf, work / f"sf-{r}", cores)
            else:
                # --output-type pdf: PDF/A would need Ghostscript, which scanflow does not.
                wall, _, rc = run_measured([exe, "--jobs", str(cores), "--rotate-pages",
                                            "--deskew", "--output-type", "pdf", "-q",
                                            str(pdf), str(work / f"ocrmypdf-{r}.pdf")])
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if rc != 0:
                sys.exit(f"{who} failed (exit {rc})")
            runs[who].append((wall, (after.ru_utime - before.ru_utime)
                              + (after.ru_stime - before.ru_stime)))
    out: dict = {"pages": pages, "rounds": rounds, "cores": cores, "ocrmypdf_version": version}
    for who, samples in runs.items():
        wall = sum(w for w, _ in samples) / len(samples)
        cpu = sum(c for _, c in samples) / len(samples)
        out[who] = {"pages_per_s": round(pages / wall, 3), "cpu_s_per_page": round(cpu / pages, 2)}
    out["ratio_scanflow_vs_ocrmypdf"] = round(out["scanflow"]["pages_per_s"]
                                              / out["ocrmypdf"]["pages_per_s"], 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=10, help="pages for the speed run")
    ap.add_argument("--big", type=int, default=100, help="pages of the large memory run")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--profile", action="store_true", help="CPU by stage (see above)")
    ap.add_argument("--scaling", action="store_true", help="1 worker against 2 (see above)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds for --scaling")
    ap.add_argument("--engine", help="engine for --profile/--scaling (default: rapidocr)")
    ap.add_argument("--threads", type=int, help="engine threads for --profile (default: "
                    "cores, as one worker gets)")
    ap.add_argument("--ocrmypdf", action="store_true",
                    help="scanflow against OCRmyPDF on the same PDF (see above)")
    ap.add_argument("--ocrmypdf-exe", help="the ocrmypdf command (default: on PATH)")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    if args.profile or args.scaling or args.ocrmypdf:
        with tempfile.TemporaryDirectory() as tmp:
            pdf = make_pdf(Path(tmp) / "pages.pdf", args.pages)
            result = {}
            if args.ocrmypdf:
                result["ocrmypdf"] = against_ocrmypdf(pdf, args.pages, Path(tmp), args.rounds,
                                                      args.ocrmypdf_exe)
            if args.profile:
                result["profile"] = profile_ingest(pdf, Path(tmp) / "profiled", args.engine,
                                                   args.threads)
            if args.scaling:
                result["scaling"] = scaling(pdf, args.pages, Path(tmp), args.rounds,
                                            args.engine)
        if args.json:
            print(json.dumps(result, indent=2))
            return 0
        if "profile" in result:
            print_profile(result["profile"])
        if "ocrmypdf" in result:
            o = result["ocrmypdf"]
            if "skipped" in o:
                print(f"against OCRmyPDF: skipped ({o['skipped']})")
            else:
                print(f"against OCRmyPDF {o['ocrmypdf_version']}, {o['pages']} pages, {o['rounds']} "
                      f"alternating rounds, --jobs {o['cores']} each:")
                for who in ("scanflow", "ocrmypdf"):
                    print(f"  {who:<9} {o[who]['pages_per_s']:.3f} pages/s, "
                          f"{o[who]['cpu_s_per_page']} CPU-s a page")
                print(f"  scanflow / OCRmyPDF: {o['ratio_scanflow_vs_ocrmypdf']:.2f}x "
                      "(goal >= 1.5x)")
        if "scaling" in result:
            sc = result["scaling"]
            print(f"scaling, {sc['engine']}, {sc['pages']} pages, {sc['rounds']} interleaved "
                  f"rounds on {cores} cores:")
            for name, label in (("j1t1", "-j1 --threads 1"), ("j2t1", "-j2 --threads 1"),
                                ("j1", "-j1 (default threads)"), ("j2", "-j2 (default threads)")):
                j = sc[name]
                print(f"  {label:<22} {j['threads']} thread(s): {j['pages_per_s']:.3f} pages/s, "
                      f"{j['cpu_s_per_page']} CPU-s a page")
            print(f"  2 workers / 1 worker, one engine thread each: "
                  f"{sc['ratio_2_workers_vs_1_one_thread_each']:.2f}x (goal >= 1.8x)")
            print(f"  2 workers / 1 worker, default threads: "
                  f"{sc['ratio_2_workers_vs_1_defaults']:.2f}x")
        return 0
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
