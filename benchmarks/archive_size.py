"""What a page costs on disk, in an export, and to open; and the image path's speed.

    .venv/bin/python benchmarks/archive_size.py [--pages 6] [--quality 85] [--engine rapidocr] [--json]

Two batches are ingested into fresh archives with the default pipeline:

* ``scans_sample/`` (6 pages: JPEG photos, a PNG, a 3-page JPEG-in-PDF class batch);
* a generated 300-dpi colour class batch of ``--pages`` pages (``scanflow.evaluation.synth``
  handwriting, each page a JPEG at quality 85 in a PDF, one image a page, as office
  scanners write them), split between two pupils by a manifest.

For each, measured:

* input bytes a page; what the archive keeps a page (masters, OCR images and
  ``scanflow.db`` after a checkpoint: what every backup copies), as a ratio to the
  input (target <= 1.2) and in MB (target <= 0.8 for a 300-dpi colour scan); the same
  less the database of an empty archive with the same class list (``kept_added``: a
  fixed cost a 6-page sample spreads thinly and a school's 10,000 pages do not); and
  the display copies made at ingest (caches: not backed up, remade when deleted),
  separately and in total. Reference, same run: the same pages stored as before this
  change (an upright PNG at compression 1 and a PNG OCR image), with the same database.
* ``export pdf`` of every piece: PDF bytes over its pages' master bytes (target <= 1.3).
* opening a page image in the review app (Flask test client, no sockets): first open
  and later opens of the display copy, the thumbnail, the full page; p95 in ms
  (target <= 100). Reference: the app's static CSS through the same client.
* the image path of ingest per page, old against new, on the generated batch: old =
  render the PDF page with pdftoppm, write it as PNG (level 1) and the OCR image as PNG;
  new = extract the page's JPEG with pdfimages, decode it, write its bytes, the OCR
  image as Group 4 TIFF and the two display copies (WebP). Recognition is the same in both and is left out (it is 95 % of
  a page's time and would drown the difference).
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
    archive.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in archive.path.glob("scanflow.db*"))


def archive_bytes(archive, with_derived: bool) -> int:
    return db_bytes(archive) + folder_bytes(archive.images_dir,
                                            None if with_derived else "derived")


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
    from scanflow.review.app import create_app

    client = create_app(archive.path).test_client()
    ids = [r[0] for r in archive.db.execute("SELECT id FROM pages WHERE image_path IS NOT NULL")]

    def ms(url: str) -> float:
        t = time.perf_counter()
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        r.get_data()
        return 1000 * (time.perf_counter() - t)

    first = [ms(f"/page/{i}/display.webp") for i in ids]
    later = [ms(f"/page/{i}/display.webp") for i in ids for _ in range(5)]
    thumbs = [ms(f"/page/{i}/thumb.webp") for i in ids]
    full = [ms(f"/page/{i}/full") for i in ids]
    ref = [ms("/static/review.css") for _ in range(20)]
    return {"first_open_p95_ms": round(p95(first), 1), "cached_p95_ms": round(p95(later), 1),
            "thumb_first_p95_ms": round(p95(thumbs), 1), "full_p95_ms": round(p95(full), 1),
            "reference_static_css_p95_ms": round(p95(ref), 1)}


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
    stored = archive_bytes(archive, with_derived=True)
    caches = stored - archive_bytes(archive, with_derived=False)
    old = old_store_bytes(archive)
    kept = stored - caches
    result = {
        "pages": pages, "ingest_seconds": round(seconds, 1),
        "input_bytes_per_page": round(input_bytes / pages),
        # What the archive keeps and every backup copies: masters, OCR images, database.
        "kept_bytes_per_page": round(kept / pages),
        "kept_over_input": round(kept / input_bytes, 3),
        "kept_mb_per_page": round(kept / pages / 1e6, 3),
        "kept_added_over_input": round((kept - empty_db) / input_bytes, 3),
        # The display copies made at ingest: caches, not backed up, remade when deleted.
        "display_caches_over_input": round(caches / input_bytes, 3),
        "with_display_caches_over_input": round(stored / input_bytes, 3),
        "with_display_caches_mb_per_page": round(stored / pages / 1e6, 3),
        "reference_old_store_over_input": round(old / input_bytes, 3),
    }
    result["open"] = opening(archive)
    out = work / f"{name}-pdf"
    out.mkdir()
    result["export"] = exports(archive, out)
    return result


def image_path_speed(pdf: Path, pages: int) -> dict:
    """Seconds a page to obtain and store the page image and OCR image, old and new."""
    from scanflow.archive.images import (
        encode_ocr_image,
        stage_display_copies,
        write_bytes_atomic,
        write_png_atomic,
    )
    from scanflow.intake import sources

    scan = sources.inspect(pdf)
    old, new = [], []
    with tempfile.TemporaryDirectory(prefix="scanflow-imgpath-") as tmp:
        for n in range(1, pages + 1):
            t = time.perf_counter()
            info = sources._pdfinfo(pdf, "-f", str(n), "-l", str(n))
            page = sources._rasterise_pdf_page(pdf, n, 300, sources.DEFAULT_MAX_PIXELS, info)
            grey = cv2.cvtColor(page.rgb, cv2.COLOR_RGB2GRAY)
            ocr = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
            write_png_atomic(Path(tmp) / f"old{n}.png", cv2.cvtColor(page.rgb, cv2.COLOR_RGB2BGR))
            write_png_atomic(Path(tmp) / f"old{n}.ocr.png", ocr)
            old.append(time.perf_counter() - t)
            t = time.perf_counter()
            page = sources.render_page(scan, n)
            grey = cv2.cvtColor(page.rgb, cv2.COLOR_RGB2GRAY)
            ocr = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
            write_bytes_atomic(Path(tmp) / f"new{n}.jpg", page.master)
            stage_display_copies(Path(tmp) / f"new{n}.jpg", page.rgb)
            data, ext = encode_ocr_image(ocr)
            write_bytes_atomic(Path(tmp) / f"new{n}.ocr.{ext}", data)
            new.append(time.perf_counter() - t)
    return {"old_seconds_per_page": round(statistics.mean(old), 3),
            "new_seconds_per_page": round(statistics.mean(new), 3),
            "new_over_old": round(statistics.mean(new) / statistics.mean(old), 3)}


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
