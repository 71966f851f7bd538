"""Library scan orchestration: plan a scan against the catalog, analyse what is new or changed
(joblib processes, or a Dask cluster through joblib's Dask backend), classify and record in
batches; reclassify the catalog from stored features; nothing here touches an audio file's bytes.

    plan = plan_scan(root, catalog)      # walk + stat only: new / changed / unchanged / missing
    result = run_scan(plan, catalog, model, jobs=2, progress=...)

Incremental: a path whose size and mtime match its row (and whose features are of the current
schema) is not decoded. A new path whose content hash matches a row whose file is gone is a move:
that row takes the new path and keeps its analysis. Catalogued paths under the root that the walk
no longer finds are marked missing (never under a folder that could not be listed).

Resumable: results are committed every `WRITE_BATCH` files, so after Ctrl-C or kill -9 the next
scan sees the committed files as unchanged and analyses only the rest. Memory is bounded: paths
stream through `pipeline.analyse_many` and only one batch of results is held at a time.

Library code: never prints, never exits; per-file failures are collected, never raised.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import pipeline
from .catalog import Catalog, Known, Record
from .decide import decide
from .errors import SampleSortError, SchemaMismatch, UsageError
from .features import FEATURE_SCHEMA_VERSION
from .records import FileResult

if TYPE_CHECKING:
    from .model import ModelBundle

WRITE_BATCH = 64
RECLASSIFY_CHUNK = 4096
BACKENDS = ("loky", "dask")
# progress(files_done, errors_among_them)
ScanProgress = Callable[[int, int], None]


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


@dataclass(frozen=True)
class ScanResult:
    root: Path
    catalog: Path
    counts: dict[str, int]
    errors: tuple[tuple[str, str], ...]  # (path, one-line message), this run only
    elapsed_s: float
    interrupted: bool = False

    @property
    def status(self) -> str:
        return "interrupted" if self.interrupted else "partial" if self.errors else "ok"


@dataclass(frozen=True)
class ReclassifyResult:
    model_id: str
    rows: int
    distinct: int  # distinct feature vectors actually scored
    changed: int  # rows whose label changed
    other_schema: int  # rows whose features are of another schema (rescan them)
    elapsed_s: float
    labels: dict[str, int] = field(default_factory=dict)


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


def check_backend(backend: str, scheduler: str | None) -> None:
    if backend not in BACKENDS:
        raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "loky" and scheduler:
        raise UsageError("--scheduler goes with --backend dask")
    if backend == "dask" and not scheduler:
        raise UsageError("--backend dask needs --scheduler tcp://HOST:PORT")


@contextmanager
def parallel_backend(backend: str, *, jobs: int | None, scheduler: str | None) -> Iterator[int]:
    """Enter the joblib backend for analysis; yields the `jobs` to give `analyse_many`.
    `dask` connects a `dask.distributed.Client` to `scheduler` (catalog writes stay here)."""
    check_backend(backend, scheduler)
    if backend == "loky":
        yield pipeline.resolve_jobs(jobs)
        return
    try:
        import joblib
        from dask.distributed import Client
    except ImportError:
        raise UsageError(
            "--backend dask needs dask.distributed: pip install 'samplesort[dask]'"
        ) from None
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise SampleSortError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    try:
        with joblib.parallel_config(backend="dask"):
            # joblib runs a 1-thread cluster sequentially on the client; ask for at least 2.
            yield max(2, sum(client.nthreads().values()))
    finally:
        client.close()


def _record(p: Pending, r: FileResult, pred: object | None, model_id: str) -> Record:
    from .records import Prediction

    s = str(p.path)
    if r.error is not None or r.features is None:
        readable = os.access(p.path, os.R_OK)  # a permission problem is retried next scan
        return Record(
            s,
            p.size if readable else None,
            p.mtime_ns if readable else None,
            error=r.error or "no features",
        )
    assert isinstance(pred, Prediction)
    m = r.meta
    return Record(
        path=s,
        size=p.size,
        mtime_ns=p.mtime_ns,
        content_hash=str(m.get("content_hash")),
        duration_s=float(m["duration_s"]),  # type: ignore[arg-type]
        format=str(m.get("format")),
        sr_hz=int(m["sr_hz"]),  # type: ignore[call-overload]
        channels=int(m["channels"]),  # type: ignore[call-overload]
        features=np.asarray(r.features.values, dtype="<f4").tobytes(),
        feature_schema=r.features.schema_version,
        label=pred.label,
        confidence=round(pred.confidence, 4),
        labels=pred.labels,
        scores=pred.scores,
        model_id=model_id,
    )


def run_scan(
    plan: ScanPlan,
    catalog: Catalog,
    model: ModelBundle | None = None,
    *,
    jobs: int | None = None,
    backend: str = "loky",
    scheduler: str | None = None,
    progress: ScanProgress | None = None,
    started: float | None = None,
) -> ScanResult:
    """Carry out a plan: mark missing / restored files, analyse and classify the rest, commit
    every `WRITE_BATCH` files. Ctrl-C commits what is analysed and returns `interrupted`.
    `started` (a `time.perf_counter()` value) dates the result's `elapsed_s`, e.g. from before
    planning."""
    t0 = time.perf_counter() if started is None else started
    counts = dict.fromkeys(("new", "changed", "moved", "analysed", "errors", "other_model"), 0) | {
        "vanished": plan.vanished,
        "unchanged": plan.unchanged,
        "still_failing": plan.still_failing,
        "restored": len(plan.restored),
        "missing": len(plan.missing),
        "skipped_non_audio": plan.skipped_non_audio,
    }
    errors = list(plan.errors)
    missing = set(plan.missing)
    scan_id = catalog.begin_scan(str(plan.root))
    catalog.set_missing(plan.missing)
    catalog.set_missing(plan.restored, missing=False)
    if plan.failures:
        catalog.record(plan.failures, path_exists=os.path.lexists)
        errors.extend((r.path, r.error or "") for r in plan.failures)
    buffer: list[tuple[Pending, FileResult]] = []

    def flush() -> None:
        assert model is not None
        ok = [r for _, r in buffer if r.features is not None and r.error is None]
        preds = iter(())
        if ok:
            X = np.stack([r.features.values for r in ok if r.features is not None])
            S = model.scores(X, schema_version=FEATURE_SCHEMA_VERSION)
            preds = iter([decide(row, model.labels, model.thresholds) for row in S])
        records: list[Record] = []
        kept: list[Pending] = []
        gone: list[str] = []
        for p, r in buffer:
            if r.error is not None and not os.path.lexists(p.path):
                gone.append(str(p.path))
                errors.append((str(p.path), f"{p.path}: vanished during the scan"))
                continue
            ok_row = r.error is None and r.features is not None
            records.append(_record(p, r, next(preds) if ok_row else None, model.model_id))
            kept.append(p)
        moved = catalog.record(records, path_exists=os.path.lexists)
        if gone:
            catalog.set_missing(gone)
        counts["vanished"] += len(gone)
        for p, rec, was_moved in zip(kept, records, moved, strict=True):
            if rec.error is not None:
                counts["errors"] += 1
                errors.append((rec.path, rec.error))
                continue
            counts["analysed"] += 1
            key = "moved" if was_moved else "new" if p.is_new else "changed"
            counts[key] += 1
            if was_moved in missing:  # marked missing by this scan, found again under a new name
                counts["missing"] -= 1
        buffer.clear()

    interrupted = False
    try:
        if plan.todo:
            if model is None:
                from .model import load_default

                model = load_default()
            with parallel_backend(backend, jobs=jobs, scheduler=scheduler) as n_jobs:
                results = pipeline.analyse_many([p.path for p in plan.todo], jobs=n_jobs)
                for p, r in zip(plan.todo, results, strict=True):
                    buffer.append((p, r))
                    if progress:
                        progress(1, 0 if r.ok else 1)
                    if len(buffer) >= WRITE_BATCH:
                        flush()
        if buffer:
            flush()
        if model is None:
            from .model import load_default

            model = load_default()
        # Unchanged files keep the labels of the model that analysed them: say so.
        counts["other_model"] = catalog.other_model_count(str(plan.root), model.model_id)
    except KeyboardInterrupt:
        interrupted = True
        if buffer:
            flush()  # whole analyses are worth keeping; a second Ctrl-C abandons them
    elapsed = time.perf_counter() - t0
    result = ScanResult(
        plan.root, catalog.path, counts, tuple(errors), round(elapsed, 3), interrupted
    )
    catalog.finish_scan(scan_id, result.status, counts)
    return result


def scan(
    root: Path,
    catalog: Catalog,
    model: ModelBundle | None = None,
    *,
    jobs: int | None = None,
    backend: str = "loky",
    scheduler: str | None = None,
    retry_errors: bool = False,
    progress: ScanProgress | None = None,
    on_plan: Callable[[ScanPlan], None] | None = None,
) -> ScanResult:
    """`plan_scan` then `run_scan`; `on_plan` sees the plan first (e.g. to size a progress bar)."""
    started = time.perf_counter()
    check_backend(backend, scheduler)
    plan = plan_scan(root, catalog, retry_errors=retry_errors)
    if on_plan:
        on_plan(plan)
    return run_scan(
        plan,
        catalog,
        model,
        jobs=jobs,
        backend=backend,
        scheduler=scheduler,
        progress=progress,
        started=started,
    )


# --- reclassify ---------------------------------------------------------------------------------


def _scores(model: ModelBundle, X: np.ndarray, threads: int) -> np.ndarray:
    """Model scores in sub-batches on `threads` threads (numpy releases the GIL while it walks
    the trees, so two threads nearly halve the time on two cores)."""
    step = 512
    parts = [X[i : i + step] for i in range(0, len(X), step)]
    if threads <= 1 or len(parts) == 1:
        return np.concatenate([model.scores(x, schema_version=model.schema_version) for x in parts])
    with ThreadPoolExecutor(max_workers=threads) as ex:
        out = list(ex.map(lambda x: model.scores(x, schema_version=model.schema_version), parts))
    return np.concatenate(out)


def reclassify(
    catalog: Catalog,
    model: ModelBundle,
    *,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReclassifyResult:
    """Re-label every catalogued file from its stored features with `model`; decodes nothing.
    Rows are read in chunks (identical audio adjacent, each distinct vector scored once) and
    each chunk is committed in its own transaction."""
    t0 = time.perf_counter()
    ids, other = catalog.feature_ids(model.schema_version)
    threads = pipeline.resolve_jobs(jobs)
    n_features = len(model.feature_names)
    changed = distinct = 0
    labels: dict[str, int] = {}
    for i in range(0, len(ids), RECLASSIFY_CHUNK):
        rows = catalog.features(ids[i : i + RECLASSIFY_CHUNK])
        X = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
        if X.shape[1] != n_features:
            raise SchemaMismatch(
                f"{catalog.path}: stored features have {X.shape[1]} values, the model expects "
                f"{n_features}; rescan the library"
            )
        uniq, inverse = np.unique(X, axis=0, return_inverse=True)
        distinct += len(uniq)
        S = _scores(model, uniq, threads)
        preds = [decide(row, model.labels, model.thresholds) for row in S]
        updates = []
        for (row_id, _, old), k in zip(rows, inverse.reshape(-1), strict=True):
            p = preds[int(k)]
            changed += p.label != old
            labels[p.label] = labels.get(p.label, 0) + 1
            updates.append(
                (row_id, p.label, round(p.confidence, 4), p.labels, p.scores, model.model_id)
            )
        catalog.set_predictions(updates)
        if progress:
            progress(len(rows))
    return ReclassifyResult(
        model_id=model.model_id,
        rows=len(ids),
        distinct=distinct,
        changed=changed,
        other_schema=other,
        elapsed_s=round(time.perf_counter() - t0, 3),
        labels=labels,
    )
