"""Opening a page's pictures on a large archive, first view and cached.

    .venv/bin/python benchmarks/page_images_bench.py [--pieces 25000] [--requests 200] [--json]

1. Builds (once, cached under benchmarks/out/page-images-N) an archive of N pieces with
   the review benchmark's generator (``benchmarks/review_bench.py``), then gives every
   page a master where ingest puts one (``images/<sha[:2]>/<sha>/p0001.jpg``): a
   generated 300-dpi colour scan, JPEG 85 as an office scanner writes it (six such
   scans, each page's file a hard link to one of them, so the archive holds tens of
   thousands of master files without tens of GB). 3 % of pages are turned (90, 180 or
   270 degrees, as for pages fed sideways or upside down) and 3 % keep a lossless PNG
   master (a page that was not one image); every page has the thumbnail ingest makes.
2. Serves it with the real server (waitress, 4 threads) on a free loopback port and
   times, one request at a time over HTTP keep-alive, for random pages of each sort:
   * display   GET /page/ID/display.webp: the page beside its text;
   * thumb     GET /page/ID/thumb.webp: the lists' small picture;
   * full      GET /page/ID/full: the scan at full resolution (zoomed in);
   each the first time (the page's cached copies deleted first, so anything needed is
   made then) and again (cached). Reference, same run: GET of the app's static CSS.
   Goal: p95 <= 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from review_bench import Client, build_cached, stats  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
GOAL_MS = 100.0
SCANS = 6
TURNED, PNG = 0.03, 0.03


def give_masters(path: Path, seed: int = 3) -> None:
    """Every page a master file of its own name in the ingest's layout (see the module
    docstring), a few turned, a few PNG, and the thumbnail ingest would have made."""
    import cv2

    from scanflow.archive.images import derived_rel, encode_display, fingerprint, load_view
    from scanflow.archive.store import open_archive
    from scanflow.evaluation.synth import render_page

    archive = open_archive(path)
    scans = []
    for i in range(SCANS):
        page = render_page(seed=900 + i, dpi=300, ink="blue" if i % 2 else "pencil",
                           skew_deg=1.0, lighting=0.3, noise=0.3)
        scan = archive.image(f"bench/scan{i}.jpg")
        cv2.imwrite(str(scan), cv2.cvtColor(page.image, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 85])
        scans.append(scan)
    rng = random.Random(seed)
    rows = archive.db.execute("SELECT id, file_sha256, image_path FROM pages").fetchall()
    updates, thumbs = [], {}
    for page_id, sha, png in rows:
        roll = rng.random()
        if roll < PNG:
            rel, turn = png, 0
        else:
            rel = f"{sha[:2]}/{sha}/p0001.jpg"
            target = archive.image(rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                os.link(scans[page_id % SCANS], target)
            turn = rng.choice((90, 180, 270)) if roll < PNG + TURNED else 0
        updates.append((rel, turn, page_id))
    with archive.transaction() as db:
        db.conn.executemany("UPDATE pages SET image_path = ?, image_turn = ? WHERE id = ?",
                            updates)
    for rel, turn, page_id in updates:  # the thumbnail ingest makes (the same bytes for
        master = archive.image(rel)      # the same scan and turn: made once each)
        key = (rel if rel.startswith("bench/") else page_id % SCANS, turn)
        if key not in thumbs:
            thumbs[key] = encode_display(load_view(master, turn), "thumb")
        target = archive.image(derived_rel(page_id, fingerprint(master, turn), "thumb"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(thumbs[key])
    archive.close()


def run(path: Path, requests: int, seed: int = 17) -> dict:
    from scanflow.archive.store import open_archive
    from scanflow.review.server import make_server

    rng = random.Random(seed)
    archive = open_archive(path)
    sorts = {
        "jpeg": [r[0] for r in archive.db.execute(
            "SELECT id FROM pages WHERE image_path LIKE '%.jpg' AND image_turn = 0")],
        "turned_jpeg": [r[0] for r in archive.db.execute(
            "SELECT id FROM pages WHERE image_path LIKE '%.jpg' AND image_turn != 0")],
        "png": [r[0] for r in archive.db.execute(
            "SELECT id FROM pages WHERE image_path LIKE '%.png'")],
    }
    counts = {t: archive.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("pieces", "pages")}
    archive.close()
    server = make_server(path, "127.0.0.1", 0, threads=4, token=False)
    threading.Thread(target=server.run, daemon=True).start()
    client = Client(server.effective_port)
    result: dict = {"archive": counts}
    try:
        for _ in range(20):  # warm up: connections, SQLite page cache
            client.get("/static/review.css")
        result["reference_static_file"] = stats(
            [client.get("/static/review.css")[2] for _ in range(requests)])
        for sort, ids in sorts.items():
            sample = rng.sample(ids, min(len(ids), requests if sort == "jpeg" else requests // 4))
            for kind, url in (("display", "display.webp"), ("thumb", "thumb.webp"),
                              ("full", "full")):
                first, again = [], []
                for page in sample:
                    # Whatever an earlier request cached would make the first view warm.
                    shutil.rmtree(path / "images" / "derived" / f"p{page}", ignore_errors=True)
                    status, body, ms = client.get(f"/page/{page}/{url}")
                    assert status == 200 and len(body) > 1000, (page, url, status, body[:200])
                    first.append(ms)
                    again.append(client.get(f"/page/{page}/{url}")[2])
                result[f"{sort}_{kind}_first"] = stats(first)
                result[f"{sort}_{kind}_cached"] = stats(again)
    finally:
        client.conn.close()
        time.sleep(0.2)
        server.close()
    ref = result["reference_static_file"]["p50"]
    for name, s in result.items():
        if name not in ("archive", "reference_static_file"):
            s["p95_vs_reference_p50"] = round(s["p95"] / ref, 1) if ref else None
            s["meets_goal"] = s["p95"] <= GOAL_MS
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pieces", type=int, default=25000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    path = OUT / f"page-images-{args.pieces}"
    built = build_cached(path, args.pieces, rebuild=args.rebuild, then=give_masters)
    if built is not None:
        print(f"built {path} in {built} s", file=sys.stderr)
    result = run(path, args.requests)
    result["load_average"] = os.getloadavg()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['archive']['pieces']} pieces, {result['archive']['pages']} pages; "
          f"load average {result['load_average'][0]:.1f}")
    r = result["reference_static_file"]
    print(f"{'reference: static file':<28} p50 {r['p50']:7.2f} ms  p95 {r['p95']:7.2f} ms")
    for name, s in result.items():
        if name in ("archive", "reference_static_file", "load_average"):
            continue
        print(f"{name.replace('_', ' '):<28} p50 {s['p50']:7.2f} ms  p95 {s['p95']:7.2f} ms  "
              f"max {s['max']:7.2f} ms  n={s['n']}  goal p95 <= {GOAL_MS:.0f} ms: "
              f"{'met' if s['meets_goal'] else 'NOT MET'}")


if __name__ == "__main__":
    main()
