"""Page masters: the scanner's bytes kept as they are, turning kept as data, derived images
rebuilt from masters, pages erased one by one out of a shared class batch, and older
archives' PNGs migrated losslessly. Real Tesseract on small generated pages."""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import page_image
from PIL import Image, ImageOps
from reportlab.pdfgen.canvas import Canvas
from test_cover_sheets import rendered_sheets, writing

from scanflow.archive.backup import backup, restore, sha256_file
from scanflow.archive.check import check_archive
from scanflow.archive.erase import erase_pupils
from scanflow.archive.images import compact_masters, load_view
from scanflow.archive.store import open_archive
from scanflow.cli import cli
from scanflow.exports.pdf import _binary_streams, searchable_pdf
from scanflow.intake import sources
from scanflow.intake.ingest import IngestOptions, ingest
from scanflow.intake.rebuild import rebuild_ocr_image
from scanflow.review.pageimages import derived_image, picture, rotate_page

HT, GENRE = "2026-27-autumn-1", "narrative"
OPTS = dict(half_term=HT, genre=GENRE, jobs=1, engine="tesseract")
AVA, BEN = "A100000000001", "A100000000002"


def jpeg_bytes(img: Image.Image, quality: int = 80) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality, dpi=(300, 300))
    return buf.getvalue()


def jpeg_pdf(path, jpegs: list[bytes], dpi: int = 300):
    """A PDF as an office scanner writes it: one JPEG per page, filling the page."""
    with _binary_streams():
        canvas = Canvas(str(path))
        for i, data in enumerate(jpegs):
            jpg = path.with_name(f"{path.stem}-{i}.jpg")
            jpg.write_bytes(data)
            w, h = Image.open(jpg).size
            canvas.setPageSize((w * 72 / dpi, h * 72 / dpi))
            canvas.drawImage(str(jpg), 0, 0, width=w * 72 / dpi, height=h * 72 / dpi)
            canvas.showPage()
        canvas.save()
    return path


def test_a_scanners_pdf_page_keeps_its_jpeg_stream_byte_for_byte(tmp_path):
    jpegs = [jpeg_bytes(page_image([f"page {n}"])) for n in (1, 2)]
    pdf = jpeg_pdf(tmp_path / "batch.pdf", jpegs)
    scan = sources.inspect(pdf)
    for n, data in enumerate(jpegs, start=1):
        page = sources.render_page(scan, n)
        assert page.origin == "pdf-image" and page.master == data
        assert page.rgb.shape[:2] == (1754, 1240) and page.dpi == 300
    # A page that is not one image (text drawn by the PDF) is rendered once, kept losslessly.
    text = tmp_path / "text.pdf"
    canvas = Canvas(str(text))
    canvas.drawString(72, 720, "A typed page")
    canvas.save()
    page = sources.render_page(sources.inspect(text), 1, dpi=100)
    assert page.origin == "rendered" and page.master is None


def test_a_pdf_described_once_renders_its_pages_as_page_by_page(tmp_path):
    jpegs = [jpeg_bytes(page_image([f"page {n}"])) for n in (1, 2, 3)]
    pdf = jpeg_pdf(tmp_path / "batch.pdf", jpegs)
    scan = sources.inspect(pdf)
    layout = sources.pdf_pages(pdf, 1, 3)
    assert sorted(layout) == [1, 2, 3]
    assert all(p.image is not None and p.image.encoding == "jpeg" for p in layout.values())
    for n in (1, 2, 3):
        alone = sources.pdf_pages(pdf, n, n)[n]
        assert layout[n] == alone
        page = sources.render_page(scan, n, layout=layout[n])
        assert page.origin == "pdf-image" and page.master == jpegs[n - 1]
    # A typed page has no single image: described as such, it is rendered.
    text = tmp_path / "text.pdf"
    canvas = Canvas(str(text))
    canvas.drawString(72, 720, "A typed page")
    canvas.save()
    typed = sources.pdf_pages(text, 1, 1)[1]
    assert typed.image is None and typed.size_pts == (595.276, 841.89) and not typed.rotated
    page = sources.render_page(sources.inspect(text), 1, dpi=100, layout=typed)
    assert page.origin == "rendered"


def test_image_files_keep_their_bytes_and_tiff_frames_are_kept_losslessly(tmp_path):
    jpg = tmp_path / "page.jpg"
    jpg.write_bytes(jpeg_bytes(page_image(["hello"])))
    page = sources.render_page(sources.inspect(jpg), 1)
    assert (page.origin, page.master) == ("scan-file", jpg.read_bytes())
    tif = tmp_path / "two.tif"
    frames = [page_image([f"frame {n}"]) for n in (1, 2)]
    frames[0].save(tif, save_all=True, append_images=frames[1:], compression="tiff_lzw")
    second = sources.render_page(sources.inspect(tif), 2)
    assert second.origin == "tiff-frame" and second.master is None
    assert np.array_equal(second.rgb, np.asarray(frames[1]))


def test_ingest_stores_masters_not_copies_and_a_turn_is_only_data(archive, tmp_path):
    jpegs = [jpeg_bytes(page_image(["Once upon a time there was a dragon"])),
             jpeg_bytes(page_image(["he was my best frend becaus"]))]
    pdf = jpeg_pdf(tmp_path / "A100000000001_story.pdf", jpegs)
    report = ingest(archive, [pdf], IngestOptions(**OPTS))
    assert report.ok and report.pages_ok == 2
    rows = archive.db.execute("SELECT id, image_path, ocr_image_path, image_origin, image_turn "
                              "FROM pages ORDER BY page_number").fetchall()
    for (page_id, rel, ocr_rel, origin, turn), data in zip(rows, jpegs):
        assert archive.image(rel).read_bytes() == data  # the scanner's own bytes
        assert rel.endswith(".jpg") and origin == "pdf-image" and turn == 0
        assert ocr_rel.endswith(".ocr.tif")  # Group 4: black and white, small
        assert Image.open(archive.image(ocr_rel)).info["compression"] == "group4"
        # No display copy beside a JPEG a browser shows as it is: only the thumbnail.
        copies = [p.name for p in (archive.images_dir / "derived" / f"p{page_id}").iterdir()]
        assert len(copies) == 1 and copies[0].endswith(".thumb.webp")
        assert picture(archive, page_id, "display").path == archive.image(rel)
    # Turning the page (as for a sideways scan) is recorded; the master stays as it was.
    page_id, rel = rows[0][0], rows[0][1]
    with archive.transaction() as db:
        db.execute("UPDATE pages SET piece_id = NULL WHERE id = ?", [page_id])
    rotate_page(archive, page_id, 1)
    assert archive.image(rel).read_bytes() == jpegs[0]
    view = load_view(archive.image(rel), 90)
    assert view.shape[:2] == (1240, 1754)
    # A browser is sent the scan's own JPEG data, turned by its EXIF orientation tag.
    shown = picture(archive, page_id, "display")
    assert shown.path is None and shown.mimetype == "image/jpeg"
    scan = jpegs[0][jpegs[0].index(b"\xff\xdb"):]  # tables and image data, as scanned
    assert shown.data.endswith(scan) and len(shown.data) - len(jpegs[0]) < 100
    sent = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(shown.data))).convert("RGB"))
    assert np.array_equal(sent, view)  # exactly the upright page, pixel for pixel
    # The whole archive checks by hash after the turn: nothing was rewritten.
    assert check_archive(archive).ok


def test_searchable_pdf_embeds_the_jpeg_master_without_growing_it(archive, tmp_path):
    jpegs = [jpeg_bytes(page_image(["The cat sat on the mat"]), quality=90)]
    pdf = jpeg_pdf(tmp_path / "A100000000001_story.pdf", jpegs)
    ingest(archive, [pdf], IngestOptions(**OPTS))
    piece = archive.db.execute("SELECT piece_id FROM pages").fetchone()[0]
    out = searchable_pdf(archive, piece, tmp_path / "out.pdf")
    assert jpegs[0] in out.read_bytes()  # embedded as its own bytes
    assert out.stat().st_size <= 1.3 * len(jpegs[0])
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
    assert "cat" in text


def test_check_rebuilds_a_lost_ocr_image_from_the_master(archive, tmp_path):
    pdf = jpeg_pdf(tmp_path / "A100000000001_story.pdf",
                   [jpeg_bytes(page_image(["I went to the park"]))])
    ingest(archive, [pdf], IngestOptions(**OPTS))
    page_id, ocr_rel = archive.db.execute("SELECT id, ocr_image_path FROM pages").fetchone()
    original = np.asarray(Image.open(archive.image(ocr_rel)))
    archive.image(ocr_rel).unlink()
    report = check_archive(archive, repair=True, rebuild=rebuild_ocr_image)
    assert report.ok and [p.kind for p in report.problems] == ["missing"]
    assert "Made again from the page's master" in report.problems[0].hint
    # The same cleaning steps on the same master: the same OCR image.
    assert np.array_equal(np.asarray(Image.open(archive.image(ocr_rel))), original)
    assert check_archive(archive).ok
    # A lost master cannot be made up: the hint says to restore it.
    master = archive.db.execute("SELECT image_path FROM pages").fetchone()[0]
    archive.image(master).unlink()
    assert not check_archive(archive, repair=True, rebuild=rebuild_ocr_image).ok


def test_erasing_one_pupil_removes_their_pages_of_a_shared_class_batch(archive, tmp_path):
    sheets = rendered_sheets(archive, tmp_path)
    pages = [sheets[0], writing("Ava wrote about a dragon"), writing("Ava page two"),
             sheets[1], writing("Ben wrote about his dog")]
    batch = tmp_path / "class-3A.pdf"
    jpeg_pdf(batch, [jpeg_bytes(Image.fromarray(p)) for p in pages], dpi=200)
    report = ingest(archive, [batch], IngestOptions(**OPTS))
    assert report.ok
    owner = dict(archive.db.execute(
        "SELECT pages.id, pieces.pupil_id FROM pages JOIN pieces ON pieces.id = pages.piece_id"))
    assert sorted(owner.values()) == [AVA, AVA, AVA, BEN, BEN]
    files = {pid: [r for r in row if r] for pid, *row in archive.db.execute(
        "SELECT id, image_path, ocr_image_path FROM pages")}
    for page_id in owner:
        derived_image(archive, page_id, "thumb")
    ava_bytes = {archive.image(r).read_bytes() for p, rels in files.items()
                 if owner[p] == AVA for r in rels}
    erase_pupils(archive, [AVA], actor="head")
    for page_id, rels in files.items():
        for rel in rels:
            assert archive.image(rel).is_file() == (owner[page_id] == BEN), rel
        assert (archive.images_dir / "derived" / f"p{page_id}").is_dir() == \
            (owner[page_id] == BEN)
    # Not a byte of Ava's pages is left anywhere in the archive folder.
    left = [p for p in archive.path.rglob("*") if p.is_file()]
    assert not any(p.read_bytes() in ava_bytes for p in left)
    # Ben's pages are whole: present, and equal to their recorded checksums.
    assert check_archive(archive).ok
    assert archive.db.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 1  # shared batch


def legacy_archive(archive, tmp_path):
    """An archive as version 7 left it: an upright lossless PNG per page."""
    from review_helpers import add_page

    add_page(archive, ["an older page"], name="older")
    with archive.transaction() as db:
        db.execute("UPDATE pages SET image_origin = 'upright-png', ocr_image_path = NULL")
    return archive.db.execute("SELECT id, image_path FROM pages").fetchone()


def test_older_pngs_are_reencoded_losslessly_and_check_verifies_them(archive, tmp_path):
    page_id, rel = legacy_archive(archive, tmp_path)
    pixels = np.asarray(Image.open(archive.image(rel)).convert("RGB"))
    before = archive.image(rel).stat().st_size
    done = compact_masters(archive)
    new_rel, digest, origin = archive.db.execute(
        "SELECT image_path, image_sha256, image_origin FROM pages WHERE id = ?",
        [page_id]).fetchone()
    assert done.reencoded == 1 and new_rel.endswith(".webp") and origin == "lossless-webp"
    assert not archive.image(rel).exists() and archive.image(new_rel).stat().st_size < before
    assert np.array_equal(np.asarray(Image.open(archive.image(new_rel)).convert("RGB")), pixels)
    assert digest == sha256_file(archive.image(new_rel))
    report = check_archive(archive)
    assert report.ok and report.images_checked >= 1
    assert compact_masters(archive).reencoded == 0  # done once


def test_a_backup_taken_before_restores_and_migrates_on_this_version(archive, tmp_path):
    page_id, rel = legacy_archive(archive, tmp_path)
    with archive.transaction() as db:  # as migration 7 left it
        db.execute("DROP TRIGGER pages_hash_replaced")
    for column in ("image_turn", "image_origin"):
        archive.db.execute(f"ALTER TABLE pages DROP COLUMN {column}")
    # ...and before the migrations after 8, which the restore applies again.
    archive.db.execute("DROP TABLE model_pupils")
    archive.db.execute("DROP TABLE models")
    archive.db.execute("DROP INDEX idx_pupil_history_placement")
    for column in ("pid", "host"):
        archive.db.execute(f"ALTER TABLE batches DROP COLUMN {column}")
    archive.db.execute("PRAGMA user_version = 7")
    check_archive(archive)
    backup(archive, tmp_path / "bk")
    restored = restore(tmp_path / "bk", tmp_path / "again")
    arch = open_archive(restored.archive)
    try:
        assert arch.db.execute("PRAGMA user_version").fetchone()[0] >= 8
        assert arch.db.execute("SELECT image_turn, image_origin FROM pages WHERE id = ?",
                               [page_id]).fetchone() == (0, "upright-png")
        assert check_archive(arch).ok
        result = CliRunner().invoke(cli, ["check", "--compact", "--archive", str(arch.path)],
                                    obj={}, catch_exceptions=False)
        assert result.exit_code == 0 and "Re-encoded 1 older page image(s)" in result.output
    finally:
        arch.close()


@pytest.mark.parametrize("exif", range(1, 9))
def test_the_orientation_tag_sent_shows_every_stored_turn_upright(tmp_path, exif):
    """Camera orientations (mirrored ones too) combined with every turn the archive can
    record: what a browser makes of the bytes sent is exactly the page as scanflow sees it."""
    from scanflow.archive.images import orientation_to_show, with_orientation

    rng = np.random.default_rng(exif)
    tags = Image.Exif()
    tags[0x0112] = exif
    path = tmp_path / "photo.jpg"
    Image.fromarray((rng.random((24, 40, 3)) * 255).astype(np.uint8)).save(
        path, "JPEG", exif=tags.tobytes())
    for turn in (0, 90, 180, 270):
        sent = with_orientation(path.read_bytes(), orientation_to_show(exif, turn))
        shown = ImageOps.exif_transpose(Image.open(io.BytesIO(sent))).convert("RGB")
        assert np.array_equal(np.asarray(shown), load_view(path, turn)), turn


def test_check_repair_frees_display_copies_nothing_shows_any_more(archive, tmp_path):
    from scanflow.archive.check import format_check

    pdf = jpeg_pdf(tmp_path / "A100000000001_story.pdf",
                   [jpeg_bytes(page_image(["My best day"]))])
    ingest(archive, [pdf], IngestOptions(**OPTS))
    page_id = archive.db.execute("SELECT id FROM pages").fetchone()[0]
    folder = archive.images_dir / "derived" / f"p{page_id}"
    thumb = next(folder.iterdir())
    # What an archive from before keeps: a 1600-px copy of a page now sent as scanned.
    old = derived_image(archive, page_id, "display")
    report = check_archive(archive)
    assert report.ok and report.unused_copies == 1 and old.is_file()
    assert "scanflow check --repair deletes them" in format_check(report)
    report = check_archive(archive, repair=True)
    assert report.ok and not old.exists() and thumb.is_file()
    assert check_archive(archive).unused_copies == 0
    # A page sent as its master needs no copy at all, even after the copies are gone.
    thumb.unlink()
    assert picture(archive, page_id, "thumb").path.is_file()


def test_only_pages_a_browser_cannot_be_sent_get_a_display_copy(tmp_path, monkeypatch):
    from scanflow.archive import images

    small = tmp_path / "p0001.png"
    page_image(["a typed page"]).save(small)
    tif = tmp_path / "p0002.tif"
    page_image(["a fax"]).save(tif)
    jpg = tmp_path / "p0003.jpg"
    jpg.write_bytes(jpeg_bytes(page_image(["a scan"])))
    assert images.copies_to_make(small) == ("thumb",) == images.copies_to_make(jpg)
    assert images.copies_to_make(tif) == ("display", "thumb")  # browsers do not show TIFF
    assert images.shown_from_master(small, 90) is None  # a PNG is not turned by a tag
    assert images.shown_from_master(jpg, 270) == 8  # a JPEG is
    monkeypatch.setattr(images, "SHOW_AS_IS_BYTES", small.stat().st_size - 1)
    assert images.copies_to_make(small) == ("display", "thumb")  # too big to send as it is
    assert images.shown_from_master(small, 0, "full") == 1  # but zoomed in, the scan itself
