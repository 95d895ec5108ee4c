"""Splitting a scanned batch into pieces at each cover sheet or label.

Comes in: every page of a batch in scan order, with the code found on it (if any, from
:mod:`scanflow.intake.codes`) and what the ingest's options say about its pupil.
Goes out: a :class:`Placement` per page (which piece it starts or joins, or why it waits
on the unassigned list) and a :class:`CodeReport` for the person who ran the ingest.
Called by :func:`scanflow.intake.ingest.ingest`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from scanflow.intake import sources
from scanflow.intake.codes import INVALID, KIND_NAMES, TEXT, UNREADABLE, CodeHit

log = logging.getLogger(__name__)


# --- splitting a batch at each code --------------------------------------------------
#
# Rules (the planner below applies them page by page, in scan order):
#
# * A page with a code starts a new piece for the code's pupil, half term and genre. A
#   cover sheet is the piece's cover (kept, not read); a labelled page is its first page.
# * Pages without a code join the piece started by the last code *in the same file*.
#   A file is one scan job, and files are not reliably in scan order, so a piece never
#   runs on into the next file: the first pages of a file before any code are linked by
#   the older rules (--pupil, --manifest, the file name) or wait on the unassigned list.
# * The code wins over the ingest's --half-term/--genre: the sheet was printed for that
#   piece. A difference is reported, not an error.
# * A code that cannot be used (unreadable, unknown pupil or genre, or the same pupil x half
#   term x genre seen earlier in the batch) still ends the previous piece: its pages go to
#   the unassigned list, and the report says why. Nothing is filed under the wrong pupil
#   to avoid a pile of unassigned pages.
# * A code for a piece the archive already has pages for (a rescan) starts a new version
#   of it; the teacher keeps one (scanflow versions / keep). A reviewed piece is never
#   changed by a rescan.


@dataclass
class PageCode:
    """Planner input: one page of the batch, in scan order."""

    file: str  # what identifies the file (its SHA-256); a file's pages are consecutive
    page_number: int
    hit: CodeHit | None
    name: str = ""  # the file name, for the report
    linked_pupil: str | None = None  # what --pupil, --manifest or the file name says
    failed: bool = False  # the page could not be read at all


@dataclass
class Segment:
    """A run of pages started by one code: one piece, if the code can be used."""

    name: str
    page_number: int  # where the code is
    hit: CodeHit
    pupil_id: str | None  # None: the pages wait on the unassigned list
    half_term: str
    genre: str
    problem: str | None = None  # why the pages are unassigned, or what to check
    pages: int = 0  # pages filed under it (the cover included)
    piece_id: int | None = None  # set once stored
    new_version: int | None = None  # set when it started a new version of a piece

    @property
    def where(self) -> str:
        return f"{self.name} page {self.page_number}"


@dataclass
class Placement:
    """Planner output for one page: its role and whose piece it joins (None: unassigned)."""

    role: str  # "cover" or "writing"
    pupil_id: str | None
    half_term: str
    genre: str
    segment: Segment | None = None  # None: not under any code
    starts_piece: bool = False
    note: str | None = None


@dataclass
class CodeReport:
    """The code section of a batch's report. Nothing about codes is ever silent."""

    segments: list[Segment] = field(default_factory=list)
    uncoded: list[tuple[str, int]] = field(default_factory=list)  # unassigned, under no code
    expected: list[str] | None = None  # pupil ids from a class list, if one was given
    names: dict[str, str] = field(default_factory=dict)  # pupil id -> name, for messages
    expected_class: str | None = None

    @property
    def found(self) -> list[Segment]:
        return [s for s in self.segments if s.pupil_id]

    @property
    def unreadable(self) -> list[Segment]:
        return [s for s in self.segments if s.hit.status in (UNREADABLE, INVALID)]

    @property
    def read_from_text(self) -> list[Segment]:
        return [s for s in self.segments if s.hit.status == TEXT]

    @property
    def refused(self) -> list[Segment]:
        """Codes that were read but could not be used (unknown pupil, duplicate...)."""
        return [s for s in self.segments if s.pupil_id is None and s.hit.code is not None]

    @property
    def duplicates(self) -> dict[tuple[str, str, str], list[Segment]]:
        seen: dict[tuple[str, str, str], list[Segment]] = {}
        for s in self.segments:
            if s.hit.code is not None:
                seen.setdefault((s.hit.code.pupil_id, s.half_term, s.genre), []).append(s)
        return {k: v for k, v in seen.items() if len(v) > 1}

    @property
    def missing(self) -> list[str]:
        """Expected pupils with no usable code in the batch (so no piece from it)."""
        if self.expected is None:
            return []
        have = {s.pupil_id for s in self.found}
        return [p for p in self.expected if p not in have]

    @property
    def rescans(self) -> list[Segment]:
        return [s for s in self.segments if s.new_version]

    def name(self, pupil_id: str | None) -> str:
        if pupil_id is None:
            return "?"
        return f"{self.names[pupil_id]} ({pupil_id})" if pupil_id in self.names else pupil_id

    def lines(self) -> list[str]:
        """The report for people, one finding a line; empty when codes played no part."""
        if not self.segments and self.expected is None:
            return []
        out = []
        covers = sum(s.hit.is_cover for s in self.segments)
        exp = ""
        if self.expected is not None:
            exp = (f"; expected {len(self.expected)} for class {self.expected_class}, "
                   f"{len(self.expected) - len(self.missing)} found")
        out.append(f"Codes: {len(self.segments)} found ({covers} cover sheet(s), "
                   f"{len(self.segments) - covers} label(s)){exp}.")
        if self.missing:
            out.append(f"  No piece for {len(self.missing)} pupil(s) of the class list: "
                       + ", ".join(self.name(p) for p in self.missing))
        for key, segs in self.duplicates.items():
            out.append(f"  Code seen {len(segs)} times for {self.name(key[0])} {key[1]} "
                       f"{key[2]}: " + ", ".join(s.where for s in segs)
                       + ". The pages after the first are on the unassigned list.")
        for s in self.unreadable:
            out.append(f"  Unreadable {KIND_NAMES.get(s.hit.kind, 'code')} at {s.where}: "
                       f"its {s.pages} page(s) are on the unassigned list.")
        for s in self.read_from_text:
            if s.pupil_id:
                out.append(f"  QR code unreadable at {s.where}; the printed code was read "
                           f"instead ({s.hit.code.printed()}): check piece {s.piece_id} is "
                           f"{self.name(s.pupil_id)}'s.")
        for s in self.refused:
            if s.problem and not s.problem.startswith("duplicate"):
                out.append(f"  {s.where}: {s.problem}; its {s.pages} page(s) are on the "
                           "unassigned list.")
        for s in self.segments:
            if s.pupil_id and s.problem:
                out.append(f"  {s.where}: {s.problem}.")
        for s in self.rescans:
            out.append(f"  {self.name(s.pupil_id)} {s.half_term} {s.genre} was already in the "
                       f"archive: this scan is version {s.new_version} (piece {s.piece_id}). "
                       f"Keep one with: scanflow versions {s.piece_id}")
        if self.uncoded:
            by_file: dict[str, list[int]] = {}
            for name, page in self.uncoded:
                by_file.setdefault(name, []).append(page)
            where = "; ".join(f"{n} page(s) {_ranges(p)}" for n, p in by_file.items())
            out.append(f"  {len(self.uncoded)} page(s) with no code before them: {where}. "
                       "They are on the unassigned list.")
        return out

    def to_dict(self) -> dict:
        return {
            "found": [{"where": s.where, "pupil_id": s.pupil_id, "half_term": s.half_term,
                       "genre": s.genre, "kind": s.hit.kind, "status": s.hit.status,
                       "pages": s.pages, "piece": s.piece_id, "new_version": s.new_version,
                       "problem": s.problem}
                      for s in self.segments],
            "expected_class": self.expected_class,
            "missing": self.missing,
            "duplicates": [{"pupil_id": k[0], "half_term": k[1], "genre": k[2],
                            "where": [s.where for s in v]} for k, v in self.duplicates.items()],
            "unreadable": [s.where for s in self.unreadable],
            "uncoded_pages": [{"file": n, "page": p} for n, p in self.uncoded],
        }


def _ranges(pages: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``'1-3, 7'``."""
    out, start, prev = [], None, None
    for p in sorted(pages):
        if start is None:
            start = prev = p
        elif p == prev + 1:
            prev = p
        else:
            out.append(f"{start}-{prev}" if prev != start else str(start))
            start = prev = p
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else str(start))
    return ", ".join(out)


class Splitter:
    """Places the pages of a batch, one at a time in scan order (see the rules above).

    Pure: it knows the roster and genres it is given, not the archive. ``resume`` (file,
    page number) -> Segment | None tells it, when a file's first page it sees is not page
    1, which code the stored earlier pages were under (an interrupted ingest, run again).
    """

    def __init__(self, *, pupils: dict[str, str], genres: set[str], half_term: str,
                 genre: str, expected: list[str] | None = None,
                 expected_class: str | None = None, resume=None):
        self.pupils = pupils
        self.genres = genres
        self.half_term = half_term
        self.genre = genre
        self.resume = resume
        self.report = CodeReport(expected=expected, names=dict(pupils),
                                 expected_class=expected_class)
        self._file: str | None = None
        self._segment: Segment | None = None
        self._used: set[tuple[str, str, str]] = set()

    def place(self, page: PageCode) -> Placement:
        if page.file != self._file:
            self._file = page.file
            self._segment = None
            if page.page_number > 1 and self.resume is not None:
                self._segment = self.resume(page.file, page.page_number)
        hit = page.hit
        if hit is not None and not page.failed:
            self._segment = self._start(page, hit)
            seg = self._segment
            seg.pages += 1
            return Placement("cover" if hit.is_cover else "writing", seg.pupil_id,
                             seg.half_term, seg.genre, seg, starts_piece=True, note=seg.problem)
        seg = self._segment
        if seg is not None:
            seg.pages += 1
            return Placement("writing", seg.pupil_id, seg.half_term, seg.genre, seg,
                             note=seg.problem)
        if page.linked_pupil:
            return Placement("writing", page.linked_pupil, self.half_term, self.genre)
        self.report.uncoded.append((page.name, page.page_number))
        return Placement("writing", None, self.half_term, self.genre,
                         note="no code before this page")

    def _start(self, page: PageCode, hit: CodeHit) -> Segment:
        code = hit.code
        seg = Segment(page.name, page.page_number, hit, None,
                      code.half_term if code else self.half_term,
                      code.genre if code else self.genre)
        self.report.segments.append(seg)
        if code is None:
            seg.problem = hit.problem or "code unreadable"
            return seg
        if code.pupil_id not in self.pupils:
            read = (" (read from the printed code: the QR code was unreadable)"
                    if hit.status == TEXT else "")
            seg.problem = (f"the code is for pupil {code.pupil_id}{read}, who is not in the "
                           "roster (import the class list, then: scanflow assign)")
            return seg
        if code.genre not in self.genres:
            seg.problem = (f"the code's genre '{code.genre}' is not one of the archive's "
                           f"genres (add it with: scanflow genre add {code.genre})")
            return seg
        key = (code.pupil_id, code.half_term, code.genre)
        if key in self._used:
            seg.problem = "duplicate: the same code appeared earlier in this batch"
            return seg
        self._used.add(key)
        seg.pupil_id = code.pupil_id
        if (code.half_term, code.genre) != (self.half_term, self.genre):
            seg.problem = (f"the code says {code.half_term} {code.genre}, the ingest "
                           f"{self.half_term} {self.genre}: filed as the code says")
        return seg


def plan_batch(pages: list[PageCode], **splitter_args) -> tuple[list[Placement], CodeReport]:
    """Place every page of a batch at once (the pure form of what ingest does page by page).

    >>> placements, report = plan_batch(pages, pupils={"A1": "Ava Smith"},
    ...     genres={"narrative"}, half_term="2026-27-autumn-1", genre="narrative")  # doctest: +SKIP
    """
    splitter = Splitter(**splitter_args)
    return [splitter.place(p) for p in pages], splitter.report


# --- the archive side: what ingest needs -----------------------------------------------


def splitter_for(archive, *, half_term: str, genre: str,
                 expect_class: str | None = None) -> Splitter:
    """A :class:`Splitter` for ``archive``'s roster and genres, able to resume a file."""
    pupils = {row[0]: row[1] for row in archive.db.execute(
        "SELECT pupil_id, COALESCE(preferred_name, first_name) || ' ' || surname FROM pupils")}
    genres = {row[0] for row in archive.db.execute("SELECT name FROM genres")}
    expected = None
    if expect_class:
        expected = [row[0] for row in archive.db.execute(
            "SELECT pupil_id FROM pupils WHERE class_name = ? AND left_on IS NULL "
            "ORDER BY surname, first_name", [expect_class])]
        if not expected:
            from scanflow.errors import UsageError

            raise UsageError(f"No pupils in class '{expect_class}' to expect codes for.",
                             hint="Check the class name with: scanflow roster list")

    def resume(file: str, page_number: int) -> Segment | None:
        return stored_segment(archive, file, page_number)

    return Splitter(pupils=pupils, genres=genres, half_term=half_term, genre=genre,
                    expected=expected, expected_class=expect_class, resume=resume)


def stored_segment(archive, sha256: str, page_number: int) -> Segment | None:
    """The code the stored pages before ``page_number`` of a file were under, if any."""
    import json

    row = archive.db.execute(
        "SELECT pages.page_number, pages.code, pages.piece_id, pages.half_term, pages.genre, "
        "files.name, pieces.pupil_id FROM pages JOIN files ON files.sha256 = pages.file_sha256 "
        "LEFT JOIN pieces ON pieces.id = pages.piece_id "
        "WHERE pages.file_sha256 = ? AND pages.page_number < ? AND pages.code IS NOT NULL "
        "ORDER BY pages.page_number DESC LIMIT 1", [sha256, page_number]).fetchone()
    if row is None:
        return None
    hit = CodeHit.from_dict(json.loads(row[1]))
    return Segment(row[5], row[0], hit, row[6], row[3], row[4], piece_id=row[2],
                   problem=None if row[2] else "the code before these pages could not be used")


def page_code(task, result) -> PageCode:
    """The planner's view of an ingest page task and its result."""
    from pathlib import Path

    return PageCode(task.sha256, task.page_number, getattr(result, "code", None),
                    name=sources.display_path(Path(task.path).name), linked_pupil=task.pupil_id,
                    failed=result.status == "failed")


def claim_piece(archive, placement: Placement) -> tuple[int | None, int | None]:
    """``(piece id, position)`` for a placed page; call inside the page's transaction.

    The first page of a code's run makes (or finds) the piece: a new version when the
    archive already has pages for that pupil x half term x genre, so a rescan never mixes
    into, or replaces, an earlier scan.
    """
    from scanflow.archive.pieces import next_position, piece_for

    if placement.pupil_id is None:
        return None, None
    seg = placement.segment
    if seg is None:  # linked by --pupil, --manifest or the file name, as before codes
        piece_id = piece_for(archive, placement.pupil_id, placement.half_term, placement.genre)
        return piece_id, next_position(archive, piece_id)
    if seg.piece_id is None:
        seg.piece_id, seg.new_version = _start_piece(archive, seg)
    position = 0 if placement.role == "cover" else next_position(archive, seg.piece_id)
    return seg.piece_id, position


def _start_piece(archive, seg: Segment) -> tuple[int, int | None]:
    from scanflow.archive.pieces import AWAITING_REVIEW, piece_for
    from scanflow.archive.store import now

    db = archive.db
    row = db.execute(
        "SELECT id, version, status, (SELECT COUNT(*) FROM pages WHERE piece_id = pieces.id) "
        "FROM pieces WHERE pupil_id = ? AND half_term = ? AND genre = ? "
        "ORDER BY version DESC LIMIT 1", [seg.pupil_id, seg.half_term, seg.genre]).fetchone()
    if row is None or (row[2] == AWAITING_REVIEW and row[3] == 0):
        return piece_for(archive, seg.pupil_id, seg.half_term, seg.genre), None
    version = row[1] + 1
    stamp = now()
    piece_id = db["pieces"].insert({
        "pupil_id": seg.pupil_id, "half_term": seg.half_term, "genre": seg.genre,
        "version": version, "status": AWAITING_REVIEW, "created_at": stamp, "updated_at": stamp,
    }).last_pk
    archive.log_event("piece.rescan", f"piece:{piece_id}", pupil_id=seg.pupil_id,
                      version=version, previous=row[0])
    return piece_id, version
