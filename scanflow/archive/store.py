"""An archive: one folder holding ``scanflow.db`` (SQLite) and an ``images/`` store.

The archive's location is always passed in; nothing in scanflow keeps a global one.

>>> archive = init_archive(tmp_path / "school")    # doctest: +SKIP
>>> archive = open_archive(tmp_path / "school")    # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import sqlite_utils

from scanflow.archive import migrations
from scanflow.errors import ArchiveError

DB_NAME = "scanflow.db"
IMAGES = "images"
DEFAULT_LOCATION = "scanflow-archive"


def default_location() -> Path:
    """``$SCANFLOW_ARCHIVE`` if set, else ``./scanflow-archive``."""
    return Path(os.environ.get("SCANFLOW_ARCHIVE") or DEFAULT_LOCATION)


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


@dataclass
class Archive:
    path: Path
    db: sqlite_utils.Database = field(repr=False)
    # What was loaded through this connection and stays valid until the archive changes
    # (see :meth:`unchanged_since`): the whole school's placements for the class grids.
    loaded: dict = field(default_factory=dict, repr=False, compare=False)

    def change_mark(self) -> tuple[int, int]:
        """A value that differs once anything was written to the archive: commits by other
        connections move SQLite's ``data_version``, this connection's own writes its
        ``total_changes``."""
        return (self.db.execute("PRAGMA data_version").fetchone()[0],
                self.db.conn.total_changes)

    @property
    def images_dir(self) -> Path:
        return self.path / IMAGES

    def image(self, relative: str) -> Path:
        """Absolute path of a stored image, refusing anything outside the image store."""
        full = (self.images_dir / relative).resolve()
        if self.images_dir.resolve() not in full.parents:
            raise ArchiveError(f"'{relative}' is not inside the archive's image store.")
        return full

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """All-or-nothing writes: an interrupted block leaves no half-written rows."""
        conn = self.db.conn
        if conn.in_transaction:
            yield self.db
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def log_event(self, action: str, subject: str = "", actor: str | None = None,
                  **detail: Any) -> None:
        """Append to the audit log. Pass ids, never names: the log outlives erasure."""
        self.db["events"].insert({
            "at": now(), "actor": actor or current_user(), "action": action,
            "subject": subject, "detail": json.dumps(detail, sort_keys=True) if detail else None,
        })

    def setting(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction():
            self.db["settings"].upsert({"key": key, "value": value}, pk="key")

    def close(self) -> None:
        self.db.close()


def _connect(db_path: Path) -> sqlite_utils.Database:
    import sqlite3

    # Autocommit mode: transactions are opened explicitly by Archive.transaction().
    conn = sqlite3.connect(str(db_path), isolation_level=None, timeout=30,
                           check_same_thread=False)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 30000")
    return db


def init_archive(path: str | Path) -> Archive:
    """Create an archive at ``path`` (or bring an existing one up to date). Safe to repeat."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ArchiveError(f"{path} exists and is not a folder.",
                           hint="Choose another location for the archive.")
    path.mkdir(parents=True, exist_ok=True)
    (path / IMAGES).mkdir(exist_ok=True)
    db = _connect(path / DB_NAME)
    _check_version(db, path)
    db.enable_wal()
    migrations.apply(db)
    return Archive(path=path, db=db)


def open_archive(path: str | Path | None = None) -> Archive:
    """Open an existing archive; a missing or too-new archive is a clear error."""
    path = Path(path) if path else default_location()
    db_path = path / DB_NAME
    if not db_path.is_file():
        raise ArchiveError(
            f"There is no scanflow archive at {path}.",
            hint=f"Create one with: scanflow init {path}  (or pass --archive / set SCANFLOW_ARCHIVE).",
        )
    db = _connect(db_path)
    _check_version(db, path)
    if migrations.current_version(db) < migrations.latest_version():
        migrations.apply(db)
    return Archive(path=path, db=db)


def _check_version(db: sqlite_utils.Database, path: Path) -> None:
    try:
        version = migrations.current_version(db)
    except Exception as exc:
        raise ArchiveError(f"{path / DB_NAME} is not a readable SQLite database ({exc}).",
                           hint="Restore it from a backup, or choose another --archive.") from None
    if version > migrations.latest_version():
        from scanflow import __version__

        raise ArchiveError(
            f"The archive at {path} was written by a newer scanflow (schema {version}; "
            f"this is scanflow {__version__}, schema {migrations.latest_version()}).",
            hint="Upgrade scanflow (bash setup.sh) before opening it.",
        )
