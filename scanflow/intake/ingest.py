"""Ingest: scan files in, every page cleaned, read and stored, linked to a pupil's piece.

The pipeline, stage by stage (each a small function below):

1. ``plan``      find files, hash them (SHA-256) and skip the ones already in the archive;
                 work out which pupil each page belongs to;
2. ``read``      in worker processes, one page at a time: render -> keep the page's master
                 (the scanner's own bytes where it has them) -> prepare -> recognise ->
                 write the OCR image into the store (:func:`process_page`);
3. ``store``     in this process, one transaction per page: page, lines, words, piece
                 (:func:`save_page`);
4. ``report``    an :class:`IngestReport` with counts, failures and what to do next.

A page that fails is recorded with its reason and the batch goes on. Because each page is
committed on its own and its images are written before its row, an interrupted ingest
(Ctrl-C, kill, power cut) leaves only whole pages behind, and running the same command
again carries on where it stopped.
"""

from __future__ import annotations

import csv
import json
import logging
import multiprocessing
import os
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import cv2

from scanflow.archive import models
from scanflow.archive.check import record_image_hashes
from scanflow.archive.images import (
    clean_temporary_files,
    encode_lossless,
    encode_ocr_image,
    master_ext,
    place_display_copies,
    stage_display_copies,
    upright,
    write_bytes_atomic,
)
from scanflow.archive.pieces import check_genre, next_position, piece_for
from scanflow.archive.store import Archive, current_user, now
from scanflow.archive.terms import HalfTerm
from scanflow.errors import InputFileError, ScanflowError, UnknownPupil, UsageError
from scanflow.intake import batches, codes, sources
from scanflow.ocr.engine import get_engine
from scanflow.ocr.model import Recognition
from scanflow.ocr.preprocess import PreprocessSettings
from scanflow.ocr.reader import read_page
from scanflow.progress import NullProgress, Progress

log = logging.getLogger(__name__)

# Chosen by measurement (README, "Recognition"): on the sample batch RapidOCR reads 0.6%
# CER against Tesseract's 8.4%, and 55% against 78% on hard adult cursive.
DEFAULT_ENGINE = "rapidocr"


@dataclass(frozen=True)
class IngestOptions:
    """Everything that shapes one ingest run, validated once by :func:`ingest`."""

    half_term: str
    genre: str
    pupil: str | None = None
    manifest: str | None = None
    engine: str | None = None  # None: the archive's setting, else DEFAULT_ENGINE
    jobs: int | None = None  # None: one worker per core
    threads: int | None = None  # engine threads a worker; None: engine_threads(jobs)
    dpi: int = 300
    max_pixels: int = sources.DEFAULT_MAX_PIXELS
    retry_failed: bool = False
    expect_class: str | None = None  # codes: report this class's pupils with no code
    preprocess: PreprocessSettings = field(default_factory=PreprocessSettings)


@dataclass
class PageTask:
    sha256: str
    path: str
    kind: str
    page_count: int
    size: int
    page_number: int
    images_dir: str
    dpi: int
    max_pixels: int
    preprocess: PreprocessSettings
    pupil_id: str | None
    # A PDF page as Poppler described it when the file's pages were planned, so the
    # worker does not ask again page by page.
    pdf_page: sources.PdfPage | None = None


@dataclass
class PageResult:
    sha256: str
    page_number: int
    status: str  # "ok", "blank" or "failed"
    error: str | None = None
    image_path: str | None = None
    ocr_image_path: str | None = None
    width: int | None = None
    height: int | None = None
    dpi: float | None = None
    rotation: int = 0
    skew: float = 0.0
    steps: list[dict] = field(default_factory=list)
    recognition: Recognition | None = None
    seconds: float = 0.0
    source: str = "scan"
    code: codes.CodeHit | None = None  # a cover sheet or label found on the page
    image_turn: int = 0  # degrees clockwise that show the master upright
    image_origin: str | None = None
    display: dict[str, str] = field(default_factory=dict)  # staged display copies


@dataclass
class FileOutcome:
    path: str
    status: str  # "new", "resumed", "already", "failed"
    message: str = ""
    batch_id: int | None = None


@dataclass
class IngestReport:
    batch_id: int | None
    archive: str
    files: list[FileOutcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    pages_ok: int = 0
    pages_blank: int = 0
    failed_pages: list[tuple[str, int, str]] = field(default_factory=list)
    pieces: set[int] = field(default_factory=set)
    unassigned: int = 0
    words: int = 0
    confidence_sum: float = 0.0
    seconds: float = 0.0
    interrupted: bool = False
    codes: batches.CodeReport | None = None

    @property
    def mean_confidence(self) -> float | None:
        return self.confidence_sum / self.words if self.words else None

    @property
    def failed_files(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed_files and not self.failed_pages and not self.interrupted


def set_default_engine(archive: Archive, name: str) -> None:
    """Make ``name`` the archive's engine for future ingests (checked to be usable now)."""
    get_engine(name)
    archive.set_setting("engine", name)
    archive.log_event("settings.engine", name)


# --- stage 1: plan -----------------------------------------------------------------


@dataclass
class ManifestRow:
    file: str
    first_page: int
    last_page: int
    pupil_id: str
    line: int


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Parse ``file,first_page,last_page,pupil_id`` rows (header required)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError("manifest not found.", path=str(path), hint="Check the path.")
    rows = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        needed = {"file", "first_page", "last_page", "pupil_id"}
        if not reader.fieldnames or not needed <= {h.strip() for h in reader.fieldnames}:
            raise InputFileError(
                "the manifest needs the columns file,first_page,last_page,pupil_id.",
                path=str(path), hint=f"Its header is: {','.join(reader.fieldnames or [])}")
        for i, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            try:
                first, last = int(row["first_page"]), int(row["last_page"])
            except ValueError:
                raise InputFileError(f"line {i}: first_page and last_page must be numbers.",
                                     path=str(path), hint="Fix the line and run again.") from None
            if first < 1 or last < first:
                raise InputFileError(f"line {i}: pages {first}-{last} are not a valid range.",
                                     path=str(path), hint="Fix the line and run again.")
            rows.append(ManifestRow(row["file"], first, last, row["pupil_id"], i))
    return rows


class PupilLinker:
    """Decides which pupil a page belongs to: ``--pupil``, then the manifest, then the
    file-name convention ``<pupil id>_anything.ext``; otherwise nobody (unassigned)."""

    def __init__(self, known: set[str], pupil: str | None = None,
                 manifest: list[ManifestRow] | None = None):
        self.known = known
        self.pupil = pupil
        self.manifest = manifest or []

    def pupil_for(self, path: Path, page_number: int) -> str | None:
        if self.pupil:
            return self.pupil
        for row in self.manifest:
            if _same_file(row.file, path) and row.first_page <= page_number <= row.last_page:
                return row.pupil_id
        token = path.stem.split("_")[0].strip()
        if token in self.known:
            return token
        if token.upper() in self.known:
            return token.upper()
        return None


def _same_file(listed: str, path: Path) -> bool:
    listed_path = Path(listed)
    return listed_path.name == path.name if len(listed_path.parts) == 1 else \
        path.as_posix().endswith(listed_path.as_posix())


def _validate_pupils(archive: Archive, options: IngestOptions,
                     manifest: list[ManifestRow]) -> set[str]:
    known = {r[0] for r in archive.db.execute("SELECT pupil_id FROM pupils")}
    if options.pupil and options.pupil not in known:
        raise UnknownPupil(f"No pupil with id '{options.pupil}' in the archive.",
                           hint="Check the id, or import the class list first: "
                                "scanflow roster import FILE.csv")
    unknown = [r for r in manifest if r.pupil_id not in known]
    if unknown:
        where = ", ".join(f"line {r.line} ({r.pupil_id})" for r in unknown[:5])
        raise UnknownPupil(f"{options.manifest}: unknown pupil id at {where}.",
                           hint="Fix the ids or import the class list first: "
                                "scanflow roster import FILE.csv")
    return known


# --- stage 2: read (runs in worker processes) ---------------------------------------

_WORKER: dict = {}


def _init_worker(engine_name: str, threads: int, engine_options: dict | None = None) -> None:
    _die_with_parent()
    # One engine per worker process, made once; OpenCV's own threads would fight the pool.
    cv2.setNumThreads(1)
    os.environ["OMP_THREAD_LIMIT"] = str(threads)
    engine = get_engine(engine_name, threads=threads, **(engine_options or {}))
    # Load the models now, while the ingest process is still hashing and counting pages,
    # not when the first page arrives.
    engine.warm_up()
    _WORKER["engine"] = engine


def engine_threads(jobs: int, cores: int | None = None) -> int:
    """Threads each worker's engine may use: workers x threads <= cores.

    Measured (README, "How long it takes"): RapidOCR's recognition takes 1.5 CPU-s a page
    with one thread and 1.6 with two (their threads sleep when idle, ``ctc.cpu_session``),
    and two threads halve its wall time only on an idle machine, so spare cores go to
    more workers first, and a worker gets a second thread only when there are fewer
    workers than cores.
    """
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, jobs))


def planned_jobs(requested: int | None, scans: list[Path], cores: int | None = None) -> int:
    """Workers for a run, decided before its pages are counted (so they can start early):
    one per core, but no more than there are pages when every scan is a one-page image."""
    jobs = requested or cores or os.cpu_count() or 1
    if not any(p.suffix.lower() in (".pdf", ".tif", ".tiff") for p in scans):
        jobs = min(jobs, len(scans))
    return max(1, jobs)


class PageReaders:
    """Where pages are read: this process (one job) or a pool of worker processes.

    The pool is started as soon as the run knows its files, before they are hashed and
    counted, so each worker's interpreter, OpenCV and engine models load in parallel with
    that planning; its workers then read pages while this process stores the results.
    """

    def __init__(self, engine_name: str, jobs: int, threads: int,
                 engine_options: dict | None = None):
        self.engine_name, self.jobs, self.threads = engine_name, jobs, threads
        self.engine_options = engine_options or {}
        self.pool = None
        if jobs > 1:
            ctx = multiprocessing.get_context("spawn")
            self.pool = ctx.Pool(jobs, initializer=_init_worker,
                                 initargs=(engine_name, threads, self.engine_options))

    def read(self, tasks: list[PageTask]) -> Iterator[tuple[PageTask, PageResult]]:
        if not tasks:
            return
        if self.pool is None:
            engine = get_engine(self.engine_name, threads=self.threads, **self.engine_options)
            # --threads caps the whole worker, as in a pool worker: OpenCV's cleaning would
            # otherwise use every core behind the back of a user who asked for one thread.
            opencv_threads = cv2.getNumThreads()
            cv2.setNumThreads(self.threads)
            try:
                yield from read_ahead(tasks, engine)
            finally:
                cv2.setNumThreads(opencv_threads)
            return
        # imap keeps page order, so pages join their piece in the order they were scanned.
        yield from zip(tasks, self.pool.imap(_worker_task, tasks, chunksize=1))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None


def _die_with_parent() -> None:
    """If the ingest process is killed, its workers stop too instead of running on."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def _worker_task(task: PageTask) -> PageResult:
    return process_page(task, _WORKER["engine"])


def read_ahead(tasks: list[PageTask], engine) -> Iterator[tuple[PageTask, PageResult]]:
    """Read pages one after another in this process, each next page rendered (decoded or
    rasterised) in a thread while this one is cleaned and read: Poppler runs in its own
    process and OpenCV and onnxruntime release the GIL, so neither waits for the other."""
    with ThreadPoolExecutor(1, thread_name_prefix="scanflow-render") as ahead:
        coming = ahead.submit(render_task, tasks[0])
        for i, task in enumerate(tasks):
            page = coming.result()
            if i + 1 < len(tasks):
                coming = ahead.submit(render_task, tasks[i + 1])
            yield task, process_page(task, engine, page)


def render_task(task: PageTask) -> sources.RenderedPage | Exception:
    """The task's page as an image, or what stopped it (raised again by process_page)."""
    scan = sources.ScanFile(Path(task.path), task.sha256, task.size, task.kind, task.page_count)
    try:
        return sources.render_page(scan, task.page_number, dpi=task.dpi,
                                   max_pixels=task.max_pixels, layout=task.pdf_page,
                                   work_dir=Path(task.images_dir))
    except Exception as exc:  # noqa: BLE001 - handed to process_page, which reports it
        return exc


def process_page(task: PageTask, engine,
                 rendered: sources.RenderedPage | Exception | None = None) -> PageResult:
    """Render, clean, read and store the images of one page. Never raises for bad input.

    ``rendered``: the page already rendered by :func:`render_task`.
    """
    started = time.monotonic()
    try:
        page = render_task(task) if rendered is None else rendered
        if isinstance(page, Exception):
            raise page
        images = Path(task.images_dir)
        master_rel = store_master(images, task.sha256, task.page_number, page)
        # Codes first (scanflow.intake.codes): a cover sheet is kept as the piece's cover, not read.
        hit = codes.find_code(page.rgb)
        if hit is not None and hit.is_cover:
            view = upright(page.rgb, hit.rotation)
            h, w = view.shape[:2]
            return PageResult(task.sha256, task.page_number, "cover", image_path=master_rel,
                              width=w, height=h, dpi=page.dpi, rotation=hit.rotation,
                              image_turn=hit.rotation, image_origin=page.origin, code=hit,
                              seconds=time.monotonic() - started, source=page.source,
                              display=stage_display_copies(images / master_rel, view))
        # A label (books with one cover a year) is printed matter, not the child's writing.
        hide = [hit.region] if hit is not None and hit.region is not None else None
        prepared, rec = read_page(page.rgb, engine, dpi=page.dpi, settings=task.preprocess,
                                  hide=hide)
        data, ext = encode_ocr_image(prepared.ocr)
        ocr_rel = str(Path(task.sha256[:2]) / task.sha256 / f"p{task.page_number:04d}.ocr.{ext}")
        write_bytes_atomic(images / ocr_rel, data)
        h, w = prepared.faithful.shape[:2]
        display = stage_display_copies(images / master_rel, prepared.faithful)
        return PageResult(
            sha256=task.sha256, page_number=task.page_number,
            status="blank" if prepared.blank else "ok",
            image_path=master_rel, ocr_image_path=ocr_rel, width=w, height=h, dpi=page.dpi,
            rotation=prepared.rotation, skew=prepared.skew, image_turn=prepared.rotation,
            image_origin=page.origin, display=display,
            steps=[asdict(s) for s in prepared.steps], recognition=rec,
            seconds=time.monotonic() - started, source=page.source, code=hit,
        )
    except ScanflowError as exc:
        return PageResult(task.sha256, task.page_number, "failed", error=exc.message + (
            " " + exc.hint if exc.hint else ""), seconds=time.monotonic() - started)
    except Exception as exc:  # a bug or a library failure on this page only
        log.debug("page failed", exc_info=True)
        return PageResult(task.sha256, task.page_number, "failed",
                          error=f"unexpected error: {type(exc).__name__}: {exc}",
                          seconds=time.monotonic() - started)


def store_master(images_dir: Path, sha256: str, page_number: int,
                 page: sources.RenderedPage) -> str:
    """Write the page's master into the store; returns its path relative to ``images/``.

    The scanner's bytes when the page has them (turning the page upright is recorded as
    ``image_turn``, not applied); otherwise the rendered page, losslessly.
    """
    data = page.master if page.master is not None else encode_lossless(page.rgb)
    rel = str(Path(sha256[:2]) / sha256 / f"p{page_number:04d}.{master_ext(data)}")
    write_bytes_atomic(images_dir / rel, data)
    return rel


def save_page(archive: Archive, batch_id: int, task: PageTask, result: PageResult,
              half_term: str, genre: str, placement: batches.Placement | None = None) -> int | None:
    """Write one page, its lines and words, and link it to its piece — all or nothing.

    Returns the piece id, or None when the page waits on the unassigned list.
    """
    rec = result.recognition
    with archive.transaction() as db:
        # A page read again (--retry-failed) keeps its place in its piece.
        earlier = db.execute("SELECT piece_id, position FROM pages WHERE file_sha256 = ? AND "
                             "page_number = ?", [task.sha256, task.page_number]).fetchone()
        db.execute("DELETE FROM pages WHERE file_sha256 = ? AND page_number = ?",
                   [task.sha256, task.page_number])
        piece_id = position = None
        if earlier and earlier[0]:
            piece_id, position = earlier
        elif placement is not None:  # codes on the pages decide (scanflow.intake.codes)
            piece_id, position = batches.claim_piece(archive, placement)
            half_term, genre = placement.half_term, placement.genre
        elif task.pupil_id:
            piece_id = piece_for(archive, task.pupil_id, half_term, genre)
            position = next_position(archive, piece_id)
        words = rec.words if rec else []
        page_id = db["pages"].insert({
            "file_sha256": task.sha256, "page_number": task.page_number, "batch_id": batch_id,
            "piece_id": piece_id, "position": position, "half_term": half_term, "genre": genre,
            "status": result.status, "error": result.error,
            "image_path": result.image_path, "ocr_image_path": result.ocr_image_path,
            "width": result.width, "height": result.height, "dpi": result.dpi,
            "rotation": result.rotation, "skew": result.skew,
            "image_turn": result.image_turn, "image_origin": result.image_origin,
            "preprocess": json.dumps({"source": result.source, "steps": result.steps}),
            "engine": rec.engine if rec else None,
            "engine_version": rec.engine_version if rec else None,
            "model": rec.model if rec else None,
            "ocr_settings": json.dumps(rec.settings) if rec else None,
            "ocr_text": rec.text if rec else None,
            "mean_confidence": rec.mean_confidence if rec else None,
            "word_count": len(words), "seconds": round(result.seconds, 3), "created_at": now(),
            "code": json.dumps(result.code.to_dict()) if result.code else None,
        }).last_pk
        # The stored images' checksums, for 'scanflow check' and backups (~10 ms a page).
        record_image_hashes(archive, [page_id])
        if result.display and result.image_path:
            place_display_copies(archive.images_dir, result.image_path, result.image_turn,
                                 page_id, result.display)
        if rec:
            for line_no, line in enumerate(rec.lines, start=1):
                line_id = db["lines"].insert({
                    "page_id": page_id, "line_no": line_no, "text": line.text,
                    "x": line.box.x, "y": line.box.y, "w": line.box.w, "h": line.box.h,
                    "confidence": line.confidence,
                }).last_pk
                db["words"].insert_all(({
                    "line_id": line_id, "page_id": page_id, "word_no": i, "text": w.text,
                    "x": w.box.x, "y": w.box.y, "w": w.box.w, "h": w.box.h,
                    "confidence": w.confidence,
                } for i, w in enumerate(line.words, start=1)))
        if piece_id:
            db.execute("UPDATE pieces SET updated_at = ? WHERE id = ?", [now(), piece_id])
    return piece_id


# --- the whole run -----------------------------------------------------------------


def ingest(archive: Archive, paths: list[str | Path], options: IngestOptions,
           progress: Progress | None = None) -> IngestReport:
    """Ingest scans into ``archive``. Returns a report; raises only for bad arguments.

    >>> report = ingest(archive, ["scans_sample"],
    ...                 IngestOptions(half_term="2026-27-autumn-1", genre="narrative"))  # doctest: +SKIP
    >>> report.pages_ok, len(report.pieces)   # doctest: +SKIP
    (6, 4)
    """
    progress = progress or NullProgress()
    started = time.monotonic()
    half_term = str(HalfTerm.parse(options.half_term))
    genre = check_genre(archive, options.genre)
    manifest = read_manifest(options.manifest) if options.manifest else []
    known = _validate_pupils(archive, options, manifest)
    engine_name = options.engine or archive.setting("engine") or DEFAULT_ENGINE
    # The school's own recogniser version, if one is in use (scanflow model use).
    engine_options = models.engine_options(archive, engine_name)
    get_engine(engine_name, **engine_options)  # fail now, with the install hint, not per page
    if options.dpi < 72 or options.dpi > 1200:
        raise UsageError(f"--dpi {options.dpi} is out of range.", hint="Use 300 (or 150-600).")

    scans, skipped = sources.discover(paths)
    if not scans:
        where = ", ".join(sources.display_path(p) for p in paths)
        raise UsageError(f"No scans found in {where}.",
                         hint="Give PDF, PNG, JPEG or TIFF files, or folders holding them.")
    clean_temporary_files(archive.images_dir)
    linker = PupilLinker(known, options.pupil, manifest)
    splitter = batches.splitter_for(archive, half_term=half_term, genre=genre,
                                  expect_class=options.expect_class)

    report = IngestReport(batch_id=None, archive=str(archive.path),
                          skipped=[sources.display_path(p) for p in skipped],
                          codes=splitter.report)
    for name in report.skipped:
        log.info("%s: skipped (not a scan)", name)

    mark_abandoned_batches(archive)
    with archive.transaction() as db:
        batch_id = db["batches"].insert({
            "started_at": now(), "half_term": half_term, "genre": genre,
            "engine": engine_name, "status": "running", "actor": current_user(),
            "pid": os.getpid(), "host": socket.gethostname(),
        }).last_pk
    report.batch_id = batch_id

    jobs = planned_jobs(options.jobs, scans)
    threads = options.threads or engine_threads(jobs)
    readers = PageReaders(engine_name, jobs, threads, engine_options)
    status = "finished"
    try:
        tasks = list(_plan(archive, scans, options, batch_id, linker, report))
        if not tasks and not any(f.status in ("new", "resumed") for f in report.files):
            # Nothing new to read: the run leaves the archive exactly as it was.
            status = None
            with archive.transaction() as db:
                db.execute("DELETE FROM batches WHERE id = ?", [batch_id])
            report.batch_id = None
            report.seconds = time.monotonic() - started
            return report
        progress.start(len(tasks), "Reading pages")
        for task, result in readers.read(tasks):
            placement = splitter.place(batches.page_code(task, result))
            piece_id = save_page(archive, batch_id, task, result, half_term, genre, placement)
            _tally(report, task, result, piece_id)
            progress.advance()
    except KeyboardInterrupt:
        report.interrupted = True
        status = "interrupted"
    finally:
        readers.close()
        progress.finish()
        if status is not None:
            _finish(archive, report, batch_id, status, started)
    return report


def mark_abandoned_batches(archive: Archive) -> list[int]:
    """Mark as ``interrupted`` every batch still ``running`` whose process is gone.

    A batch killed outright (power cut, ``kill -9``, a closed terminal) never reaches
    :func:`_finish`; the next ingest finds it here. Its stored pages stay, and running its
    command again carries on. A batch started on another computer (an archive on a shared
    drive) cannot be checked from here and is left alone. Returns the batch ids marked.
    """
    host = socket.gethostname()
    gone = [batch_id for batch_id, pid, batch_host in archive.db.execute(
        "SELECT id, pid, host FROM batches WHERE status = 'running'")
        if pid is None or (batch_host == host and not _process_alive(pid))]
    if gone:
        with archive.transaction() as db:
            for batch_id in gone:
                db.execute("UPDATE batches SET status = 'interrupted', finished_at = ? "
                           "WHERE id = ?", [now(), batch_id])
                archive.log_event("ingest.abandoned", f"batch:{batch_id}")
        log.warning("batch %s stopped without finishing (killed or the computer went off); "
                    "marked as interrupted", ", ".join(map(str, gone)))
    return gone


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


def _plan(archive: Archive, scans: list[Path], options: IngestOptions, batch_id: int,
          linker: PupilLinker, report: IngestReport) -> Iterator[PageTask]:
    for path in scans:
        try:
            scan = sources.inspect(path, max_pixels=options.max_pixels)
        except ScanflowError as exc:
            log.error("%s", exc)
            report.files.append(FileOutcome(sources.display_path(path), "failed", str(exc)))
            continue
        row = archive.db.execute("SELECT status, batch_id FROM files WHERE sha256 = ?",
                                 [scan.sha256]).fetchone()
        done_pages: set[int] = set()
        if row and row[0] == "done":
            failed = {r[0] for r in archive.db.execute(
                "SELECT page_number FROM pages WHERE file_sha256 = ? AND status = 'failed'",
                [scan.sha256])}
            if not (options.retry_failed and failed):
                report.files.append(FileOutcome(
                    sources.display_path(path), "already",
                    f"already ingested in batch {row[1]}; nothing to do",
                    batch_id=row[1]))
                continue
            done_pages = set(range(1, scan.page_count + 1)) - failed
            outcome = "resumed"
        elif row:  # "processing": an earlier run stopped part-way
            done_pages = {r[0] for r in archive.db.execute(
                "SELECT page_number FROM pages WHERE file_sha256 = ?", [scan.sha256])}
            outcome = "resumed"
        else:
            outcome = "new"
        with archive.transaction() as db:
            db["files"].upsert({
                "sha256": scan.sha256, "batch_id": row[1] if row else batch_id,
                "path": sources.display_path(path.resolve()),
                "name": sources.display_path(path.name), "size": scan.size,
                "kind": scan.kind, "page_count": scan.page_count, "status": "processing",
                "error": None, "added_at": now(),
            }, pk="sha256")
        report.files.append(FileOutcome(sources.display_path(path), outcome,
                                        batch_id=batch_id))
        layout = _pdf_layout(path, scan) if scan.kind == "pdf" else {}
        for page_number in range(1, scan.page_count + 1):
            if page_number in done_pages:
                continue
            yield PageTask(
                sha256=scan.sha256, path=str(path), kind=scan.kind, page_count=scan.page_count,
                size=scan.size, page_number=page_number, images_dir=str(archive.images_dir),
                dpi=options.dpi, max_pixels=options.max_pixels, preprocess=options.preprocess,
                pupil_id=linker.pupil_for(path, page_number),
                pdf_page=layout.get(page_number),
            )


def _pdf_layout(path: Path, scan: sources.ScanFile) -> dict[int, sources.PdfPage]:
    """Every page of a PDF as Poppler describes it, or nothing if it cannot: then each
    page is asked about on its own, and one that fails says why."""
    try:
        return sources.pdf_pages(path, 1, scan.page_count)
    except ScanflowError as exc:
        log.debug("%s: pages described one by one (%s)", path, exc)
        return {}


def _tally(report: IngestReport, task: PageTask, result: PageResult, piece_id) -> None:
    name = sources.display_path(Path(task.path).name)
    if result.status == "failed":
        report.failed_pages.append((sources.display_path(task.path), task.page_number,
                                    result.error or ""))
        log.error("%s page %d: %s", name, task.page_number, result.error)
        return
    if result.status == "blank":
        report.pages_blank += 1
        log.info("%s page %d: blank", name, task.page_number)
    else:
        report.pages_ok += 1
    if piece_id:
        report.pieces.add(piece_id)
    else:
        report.unassigned += 1
    rec = result.recognition
    if rec and rec.words:
        report.words += len(rec.words)
        report.confidence_sum += sum(w.confidence for w in rec.words)


def _finish(archive: Archive, report: IngestReport, batch_id: int, status: str,
            started: float) -> None:
    report.seconds = time.monotonic() - started
    with archive.transaction() as db:
        # A file is done once every one of its pages is stored, whichever run stored them.
        db.execute("UPDATE files SET status = 'done' WHERE status = 'processing' AND "
                   "(SELECT COUNT(*) FROM pages WHERE file_sha256 = files.sha256) = page_count")
        db.execute("UPDATE batches SET finished_at = ?, status = ?, summary = ? WHERE id = ?",
                   [now(), status, json.dumps(summary_dict(report)), batch_id])
        archive.log_event("ingest", f"batch:{batch_id}", status=status,
                          pages=report.pages_ok + report.pages_blank,
                          failed=len(report.failed_pages))


def summary_dict(report: IngestReport) -> dict:
    return {
        "batch": report.batch_id,
        "files_new": sum(f.status == "new" for f in report.files),
        "files_resumed": sum(f.status == "resumed" for f in report.files),
        "files_already_ingested": sum(f.status == "already" for f in report.files),
        "files_failed": [{"file": f.path, "error": f.message} for f in report.failed_files],
        "files_skipped": report.skipped,
        "pages": report.pages_ok + report.pages_blank,
        "pages_blank": report.pages_blank,
        "pages_failed": [{"file": p, "page": n, "error": e} for p, n, e in report.failed_pages],
        "pieces": len(report.pieces),
        "unassigned_pages": report.unassigned,
        "words": report.words,
        "mean_confidence": round(report.mean_confidence, 1) if report.mean_confidence else None,
        "seconds": round(report.seconds, 1),
        "interrupted": report.interrupted,
        "codes": report.codes.to_dict() if report.codes else None,
    }
