"""A short account of what an archive holds and what needs doing next."""

from __future__ import annotations

from dataclasses import dataclass

from scanflow.archive.models import ModelVersion, active_model
from scanflow.archive.pieces import REVIEWED
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


@dataclass
class RecogniserState:
    """The recogniser that reads new pages (None: stock), and the pieces reviewed since it
    was trained; ``suggest_training`` once there are enough to learn from."""

    version: ModelVersion | None
    reviewed_since: int
    suggest_training: bool

    @property
    def name(self) -> str:
        return self.version.name if self.version else "stock"

    def lines(self) -> list[str]:
        """What ``scanflow status`` prints about it."""
        v = self.version
        if v is None:
            lines = ["  recogniser: stock (the rapidocr wheel's)"]
        else:
            cer = ""
            if v.cer_before is not None and v.cer_after is not None:
                cer = f" (held-back lines: {v.cer_before:.1%} CER before, {v.cer_after:.1%} after)"
            lines = [f"  recogniser: {v.name}, trained {v.created_at[:10]}{cer}"]
        if self.suggest_training:
            lines.append(f"  {self.advice()}")
        return lines

    def advice(self) -> str:
        when = f"since {self.version.name} was trained" if self.version else "so far"
        return (f"{self.reviewed_since} piece(s) reviewed {when}: scanflow model train can "
                "learn your pupils' handwriting from the corrections")


def recogniser_state(archive: Archive, train_after: int | None = None) -> RecogniserState:
    """Which recogniser reads new pages, and whether enough pieces (``train_after``,
    default :data:`TRAIN_AFTER_PIECES`) have been reviewed since it was trained for
    ``scanflow model train`` to be worth running."""
    if train_after is None:
        train_after = TRAIN_AFTER_PIECES
    version = active_model(archive)
    reviewed = archive.db.execute(
        "SELECT COUNT(*) FROM pieces WHERE status = ? AND reviewed_at > ?",
        [REVIEWED, version.created_at if version else ""]).fetchone()[0]
    return RecogniserState(version, reviewed, reviewed >= train_after)


def archive_status(archive: Archive) -> list[str]:
    c = archive_counts(archive)
    conf = f"{c['mean_confidence']:.0f}%" if c["mean_confidence"] is not None else "-"
    lines = [
        f"Archive: {archive.path}",
        f"  pupils: {c['pupils']}   pieces: {c['pieces']} ({c['awaiting_review']} awaiting "
        f"review)   pages: {c['pages']}   words: {c['words']}   mean OCR confidence: {conf}",
    ]
    lines += recogniser_state(archive).lines()
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
