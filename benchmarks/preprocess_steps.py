"""Each preprocessing step on and off, per engine, on every evaluation set (issue 3).

    .venv/bin/python benchmarks/preprocess_steps.py [--configs baseline,all,...] \\
        [--sets synth,sample,hooker] [--engines rapidocr,tesseract] [--hooker-limit 10] \\
        [--jobs 1] [--out benchmarks/out/preprocess_steps.json]

Sets (all through :func:`scanflow.evaluation.evaluate.evaluate`, the function behind ``scanflow eval``):

* ``synth``: the generated exercise-book pages of ``benchmarks/handwriting_eval.py``
  (scans, phone photos, steeply tilted photos, faint pencil, greyscale scans), reported
  per kind, kept in
  ``benchmarks/out/handwriting-set`` so later runs reuse them;
* ``sample``: the six pages of ``scans_sample/`` (PDF pages rendered at 300 dpi as by an
  ingest, written losslessly to ``benchmarks/out/sample-pages`` with their truth);
* ``hooker``: ``../shared/eval/handwriting/hooker_pages`` (real adult cursive, photographed),
  ``--hooker-limit`` pages spread over the 25 (0 = all).

A configuration is a named set of :class:`~scanflow.ocr.preprocess.PreprocessSettings`
changes (see ``CONFIGS``): ``default`` is :class:`PreprocessSettings` as shipped,
``baseline`` the pipeline as it was before these steps, ``all`` every new step on;
``no-<step>`` / ``+<step>`` change one step from the defaults, ``all-...`` one from ``all``.
Prints one row per set x engine x configuration: CER, WER, seconds per page and (synthetic
pages) the share of children's misspellings read back exactly as written.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from handwriting_eval import KINDS, make_set, misspellings_kept  # noqa: E402

from scanflow.evaluation.evaluate import evaluate  # noqa: E402
from scanflow.ocr.preprocess import PreprocessSettings  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
HOOKER = ROOT.parent / "shared" / "eval" / "handwriting" / "hooker_pages"

# Every step this benchmark judges, as the settings that switch it off.
NEW_OFF = {"dewarp": False, "contrast": "none", "rules_from_grey": False, "despeckle": False,
           "line_bands": "off"}
ALL_ON = {"dewarp": True, "contrast": "stretch", "rules_from_grey": True, "despeckle": True,
          "line_bands": "off"}

CONFIGS: dict[str, dict] = {
    "default": {},  # PreprocessSettings() as shipped
    "baseline": NEW_OFF,  # the pipeline before issue 3's second half
    "all": ALL_ON,  # every new step on
    # one step changed from the defaults
    "no-dewarp": {"dewarp": False},
    "no-despeckle": {"despeckle": False},
    "+stretch": {"contrast": "stretch"},
    "+clahe": {"contrast": "clahe"},
    "+rules-grey": {"rules_from_grey": True},
    "+regroup": {"line_bands": "regroup"},
    "+read": {"line_bands": "read"},
    # round 1 (before the defaults were chosen): one step off from "all"
    "all-no-dewarp": {**ALL_ON, "dewarp": False},
    "all-no-contrast": {**ALL_ON, "contrast": "none"},
    "all-clahe": {**ALL_ON, "contrast": "clahe"},
    "all-no-rules-grey": {**ALL_ON, "rules_from_grey": False},
    "all-no-despeckle": {**ALL_ON, "despeckle": False},
}


def sample_pages(folder: Path) -> Path:
    """scans_sample's pages as single images with ``<stem>.gt.txt`` beside them."""
    from PIL import Image

    from scanflow.intake import sources

    folder.mkdir(parents=True, exist_ok=True)
    truth = ROOT / "scans_sample" / "truth"
    for gt in sorted(truth.glob("*.gt.txt")):
        stem = gt.name[: -len(".gt.txt")]
        file_stem, page = stem.rsplit(".p", 1)
        target = folder / f"{stem}.png"
        if target.exists():
            continue
        source = next(p for p in (ROOT / "scans_sample").iterdir()
                      if p.stem == file_stem and sources.is_scan_name(p))
        rendered = sources.render_page(sources.inspect(source), int(page), dpi=300)
        Image.fromarray(rendered.rgb).save(target, dpi=(rendered.dpi, rendered.dpi))
        (folder / gt.name).write_text(gt.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def rows_for(report, set_name: str, config: str, kinds: dict[str, str] | None) -> list[dict]:
    """One row for the whole report, or one per kind of synthetic page."""
    groups: dict[str, list] = {}
    for r in report.results:
        kind = kinds.get(r.stem, "?") if kinds else set_name
        groups.setdefault(kind, []).append(r)
    from scanflow.evaluation.metrics import Corpus

    rows = []
    for kind, results in groups.items():
        corpus = Corpus()
        for r in results:
            corpus.add(r.reference, r.hypothesis)
        miss = [misspellings_kept(r.reference, r.hypothesis) for r in results] if kinds else []
        total, kept = sum(m[0] for m in miss), sum(m[1] for m in miss)
        rows.append({
            "set": kind, "engine": report.engine, "config": config, "pages": len(results),
            "cer": round(corpus.cer, 4), "wer": round(corpus.wer, 4),
            "s_per_page": round(sum(r.seconds for r in results) / len(results), 2),
            "cpu_s_per_page": round(sum(r.cpu_seconds for r in results) / len(results), 2),
            "misspellings_kept": f"{kept}/{total}" if total else "",
            "errors": sum(1 for r in results if r.error),
        })
    return rows


def markdown_table(path: Path) -> str:
    """The rows saved in ``path`` (JSON lines) as a Markdown table, last run of each wins."""
    rows: dict[tuple, dict] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows[(row["set"], row["engine"], row["config"])] = row
    out = ["| set | engine | config | pages | CER % | WER % | s/page | CPU s/page "
           "| misspellings kept |", "|---|---|---|---:|---:|---:|---:|---:|---|"]
    order = {k: i for i, k in enumerate([*KINDS, "sample", "hooker"])}
    for key in sorted(rows, key=lambda k: (order.get(k[0], 99), k[1], k[2])):
        r = rows[key]
        out.append(f"| {r['set']} | {r['engine']} | {r['config']} | {r['pages']} | "
                   f"{100 * r['cer']:.2f} | {100 * r['wer']:.2f} | {r['s_per_page']:.2f} | "
                   f"{r.get('cpu_s_per_page', 0):.2f} | {r['misspellings_kept']} |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="baseline,all")
    ap.add_argument("--sets", default="synth,sample,hooker")
    ap.add_argument("--kinds", default=",".join(KINDS),
                    help="synthetic kinds to evaluate (scan,photo,faint,greyscan)")
    ap.add_argument("--engines", default="rapidocr,tesseract")
    ap.add_argument("-O", "--engine-option", action="append", default=[], metavar="KEY=VALUE",
                    help="engine option (JSON value), e.g. -O psm=7")
    ap.add_argument("--hooker-limit", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--pages", type=int, default=12)
    ap.add_argument("--photos", type=int, default=6)
    ap.add_argument("--faint", type=int, default=8)
    ap.add_argument("--grey", type=int, default=4)
    ap.add_argument("--tilted", type=int, default=4)
    ap.add_argument("--out", type=Path, default=OUT / "preprocess_steps.json",
                    help="append the rows to this JSON-lines file")
    ap.add_argument("--table", action="store_true",
                    help="print the rows already in --out as a Markdown table and stop")
    args = ap.parse_args()
    if args.table:
        print(markdown_table(args.out))
        return 0

    folders: dict[str, tuple[Path, dict | None, int | None]] = {}
    for name in args.sets.split(","):
        if name == "synth":
            folder = OUT / "handwriting-set"
            folder.mkdir(parents=True, exist_ok=True)
            kinds = make_set(folder, args.pages, args.photos, args.faint, args.grey,
                             args.tilted)
            wanted = set(args.kinds.split(","))
            if wanted != set(KINDS):
                # evaluate() reads a folder: link the chosen kinds into a sub-folder.
                sub = OUT / ("handwriting-set-" + "-".join(sorted(wanted)))
                sub.mkdir(exist_ok=True)
                for old in sub.iterdir():  # the set may have grown or shrunk
                    old.unlink()
                for stem, kind in kinds.items():
                    if kind in wanted:
                        for suffix in (".jpg", ".gt.txt"):
                            link = sub / (stem + suffix)
                            if not link.exists():
                                link.symlink_to((folder / (stem + suffix)).resolve())
                folder = sub
            folders[name] = (folder, kinds, None)
        elif name == "sample":
            folders[name] = (sample_pages(OUT / "sample-pages"), None, None)
        elif name == "hooker":
            folders[name] = (HOOKER, None, args.hooker_limit or None)
        else:
            ap.error(f"unknown set {name}")

    options = {}
    for pair in args.engine_option:
        key, _, value = pair.partition("=")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    rows = []
    for config in args.configs.split(","):
        settings = replace(PreprocessSettings(), **CONFIGS[config])
        for engine in args.engines.split(","):
            for name, (folder, kinds, limit) in folders.items():
                started = time.perf_counter()
                report = evaluate(folder, engine, preprocess=settings, limit=limit,
                                  jobs=args.jobs, engine_options=options)
                for row in rows_for(report, name, config, kinds):
                    row["wall_s"] = round(time.perf_counter() - started, 1)
                    if options:
                        row["engine_options"] = options
                    rows.append(row)
                    print(f"{row['set']:<9} {row['engine']:<10} {config:<15} "
                          f"{row['pages']:>3} pages  CER {100 * row['cer']:6.2f} %  "
                          f"WER {100 * row['wer']:6.2f} %  {row['s_per_page']:5.2f} s/page "
                          f"({row['cpu_s_per_page']:.2f} CPU s)  "
                          f"{row['misspellings_kept']}", flush=True)
                    if args.out:
                        args.out.parent.mkdir(parents=True, exist_ok=True)
                        with args.out.open("a") as fh:
                            fh.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
