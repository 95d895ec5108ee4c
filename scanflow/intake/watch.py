"""A watched scan folder: every file the office scanner saves there is ingested on its own.

The folder is the office's consume folder (as in paperless-ngx or OCRmyPDF's watcher)::

    DIR/2026-27-autumn-1/narrative/A100000000001_story.pdf    half term and genre from the path
    DIR/3B-class-set.pdf                                      from --half-term and --genre
    DIR/done/...      files read (or already in the archive), in the same sub-folders
    DIR/failed/...    files that could not be read, each with NAME.txt saying why and what to do

A file is taken only once it is complete: its size and modification time have stayed the same
for ``settle`` seconds, or the writer has closed it (where the file system reports closes).
Stopping the watcher at any moment is safe: a file is moved only after its pages are stored,
and a file found again after a restart is recognised by its SHA-256 and not read twice.

Events come from watchdog (inotify on Linux); network shares (SMB/CIFS, NFS), where inotify
sees nothing written from other machines, are polled instead. A slow full rescan backs up the
events either way. Called by ``scanflow watch`` (``scanflow/cli/intake.py``).
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from scanflow.archive.pieces import check_genre
from scanflow.archive.store import Archive
from scanflow.archive.terms import HalfTerm
from scanflow.errors import InputFileError, ScanflowError, UsageError
from scanflow.intake.ingest import IngestOptions, IngestReport, ingest
from scanflow.intake.sources import sha256_file
from scanflow.progress import Progress

log = logging.getLogger(__name__)

DONE, FAILED = "done", "failed"
# Names scanners, copy tools and office programs use while a file is still being written.
TEMPORARY_SUFFIXES = {".tmp", ".part", ".partial", ".crdownload", ".filepart", ".swp"}
# File systems where another machine's writes raise no inotify event.
NETWORK_FILESYSTEMS = {"cifs", "smb3", "smbfs", "nfs", "nfs4", "afs", "9p", "ceph",
                       "fuse.sshfs", "fuse.rclone", "davfs", "fuse.davfs2", "glusterfs"}


@dataclass(frozen=True)
class WatchOptions:
    """How ``watch`` reads what arrives; the half term and genre apply when the path has none."""

    half_term: str | None = None
    genre: str | None = None
    engine: str | None = None
    jobs: int | None = None
    settle: float = 5.0  # seconds a file must stay unchanged before it is read
    poll: bool | None = None  # None: poll only on a network file system
    poll_interval: float = 2.0
    rescan: float = 60.0  # seconds between full rescans that catch missed events


@dataclass
class WatchedFile:
    """What became of one arrived file: ``done``, ``already`` (in the archive before) or
    ``failed``; ``moved_to`` is its new place under done/ or failed/."""

    relative: str
    status: str
    message: str
    moved_to: Path | None = None
    pages: int = 0
    pieces: list[int] = field(default_factory=list)


def watch(archive: Archive, root: str | Path, options: WatchOptions, *,
          on_file: Callable[[WatchedFile], None] | None = None,
          stop: threading.Event | None = None, once: bool = False,
          progress: Progress | None = None) -> None:
    """Watch ``root`` and ingest each complete file that arrives, until ``stop`` is set.

    Files already in the folder when it starts are read first. With ``once``, it reads what
    is there (waiting for files still being written) and returns. ``on_file`` is called
    with a :class:`WatchedFile` for every file handled.
    """
    root = Path(root).resolve()
    _check_root(archive, root, options)
    stop = stop or threading.Event()
    poll = uses_network_filesystem(root) if options.poll is None else options.poll
    events: queue.Queue[tuple[Path, bool]] = queue.Queue()
    observer = _start_observer(root, events, poll, options.poll_interval)
    log.info("watching %s (%s)", root, "polling" if poll else "file system events")
    settler = Settler(options.settle)
    try:
        last_scan = time.monotonic()
        for path in candidates(root):
            settler.seen(path)
        while not stop.is_set():
            try:
                path, closed = events.get(timeout=0.2)
                while True:
                    settler.seen(path, closed)
                    path, closed = events.get_nowait()
            except queue.Empty:
                pass
            if time.monotonic() - last_scan >= options.rescan:
                last_scan = time.monotonic()
                for path in candidates(root):
                    settler.seen(path)
            ready = settler.ready()
            # In chunks, so that a burst of files shows progress file by file as it goes and
            # a stop request is heard between chunks, while a chunk still fills the workers.
            chunk = max(4, 2 * (options.jobs or os.cpu_count() or 1))
            for start in range(0, len(ready), chunk):
                for done in process_files(archive, root, ready[start:start + chunk], options,
                                          progress=progress):
                    if on_file:
                        on_file(done)
                if stop.is_set():
                    break
            if once and not settler.waiting:
                return
    finally:
        observer.stop()
        observer.join(timeout=5)


def _check_root(archive: Archive, root: Path, options: WatchOptions) -> None:
    if not root.is_dir():
        raise InputFileError("is not a folder.", path=str(root),
                             hint="Create the scan folder first, or check the path.")
    if options.half_term:
        HalfTerm.parse(options.half_term)
    if options.genre:
        check_genre(archive, options.genre)
    for name in (DONE, FAILED):
        (root / name).mkdir(exist_ok=True)


def _start_observer(root: Path, events: queue.Queue, poll: bool, interval: float):
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer
    from watchdog.observers.polling import PollingObserver

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event):
            if event.is_directory:
                return
            target = getattr(event, "dest_path", "") or event.src_path
            path = Path(os.fsdecode(target))
            if not is_candidate(root, path):
                return
            # (path, whether its writer closed it), from the observer's thread
            events.put((path, event.event_type == "closed"))

    observer = PollingObserver(timeout=interval) if poll else Observer()
    observer.schedule(Handler(), str(root), recursive=True)
    observer.start()
    return observer


def uses_network_filesystem(path: Path, mounts: str = "/proc/mounts") -> bool:
    """Whether ``path`` lies on a network share, where file system events are not seen."""
    try:
        lines = Path(mounts).read_text().splitlines()
    except OSError:
        return False
    best, fstype = "", ""
    target = str(Path(path).resolve())
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, fstype = point, parts[2]
    return fstype in NETWORK_FILESYSTEMS


def is_candidate(root: Path, path: Path) -> bool:
    """A file to read: inside ``root`` but not under done/ or failed/, not hidden, not a
    file some program is still writing under a temporary name."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        return False
    if not rel.parts or rel.parts[0] in (DONE, FAILED):
        return False
    if any(part.startswith((".", "~")) for part in rel.parts):
        return False
    return path.suffix.lower() not in TEMPORARY_SUFFIXES


def candidates(root: Path) -> list[Path]:
    """Every file waiting in the folder, in name order."""
    return sorted(p for p in root.rglob("*") if p.is_file() and is_candidate(root, p))


class Settler:
    """Decides when an arrived file is complete.

    A file is complete when its size and modification time have not changed for ``settle``
    seconds, or when its writer has closed it and it has not changed since (a close alone
    is not enough: some copy tools open and close a file once per chunk).
    """

    CLOSE_GRACE = 0.5  # seconds a closed file must stay unchanged

    def __init__(self, settle: float, clock: Callable[[], float] = time.monotonic):
        self.settle = settle
        self.clock = clock
        # path -> [(size, mtime) last seen, when it last changed, (size, mtime) when closed]
        self._files: dict[Path, list] = {}

    @property
    def waiting(self) -> int:
        return len(self._files)

    def seen(self, path: Path, closed: bool = False) -> None:
        entry = self._files.setdefault(path, [None, self.clock(), None])
        if closed:
            entry[2] = _stamp(path)

    def ready(self) -> list[Path]:
        now = self.clock()
        out = []
        for path, entry in list(self._files.items()):
            current = _stamp(path)
            if current is None:  # moved away or deleted before it settled
                del self._files[path]
                continue
            if current != entry[0]:
                entry[0], entry[1] = current, now
                continue
            quiet = now - entry[1]
            closed = entry[2] == current and current[0] > 0
            if quiet >= self.settle or (closed and quiet >= self.CLOSE_GRACE):
                out.append(path)
                del self._files[path]
        return sorted(out)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def place_of(archive: Archive, root: Path, path: Path,
             options: WatchOptions) -> tuple[str, str]:
    """The half term and genre of an arrived file: from its sub-folders
    (``2026-27-autumn-1/narrative/``, in either order), else from the options."""
    half_term, genre = options.half_term, options.genre
    for part in path.relative_to(root).parts[:-1]:
        try:
            half_term = str(HalfTerm.parse(part))
        except UsageError:
            genre = check_genre(archive, part)
    if not half_term or not genre:
        missing = " and ".join(n for n, v in (("half term", half_term), ("genre", genre))
                               if not v)
        raise UsageError(
            f"no {missing} for this file.",
            hint=f"Put it in a folder named for them, e.g. {root}/2026-27-autumn-1/narrative/, "
                 "or start the watcher with --half-term and --genre.")
    return half_term, genre


def process_files(archive: Archive, root: Path, paths: list[Path], options: WatchOptions,
                  progress: Progress | None = None) -> list[WatchedFile]:
    """Ingest complete files (grouped by half term and genre) and move each to done/ or
    failed/. Files of an interrupted run stay where they are, to be read on restart."""
    handled: list[WatchedFile] = []
    groups: dict[tuple[str, str], list[Path]] = {}
    for path in paths:
        try:
            groups.setdefault(place_of(archive, root, path, options), []).append(path)
        except ScanflowError as exc:
            handled.append(_file_failed(root, path, str(exc)))
    for (half_term, genre), group in groups.items():
        # Retrying failed pages lets the office drop a file back in once the problem is fixed.
        report = ingest(archive, group, IngestOptions(
            half_term=half_term, genre=genre, engine=options.engine, jobs=options.jobs,
            retry_failed=True), progress=progress)
        if report.interrupted:
            raise KeyboardInterrupt
        handled += _settle_group(archive, root, report)
    return handled


def _settle_group(archive: Archive, root: Path, report: IngestReport) -> list[WatchedFile]:
    out = []
    for outcome in report.files:
        path = Path(outcome.path)
        failed_pages = [(n, e) for p, n, e in report.failed_pages if p == outcome.path]
        if outcome.status == "failed":
            # The line and the .txt name the file already.
            why = outcome.message.removeprefix(f"{outcome.path}: ")
            out.append(_file_failed(root, path, why))
        elif failed_pages:
            why = "\n".join(f"page {n}: {e}" for n, e in failed_pages)
            pages, _ = _stored(archive, path, status="failed")
            out.append(_file_failed(root, path, why, stored=_stored(archive, path)[0] > pages))
        else:
            pages, pieces = _stored(archive, path)
            status = "already" if outcome.status == "already" else "done"
            message = outcome.message if status == "already" else \
                f"{pages} page(s) read" + (f", piece {', '.join(map(str, pieces))}"
                                           if pieces else ", waiting under 'scanflow unassigned'")
            out.append(WatchedFile(_rel(root, path), status, message,
                                   _move(root, path, DONE), pages, pieces))
    return out


def _stored(archive: Archive, path: Path, status: str | None = None) -> tuple[int, list[int]]:
    """How many of the file's pages the archive holds (of ``status``), and their pieces."""
    rows = archive.db.execute("SELECT piece_id FROM pages WHERE file_sha256 = ? AND "
                              "status = coalesce(?, status)", [sha256_file(path), status]).fetchall()
    return len(rows), sorted({r[0] for r in rows if r[0]})


def _file_failed(root: Path, path: Path, why: str, stored: bool = False) -> WatchedFile:
    moved = _move(root, path, FAILED)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if stored:
        todo = ("Its other pages are in the archive. Rescan or fix the pages above and put "
                f"the file back in {root}: only the failed pages are read again.")
    else:
        todo = (f"Nothing of it is in the archive. Fix it as the message says, then put it "
                f"back in {root} (a sub-folder for its half term and genre) to read it.")
    moved.with_name(moved.name + ".txt").write_text(
        f"{path.name} could not be read ({when}).\n\n{why}\n\nWhat to do: {todo}\n",
        encoding="utf-8")
    return WatchedFile(_rel(root, path), "failed", why.replace("\n", "; "), moved)


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _move(root: Path, path: Path, where: str) -> Path:
    """Move ``path`` under root/where/, keeping its sub-folders and never overwriting."""
    rel = path.relative_to(root)
    target = root / where / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    n = 1
    while target.exists() or target.with_name(target.name + ".txt").exists():
        n += 1
        target = target.with_name(f"{path.stem}-{n}{path.suffix}")
    shutil.move(str(path), str(target))
    return target
