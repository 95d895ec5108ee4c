"""``scanflow check``: is the archive whole? Database, image files, search index.

What is checked, and what ``--repair`` does about it (only what cannot lose anything):

=============================  ========================================================
database integrity             ``PRAGMA integrity_check`` (``quick_check`` with
                               ``--quick``). Not repaired: restore from a backup.
links between rows             ``PRAGMA foreign_key_check``. Not repaired.
every image a page refers to   present, and its SHA-256 equal to the one recorded
                               (``pages.image_sha256``/``ocr_image_sha256``; a hash not
                               recorded yet is recorded now: the first check of an older
                               archive does that). ``--quick`` checks presence only.
                               A master (the scan) is repaired only from a backup
                               (``--from-backup DIR``), and only with a copy whose
                               checksum is the recorded one; an OCR image is derived
                               data and is made again from its master.
files nobody refers to         images under ``images/`` that no page names: moved (not
                               deleted) to ``quarantine/<time>/`` in the archive folder;
                               files touched in the last hour are left alone (an ingest
                               may be writing them). Display copies of pages that no
                               longer exist or that nothing shows any more (an earlier
                               turn; a page now sent to the browser as scanned) and
                               half-written temporary files: deleted (they are caches
                               and leftovers).
search index                   every piece has its final text, equal to the one worked
                               out afresh, and FTS5's own integrity check. Repaired by
                               rebuilding it (it is derived data).
=============================  ========================================================

>>> report = check_archive(archive)                        # doctest: +SKIP
>>> report.ok, [p.what for p in report.problems]           # doctest: +SKIP
(True, [])
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from scanflow.archive.backup import read_manifest, sha256_file
from scanflow.archive.images import DERIVED, unused_copies
from scanflow.archive.store import IMAGES, Archive

RECENT_SECONDS = 3600


@dataclass
class Problem:
    kind: str  # database, links, missing, damaged, orphan, cache, index
    what: str
    hint: str
    repaired: bool = False

    def __str__(self) -> str:
        return f"{self.what}{' (repaired)' if self.repaired else ''}. {self.hint}".strip()


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    images_checked: int = 0
    hashes_recorded: int = 0
    quarantine: str | None = None
    seconds: float = 0.0
    # Display copies of existing pages that nothing shows any more (an earlier turn, or a
    # page now sent to browsers as scanned): deleted by --repair.
    unused_copies: int = 0
    unused_bytes: int = 0
    unused_deleted: bool = False

    @property
    def remaining(self) -> list[Problem]:
        return [p for p in self.problems if not p.repaired]

    @property
    def ok(self) -> bool:
        return not self.remaining


def record_image_hashes(archive: Archive, page_ids: list[int] | None = None) -> int:
    """Record the SHA-256 of page images that have none yet (all pages, or ``page_ids``).

    For the ingest, once a page's row is saved: ``record_image_hashes(archive, [page_id])``.
    Returns how many hashes were recorded.
    """
    import json

    sql = ("SELECT id, image_path, image_sha256, ocr_image_path, ocr_image_sha256 FROM pages "
           "WHERE ((image_path IS NOT NULL AND image_sha256 IS NULL) OR "
           "(ocr_image_path IS NOT NULL AND ocr_image_sha256 IS NULL))")
    params: list = []
    if page_ids is not None:
        sql += " AND id IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(list(page_ids)))
    recorded = 0
    cache: dict[str, str | None] = {}
    pending: list[tuple[str | None, str | None, int]] = []

    def flush():
        # Many pages per transaction: a first check of a big archive would otherwise
        # wait for one disk sync per page.
        with archive.transaction() as db:
            db.conn.executemany(
                "UPDATE pages SET image_sha256 = COALESCE(image_sha256, ?), "
                "ocr_image_sha256 = COALESCE(ocr_image_sha256, ?) WHERE id = ?", pending)
        pending.clear()

    for page_id, rel, digest, orel, odigest in archive.db.execute(sql, params).fetchall():
        h1 = _hash(archive, rel, cache) if rel and digest is None else None
        h2 = _hash(archive, orel, cache) if orel and odigest is None else None
        if h1 or h2:
            pending.append((h1, h2, page_id))
            recorded += bool(h1) + bool(h2)
        if len(pending) >= 500:
            flush()
    if pending:
        flush()
    return recorded


def _hash(archive: Archive, rel: str, cache: dict[str, str | None]) -> str | None:
    if rel not in cache:
        try:
            path = archive.image(rel)
            cache[rel] = sha256_file(path) if path.is_file() else None
        except Exception:  # outside the store, unreadable: reported by the image check
            cache[rel] = None
    return cache[rel]


def check_archive(archive: Archive, *, repair: bool = False, quick: bool = False,
                  from_backup: str | Path | None = None, progress=None,
                  rebuild: Callable[[Archive, int], str] | None = None) -> CheckReport:
    """Check the archive (see the module docstring); with ``repair``, fix what is safe.

    ``progress``: a :class:`scanflow.progress.Progress` advanced once per image checked.
    ``rebuild``: makes a page's OCR image again from its master (the CLI passes
    :func:`scanflow.intake.rebuild.rebuild_ocr_image`; this layer cannot clean pages);
    with ``repair``, a missing or damaged OCR image is rebuilt rather than restored.
    """
    from scanflow.progress import NullProgress

    progress = progress or NullProgress()
    started = time.monotonic()
    report = CheckReport()
    _check_database(archive, report, quick)
    report.hashes_recorded = 0 if quick else record_image_hashes(archive)
    _check_images(archive, report, quick, repair, Path(from_backup) if from_backup else None,
                  progress, rebuild)
    _check_orphans(archive, report, repair)
    _check_index(archive, report, repair)
    report.seconds = round(time.monotonic() - started, 2)
    archive.log_event("archive.check", "", problems=len(report.problems),
                      remaining=len(report.remaining), repair=repair)
    # Finish what an erasure could not while the review app was reading: empty the WAL,
    # so no old page (deleted text) stays in scanflow.db-wal.
    from scanflow.archive.erase import clear_wal

    clear_wal(archive)
    return report


def _check_database(archive: Archive, report: CheckReport, quick: bool) -> None:
    pragma = "quick_check" if quick else "integrity_check"
    rows = [r[0] for r in archive.db.execute(f"PRAGMA {pragma}")]
    if rows != ["ok"]:
        report.problems.append(Problem(
            "database", f"The database is damaged: {'; '.join(rows[:3])}"
            + (f" (and {len(rows) - 3} more)" if len(rows) > 3 else ""),
            "Restore the archive from the latest good backup (scanflow restore)."))
    broken: dict[tuple[str, str], int] = {}
    for table, _rowid, parent, _fk in archive.db.execute("PRAGMA foreign_key_check"):
        broken[(table, parent)] = broken.get((table, parent), 0) + 1
    for (table, parent), n in sorted(broken.items()):
        report.problems.append(Problem(
            "links", f"{n} row(s) of {table} point to {parent} rows that do not exist",
            "Restore from a backup, or ask for help before changing the database by hand."))


def _check_images(archive: Archive, report: CheckReport, quick: bool, repair: bool,
                  backup: Path | None, progress, rebuild=None) -> None:
    manifest = read_manifest(backup) if backup else {}
    rows = archive.db.execute(
        "SELECT id, image_path, image_sha256, ocr_image_path, ocr_image_sha256 FROM pages "
        "WHERE image_path IS NOT NULL OR ocr_image_path IS NOT NULL").fetchall()
    expected: dict[str, tuple[str | None, int]] = {}  # path -> (hash, a page using it)
    derived: set[str] = set()  # OCR images: made again from the master, not restored
    for page_id, rel, digest, orel, odigest in rows:
        for path, h in ((rel, digest), (orel, odigest)):
            if path and (path not in expected or expected[path][0] is None):
                expected[path] = (h, page_id)
        if orel:
            derived.add(orel)
    progress.start(len(expected), "Checking images")
    for rel, (digest, page_id) in sorted(expected.items()):
        progress.advance()
        try:
            path = archive.image(rel)
        except Exception:
            report.problems.append(Problem(
                "links", f"Page {page_id} names an image outside the image store ({rel})",
                "Restore the archive from a backup."))
            continue
        report.images_checked += 1
        if not path.is_file():
            problem = Problem("missing", f"images/{rel} (page {page_id}) is missing",
                              _restore_hint(backup))
        elif quick or digest is None or sha256_file(path) == digest:
            continue
        else:
            problem = Problem("damaged", f"images/{rel} (page {page_id}) does not match its "
                              "recorded checksum (damaged or changed)", _restore_hint(backup))
        if repair and rel in derived and rebuild is not None:
            problem.repaired = _rebuild(archive, rebuild, page_id, problem)
        elif repair and backup is not None:
            problem.repaired = _restore_image(archive, backup, manifest, rel, digest)
            if not problem.repaired:
                problem.hint = (f"The backup at {backup} has no good copy of it; try an older "
                                "backup, or rescan the page.")
        report.problems.append(problem)
    progress.finish()


def _rebuild(archive: Archive, rebuild, page_id: int, problem: Problem) -> bool:
    from scanflow.errors import ScanflowError

    try:
        rebuilt = rebuild(archive, page_id)
    except ScanflowError as exc:
        problem.hint = f"It could not be made again from the page's master: {exc}"
        return False
    problem.hint = f"Made again from the page's master as images/{rebuilt}."
    return True


def _restore_hint(backup: Path | None) -> str:
    if backup:
        return "Run again with --repair to copy it back from the backup."
    return ("Copy it back from a backup: scanflow check --repair --from-backup BACKUP_FOLDER "
            "(or rescan the page).")


def _restore_image(archive: Archive, backup: Path, manifest: dict[str, str], rel: str,
                   digest: str | None) -> bool:
    name = f"{IMAGES}/{rel}"
    source = backup / name
    good = manifest.get(name)
    if not good or not source.is_file() or (digest and good != digest):
        return False
    if sha256_file(source) != good:
        return False
    target = archive.image(rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-restore")
    shutil.copy2(source, tmp)
    os.replace(tmp, target)
    return True


def _check_orphans(archive: Archive, report: CheckReport, repair: bool) -> None:
    db = archive.db
    referenced = {r[0] for r in db.execute(
        "SELECT image_path FROM pages WHERE image_path IS NOT NULL UNION "
        "SELECT ocr_image_path FROM pages WHERE ocr_image_path IS NOT NULL")}
    # (image_turn came with migration 8; a backup of an older archive is checked too.)
    turn = "image_turn" if "image_turn" in {c[1] for c in db.execute(
        "PRAGMA table_info(pages)")} else "0"
    masters = {r[0]: (r[1], r[2]) for r in db.execute(
        f"SELECT id, image_path, {turn} FROM pages")}
    page_ids = set(masters)
    root = archive.images_dir
    if not root.is_dir():
        report.problems.append(Problem("missing", f"The image folder {root} is missing",
                                       "Restore the archive from a backup."))
        return
    cutoff = time.time() - RECENT_SECONDS
    orphans, recent, caches, leftovers, unused = [], 0, [], [], []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        if rel_dir.parts[:1] == (DERIVED,):
            if len(rel_dir.parts) == 1:
                for name in dirnames:
                    if not (name.startswith("p") and name[1:].isdigit()
                            and int(name[1:]) in page_ids):
                        caches.append(Path(dirpath) / name)
                    else:  # copies of an earlier turn, or of a page now sent as scanned
                        unused += unused_copies(root, int(name[1:]), *masters[int(name[1:])])
                dirnames[:] = []
            continue
        # A folder an extraction was writing into (sources.extract_embedded) is temporary too.
        in_temporary = any(part.startswith(".") and ".tmp" in part for part in rel_dir.parts)
        for name in filenames:
            path = Path(dirpath) / name
            rel = (rel_dir / name).as_posix()
            if in_temporary or (name.startswith(".") and ".tmp" in name):
                if path.stat().st_mtime < cutoff:
                    leftovers.append(path)
                continue
            if rel in referenced:
                continue
            if path.stat().st_mtime >= cutoff:
                recent += 1
                continue
            orphans.append(path)
    quarantine = None
    if orphans:
        problem = Problem("orphan", f"{len(orphans)} image file(s) belong to no page (e.g. "
                          f"images/{orphans[0].relative_to(root).as_posix()})",
                          "Run scanflow check --repair to move them to the archive's "
                          "quarantine folder, then delete that folder once you are sure.")
        if repair:
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            quarantine = archive.path / "quarantine" / stamp
            for path in orphans:
                target = quarantine / IMAGES / path.relative_to(root)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(path), target)
            problem.repaired = True
            problem.hint = f"Moved to {quarantine}; delete it once you are sure."
            report.quarantine = str(quarantine)
            _prune_empty(root)
        report.problems.append(problem)
    if recent:
        report.problems.append(Problem(
            "orphan", f"{recent} image file(s) written in the last hour belong to no page yet",
            "An ingest may be writing them; check again later."))
    if caches:
        problem = Problem("cache", f"{len(caches)} display cop(ies) of pages no longer in the "
                          "archive", "Run scanflow check --repair to delete them (they are "
                          "only caches).")
        if repair:
            for path in caches:
                shutil.rmtree(path, ignore_errors=True)
            problem.repaired = True
        report.problems.append(problem)
    # Not a problem (nothing is wrong, and the app never shows them), just space to free.
    report.unused_copies = len(unused)
    report.unused_bytes = sum(p.stat().st_size for p in unused)
    if repair:
        for path in unused:
            path.unlink(missing_ok=True)
        report.unused_deleted = True
    if leftovers:
        problem = Problem("cache", f"{len(leftovers)} half-written temporary file(s) left by an "
                          "interrupted run", "Run scanflow check --repair to delete them.")
        if repair:
            for path in leftovers:
                path.unlink(missing_ok=True)
                folder = path.parent
                if folder.name.startswith(".") and ".tmp" in folder.name:
                    with contextlib.suppress(OSError):  # not empty yet: another file left
                        folder.rmdir()
            problem.repaired = True
        report.problems.append(problem)


def _prune_empty(root: Path) -> None:
    for dirpath, _dirs, _files in sorted(os.walk(root), key=lambda t: -len(t[0])):
        path = Path(dirpath)
        if path != root and not any(path.iterdir()):
            path.rmdir()


def _check_index(archive: Archive, report: CheckReport, repair: bool) -> None:
    from scanflow.archive.search import index_problems, rebuild

    for text in index_problems(archive):
        problem = Problem("index", text[0].upper() + text[1:],
                          "Run scanflow check --repair (or scanflow search --rebuild).")
        report.problems.append(problem)
    if repair and any(p.kind == "index" for p in report.problems):
        rebuild(archive)
        for p in report.problems:
            if p.kind == "index":
                p.repaired = True


def format_check(report: CheckReport) -> str:
    lines = [str(p) for p in report.problems]
    if report.unused_copies:
        lines.append(f"{report.unused_copies} display cop(ies) that nothing shows any more "
                     f"({report.unused_bytes / 1e6:.1f} MB): " + (
                         "deleted." if report.unused_deleted else
                         "scanflow check --repair deletes them (they are only caches)."))
    summary = (f"Checked the database, {report.images_checked} image(s) and the search index "
               f"in {report.seconds:.1f}s")
    if report.hashes_recorded:
        summary += f"; recorded {report.hashes_recorded} image checksum(s) for the first time"
    if report.ok:
        summary += ": " + ("all problems repaired." if report.problems else "no problems.")
    else:
        summary += f": {len(report.remaining)} problem(s) to deal with."
    return "\n".join(lines + [summary])
