"""Micro-benchmark of the feature extractor: ms per file for `features.describe` on one core.

    python -m bench.features CORPUS_DIR [--repeats 3] [--kits 6] [--grooves-per-kit 3]
                                        [--module PATH] [--json OUT]

Measured in this process, on one core (BLAS pinned to one thread), warm (one untimed pass
first), median of `--repeats` passes (with `--module`, the two implementations take turns):
- decode only: `audio.decode` of every corpus file (for comparison);
- `describe` of every decoded corpus one-shot (ms per file);
- `describe` of the hit slices full-track mode cuts from rendered grooves (`grooves.render`
  with the first `--kits` corpus kits, `segments.detect` / `segments.segments`; ms per slice).

`--module PATH` times another implementation of `describe` (a copy of features.py, e.g.
`git show <rev>:samplesort/features.py > /tmp/features_old.py`) on the same inputs, and prints
the largest difference between its features and the current ones.
Timings are wall clock on a shared machine; the load average is printed with them.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads BLAS: one core

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from samplesort import audio, features, grooves  # noqa: E402
from samplesort import segments as seg  # noqa: E402
from samplesort.audio import ANALYSIS_SR_HZ  # noqa: E402
from samplesort.records import Clip  # noqa: E402


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def corpus_clips(root: Path) -> tuple[list[Path], list[Clip]]:
    """Every decodable audio file under `root` (sorted) and its clip."""
    paths, clips = [], []
    for p in sorted(root.rglob("*")):
        if not audio.is_audio_path(p):
            continue
        try:
            clips.append(audio.decode(p))
        except Exception:  # noqa: BLE001 - the benchmark times what decodes
            continue
        paths.append(p)
    return paths, clips


def groove_slices(root: Path, *, kits: int, grooves_per_kit: int, seed: int) -> list[np.ndarray]:
    """The hit slices full-track mode would cut from rendered grooves of the first kits."""
    names = grooves.corpus_kits(root)[:kits]
    loaded = grooves.load_kits(root, names, sr_hz=ANALYSIS_SR_HZ)
    rng = np.random.default_rng(seed)
    out = []
    for kit in loaded:
        for _ in range(grooves_per_kit):
            full = grooves.complete(kit, loaded, rng)
            groove = grooves.generate(rng, labels=full.samples.keys(), bars=2)
            x = grooves.render(groove, full, rng).audio
            onsets = seg.detect(x, sr_hz=ANALYSIS_SR_HZ)
            for s in seg.segments(onsets, sr_hz=ANALYSIS_SR_HZ, n_samples=x.size):
                piece = x[s.start : s.end]
                if piece.size and np.max(np.abs(piece)) > 0:
                    out.append(piece)
    return out


def ms_per_item(
    runs: dict[str, Callable[[], Any]], n_items: int, repeats: int
) -> dict[str, tuple[float, list[float]]]:
    """Per run: the median and all of `repeats` timed passes (after one warm-up each), ms per
    item. The runs take turns pass by pass, so a load spike on the shared machine hits each."""
    for run in runs.values():
        run()
    passes: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            t = time.perf_counter()
            run()
            passes[name].append((time.perf_counter() - t) * 1000.0 / max(n_items, 1))
    return {name: (statistics.median(p), p) for name, p in passes.items()}


def load_module(path: Path) -> ModuleType:
    """A features.py copy, imported as a submodule of samplesort (its relative imports work)."""
    spec = importlib.util.spec_from_file_location("samplesort._bench_features", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: cannot import")
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the module runs
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def time_describe(
    describers: dict[str, Callable[..., np.ndarray]],
    clips: Sequence[Clip],
    slices: Sequence[np.ndarray],
    repeats: int,
) -> dict[str, dict[str, Any]]:
    """Per implementation of `describe`: ms per corpus file and per groove slice, and the
    feature rows it gave."""

    def on_clips(describe: Callable[..., np.ndarray]) -> Callable[[], np.ndarray]:
        return lambda: np.stack(
            [describe(c.samples, sr_hz=c.sr_hz, file_duration_s=c.duration_s) for c in clips]
        )

    def on_slices(describe: Callable[..., np.ndarray]) -> Callable[[], np.ndarray]:
        return lambda: np.stack([describe(s, sr_hz=ANALYSIS_SR_HZ) for s in slices])

    per_clip = ms_per_item({k: on_clips(d) for k, d in describers.items()}, len(clips), repeats)
    per_slice = ms_per_item({k: on_slices(d) for k, d in describers.items()}, len(slices), repeats)
    return {
        name: {
            "describe_ms_per_file": per_clip[name][0],
            "describe_ms_per_file_passes": per_clip[name][1],
            "describe_ms_per_slice": per_slice[name][0],
            "describe_ms_per_slice_passes": per_slice[name][1],
            "values": (on_clips(d)(), on_slices(d)()),
        }
        for name, d in describers.items()
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.features", description=__doc__)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--kits", type=int, default=6)
    ap.add_argument("--grooves-per-kit", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--module", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    _say("decoding the corpus ...")
    paths, clips = corpus_clips(args.corpus)
    decode_ms, decode_passes = ms_per_item(
        {"decode": lambda: [audio.decode(p) for p in paths]}, len(paths), args.repeats
    )["decode"]
    _say("rendering grooves ...")
    slices = groove_slices(
        args.corpus, kits=args.kits, grooves_per_kit=args.grooves_per_kit, seed=args.seed
    )
    mean_slice_s = float(np.mean([s.size for s in slices])) / ANALYSIS_SR_HZ if slices else 0.0
    report: dict[str, Any] = {
        "files": len(clips),
        "slices": len(slices),
        "mean_slice_s": round(mean_slice_s, 3),
        "repeats": args.repeats,
        "decode_ms_per_file": decode_ms,
        "decode_ms_per_file_passes": decode_passes,
    }
    describers = {"current": features.describe}
    if args.module is not None:
        describers["module"] = load_module(args.module).describe
    timed = time_describe(describers, clips, slices, args.repeats)
    ours = timed["current"].pop("values")
    report.update(timed["current"])
    if args.module is not None:
        theirs = timed["module"].pop("values")
        report["module"] = {"path": str(args.module), **timed["module"]}
        for what, a, b in (("files", ours[0], theirs[0]), ("slices", ours[1], theirs[1])):
            diff = np.abs(a.astype(np.float64) - b)
            rel = np.where(diff > 1e-5, diff / np.maximum(np.abs(b), 1e-30), 0.0)
            report["module"][f"max_abs_diff_{what}"] = float(diff.max())
            report["module"][f"max_rel_diff_{what}"] = float(rel.max())
    report["load_average"] = [round(v, 2) for v in os.getloadavg()]

    print(f"files: {len(clips)}   slices: {len(slices)} (mean {mean_slice_s:.3f} s)")
    print(f"decode only             {decode_ms:7.3f} ms/file")
    print(f"describe, one-shots     {report['describe_ms_per_file']:7.3f} ms/file")
    print(f"describe, groove slices {report['describe_ms_per_slice']:7.3f} ms/slice")
    if "module" in report:
        m = report["module"]
        print(f"{args.module}: {m['describe_ms_per_file']:.3f} ms/file, ", end="")
        print(f"{m['describe_ms_per_slice']:.3f} ms/slice; max |diff| files ", end="")
        print(f"{m['max_abs_diff_files']:.3g} (rel {m['max_rel_diff_files']:.3g}), slices ", end="")
        print(f"{m['max_abs_diff_slices']:.3g} (rel {m['max_rel_diff_slices']:.3g})")
    print(f"load average {report['load_average']} (timings are wall clock, one core)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
