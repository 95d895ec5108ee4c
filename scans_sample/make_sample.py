"""Regenerate the sample scan batch in this folder, deterministically.

    .venv/bin/python scans_sample/make_sample.py

Writes roster.csv, manifest.csv, class-3A-batch.pdf (3 pages, 2 pupils), two single-page images
named by pupil, one unlabelled page, and truth/<file-stem>.p<N>.gt.txt for every page, plus
truth/pages.json with how each page was made. All pupils and UPNs are fictional.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from scanflow.evaluation.synth import (  # noqa: E402
    FONT_LICENCE,
    FONT_NAME,
    render_page,
    story_paragraphs,
    write_ground_truth,
)

DPI = 300
JPEG_QUALITY = 78
# a fixed date keeps the PDF byte-for-byte reproducible
PDF_DATE = time.struct_time((2025, 3, 14, 9, 0, 0, 4, 73, 0))

ROSTER = [
    # upn, first_name, surname, class, year_group
    ("R100000000001", "Poppy", "Hartwell", "3A", 3),
    ("F100000000002", "Kofi", "Brennan", "3A", 3),
    ("V100000000003", "Isla", "Pemberton", "3B", 3),
    ("J100000000004", "Reuben", "Okafor-Lind", "3B", 3),
]


def _page(text, *, seed, hand, skew, lighting, noise, lines_colour="blue"):
    return render_page(
        text,
        seed=seed,
        hand=hand,
        dpi=DPI,
        ink="pencil",
        skew_deg=skew,
        lighting=lighting,
        noise=noise,
        lines_colour=lines_colour,
    )


def _record(records, file, page_no, pupil, page, extra=None):
    s = page.settings
    rec = {
        "file": file,
        "page": page_no,
        "pupil_id": pupil,
        "seed": page.seed,
        "hand": s["hand"],
        "render_dpi": s["dpi"],
        "skew_deg": s["skew_deg"],
        "lighting": s["lighting"],
        "noise": s["noise"],
        "ink": s["ink"],
        "lines_colour": s["lines_colour"],
        "n_lines": len(page.lines),
    }
    rec.update(extra or {})
    records.append(rec)


def main() -> None:
    truth = HERE / "truth"
    truth.mkdir(exist_ok=True)
    records: list[dict] = []

    with open(HERE / "roster.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["upn", "first_name", "surname", "class", "year_group"])
        w.writerows(ROSTER)

    # --- class-3A-batch.pdf: pupil 1 on pages 1-2 (one piece over two pages), pupil 2 on page 3
    p1 = _page(story_paragraphs(1, story=0), seed=101, hand=1, skew=1.6, lighting=0.5, noise=0.12)
    assert p1.settings["unwritten"], "pupil 1's story should run onto a second page"
    p2 = _page(p1.settings["unwritten"], seed=102, hand=1, skew=-2.3, lighting=0.45, noise=0.12)
    assert not p2.settings["unwritten"]
    p3 = _page(story_paragraphs(3, story=1), seed=103, hand=2, skew=3.1, lighting=0.6, noise=0.12)
    assert not p3.settings["unwritten"]
    batch = [(p1, "R100000000001"), (p2, "R100000000001"), (p3, "F100000000002")]
    ims = [Image.fromarray(p.image) for p, _ in batch]
    ims[0].save(
        HERE / "class-3A-batch.pdf",
        "PDF",
        save_all=True,
        append_images=ims[1:],
        resolution=float(DPI),
        quality=JPEG_QUALITY,
        optimize=True,
        title="class-3A-batch",
        creationDate=PDF_DATE,
        modDate=PDF_DATE,
    )
    for n, (p, pupil) in enumerate(batch, 1):
        write_ground_truth(truth / f"class-3A-batch.p{n}.gt.txt", p.lines)
        _record(records, "class-3A-batch.pdf", n, pupil, p, {"stored": f"JPEG q{JPEG_QUALITY} in PDF, {DPI} dpi"})

    with open(HERE / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "first_page", "last_page", "pupil_id"])
        w.writerow(["class-3A-batch.pdf", 1, 2, "R100000000001"])
        w.writerow(["class-3A-batch.pdf", 3, 3, "F100000000002"])

    # --- single images named <pupil_id>_<anything>.<ext>
    p4 = _page(story_paragraphs(4, story=2, sentences=slice(0, 10)), seed=104, hand=3, skew=-1.2, lighting=0.7,
               noise=0.12, lines_colour="grey")
    Image.fromarray(p4.image).save(HERE / "V100000000003_narrative.jpg", "JPEG", quality=JPEG_QUALITY,
                                   dpi=(DPI, DPI), optimize=True)
    write_ground_truth(truth / "V100000000003_narrative.p1.gt.txt", p4.lines)
    _record(records, "V100000000003_narrative.jpg", 1, "V100000000003", p4, {"stored": f"JPEG q{JPEG_QUALITY}, {DPI} dpi"})

    png_dpi = 150
    # a greyscale PNG from a scanner's "document" mode: lower resolution, little noise, to stay small
    p5 = _page(story_paragraphs(5, story=5, sentences=slice(0, 10)), seed=105, hand=4, skew=2.4, lighting=0.5,
               noise=0.0)
    im5 = Image.fromarray(p5.image).convert("L")
    im5 = im5.resize((round(im5.width * png_dpi / DPI), round(im5.height * png_dpi / DPI)), Image.LANCZOS)
    im5.save(HERE / "J100000000004_narrative.png", "PNG", dpi=(png_dpi, png_dpi), optimize=True)
    write_ground_truth(truth / "J100000000004_narrative.p1.gt.txt", p5.lines)
    _record(records, "J100000000004_narrative.png", 1, "J100000000004", p5, {"stored": f"8-bit grey PNG, {png_dpi} dpi"})

    # --- a page nobody can be linked to: no pupil id in its name, not in the manifest
    p6 = _page(story_paragraphs(6, story=3, sentences=slice(0, 9)), seed=106, hand=5, skew=-3.5, lighting=0.8,
               noise=0.12)
    Image.fromarray(p6.image).save(HERE / "unlabelled-page.jpg", "JPEG", quality=JPEG_QUALITY, dpi=(DPI, DPI),
                                   optimize=True)
    write_ground_truth(truth / "unlabelled-page.p1.gt.txt", p6.lines)
    _record(records, "unlabelled-page.jpg", 1, None, p6, {"stored": f"JPEG q{JPEG_QUALITY}, {DPI} dpi"})

    (truth / "pages.json").write_text(
        json.dumps({"font": FONT_NAME, "font_licence": FONT_LICENCE, "pages": records}, indent=1) + "\n",
        encoding="utf-8",
    )

    total = sum(f.stat().st_size for f in HERE.rglob("*") if f.is_file())
    for f in sorted(HERE.rglob("*")):
        if f.is_file():
            print(f"{f.stat().st_size:>9,d}  {f.relative_to(HERE)}")
    print(f"{total:>9,d}  total")


if __name__ == "__main__":
    main()
