"""Backups of an archive that can be checked, and a restore that checks them first.

``scanflow backup DEST`` makes a folder::

    DEST/scanflow.db        the database, through SQLite's online backup API: one
                            consistent moment, taken while the review app or an ingest
                            goes on writing (WAL: they are not blocked)
    DEST/images/...         every image the database refers to, as stored
    DEST/models/...         every recogniser version the database names (scanflow model)
    DEST/BACKUP.json        when, from where, which scanflow, what it holds
    DEST/MANIFEST.sha256    SHA-256 of every file above, in ``sha256sum`` format, so
                            ``cd DEST && sha256sum -c MANIFEST.sha256`` checks it anywhere

The images copied are those referenced by *the copied database*, so the two always
belong together (an image written by an ingest after the database was copied is left for
the next backup). Display copies (``images/derived/``) are caches and are not copied.
The folder is written under a temporary name and renamed when complete, so an
interrupted backup never looks like a finished one.

``scanflow restore BACKUP --archive PATH`` checks every file against the manifest before
it changes anything, refuses to replace an archive that holds pupils or pieces unless
``--force`` (and then keeps the old archive beside it, renamed, rather than deleting it).

>>> report = backup(archive, "/mnt/usb/scanflow-2027-07-01")       # doctest: +SKIP
>>> restore("/mnt/usb/scanflow-2027-07-01", "scanflow-archive")    # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from scanflow.archive.models import MODELS
from scanflow.archive.store import DB_NAME, IMAGES, Archive, now
from scanflow.errors import ArchiveError, UsageError

MANIFEST = "MANIFEST.sha256"
INFO = "BACKUP.json"
CHUNK = 1 << 20


@dataclass
class BackupReport:
    path: str
    seconds: float
    db_bytes: int
    images: int
    image_bytes: int
    pupils: int
    pieces: int
    warnings: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return self.db_bytes + self.image_bytes


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_hashing(source: Path, target: Path) -> tuple[str, int]:
    """Copy a file, returning its SHA-256 and size from the one read."""
    digest = hashlib.sha256()
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
    shutil.copystat(source, target)  # keep the modification time: display copies key on it
    return digest.hexdigest(), size


def _copy_checked(source: Path, name: str, recorded: str | None, tmp: Path,
                  entries: dict[str, str], warnings: list[str]) -> int | None:
    """Copy one archive file into the backup being made at ``tmp``, hashing it on the way.

    Its digest goes into ``entries`` under ``name``; a missing file, or one that no longer
    matches the checksum the archive ``recorded``, becomes a warning. Returns the bytes
    copied, or None when the file is missing.
    """
    if not source.is_file():
        warnings.append(f"{name} is missing from the archive (not backed up); "
                        "run scanflow check")
        return None
    digest, size = _copy_hashing(source, tmp / name)
    entries[name] = digest
    if recorded and recorded != digest:
        warnings.append(f"{name} differs from its recorded checksum (changed since it was "
                        "stored, or damaged); run scanflow check")
    return size


def _snapshot_db(db_path: Path, target: Path) -> None:
    """A consistent copy of a live database (SQLite online backup, in one step)."""
    src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)  # pages=-1: all at once, under one read transaction
        # A plain single-file database (no WAL) opens on read-only media and in any tool.
        dst.execute("PRAGMA journal_mode = DELETE")
        dst.commit()
    finally:
        dst.close()
        src.close()


def backup(archive: Archive, dest: str | Path, progress=None) -> BackupReport:
    """Back the archive up into the new folder ``dest``. See the module docstring.

    ``progress``: a :class:`scanflow.progress.Progress` advanced once per image.
    """
    from scanflow.progress import NullProgress

    progress = progress or NullProgress()
    started = time.monotonic()
    dest = Path(dest).absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(f"{dest} already exists and is not empty.",
                         hint="Give a new folder for each backup, e.g. one named by the date.")
    archive_dir = archive.path.resolve()
    if dest.resolve() == archive_dir or archive_dir in dest.resolve().parents:
        raise UsageError(f"{dest} is inside the archive itself.",
                         hint="Back up to another disk or folder (a USB drive, a network share).")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        # Logged before the copy, so the backup holds its own entry and a restored archive
        # is identical to the one backed up.
        archive.log_event("archive.backup", dest.name)
        _snapshot_db(archive.path / DB_NAME, tmp / DB_NAME)
        entries = {DB_NAME: sha256_file(tmp / DB_NAME)}
        report = BackupReport(path=str(dest), seconds=0.0,
                              db_bytes=(tmp / DB_NAME).stat().st_size, images=0,
                              image_bytes=0, pupils=0, pieces=0)
        snap = sqlite3.connect(f"file:{tmp / DB_NAME}?mode=ro", uri=True)
        try:
            report.pupils = snap.execute("SELECT COUNT(*) FROM pupils").fetchone()[0]
            report.pieces = snap.execute("SELECT COUNT(*) FROM pieces").fetchone()[0]
            schema = snap.execute("PRAGMA user_version").fetchone()[0]
            images = _referenced_images(snap)
            model_files = _referenced_models(snap)
        finally:
            snap.close()
        progress.start(len(images), "Copying images")
        for rel, recorded in sorted(images.items()):
            progress.advance()
            try:
                source = archive.image(rel)
            except ArchiveError as exc:
                report.warnings.append(str(exc))
                continue
            size = _copy_checked(source, f"{IMAGES}/{rel}", recorded, tmp, entries,
                                 report.warnings)
            if size is not None:
                report.images += 1
                report.image_bytes += size
        progress.finish()
        # The school's recogniser versions (scanflow model train) are small beside the
        # images and cost CPU-hours to make again: they are backed up too.
        for name, recorded in model_files.items():
            _copy_checked(archive.path / MODELS / name, f"{MODELS}/{name}", recorded, tmp,
                          entries, report.warnings)
        from scanflow import __version__

        info = {"created_at": now(), "scanflow": __version__, "schema": schema,
                "source": str(archive_dir), "pupils": report.pupils, "pieces": report.pieces,
                "images": report.images, "image_bytes": report.image_bytes,
                "db_bytes": report.db_bytes, "warnings": report.warnings}
        (tmp / INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        entries[INFO] = sha256_file(tmp / INFO)
        (tmp / MANIFEST).write_text("".join(f"{digest}  {name}\n" for name, digest in
                                            sorted(entries.items())), encoding="utf-8")
        _fsync_tree(tmp)
        if dest.exists():
            dest.rmdir()  # empty, checked above
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report.seconds = round(time.monotonic() - started, 2)
    return report


def _referenced_models(conn: sqlite3.Connection) -> dict[str, str]:
    """The recogniser version files the database names, with their SHA-256."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'models'").fetchone():
        return {}
    return dict(conn.execute("SELECT file, sha256 FROM models").fetchall())


def _referenced_images(conn: sqlite3.Connection) -> dict[str, str | None]:
    """Every image path the database refers to, with its recorded SHA-256 (or None)."""
    images: dict[str, str | None] = {}
    columns = {row[1] for row in conn.execute("PRAGMA table_info(pages)")}
    hashes = "image_sha256" in columns
    for rel, digest, orel, odigest in conn.execute(
            "SELECT image_path, {}, ocr_image_path, {} FROM pages".format(
                "image_sha256" if hashes else "NULL", "ocr_image_sha256" if hashes else "NULL")):
        if rel:
            images[rel] = images.get(rel) or digest
        if orel:
            images[orel] = images.get(orel) or odigest
    return images


def _fsync_tree(folder: Path) -> None:
    """Flush the backup to the disk before it is called finished (USB sticks get pulled)."""
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


# --- checking and restoring --------------------------------------------------------------


def read_manifest(backup_dir: Path) -> dict[str, str]:
    manifest = backup_dir / MANIFEST
    if not manifest.is_file():
        raise ArchiveError(f"{backup_dir} is not a scanflow backup (it has no {MANIFEST}).",
                           hint="Give the folder that 'scanflow backup' made.")
    entries = {}
    for n, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or name.startswith("/") or ".." in \
                Path(name).parts:
            raise ArchiveError(f"{manifest}: line {n} is not '<sha256>  <file>'.",
                               hint="The backup is damaged; use another backup.")
        entries[name] = digest
    if DB_NAME not in entries:
        raise ArchiveError(f"{manifest} does not list {DB_NAME}.",
                           hint="The backup is damaged; use another backup.")
    return entries


def verify_backup(backup_dir: str | Path) -> list[str]:
    """Problems with a backup: files missing or not matching the manifest. Empty if sound."""
    backup_dir = Path(backup_dir)
    entries = read_manifest(backup_dir)
    problems = []
    for name, digest in sorted(entries.items()):
        path = backup_dir / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif sha256_file(path) != digest:
            problems.append(f"{name} does not match its checksum")
    if not problems:
        conn = sqlite3.connect(f"file:{backup_dir / DB_NAME}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            result = str(exc)
        finally:
            conn.close()
        if result != "ok":
            problems.append(f"{DB_NAME} is damaged ({result})")
    return problems


@dataclass
class RestoreReport:
    archive: str
    pupils: int
    pieces: int
    images: int
    kept_old: str | None  # where the archive that was replaced now is


def _holdings(path: Path) -> tuple[int, int] | None:
    db = path / DB_NAME
    if not db.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return (conn.execute("SELECT COUNT(*) FROM pupils").fetchone()[0],
                    conn.execute("SELECT COUNT(*) FROM pieces").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return (-1, -1)  # unreadable: still something a person may want


def restore(backup_dir: str | Path, archive_path: str | Path, *,
            force: bool = False) -> RestoreReport:
    """Restore a backup into ``archive_path``, after checking every file in it."""
    backup_dir = Path(backup_dir)
    target = Path(archive_path).absolute()
    problems = verify_backup(backup_dir)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ArchiveError(f"The backup at {backup_dir} is damaged: {problems[0]}{more}. "
                           "Nothing was changed.", hint="Restore from another backup.")
    holdings = _holdings(target)
    occupied = target.exists() and (not target.is_dir() or any(target.iterdir()))
    if occupied and not force:
        what = (f"holds {holdings[0]} pupils and {holdings[1]} pieces" if holdings and
                holdings[0] >= 0 else "is not empty")
        raise UsageError(f"The archive at {target} {what}; restoring would replace it.",
                         hint="Restore into a new folder (--archive NEW), or add --force: the "
                              "current archive is then kept, renamed, beside it.")
    entries = read_manifest(backup_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.restoring")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / IMAGES).mkdir(parents=True)
    images = 0
    try:
        for name in sorted(entries):
            if name in (MANIFEST, INFO):
                continue
            if name != DB_NAME and not name.startswith((f"{IMAGES}/", f"{MODELS}/")):
                continue
            dest = tmp / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            digest, _ = _copy_hashing(backup_dir / name, dest)
            if digest != entries[name]:  # changed since it was verified a moment ago
                raise ArchiveError(f"{backup_dir / name} changed while it was being restored.",
                                   hint="Make sure nothing writes to the backup, and run "
                                        "the restore again. Nothing was changed.")
            images += name.startswith(f"{IMAGES}/")
        conn = sqlite3.connect(str(tmp / DB_NAME))
        try:
            conn.execute("PRAGMA journal_mode = WAL")  # as scanflow init makes archives
        finally:
            conn.close()
        _fsync_tree(tmp)
        kept = None
        if occupied:
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            kept = str(target.with_name(f"{target.name}.before-restore-{stamp}"))
            os.replace(target, kept)
        elif target.exists():
            target.rmdir()
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    from scanflow.archive.store import open_archive

    # Brings an older backup's schema up to date; nothing else is written, so the archive
    # is exactly the one backed up (the restore is not logged in it for that reason).
    archive = open_archive(target)
    try:
        pupils = archive.db.execute("SELECT COUNT(*) FROM pupils").fetchone()[0]
        pieces = archive.db.execute("SELECT COUNT(*) FROM pieces").fetchone()[0]
    finally:
        archive.close()
    return RestoreReport(archive=str(target), pupils=pupils, pieces=pieces, images=images,
                         kept_old=kept)


def report_dict(report: BackupReport) -> dict:
    return asdict(report) | {"total_bytes": report.total_bytes}
