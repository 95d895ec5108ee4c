import numpy as np
import pytest
from conftest import page_image, write_pdf
from PIL import Image

from scanflow.errors import InputFileError
from scanflow.intake import sources


def test_discover_expands_folders_and_skips_non_scans(scans):
    found, skipped = sources.discover([scans])
    assert [p.name for p in found] == ["A100000000001_story.pdf", "A100000000002_story.png",
                                       "loose-page.png"]
    assert [p.name for p in skipped] == ["notes.csv"]


def test_missing_path_names_the_path(tmp_path):
    with pytest.raises(InputFileError) as err:
        sources.discover([tmp_path / "nope.pdf"])
    assert str(err.value).startswith(str(tmp_path / "nope.pdf") + ": no such file")


def test_pdf_pages_render_one_at_a_time(tmp_path):
    pdf = write_pdf(tmp_path / "x.pdf", [["one"], ["two"], ["three"]])
    scan = sources.inspect(pdf)
    assert scan.kind == "pdf" and scan.page_count == 3 and len(scan.sha256) == 64
    page = sources.render_page(scan, 2, dpi=100)
    # Each page is one JPEG filling it: its own pixels at its own resolution are the
    # page (A5 at 300 dpi), whatever the rendering resolution asked for.
    assert page.rgb.shape[2] == 3 and page.dpi == 300 and page.origin == "pdf-image"
    assert page.rgb.shape[1] == 1240
    # A page that has to be rendered is rendered at the resolution asked for.
    from reportlab.pdfgen.canvas import Canvas

    typed = tmp_path / "typed.pdf"
    canvas = Canvas(str(typed), pagesize=(419.5, 595.3))  # A5
    canvas.drawString(72, 500, "typed")
    canvas.save()
    page = sources.render_page(sources.inspect(typed), 1, dpi=100)
    assert page.origin == "rendered" and page.dpi == 100
    assert abs(page.rgb.shape[1] - 583) <= 2


def test_multipage_tiff_frames(tmp_path):
    frames = [page_image([f"page {i}"], size=(400, 560)) for i in range(3)]
    path = tmp_path / "book.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:], dpi=(300, 300))
    scan = sources.inspect(path)
    assert scan.page_count == 3
    assert sources.render_page(scan, 3).rgb.shape == (560, 400, 3)


def _expect(path, fragment):
    with pytest.raises(InputFileError) as err:
        sources.inspect(path)
    assert str(path) in str(err.value)
    assert fragment in str(err.value)
    return str(err.value)


def test_bad_inputs_have_clear_messages(tmp_path):
    (tmp_path / "empty.pdf").write_bytes(b"")
    _expect(tmp_path / "empty.pdf", "is empty (0 bytes)")
    (tmp_path / "notes.pdf").write_text("hello, not a pdf")
    _expect(tmp_path / "notes.pdf", "is not a PDF or an image")
    good = write_pdf(tmp_path / "good.pdf", [["a"]]).read_bytes()
    (tmp_path / "cut.pdf").write_bytes(good[: len(good) // 2])
    msg = _expect(tmp_path / "cut.pdf", "damaged or incomplete PDF")
    assert "scan the pages again" in msg


def test_encrypted_pdf(tmp_path):
    pytest.importorskip("pypdf", reason="pypdf makes the encrypted sample")
    from pypdf import PdfReader, PdfWriter

    plain = write_pdf(tmp_path / "p.pdf", [["a"]])
    writer = PdfWriter()
    writer.append(PdfReader(plain))
    writer.encrypt(user_password="secret", owner_password="owner")
    enc = tmp_path / "locked.pdf"
    with open(enc, "wb") as fh:
        writer.write(fh)
    _expect(enc, "is encrypted (password-protected)")


def test_oversized_image_is_refused_before_decoding(tmp_path):
    big = tmp_path / "huge.png"
    # A 20,000 x 20,000 image would need 1.2 GB decoded; only its header is read.
    Image.new("1", (20000, 20000)).save(big)
    msg = _expect(big, "too large to process safely (20000x20000 pixels")
    assert "--max-pixels" in msg
    _expect(big, "")  # still an InputFileError, not a PIL exception


def test_truncated_jpeg_fails_at_render_with_a_message(tmp_path):
    path = tmp_path / "cut.jpg"
    page_image(["hello"]).save(path, quality=80)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    scan = sources.inspect(path)  # the header is fine
    with pytest.raises(InputFileError) as err:
        sources.render_page(scan, 1)
    assert "damaged or truncated" in str(err.value)


def test_dpi_is_guessed_for_images_without_metadata(tmp_path):
    path = tmp_path / "phone.jpg"
    Image.fromarray(np.full((3508, 2480, 3), 255, np.uint8)).save(path)
    page = sources.render_page(sources.inspect(path), 1)
    assert 295 < page.dpi < 305
