"""The archive's recogniser versions: fine-tuned ONNX files in ``models/`` and their rows.

Input: a trained ONNX file and what it was trained on (counts, settings, CER before and
after on held-back lines). Output: a numbered version, and which version reads new pages
(:func:`active_model`, used by ingest and re-reading). Called by
:mod:`scanflow.training.school` (registering), ``scanflow model`` (list, use, rollback)
and the readers (``engine_options``).

The stock recogniser (the one inside the rapidocr wheel) is version ``stock``; it needs
no row. The ``rec_model`` setting names the active row; without it the stock one reads.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from scanflow.archive.store import Archive, now
from scanflow.errors import ArchiveError, UsageError

MODELS = "models"
SETTING = "rec_model"
STOCK = "stock"


@dataclass
class ModelVersion:
    id: int
    file: str
    sha256: str
    engine: str
    base_model: str
    base_id: int | None
    created_at: str
    created_by: str | None
    status: str
    train_lines: int
    heldout_lines: int
    extra_lines: int
    pupils: int | None
    cer_before: float | None
    cer_after: float | None
    train_seconds: float | None
    settings: dict
    data: dict
    replaced: int | None
    activated_at: str | None
    active: bool = False

    @property
    def name(self) -> str:
        return f"v{self.id}"


def models_dir(archive: Archive) -> Path:
    return archive.path / MODELS


def model_path(archive: Archive, version: ModelVersion) -> Path:
    path = models_dir(archive) / version.file
    if not path.is_file():
        raise ArchiveError(f"Model {version.name}'s file {path} is missing.",
                           hint="Restore the archive's models/ folder from a backup, or "
                                "go back to the stock model: scanflow model use stock")
    return path


def _row(archive: Archive, row: tuple, active: int | None) -> ModelVersion:
    cols = [d[0] for d in archive.db.execute("SELECT * FROM models LIMIT 0").description]
    data = dict(zip(cols, row))
    data["settings"] = json.loads(data["settings"] or "{}")
    data["data"] = json.loads(data["data"] or "{}")
    return ModelVersion(**data, active=data["id"] == active)


def active_id(archive: Archive) -> int | None:
    value = archive.setting(SETTING)
    return int(value) if value else None


def list_models(archive: Archive) -> list[ModelVersion]:
    """Every version, oldest first."""
    active = active_id(archive)
    return [_row(archive, r, active)
            for r in archive.db.execute("SELECT * FROM models ORDER BY id").fetchall()]


def get_model(archive: Archive, which: str | int) -> ModelVersion | None:
    """A version by number (``3`` or ``v3``); ``stock`` gives None."""
    text = str(which).strip().lower()
    if text == STOCK:
        return None
    try:
        number = int(text[1:] if text.startswith("v") else text)
    except ValueError:
        raise UsageError(f"'{which}' is not a model version.",
                         hint="Give a number from scanflow model list (e.g. 3 or v3), "
                              "or 'stock'.") from None
    row = archive.db.execute("SELECT * FROM models WHERE id = ?", [number]).fetchone()
    if row is None:
        raise UsageError(f"The archive has no model version {number}.",
                         hint="See the versions with: scanflow model list")
    return _row(archive, row, active_id(archive))


def active_model(archive: Archive) -> ModelVersion | None:
    """The version that reads new pages (None: the stock model)."""
    number = active_id(archive)
    return get_model(archive, number) if number else None


def engine_options(archive: Archive, engine_name: str) -> dict:
    """Options for ``get_engine(engine_name, ...)`` so it reads with the active version."""
    version = active_model(archive)
    if version is None or engine_name != version.engine:
        return {}
    return {"rec_model": str(model_path(archive, version))}


def next_file_name(archive: Archive) -> str:
    row = archive.db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM models").fetchone()
    return f"rec-v{row[0]}.onnx"


def register_model(archive: Archive, onnx_file: Path, *, engine: str, base_model: str,
                   base_id: int | None, status: str, train_lines: int, heldout_lines: int,
                   extra_lines: int = 0, pupils: int | None = None,
                   cer_before: float | None = None, cer_after: float | None = None,
                   train_seconds: float | None = None, settings: dict | None = None,
                   data: dict | None = None, actor: str | None = None) -> ModelVersion:
    """Copy ``onnx_file`` into ``models/`` as the next version and record it."""
    folder = models_dir(archive)
    folder.mkdir(exist_ok=True)
    name = next_file_name(archive)
    target = folder / name
    tmp = target.with_name(name + ".part")
    shutil.copyfile(onnx_file, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    tmp.replace(target)
    with archive.transaction() as db:
        db["models"].insert({
            "file": name, "sha256": digest, "engine": engine, "base_model": base_model,
            "base_id": base_id, "created_at": now(), "created_by": actor, "status": status,
            "train_lines": train_lines, "heldout_lines": heldout_lines,
            "extra_lines": extra_lines, "pupils": pupils, "cer_before": cer_before,
            "cer_after": cer_after, "train_seconds": train_seconds,
            "settings": json.dumps(settings or {}, sort_keys=True),
            "data": json.dumps(data or {}, sort_keys=True),
        })
        number = db.execute("SELECT last_insert_rowid()").fetchone()[0]
        archive.log_event("model.trained", f"model:{number}", actor=actor, status=status,
                          cer_before=cer_before, cer_after=cer_after)
    return get_model(archive, number)


def use_model(archive: Archive, which: str | int, *, actor: str | None = None) -> ModelVersion | None:
    """Make a version (or ``stock``) read new pages from now on."""
    version = get_model(archive, which)
    if version is not None:
        model_path(archive, version)  # refuse a version whose file is gone
    current = active_id(archive)
    with archive.transaction() as db:
        if version is None:
            db.execute("DELETE FROM settings WHERE key = ?", [SETTING])
        else:
            db["settings"].upsert({"key": SETTING, "value": str(version.id)}, pk="key")
            if version.id != current:
                db.execute("UPDATE models SET replaced = ?, activated_at = ? WHERE id = ?",
                           [current, now(), version.id])
        archive.log_event("model.use", f"model:{version.id if version else STOCK}",
                          actor=actor, previous=current)
    return get_model(archive, version.id) if version else None


def rollback(archive: Archive, *, actor: str | None = None) -> tuple[ModelVersion, ModelVersion | None]:
    """Retire the active version and go back to the one it replaced (or stock).

    Returns (retired, now active)."""
    current = active_model(archive)
    if current is None:
        raise UsageError("The stock model is already in use; there is nothing to roll back.",
                         hint="See the versions with: scanflow model list")
    previous = current.replaced
    if previous is not None:
        row = archive.db.execute("SELECT status, file FROM models WHERE id = ?",
                                 [previous]).fetchone()
        # A retired or missing predecessor cannot come back: fall back to stock.
        if row is None or row[0] == "retired" or not (models_dir(archive) / row[1]).is_file():
            previous = None
    with archive.transaction() as db:
        db.execute("UPDATE models SET status = 'retired' WHERE id = ?", [current.id])
        if previous is None:
            db.execute("DELETE FROM settings WHERE key = ?", [SETTING])
        else:
            db["settings"].upsert({"key": SETTING, "value": str(previous)}, pk="key")
        archive.log_event("model.rollback", f"model:{current.id}", actor=actor,
                          now_active=previous or STOCK)
    return get_model(archive, current.id), active_model(archive)
