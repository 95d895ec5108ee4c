"""What a page costs on disk, in an export, and to open; and the image path's speed.

    .venv/bin/python benchmarks/archive_size.py [--pages 6] [--quality 85] [--engine rapidocr] [--json]

Two batches are ingested into fresh archives with the default pipeline:

* ``scans_sample/`` (6 pages: JPEG photos, a PNG, a 3-page JPEG-in-PDF class batch);
* a generated 300-dpi colour class batch of ``--pages`` pages (``scanflow.evaluation.synth``
  handwriting, each page a JPEG at quality 85 in a PDF, one image a page, as office
  scanners write them), split between two pupils by a manifest.

For each, measured:

* input bytes a page, and every byte the archive folder holds by kind (masters, OCR
  images, display copies, thumbnails, full-size copies, anything else, the database's
  growth), in KB a page, after the review app has been asked for every picture of every
  page (so every copy it would ever cache is there). ``per_page_over_input``: all of it
  over the input (target <= 1.2); ``per_page_mb`` (target <= 0.8 for a 300-dpi colour
  scan); ``scanflow_adds_kb_per_page``: all but the master; ``with_fixed_db_over_input``:
  with the database of an empty archive with the same class list (a fixed cost a 6-page
  sample spreads thinly and a school's 10,000 pages do not). Reference, same run: the
  same pages stored as before masters were kept (an upright PNG at compression 1 and a
  PNG OCR image), with the same database.
* ``export pdf`` of every piece: PDF bytes over its pages' master bytes (target <= 1.3).
* opening a page's pictures in the review app (Flask test client, no sockets): display,
  thumbnail and full page, first open (caches deleted) and later; then with every page
  turned a quarter. p95 in ms (target <= 100). Reference: the app's static CSS.
* the image step of ingest per page, old / previous / new, on the generated batch (see
  :func:`image_path_speed`). Recognition is the same in all and is left out (it is 95 %
  of a page's time and would drown the difference).
* what one generated colour page weighs as a JPEG at quality 75/85/95, 4:2:0 and 4:4:4.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

SAMPLE = ROOT / "scans_sample"
HT, GENRE = "2026-27-autumn-1", "narrative"


def folder_bytes(path: Path, skip: str | None = None) -> int:
    return sum(p.stat().st_size for p in path.rglob("*")
               if p.is_file() and not (skip and skip in p.relative_to(path).parts))


def db_bytes(archive) -> int:
    """The database and its WAL after a checkpoint (the -shm file is SQLite's shared
    memory while the archive is open, never backed up, deleted on close: not counted)."""
    archive.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in archive.path.glob("scanflow.db*")
               if not p.name.endswith("-shm"))


def archive_bytes(archive, with_derived: bool) -> int:
    return db_bytes(archive) + folder_bytes(archive.images_dir,
                                            None if with_derived else "derived")


def bytes_by_kind(archive, empty_db: int) -> dict[str, int]:
    """Every byte the archive folder holds, by what it is: masters, OCR images, display
    copies, thumbnails, full-size copies, anything else under images/, and the database
    (``db_per_page``: its growth over an empty archive with the same class list;
    ``db_fixed``: that empty archive's own database)."""
    masters = {r[0] for r in archive.db.execute(
        "SELECT image_path FROM pages WHERE image_path IS NOT NULL")}
    ocr = {r[0] for r in archive.db.execute(
        "SELECT ocr_image_path FROM pages WHERE ocr_image_path IS NOT NULL")}
    kinds = dict.fromkeys(("master", "ocr", "display", "thumb", "full", "other"), 0)
    for path in archive.images_dir.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(archive.images_dir).as_posix()
        if rel in masters:
            kind = "master"
        elif rel in ocr:
            kind = "ocr"
        elif rel.startswith("derived/") and path.name.count(".") == 2:
            kind = path.name.split(".")[1]
            kind = kind if kind in kinds else "other"
        else:
            kind = "other"
        kinds[kind] += path.stat().st_size
    db = db_bytes(archive)
    kinds["db_per_page"] = db - empty_db
    kinds["db_fixed"] = empty_db
    return kinds


def old_store_bytes(archive) -> int:
    """The same pages as the store kept them before: upright PNG (level 1) + PNG OCR image."""
    from scanflow.archive.images import load_view

    total = 0
    for rel, turn, orel in archive.db.execute(
            "SELECT image_path, image_turn, ocr_image_path FROM pages WHERE image_path IS NOT NULL"):
        view = cv2.cvtColor(load_view(archive.image(rel), turn), cv2.COLOR_RGB2BGR)
        total += len(cv2.imencode(".png", view, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1])
        if orel:
            ocr = cv2.imread(str(archive.image(orel)), cv2.IMREAD_GRAYSCALE)
            total += len(cv2.imencode(".png", ocr, [cv2.IMWRITE_PNG_COMPRESSION, 1,
                                                   cv2.IMWRITE_PNG_BILEVEL, 1])[1])
    return total + db_bytes(archive)


def make_class_batch(folder: Path, pages: int, quality: int) -> tuple[Path, Path]:
    """A 300-dpi colour JPEG-in-PDF batch and its manifest (two pupils, half each)."""
    from reportlab.pdfgen.canvas import Canvas

    from scanflow.evaluation.synth import render_page
    from scanflow.exports.pdf import _binary_streams

    folder.mkdir(parents=True, exist_ok=True)
    pdf = folder / "class-3A-300dpi.pdf"
    with _binary_streams():
        canvas = Canvas(str(pdf))
        for i in range(pages):
            page = render_page(seed=700 + i, dpi=300, ink="blue" if i % 2 else "pencil",
                               skew_deg=1.0, lighting=0.3, noise=0.3)
            jpg = folder / f"page{i}.jpg"
            cv2.imwrite(str(jpg), cv2.cvtColor(page.image, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, quality])
            h, w = page.image.shape[:2]
            canvas.setPageSize((w * 72 / 300, h * 72 / 300))
            canvas.drawImage(str(jpg), 0, 0, width=w * 72 / 300, height=h * 72 / 300)
            canvas.showPage()
        canvas.save()
    half = max(1, pages // 2)
    manifest = folder / "manifest.csv"
    manifest.write_text("file,first_page,last_page,pupil_id\n"
                        f"{pdf.name},1,{half},A100000000001\n"
                        + (f"{pdf.name},{half + 1},{pages},A100000000002\n" if pages > 1 else ""))
    for jpg in folder.glob("page*.jpg"):
        jpg.unlink()
    return pdf, manifest


def ingest_into(folder: Path, scans: list[Path], manifest: Path, engine: str):
    from scanflow.archive.roster import import_roster
    from scanflow.archive.store import init_archive
    from scanflow.intake.ingest import IngestOptions, ingest

    archive = init_archive(folder)
    import_roster(archive, SAMPLE / "roster.csv")
    started = time.monotonic()
    report = ingest(archive, scans, IngestOptions(half_term=HT, genre=GENRE, engine=engine,
                                                  manifest=str(manifest), jobs=1))
    return archive, report, time.monotonic() - started


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95)) if values else 0.0


def opening(archive) -> dict:
    """Opening a page's pictures in the review app: first open (every cached copy
    deleted, so anything needed is made then) and later opens, for the display picture,
    the thumbnail and the whole page; then the same with every page turned a quarter
    (``image_turn``, as for a page fed sideways), and back."""
    from scanflow.review.app import create_app

    client = create_app(archive.path).test_client()
    ids = [r[0] for r in archive.db.execute("SELECT id FROM pages WHERE image_path IS NOT NULL")]

    def ms(url: str) -> float:
        t = time.perf_counter()
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        r.get_data()
        return 1000 * (time.perf_counter() - t)

    def times(label: str) -> dict:
        shutil.rmtree(archive.images_dir / "derived", ignore_errors=True)
        out = {}
        for kind, url in (("display", "display.webp"), ("thumb", "thumb.webp"), ("full", "full")):
            first = [ms(f"/page/{i}/{url}") for i in ids]
            later = [ms(f"/page/{i}/{url}") for i in ids for _ in range(3)]
            out[f"{label}{kind}_first_p95_ms"] = round(p95(first), 1)
            out[f"{label}{kind}_cached_p95_ms"] = round(p95(later), 1)
        return out

    result = times("")
    with archive.transaction() as db:
        db.execute("UPDATE pages SET image_turn = (image_turn + 90) % 360")
    result.update(times("turned_"))
    with archive.transaction() as db:
        db.execute("UPDATE pages SET image_turn = (image_turn + 270) % 360")
    shutil.rmtree(archive.images_dir / "derived", ignore_errors=True)
    for i in ids:  # leave what the app would make for the upright pages
        ms(f"/page/{i}/thumb.webp")
        ms(f"/page/{i}/display.webp")
    ref = [ms("/static/review.css") for _ in range(20)]
    result["reference_static_css_p95_ms"] = round(p95(ref), 1)
    return result


def exports(archive, out: Path) -> dict:
    from scanflow.exports.pdf import searchable_pdf

    ratios = []
    for (piece,) in archive.db.execute("SELECT id FROM pieces"):
        masters = sum(archive.image(r[0]).stat().st_size for r in archive.db.execute(
            "SELECT image_path FROM pages WHERE piece_id = ? AND image_path IS NOT NULL",
            [piece]))
        if not masters:
            continue
        pdf = searchable_pdf(archive, piece, out / f"piece{piece}.pdf")
        ratios.append(pdf.stat().st_size / masters)
    return {"pieces": len(ratios), "pdf_over_masters_max": round(max(ratios), 3) if ratios else None,
            "pdf_over_masters_mean": round(statistics.mean(ratios), 3) if ratios else None}


def measure(name: str, archive, report, seconds: float, input_bytes: int, work: Path,
            empty_db: int) -> dict:
    pages = archive.db.execute("SELECT COUNT(*) FROM pages").fetchone()[0]
    # Every thumbnail and copy the app would ever make, made now: the most the archive
    # can hold, not just what ingest left.
    opened = opening(archive)
    kinds = bytes_by_kind(archive, empty_db)
    per_page = sum(v for k, v in kinds.items() if k != "db_fixed")
    old = old_store_bytes(archive)
    result = {
        "pages": pages, "ingest_seconds": round(seconds, 1),
        "input_bytes_per_page": round(input_bytes / pages),
        "kb_per_page_by_kind": {k: round(v / pages / 1024, 1) for k, v in kinds.items()},
        # Everything a page adds to the archive folder, as a ratio to its input (target
        # <= 1.2) and in MB; then the same with the empty archive's database (a fixed
        # cost, 0.24 MB, that 6 pages feel and a school's 10,000 do not).
        "per_page_over_input": round(per_page / input_bytes, 3),
        "per_page_mb": round(per_page / pages / 1e6, 3),
        "scanflow_adds_kb_per_page": round((per_page - kinds["master"]) / pages / 1024, 1),
        "with_fixed_db_over_input": round((per_page + empty_db) / input_bytes, 3),
        "reference_old_store_over_input": round(old / input_bytes, 3),
    }
    result["open"] = opened
    out = work / f"{name}-pdf"
    out.mkdir()
    result["export"] = exports(archive, out)
    return result


def colour_page_sizes(seed: int = 700) -> dict:
    """What one generated 300-dpi colour page weighs as a scanner's JPEG, by quality and
    chroma subsampling (4:2:0 is what libjpeg and most scanners use by default)."""
    from scanflow.evaluation.synth import render_page

    page = render_page(seed=seed, dpi=300, ink="blue", skew_deg=1.0, lighting=0.3, noise=0.3)
    bgr = cv2.cvtColor(page.image, cv2.COLOR_RGB2BGR)
    sizes = {}
    for quality in (75, 85, 95):
        for name, factor in (("420", cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420),
                             ("444", cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)):
            ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality,
                                                 cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor])
            sizes[f"q{quality}_{name}_mb"] = round(len(buf) / 1e6, 3)
    return sizes


def image_path_speed(pdf: Path, pages: int) -> dict:
    """Seconds a page to obtain and store the page's images, three ways, interleaved page
    by page so that load from other work falls on all three alike:
    old (before masters were kept): pdftoppm, an upright PNG and a PNG OCR image;
    previous (masters kept, 1600-px and 360-px WebP display copies made at ingest);
    new (masters kept, only the copies :func:`copies_to_make` asks for: a thumbnail)."""
    from scanflow.archive.images import (
        encode_ocr_image,
        stage_display_copies,
        write_bytes_atomic,
        write_png_atomic,
    )
    from scanflow.intake import sources

    scan = sources.inspect(pdf)
    times: dict[str, list[float]] = {"old": [], "previous": [], "new": []}

    def kept(tmp: Path, name: str, page) -> None:
        grey = cv2.cvtColor(page.rgb, cv2.COLOR_RGB2GRAY)
        ocr = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
        write_bytes_atomic(tmp / f"{name}.jpg", page.master)
        if name.startswith("new"):
            stage_display_copies(tmp / f"{name}.jpg", page.rgb)
        else:  # as the previous version did: both copies, WebP 80 and 75
            bgr = cv2.cvtColor(page.rgb, cv2.COLOR_RGB2BGR)
            h, w = bgr.shape[:2]
            for width, quality in ((1600, 80), (360, 75)):
                small = cv2.resize(bgr, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)
                write_bytes_atomic(tmp / f"{name}.{width}.webp", cv2.imencode(
                    ".webp", small, [cv2.IMWRITE_WEBP_QUALITY, quality])[1].tobytes())
        data, ext = encode_ocr_image(ocr)
        write_bytes_atomic(tmp / f"{name}.ocr.{ext}", data)

    with tempfile.TemporaryDirectory(prefix="scanflow-imgpath-") as tmp:
        tmp = Path(tmp)
        for n in range(1, pages + 1):
            t = time.perf_counter()
            layout = sources.pdf_pages(pdf, n, n)[n]
            page = sources._rasterise_pdf_page(pdf, n, 300, sources.DEFAULT_MAX_PIXELS,
                                               layout.size_pts)
            grey = cv2.cvtColor(page.rgb, cv2.COLOR_RGB2GRAY)
            ocr = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
            write_png_atomic(tmp / f"old{n}.png", cv2.cvtColor(page.rgb, cv2.COLOR_RGB2BGR))
            write_png_atomic(tmp / f"old{n}.ocr.png", ocr)
            times["old"].append(time.perf_counter() - t)
            for name in ("previous", "new"):
                t = time.perf_counter()
                kept(tmp, f"{name}{n}", sources.render_page(scan, n))
                times[name].append(time.perf_counter() - t)
    mean = {k: statistics.mean(v) for k, v in times.items()}
    return {**{f"{k}_seconds_per_page": round(v, 3) for k, v in mean.items()},
            "previous_over_old": round(mean["previous"] / mean["old"], 3),
            "new_over_old": round(mean["new"] / mean["old"], 3),
            "new_over_previous": round(mean["new"] / mean["previous"], 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=6, help="pages of the generated batch")
    ap.add_argument("--quality", type=int, default=85,
                    help="JPEG quality of the generated batch's pages (default 85)")
    ap.add_argument("--engine", default="rapidocr")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="scanflow-size-") as tmp:
        work = Path(tmp)
        from scanflow.archive.roster import import_roster
        from scanflow.archive.store import init_archive

        empty = init_archive(work / "empty")
        import_roster(empty, SAMPLE / "roster.csv")
        empty_db = db_bytes(empty)
        empty.close()
        scans = [p for p in sorted(SAMPLE.iterdir()) if p.suffix.lower() in
                 (".pdf", ".jpg", ".png", ".tif", ".tiff")]
        archive, report, secs = ingest_into(work / "sample", scans, SAMPLE / "manifest.csv",
                                            args.engine)
        results["scans_sample"] = measure("sample", archive, report, secs,
                                          sum(p.stat().st_size for p in scans), work, empty_db)
        archive.close()
        pdf, manifest = make_class_batch(work / "batch", args.pages, args.quality)
        archive, report, secs = ingest_into(work / "class", [pdf], manifest, args.engine)
        results[f"class_batch_300dpi_colour_q{args.quality}"] = measure(
            "class", archive, report, secs, pdf.stat().st_size, work, empty_db)
        archive.close()
        results["image_path"] = image_path_speed(pdf, args.pages)
        results["colour_page_jpeg_sizes"] = colour_page_sizes()
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, r in results.items():
        print(f"{name}:")
        for key, value in r.items():
            print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
