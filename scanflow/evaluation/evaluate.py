"""Measure an OCR engine and preprocessing settings against ground truth.

A data folder holds pairs ``<stem>.<jpg|png|tif>`` + ``<stem>.gt.txt`` (a line image or a
whole page, and its transcription). Each image goes through the same
:func:`scanflow.ocr.reader.read_page` as real scans, and the text read is compared with
the transcription (:mod:`scanflow.evaluation.metrics`). Rates are corpus-level: total edits / total
reference characters (or words), with whitespace collapsed.

>>> report = evaluate("eval/hooker_lines", "rapidocr", limit=50)  # doctest: +SKIP
>>> round(report.cer, 3)  # doctest: +SKIP
0.48
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from scanflow.errors import UsageError
from scanflow.evaluation.metrics import Corpus
from scanflow.evaluation.marks import UNSURE_BELOW, MarkCounts, mark_quality, marks_dictionary
from scanflow.ocr.preprocess import PreprocessSettings

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
DEFAULT_DPI = 300.0
GT_SUFFIX = ".gt.txt"
# Ground truth of one page of a scan: <scan stem>.p<N>.gt.txt (as in scans_sample/truth/).
PAGE_GT = re.compile(r"^(?P<scan>.+)\.p(?P<page>[1-9][0-9]*)$")


@dataclass(frozen=True)
class ScanPage:
    """Page ``page`` (1-based) of a scan file (PDF or image), read as ingest renders it."""

    path: Path
    page: int


@dataclass
class ImageResult:
    stem: str
    cer: float
    wer: float
    ref_chars: int
    char_edits: int
    seconds: float
    cpu_seconds: float
    reference: str
    hypothesis: str
    error: str | None = None
    marks: dict[str, Any] = field(default_factory=dict)  # scanflow.evaluation.marks.MarkCounts


@dataclass
class EvalReport:
    data_dir: str
    engine: str
    engine_version: str
    model: str
    preprocess: dict[str, Any]
    engine_options: dict[str, Any]
    images: int
    cer: float
    wer: float
    cer_ignore_case: float
    wer_ignore_case: float
    cer_ignore_case_punct: float
    wer_ignore_case_punct: float
    ref_chars: int
    ref_words: int
    seconds_per_image: float
    cpu_seconds_per_image: float
    wall_seconds: float
    jobs: int
    worst: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    # words marked unsure for review: recall of the wrong words, share of all words
    marks: dict[str, Any] = field(default_factory=dict)
    results: list[ImageResult] = field(default_factory=list, repr=False)

    def to_dict(self, per_image: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if per_image:
            data["results"] = [asdict(r) for r in self.results]
        else:
            data.pop("results")
        return data

    def format(self) -> str:
        """Human-readable summary."""
        pct = lambda v: f"{100 * v:6.2f} %"  # noqa: E731
        lines = [
            f"{self.images} images from {self.data_dir}",
            f"engine {self.engine} {self.engine_version} ({self.model})",
            f"options {self.engine_options or '-'}; preprocess "
            + ", ".join(f"{k}={v}" for k, v in self.preprocess.items()),
            "",
            "                          CER       WER",
            f"  exact               {pct(self.cer)}  {pct(self.wer)}",
            f"  ignoring case       {pct(self.cer_ignore_case)}  {pct(self.wer_ignore_case)}",
            f"  ignoring case+punct {pct(self.cer_ignore_case_punct)}  "
            f"{pct(self.wer_ignore_case_punct)}",
            "",
            f"{self.ref_chars} reference characters, {self.ref_words} words; "
            f"{self.seconds_per_image:.2f} s per image ({self.wall_seconds:.1f} s wall, "
            f"{self.jobs} job{'s' if self.jobs != 1 else ''}; "
            f"{self.cpu_seconds_per_image:.2f} CPU s per image)",
        ]
        if self.marks.get("words"):
            m = self.marks
            lines.append(f"marked (not in the dictionary, or unsure below {m['threshold']:g}): "
                         f"{m['wrong_marked']} of {m['wrong']} wrong words "
                         f"({pct(m['recall_of_wrong_words'] or 0).strip()}), "
                         f"{m['marked']} of {m['words']} words "
                         f"({pct(m['share_of_words_marked']).strip()})")
        if self.worst:
            lines += ["", "worst images (CER):"]
            for w in self.worst:
                lines.append(f"  {100 * w['cer']:6.1f} %  {w['stem']}")
                lines.append(f"      ref: {w['reference'][:90]}")
                lines.append(f"      got: {w['hypothesis'][:90]}")
        if self.errors:
            lines += ["", f"{len(self.errors)} images could not be read:"]
            lines += [f"  {e['stem']}: {e['error']}" for e in self.errors]
        return "\n".join(lines)


def find_pairs(data_dir: str | os.PathLike) -> list[tuple[str, Path | ScanPage, Path]]:
    """``(stem, image, ground truth)`` for every image with a ``.gt.txt``, sorted by stem.

    A ``<scan>.p<N>.gt.txt`` with no image of its own name is page N of the scan
    ``<scan>.pdf`` (or an image) in the same folder or the one above, so a folder of
    truths beside the scans (``scans_sample/truth/``) evaluates as it is.
    """
    folder = Path(data_dir)
    if not folder.exists():
        raise UsageError(f"Evaluation folder not found: {folder}")
    if not folder.is_dir():
        raise UsageError(f"Not a folder: {folder}",
                         hint="Give a folder of images with .gt.txt transcriptions.")
    images: dict[str, Path] = {}
    for path in folder.iterdir():
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            images.setdefault(path.stem, path)
    scans: dict[str, Path] = {}
    for where in (folder.parent, folder):  # the folder's own scans win
        for path in where.iterdir():
            if path.suffix.lower() in (*IMAGE_SUFFIXES, ".pdf") and path.is_file():
                scans[path.stem] = path
    pairs: list[tuple[str, Path | ScanPage, Path]] = []
    for gt in sorted(folder.glob("*" + GT_SUFFIX)):
        stem = gt.name[: -len(GT_SUFFIX)]
        page = PAGE_GT.match(stem)
        if stem in images:
            pairs.append((stem, images[stem], gt))
        elif page and page["scan"] in scans:
            pairs.append((stem, ScanPage(scans[page["scan"]], int(page["page"])), gt))
    if not pairs:
        raise UsageError(
            f"No image + ground-truth pairs found in {folder}.",
            hint="Expected files like line01.jpg (or .png/.tif) with line01.gt.txt beside it, "
                 "or page N of a scan: class-3A.pdf with class-3A.pN.gt.txt.",
        )
    return pairs


def sample(items: list, limit: int | None) -> list:
    """``limit`` items spread evenly over ``items`` (not just the first ones, which would
    all come from the same page), deterministic."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit <= 0:
        return []
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def load_image(path: Path | ScanPage):
    """RGB array and its resolution (``DEFAULT_DPI`` when the file does not say)."""
    import numpy as np
    from PIL import Image, ImageOps

    if isinstance(path, ScanPage):
        from scanflow.intake import sources

        rendered = sources.render_page(sources.inspect(path.path), path.page,
                                       dpi=int(DEFAULT_DPI))
        return rendered.rgb, rendered.dpi

    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        dpi = img.info.get("dpi")
        rgb = np.asarray(img.convert("RGB"))
    try:
        value = float(dpi[0]) if dpi else 0.0
    except (TypeError, ValueError):
        value = 0.0
    # JPEGs without a unit store a 1:1 "density"; anything this low is not a resolution.
    return rgb, (value if value >= 50 else DEFAULT_DPI)


_WORKER: dict[str, Any] = {}


def _init_worker(engine_name: str, threads: int, options: dict[str, Any]) -> None:
    from scanflow.ocr.engine import get_engine

    _WORKER["engine"] = get_engine(engine_name, threads=threads, **options)


def _read_one(stem: str, image: Path | ScanPage, gt: Path, settings: PreprocessSettings):
    from scanflow.ocr.reader import read_page

    reference = gt.read_text(encoding="utf-8")
    start, cpu = time.perf_counter(), _cpu_time()
    try:
        rgb, dpi = load_image(image)
        _, rec = read_page(rgb, _WORKER["engine"], dpi=dpi, settings=settings)
        text, error = rec.text, None
        marks = mark_quality(reference, [(w.text, w.confidence) for w in rec.words],
                             dictionary=marks_dictionary())
    except Exception as exc:  # one unreadable image must not end the run
        if exc.__class__.__name__ == "EngineUnavailable":
            raise
        text, error, marks = "", f"{type(exc).__name__}: {exc}", MarkCounts()
    return stem, reference, text, time.perf_counter() - start, _cpu_time() - cpu, error, marks


def _cpu_time() -> float:
    """CPU seconds of this process and its finished children (Tesseract runs as a child):
    unlike wall time, hardly changed by other work on a shared machine."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def evaluate(
    data_dir: str | os.PathLike,
    engine_name: str,
    *,
    preprocess: PreprocessSettings = PreprocessSettings(),
    limit: int | None = None,
    jobs: int = 1,
    progress: Callable[[int, int, str], None] | None = None,
    engine_options: dict[str, Any] | None = None,
    threads: int | None = None,
) -> EvalReport:
    """Read every image in ``data_dir`` with ``engine_name`` and score it.

    ``limit`` evaluates that many pairs spread evenly over the folder. ``jobs`` worker
    processes each get ``threads`` engine threads (default: cores / jobs).
    ``progress(done, total, stem)`` is called after each image.
    """
    from scanflow.ocr.engine import get_engine

    pairs = sample(find_pairs(data_dir), limit)
    if not pairs:
        raise UsageError("Nothing to evaluate: --limit must be at least 1.")
    options = dict(engine_options or {})
    jobs = max(1, int(jobs))
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // jobs)
    engine = get_engine(engine_name, threads=threads, **options)  # fails early if missing

    started = time.perf_counter()
    outputs = []
    if jobs == 1:
        _WORKER["engine"] = engine
        for i, (stem, image, gt) in enumerate(pairs, 1):
            outputs.append(_read_one(stem, image, gt, preprocess))
            if progress:
                progress(i, len(pairs), stem)
    else:
        with ProcessPoolExecutor(jobs, initializer=_init_worker,
                                 initargs=(engine_name, threads, options)) as pool:
            futures = [pool.submit(_read_one, stem, image, gt, preprocess)
                       for stem, image, gt in pairs]
            for i, future in enumerate(futures, 1):
                outputs.append(future.result())
                if progress:
                    progress(i, len(pairs), outputs[-1][0])
    wall = time.perf_counter() - started

    exact, nocase, loose = Corpus(), Corpus(case=False), Corpus(case=False, punctuation=False)
    results, errors, marked = [], [], MarkCounts()
    for stem, reference, hypothesis, seconds, cpu, error, marks in outputs:
        marked += marks
        chars, words = exact.add(reference, hypothesis)
        nocase.add(reference, hypothesis)
        loose.add(reference, hypothesis)
        results.append(ImageResult(stem, chars.rate, words.rate, chars.length, chars.edits,
                                   round(seconds, 3), round(cpu, 3), reference.strip(),
                                   hypothesis, error, marks.to_dict()))
        if error:
            errors.append({"stem": stem, "error": error})
    worst = sorted(results, key=lambda r: (-r.cer, r.stem))[:5]
    return EvalReport(
        data_dir=str(data_dir),
        engine=engine.name,
        engine_version=engine.version(),
        model=engine.model(),
        preprocess=preprocess.to_dict(),
        engine_options=options,
        images=len(results),
        cer=exact.cer,
        wer=exact.wer,
        cer_ignore_case=nocase.cer,
        wer_ignore_case=nocase.wer,
        cer_ignore_case_punct=loose.cer,
        wer_ignore_case_punct=loose.wer,
        ref_chars=exact.chars.length,
        ref_words=exact.words.length,
        seconds_per_image=round(wall / len(results), 3),
        cpu_seconds_per_image=round(sum(r.cpu_seconds for r in results) / len(results), 3),
        wall_seconds=round(wall, 2),
        jobs=jobs,
        worst=[{"stem": r.stem, "cer": round(r.cer, 4), "reference": r.reference,
                "hypothesis": r.hypothesis} for r in worst],
        errors=errors,
        marks={"threshold": UNSURE_BELOW,
               "dictionary": d.source if (d := marks_dictionary()) else None,
               **marked.to_dict()},
        results=results,
    )
