"""How files in the inboxes reach the settle queue: which files are watched and which folders
ignored, catch-up walks, and the watchdog observer whose events (queued by its thread, handled
in the caller's) feed `settle.SettleQueue`. `watch.Watcher` takes the settled files from there.

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

The destination tree (with its staging and `_packs` folders) is ignored wherever it is, so DEST
inside INBOX does not loop; files already handed to the filer are remembered by (path, size,
mtime), so events caused by the filer itself (a copy reading its source) never re-file a file.
"""

from __future__ import annotations

import logging
import os
import queue
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from .audio import is_audio_path
from .errors import SampleSortError
from .packs import is_pack_path
from .settle import SettleQueue, Signature, is_temp_name, open_for_writing

JUNK_DIRS = frozenset({"__MACOSX", "$RECYCLE.BIN"})
DONE_MEMORY = 100_000  # files remembered as handed over (a long-lived service stays bounded)


class WatchError(SampleSortError):
    """The inboxes cannot be watched (one line naming them and why)."""


def is_wanted(path: Path) -> bool:
    """Files watch acts on: audio and zip packs under a final (non-temporary) name."""
    return not is_temp_name(path.name) and (is_audio_path(path) or is_pack_path(path))


class InboxEvents:
    """The inboxes as a settle queue of candidate files (`queue`): what is watched and what is
    ignored, catch-up walks, watchdog events, and the files already handed over."""

    def __init__(self, inboxes: Sequence[Path], dest: Path, settle_s: float) -> None:
        self.inboxes = tuple(Path(os.path.abspath(p)) for p in inboxes)
        self.dest = Path(os.path.abspath(dest))
        real = Path(os.path.realpath(self.dest))
        self._dest_roots = (self.dest,) if real == self.dest else (self.dest, real)
        self.queue = SettleQueue(
            settle_s,
            open_check=open_for_writing if os.path.isdir("/proc/self/fdinfo") else None,
        )
        self._events: queue.SimpleQueue[tuple[str, str, str]] = queue.SimpleQueue()
        # (size, mtime) of every file handed to the filer, newest last, at most DONE_MEMORY.
        self._done: OrderedDict[Path, Signature] = OrderedDict()
        self._track_writes = False

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

    def _remember(self, path: Path, sig: Signature) -> None:
        self._done[path] = sig
        self._done.move_to_end(path)
        while len(self._done) > DONE_MEMORY:
            self._done.popitem(last=False)


class _InactiveEmitterFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in record.getMessage()


_INACTIVE_EMITTER = _InactiveEmitterFilter()  # addFilter ignores a filter already there
