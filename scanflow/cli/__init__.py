"""The ``scanflow`` command: a thin click layer over the importable API.

Each command parses options, calls one library function, and prints its result. Known
errors (:class:`scanflow.errors.ScanflowError`) become one line on stderr and an exit code;
a traceback appears only with ``scanflow --debug``. Results go to stdout, progress and
logs to stderr.

One module per command group, each a thin click layer: ``archive`` (init, status,
search, backup, restore, check), ``pupils`` (roster, genre, pupil, purge), ``intake``
(ingest, sheets, engine), ``pieces``, ``review`` (serve, user), ``scoring`` (score,
rubric), ``exports`` (export, grid), ``evaluation`` (eval, accuracy, debug-page) and ``model``
(train, list, use, rollback).
Importing them registers their commands on :data:`cli`.
"""

from __future__ import annotations

from scanflow.cli import (  # noqa: F401
    archive,
    evaluation,
    exports,
    intake,
    model,
    pieces,
    pupils,
    review,
    scoring,
)
from scanflow.cli.base import cli

__all__ = ["cli", "main"]


def main():
    cli(obj={})
