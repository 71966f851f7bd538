"""Burst throughput of `samplesort watch`: N files land in an inbox at once; how long until
every one is filed?

    python -m bench.watch [--files 500] [--settle 0.2] [--batch 256] [--jobs 0] [--corpus DIR]
                          [--json OUT]

Two figures, each with a live watchdog observer on a temporary inbox:
- engine: the watch engine alone (events, settle queue, batching) with a filer that only moves
  each file into a folder: the ceiling watch itself puts on throughput;
- organize: the real filer (analyse, classify, plan, journaled moves into DEST, catalog), the
  bundled model loaded once, on copies of real drum samples from CORPUS_DIR (default:
  work-data/corpus), i.e. what `samplesort watch INBOX --into DEST` does.

Time runs from the first file written to the last file filed, so it includes the settle time
once (reported separately); files/s = N / time. Wall clock on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from samplesort.render import stdout
from samplesort.watch import (
    Arrival,
    BatchOutcome,
    BatchReport,
    Filed,
    Filer,
    Watcher,
    WatchOptions,
)


def _move_filer(dest: Path) -> Filer:
    def filer(arrivals: Sequence[Arrival], should_stop: Callable[[], bool]) -> BatchOutcome:
        filed = []
        for a in arrivals:
            target = dest / (a.pack or "_loose") / a.path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(a.path, target)
            filed.append(Filed(a.path, target, "?"))
        return BatchOutcome(None, tuple(filed))

    return filer


def burst(
    sources: list[Path], filer_for: Callable[[Path], Filer], settle_s: float, batch_max: int
) -> dict[str, float]:
    """Copy `sources` into a watched inbox as fast as possible; time until all are filed."""
    with tempfile.TemporaryDirectory(prefix="samplesort-bench-watch-") as tmp:
        inbox, dest = Path(tmp) / "inbox", Path(tmp) / "dest"
        inbox.mkdir()
        done = 0
        batches = 0
        all_filed = threading.Event()

        def on_batch(r: BatchReport) -> None:
            nonlocal done, batches
            batches += 1
            if r.outcome is not None:
                done += len(r.outcome.filed) + r.outcome.skipped + len(r.outcome.errors)
            if done >= len(sources):
                all_filed.set()

        options = WatchOptions(inboxes=(inbox,), dest=dest, settle_s=settle_s, batch_max=batch_max)
        # The watcher runs in this thread (the catalog's SQLite connection belongs to it);
        # the files arrive from another.
        watcher = Watcher(options, filer_for(dest), on_batch=on_batch)
        times: dict[str, float] = {}

        def produce() -> None:
            time.sleep(0.5)  # observer up
            times["start"] = time.perf_counter()
            for i, src in enumerate(sources):
                shutil.copyfile(src, inbox / f"{i:05d} {src.name}")
            times["written"] = time.perf_counter()

        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        deadline = time.monotonic() + 600
        watcher.run(lambda: all_filed.is_set() or time.monotonic() > deadline)
        end = time.perf_counter()
        producer.join()
        written = times["written"] - times["start"]
        elapsed = end - times["start"]
        filed = sum(1 for p in dest.rglob("*") if p.is_file() and "_packs" not in p.parts)
    return {
        "files": len(sources),
        "filed": filed,
        "write_s": round(written, 3),
        "elapsed_s": round(elapsed, 3),
        "settle_s": settle_s,
        "batch_max": batch_max,
        "batches": batches,
        "files_per_s": round(len(sources) / elapsed, 1),
    }


def _corpus_files(corpus: Path, n: int) -> list[Path]:
    from samplesort.pipeline import walk

    files = list(walk([corpus]).files)
    if not files:
        raise SystemExit(f"no audio under {corpus}")
    return [files[i % len(files)] for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--settle", type=float, default=0.2)
    ap.add_argument("--corpus", type=Path, default=Path("work-data/corpus"))
    ap.add_argument("--batch", type=int, default=WatchOptions.batch_max, help="files per run")
    ap.add_argument("--jobs", type=int, default=0, help="analysis processes (0 = all cores)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    sources = _corpus_files(args.corpus.resolve(), args.files)
    out: dict[str, dict[str, float]] = {}
    out["engine"] = burst(sources, _move_filer, args.settle, args.batch)

    from samplesort.catalog import Catalog
    from samplesort.model import load_default
    from samplesort.watch import organize_filer

    model = load_default()
    with tempfile.TemporaryDirectory(prefix="samplesort-bench-catalog-") as tmp:
        with Catalog.open(Path(tmp) / "catalog.sqlite3") as cat:

            def real(dest: Path) -> Filer:
                return organize_filer(
                    into=dest,
                    mode="move",
                    template=None,
                    min_confidence=0.6,
                    tag=False,
                    catalog=cat,
                    model=model,
                    jobs=args.jobs,
                )

            out["organize"] = burst(sources, real, args.settle, args.batch)

    con = stdout()
    for name, r in out.items():
        con.print(
            f"{name:9s} {r['filed']}/{r['files']} filed in {r['elapsed_s']:.2f} s "
            f"(written in {r['write_s']:.2f} s, settle {r['settle_s']} s, {r['batches']} "
            f"batches of <= {r['batch_max']}): {r['files_per_s']:.0f} files/s"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
