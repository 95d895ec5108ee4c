"""Shared fixtures: small scans made on the fly, an archive with a roster."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from scanflow.archive.roster import import_roster
from scanflow.archive.store import init_archive

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
ROSTER = """UPN,Forename,Surname,Class,Year Group
A100000000001,Ava,Smith,3A,3
A100000000002,Ben,Jones,3A,3
A100000000003,Cara,Patel,4B,4
"""


def page_image(lines: list[str], size=(1240, 1754), angle: float = 0.0, ink=(70, 70, 70),
               rules: bool = True) -> Image.Image:
    """An A5-at-300-dpi page of printed 'writing' on ruled paper (fast for Tesseract)."""
    img = Image.new("RGB", size, (250, 248, 240))
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 44)
    if rules:
        for y in range(160, size[1], 100):
            d.line((0, y, size[0], y), fill=(160, 190, 235), width=3)
        d.line((120, 0, 120, size[1]), fill=(225, 80, 80), width=3)
    for i, text in enumerate(lines):
        d.text((150, 205 + i * 100), text, fill=ink, font=font)
    if angle:
        img = img.rotate(angle, fillcolor=(250, 248, 240), resample=Image.BICUBIC)
    return img


def write_pdf(path: Path, pages: list[list[str]], **kw) -> Path:
    images = [page_image(p, **kw) for p in pages]
    images[0].save(path, save_all=True, append_images=images[1:], resolution=300)
    return path


def write_png(path: Path, lines: list[str], **kw) -> Path:
    page_image(lines, **kw).save(path, dpi=(300, 300))
    return path


@pytest.fixture
def archive(tmp_path):
    arch = init_archive(tmp_path / "archive")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    import_roster(arch, roster)
    yield arch
    arch.close()


@pytest.fixture
def scans(tmp_path) -> Path:
    folder = tmp_path / "scans"
    folder.mkdir()
    write_pdf(folder / "A100000000001_story.pdf",
              [["Once upon a time ther was a dragon"], ["he was my best frend becaus"]])
    write_png(folder / "A100000000002_story.png", ["The cat sat on the mat"], angle=3)
    write_png(folder / "loose-page.png", ["I went to the park wiv my dog"])
    (folder / "notes.csv").write_text("not,a,scan\n")
    return folder
