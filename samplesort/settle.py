"""When a file in an inbox is complete: temporary download names, and the settle queue (size
and mtime unchanged for the settle time; held while a writer has the file open — known from
close-after-write events, or, for a file found by a walk, from /proc on Linux).

Pure bookkeeping over `os.stat` and /proc: it never opens, moves or deletes a file.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

TEMP_SUFFIXES = frozenset(
    {".crdownload", ".part", ".partial", ".download", ".tmp", ".opdownload", ".!ut", ".filepart"}
)
WRITE_STALL_S = 300.0
OPEN_RECHECK_S = 1.0  # a found file held open for writing by a process: look again this often


def is_temp_name(name: str) -> bool:
    """A name a download or an editor uses while the file is incomplete (or a hidden file)."""
    if name.startswith((".", "~$")):
        return True
    return any(name.lower().endswith(s) for s in TEMP_SUFFIXES)


Signature = tuple[int, int]  # (size, mtime_ns)


@dataclass
class _Pending:
    since: float
    writing: bool
    tracked: bool  # its writes are seen as events (it appeared while watched, or was closed)
    sig: Signature | None = None
    recheck_at: float | None = None  # held because a process has it open: look again then


def open_for_writing(paths: Iterable[Path]) -> set[Path]:
    """Linux: which of `paths` a process (one we may inspect: the user's own) holds open for
    writing, from /proc/<pid>/fd and fdinfo. Elsewhere, or without /proc, none."""
    want = {os.path.realpath(p): p for p in paths}
    busy: set[Path] = set()
    try:
        pids = [d for d in os.listdir("/proc") if d.isdigit()]
    except OSError:
        return busy
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                p = want.get(os.readlink(f"{fd_dir}/{fd}"))
            except OSError:
                continue
            if p is None or p in busy:
                continue
            flags = os.O_RDWR  # if fdinfo cannot be read, assume the worst
            try:
                with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                    for line in info:
                        if line.startswith("flags:"):
                            flags = int(line.split()[1], 8)
                            break
            except (OSError, ValueError):
                pass
            if flags & (os.O_WRONLY | os.O_RDWR):
                busy.add(p)
    return busy


class SettleQueue:
    """Paths waiting to be complete. `touch` on every event; `ready` stats them and hands out
    those that kept their size and mtime for the settle time (and are not open for writing)."""

    def __init__(
        self,
        settle_s: float,
        *,
        stall_s: float = WRITE_STALL_S,
        clock: Callable[[], float] = time.monotonic,
        open_check: Callable[[Iterable[Path]], set[Path]] | None = None,
    ) -> None:
        self.settle_s = settle_s
        self.stall_s = stall_s
        self.clock = clock
        self.open_check = open_check
        self._pending: dict[Path, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, path: object) -> bool:
        return path in self._pending

    def touch(
        self,
        path: Path,
        *,
        writing: bool | None = None,
        tracked: bool = False,
        delay_s: float = 0.0,
    ) -> None:
        """Something happened to `path`: restart its clock (`delay_s` later). `writing`: True
        after a write event, False after close-after-write or a rename into place, None to
        keep. `tracked`: its writes and closes will show up as events (it was created while
        watched); a file found by a walk is not, and is checked with `open_check` instead."""
        now = self.clock() + delay_s
        entry = self._pending.get(path)
        if entry is None:
            self._pending[path] = _Pending(since=now, writing=bool(writing), tracked=tracked)
            return
        entry.since, entry.sig = now, None
        entry.tracked = entry.tracked or tracked
        if writing is not None:
            entry.writing, entry.recheck_at = writing, None

    def discard(self, path: Path) -> None:
        self._pending.pop(path, None)

    def discard_under(self, folder: Path) -> None:
        for p in [p for p in self._pending if p.is_relative_to(folder)]:
            del self._pending[p]

    def ready(self) -> list[tuple[Path, Signature]]:
        """Remove and return the complete files with their (size, mtime_ns), oldest first.
        Vanished files and files that stayed empty for the settle time are dropped."""
        now = self.clock()
        quiet_ones: list[tuple[Path, _Pending, Signature, float]] = []
        for path, entry in list(self._pending.items()):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                del self._pending[path]
                continue
            except OSError as exc:
                log.warning("%s: cannot stat: %s", path, exc.strerror or exc)
                del self._pending[path]
                continue
            sig = (st.st_size, st.st_mtime_ns)
            if sig != entry.sig:
                entry.sig, entry.since = sig, max(now, entry.since)  # (a retry may wait longer)
                continue
            quiet = now - entry.since
            if quiet < self.settle_s:
                continue
            if entry.recheck_at is not None:  # held open by a process: look again when due
                if now < entry.recheck_at:
                    continue
            elif entry.writing and quiet < self.stall_s:
                continue
            quiet_ones.append((path, entry, sig, quiet))
        untracked = [p for p, e, _, _ in quiet_ones if not e.tracked]
        busy = self.open_check(untracked) if untracked and self.open_check else set()
        out: list[tuple[Path, Signature]] = []
        for path, entry, sig, quiet in quiet_ones:
            if path in busy:  # unchanged, but a process holds it open for writing
                entry.writing, entry.recheck_at = True, now + OPEN_RECHECK_S
                continue
            del self._pending[path]
            if sig[0] == 0:
                log.debug("%s: still empty after %.1f s, dropped", path, quiet)
                continue
            if entry.writing and entry.recheck_at is None:
                log.warning("%s: no close event after %.0f s unchanged, taken", path, quiet)
            out.append((path, sig))
        return out
