"""The watch-folder engine: a watchdog observer on each inbox -> a settle queue -> batches of
complete files handed to a filer (in the CLI: organize, so each batch is one journaled run).

When a file counts as complete:
- Temporary download names are never acted on (`.crdownload`, `.part`, `.download`, `.tmp`,
  `~$x`, dotfiles); the final rename to the real name is what brings a download in.
- It must have kept the same size and mtime for the settle time (`settle_s`). That is the rule
  on every platform; watchdog fires several "modified" events during one copy and each restarts
  the clock.
- Where the observer reports close-after-write (Linux inotify `IN_CLOSE_WRITE`), a file that was
  written to is held until it is closed as well, whatever the settle time says. A file held
  open, unchanged, for `WRITE_STALL_S` is taken anyway (an event lost to a queue overflow must
  not strand it).
- A file found by a walk (catch-up on start, `--once`, a folder moved in) has no event history:
  on Linux, /proc says whether a process (of this user) holds it open for writing, and such a
  file waits until it is not. (The rules live in `settle.py`; this module feeds them events.)
- An empty file is never complete (Firefox creates an empty placeholder under the final name
  while the `.part` downloads); one that stays empty for the settle time is dropped.

On start the inboxes are walked, so what arrived while the watcher was not running is caught
up. The destination tree (with its staging and `_packs` folders) is ignored wherever it is,
so DEST inside INBOX does not loop; files already handed to the filer are remembered by (path,
size, mtime), so events caused by the filer itself (a copy reading its source) never re-file a
file. Across restarts the filer is responsible: organize skips a file it has already filed, and
`organize_filer` leaves alone a file that an undo of a watch run put back (same path, size and
mtime; touching it makes it new again).

Zip packs are extracted (`packs.extract`) into `DEST/.samplesort-staging/<stem>-<id>/` and
their audio handed to the filer with `pack` = the zip's stem. The zip is never deleted: in move
mode it goes to `DEST/_packs/` once its batch has run to the end, otherwise it stays where it is.

Library code: nothing here prints or exits; what happened goes to `logging` and to the
`on_batch` callback, per-file failures are collected.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import fsops
from .audio import is_audio_path
from .errors import SampleSortError
from .packs import PackError, PackLimits, extract, is_pack_path
from .settle import SettleQueue, Signature, is_temp_name, open_for_writing

if TYPE_CHECKING:
    from .catalog import Catalog
    from .model import ModelBundle

log = logging.getLogger(__name__)

JUNK_DIRS = frozenset({"__MACOSX", "$RECYCLE.BIN"})
STAGING_DIR = ".samplesort-staging"
PACKS_DIR = "_packs"
RETRY_S = 60.0  # a batch the filer failed as a whole (catalog locked, disk full) is retried
DONE_MEMORY = 100_000  # files remembered as handed over (a long-lived service stays bounded)
MODES = ("move", "copy", "link")

StopCheck = Callable[[], bool]


class WatchError(SampleSortError):
    """The inboxes cannot be watched (one line naming them and why)."""


@dataclass(frozen=True)
class Arrival:
    """A complete file to file: `pack` is the value of `{pack}` in templates ("" for none)."""

    path: Path
    pack: str


@dataclass(frozen=True)
class Filed:
    """One file the filer placed: where, as what, and whether it went to review."""

    source: Path
    dest: Path
    label: str
    confidence: float | None = None
    review: bool = False


@dataclass(frozen=True)
class BatchOutcome:
    """What a filer did with one batch (one journaled run)."""

    run_id: int | None
    filed: tuple[Filed, ...] = ()
    skipped: int = 0  # filed by an earlier run
    errors: tuple[str, ...] = ()  # one line each, naming the file
    undone: int = 0  # put back by an undo of a watch run: left alone

    @property
    def review(self) -> int:
        return sum(f.review for f in self.filed)


Filer = Callable[[Sequence[Arrival], StopCheck], BatchOutcome]


@dataclass(frozen=True)
class WatchOptions:
    inboxes: tuple[Path, ...]
    dest: Path
    settle_s: float = 2.0
    mode: str = "move"  # what the filer does with sources; decides what happens to a zip
    batch_max: int = 256
    pack_limits: PackLimits = PackLimits()


@dataclass(frozen=True)
class BatchReport:
    """One batch as the caller sees it: the filer's outcome plus what watch did itself."""

    arrivals: int
    outcome: BatchOutcome | None
    refused: tuple[str, ...] = ()  # one line per refused zip pack
    errors: tuple[str, ...] = ()  # watch's own failures (a pack it could not keep, a filer error)
    kept_packs: tuple[Path, ...] = ()  # zips moved to DEST/_packs
    elapsed_s: float = 0.0


@dataclass
class WatchSummary:
    batches: int = 0
    arrivals: int = 0
    filed: int = 0
    review: int = 0
    skipped: int = 0
    undone: int = 0
    errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    run_ids: list[int] = field(default_factory=list)
    stopped: bool = False
    elapsed_s: float = 0.0

    @property
    def status(self) -> str:
        if not (self.errors or self.refused):
            return "ok"
        return "partial" if self.filed or self.skipped or self.undone else "error"

    def add(self, r: BatchReport) -> None:
        self.batches += 1
        self.arrivals += r.arrivals
        self.refused.extend(r.refused)
        self.errors.extend(r.errors)
        if r.outcome is not None:
            self.filed += len(r.outcome.filed)
            self.review += r.outcome.review
            self.skipped += r.outcome.skipped
            self.undone += r.outcome.undone
            self.errors.extend(r.outcome.errors)
            if r.outcome.run_id is not None:
                self.run_ids.append(r.outcome.run_id)


def is_wanted(path: Path) -> bool:
    """Files watch acts on: audio and zip packs under a final (non-temporary) name."""
    return not is_temp_name(path.name) and (is_audio_path(path) or is_pack_path(path))


def _chunks(items: Sequence[tuple[Path, Signature]], n: int) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield list(items[i : i + n])


class Watcher:
    """Watch `options.inboxes`, hand complete files to `filer` in batches. Call `run`."""

    def __init__(
        self,
        options: WatchOptions,
        filer: Filer,
        *,
        on_batch: Callable[[BatchReport], None] | None = None,
    ) -> None:
        if options.mode not in MODES:
            raise ValueError(f"unknown mode {options.mode!r}")
        self.options = options
        self.filer = filer
        self.on_batch = on_batch
        self.inboxes = tuple(Path(os.path.abspath(p)) for p in options.inboxes)
        self.dest = Path(os.path.abspath(options.dest))
        real = Path(os.path.realpath(self.dest))
        self._dest_roots = (self.dest,) if real == self.dest else (self.dest, real)
        self.staging = self.dest / STAGING_DIR
        self.queue = SettleQueue(
            options.settle_s,
            open_check=open_for_writing if os.path.isdir("/proc/self/fdinfo") else None,
        )
        self.poll_s = min(0.25, max(0.02, options.settle_s / 4))
        self._events: queue.SimpleQueue[tuple[str, str, str]] = queue.SimpleQueue()
        # (size, mtime) of every file handed to the filer, newest last, at most DONE_MEMORY.
        self._done: OrderedDict[Path, Signature] = OrderedDict()
        self._track_writes = False
        self._once = False

    # --- what is ignored ---------------------------------------------------------------------

    def _inbox_of(self, path: Path) -> Path | None:
        best = None
        for inbox in self.inboxes:
            if path.is_relative_to(inbox) and (best is None or len(inbox.parts) > len(best.parts)):
                best = inbox
        return best

    def _ignored_dir(self, path: Path) -> bool:
        if any(path.is_relative_to(d) for d in self._dest_roots):
            return True
        inbox = self._inbox_of(path)
        if inbox is None:
            return True
        rel = path.relative_to(inbox).parts
        return any(p.startswith(".") or p in JUNK_DIRS for p in rel)

    def _wanted(self, path: Path) -> bool:
        return is_wanted(path) and not self._ignored_dir(path.parent)

    def pack_of(self, path: Path) -> str:
        """`{pack}` for a loose file: its top folder under the inbox ("" at the inbox root)."""
        inbox = self._inbox_of(path)
        rel = path.relative_to(inbox).parts if inbox is not None else ()
        return rel[0] if len(rel) > 1 else ""

    # --- events ------------------------------------------------------------------------------

    def _scan(self, folder: Path) -> int:
        """Queue every wanted file under `folder` (catch-up, or a folder moved in)."""
        n = 0
        for dirpath, dirnames, filenames in os.walk(folder):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if not self._ignored_dir(here / d))
            for name in sorted(filenames):
                p = here / name
                if is_wanted(p) and not self._done_same(p):
                    self.queue.touch(p)
                    n += 1
        return n

    def _done_same(self, path: Path) -> bool:
        sig = self._done.get(path)
        if sig is None:
            return False
        try:
            st = os.stat(path)
        except OSError:
            return False
        return (st.st_size, st.st_mtime_ns) == sig

    def _handle(self, kind: str, src: str, dest: str) -> None:
        path = Path(src)
        if kind == "dir_created":
            if not self._ignored_dir(path):
                self._scan(path)
        elif kind == "dir_moved":
            self.queue.discard_under(path)
            if dest and not self._ignored_dir(Path(dest)):
                self._scan(Path(dest))
        elif kind == "dir_deleted":
            self.queue.discard_under(path)
        elif kind == "deleted":
            self.queue.discard(path)
        elif kind == "moved":
            self.queue.discard(path)
            if dest and self._wanted(Path(dest)):
                self.queue.touch(Path(dest), writing=False, tracked=self._track_writes)
        elif self._wanted(path):
            track = self._track_writes
            if kind == "modified":
                self.queue.touch(path, writing=True if track else None, tracked=track)
            elif kind == "closed":
                self.queue.touch(path, writing=False, tracked=True)
            else:  # created (also a file moved in from outside the inbox)
                self.queue.touch(path, tracked=track)

    def _drain(self, timeout: float) -> None:
        try:
            item = self._events.get(timeout=timeout) if timeout > 0 else self._events.get_nowait()
        except queue.Empty:
            return
        while True:
            self._handle(*item)
            try:
                item = self._events.get_nowait()
            except queue.Empty:
                return

    def _start_observer(self):  # noqa: ANN202 - watchdog's BaseObserver
        from watchdog.events import (
            DirCreatedEvent,
            DirDeletedEvent,
            DirMovedEvent,
            FileClosedEvent,
            FileCreatedEvent,
            FileDeletedEvent,
            FileModifiedEvent,
            FileMovedEvent,
            FileSystemEvent,
            FileSystemEventHandler,
        )
        from watchdog.observers import Observer

        kinds = {
            FileCreatedEvent: "created",
            FileModifiedEvent: "modified",
            FileClosedEvent: "closed",
            FileDeletedEvent: "deleted",
            FileMovedEvent: "moved",
            DirCreatedEvent: "dir_created",
            DirMovedEvent: "dir_moved",
            DirDeletedEvent: "dir_deleted",
        }
        events = self._events

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                kind = kinds.get(type(event))
                if kind is not None:
                    events.put((kind, os.fsdecode(event.src_path), os.fsdecode(event.dest_path)))

        # watchdog logs an error when a stop races a pending inotify read; it is harmless.
        logging.getLogger("watchdog.observers.inotify").addFilter(_INACTIVE_EMITTER)
        observer = Observer()
        # Only inotify reports close-after-write; elsewhere the settle time is the whole rule.
        self._track_writes = type(observer).__name__ == "InotifyObserver"
        handler = Handler()
        for inbox in self.inboxes:
            observer.schedule(handler, str(inbox), recursive=True, event_filter=list(kinds))
        try:
            observer.start()
        except OSError as exc:  # e.g. inotify's watch or instance limit
            raise WatchError(
                f"cannot watch {', '.join(map(str, self.inboxes))}: {exc.strerror or exc}"
                + (" (raise fs.inotify.max_user_watches)" if "limit" in str(exc) else "")
            ) from None
        return observer

    # --- the loop ----------------------------------------------------------------------------

    def run(self, should_stop: StopCheck, *, once: bool = False) -> WatchSummary:
        """Catch up on the inboxes, then file complete files as they settle until
        `should_stop()` (checked between batches and, by the filer, between operations).
        `once`: no observer; file what is there (waiting for it to settle) and return."""
        summary = WatchSummary()
        start = time.perf_counter()
        self._once = once
        observer = None
        try:
            if not once:
                observer = self._start_observer()  # before the catch-up walk: nothing slips
            for inbox in self.inboxes:
                n = self._scan(inbox)
                log.info("watching %s (%d file(s) waiting)", inbox, n)
            next_look = 0.0
            while not should_stop():
                self._drain(0)
                if time.monotonic() >= next_look:  # stat the pending files every poll_s only
                    next_look = time.monotonic() + self.poll_s
                    ready = [(p, s) for p, s in self.queue.ready() if self._done.get(p) != s]
                    if ready:
                        for chunk in _chunks(ready, self.options.batch_max):
                            summary.add(self._process(chunk, should_stop))
                            if should_stop():
                                break
                        continue
                    if once and not len(self.queue):
                        break
                self._drain(max(0.0, next_look - time.monotonic()))
        finally:
            if observer is not None:
                observer.stop()
                observer.join()
        summary.stopped = should_stop()
        summary.elapsed_s = time.perf_counter() - start
        return summary

    def _remember(self, path: Path, sig: Signature) -> None:
        self._done[path] = sig
        self._done.move_to_end(path)
        while len(self._done) > DONE_MEMORY:
            self._done.popitem(last=False)

    def _staging_for(self, zip_path: Path) -> Path:
        tag = hashlib.sha1(os.fsencode(zip_path)).hexdigest()[:8]
        return self.staging / f"{zip_path.stem}-{tag}"

    def _process(self, items: list[tuple[Path, Signature]], should_stop: StopCheck) -> BatchReport:
        start = time.perf_counter()
        arrivals: list[Arrival] = []
        refused: list[str] = []
        errors: list[str] = []
        zips: list[tuple[Path, Path]] = []
        for path, sig in items:
            self._remember(path, sig)
            if is_pack_path(path):
                staging = self._staging_for(path)
                try:
                    files = extract(path, staging, self.options.pack_limits)
                except PackError as exc:
                    refused.append(str(exc))
                    log.warning("%s", exc)
                    continue
                except OSError as exc:
                    errors.append(f"{path}: cannot extract into {staging}: {exc.strerror or exc}")
                    log.error("%s", errors[-1])
                    continue
                if not files:  # not a sample pack (an installer, documents...): leave it
                    fsops.remove_tree(staging)
                    log.info("%s: no audio inside, left where it is", path)
                    continue
                log.info("pack %s: %d audio file(s)", path, len(files))
                arrivals.extend(Arrival(f, path.stem) for f in files)
                zips.append((path, staging))
            else:
                arrivals.append(Arrival(path, self.pack_of(path)))
        outcome = None
        if arrivals:
            try:
                outcome = self.filer(arrivals, should_stop)
            except SampleSortError as exc:  # e.g. the catalog is locked, the disk full
                retry = "" if self._once else f"; retrying in {RETRY_S:.0f} s"
                errors.append(f"{len(arrivals)} file(s) not filed: {exc}{retry}")
                log.error("%s", errors[-1])
                for path, _ in items:
                    self._done.pop(path, None)
                    if not self._once:
                        self.queue.touch(path, delay_s=RETRY_S)
            else:
                _log_outcome(outcome)
        complete = outcome is not None and not should_stop()
        kept = []
        for zip_path, staging in zips:
            kept_at = self._finish_pack(zip_path, staging, complete, errors)
            if kept_at is not None:
                kept.append(kept_at)
        report = BatchReport(
            arrivals=len(arrivals),
            outcome=outcome,
            refused=tuple(refused),
            errors=tuple(errors),
            kept_packs=tuple(kept),
            elapsed_s=time.perf_counter() - start,
        )
        if self.on_batch is not None:
            self.on_batch(report)
        return report

    def _finish_pack(
        self, zip_path: Path, staging: Path, complete: bool, errors: list[str]
    ) -> Path | None:
        """Tidy the staging folder; in move mode, move a fully handled zip to DEST/_packs."""
        if self.options.mode == "link":
            return None  # the links point into the staging folder: it stays
        fsops.remove_tree(staging)
        if self.options.mode != "move" or not complete:
            return None
        try:
            kept = _keep(zip_path, self.dest / PACKS_DIR)
        except OSError as exc:
            errors.append(f"{zip_path}: filed, but cannot move it to {PACKS_DIR}/: {exc}")
            log.error("%s", errors[-1])
            return None
        log.info("pack %s kept as %s", zip_path, kept)
        return kept


class _InactiveEmitterFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in record.getMessage()


_INACTIVE_EMITTER = _InactiveEmitterFilter()  # addFilter ignores a filter already there


def _keep(src: Path, folder: Path) -> Path:
    """Move `src` into `folder` under a free name, never overwriting (`fsops.move_file`)."""
    fsops.make_parents(folder / src.name)
    for _attempt in range(5):
        target = fsops.unique_path(folder / src.name)
        try:
            fsops.move_file(src, target, tmp=fsops.tmp_path_for(target, "pack"))
        except FileExistsError:
            continue
        return target
    raise OSError(17, f"no free name for {src.name}", str(folder))


def organize_filer(
    *,
    into: Path,
    mode: str,
    template: str | None,
    min_confidence: float,
    tag: bool,
    catalog: Catalog,
    model: ModelBundle,
    jobs: int | None = None,
    root: Path | None = None,
) -> Filer:
    """The filer the CLI uses: each batch is one `organize_sources` run of kind "watch"
    (analysed and recorded in `catalog`, planned with `template`, carried out and journaled),
    so `samplesort history` lists it (with `root`, the inbox) and `samplesort undo` reverses
    it. Raises `UsageError`
    for a bad template or option before anything is watched."""
    from .journal import Journal
    from .organize import DEFAULT_TEMPLATE, OrganizeOptions, Source, organize_sources

    options = OrganizeOptions(
        into=into,
        mode=mode,
        template=template or DEFAULT_TEMPLATE,
        min_confidence=min_confidence,
        tag=tag,
    )
    options.check()
    journal = Journal(catalog)
    dest = str(Path(os.path.abspath(into)))
    undone_runs: dict[int, frozenset[tuple[str, int | None, int | None]]] = {}

    def undone() -> set[tuple[str, int | None, int | None]]:
        """(path, size, mtime) of files an undo of a watch run into `into` put back."""
        out: set[tuple[str, int | None, int | None]] = set()
        for run in journal.runs():
            if run.kind != "watch" or run.undone_at is None or run.dest != dest:
                continue
            got = undone_runs.get(run.id)
            if got is None:
                got = frozenset(
                    (op.src, op.size, op.mtime_ns)
                    for op in journal.ops(run.id)
                    if op.kind in ("move", "copy", "link") and op.state == "undone" and op.src
                )
                if run.status == "undone":  # final; an undo-partial run may change
                    undone_runs[run.id] = got
            out |= got
        return out

    def filer(arrivals: Sequence[Arrival], should_stop: StopCheck) -> BatchOutcome:
        held = undone()
        todo = []
        for a in arrivals:
            try:
                st = os.stat(a.path)
            except OSError:
                todo.append(a)  # organize reports it
                continue
            if (str(a.path), st.st_size, st.st_mtime_ns) in held:
                log.info("%s: put back by an undo, left alone (touch it to file it again)", a.path)
            else:
                todo.append(a)
        left = len(arrivals) - len(todo)
        if not todo:
            return BatchOutcome(None, undone=left)
        result = organize_sources(
            [Source(a.path, a.pack) for a in todo],
            options,
            catalog=catalog,
            model=model,
            kind="watch",
            should_stop=should_stop,
            jobs=jobs,
            root=root,
        )
        if result.run_id is None:  # nothing to do: all skipped or failed before planning
            return BatchOutcome(None, (), result.skipped, result.errors, left)
        placed = {
            op.src: Path(op.dest)
            for op in journal.ops(result.run_id)
            if op.kind in ("move", "copy", "link") and op.state == "done"
        }
        filed = tuple(
            Filed(item.source, placed[str(item.source)], item.label, item.confidence, item.review)
            for item in result.items
            if str(item.source) in placed
        )
        return BatchOutcome(result.run_id, filed, result.skipped, result.errors, left)

    return filer


def _log_outcome(outcome: BatchOutcome) -> None:
    for f in outcome.filed:
        conf = f" {f.confidence:.2f}" if f.confidence is not None else ""
        what = "review" if f.review else "filed"
        log.info("%s %s -> %s (%s%s)", what, f.source, f.dest, f.label, conf)
    for e in outcome.errors:
        log.error("%s", e)
    if outcome.skipped:
        log.info("%d file(s) already filed by an earlier run", outcome.skipped)
    if outcome.run_id is not None:
        log.info(
            "run %d: %d file(s) placed, %d of them to review",
            outcome.run_id,
            len(outcome.filed),
            outcome.review,
        )
