import sqlite3

import pytest

from scanflow.archive import migrations
from scanflow.archive.store import init_archive, open_archive
from scanflow.errors import ArchiveError


def test_init_creates_db_and_store_and_is_repeatable(tmp_path):
    a = init_archive(tmp_path / "a")
    assert (tmp_path / "a" / "scanflow.db").is_file()
    assert (tmp_path / "a" / "images").is_dir()
    assert a.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert a.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert migrations.current_version(a.db) == migrations.latest_version()
    a.db["settings"].insert({"key": "engine", "value": "tesseract"})
    a.close()
    b = init_archive(tmp_path / "a")  # second run keeps data
    assert b.setting("engine") == "tesseract"
    b.close()


def test_open_missing_archive_says_how_to_create(tmp_path):
    with pytest.raises(ArchiveError) as err:
        open_archive(tmp_path / "nowhere")
    assert "scanflow init" in str(err.value)


def test_archive_from_newer_version_is_refused(tmp_path):
    init_archive(tmp_path / "a").close()
    conn = sqlite3.connect(tmp_path / "a" / "scanflow.db")
    conn.execute(f"PRAGMA user_version = {migrations.latest_version() + 1}")
    conn.close()
    with pytest.raises(ArchiveError) as err:
        open_archive(tmp_path / "a")
    assert "newer scanflow" in str(err.value)


def test_transaction_rolls_back_everything(tmp_path):
    a = init_archive(tmp_path / "a")
    with pytest.raises(RuntimeError):
        with a.transaction() as db:
            db["settings"].insert({"key": "x", "value": "1"})
            raise RuntimeError("boom")
    assert a.setting("x") is None


def test_image_paths_cannot_escape_the_store(tmp_path):
    a = init_archive(tmp_path / "a")
    with pytest.raises(ArchiveError):
        a.image("../scanflow.db")
    assert a.image("ab/c.png").name == "c.png"
