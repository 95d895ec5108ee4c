"""A scanner's JPEG read straight out of its PDF: the same bytes as ``pdfimages -j``, and
None (so Poppler is asked) for anything less plain."""

from __future__ import annotations

import re
import subprocess

from conftest import page_image

from scanflow.intake import sources
from scanflow.intake.pdfjpeg import jpeg_stream


def scanner_pdf(path, pages: int = 2):
    """A PDF of one JPEG per page, as Pillow (and many scanners) write it."""
    images = [page_image([f"page {n}"]).convert("RGB") for n in range(1, pages + 1)]
    images[0].save(path, save_all=True, append_images=images[1:], resolution=300, quality=80)
    return path


def pdfimages_j(path, page: int, tmp_path) -> bytes:
    out = tmp_path / f"out{page}"
    out.mkdir()
    subprocess.run(["pdfimages", "-j", "-f", str(page), "-l", str(page), str(path),
                    str(out / "x")], check=True)
    return next(out.iterdir()).read_bytes()


def image_object(path, page: int) -> tuple[int, int]:
    return sources.pdf_pages(path, page, page)[page].image.object


def test_the_same_bytes_as_pdfimages(tmp_path):
    pdf = scanner_pdf(tmp_path / "batch.pdf")
    for page in (1, 2):
        data = jpeg_stream(pdf, *image_object(pdf, page))
        assert data is not None and data.startswith(b"\xff\xd8")
        assert data == pdfimages_j(pdf, page, tmp_path)


def append_update(pdf, trailer_extra: bytes = b"") -> None:
    """An incremental update, as a PDF editor saves one: a new cross-reference section
    with nothing in it but a trailer pointing back to the old one."""
    data = pdf.read_bytes()
    old = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    size = re.search(rb"/Size\s+(\d+)", data).group(1)
    root = re.search(rb"/Root\s+(\d+ \d+ R)", data).group(1)
    at = len(data)
    section = (b"xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size " + size + b" /Root "
               + root + b" /Prev " + str(old).encode() + trailer_extra
               + b" >>\nstartxref\n" + str(at).encode() + b"\n%%EOF\n")
    pdf.write_bytes(data + section)


def test_an_updated_pdf_is_followed_back_to_its_first_table(tmp_path):
    pdf = scanner_pdf(tmp_path / "updated.pdf")
    obj = image_object(pdf, 2)
    before = jpeg_stream(pdf, *obj)
    append_update(pdf)
    assert jpeg_stream(pdf, *obj) == before == pdfimages_j(pdf, 2, tmp_path)


def test_anything_less_plain_is_left_to_poppler(tmp_path):
    pdf = scanner_pdf(tmp_path / "batch.pdf", pages=1)
    obj = image_object(pdf, 1)
    # An encrypted file's streams are not JPEG bytes as they stand.
    encrypted = tmp_path / "encrypted.pdf"
    encrypted.write_bytes(pdf.read_bytes())
    append_update(encrypted, b" /Encrypt 99 0 R")
    assert jpeg_stream(encrypted, *obj) is None
    # A length that does not end at "endstream".
    data = pdf.read_bytes()
    length = re.search(rb"/Length (\d+)", data)
    wrong = str(int(length.group(1)) - 7).rjust(len(length.group(1)), "0").encode()
    bad = tmp_path / "bad-length.pdf"
    bad.write_bytes(data[:length.start(1)] + wrong + data[length.end(1):])
    assert jpeg_stream(bad, *obj) is None
    # A length longer than the file is refused before anything is read.
    # A damaged length far longer than the file (16 digits) is refused before anything is
    # read: reading it would raise MemoryError. The image's "/Type /XObject" entry makes
    # room for the digits, so every offset in the file still holds.
    room = data.index(b"/Type /XObject\n")
    spaces = 15 + len(length.group(1)) - 16
    huge = tmp_path / "huge-length.pdf"
    huge.write_bytes(data[:room] + b" " * spaces + data[room + 15:length.start(1)] + b"9" * 16
                     + data[length.end(1):])
    assert len(huge.read_bytes()) == len(data)
    assert jpeg_stream(huge, *obj) is None
    # Not the object asked for, a missing one, no table at all, no file.
    assert jpeg_stream(pdf, obj[0] + 1000, 0) is None
    assert jpeg_stream(pdf, obj[0], 1) is None
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 40)
    assert jpeg_stream(garbage, 1) is None
    assert jpeg_stream(tmp_path / "gone.pdf", 1) is None


def test_extracting_a_page_falls_back_to_poppler_when_the_file_is_not_plain(tmp_path):
    pdf = scanner_pdf(tmp_path / "batch.pdf", pages=1)
    image = sources.pdf_pages(pdf, 1, 1)[1].image
    expected = pdfimages_j(pdf, 1, tmp_path)
    assert sources.extract_embedded(pdf, 1, image) == expected
    # Told of an object that is not the image, the direct read refuses, Poppler answers.
    elsewhere = type(image)(**{**image.__dict__, "object": (1, 0)})
    assert sources.extract_embedded(pdf, 1, elsewhere) == expected
    assert expected.startswith(b"\xff\xd8")


def test_poppler_extracts_into_the_folder_it_is_given_and_a_leftover_is_cleaned(
        tmp_path, monkeypatch):
    import tempfile

    from scanflow.archive.images import clean_temporary_files

    pdf = scanner_pdf(tmp_path / "batch.pdf", pages=1)
    image = sources.pdf_pages(pdf, 1, 1)[1].image
    elsewhere = type(image)(**{**image.__dict__, "object": (1, 0)})  # Poppler's turn
    images_dir = tmp_path / "archive" / "images"
    made = []
    real = tempfile.TemporaryDirectory

    def recorded(*args, **kwargs):
        folder = real(*args, **kwargs)
        made.append(folder.name)
        return folder

    monkeypatch.setattr(tempfile, "TemporaryDirectory", recorded)
    data = sources.extract_embedded(pdf, 1, elsewhere, work_dir=images_dir)
    assert data == pdfimages_j(pdf, 1, tmp_path)
    # The page passed through the archive's folder, not the system's, and is gone.
    assert len(made) == 1 and made[0].startswith(str(images_dir) + "/.pdfimages.tmp-")
    assert list(images_dir.iterdir()) == []
    # A run killed mid-extraction leaves the folder; the next ingest's cleanup removes it.
    leftover = images_dir / ".pdfimages.tmp-abc123"
    leftover.mkdir()
    (leftover / "page-000.jpg").write_bytes(data)
    (images_dir / "ab").mkdir()
    (images_dir / "ab" / ".p0001.jpg.tmp-1").write_bytes(b"half")
    kept = images_dir / "ab" / "p0001.jpg"
    kept.write_bytes(data)
    assert clean_temporary_files(images_dir) == 2
    assert sorted(p.name for p in images_dir.rglob("*")) == ["ab", "p0001.jpg"]
