"""A short account of what an archive holds and what needs doing next."""

from __future__ import annotations

from scanflow.archive.models import active_model
from scanflow.archive.store import Archive

# Reviewed pieces (about 10 lines each) after which training is worth suggesting: the
# school case in benchmarks/finetune.py cut character errors by 62 % with 200 lines.
TRAIN_AFTER_PIECES = 20


def archive_counts(archive: Archive) -> dict[str, int | float | None]:
    q = lambda sql: archive.db.execute(sql).fetchone()[0]  # noqa: E731
    return {
        "pupils": q("SELECT COUNT(*) FROM pupils"),
        "pieces": q("SELECT COUNT(*) FROM pieces"),
        "awaiting_review": q("SELECT COUNT(*) FROM pieces WHERE status = 'awaiting_review'"),
        "pages": q("SELECT COUNT(*) FROM pages WHERE status IN ('ok', 'blank')"),
        "failed_pages": q("SELECT COUNT(*) FROM pages WHERE status = 'failed'"),
        "unassigned_pages": q("SELECT COUNT(*) FROM pages WHERE piece_id IS NULL "
                              "AND status IN ('ok', 'blank')"),
        "words": q("SELECT COALESCE(SUM(word_count), 0) FROM pages"),
        "mean_confidence": q("SELECT SUM(mean_confidence * word_count) / "
                             "NULLIF(SUM(word_count), 0) FROM pages"),
    }


def recogniser_status(archive: Archive, train_after: int = TRAIN_AFTER_PIECES) -> list[str]:
    """Which recogniser reads new pages, and whether enough pieces have been reviewed since
    it was trained for ``scanflow model train`` to be worth running."""
    version = active_model(archive)
    if version is None:
        lines = ["  recogniser: stock (the rapidocr wheel's)"]
        since, when = "", "so far"
    else:
        cer = ""
        if version.cer_before is not None and version.cer_after is not None:
            cer = (f" (held-back lines: {version.cer_before:.1%} CER before, "
                   f"{version.cer_after:.1%} after)")
        lines = [f"  recogniser: {version.name}, trained {version.created_at[:10]}{cer}"]
        since, when = version.created_at, f"since {version.name} was trained"
    reviewed = archive.db.execute(
        "SELECT COUNT(*) FROM pieces WHERE status = 'reviewed' AND reviewed_at > ?",
        [since]).fetchone()[0]
    if reviewed >= train_after:
        lines.append(f"  {reviewed} piece(s) reviewed {when}: scanflow model train can learn "
                     "your pupils' handwriting from the corrections")
    return lines


def archive_status(archive: Archive) -> list[str]:
    c = archive_counts(archive)
    conf = f"{c['mean_confidence']:.0f}%" if c["mean_confidence"] is not None else "-"
    lines = [
        f"Archive: {archive.path}",
        f"  pupils: {c['pupils']}   pieces: {c['pieces']} ({c['awaiting_review']} awaiting "
        f"review)   pages: {c['pages']}   words: {c['words']}   mean OCR confidence: {conf}",
    ]
    lines += recogniser_status(archive)
    if c["unassigned_pages"]:
        lines.append(f"  {c['unassigned_pages']} page(s) have no pupil: scanflow unassigned")
    if c["failed_pages"]:
        lines.append(f"  {c['failed_pages']} page(s) could not be read: see the ingest "
                     "summary, rescan, and ingest again with --retry-failed")
    if not c["pupils"]:
        lines.append("  Next: scanflow roster import pupils.csv")
    elif not c["pieces"] and not c["unassigned_pages"]:
        lines.append("  Next: scanflow ingest SCANS --half-term 2026-27-autumn-1 --genre narrative")
    return lines
