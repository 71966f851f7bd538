"""The only executor of a plan, and its undo.

`execute` carries out a list of `Action`s (move / copy / link / tag, plus the folders they need)
one at a time, journaling each before and after it happens (see `journal.py`); per-item failures
are collected and the run goes on. `should_stop` is checked between operations, so a stop request
(Ctrl-C, SIGTERM in watch) never leaves half an operation. Each run writes a path map
(`old_path,new_path` CSV) into its run folder so DAW projects can be relinked.

`undo` reverses a run in reverse order, deciding from the disk what each operation did — so it
also reverses a run killed mid-operation: a move caught between its hard link and its unlink
(both names, one file), a cross-filesystem copy not yet removed from the source, a temporary file
left behind, a tag write that did or did not land (tag writes are atomic replaces, and the
original bytes were backed up before). It never deletes a file it cannot prove is its own copy
(same SHA-256) and never overwrites: conflicts are reported, the files left where they are.
"""

from __future__ import annotations

import csv
import io
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fsops
from .errors import SampleSortError
from .journal import Journal, Op

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


@dataclass(frozen=True)
class UndoResult:
    run_id: int
    reversed: int
    errors: tuple[str, ...]
    notes: tuple[str, ...]
    steps: tuple[str, ...]  # what was (or, in a dry run, would be) done, one line each
    pathmap: Path | None
    dry_run: bool = False

    @property
    def status(self) -> str:
        return "partial" if self.errors else "ok"


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


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        text = exc.strerror or str(exc)
        return text[0].lower() + text[1:] if text else "error"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


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
                self.j.failed(op.id, _why(exc))
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
                self.j.failed(op.id, _why(exc))
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
            self.j.failed(op.id, _why(exc))
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
                self.errors.append(f"{what}: {verb}: {_why(exc)}")
            if progress:
                progress(1)
        return False


def write_pathmap(
    journal: Journal, run_id: int, rows: Sequence[tuple[str, str, str]], name: str = "pathmap.csv"
) -> Path:
    """`old_path,new_path,operation` CSV in the run's folder (written atomically)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("old_path", "new_path", "operation"))
    w.writerows(rows)
    path = journal.run_dir(run_id) / name
    fsops.write_text(path, buf.getvalue())
    return path


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


# --- undo ---------------------------------------------------------------------------------------


def _same_content(a: Path, sha: str | None) -> bool:
    try:
        return sha is not None and fsops.sha256_file(a) == sha
    except OSError:
        return False


class _Undo:
    def __init__(self, journal: Journal, dry_run: bool) -> None:
        self.j, self.dry_run = journal, dry_run
        self.steps: list[str] = []
        self.errors: list[str] = []
        self.notes: list[str] = []
        self.pathmap: list[tuple[str, str, str]] = []
        self.reversed = 0

    def _act(self, op: Op, step: str, fn: Callable[[], None] | None) -> None:
        self.steps.append(step)
        if self.dry_run:
            return
        if fn is not None:
            fn()
        self.j.undone(op)
        self.reversed += 1

    def _clean_tmp(self, op: Op) -> None:
        if op.tmp and os.path.lexists(op.tmp) and not self.dry_run:
            fsops.remove_file(Path(op.tmp))

    def move(self, op: Op) -> None:
        assert op.src is not None
        src, dest = Path(op.src), Path(op.dest)
        self._clean_tmp(op)
        has_src, has_dest = os.path.lexists(src), os.path.lexists(dest)
        if has_dest and not has_src:

            def back() -> None:
                fsops.make_parents(src)
                fsops.move_file(dest, src, tmp=fsops.tmp_path_for(src, "undo"))

            self._act(op, f"move {dest} -> {src}", back)
            self.pathmap.append((str(dest), str(src), "move"))
        elif has_dest and has_src:
            if fsops.same_file_content(src, dest):
                # killed between claiming the new name and removing the old one (one file under
                # two names, or a verified cross-filesystem copy not yet removed from the source)
                self._act(
                    op,
                    f"remove {dest} (the move had not finished)",
                    lambda: fsops.remove_file(dest),
                )
            else:
                self.errors.append(
                    f"{dest}: cannot move back to {src}: another file now has that name; "
                    "both left in place"
                )
        elif has_src:
            self._act(op, f"nothing to do for {src} (it was never moved)", None)
        else:
            self.errors.append(f"{src}: gone from both {src} and {dest}; nothing to restore")

    def copy(self, op: Op) -> None:
        dest = Path(op.dest)
        self._clean_tmp(op)
        if not os.path.lexists(dest):
            self._act(op, f"nothing to do for {dest} (the copy never landed)", None)
        elif (
            _same_content(dest, op.new_sha256)
            if op.new_sha256
            else fsops.same_file_content(dest, Path(op.src or ""))  # killed before "done"
        ):
            self._act(op, f"remove copy {dest}", lambda: fsops.remove_file(dest))
        else:
            self.errors.append(f"{dest}: changed since it was copied; left in place")

    def link(self, op: Op) -> None:
        dest = Path(op.dest)
        if not os.path.lexists(dest):
            self._act(op, f"nothing to do for {dest} (the link never landed)", None)
        elif dest.is_symlink() and os.readlink(dest) == os.path.abspath(op.src or ""):
            self._act(op, f"remove link {dest}", lambda: fsops.remove_file(dest))
        else:
            self.errors.append(f"{dest}: no longer samplesort's link; left in place")

    def tag(self, op: Op) -> None:
        path = Path(op.dest)
        backup = Path(op.backup or "")
        if not self.dry_run:  # a tag write killed before its atomic replace leaves its copy
            from .tags import leftover_temps

            for t in leftover_temps(path):
                fsops.remove_file(t)
        if not os.path.exists(path):
            self.errors.append(f"{path}: gone; its untagged original is kept at {backup}")
        elif _same_content(path, op.sha256):
            self._act(op, f"nothing to do for {path} (the tags never landed)", None)
        elif op.new_sha256 is None or _same_content(path, op.new_sha256):
            if not _same_content(backup, op.sha256):
                self.errors.append(f"{path}: its backup {backup} is missing or damaged")
                return
            self._act(
                op, f"restore {path} from before tagging", lambda: fsops.restore_file(backup, path)
            )
        else:
            self.errors.append(
                f"{path}: changed since it was tagged; left as is (the original is at {backup})"
            )

    def mkdir(self, op: Op) -> None:
        d = Path(op.dest)
        if not d.exists():
            self._act(op, f"nothing to do for folder {d}", None)
            return
        try:
            empty = not any(d.iterdir())
        except OSError:
            empty = False
        if empty:
            self._act(op, f"remove folder {d}", lambda: fsops.remove_dir(d))
        else:
            self.notes.append(f"{d}: folder kept: it holds files that are not from this run")
            if not self.dry_run:
                self.j.undone(op)


def undo(journal: Journal, run_id: int, *, dry_run: bool = False) -> UndoResult:
    """Reverse run `run_id` (every operation that happened or may have, newest first)."""
    run = journal.run(run_id)
    if run is None:
        raise SampleSortError(f"run {run_id}: no such run in {journal.catalog.path}")
    if run.status == "running":
        raise SampleSortError(f"run {run_id} is still running (process alive); stop it first")
    u = _Undo(journal, dry_run)
    for op in reversed(journal.ops(run_id)):
        if op.state not in ("done", "pending"):
            continue
        try:
            getattr(u, op.kind)(op)
        except (OSError, SampleSortError) as exc:
            u.errors.append(f"{op.dest}: cannot undo {op.kind}: {_why(exc)}")
    pathmap = None
    if not dry_run:
        pathmap = write_pathmap(journal, run_id, u.pathmap, "undo-pathmap.csv")
        journal.set_undone(run_id, "undo-partial" if u.errors else "undone")
    return UndoResult(
        run_id, u.reversed, tuple(u.errors), tuple(u.notes), tuple(u.steps), pathmap, dry_run
    )
