"""`make bench-tracks`: full-track mode quality on held-out kits, and speed.

    python -m bench.tracks CORPUS_DIR [--folds 4] [--grooves-per-kit 20] [--eval-per-kit 4]
                                      [--seed 0] [--algorithm forest|extra|tree] [--trees 40]
                                      [--keep DIR] [--json OUT]

Quality, leave-kits-out: the corpus kits are dealt into `--folds` folds (as in
`tracktrain.kit_folds`). For each fold, a track model is trained on grooves rendered with the
other kits only (missing drums borrowed from those kits only), then grooves rendered with the
held-out kits (drums borrowed from held-out kits only) are written as 44.1 kHz WAV + truth CSV
and scored exactly as `samplesort evaluate-tracks` scores them (transcribe_file + trackeval).
Printed: per-label precision / recall / F1 summed over every held-out file, hihat closed + open
merged, the class-agnostic onset F1, and librosa's default onset detector on the same files.
The one-shot classifier whose second opinion transcription asks (`transcribe.ONESHOT_RESCUE`)
is, per fold, one trained as `make model` trains the bundled one but without the fold's kits
(`oneshot_models`), so no held-out kit is heard by either model.

`--algorithm` / `--trees`: the track models' forests (default: `make track-model`'s recipe).
`--keep DIR`: each fold's held-out grooves, its track model (`tracks.npz`) and its one-shot
model (`oneshot.npz`) are kept in `DIR/foldK`, for decision rules tried offline; `--json`
includes every file's scores.

Speed: transcription of every evaluation file (decode, onsets, features, trees; model loaded
beforehand) against the audio duration, and a 10-minute loop (peak RSS growth reported).
Timings are wall clock on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from samplesort import grooves, trackeval, tracktrain
from samplesort.audio import ANALYSIS_SR_HZ
from samplesort.model import ModelBundle, load_default
from samplesort.training_fit import ALGORITHMS
from samplesort.transcribe import transcribe_file

TARGETS = {"kick": 0.95, "snare": 0.90, "hihat": 0.90, "onsets": 0.95}


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def require_new_folder(path: Path | None) -> None:
    """Exit with a one-line message when `--keep`'s folder already holds anything: a kept
    set is never mixed with, or written over, another (checked before minutes of training)."""
    if path is not None and path.exists() and any(path.iterdir()):
        sys.exit(f"{path}: exists and is not empty; --keep needs a new folder")


def oneshot_models(corpus: Path, folds: list[list[str]]) -> list[ModelBundle]:
    """Per fold, a one-shot classifier trained with the bundled model's recipe (algorithm,
    trees, augmentation and seed, read from its metadata) on every corpus file but those of
    the fold's kits (thresholds are not chosen: only its scores are used)."""
    from samplesort import pipeline, training

    meta = load_default().meta
    files, _ = pipeline.labeled_tree(corpus)
    ts, _ = pipeline.training_set(files, augment=int(meta["augment"]), seed=int(meta["seed"]))
    out = []
    for held in folds:
        keep = ~np.isin(ts.groups, held)
        part = training.TrainingSet(
            ts.X[keep], ts.y[keep], ts.groups[keep], ts.origin[keep], ts.augmented[keep], ts.paths
        )
        out.append(
            training.train_bundle(
                part,
                algorithm=meta["algorithm"],
                n_trees=int(meta["n_trees"]),
                seed=int(meta["seed"]),
                cv=False,
            )
        )
    return out


def print_overall(overall: dict[str, trackeval.Counts]) -> None:
    """Precision / recall / F1 per label, the targeted ones first, with their targets."""
    print(f"{'label':<14}{'P':>7}{'R':>7}{'F1':>7}  target")
    for lab, c in sorted(overall.items(), key=lambda kv: (kv[0] not in TARGETS, kv[0])):
        target = f">= {TARGETS[lab]:.2f}" if lab in TARGETS else ""
        print(f"{lab:<14}{c.precision:7.3f}{c.recall:7.3f}{c.f1:7.3f}  {target}")


def librosa_onsets(path: Path) -> np.ndarray:
    """librosa's default onset detector (onset_strength + onset_detect, 22.05 kHz)."""
    import librosa

    y, sr = librosa.load(str(path), sr=22050, mono=True)
    return librosa.onset.onset_detect(y=y, sr=sr, units="time")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.tracks", description=__doc__)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--folds", type=int, default=tracktrain.N_FOLDS)
    ap.add_argument("--grooves-per-kit", type=int, default=20)
    ap.add_argument("--eval-per-kit", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--algorithm", choices=ALGORITHMS, default=tracktrain.ALGORITHM)
    ap.add_argument("--trees", type=int, default=tracktrain.N_TREES)
    ap.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep each fold's grooves, track model and one-shot model in DIR/foldK",
    )
    args = ap.parse_args(argv)
    require_new_folder(args.keep)

    names = grooves.corpus_kits(args.corpus)
    kits = {k.name: k for k in grooves.load_kits(args.corpus, names, sr_hz=ANALYSIS_SR_HZ)}
    kits44 = {k.name: k for k in grooves.load_kits(args.corpus, names, sr_hz=44100)}
    folds = tracktrain.kit_folds(names, args.folds)
    _say("one-shot classifiers without each fold's kits")
    oneshots = oneshot_models(args.corpus, folds)
    per_file: dict[str, dict[str, trackeval.Counts]] = {}
    baseline: list[trackeval.Counts] = []
    audio_s = 0.0
    compute_s = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-tracks-") as tmp:
        for k, held in enumerate(folds):
            train = [kits[n] for n in names if n not in held]
            _say(f"fold {k + 1}/{len(folds)}: held out {', '.join(held)}")
            rows = tracktrain.render_rows(
                train, train, grooves_per_kit=args.grooves_per_kit, seed=args.seed + k
            )
            model = tracktrain.build(
                rows, seed=args.seed, n_trees=args.trees, algorithm=args.algorithm
            )
            test = [kits44[n] for n in held]
            out = (args.keep or Path(tmp)) / f"fold{k}"
            wavs = grooves.write_set(
                test * args.eval_per_kit,
                out,
                n=len(test) * args.eval_per_kit,
                seed=10_000 + args.seed + k,
                donors=test,
            )
            if args.keep:
                model.save(out / "tracks.npz")
                oneshots[k].save(out / "oneshot.npz")
            for wav in wavs:
                truth = trackeval.read_truth(wav.with_suffix(".csv"))
                t0 = time.perf_counter()
                t = transcribe_file(wav, model, oneshot=oneshots[k])
                compute_s += time.perf_counter() - t0
                audio_s += t.duration_s
                est = [(h.time_s, lab) for h in t.hits for lab in h.labels]
                per_file[f"fold{k}/{wav.name}"] = trackeval.score(truth, est)
                baseline.append(
                    trackeval.match(
                        trackeval.merge_close(r for r, _ in truth),
                        trackeval.merge_close(librosa_onsets(wav).tolist()),
                    )
                )
            part = trackeval.total(v for n, v in per_file.items() if n.startswith(f"fold{k}/"))
            _say("  " + ", ".join(f"{lab} {part[lab].f1:.3f}" for lab in TARGETS if lab in part))
        speed = audio_s / compute_s if compute_s else 0.0
        long_s, long_x, rss_mb = _long_file(Path(tmp), kits44, model, oneshots[-1])
    overall = trackeval.total(per_file.values())
    base = sum(baseline, trackeval.Counts(0, 0, 0))
    report: dict[str, Any] = {
        "folds": [list(f) for f in folds],
        "files": len(per_file),
        "audio_s": round(audio_s, 1),
        "overall": trackeval.as_json(overall),
        "librosa_default_onsets": base.as_dict(),
        "speed_x_realtime": round(speed, 1),
        "long_file": {"seconds": long_s, "x_realtime": round(long_x, 1), "rss_growth_mb": rss_mb},
        "per_file": {name: trackeval.as_json(scores) for name, scores in per_file.items()},
    }
    print(f"held-out kits, {len(per_file)} grooves, {audio_s:.0f} s of audio")
    print_overall(overall)
    print(f"{'librosa onsets':<14}{base.precision:7.3f}{base.recall:7.3f}{base.f1:7.3f}")
    print(f"speed: {speed:.0f}x real time (evaluation files), target >= 100x")
    print(f"10-minute file: {long_x:.0f}x real time, peak RSS growth {rss_mb:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


def _long_file(
    tmp: Path, kits: dict[str, grooves.Kit], model: Any, oneshot: ModelBundle
) -> tuple[float, float, float]:
    """A 10-minute loop (a 4-bar groove repeated), transcribed block-wise."""
    import soundfile as sf

    rng = np.random.default_rng(99)
    kit = grooves.complete(next(iter(kits.values())), list(kits.values()), rng)
    r = grooves.render(grooves.generate(rng, bpm=120, bars=4), kit, rng)
    bar = r.audio[: int(8.0 * r.sr_hz)]
    path = tmp / "long.wav"
    with sf.SoundFile(str(path), "w", r.sr_hz, 1, subtype="PCM_16") as f:
        for _ in range(75):  # 75 x 8 s = 10 minutes, written without holding it in memory
            f.write(bar)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    t = transcribe_file(path, model, oneshot=oneshot)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return round(t.duration_s, 1), t.duration_s / elapsed, round(after - before, 1)


if __name__ == "__main__":
    main()
