"""The archive's recogniser versions: fine-tuned ONNX files in ``models/`` and their rows.

Input: a trained ONNX file and what it was trained on (counts, settings, CER before and
after on held-back lines). Output: a numbered version, and which version reads new pages
(:func:`active_model`, used by ingest and re-reading). Called by
:mod:`scanflow.training.school` (registering), ``scanflow model`` (list, use, rollback)
and the readers (``engine_options``).

The stock recogniser (the one inside the rapidocr wheel) is version ``stock``; it needs
no row. The ``rec_model`` setting names the active row; without it the stock one reads.

A version's weights hold what it learnt from the pupils whose lines it was trained on
(``model_pupils``). Erasing a pupil deletes those versions and every version trained on top
of them (:func:`learnt_from`, :func:`delete_learnt`): the row stays, with counts only.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from scanflow.archive.pieces import REVIEWED
from scanflow.archive.store import Archive, now
from scanflow.errors import ArchiveError, UsageError

MODELS = "models"
WORK = "work"  # an unfinished training run's checkpoint (models/work)
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
    pupils_recorded: int = 0  # 0: trained before scanflow kept who it learnt from
    erased_at: str | None = None  # deleted with a pupil it learnt from
    active: bool = False

    @property
    def name(self) -> str:
        return f"v{self.id}"

    @property
    def state(self) -> str:
        """The status as a person reads it: better, not better, retired or erased."""
        return "erased" if self.erased_at else self.status.replace("_", " ")


def models_dir(archive: Archive) -> Path:
    return archive.path / MODELS


def model_path(archive: Archive, version: ModelVersion) -> Path:
    if version.erased_at:
        raise UsageError(f"Model {version.name} was deleted on {version.erased_at[:10]}: it had "
                         "learnt from the handwriting of a pupil who has been erased.",
                         hint="Train a new version on the archive as it is now: scanflow model "
                              "train (or read with the stock model: scanflow model use stock)")
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
                   data: dict | None = None, learnt_from: Sequence[str] | None = None,
                   actor: str | None = None) -> ModelVersion:
    """Copy ``onnx_file`` into ``models/`` as the next version and record it.

    ``learnt_from``: the pupils whose lines it was trained on (None: not known, so erasing
    any pupil with a reviewed piece deletes it)."""
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
            "pupils_recorded": int(learnt_from is not None),
        })
        number = db.execute("SELECT last_insert_rowid()").fetchone()[0]
        db["model_pupils"].insert_all(
            [{"model_id": number, "pupil_id": pid} for pid in sorted(set(learnt_from or []))])
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
    """Retire the active version and go back to the one it replaced (if that one cannot
    read any more, retired, erased or its file gone, the one before it; or stock).

    Returns (retired, now active)."""
    current = active_model(archive)
    if current is None:
        raise UsageError("The stock model is already in use; there is nothing to roll back.",
                         hint="See the versions with: scanflow model list")
    previous = _usable_before(archive, current, exclude={current.id})
    with archive.transaction() as db:
        db.execute("UPDATE models SET status = 'retired' WHERE id = ?", [current.id])
        if previous is None:
            db.execute("DELETE FROM settings WHERE key = ?", [SETTING])
        else:
            db["settings"].upsert({"key": SETTING, "value": str(previous)}, pk="key")
        archive.log_event("model.rollback", f"model:{current.id}", actor=actor,
                          now_active=previous or STOCK)
    return get_model(archive, current.id), active_model(archive)


def _usable_before(archive: Archive, version: ModelVersion, exclude: set[int]) -> int | None:
    """The newest version ``version`` replaced, directly or further back, that can read
    again (not retired, erased or in ``exclude``, its file present); None: stock."""
    seen = set(exclude)
    number = version.replaced
    while number is not None and number not in seen:
        seen.add(number)
        row = archive.db.execute("SELECT status, file, erased_at, replaced FROM models "
                                 "WHERE id = ?", [number]).fetchone()
        if row is None:
            return None
        status, file, erased_at, replaced = row
        if status != "retired" and not erased_at and (models_dir(archive) / file).is_file():
            return number
        number = replaced
    return None


def learnt_from(archive: Archive, pupil_ids: Sequence[str]) -> list[ModelVersion]:
    """The versions (not yet erased) whose weights learnt from these pupils' handwriting:
    trained on their lines, or trained on top of a version that was. A version from before
    scanflow recorded its pupils counts if any of them has a reviewed piece.

    >>> [v.name for v in learnt_from(archive, ["A100000000001"])]  # doctest: +SKIP
    ['v2', 'v4']
    """
    db = archive.db
    ids = json.dumps(sorted(set(pupil_ids)))
    learnt = {r[0] for r in db.execute(
        "SELECT model_id FROM model_pupils WHERE pupil_id IN (SELECT value FROM json_each(?))",
        [ids])}
    if db.execute("SELECT 1 FROM pieces WHERE status = ? AND pupil_id IN "
                  "(SELECT value FROM json_each(?)) LIMIT 1", [REVIEWED, ids]).fetchone():
        learnt |= {r[0] for r in db.execute("SELECT id FROM models WHERE pupils_recorded = 0")}
    # A version's base is always an older version, so one pass in order finds them all.
    for number, base in db.execute("SELECT id, base_id FROM models ORDER BY id").fetchall():
        if base in learnt:
            learnt.add(number)
    return [v for v in list_models(archive) if v.id in learnt and not v.erased_at]


def delete_learnt(archive: Archive, versions: Sequence[ModelVersion], *,
                  actor: str | None = None) -> ModelVersion | None:
    """Mark ``versions`` erased (the rows keep their counts) and, if one of them reads new
    pages, go back to the newest version it replaced that did not learn from the pupil
    (or stock). Returns the version that reads new pages afterwards. The files are removed
    by :func:`remove_erased_files` once the erasure is committed."""
    doomed = {v.id for v in versions}
    current = active_model(archive)
    with archive.transaction() as db:
        for version in versions:
            db.execute("UPDATE models SET status = 'retired', erased_at = ? WHERE id = ?",
                       [now(), version.id])
            archive.log_event("model.erased", f"model:{version.id}", actor=actor,
                              reason="learnt from an erased pupil")
        if current is not None and current.id in doomed:
            previous = _usable_before(archive, current, exclude=doomed)
            if previous is None:
                db.execute("DELETE FROM settings WHERE key = ?", [SETTING])
            else:
                db["settings"].upsert({"key": SETTING, "value": str(previous)}, pk="key")
    return active_model(archive)


def remove_erased_files(archive: Archive) -> int:
    """Delete the files of erased versions, and the checkpoint of an unfinished training
    run (it may have learnt from the erased pupil; the next run starts afresh). Returns the
    number of model files deleted."""
    removed = 0
    for version in list_models(archive):
        path = models_dir(archive) / version.file
        if version.erased_at and path.is_file():
            path.unlink()
            removed += 1
    shutil.rmtree(models_dir(archive) / WORK, ignore_errors=True)
    return removed
