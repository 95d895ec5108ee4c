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


# Reserved numbers while work is in flight: 3 review accounts, 4 scores, 5 cover sheets.


@migration(3, "review accounts, sessions and drafts")
def _m003() -> str:
    return """
    -- People who may use the review web app beyond this computer. Roles: office (assign
    -- pages), teacher (review their classes), lead (everything).
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        display_name TEXT,
        role TEXT NOT NULL CHECK (role IN ('office', 'teacher', 'lead')),
        password_hash TEXT NOT NULL,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until INTEGER,
        last_login_at TEXT,
        disabled_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE user_classes (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        class_name TEXT NOT NULL,
        PRIMARY KEY (user_id, class_name)
    );
    -- Server-side sessions, so that logging out or removing an account ends them at once.
    -- Only a hash of the cookie's token is stored: a copy of the database opens no session.
    CREATE TABLE review_sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL
    );
    CREATE INDEX idx_review_sessions_user ON review_sessions(user_id);
    -- A teacher's corrections between two saves: every line saved as they type, so a closed
    -- tab or a power cut loses nothing; saving turns the draft into a transcription version.
    CREATE TABLE review_drafts (
        piece_id INTEGER NOT NULL REFERENCES pieces(id) ON DELETE CASCADE,
        author TEXT NOT NULL,
        based_on INTEGER NOT NULL,
        rev INTEGER NOT NULL,
        lines TEXT NOT NULL,
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (piece_id, author)
    );
    -- Set when a person turns a page after it was read: its text came from the old
    -- orientation and should be read again.
    ALTER TABLE pages ADD COLUMN ocr_stale INTEGER NOT NULL DEFAULT 0;
    -- The review queue filters and sorts pieces by class and pupil.
    CREATE INDEX idx_pupils_class ON pupils(class_name, surname, first_name);
    CREATE INDEX idx_pieces_pupil ON pieces(pupil_id);
    CREATE INDEX idx_pieces_half_term ON pieces(half_term, genre);
    """


@migration(5, "cover sheets and rescan versions")
def _m005() -> str:
    return """
    -- What scanflow.intake.codes found on a page (JSON: status, kind, code, attempt, angle), or
    -- NULL for a page with no code. Cover pages have status 'cover' and position 0 in
    -- their piece. An interrupted ingest resumes a file from the last stored code.
    ALTER TABLE pages ADD COLUMN code TEXT;
    -- A rescan of a piece is a new version; the teacher keeps one and discards the others
    -- (status 'discarded'). Discarding is reversible: the status it had is kept here.
    ALTER TABLE pieces ADD COLUMN discarded_at TEXT;
    ALTER TABLE pieces ADD COLUMN discarded_by TEXT;
    ALTER TABLE pieces ADD COLUMN status_before_discard TEXT;
    CREATE INDEX idx_pieces_key ON pieces(pupil_id, half_term, genre, version);
    """


@migration(4, "scores")
def _m004() -> str:
    return """
    -- A teacher's level for one criterion of one piece. Never updated: a changed level is
    -- a new row naming the row it replaces (supersedes), so every earlier score stays.
    -- Each row carries what it was scored against: the suggestion and evidence shown
    -- (JSON), the transcription version, the rubric's id, version and content hash, and
    -- the descriptor text of the level given, so editing the rubric file later changes
    -- no past score.
    CREATE TABLE scores (
        id INTEGER PRIMARY KEY,
        piece_id INTEGER NOT NULL REFERENCES pieces(id) ON DELETE CASCADE,
        criterion_id TEXT NOT NULL,
        criterion_name TEXT NOT NULL,
        level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
        level_descriptor TEXT,
        scorer TEXT NOT NULL,
        scored_at TEXT NOT NULL,
        note TEXT,
        suggested_level INTEGER CHECK (suggested_level BETWEEN 1 AND 5),
        suggestion_confidence TEXT NOT NULL,
        suggestion TEXT,
        band_id TEXT NOT NULL,
        year_group INTEGER NOT NULL,
        rubric_id TEXT NOT NULL,
        rubric_version TEXT NOT NULL,
        rubric_hash TEXT NOT NULL,
        transcription_version INTEGER NOT NULL,
        suggester_version TEXT NOT NULL,
        supersedes INTEGER REFERENCES scores(id)
    );
    CREATE INDEX idx_scores_piece ON scores(piece_id, criterion_id, id);
    """


def _piece_text_select(where: str) -> str:
    # A piece's final text, worked out in SQL so that every writer keeps the search index
    # in step through triggers, with no scanflow code needed (Datasette can read it too).
    # It equals scanflow.archive.transcription.current_text(): the latest teacher version's lines
    # (a blank line between pages), else the OCR text of the pages not discarded.
    return f"""
    SELECT p.id AS piece_id,
      CASE WHEN v.number IS NOT NULL THEN COALESCE((
        SELECT group_concat(t, char(10)) FROM (
          SELECT CASE WHEN lag(json_extract(j.value, '$.page_id')) OVER w IS NOT NULL
                       AND lag(json_extract(j.value, '$.page_id')) OVER w
                           IS NOT json_extract(j.value, '$.page_id')
                      THEN char(10) ELSE '' END || json_extract(j.value, '$.text') AS t
          FROM json_each(v.lines) AS j
          WINDOW w AS (ORDER BY CAST(j.key AS INTEGER))
          ORDER BY CAST(j.key AS INTEGER))), '')
      ELSE COALESCE((
        SELECT group_concat(ocr_text, char(10) || char(10)) FROM (
          SELECT ocr_text FROM pages WHERE pages.piece_id = p.id AND pages.status != 'discarded'
            AND pages.ocr_text IS NOT NULL AND pages.ocr_text != ''
          ORDER BY pages.position, pages.id)), '')
      END AS text,
      COALESCE(v.number, 0) AS version,
      strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now') AS updated_at
    FROM pieces AS p
    LEFT JOIN transcription_versions AS v ON v.piece_id = p.id
      AND v.number = (SELECT MAX(number) FROM transcription_versions WHERE piece_id = p.id)
    WHERE {where}"""


def _refresh_piece_text(piece: str) -> str:
    return (f"DELETE FROM piece_texts WHERE piece_id = {piece};\n"
            f"INSERT INTO piece_texts (piece_id, text, version, updated_at)"
            f"{_piece_text_select(f'p.id = {piece}')};")


@migration(6, "archive: search index, image hashes")
def _m006() -> str:
    return f"""
    -- The final text of every piece (what scanflow.archive.transcription.current_text gives), kept
    -- by the triggers below whenever a transcription version is saved or pages are added,
    -- moved or re-read; and its full-text index (FTS5, external content). Rebuild both
    -- with: scanflow search --rebuild
    CREATE TABLE piece_texts (
        piece_id INTEGER PRIMARY KEY REFERENCES pieces(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE VIRTUAL TABLE piece_texts_fts USING fts5(
        text, content='piece_texts', content_rowid='piece_id',
        tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER piece_texts_ai AFTER INSERT ON piece_texts BEGIN
        INSERT INTO piece_texts_fts (rowid, text) VALUES (NEW.piece_id, NEW.text);
    END;
    CREATE TRIGGER piece_texts_ad AFTER DELETE ON piece_texts BEGIN
        INSERT INTO piece_texts_fts (piece_texts_fts, rowid, text)
            VALUES ('delete', OLD.piece_id, OLD.text);
    END;
    CREATE TRIGGER piece_texts_au AFTER UPDATE ON piece_texts BEGIN
        INSERT INTO piece_texts_fts (piece_texts_fts, rowid, text)
            VALUES ('delete', OLD.piece_id, OLD.text);
        INSERT INTO piece_texts_fts (rowid, text) VALUES (NEW.piece_id, NEW.text);
    END;
    CREATE TRIGGER pieces_text_ai AFTER INSERT ON pieces BEGIN
        {_refresh_piece_text("NEW.id")}
    END;
    CREATE TRIGGER versions_text_ai AFTER INSERT ON transcription_versions BEGIN
        {_refresh_piece_text("NEW.piece_id")}
    END;
    CREATE TRIGGER versions_text_ad AFTER DELETE ON transcription_versions BEGIN
        {_refresh_piece_text("OLD.piece_id")}
    END;
    CREATE TRIGGER pages_text_ai AFTER INSERT ON pages WHEN NEW.piece_id IS NOT NULL BEGIN
        {_refresh_piece_text("NEW.piece_id")}
    END;
    CREATE TRIGGER pages_text_ad AFTER DELETE ON pages WHEN OLD.piece_id IS NOT NULL BEGIN
        {_refresh_piece_text("OLD.piece_id")}
    END;
    CREATE TRIGGER pages_text_au_old AFTER UPDATE OF piece_id, position, status, ocr_text
        ON pages WHEN OLD.piece_id IS NOT NULL AND OLD.piece_id IS NOT NEW.piece_id BEGIN
        {_refresh_piece_text("OLD.piece_id")}
    END;
    CREATE TRIGGER pages_text_au_new AFTER UPDATE OF piece_id, position, status, ocr_text
        ON pages WHEN NEW.piece_id IS NOT NULL BEGIN
        {_refresh_piece_text("NEW.piece_id")}
    END;
    INSERT INTO piece_texts (piece_id, text, version, updated_at){_piece_text_select("1")};
    -- SHA-256 of each stored image, so scanflow check can tell a damaged file from a good
    -- one. Recorded by scanflow.archive.check.record_image_hashes (after ingest, or by the first
    -- check for older pages). Rewriting an image in place (turning a page, reading it
    -- again) clears its hash, which the next check records afresh.
    ALTER TABLE pages ADD COLUMN image_sha256 TEXT;
    ALTER TABLE pages ADD COLUMN ocr_image_sha256 TEXT;
    CREATE TRIGGER pages_hash_turned AFTER UPDATE OF rotation, image_path ON pages
        WHEN NEW.rotation IS NOT OLD.rotation OR NEW.image_path IS NOT OLD.image_path BEGIN
        UPDATE pages SET image_sha256 = NULL WHERE id = NEW.id;
    END;
    CREATE TRIGGER pages_hash_reread AFTER UPDATE OF ocr_text, ocr_image_path ON pages
        WHEN NEW.ocr_text IS NOT OLD.ocr_text OR NEW.ocr_image_path IS NOT OLD.ocr_image_path
    BEGIN
        UPDATE pages SET ocr_image_sha256 = NULL WHERE id = NEW.id;
    END;
    -- Class views find who was in a class in an earlier year through pupil_history.
    CREATE INDEX idx_pupil_history_class ON pupil_history(class_name);
    """


@migration(7, "scores remember the text they judged")
def _m007() -> str:
    return """
    -- A level belongs to the text it was judged on: SHA-256 of that text (as in
    -- piece_texts.text) and its length in words. When the piece's text changes later (a
    -- correction, an added page) the level is reported stale until scored again. Rows
    -- from before this migration have NULL here and are judged by transcription_version.
    ALTER TABLE scores ADD COLUMN text_sha256 TEXT;
    ALTER TABLE scores ADD COLUMN words INTEGER;
    """


@migration(8, "page images: the scanner's bytes as master, turning recorded as data")
def _m008() -> str:
    return """
    -- The stored page image is now the master as the scanner made it (a JPEG's own bytes,
    -- a PDF page's embedded image stream), not an upright re-encoded copy. How to show it
    -- is data: image_turn degrees clockwise (after the image's own EXIF orientation) make
    -- the upright page the boxes, width and height refer to. Older pages were stored
    -- upright already, so 0 is right for them.
    ALTER TABLE pages ADD COLUMN image_turn INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE pages ADD COLUMN image_origin TEXT;
    UPDATE pages SET image_origin = 'upright-png' WHERE image_path IS NOT NULL;
    -- Turning a page no longer rewrites its image, so its checksum stays valid: only a new
    -- image file clears it.
    DROP TRIGGER IF EXISTS pages_hash_turned;
    CREATE TRIGGER pages_hash_replaced AFTER UPDATE OF image_path ON pages
        WHEN NEW.image_path IS NOT OLD.image_path BEGIN
        UPDATE pages SET image_sha256 = NULL WHERE id = NEW.id;
    END;
    """


@migration(9, "recognition model versions")
def _m009() -> str:
    return """
    -- Line recognisers fine-tuned on this school's corrected lines (scanflow model train).
    -- The ONNX file lives in the archive's models/ folder. Which version reads new pages is
    -- the setting 'rec_model' (a row id here; absent = the stock model of the rapidocr
    -- wheel). Counts only: no pupil ids or text, so erasure has nothing to find here.
    CREATE TABLE models (
        id INTEGER PRIMARY KEY,
        file TEXT NOT NULL UNIQUE,
        sha256 TEXT NOT NULL,
        engine TEXT NOT NULL,
        base_model TEXT NOT NULL,
        base_id INTEGER REFERENCES models(id),
        created_at TEXT NOT NULL,
        created_by TEXT,
        status TEXT NOT NULL CHECK (status IN ('better', 'not_better', 'retired')),
        train_lines INTEGER NOT NULL,
        heldout_lines INTEGER NOT NULL,
        extra_lines INTEGER NOT NULL DEFAULT 0,
        pupils INTEGER,
        cer_before REAL,
        cer_after REAL,
        train_seconds REAL,
        settings TEXT,
        data TEXT,
        replaced INTEGER REFERENCES models(id),
        activated_at TEXT
    );
    """


@migration(11, "ingest runs: which process; speed at 25,000 pieces")
def _m011() -> str:
    return """
    -- The process running a batch, so the next ingest can tell a batch still running from
    -- one that was killed (status stays 'running' for ever otherwise).
    ALTER TABLE batches ADD COLUMN pid INTEGER;
    ALTER TABLE batches ADD COLUMN host TEXT;
    -- Every class grid and filtered search loads the school's placements in this order;
    -- with the columns in the index it is read from the index alone, already sorted
    -- (10 ms -> 2 ms at 700 pupils over six years).
    CREATE INDEX idx_pupil_history_placement
        ON pupil_history(pupil_id, changed_at, id, class_name, year_group);
    """


@migration(12, "which pupils each recogniser version learnt from")
def _m012() -> str:
    return """
    -- The pupils whose corrected lines a version was trained on (not the held-back ones,
    -- which only judged it). Erasing a pupil deletes every version that learnt from their
    -- handwriting, and the versions trained on top of those; these rows go with the pupil.
    CREATE TABLE model_pupils (
        model_id INTEGER NOT NULL REFERENCES models(id),
        pupil_id TEXT NOT NULL REFERENCES pupils(pupil_id),
        PRIMARY KEY (model_id, pupil_id)
    );
    -- 0 for versions trained before this table: who they learnt from was not recorded.
    ALTER TABLE models ADD COLUMN pupils_recorded INTEGER NOT NULL DEFAULT 0;
    -- When a version was deleted because a pupil it learnt from was erased.
    ALTER TABLE models ADD COLUMN erased_at TEXT;
    """
