"""How well recognition did in this archive: OCR text against the teachers' corrections.

Only pages of pieces a teacher has saved a transcription for count (the OCR text of an
uncorrected piece has nothing to be compared with). Pages are compared one by one — the
teacher's lines for a page against that page's OCR text — and rates are corpus-level
(total edits / total characters), grouped by engine and by class, so a school sees how
much correcting recognition leaves and whether a change of engine or setting helped.

>>> report = archive_accuracy(archive)         # doctest: +SKIP
>>> report.groups[0].engine, round(report.groups[0].cer, 3)   # doctest: +SKIP
('rapidocr', 0.043)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from scanflow.archive.store import Archive
from scanflow.archive.transcription import get_version, latest_number
from scanflow.evaluation.metrics import ErrorCount, char_errors, word_errors


@dataclass
class AccuracyGroup:
    engine: str
    class_name: str
    pieces: int = 0
    pages: int = 0
    ref_chars: int = 0
    char_edits: int = 0
    ref_words: int = 0
    word_edits: int = 0

    def add(self, chars: ErrorCount, words: ErrorCount) -> None:
        self.pages += 1
        self.ref_chars += chars.length
        self.char_edits += chars.edits
        self.ref_words += words.length
        self.word_edits += words.edits

    @property
    def cer(self) -> float:
        return self.char_edits / self.ref_chars if self.ref_chars else 0.0

    @property
    def wer(self) -> float:
        return self.word_edits / self.ref_words if self.ref_words else 0.0


@dataclass
class AccuracyReport:
    groups: list[AccuracyGroup] = field(default_factory=list)  # engine x class
    engines: list[AccuracyGroup] = field(default_factory=list)  # engine, all classes
    corrected_pieces: int = 0
    uncorrected_pieces: int = 0


def archive_accuracy(archive: Archive, *, half_term: str | None = None,
                     class_name: str | None = None) -> AccuracyReport:
    """Compare each corrected piece's OCR text with its latest transcription, page by page."""
    sql = ("SELECT pieces.id, pupils.class_name FROM pieces JOIN pupils USING (pupil_id) "
           "WHERE 1=1")
    params: list = []
    if half_term:
        sql += " AND pieces.half_term = ?"
        params.append(half_term)
    if class_name:
        sql += " AND pupils.class_name = ?"
        params.append(class_name)
    report = AccuracyReport()
    groups: dict[tuple[str, str], AccuracyGroup] = {}
    totals: dict[str, AccuracyGroup] = {}
    for piece_id, klass in archive.db.execute(sql, params).fetchall():
        if latest_number(archive, piece_id) == 0:
            report.uncorrected_pieces += 1
            continue
        report.corrected_pieces += 1
        corrected = get_version(archive, piece_id)
        by_page: dict[int, list[str]] = defaultdict(list)
        for line in corrected.lines:
            by_page[line.page_id].append(line.text)
        counted: set[tuple[str, str]] = set()
        for page_id, engine, ocr_text in archive.db.execute(
                "SELECT id, engine, ocr_text FROM pages WHERE piece_id = ? "
                "AND status IN ('ok', 'blank') ORDER BY position", [piece_id]):
            engine = engine or "unknown"
            reference = "\n".join(by_page.get(page_id, []))
            chars = char_errors(reference, ocr_text or "")
            words = word_errors(reference, ocr_text or "")
            for group in (groups.setdefault((engine, klass or "-"),
                                            AccuracyGroup(engine, klass or "-")),
                          totals.setdefault(engine, AccuracyGroup(engine, "all"))):
                group.add(chars, words)
                if (engine, group.class_name) not in counted:
                    group.pieces += 1
                    counted.add((engine, group.class_name))
    report.groups = sorted(groups.values(), key=lambda g: (g.engine, g.class_name))
    report.engines = sorted(totals.values(), key=lambda g: g.engine)
    return report
