"""Erasing a pupil completely (a data-protection request), and purging leavers by date.

:func:`erase_pupils` removes every row, image and derived file of a pupil, and leaves one
audit entry that says a pupil was erased (a random token, how many rows and files,
who, when) and nothing that identifies them. Complete by construction, not by a list of
tables kept up to date by hand:

1. **rows**: starting from the pupil's pages, pieces and ``pupils`` row, every row that
   refers to them through a foreign key (``PRAGMA foreign_key_list`` of every table,
   followed down to rows that refer to *those*), and every row of any table with a
   ``pupil_id`` column. Tables added later by other features are covered the day they
   exist. Unassigned pages whose cover-sheet code names the pupil go too.
2. **scan files**: a scan file's record (its name often starts with the pupil id) goes
   when none of its pages is left; a class-set PDF shared with other pupils stays, with
   only this pupil's pages removed.
3. **everything else**: every text column of every table is searched for the pupil id and
   full name. Audit log entries that mention the pupil (or their pieces and pages) are
   deleted; any other mention (a batch summary, a file name) has it replaced by
   ``[erased]``. The name in *other* children's writing is left as they wrote it, and
   reported (``mentions``) so that a person can decide.
4. **images**: the faithful and OCR images of the deleted pages (unless another page
   uses the same file) and their display copies.
5. **recogniser versions** that learnt from the pupil's handwriting (trained on their
   corrected lines, or on top of a version that was): their files are deleted and their
   rows marked erased; if one of them read new pages, the newest version before it that
   did not learn from the pupil reads them (or the stock model). An unfinished training
   run's checkpoint goes too. The next ``scanflow model train`` learns from what is left.
6. **no trace in the file**: with ``secure_delete`` on, the full-text index merged
   (``optimize``), statistics rebuilt, then ``VACUUM`` and a WAL checkpoint that truncates
   the log: the deleted text is not left in free pages or in ``scanflow.db-wal``.

Backups made before the erasure still hold the pupil: they age out under the school's
backup rotation (see docs/archive.md).

>>> plan = erasure_plan(archive, "A100000000003")           # doctest: +SKIP
>>> erase_pupils(archive, ["A100000000003"], actor="head")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass, field

from scanflow.archive.models import delete_learnt, learnt_from, remove_erased_files
from scanflow.archive.roster import Pupil, get_pupil
from scanflow.archive.store import Archive, current_user, now
from scanflow.errors import UsageError

REDACTED = "[erased]"
# Where children's own writing lives: another pupil's story may name this pupil; it is
# theirs, so it is reported rather than changed.
WRITING = {("lines", "text"), ("words", "text"), ("pages", "ocr_text"),
           ("transcription_versions", "lines"), ("piece_texts", "text"),
           ("review_drafts", "lines"), ("scores", "suggestion")}
DERIVED = "derived"


@dataclass
class ErasurePlan:
    pupil: Pupil
    pieces: int
    pages: int
    images: int
    models: list[str] = field(default_factory=list)  # versions that learnt from the pupil


@dataclass
class ErasureReport:
    token: str  # the audit entry's subject: note it on the request, never the name
    pupils: int
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows deleted
    redacted: int = 0  # mentions replaced by [erased]
    files_deleted: int = 0
    files_shared: int = 0  # images kept because another pupil's page uses them
    mentions: list[int] = field(default_factory=list)  # other pieces naming the pupil
    wal_cleared: bool = True
    models_deleted: list[str] = field(default_factory=list)  # recogniser versions, "v2"
    model_now: str | None = None  # what reads new pages, when a deleted version did

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _page_ids(db, pupil_id: str) -> list[int]:
    return [r[0] for r in db.execute(
        "SELECT pages.id FROM pages JOIN pieces ON pieces.id = pages.piece_id "
        "WHERE pieces.pupil_id = ? UNION "
        "SELECT id FROM pages WHERE piece_id IS NULL AND instr(code, ?) > 0",
        [pupil_id, pupil_id])]


def erasure_plan(archive: Archive, pupil_id: str) -> ErasurePlan:
    """What erasing the pupil would remove (for the confirmation question)."""
    pupil = get_pupil(archive, pupil_id)
    db = archive.db
    pages = _page_ids(db, pupil_id)
    images = db.execute(
        "SELECT COUNT(*) FROM (SELECT image_path FROM pages WHERE id IN (SELECT value FROM "
        "json_each(?)) AND image_path IS NOT NULL UNION SELECT ocr_image_path FROM pages "
        "WHERE id IN (SELECT value FROM json_each(?)) AND ocr_image_path IS NOT NULL)",
        [json.dumps(pages), json.dumps(pages)]).fetchone()[0]
    pieces = db.execute("SELECT COUNT(*) FROM pieces WHERE pupil_id = ?", [pupil_id]).fetchone()[0]
    return ErasurePlan(pupil, pieces, len(pages), images,
                       [v.name for v in learnt_from(archive, [pupil_id])])


# --- the schema, as the database itself describes it -------------------------------------


def _tables(db) -> list[str]:
    rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                      "AND name NOT LIKE 'sqlite_%'").fetchall()
    virtual = [name for name, sql in rows if (sql or "").upper().startswith("CREATE VIRTUAL")]
    # FTS5 keeps its index in shadow tables named after it; they are handled through it.
    return [name for name, _ in rows if name not in virtual
            and not any(name.startswith(v + "_") for v in virtual)]


def _references(db, tables: list[str]) -> dict[str, list[tuple[str, str, str]]]:
    """``{parent table: [(child table, child column, parent column)]}``."""
    pks = {t: [r[1] for r in db.execute(f"PRAGMA table_info({_q(t)})") if r[5]] for t in tables}
    refs: dict[str, list[tuple[str, str, str]]] = {}
    for child in tables:
        for row in db.execute(f"PRAGMA foreign_key_list({_q(child)})"):
            parent, from_col, to_col = row[2], row[3], row[4]
            if to_col is None:
                to_col = (pks.get(parent) or ["rowid"])[0]
            refs.setdefault(parent, []).append((child, from_col, to_col))
    return refs


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Eraser:
    def __init__(self, db, report: ErasureReport):
        self.db = db
        self.report = report
        self.tables = _tables(db)
        self.refs = _references(db, self.tables)

    def delete(self, table: str, column: str, values: list) -> None:
        """Delete rows of ``table`` whose ``column`` is in ``values``, and, first, every row
        that refers to them, however deep."""
        if not values:
            return
        keys_by_col: dict[str, set] = {}
        # The rows of this table to delete, grown by rows of the same table that refer to
        # them (scores.supersedes): deleted together in one statement.
        rowids = {r[0] for r in self.db.execute(
            f"SELECT rowid FROM {_q(table)} WHERE {_q(column)} IN "
            "(SELECT value FROM json_each(?))", [json.dumps(values)])}
        while True:
            grown = set(rowids)
            for child, ccol, pcol in self.refs.get(table, []):
                if child != table:
                    continue
                grown |= {r[0] for r in self.db.execute(
                    f"SELECT rowid FROM {_q(table)} WHERE {_q(ccol)} IN (SELECT {_q(pcol)} FROM "
                    f"{_q(table)} WHERE rowid IN (SELECT value FROM json_each(?)))",
                    [json.dumps(sorted(rowids))])}
            if grown == rowids:
                break
            rowids = grown
        if not rowids:
            return
        ids = json.dumps(sorted(rowids))
        for child, ccol, pcol in self.refs.get(table, []):
            if child == table:
                continue
            if pcol not in keys_by_col:
                keys_by_col[pcol] = {r[0] for r in self.db.execute(
                    f"SELECT {_q(pcol)} FROM {_q(table)} WHERE rowid IN "
                    "(SELECT value FROM json_each(?))", [ids]) if r[0] is not None}
            self.delete(child, ccol, sorted(keys_by_col[pcol]))
        cur = self.db.execute(f"DELETE FROM {_q(table)} WHERE rowid IN "
                              "(SELECT value FROM json_each(?))", [ids])
        self.report.rows[table] = self.report.rows.get(table, 0) + cur.rowcount

    def text_columns(self) -> list[tuple[str, str]]:
        out = []
        for table in self.tables:
            for row in self.db.execute(f"PRAGMA table_info({_q(table)})"):
                declared = (row[2] or "").upper()
                if not declared or "CHAR" in declared or "TEXT" in declared or \
                        "CLOB" in declared:
                    out.append((table, row[1]))
        return out


def erase_pupils(archive: Archive, pupil_ids: list[str], *, actor: str | None = None,
                 reason: str = "erasure request") -> ErasureReport:
    """Erase the pupils completely (see the module docstring). Returns what was removed."""
    pupils = [get_pupil(archive, pid) for pid in pupil_ids]  # all known, before anything
    if not pupils:
        raise UsageError("No pupils to erase.", hint="Give a pupil id.")
    db = archive.db
    report = ErasureReport(token=secrets.token_hex(8), pupils=len(pupils))
    previous = db.execute("PRAGMA secure_delete").fetchone()[0]
    db.execute("PRAGMA secure_delete = ON")  # deleted text is overwritten with zeros
    doomed_images: set[str] = set()
    doomed_pages: list[int] = []
    try:
        with archive.transaction():
            # Before any row goes: which versions learnt from them is read from the rows.
            learnt = learnt_from(archive, [p.pupil_id for p in pupils])
            if learnt:
                active = any(v.active for v in learnt)
                now_reading = delete_learnt(archive, learnt, actor=actor)
                report.models_deleted = [v.name for v in learnt]
                if active:
                    report.model_now = now_reading.name if now_reading else "stock"
            eraser = _Eraser(db, report)
            for pupil in pupils:
                pages = _page_ids(db, pupil.pupil_id)
                pieces = [r[0] for r in db.execute("SELECT id FROM pieces WHERE pupil_id = ?",
                                                   [pupil.pupil_id])]
                for rel, orel in db.execute(
                        "SELECT image_path, ocr_image_path FROM pages WHERE id IN "
                        "(SELECT value FROM json_each(?))", [json.dumps(pages)]):
                    doomed_images.update(p for p in (rel, orel) if p)
                files = [r[0] for r in db.execute(
                    "SELECT DISTINCT file_sha256 FROM pages WHERE id IN "
                    "(SELECT value FROM json_each(?))", [json.dumps(pages)])]
                _delete_events(db, report, pupil, pages, pieces)
                eraser.delete("pages", "id", pages)
                eraser.delete("pieces", "id", pieces)
                for table in eraser.tables:  # any table keyed by pupil, FK or not
                    if table != "pupils" and "pupil_id" in _columns(db, table):
                        eraser.delete(table, "pupil_id", [pupil.pupil_id])
                eraser.delete("pupils", "pupil_id", [pupil.pupil_id])
                # A scan file whose every page is gone goes too; a shared one stays.
                empty = [sha for sha in files if not db.execute(
                    "SELECT 1 FROM pages WHERE file_sha256 = ? LIMIT 1", [sha]).fetchone()]
                eraser.delete("files", "sha256", empty)
                doomed_pages += pages
                _sweep(db, eraser, report, pupil)
            shared = {r[0] for r in db.execute(
                "SELECT image_path FROM pages WHERE image_path IN (SELECT value FROM "
                "json_each(?)) UNION SELECT ocr_image_path FROM pages WHERE ocr_image_path IN "
                "(SELECT value FROM json_each(?))",
                [json.dumps(sorted(doomed_images)), json.dumps(sorted(doomed_images))])}
            report.files_shared = len(shared)
            doomed_images -= shared
            if "piece_texts_fts" in {r[0] for r in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}:
                # Merge the index so the erased words are not left in old segments.
                db.execute("INSERT INTO piece_texts_fts (piece_texts_fts) VALUES ('optimize')")
            db["events"].insert({
                "at": now(),
                "actor": actor or current_user(), "action": "pupil.erased",
                "subject": report.token,
                "detail": json.dumps({"pupils": report.pupils, "rows": report.total_rows,
                                      "files": len(doomed_images), "reason": reason,
                                      "models": report.models_deleted},
                                     sort_keys=True)})
    finally:
        db.execute(f"PRAGMA secure_delete = {int(previous)}")
    report.files_deleted = _delete_images(archive, doomed_images, doomed_pages)
    remove_erased_files(archive)
    report.wal_cleared = _compact(archive)
    return report


def _columns(db, table: str) -> set[str]:
    return {r[1] for r in db.execute(f"PRAGMA table_info({_q(table)})")}


def _delete_events(db, report: ErasureReport, pupil: Pupil, pages: list[int],
                   pieces: list[int]) -> None:
    subjects = [pupil.pupil_id] + [f"piece:{p}" for p in pieces] + [f"page:{p}" for p in pages]
    cur = db.execute(
        "DELETE FROM events WHERE subject IN (SELECT value FROM json_each(?)) "
        "OR instr(detail, ?) > 0", [json.dumps(subjects), pupil.pupil_id])
    report.rows["events"] = report.rows.get("events", 0) + cur.rowcount


def _needles(db, pupil: Pupil) -> list[str]:
    """The pupil id, and their full names unless another pupil still on file has the same
    name (their records must not be redacted)."""
    names = {f"{pupil.first_name} {pupil.surname}"}
    if pupil.preferred_name:
        names.add(f"{pupil.preferred_name} {pupil.surname}")
    others = {r[0] for r in db.execute(
        "SELECT first_name || ' ' || surname FROM pupils UNION "
        "SELECT preferred_name || ' ' || surname FROM pupils WHERE preferred_name IS NOT NULL")}
    return [pupil.pupil_id] + sorted(names - others)


def _sweep(db, eraser: _Eraser, report: ErasureReport, pupil: Pupil) -> None:
    """Anything still naming the pupil: audit entries go, other mentions are redacted,
    and other children's writing is left as written (reported)."""
    needles = _needles(db, pupil)
    for table, column in eraser.text_columns():
        for needle in needles:
            if (table, column) in WRITING and needle != pupil.pupil_id:
                if table in ("piece_texts",):
                    report.mentions += [r[0] for r in db.execute(
                        "SELECT piece_id FROM piece_texts WHERE instr(text, ?) > 0", [needle])]
                continue
            if table == "events":
                cur = db.execute(f"DELETE FROM events WHERE instr({_q(column)}, ?) > 0",
                                 [needle])
                report.rows["events"] = report.rows.get("events", 0) + cur.rowcount
                continue
            cur = db.execute(f"UPDATE {_q(table)} SET {_q(column)} = replace({_q(column)}, ?, ?) "
                             f"WHERE instr({_q(column)}, ?) > 0", [needle, REDACTED, needle])
            report.redacted += cur.rowcount
    report.mentions = sorted(set(report.mentions))


def _delete_images(archive: Archive, images: set[str], pages: list[int]) -> int:
    deleted = 0
    for rel in sorted(images):
        try:
            path = archive.image(rel)
        except Exception:
            continue
        if path.is_file():
            path.unlink()
            deleted += 1
        parent = path.parent
        while parent != archive.images_dir and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    for page_id in pages:
        shutil.rmtree(archive.images_dir / DERIVED / f"p{page_id}", ignore_errors=True)
    return deleted


def _compact(archive: Archive) -> bool:
    """Rebuild statistics and the file, and empty the WAL. True if the WAL was emptied.

    Statistics first: ``sqlite_stat4`` (when SQLite keeps it) holds sample index keys,
    which may be the pupil's id. ``VACUUM`` rewrites the database without free pages (it
    works while others read, in WAL mode); :func:`clear_wal` then empties the log.
    """
    db = archive.db
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
        db.execute("ANALYZE")
    db.execute("VACUUM")
    return clear_wal(archive)


def clear_wal(archive: Archive, wait_ms: int = 2000) -> bool:
    """Copy the WAL into the database and truncate it to nothing, so that old versions of
    pages (deleted text) are not left in ``scanflow.db-wal``. False when another program
    (the review app mid-request) still reads the old pages: ``scanflow check`` tries again.
    """
    db = archive.db
    previous = db.execute("PRAGMA busy_timeout").fetchone()[0]
    db.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")  # not the usual 30 s: just try
    try:
        busy, _log, _done = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        db.execute(f"PRAGMA busy_timeout = {int(previous)}")
    return busy == 0


def leavers_before(archive: Archive, date: str) -> list[Pupil]:
    """Pupils who left before ``date`` (YYYY-MM-DD), for the retention purge."""
    import datetime as dt

    try:
        day = dt.date.fromisoformat(str(date).strip()).isoformat()
    except ValueError:
        raise UsageError(f"'{date}' is not a date.",
                         hint="Write it as YYYY-MM-DD, e.g. 2020-08-31.") from None
    ids = [r[0] for r in archive.db.execute(
        "SELECT pupil_id FROM pupils WHERE left_on IS NOT NULL AND left_on < ? "
        "ORDER BY left_on, surname", [day])]
    return [get_pupil(archive, pid) for pid in ids]


def purge(archive: Archive, left_before: str, *, actor: str | None = None) -> ErasureReport | None:
    """Erase every pupil who left before ``left_before`` (the school's retention period).
    None if there is nobody to erase."""
    pupils = leavers_before(archive, left_before)
    if not pupils:
        return None
    return erase_pupils(archive, [p.pupil_id for p in pupils], actor=actor,
                        reason=f"retention: left before {left_before}")
