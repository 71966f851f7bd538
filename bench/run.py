"""`make bench`: quality and speed of samplesort on the Hydrogen + LMMS corpus.

    python -m bench.run CORPUS_DIR [--quick] [--json OUT]

Prints: decode-only floor and feature-extraction throughput (files/s, both cores, same run),
their ratio; leave-one-kit-out fine macro-F1, per-label F1, coarse-group accuracy and the
confusion matrix for the default training recipe; whole-process time of
`samplesort classify one.wav`, first run and warm runs; `samplesort --help` time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from samplesort import audio, pipeline, training
from samplesort.model import load_default
from samplesort.render import report_tables, stdout


def _decode_only(paths: list[Path]) -> int:
    n = 0
    for p in paths:
        try:
            audio.decode(p)
            n += 1
        except Exception:  # noqa: BLE001 - the floor counts what decodes
            pass
    return n


def throughput(paths: list[Path], jobs: int) -> dict[str, float]:
    from joblib import Parallel, delayed

    pipeline.pin_blas_threads()
    chunks = [paths[i : i + 64] for i in range(0, len(paths), 64)]
    with Parallel(n_jobs=jobs) as par:
        par(delayed(_decode_only)(c) for c in chunks[:2])  # start the workers
        t = time.perf_counter()
        par(delayed(_decode_only)(c) for c in chunks)
        decode_s = time.perf_counter() - t
    # features: the real pipeline path (decode + features), warm workers
    list(pipeline.analyse_many(paths[:128], jobs=jobs))
    t = time.perf_counter()
    n_ok = sum(r.ok for r in pipeline.analyse_many(paths, jobs=jobs))
    feat_s = time.perf_counter() - t
    return {
        "files": len(paths),
        "analysed_ok": n_ok,
        "decode_files_per_s": round(len(paths) / decode_s, 1),
        "features_files_per_s": round(len(paths) / feat_s, 1),
        "features_over_decode": round(decode_s / feat_s, 3),
    }


def process_times(one_file: Path, repeats: int = 4) -> dict[str, float]:
    exe = shutil.which("samplesort") or str(Path(sys.executable).parent / "samplesort")
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([exe, "classify", str(one_file), "--json"], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    subprocess.run([exe, "--help"], check=True, capture_output=True)
    help_s = time.perf_counter() - t
    return {
        "classify_first_s": round(times[0], 3),
        "classify_warm_median_s": round(statistics.median(times[1:]), 3),
        "help_s": round(help_s, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--quick", action="store_true", help="fewer trees, no augmentation")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    jobs = os.cpu_count() or 1
    files, _ = pipeline.labeled_tree(args.corpus)
    paths = [f.path for f in files]
    out = stdout()
    figures: dict[str, object] = {"cores": jobs}

    speed = throughput(paths, jobs)
    figures["speed"] = speed
    out.print(
        f"[bold]extraction[/] on {speed['files']} corpus files, {jobs} workers: "
        f"decode-only {speed['decode_files_per_s']} files/s, decode+features "
        f"{speed['features_files_per_s']} files/s "
        f"({speed['features_over_decode']:.2f} of the decode floor)"
    )

    times = process_times(paths[0])
    figures["process"] = times
    out.print(
        f"[bold]samplesort classify one.wav[/]: first {times['classify_first_s']} s, "
        f"warm {times['classify_warm_median_s']} s; --help {times['help_s']} s"
    )

    # The recipe of the bundled model, read from its own metadata.
    meta = load_default().meta
    algorithm, seed = meta["algorithm"], meta["seed"]
    augment, n_trees = (0, 100) if args.quick else (meta["augment"], meta["n_trees"])
    t = time.perf_counter()
    ts, errors = pipeline.training_set(files, augment=augment, seed=seed, jobs=jobs)
    labels = tuple(lab for lab in training.LABELS if lab in set(ts.y.tolist()))
    _, oof, rep = training.cross_validate(
        ts, labels, algorithm=algorithm, n_trees=n_trees, seed=seed
    )
    # The same out-of-fold predictions, scored on recorded kits only (rendered DrumSynth
    # presets train in every fold but are left out of this figure).
    idx = ts.originals
    y, groups = ts.y[idx], ts.groups[idx]
    preds = training.nested_labels(oof, y, groups, labels)
    recorded = np.array([not str(g).startswith("drumsynth") for g in groups])
    rec = training.score_predictions(y[recorded].tolist(), preds[recorded].tolist())
    figures["loko_recorded_only"] = rec.as_dict()
    figures["loko"] = rep.as_dict()
    figures["loko"]["algorithm"] = algorithm
    figures["loko"]["augment"] = augment
    figures["loko"]["trees"] = n_trees
    figures["loko"]["groups"] = len(set(ts.groups.tolist()))
    for tab in report_tables(
        rep.as_dict(),
        title=f"leave-one-kit-out ({figures['loko']['groups']}"
        f" groups, {algorithm}, augment {augment}, {n_trees} trees/class, "
        f"{time.perf_counter() - t:.0f} s)",
    ):
        out.print(tab)
    for tab in report_tables(
        rec.as_dict(),
        title="the same, scored on recorded kits only "
        "(Hydrogen + LMMS samples; DrumSynth renders excluded)",
    )[:2]:
        out.print(tab)
    if errors:
        out.print(f"{len(errors)} corpus file(s) could not be analysed, e.g. {errors[0]}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
