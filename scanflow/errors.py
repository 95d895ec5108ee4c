"""Every error a user can meet, each with an exit code and a sentence saying what to do.

Modelled on OCRmyPDF's ``exceptions.py``: the CLI prints ``message`` and ``hint`` on one or
two lines and exits with ``exit_code``; a traceback appears only with ``--debug``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    ok = 0
    other_error = 1
    bad_args = 2
    input_file = 3
    missing_dependency = 4
    archive = 5
    partial = 6  # the batch ran but some pages or files failed
    ctrl_c = 130


class ScanflowError(Exception):
    exit_code = ExitCode.other_error

    def __init__(self, message: str, hint: str = "", *, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.path = path

    def __str__(self) -> str:
        prefix = f"{self.path}: " if self.path else ""
        text = prefix + self.message
        if self.hint:
            text += " " + self.hint
        return text


class UsageError(ScanflowError):
    exit_code = ExitCode.bad_args


class InputFileError(ScanflowError):
    """A scan that cannot be read: missing, empty, encrypted, truncated, too large..."""

    exit_code = ExitCode.input_file


class EngineUnavailable(ScanflowError):
    exit_code = ExitCode.missing_dependency


class MissingDependency(ScanflowError):
    exit_code = ExitCode.missing_dependency


class ArchiveError(ScanflowError):
    exit_code = ExitCode.archive


class UnknownPupil(UsageError):
    pass
