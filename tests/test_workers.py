"""Forked worker pools (`workers.py`) and analysis through them: results in input order and
bit-identical to analysing in-process, each worker with one BLAS thread and Ctrl-C ignored,
the fallback to joblib where forking is unsafe, a worker's death as a one-line error. Scans
through forked workers (equal to one-process scans, no orphan after kill -9) are tested in
`test_scan_cli.py`, in fresh processes: threads other tests leave behind (Dask's, joblib's)
rightly stop this process from forking."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from samplesort import pipeline, workers
from samplesort.workers import ForkPool, WorkerDied


def _square(x: int) -> int:
    return x * x


def _die_at_5(x: int) -> int:
    if x == 5:
        os._exit(3)
    return x


def _worker_state(_: object) -> tuple[int, list[int], object]:
    from threadpoolctl import threadpool_info

    return os.getppid(), [i["num_threads"] for i in threadpool_info()], signal.getsignal(2)


def test_imap_keeps_input_order_and_stops_early() -> None:
    with ForkPool(_square, 2, ahead=2) as pool:
        assert list(pool.imap(range(50))) == [x * x for x in range(50)]
        results = pool.imap(range(1000))
        assert next(results) == 0
        results.close()  # leaving early cancels what is queued; the pool stays usable
        assert list(pool.imap([3])) == [9]


def test_workers_are_forked_children_with_one_blas_thread_ignoring_ctrl_c() -> None:
    with ForkPool(_worker_state, 2) as pool:
        states = list(pool.imap(range(4)))
    for parent, blas_threads, sigint in states:
        assert parent == os.getpid()
        assert set(blas_threads) <= {1}
        assert sigint == signal.SIG_IGN


def test_a_dead_worker_is_a_one_line_error() -> None:
    with ForkPool(_die_at_5, 2) as pool, pytest.raises(WorkerDied, match="worker process died"):
        list(pool.imap(range(10)))


def test_no_fork_while_another_thread_runs() -> None:
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert not workers.fork_safe()
        assert pipeline.analysis_pool(2) is None  # the scan then uses joblib's processes
    finally:
        stop.set()
        t.join()
    assert pipeline.analysis_pool(1) is None  # one job: analysed in this process
