"""The watch-folder engine: a watchdog observer on each inbox -> a settle queue -> batches of
complete files handed to a filer (in the CLI: organize, so each batch is one journaled run).

This module owns the filing loop: `Watcher.run` takes the files that have settled, extracts zip
packs, hands batches to the filer, retries a batch the filer failed as a whole, and reports
each batch. When a file is complete, and which files and events count, is `watch_events`'s;
the filer contract and the CLI's filer (`organize_filer`) are `watch_filer`'s. Their public
names are importable from here.

On start the inboxes are walked, so what arrived while the watcher was not running is caught
up. Across restarts the filer is responsible: organize skips a file it has already filed, and
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
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import fsops
from .errors import SampleSortError
from .packs import PackError, PackLimits, extract, is_pack_path
from .settle import Signature
from .watch_events import DONE_MEMORY, JUNK_DIRS, InboxEvents, WatchError, is_wanted
from .watch_filer import (
    Arrival,
    BatchOutcome,
    Filed,
    Filer,
    StopCheck,
    organize_filer,
)

__all__ = [
    "DONE_MEMORY",
    "JUNK_DIRS",
    "MODES",
    "PACKS_DIR",
    "RETRY_S",
    "STAGING_DIR",
    "Arrival",
    "BatchOutcome",
    "BatchReport",
    "Filed",
    "Filer",
    "StopCheck",
    "WatchError",
    "WatchOptions",
    "WatchSummary",
    "Watcher",
    "is_wanted",
    "organize_filer",
]

log = logging.getLogger(__name__)

STAGING_DIR = ".samplesort-staging"
PACKS_DIR = "_packs"
RETRY_S = 60.0  # a batch the filer failed as a whole (catalog locked, disk full) is retried
MODES = ("move", "copy", "link")


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


def _chunks(items: Sequence[tuple[Path, Signature]], n: int) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield list(items[i : i + n])


class Watcher(InboxEvents):
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
        super().__init__(options.inboxes, options.dest, options.settle_s)
        self.options = options
        self.filer = filer
        self.on_batch = on_batch
        self.staging = self.dest / STAGING_DIR
        self.poll_s = min(0.25, max(0.02, options.settle_s / 4))
        self._once = False

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
