"""An OCR engine that reads every page as one line at once, for tests of what happens
around reading (watching a folder, the CLI's summaries and exit codes).

``FAKE_ENGINE`` is source text, so that a test can run it in a child process too.
"""

import pytest

from scanflow.ocr import engine as engine_mod

FAKE_ENGINE = '''
from scanflow.ocr import engine as engine_mod
from scanflow.ocr.model import Box, Line, Recognition, Word
import time


class FakeEngine(engine_mod.OcrEngine):
    """Reads every page as one line, at once (or after DELAY seconds)."""

    DELAY = 0.0

    @staticmethod
    def orientation(grey):
        return 0, 0.0

    def version(self):
        return "0"

    def model(self):
        return "fake"

    def recognise(self, image, *, grey=None):
        time.sleep(self.DELAY)
        box = Box(10, 10, 100, 20)
        return Recognition([Line("ther was a dragon", box, 90.0,
                                 [Word("ther", box, 90.0)])], "fake", "0", "fake")
'''
_namespace: dict = {}
exec(FAKE_ENGINE, _namespace)
FakeEngine = _namespace["FakeEngine"]


@pytest.fixture
def fake_engine(monkeypatch):
    """The engine ``fake``, registered for one test."""
    monkeypatch.setitem(engine_mod._REGISTRY, "fake", FakeEngine)
    FakeEngine.name = "fake"
    return FakeEngine
