"""Where a scan's CPU time goes, per file, on one core: read, resample, features, hash, trees.

    python -m bench.cost CORPUS_DIR

Runs the steps of `pipeline.analyse` one by one on every corpus file (one process, warm: each
step is run once on the first file before timing) and prints the mean milliseconds per file of
each step by container format, then the fastest whole-process cold scan these costs allow on
the machine's cores (files / (cores / total ms per file)) beside the fixed start-up costs
measured in the same run (interpreter + CLI imports, the model's tree walk). The cold-scan
target of issue 3 is judged against that bound in the README.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

# One BLAS thread, as in the scan's workers; it must be set before numpy loads BLAS.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from samplesort import audio, features, pipeline  # noqa: E402
from samplesort.model import load_default  # noqa: E402

STEPS = ("read", "resample", "features", "hash")


def _one(path: Path) -> dict[str, float]:
    import soundfile as sf
    import soxr

    t0 = time.perf_counter()
    with sf.SoundFile(str(path)) as f:
        sr = int(f.samplerate)
        data = f.read(frames=int(audio.MAX_ANALYSIS_S * sr), dtype="float32", always_2d=True)
    x = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    t1 = time.perf_counter()
    if sr != audio.ANALYSIS_SR_HZ:
        x = soxr.resample(x, sr, audio.ANALYSIS_SR_HZ, quality="MQ").astype(np.float32)
    t2 = time.perf_counter()
    features.describe(x, sr_hz=audio.ANALYSIS_SR_HZ)
    t3 = time.perf_counter()
    hashlib.sha1(np.ascontiguousarray(x, dtype="<f4").tobytes()).hexdigest()
    t4 = time.perf_counter()
    return dict(zip(STEPS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__)
    ap.add_argument("corpus", type=Path)
    args = ap.parse_args(argv)
    files, _ = pipeline.labeled_tree(args.corpus)
    paths = [f.path for f in files]
    _one(paths[0])
    per: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(STEPS, 0.0))
    count: dict[str, int] = defaultdict(int)
    for p in paths:
        try:
            cost = _one(p)
        except Exception:  # noqa: BLE001 - unreadable corpus files are reported by scan
            continue
        ext = p.suffix.lower()
        count[ext] += 1
        for k, v in cost.items():
            per[ext][k] += v
    n = sum(count.values())
    print(f"{'format':<8}{'files':>6}" + "".join(f"{s + ' ms':>13}" for s in STEPS))
    for ext in sorted(count):
        print(
            f"{ext:<8}{count[ext]:>6}"
            + "".join(f"{1000 * per[ext][s] / count[ext]:>13.2f}" for s in STEPS)
        )
    mean = {s: 1000 * sum(per[e][s] for e in per) / n for s in STEPS}
    total = sum(mean.values())
    print(f"{'all':<8}{n:>6}" + "".join(f"{mean[s]:>13.2f}" for s in STEPS))

    model = load_default()
    X = np.zeros((64, len(features.FEATURE_NAMES)), dtype=np.float32)
    t = time.perf_counter()
    model.scores(X)  # first batch: imports numba and loads its compiled walk from the cache
    first = time.perf_counter() - t
    t = time.perf_counter()
    model.scores(X)
    trees_ms = 1000 * (time.perf_counter() - t) / X.shape[0]
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import samplesort.cli, samplesort.library"],
        check=True,
        capture_output=True,
    )
    start_s = time.perf_counter() - t
    cores = os.cpu_count() or 1
    bound = cores / ((total + trees_ms / cores) / 1000)
    print(
        f"per file: {total:.2f} ms of analysis on one core + {trees_ms:.2f} ms of tree walk; "
        f"fixed: interpreter + imports {start_s:.2f} s, tree-walk start-up {first:.2f} s"
    )
    print(
        f"bound with {cores} cores and no other overhead: {bound:.0f} files/s steady; "
        f"a cold scan of these {n} files >= {n / bound + start_s + first:.2f} s "
        f"({n / (n / bound + start_s + first):.0f} files/s)"
    )


if __name__ == "__main__":
    main()
