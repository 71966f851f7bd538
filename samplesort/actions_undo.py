"""`undo`: reverse a run of the executor (`actions.execute`), newest operation first.

It decides from the disk what each operation did, so it also reverses a run killed
mid-operation: a move caught between its hard link and its unlink (both names, one file), a
cross-filesystem copy not yet removed from the source, a temporary file left behind, a tag
write that did or did not land (tag writes are atomic replaces, and the original bytes were
backed up before). It never deletes a file it cannot prove is its own copy (same SHA-256) and
never overwrites: conflicts are reported, the files left where they are. The moves back are
written to `undo-pathmap.csv` in the run's folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import fsops
from .actions_report import write_pathmap
from .errors import SampleSortError, reason
from .journal import Journal, Op


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
            u.errors.append(f"{op.dest}: cannot undo {op.kind}: {reason(exc)}")
    pathmap = None
    if not dry_run:
        pathmap = write_pathmap(journal, run_id, u.pathmap, "undo-pathmap.csv")
        journal.set_undone(run_id, "undo-partial" if u.errors else "undone")
    return UndoResult(
        run_id, u.reversed, tuple(u.errors), tuple(u.notes), tuple(u.steps), pathmap, dry_run
    )
