"""Pieces put into an archive in milliseconds, through the real storage path.

``add_piece`` draws small page images with known text, builds the recognition an engine
would return (lines and word boxes measured from the font), and stores it with
:func:`scanflow.intake.ingest.save_page`, exactly as an ingest stores a page: the same rows,
the same triggers, the same image store. Only the OCR engine is left out, so the tests
of archive features need no Tesseract time.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from scanflow.archive.store import Archive, now
from scanflow.intake.ingest import PageResult, PageTask, save_page
from scanflow.ocr.model import Box, Line, Recognition, Word
from scanflow.ocr.preprocess import PreprocessSettings

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SIZE = (620, 877)  # A5 at 150 dpi: small and quick
DPI = 150


def _page(lines: list[str]) -> tuple[Image.Image, list[Line]]:
    img = Image.new("RGB", SIZE, (250, 248, 240))
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 22)
    out = []
    for i, text in enumerate(lines):
        y = 80 + i * 48
        x = 60
        words = []
        for word in text.split():
            left, top, right, bottom = draw.textbbox((x, y), word, font=font)
            draw.text((x, y), word, fill=(60, 60, 60), font=font)
            words.append(Word(word, Box(left, top, right - left, bottom - top), 91.0))
            x = right + draw.textlength(" ", font=font)
        box = Box.union([w.box for w in words]) if words else Box(60, y, 10, 30)
        out.append(Line(text, box, 91.0, words))
    return img, out


def add_piece(archive: Archive, pupil_id: str | None, half_term: str, genre: str,
              pages: list[list[str]], *, file_name: str | None = None,
              first_page: int = 1, code: str | None = None) -> int | None:
    """Store ``pages`` (each a list of lines) as one scan file; returns the piece id.

    ``pupil_id`` None leaves the pages unassigned. Calls with the same ``file_name`` add
    pages to the same file (a class set scanned into one PDF), from ``first_page``.
    """
    file_name = file_name or f"{pupil_id or 'loose'}_{half_term}_{genre}.pdf"
    sha = hashlib.sha256(file_name.encode()).hexdigest()
    db = archive.db
    with archive.transaction():
        batch = db["batches"].insert({"started_at": now(), "half_term": half_term,
                                      "genre": genre, "engine": "test", "status": "finished"}
                                     ).last_pk
        existing = db.execute("SELECT page_count FROM files WHERE sha256 = ?", [sha]).fetchone()
        count = max(existing[0] if existing else 0, first_page + len(pages) - 1)
        db["files"].upsert({"sha256": sha, "batch_id": batch, "path": f"/scans/{file_name}",
                            "name": file_name, "size": 1000, "kind": "pdf", "page_count": count,
                            "status": "done", "added_at": now()}, pk="sha256")
    piece_id = None
    for n, lines in enumerate(pages, start=first_page):
        img, rec_lines = _page(lines)
        rel_dir = Path(sha[:2]) / sha
        faithful = str(rel_dir / f"p{n:04d}.png")
        ocr = str(rel_dir / f"p{n:04d}.ocr.png")
        target = archive.image(faithful)
        target.parent.mkdir(parents=True, exist_ok=True)
        img.save(target)
        img.convert("L").save(archive.image(ocr))
        task = PageTask(sha256=sha, path=f"/scans/{file_name}", kind="pdf", page_count=count,
                        size=1000, page_number=n, images_dir=str(archive.images_dir), dpi=DPI,
                        max_pixels=10**8, preprocess=PreprocessSettings(), pupil_id=pupil_id)
        rec = Recognition(lines=rec_lines, engine="test", engine_version="1", model="none")
        result = PageResult(sha256=sha, page_number=n, status="ok", image_path=faithful,
                            ocr_image_path=ocr, width=SIZE[0], height=SIZE[1], dpi=DPI,
                            recognition=rec)
        piece_id = save_page(archive, batch, task, result, half_term, genre) or piece_id
        if code:
            with archive.transaction() as tx:
                tx.execute("UPDATE pages SET code = ? WHERE file_sha256 = ? AND page_number = ?",
                           [json.dumps({"code": code}), sha, n])
    return piece_id


def score(archive: Archive, piece_id: int, levels: dict[str, int], scorer: str = "mrs.k"):
    """Record the teacher's levels for a piece through scanflow.scoring.suggest."""
    from scanflow.scoring.scores import confirm_level, suggest_for_piece

    suggestions = suggest_for_piece(archive, piece_id)
    return [confirm_level(archive, piece_id, cid, level, scorer=scorer, suggestions=suggestions)
            for cid, level in levels.items()]


STORY = ["Once upon a time there was a dragon called Fizz",
         "he lived in a cave by the sea and he was lonely",
         "One day a girl came to the cave with a big basket"]


ZEPH = "A100000000009"  # a pupil with a name found nowhere else, for the erasure tests


def make_school(archive: Archive, tmp_path: Path) -> dict[str, int]:
    """The conftest archive (Ava, Ben in 3A; Cara in 4B) plus Zephyrine Quillfeather in 3A,
    placed from 5 September 2026 (not from the day the test runs), with pieces in two half
    terms and a few levels. Returns the piece ids by name."""
    from scanflow.archive.roster import import_roster

    roster = tmp_path / "more.csv"
    roster.write_text("UPN,Forename,Surname,Class,Year Group\n"
                      f"{ZEPH},Zephyrine,Quillfeather,3A,3\n")
    import_roster(archive, roster)
    with archive.transaction() as db:
        db.execute("UPDATE pupil_history SET changed_at = '2026-09-05T09:00:00+00:00'")
        db.execute("UPDATE pupils SET updated_at = '2026-09-05T09:00:00+00:00'")
    ids = {
        "ava1": add_piece(archive, "A100000000001", "2026-27-autumn-1", "narrative",
                          [STORY, ["The end becaus it was late"]]),
        "ben1": add_piece(archive, "A100000000002", "2026-27-autumn-1", "narrative",
                          [["My frend Ben went to the park", "and we saw a fox"]]),
        "zeph1": add_piece(archive, ZEPH, "2026-27-autumn-1", "narrative",
                           [["Zephyrine Quillfeather wrote about her dog", "called Biscuit"]]),
        "cara1": add_piece(archive, "A100000000003", "2026-27-autumn-1", "narrative",
                           [["A dragon flew over the castle at night"]]),
        "ava2": add_piece(archive, "A100000000001", "2026-27-spring-1", "narrative",
                          [["The castle was dark and cold", "the knight was brave"]]),
        "ben2": add_piece(archive, "A100000000002", "2026-27-spring-1", "recount",
                          [["On Saturday I went to the castle with my gran"]]),
    }
    score(archive, ids["ava1"], {"spelling": 2, "punctuation": 2})
    score(archive, ids["ava2"], {"spelling": 3, "punctuation": 2})
    score(archive, ids["ben1"], {"spelling": 3})
    score(archive, ids["zeph1"], {"spelling": 4})
    return ids
