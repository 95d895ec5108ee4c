"""Progress reporting as an interface, with a silent implementation.

Progress never writes to stdout (that is for results) and stays quiet when stderr is not
a terminal, so logs and CI output are not filled with bar redraws.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def start(self, total: int, description: str) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def finish(self) -> None: ...


class NullProgress:
    def start(self, total: int, description: str) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


class TerminalProgress:
    """A one-line bar on stderr: ``Reading pages  12/40 [=====     ] 0:31 left``."""

    def __init__(self, stream: TextIO | None = None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self.total = 0
        self.done = 0
        self.description = ""
        self.started = 0.0

    def start(self, total: int, description: str) -> None:
        self.total, self.done, self.description = total, 0, description
        self.started = time.monotonic()
        self._draw()

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._draw()

    def finish(self) -> None:
        if self.total:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        if not self.total:
            return
        frac = min(1.0, self.done / self.total)
        filled = int(frac * self.width)
        bar = "=" * filled + " " * (self.width - filled)
        eta = ""
        if self.done:
            left = (time.monotonic() - self.started) / self.done * (self.total - self.done)
            eta = f" {int(left // 60)}:{int(left % 60):02d} left"
        self.stream.write(f"\r{self.description} {self.done}/{self.total} [{bar}]{eta}  ")
        self.stream.flush()


def progress_for(quiet: bool = False, stream: TextIO | None = None) -> Progress:
    stream = stream or sys.stderr
    if quiet or not getattr(stream, "isatty", lambda: False)():
        return NullProgress()
    return TerminalProgress(stream)
