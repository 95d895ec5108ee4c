"""A short account of what an archive holds and what needs doing next."""

from __future__ import annotations

from scanflow.archive.store import Archive


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


def archive_status(archive: Archive) -> list[str]:
    c = archive_counts(archive)
    conf = f"{c['mean_confidence']:.0f}%" if c["mean_confidence"] is not None else "-"
    lines = [
        f"Archive: {archive.path}",
        f"  pupils: {c['pupils']}   pieces: {c['pieces']} ({c['awaiting_review']} awaiting "
        f"review)   pages: {c['pages']}   words: {c['words']}   mean OCR confidence: {conf}",
    ]
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
