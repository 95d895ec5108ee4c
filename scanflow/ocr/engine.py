"""The OCR engine interface and the registry of engines.

An engine turns one prepared page image into a :class:`~scanflow.ocr.model.Recognition`.
Engines are looked up by name (``tesseract``, ``rapidocr``...) so a school can choose one
per archive or per run. An engine must never download anything at run time: a missing
package or model is reported with :class:`~scanflow.errors.EngineUnavailable`.
"""

from __future__ import annotations

import abc
from typing import Callable

import numpy as np

from scanflow.ocr.model import Recognition


class OcrEngine(abc.ABC):
    """Base class for recognisers.

    ``threads`` caps the engine's own parallelism so that workers x threads <= cores.
    """

    name: str = "abstract"

    def __init__(self, threads: int = 1, **options):
        self.threads = max(1, int(threads))
        self.options = options

    @abc.abstractmethod
    def version(self) -> str:
        """Engine version string, recorded with every page it reads."""

    @abc.abstractmethod
    def model(self) -> str:
        """Model identifier (language pack, model file names), recorded per page."""

    def warm_up(self) -> None:
        """Load whatever the engine loads on first use (models, sessions), so that a
        worker is ready before its first page. Engines that load nothing need not care."""

    @abc.abstractmethod
    def recognise(self, image: np.ndarray, *, grey: np.ndarray | None = None) -> Recognition:
        """Read a page.

        ``image`` is the engine-ready OCR image (8-bit, one channel, black ink on white).
        ``grey`` is the same page before binarisation, same geometry, for engines that
        prefer continuous tone. Boxes are in that image's coordinates; the pipeline maps
        them back to the faithful page.
        """


_REGISTRY: dict[str, Callable[..., OcrEngine]] = {}


def register(name: str):
    """Class decorator adding an engine to the registry under ``name``."""

    def deco(cls):
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def available_engines() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def get_engine(name: str, threads: int = 1, **options) -> OcrEngine:
    """Instantiate the engine called ``name``.

    >>> get_engine("tesseract").name
    'tesseract'
    """
    from scanflow.errors import UsageError

    _load_builtin()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UsageError(
            f"Unknown OCR engine '{name}'.",
            hint=f"Choose one of: {', '.join(sorted(_REGISTRY))}.",
        ) from None
    return factory(threads=threads, **options)


def _load_builtin() -> None:
    # Imported lazily so that a missing optional engine package only matters when chosen.
    import importlib

    for module in ("scanflow.ocr.tesseract", "scanflow.ocr.rapid"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("scanflow"):
                continue
            raise
