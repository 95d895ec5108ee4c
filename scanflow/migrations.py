"""The archive's schema, as numbered migrations applied in order inside transactions.

The number of the last applied migration is SQLite's ``user_version``. An archive whose
number is higher than the last migration here was written by a newer scanflow and is
refused rather than misread. Never edit a migration that has shipped: add a new one.
"""

from __future__ import annotations

import sqlite3
from typing import Callable

import sqlite_utils

MIGRATIONS: list[tuple[int, str, str]] = []


def migration(number: int, name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    def deco(fn):
        MIGRATIONS.append((number, name, fn()))
        return fn

    return deco


@migration(1, "initial schema")
def _m001() -> str:
    return """
    CREATE TABLE pupils (
        pupil_id TEXT PRIMARY KEY,
        first_name TEXT NOT NULL,
        preferred_name TEXT,
        surname TEXT NOT NULL,
        class_name TEXT,
        year_group INTEGER,
        date_of_birth TEXT,
        left_on TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    -- Pupils move class and year group; their earlier placements stay known.
    CREATE TABLE pupil_history (
        id INTEGER PRIMARY KEY,
        pupil_id TEXT NOT NULL REFERENCES pupils(pupil_id) ON DELETE CASCADE,
        class_name TEXT,
        year_group INTEGER,
        changed_at TEXT NOT NULL
    );
    CREATE INDEX idx_pupil_history_pupil ON pupil_history(pupil_id);
    CREATE TABLE genres (
        name TEXT PRIMARY KEY,
        label TEXT NOT NULL
    );
    INSERT INTO genres (name, label) VALUES
        ('narrative', 'Narrative'), ('recount', 'Recount'), ('persuasion', 'Persuasion'),
        ('information', 'Information text'), ('instructions', 'Instructions'),
        ('explanation', 'Explanation'), ('discussion', 'Discussion'), ('letter', 'Letter'),
        ('diary', 'Diary'), ('poetry', 'Poetry'), ('report', 'Report');
    CREATE TABLE batches (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        half_term TEXT NOT NULL,
        genre TEXT NOT NULL REFERENCES genres(name),
        engine TEXT NOT NULL,
        status TEXT NOT NULL,
        actor TEXT,
        summary TEXT
    );
    CREATE TABLE files (
        sha256 TEXT PRIMARY KEY,
        batch_id INTEGER NOT NULL REFERENCES batches(id),
        path TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        kind TEXT NOT NULL,
        page_count INTEGER,
        status TEXT NOT NULL,
        error TEXT,
        added_at TEXT NOT NULL
    );
    CREATE TABLE pieces (
        id INTEGER PRIMARY KEY,
        pupil_id TEXT NOT NULL REFERENCES pupils(pupil_id),
        half_term TEXT NOT NULL,
        genre TEXT NOT NULL REFERENCES genres(name),
        version INTEGER NOT NULL DEFAULT 1,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (pupil_id, half_term, genre, version)
    );
    CREATE INDEX idx_pieces_status ON pieces(status, half_term, genre);
    CREATE TABLE pages (
        id INTEGER PRIMARY KEY,
        file_sha256 TEXT NOT NULL REFERENCES files(sha256),
        page_number INTEGER NOT NULL,
        batch_id INTEGER NOT NULL REFERENCES batches(id),
        piece_id INTEGER REFERENCES pieces(id),
        position INTEGER,
        half_term TEXT NOT NULL,
        genre TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        image_path TEXT,
        ocr_image_path TEXT,
        width INTEGER,
        height INTEGER,
        dpi REAL,
        rotation INTEGER,
        skew REAL,
        preprocess TEXT,
        engine TEXT,
        engine_version TEXT,
        model TEXT,
        ocr_settings TEXT,
        ocr_text TEXT,
        mean_confidence REAL,
        word_count INTEGER,
        seconds REAL,
        created_at TEXT NOT NULL,
        UNIQUE (file_sha256, page_number)
    );
    CREATE INDEX idx_pages_piece ON pages(piece_id, position);
    CREATE INDEX idx_pages_unassigned ON pages(piece_id) WHERE piece_id IS NULL;
    CREATE TABLE lines (
        id INTEGER PRIMARY KEY,
        page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
        line_no INTEGER NOT NULL,
        text TEXT NOT NULL,
        x INTEGER, y INTEGER, w INTEGER, h INTEGER,
        confidence REAL
    );
    CREATE INDEX idx_lines_page ON lines(page_id, line_no);
    CREATE TABLE words (
        id INTEGER PRIMARY KEY,
        line_id INTEGER NOT NULL REFERENCES lines(id) ON DELETE CASCADE,
        page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
        word_no INTEGER NOT NULL,
        text TEXT NOT NULL,
        x INTEGER, y INTEGER, w INTEGER, h INTEGER,
        confidence REAL
    );
    CREATE INDEX idx_words_line ON words(line_id);
    CREATE INDEX idx_words_page ON words(page_id);
    -- Who did what and when. Holds ids, never names, so an erased pupil leaves no
    -- personal data behind in it.
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT,
        action TEXT NOT NULL,
        subject TEXT,
        detail TEXT
    );
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """


def latest_version() -> int:
    return max(n for n, _, _ in MIGRATIONS)


def current_version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def apply(db: sqlite_utils.Database) -> list[int]:
    """Apply pending migrations, each atomically with its version bump. Returns their numbers."""
    applied = []
    for number, _name, sql in sorted(MIGRATIONS):
        if number <= current_version(db):
            continue
        conn = db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _split(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(number)
    return applied


def _split(sql: str) -> list[str]:
    # executescript() would commit on its own; split so the migration stays one transaction.
    statements, buf = [], []
    for line in sql.splitlines():
        if line.strip().startswith("--"):
            continue
        buf.append(line)
        if line.rstrip().endswith(";"):
            stmt = "\n".join(buf).strip()
            if stmt and sqlite3.complete_statement(stmt):
                statements.append(stmt)
                buf = []
    tail = "\n".join(buf).strip()
    if tail:
        statements.append(tail)
    return statements



@migration(2, "transcription versions")
def _m002() -> str:
    return """
    -- Each save of a piece's transcription is a whole new version (all its lines), so
    -- history can show diffs and restore any version; the OCR text is never overwritten.
    CREATE TABLE transcription_versions (
        id INTEGER PRIMARY KEY,
        piece_id INTEGER NOT NULL REFERENCES pieces(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        author TEXT NOT NULL,
        created_at TEXT NOT NULL,
        based_on INTEGER,
        note TEXT,
        lines TEXT NOT NULL,
        UNIQUE (piece_id, number)
    );
    ALTER TABLE pieces ADD COLUMN reviewed_by TEXT;
    ALTER TABLE pieces ADD COLUMN reviewed_at TEXT;
    """
