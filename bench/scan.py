"""`make bench`, second part: speed and memory of `samplesort scan` and its catalog.

    python -m bench.scan CORPUS_DIR [--files 10000] [--jobs N] [--json OUT]

Prints, each beside its target from issue 3:
- the decode-only floor (files/s, warm workers) and a cold `samplesort scan` of the corpus
  (whole process: interpreter, model, worker start-up, analysis, catalog writes);
- a 10,000-file library made by hard-linking (or copying) corpus files into a temporary folder:
  its cold scan with peak memory (PSS and RSS of the scan's process tree, summed, sampled every
  50 ms; and getrusage's largest process), an unchanged rescan, and `reclassify` of every row
  (the library holds 13 copies of each recording, so again on a catalog of all-distinct vectors).

Timings are wall clock on a shared machine: another job on the same cores slows them down.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from samplesort import pipeline
from samplesort.render import stdout

TARGETS = {
    "cold_files_per_s": (">=", 400.0),
    "rescan_s": ("<=", 2.0),
    "reclassify_s": ("<=", 3.0),
    "peak_pss_mb": ("<=", 400.0),
}
CLI = [sys.executable, "-c", "from samplesort.cli import main; main()"]


def decode_floor(paths: list[Path], jobs: int) -> float:
    """Files/s of decoding alone (the first 2 s of each file), warm worker processes."""
    from joblib import Parallel, delayed

    from bench.run import _decode_only

    pipeline.pin_blas_threads()
    chunks = [paths[i : i + 64] for i in range(0, len(paths), 64)]
    with Parallel(n_jobs=jobs) as par:
        par(delayed(_decode_only)(c) for c in chunks[:jobs])  # start the workers
        t = time.perf_counter()
        par(delayed(_decode_only)(c) for c in chunks)
        return len(paths) / (time.perf_counter() - t)


def _tree_memory_kb(root_pid: int) -> tuple[int, int]:
    """(RSS, PSS) of `root_pid` and all its descendants, summed. RSS counts a shared page (numpy's
    libraries, say) once in every process that maps it, so its sum overstates; PSS splits each
    shared page between the processes sharing it, so its sum is what the tree really uses."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    rss = pss = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return rss, pss


def _children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run(
    args: list[str], *, sample_memory: bool = False
) -> tuple[float, dict, tuple[int, int], float]:
    """Run the CLI; returns (wall seconds, its JSON output, peak summed (RSS, PSS) of its
    process tree in kB or zeros, CPU seconds used by it and its worker processes)."""
    cpu0 = _children_cpu_s()
    t = time.perf_counter()
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = (0, 0)
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            rss, pss = _tree_memory_kb(proc.pid)
            peak = (max(peak[0], rss), max(peak[1], pss))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    if sample_memory:
        sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    stop.set()
    if sample_memory:
        sampler.join()
    if proc.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {err.decode()[-2000:]}")
    cpu = _children_cpu_s() - cpu0
    return wall, json.loads(out.decode().strip().splitlines()[-1]), peak, cpu


def build_library(corpus_files: list[Path], out: Path, n: int) -> str:
    """`n` files: copies k = 0, 1, ... of the corpus under out/copyK/<corpus relative path>."""
    how = "hard links"
    made = 0
    k = 0
    while made < n:
        for src in corpus_files:
            if made >= n:
                break
            dest = out / f"copy{k:02d}" / src.parent.parent.name / src.parent.name / src.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            real = os.path.realpath(src)
            try:
                os.link(real, dest)
            except OSError:
                shutil.copy2(real, dest)
                how = "copies"
            made += 1
        k += 1
    return how


def distinct_catalog(source: Path, dest: Path) -> int:
    """A catalog whose rows are `source`'s analysed rows with every feature vector perturbed
    (1 % multiplicative noise, seeded), so no two are alike: reclassify's worst case."""
    import numpy as np

    from samplesort.catalog import Catalog, Record

    rng = np.random.default_rng(0)
    records = []
    with Catalog.open(source) as src:
        rows = src.conn.execute(
            "SELECT path, features, feature_schema FROM files WHERE features IS NOT NULL"
        ).fetchall()
    for path, blob, schema in rows:
        x = np.frombuffer(blob, dtype="<f4")
        y = (x * (1 + 0.01 * rng.standard_normal(x.size))).astype("<f4")
        records.append(
            Record(path, 0, 0, content_hash=path, features=y.tobytes(), feature_schema=schema)
        )
    with Catalog.open(dest) as cat:
        cat.record(records, path_exists=lambda p: True)
    return len(records)


def verdict(key: str, value: float) -> str:
    op, target = TARGETS[key]
    ok = value >= target if op == ">=" else value <= target
    return f"(target {op} {target:g}: {'met' if ok else 'MISSED'})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--files", type=int, default=10_000, help="size of the generated library")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    out = stdout()
    cores = os.cpu_count() or 1
    corpus = pipeline.walk([args.corpus]).files
    figures: dict[str, object] = {"cores": cores, "jobs": args.jobs}
    figures["load_before"] = [round(x, 2) for x in os.getloadavg()]
    jobs = ["--jobs", str(args.jobs), "--json"]

    with tempfile.TemporaryDirectory(prefix="samplesort-bench-") as tmp:
        tmpdir = Path(tmp)
        floor = decode_floor(list(corpus), args.jobs)
        wall, res, _, cpu = run(
            ["scan", str(args.corpus), "--catalog", str(tmpdir / "corpus.sqlite3"), *jobs]
        )
        n = res["counts"]["analysed"] + res["counts"]["errors"]
        cold, inside, free = n / wall, n / res["elapsed_s"], n / (cpu / cores)
        figures.update(
            corpus_files=len(corpus),
            decode_floor_files_per_s=round(floor, 1),
            cold_wall_s=round(wall, 2),
            cold_files_per_s=round(cold, 1),
            cold_in_scan_files_per_s=round(inside, 1),
            cold_cpu_s=round(cpu, 2),
            cold_files_per_s_if_cores_free=round(free, 1),
        )
        out.print(
            f"[bold]cold scan[/] of the corpus ({n} files, {args.jobs} workers): {cold:.0f} "
            f"files/s whole process ({wall:.1f} s), {inside:.0f} files/s inside the scan; "
            f"decode-only floor {floor:.0f} files/s {verdict('cold_files_per_s', cold)}. "
            f"It used {cpu:.1f} CPU s: {free:.0f} files/s if all {cores} cores were free for it"
        )

        lib = tmpdir / "library"
        how = build_library(list(corpus), lib, args.files)
        cat = str(tmpdir / "library.sqlite3")
        wall, res, (rss_kb, pss_kb), cpu = run(
            ["scan", str(lib), "--catalog", cat, *jobs], sample_memory=True
        )
        child_max_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        rss_mb, pss_mb = rss_kb / 1024, pss_kb / 1024
        n_lib = res["counts"]["analysed"] + res["counts"]["errors"]
        figures.update(
            library_files=args.files,
            library_made_of=how,
            library_scan_wall_s=round(wall, 2),
            library_scan_files_per_s=round(n_lib / wall, 1),
            library_scan_cpu_s=round(cpu, 2),
            peak_pss_mb=round(pss_mb, 1),
            peak_rss_sum_mb=round(rss_mb, 1),
            largest_process_rss_mb=round(child_max_mb, 1),
        )
        out.print(
            f"[bold]cold scan[/] of a {args.files}-file library ({how} of corpus files): "
            f"{wall:.1f} s, {n_lib / wall:.0f} files/s ({cpu:.0f} CPU s); peak memory of the "
            f"process tree {pss_mb:.0f} MB PSS {verdict('peak_pss_mb', pss_mb)} (RSS summed "
            f"per process: {rss_mb:.0f} MB; largest process {child_max_mb:.0f} MB)"
        )

        wall, res, _, cpu = run(["scan", str(lib), "--catalog", cat, *jobs])
        c = res["counts"]
        figures.update(
            rescan_s=round(wall, 3),
            rescan_in_scan_s=res["elapsed_s"],
            rescan_cpu_s=round(cpu, 2),
            rescan_unchanged=c["unchanged"],
        )
        out.print(
            f"[bold]rescan[/] unchanged ({c['unchanged']} unchanged, {c['still_failing']} "
            f"failed before, {c['analysed']} analysed): {wall:.2f} s whole process, "
            f"{res['elapsed_s']:.2f} s inside the scan, {cpu:.2f} CPU s "
            f"{verdict('rescan_s', wall)}"
        )

        wall, res, _, cpu = run(["reclassify", "--catalog", cat, *jobs])
        figures.update(
            reclassify_s=round(wall, 3),
            reclassify_in_command_s=res["elapsed_s"],
            reclassify_cpu_s=round(cpu, 2),
            reclassify_rows=res["rows"],
            reclassify_distinct=res["distinct"],
        )
        out.print(
            f"[bold]reclassify[/] {res['rows']} rows ({res['distinct']} distinct feature vectors "
            f"scored): {wall:.2f} s whole process, {res['elapsed_s']:.2f} s inside, "
            f"{cpu:.2f} CPU s {verdict('reclassify_s', wall)}"
        )

        distinct_cat = tmpdir / "distinct.sqlite3"
        n_rows = distinct_catalog(Path(cat), distinct_cat)
        wall, res, _, cpu = run(["reclassify", "--catalog", str(distinct_cat), *jobs])
        figures.update(reclassify_distinct_rows=n_rows, reclassify_distinct_s=round(wall, 3))
        out.print(
            f"[bold]reclassify[/] {res['rows']} rows, all distinct (the library's vectors, each "
            f"perturbed by 1 % noise): {wall:.2f} s whole process, {res['elapsed_s']:.2f} s "
            f"inside, {cpu:.2f} CPU s {verdict('reclassify_s', wall)}"
        )
    figures["load_after"] = [round(x, 2) for x in os.getloadavg()]
    out.print(
        f"load average before {figures['load_before']}, after {figures['load_after']} "
        f"({cores} cores; other jobs on the machine slow every wall-clock figure)"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
