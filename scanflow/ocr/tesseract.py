"""Tesseract, through pytesseract, as one :class:`~scanflow.ocr.engine.OcrEngine`.

Dictionary correction is switched off (``load_system_dawg=0``, ``load_freq_dawg=0``):
a child's "becaus" must reach the teacher as "becaus", because spelling is assessed.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess

import numpy as np

from scanflow.errors import EngineUnavailable
from scanflow.ocr.engine import OcrEngine, register
from scanflow.ocr.model import Box, Line, Recognition, Word

INSTALL_HINT = (
    "Install it with: sudo apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd "
    "(or run: bash setup.sh)."
)

# Settings that keep children's spelling: no word lists steer the recogniser.
NO_DICTIONARY = {"load_system_dawg": "0", "load_freq_dawg": "0"}


def _require_binary() -> str:
    path = shutil.which("tesseract")
    if not path:
        raise EngineUnavailable("Tesseract is not installed.", hint=INSTALL_HINT)
    return path


@functools.lru_cache(maxsize=1)
def tesseract_version() -> str:
    _require_binary()
    import pytesseract

    return str(pytesseract.get_tesseract_version())


@functools.lru_cache(maxsize=1)
def tessdata_dir() -> str:
    out = subprocess.run([_require_binary(), "--list-langs"], capture_output=True, text=True)
    match = re.search(r'"(.+?)"', out.stdout + out.stderr)
    return match.group(1) if match else ""


def _env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    # Tesseract's OpenMP threads multiply with our worker processes; cap them.
    env["OMP_THREAD_LIMIT"] = str(threads)
    return env


@register("tesseract")
class TesseractEngine(OcrEngine):
    """Options: ``lang`` (default ``eng``), ``psm`` (page segmentation mode, default 4:
    a single column of text of variable sizes, which suits a page of handwriting)."""

    def __init__(self, threads: int = 1, lang: str = "eng", psm: int = 4, **options):
        super().__init__(threads=threads, **options)
        _require_binary()
        self.lang = lang
        self.psm = int(psm)

    def version(self) -> str:
        return tesseract_version()

    def model(self) -> str:
        return f"{self.lang} ({os.path.join(tessdata_dir(), self.lang + '.traineddata')})"

    @property
    def settings(self) -> dict:
        return {"psm": self.psm, "oem": 1, "lang": self.lang, **NO_DICTIONARY}

    def _config(self) -> str:
        flags = " ".join(f"-c {k}={v}" for k, v in NO_DICTIONARY.items())
        return f"--psm {self.psm} --oem 1 {flags}"

    def recognise(self, image: np.ndarray, *, grey: np.ndarray | None = None) -> Recognition:
        import pytesseract

        os.environ["OMP_THREAD_LIMIT"] = str(self.threads)
        if image.ndim == 2 and set(np.unique(image[::8, ::8])) <= {0, 255}:
            # pytesseract hands the image over as a PNG file: a 1-bit one encodes ~10x
            # faster than 8-bit, and Tesseract would binarise it to the same pixels.
            from PIL import Image

            image = Image.fromarray(image).convert("1")
        try:
            data = pytesseract.image_to_data(
                image, lang=self.lang, config=self._config(),
                output_type=pytesseract.Output.DICT,
            )
        except pytesseract.TesseractNotFoundError:
            raise EngineUnavailable("Tesseract is not installed.", hint=INSTALL_HINT) from None
        lines = group_tesseract_words(data)
        return Recognition(lines=lines, engine=self.name, engine_version=self.version(),
                           model=self.model(), settings=self.settings)


def group_tesseract_words(data: dict) -> list[Line]:
    """Turn ``image_to_data`` rows into lines of words, in Tesseract's reading order."""
    groups: dict[tuple[int, int, int, int], list[Word]] = {}
    for i, text in enumerate(data["text"]):
        text = (text or "").strip()
        conf = float(data["conf"][i])
        if not text or conf < 0:
            continue
        key = (data["page_num"][i], data["block_num"][i], data["par_num"][i], data["line_num"][i])
        box = Box(int(data["left"][i]), int(data["top"][i]),
                  int(data["width"][i]), int(data["height"][i]))
        groups.setdefault(key, []).append(Word(text=text, box=box, confidence=conf))
    lines = []
    for key in sorted(groups):
        words = groups[key]
        lines.append(Line(
            text=" ".join(w.text for w in words),
            box=Box.union([w.box for w in words]),
            confidence=sum(w.confidence for w in words) / len(words),
            words=words,
        ))
    return lines
