"""Planning a library scan: walk a folder (or take a list of files), stat every audio file and
compare it with the catalog, without reading audio or writing anything.

    plan = plan_scan(root, catalog)      # new / changed / unchanged / missing / unreadable
    plan = plan_files(paths, catalog)    # the same for given files (organize), nothing missing

A path whose size and mtime match its row (and whose features are of the current schema) is
unchanged; one whose last analysis failed stays failing unless `retry_errors`. Catalogued paths
under the root that the walk no longer finds are missing (never under a folder that could not
be listed). `library.run_scan` carries the resulting `ScanPlan` out.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import pipeline
from .catalog import Catalog, Known, Record
from .errors import UsageError
from .features import FEATURE_SCHEMA_VERSION


@dataclass(frozen=True)
class Pending:
    """A file to analyse, with the stat taken before reading it."""

    path: Path
    size: int
    mtime_ns: int
    is_new: bool


@dataclass(frozen=True)
class ScanPlan:
    root: Path
    todo: tuple[Pending, ...]
    unchanged: int
    still_failing: int  # unchanged files whose last analysis failed (not retried)
    restored: tuple[str, ...]  # back at their catalogued path, unchanged
    missing: tuple[str, ...]  # catalogued under root, no longer on disk
    failures: tuple[Record, ...]  # files that cannot even be stat'ed (broken links, loops)
    errors: tuple[tuple[str, str], ...]  # (path, message): walk errors and vanished files
    skipped_non_audio: int
    vanished: int = 0  # listed by the walk, gone before they could be stat'ed


def _stat_error(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"{path}: broken symbolic link (its target does not exist)"
    if exc.errno == errno.ELOOP:
        return f"{path}: symbolic link loop"
    return f"{path}: cannot read: {exc.strerror or exc}"


def _under(path: str, folders: Sequence[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


def plan_scan(root: Path, catalog: Catalog, *, retry_errors: bool = False) -> ScanPlan:
    """Walk `root` and compare every audio file's size and mtime with the catalog. Reads no
    audio and writes nothing."""
    root = Path(os.path.abspath(root))
    if not root.is_dir():
        raise UsageError(f"{root}: not a folder (scan takes the folder of a sample library)")
    found = pipeline.walk([root])
    known = catalog.index(str(root))
    unlisted = [str(e.path) for e in found.errors]
    errors = [(str(e.path), e.error or "cannot list") for e in found.errors]
    c = _compare(found.files, known, retry_errors=retry_errors)
    errors += c.errors
    seen = c.seen
    missing = tuple(
        path
        for path, k in known.items()
        if not k.missing and path not in seen and not _under(path, unlisted)
    )
    return c.plan(root, missing=missing, errors=tuple(errors), skipped=found.skipped_non_audio)


def plan_files(files: Sequence[Path], catalog: Catalog, *, retry_errors: bool = False) -> ScanPlan:
    """Like `plan_scan`, for a given list of audio files (no walk; nothing marked missing)."""
    paths = [Path(os.path.abspath(p)) for p in files]
    root = Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else Path("/")
    c = _compare(paths, catalog.index(str(root)), retry_errors=retry_errors)
    return c.plan(root, missing=(), errors=c.errors, skipped=0)


@dataclass(frozen=True)
class _Compared:
    todo: tuple[Pending, ...]
    failures: tuple[Record, ...]
    restored: tuple[str, ...]
    seen: set[str]
    errors: tuple[tuple[str, str], ...]
    unchanged: int
    still_failing: int
    vanished: int

    def plan(
        self,
        root: Path,
        *,
        missing: tuple[str, ...],
        errors: tuple[tuple[str, str], ...],
        skipped: int,
    ) -> ScanPlan:
        return ScanPlan(
            root=root,
            todo=self.todo,
            unchanged=self.unchanged,
            still_failing=self.still_failing,
            restored=self.restored,
            missing=missing,
            failures=self.failures,
            errors=errors,
            skipped_non_audio=skipped,
            vanished=self.vanished,
        )


def _compare(files: Sequence[Path], known: dict[str, Known], *, retry_errors: bool) -> _Compared:
    """Stat each file and sort it: to analyse (new / changed / other schema / retried error),
    unchanged, still failing, back from missing, unreadable, vanished."""
    errors: list[tuple[str, str]] = []
    todo: list[Pending] = []
    failures: list[Record] = []
    restored: list[str] = []
    seen: set[str] = set()
    unchanged = still_failing = vanished = 0
    for p in files:
        s = str(p)
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            errors.append((s, f"{s!r}: file name is not valid UTF-8; rename it to catalogue it"))
            continue
        try:
            st = os.stat(p)
        except OSError as exc:
            if os.path.lexists(p):  # a broken link or a loop stays an error row until fixed
                seen.add(s)
                failures.append(Record(s, None, None, error=_stat_error(p, exc)))
            else:
                vanished += 1
                errors.append((s, f"{s}: vanished during the scan"))
            continue
        seen.add(s)
        k = known.get(s)
        same = k is not None and k.size == st.st_size and k.mtime_ns == st.st_mtime_ns
        if same and k is not None:
            if k.failed and not retry_errors:
                still_failing += 1
            elif not k.failed and k.feature_schema == FEATURE_SCHEMA_VERSION:
                unchanged += 1
            else:
                todo.append(Pending(p, st.st_size, st.st_mtime_ns, False))
                continue
            if k.missing:
                restored.append(s)
            continue
        todo.append(Pending(p, st.st_size, st.st_mtime_ns, k is None))
    return _Compared(
        tuple(todo),
        tuple(failures),
        tuple(restored),
        seen,
        tuple(errors),
        unchanged,
        still_failing,
        vanished,
    )
