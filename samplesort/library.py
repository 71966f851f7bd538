"""Library scan orchestration: carry out a scan plan (`library_plan`) against the catalog,
analyse what is new or changed (joblib processes, or a Dask cluster through joblib's Dask
backend), classify and record in batches; nothing here touches an audio file's bytes.

    plan = plan_scan(root, catalog)      # walk + stat only: new / changed / unchanged / missing
    result = run_scan(plan, catalog, model, jobs=2, progress=...)

Incremental: a path whose size and mtime match its row (and whose features are of the current
schema) is not decoded. A new path whose content hash matches a row whose file is gone is a move:
that row takes the new path and keeps its analysis. Catalogued paths under the root that the walk
no longer finds are marked missing (never under a folder that could not be listed).

Resumable: results are committed every `WRITE_BATCH` files, so after Ctrl-C or kill -9 the next
scan sees the committed files as unchanged and analyses only the rest. Memory is bounded: paths
stream through `pipeline.analyse_many` and only one batch of results is held at a time.

Planning (`plan_scan`, `plan_files`, `ScanPlan`) is `library_plan.py`; reclassifying the catalog
from stored features (`reclassify`) is `library_reclassify.py`; their public names are
importable from here.

Library code: never prints, never exits; per-file failures are collected, never raised.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import pipeline
from .catalog import Catalog, Record
from .decide import decide
from .errors import SampleSortError, UsageError
from .features import FEATURE_SCHEMA_VERSION
from .library_plan import Pending, ScanPlan, plan_files, plan_scan
from .library_reclassify import RECLASSIFY_CHUNK, ReclassifyResult, reclassify
from .records import FileResult

if TYPE_CHECKING:
    from .model import ModelBundle

__all__ = [
    "BACKENDS",
    "RECLASSIFY_CHUNK",
    "WRITE_BATCH",
    "Pending",
    "ReclassifyResult",
    "ScanPlan",
    "ScanProgress",
    "ScanResult",
    "check_backend",
    "parallel_backend",
    "plan_files",
    "plan_scan",
    "reclassify",
    "run_scan",
    "scan",
]

WRITE_BATCH = 64
BACKENDS = ("loky", "dask")
# progress(files_done, errors_among_them)
ScanProgress = Callable[[int, int], None]


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


@contextmanager
def _analysed(
    paths: list[Path], *, backend: str, jobs: int | None, scheduler: str | None
) -> Iterator[Iterator[FileResult]]:
    """`pipeline.analyse_many` of `paths` on the backend: loky = forked workers where that is
    safe (`pipeline.analysis_pool`), else joblib's loky processes; dask = the Dask cluster."""
    with parallel_backend(backend, jobs=jobs, scheduler=scheduler) as n_jobs:
        pool = None
        if backend == "loky" and len(paths) > pipeline.BATCH:
            pool = pipeline.analysis_pool(n_jobs)
        try:
            yield pipeline.analyse_many(paths, jobs=n_jobs, pool=pool)
        finally:
            if pool is not None:
                pool.close()


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
    from .model import COMPILED_RUN_FROM

    # The numba tree walk costs ~1 s of CPU to start: worth it only for a large scan.
    compiled = None if len(plan.todo) >= COMPILED_RUN_FROM else False

    def flush() -> None:
        nonlocal model
        if model is None:  # loaded once the workers are busy, not before they start
            from .model import load_default

            model = load_default()
        ok = [r for _, r in buffer if r.features is not None and r.error is None]
        preds = iter(())
        if ok:
            X = np.stack([r.features.values for r in ok if r.features is not None])
            S = model.scores(X, schema_version=FEATURE_SCHEMA_VERSION, compiled=compiled)
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
            paths = [p.path for p in plan.todo]
            with _analysed(paths, backend=backend, jobs=jobs, scheduler=scheduler) as results:
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
