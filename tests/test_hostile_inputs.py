"""Hostile input: whatever lands in the scans folder, ingest names each bad file and what is
wrong with it, never shows a traceback or an internal error, and stores every good page of
the same batch."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_pdf, write_png
from PIL import Image

from scanflow.cli import cli
from scanflow.intake import sources
from scanflow.intake.ingest import IngestOptions, ingest, mark_abandoned_batches, summary_dict

OPTS = dict(half_term="2026-27-autumn-1", genre="narrative", jobs=1, engine="tesseract")
MAX_PIXELS = 4_000_000  # lowered so the "huge" pages in these tests stay cheap to make
ODD_NAME = os.fsdecode(b"A100000000003_caf\xe9.png")  # Latin-1 bytes: not valid UTF-8


def png_bomb(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` with (almost) no pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    return path


def tiff_with_huge_page(path: Path) -> Path:
    """Three pages: a small readable one, one over MAX_PIXELS (1-bit, so cheap), a small one."""
    small = Image.new("L", (600, 800), 255)
    huge = Image.new("1", (2500, 2500), 1)
    small.save(path, save_all=True, append_images=[huge, small], compression="tiff_deflate")
    return path


@pytest.fixture
def hostile(tmp_path) -> Path:
    folder = tmp_path / "usb"
    folder.mkdir()
    # Good files: each must be stored whatever else is in the folder.
    write_pdf(folder / "A100000000001_story.pdf", [["Once upon a time ther was a dragon"]])
    write_png(folder / "A100000000002_story.png", ["The cat sat on the mat"])
    write_png(folder / ODD_NAME, ["I like my dog"])
    # Bad files.
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << >> garbage, no xref")
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.pdf").write_text("this is a text file with a .pdf name")
    png = folder / "cut.png"
    write_png(png, ["a page cut short"])
    png.write_bytes(png.read_bytes()[:4000])
    png_bomb(folder / "bomb.png", 60_000, 60_000)
    tiff_with_huge_page(folder / "book.tif")
    os.symlink("loop.pdf", folder / "loop.pdf")
    os.symlink("gone.png", folder / "dangling.png")
    os.symlink("..", folder / "up")  # a folder link that leads back up the tree
    return folder


def test_hostile_folder_every_bad_file_named_every_good_page_stored(archive, hostile):
    report = ingest(archive, [hostile], IngestOptions(**OPTS, max_pixels=MAX_PIXELS))
    failed = {Path(f.path).name: f.message for f in report.failed_files}
    assert sorted(failed) == ["bomb.png", "broken.pdf", "dangling.png", "empty.png",
                              "loop.pdf", "notes.pdf"]
    assert "loops back on itself" in failed["loop.pdf"]
    assert "gone.png, which does not exist" in failed["dangling.png"]
    assert "60000x60000 pixels" in failed["bomb.png"]
    assert "0 bytes" in failed["empty.png"]
    assert "not a PDF or an image" in failed["notes.pdf"]
    # The TIFF's huge page fails alone, named, before it was decoded; its neighbours are read.
    pages = {(Path(p).name, n): e for p, n, e in report.failed_pages}
    assert sorted(pages) == [("book.tif", 2), ("cut.png", 1)]
    assert "page 2 is too large" in pages["book.tif", 2] and "2500x2500" in pages["book.tif", 2]
    assert "damaged or truncated" in pages["cut.png", 1]
    # Good pages: three files of one page each, and the TIFF's two small pages.
    assert report.pages_ok + report.pages_blank == 5
    everything = json.dumps(summary_dict(report))
    for text in ("Traceback", "unexpected", "bug in scanflow"):
        assert text not in everything
    # The odd name is stored as text SQLite and a terminal accept, its byte visible.
    names = {r[0] for r in archive.db.execute("SELECT name FROM files")}
    assert "A100000000003_caf\\xe9.png" in names
    assert archive.db.execute("SELECT COUNT(*) FROM pieces WHERE pupil_id = 'A100000000003'"
                              ).fetchone()[0] == 1
    assert archive.db.execute("SELECT status FROM batches").fetchone()[0] == "finished"


def test_hostile_folder_through_the_cli(archive, hostile):
    result = CliRunner().invoke(cli, [
        "ingest", "--archive", str(archive.path), str(hostile), "--half-term",
        "2026-27-autumn-1", "--genre", "narrative", "-j", "1", "--engine", "tesseract",
        "--max-pixels", str(MAX_PIXELS), "-q"])
    out = result.output
    assert result.exit_code == 6, out  # partial: some files failed, the batch ran
    assert "Traceback" not in out and "bug in scanflow" not in out
    assert "pages: 5 " in out
    assert "loop.pdf: is a symbolic link that loops back on itself" in out


def test_symlink_loop_named_on_the_command_line_says_what_it_is(archive, tmp_path):
    os.symlink("me.pdf", tmp_path / "me.pdf")
    good = write_png(tmp_path / "A100000000001_p.png", ["The end"])
    report = ingest(archive, [tmp_path / "me.pdf", good], IngestOptions(**OPTS))
    assert report.pages_ok == 1
    assert "loops back on itself" in report.failed_files[0].message
    with pytest.raises(Exception, match="no such file or folder"):
        ingest(archive, [tmp_path / "really-missing.pdf"], IngestOptions(**OPTS))


def test_tiff_pages_are_each_checked_before_decoding(tmp_path):
    path = tiff_with_huge_page(tmp_path / "book.tif")
    scan = sources.inspect(path, max_pixels=MAX_PIXELS)
    assert scan.page_count == 3
    assert sources.render_page(scan, 1, max_pixels=MAX_PIXELS).rgb.shape == (800, 600, 3)
    with pytest.raises(sources.InputFileError, match=r"page 2 is too large .*2500x2500"):
        sources.render_page(scan, 2, max_pixels=MAX_PIXELS)
    assert sources.render_page(scan, 3, max_pixels=MAX_PIXELS).rgb.shape == (800, 600, 3)
    # A single image over the limit fails as a file, at once.
    with pytest.raises(sources.InputFileError, match="60000x60000"):
        sources.inspect(png_bomb(tmp_path / "b.png", 60_000, 60_000), max_pixels=MAX_PIXELS)


def test_a_batch_whose_process_is_gone_is_marked_interrupted(archive):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    def batch(pid: int, host: str) -> int:
        return archive.db["batches"].insert({
            "started_at": "2026-12-01T09:00:00", "status": "running", "engine": "tesseract",
            "half_term": "2026-27-autumn-1", "genre": "narrative", "actor": "office",
            "pid": pid, "host": host}).last_pk

    with archive.transaction():
        killed = batch(dead.pid, os.uname().nodename)
        alive = batch(os.getppid(), os.uname().nodename)
        elsewhere = batch(dead.pid, "office-pc")
    assert mark_abandoned_batches(archive) == [killed]
    status = dict(archive.db.execute("SELECT id, status FROM batches").fetchall())
    assert status == {killed: "interrupted", alive: "running", elsewhere: "running"}
