"""docs/schema.md describes every table and column; the database needs nothing of scanflow
to be read (Datasette, the sqlite3 shell)."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from archive_helpers import make_school

DOC = Path(__file__).resolve().parent.parent / "docs" / "schema.md"


def documented() -> dict[str, set[str]]:
    tables: dict[str, set[str]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"### (\w+)$", line):
            current = tables.setdefault(m[1], set())
        elif current is not None and (m := re.match(r"\| `(\w+)` \|", line)):
            current.add(m[1])
    return tables


def test_every_table_and_column_is_documented(archive):
    docs = documented()
    fts_internal = re.findall(r"`(piece_texts_fts_\w+)`", DOC.read_text(encoding="utf-8"))
    missing = []
    for (table,) in archive.db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                       "AND name NOT LIKE 'sqlite_%' ORDER BY name"):
        if table in fts_internal:
            continue
        if table not in docs:
            missing.append(f"table {table}")
            continue
        for row in archive.db.execute(f'PRAGMA table_info("{table}")'):
            if row[1] not in docs[table]:
                missing.append(f"{table}.{row[1]}")
    assert missing == [], "add these to docs/schema.md: " + ", ".join(missing)


def test_read_only_tools_can_query_everything(archive, tmp_path):
    make_school(archive, tmp_path)
    db = archive.path / "scanflow.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT pieces.id, snippet(piece_texts_fts, 0, '[', ']', '…', 12) FROM "
            "piece_texts_fts JOIN pieces ON pieces.id = piece_texts_fts.rowid "
            "WHERE piece_texts_fts MATCH 'dragon' ORDER BY rank").fetchall()
        assert sorted(r[0] for r in rows) == [1, 4]
        levels = conn.execute(
            "SELECT pieces.pupil_id, scores.criterion_id, scores.level FROM scores JOIN pieces "
            "ON pieces.id = scores.piece_id WHERE scores.id IN (SELECT MAX(id) FROM scores "
            "GROUP BY piece_id, criterion_id) ORDER BY scores.id").fetchall()
        assert levels[0] == ("A100000000001", "spelling", 2)
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("DELETE FROM events")  # read-only really is read-only
    finally:
        conn.close()
    if shutil.which("sqlite3") is None:
        pytest.skip("no sqlite3 shell on this machine (Debian package sqlite3)")
    shell = subprocess.run(["sqlite3", "-readonly", str(db),
                            "SELECT count(*) FROM piece_texts_fts WHERE piece_texts_fts "
                            "MATCH 'castle';"], capture_output=True, text=True)
    assert shell.stdout.strip() == "3", shell.stderr
