"""The only executor of a plan; `undo` (in `actions_undo.py`) reverses what it did.

`execute` carries out a list of `Action`s (move / copy / link / tag, plus the folders they need)
one at a time, journaling each before and after it happens (see `journal.py`); per-item failures
are collected and the run goes on. `should_stop` is checked between operations, so a stop request
(Ctrl-C, SIGTERM in watch) never leaves half an operation. Each run writes a path map
(`old_path,new_path` CSV, `actions_report.write_pathmap`) into its run folder so DAW projects
can be relinked. `FAULT_ENV` names the test hook that SIGKILLs the process at an operation
boundary. Re-exports `undo` and `UndoResult` (`actions_undo`) and `write_pathmap`.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fsops
from .actions_report import write_pathmap
from .actions_undo import UndoResult, undo
from .errors import SampleSortError, reason
from .journal import Journal, Op

__all__ = [
    "FAULT_ENV",
    "Action",
    "Outcome",
    "Progress",
    "UndoResult",
    "execute",
    "undo",
    "write_pathmap",
]

FAULT_ENV = "SAMPLESORT_FAULT"  # test hook: "before:N" / "after:N" -> SIGKILL at the Nth op
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Action:
    """One change. `base` names an earlier action whose final destination this one follows:
    a sidecar goes beside it as `<final name><suffix>`; a tag applies to the file it produced
    (for a link: to the original it points at)."""

    kind: str  # move | copy | link | tag
    dest: Path | None = None
    src: Path | None = None
    base: int | None = None
    suffix: str = ""
    tags: Any = None  # tags.SampleTags for "tag"


@dataclass(frozen=True)
class Outcome:
    run_id: int
    done: int
    failed: int
    skipped: int
    errors: tuple[str, ...]
    interrupted: bool
    final: dict[int, Path] = field(default_factory=dict)  # action index -> where it ended
    pathmap: Path | None = None

    @property
    def status(self) -> str:
        if self.interrupted:
            return "interrupted"
        if self.errors:
            return "partial" if self.done else "error"
        return "ok"


class _Faults:
    def __init__(self) -> None:
        spec = os.environ.get(FAULT_ENV, "")
        point, _, n = spec.partition(":")
        self.point, self.at = point, int(n) if n.isdigit() else 0
        self.seen: dict[str, int] = {}

    def hit(self, point: str) -> None:
        if point != self.point:
            return
        self.seen[point] = self.seen.get(point, 0) + 1
        if self.seen[point] == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


def _stat(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


class _Executor:
    def __init__(
        self,
        journal: Journal,
        run_id: int,
        into: Path | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        self.j, self.run_id, self.into = journal, run_id, into
        self.into_existed = into is not None and into.is_dir()
        self.should_stop = should_stop or (lambda: False)
        self.seq = 0
        self.faults = _Faults()
        self.errors: list[str] = []
        self.done = self.failed = self.skipped = 0
        self.final: dict[int, Path] = {}
        self.pathmap: list[tuple[str, str, str]] = []

    def _pending(self, kind: str, **kw: Any) -> Op:
        self.seq += 1
        op_id = self.j.pending(self.run_id, self.seq, kind, **kw)
        self.faults.hit("before")
        return self.j.op(op_id)

    def _done(self, op: Op, **kw: Any) -> None:
        self.faults.hit("after")
        self.j.done(op, **kw)

    def ensure_dir(self, folder: Path) -> None:
        """Create `folder` and missing parents, each a journaled `mkdir` (undo removes them
        if they are empty again). Only `--into`, its missing parents and folders inside it are
        created; if `--into` existed when the run began and is gone (an unplugged disk), the
        operation fails rather than recreate it somewhere else."""
        missing: list[Path] = []
        p = folder
        while not p.exists():
            into = self.into
            if into is None or not (p == into or into in p.parents or p in into.parents):
                raise FileNotFoundError(2, f"folder {p} does not exist", str(p))
            if self.into_existed and (p == into or p in into.parents):
                raise FileNotFoundError(2, f"the destination {into} has vanished", str(into))
            missing.append(p)
            p = p.parent
        for d in reversed(missing):
            op = self._pending("mkdir", dest=d)
            try:
                fsops.make_dir(d)
            except FileExistsError:
                self.j.failed(op.id, "exists")
                continue
            except OSError as exc:
                self.j.failed(op.id, reason(exc))
                raise
            self._done(op)

    def place(self, i: int, a: Action, dest: Path) -> None:
        assert a.src is not None
        src = a.src
        size, mtime = _stat(src)
        self.ensure_dir(dest.parent)
        for _attempt in range(5):
            target = fsops.unique_path(dest)
            tmp = fsops.tmp_path_for(target, f"{self.run_id}-{self.seq + 1}")
            op = self._pending(a.kind, src=src, dest=target, tmp=tmp, size=size, mtime_ns=mtime)
            digest = None  # a copy's SHA-256: undo removes only a copy it can prove is its own
            try:
                if a.kind == "move":
                    fsops.move_file(src, target, tmp=tmp)
                elif a.kind == "copy":
                    digest = fsops.copy_file(src, target, tmp=tmp)
                else:
                    fsops.link_file(src, target)
            except FileExistsError:
                self.j.failed(op.id, "name taken meanwhile; trying the next free name")
                continue
            except OSError as exc:
                self.j.failed(op.id, reason(exc))
                raise
            self._done(op, new_sha256=digest)
            self.final[i] = target
            self.pathmap.append((str(src), str(target), a.kind))
            return
        raise OSError(17, f"no free name for {dest}")

    def tag(self, i: int, a: Action, path: Path) -> None:
        from . import tags

        size, mtime = _stat(path)
        backup = self.j.run_dir(self.run_id) / "backup" / f"{self.seq + 1}{path.suffix}"
        # The backup comes first (a crash leaves at most an unused copy in the run folder) and
        # its copy pass yields the original's SHA-256, recorded before the file is rewritten.
        sha = fsops.backup_file(path, backup)
        op = self._pending("tag", dest=path, backup=backup, size=size, mtime_ns=mtime, sha256=sha)
        try:
            tags.write_tags(path, a.tags)
        except (OSError, SampleSortError) as exc:
            self.j.failed(op.id, reason(exc))
            raise
        self._done(op, new_sha256=fsops.sha256_file(path))
        self.final[i] = path

    def run(self, actions: Sequence[Action], progress: Progress | None) -> bool:
        """Carry out `actions`; True if stopped early on request."""
        for i, a in enumerate(actions):
            if self.should_stop():
                return True
            try:
                if a.base is not None and a.base not in self.final:
                    self.skipped += 1  # what it depends on failed (already reported)
                    continue
                if a.kind == "tag":
                    base = actions[a.base] if a.base is not None else None
                    if base is not None and base.kind == "link" and base.src is not None:
                        path = base.src
                    elif a.base is not None:
                        path = self.final[a.base]
                    else:
                        assert a.dest is not None
                        path = a.dest
                    self.tag(i, a, path)
                else:
                    if a.base is not None:
                        main = self.final[a.base]
                        dest = main.with_name(main.name + a.suffix)
                    else:
                        assert a.dest is not None
                        dest = a.dest
                    self.place(i, a, dest)
                self.done += 1
            except (OSError, SampleSortError) as exc:
                self.failed += 1
                what = a.src or a.dest
                verb = {"tag": "cannot tag"}.get(a.kind, f"cannot {a.kind} to {a.dest}")
                self.errors.append(f"{what}: {verb}: {reason(exc)}")
            if progress:
                progress(1)
        return False


def execute(
    actions: Sequence[Action],
    journal: Journal,
    run_id: int,
    *,
    into: Path | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Carry out `actions` as run `run_id` (already begun); finish the run in the journal."""
    ex = _Executor(journal, run_id, into, should_stop)
    stopped = False
    try:
        stopped = ex.run(actions, progress)
    except KeyboardInterrupt:
        stopped = True
    pathmap = write_pathmap(journal, run_id, ex.pathmap)
    out = Outcome(
        run_id, ex.done, ex.failed, ex.skipped, tuple(ex.errors), stopped, ex.final, pathmap
    )
    counts = {"done": ex.done, "failed": ex.failed, "skipped": ex.skipped}
    journal.finish_run(run_id, out.status, counts, pathmap)
    return out
