"""Forked worker processes: a function mapped over tasks in `jobs` processes that inherit the
parent's imports and warm caches, results streamed back in input order.

    with ForkPool(fn, jobs=2) as pool:   # forks now: before any thread of ours starts
        for result in pool.imap(tasks):  # in order; a bounded window of tasks in flight
            ...

A spawned worker (joblib's loky) starts a fresh interpreter and imports numpy, scipy and the
codecs again (~1 s of CPU each); a forked one starts in milliseconds. Fork is only safe in a
process with a single thread (a lock another thread holds at fork time stays locked in the
child), so `fork_safe()` says whether to use this pool at all; callers fall back to joblib.

Each worker: one BLAS / OpenMP thread, Ctrl-C ignored (the parent decides what an interrupt
means and shuts the pool down), killed with its parent (Linux `PR_SET_PDEATHSIG`), so a
`kill -9` of the parent leaves no orphans behind. A worker that dies (a codec crash) breaks the
pool: `imap` raises `WorkerDied`.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Generic, Self, TypeVar

from .errors import SampleSortError

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController

T = TypeVar("T")
R = TypeVar("R")
_PR_SET_PDEATHSIG = 1


class WorkerDied(SampleSortError):
    """A worker process ended abruptly (a crash in native code, the OOM killer)."""


def pin_blas_threads() -> None:
    """One BLAS/OpenMP thread in processes started from now on (and in this one, if numpy is
    not imported yet): worker processes oversubscribed the cores 4x, and OpenBLAS's extra
    threads cost ~0.2 CPU s just by numpy and scipy being imported."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def fork_safe() -> bool:
    """True where forking workers is safe: Linux (macOS system libraries are not fork-safe)
    and no thread besides this one (a lock held by another thread would stay held in the
    child)."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS / OpenMP libraries limited to one thread inside the block: on an analysis's small
    matrices their thread pools spin for nothing (analysing the corpus here with 2 BLAS threads
    took 3x the CPU and 3x the wall clock of one thread, on 2 cores)."""
    with _threadpools().limit(limits=1):
        yield


@lru_cache(maxsize=1)
def _threadpools() -> ThreadpoolController:
    """The BLAS / OpenMP libraries loaded now (found once: a lookup costs 0.5 ms, a limit through
    the controller 0.03 ms)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _worker_start(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - not Linux: fork_safe() said no
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


class ForkPool(Generic[T, R]):
    """`jobs` forked processes running `fn`. Forks on construction (call `fork_safe()` first);
    close it (or use it as a context manager) to end the workers."""

    def __init__(self, fn: Callable[[T], R], jobs: int, *, ahead: int = 16) -> None:
        import multiprocessing

        self.fn = fn
        self.jobs = jobs
        self.window = jobs * ahead  # tasks in flight: a busy parent leaves no worker idle
        self._executor = ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_worker_start,
            initargs=(os.getpid(),),
        )
        # The executor forks its workers at the first submit: do it now, while this process
        # still has a single thread (the executor's own threads start right after).
        self._executor.submit(int).result()

    def imap(self, tasks: Iterable[T]) -> Iterator[R]:
        """`fn(task)` for each task, in order. Leaving the loop early cancels what is queued."""
        pending: deque[Future[R]] = deque()
        it = iter(tasks)
        try:
            for task in it:
                pending.append(self._executor.submit(self.fn, task))
                if len(pending) >= self.window:
                    break
            while pending:
                result = self._result(pending.popleft())
                for task in it:
                    pending.append(self._executor.submit(self.fn, task))
                    break
                yield result
        finally:
            for f in pending:
                f.cancel()

    @staticmethod
    def _result(future: Future[R]) -> R:
        try:
            return future.result()
        except BrokenProcessPool:
            raise WorkerDied(
                "an analysis worker process died (a crash in a codec, or out of memory); "
                "what was analysed before is kept, run the scan again to continue"
            ) from None

    def close(self) -> None:
        """Cancel queued tasks, let running ones finish, end the workers."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
