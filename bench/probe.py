"""A fast leave-one-kit-out probe of the one-shot classifier, for trying ideas.

    python -m bench.probe CORPUS_DIR [--augment 4] [--seeds 3] [--families] [--ablate]
                                     [--candidates] [--augment-seed N] [--no-sustain]

One multiclass extra-trees forest per held-out kit (100 trees, rows weighted per (kit, label),
the bundled recipe's settings) instead of `training.cross_validate`'s eleven one-vs-rest
forests and nested thresholds: ~13 s per run instead of ~100 s, and within ~0.01 of it on this
corpus (0.704 vs 0.708 macro-F1, same per-label pattern). Averaged over `--seeds` seeds (seed
noise is about +-0.01). Prints fine macro-F1 for:

* the current features (always); `--per-kit`: each held-out kit's accuracy and confusions;
* `--families`: other model families on the same features (SVM, logistic regression, gradient
  boosting — not the product's design, a yardstick: if they all score alike, the features and
  the data, not the forest, set the ceiling);
* `--ablate`: the current features minus each feature group;
* `--candidates`: the current features plus the candidate features of
  `bench/candidate_features.py`, all and per group;
* `--other-source DIR [--without GROUP]`: a cross-source check instead of cross-kit: the
  bundled recipe's one-vs-rest forests (extra-trees, `--trees` per label, default 100 as
  bundled; `--seeds` seeds) trained on the
  whole corpus score DIR (a labeled tree from another source, e.g. the rendered DrumSynth
  presets of `make corpus-drumsynth`), with all features and without the feature group GROUP
  (a name `--ablate` prints), with per-label F1;
* `--augment-seed N`: another draw of the augmented variants (0 is the bundled model's; the
  draw moves the figures as much as the forest's seed does); `--no-sustain`: augment without
  the longer-ring variants of `augment.sustained`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from samplesort import audio, augment, pipeline
from samplesort.features import FEATURE_NAMES

Factory = Callable[[int], Any]


def _extra_trees(seed: int) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier

    return ExtraTreesClassifier(
        100,
        max_features="sqrt",
        min_samples_leaf=2,
        class_weight="balanced_subsample",
        random_state=seed,
        n_jobs=1,
    )


def _families() -> dict[str, Factory]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import QuantileTransformer
    from sklearn.svm import SVC

    def gauss() -> Any:
        return QuantileTransformer(n_quantiles=200, output_distribution="normal")

    return {
        "svm (rbf, quantile-normalised)": lambda s: make_pipeline(
            gauss(), SVC(C=3, probability=True, class_weight="balanced", random_state=s)
        ),
        "logistic regression (quantile-normalised)": lambda s: make_pipeline(
            gauss(), LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced")
        ),
        "gradient boosting (hist)": lambda s: HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, class_weight="balanced", random_state=s
        ),
    }


def _fold(
    factory: Factory, X: np.ndarray, y: np.ndarray, w: np.ndarray, train: np.ndarray, seed: int
) -> Any:
    model = factory(seed)
    # a pipeline passes the weights to its last step
    key = f"{model.steps[-1][0]}__sample_weight" if hasattr(model, "steps") else "sample_weight"
    model.fit(X[train], y[train], **{key: w[train]})
    return model


def _run_fold(
    factory: Factory, X: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray,
    aug: np.ndarray, g: str, seed: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    test = (groups == g) & ~aug
    model = _fold(factory, X, y, w, groups != g, seed)
    return test, model.predict(X[test])


def loko_macro_f1(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    aug: np.ndarray,
    *,
    factory: Factory = _extra_trees,
    seed: int = 0,
    per_kit: bool = False,
) -> tuple[float, dict[str, float]]:
    """Fine macro-F1 and per-label F1 of leave-one-group-out argmax predictions (original
    rows scored; augmented rows train only). `per_kit` also prints each held-out kit's
    accuracy and its commonest confusions."""
    from joblib import Parallel, delayed

    X = np.nan_to_num(X)
    key = np.char.add(groups.astype(str), y.astype(str))
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    folds = sorted(set(groups[~aug].tolist()))
    results = Parallel(n_jobs=-1)(
        delayed(_run_fold)(factory, X, y, w, groups, aug, g, seed) for g in folds
    )
    pred = np.empty(len(y), dtype=object)
    for test, p in results:
        pred[test] = p
    yt, yp = y[~aug], pred[~aug]
    f1 = {}
    for lab in sorted(set(yt.tolist())):
        tp = np.sum((yt == lab) & (yp == lab))
        denom = np.sum(yt == lab) + np.sum(yp == lab)
        f1[lab] = float(2 * tp / denom) if denom else 0.0
    if per_kit:
        from collections import Counter

        gt = groups[~aug]
        for g in sorted(set(gt.tolist())):
            m = gt == g
            wrong = Counter(
                f"{a} -> {b}" for a, b in zip(yt[m], yp[m], strict=True) if a != b
            ).most_common(3)
            print(
                f"  {g:<50} {int(m.sum()):>4} files, accuracy {np.mean(yt[m] == yp[m]):.2f}"
                + (f"; {', '.join(f'{k} ({v})' for k, v in wrong)}" if wrong else "")
            )
    return float(np.mean(list(f1.values()))), f1


def _rows(
    path: Path,
    label: str,
    n_aug: int,
    seed: int,
    extra: Callable[..., np.ndarray] | None,
    sustain: bool = True,
) -> Any:
    """Feature rows of one file and its augmented variants, exactly as `pipeline.training_set`
    makes them (same seeds, `augment.variants`), optionally with candidate features appended;
    `sustain=False` (`--no-sustain`) leaves out the longer rings."""
    from samplesort import features

    try:
        clip = audio.decode(path, max_s=audio.MAX_ANALYSIS_S + 0.5)
    except Exception:  # noqa: BLE001 - unreadable corpus files are left out, as in training
        return None
    n = int(audio.MAX_ANALYSIS_S * clip.sr_hz)
    signals = [(clip.samples, clip.duration_s)]
    for v in augment.variants(
        clip.samples, clip.sr_hz, label=label, n=n_aug, seed=seed, sustain=sustain
    ):
        signals.append((v, clip.duration_s * v.size / max(clip.samples.size, 1)))
    out = []
    for x, dur in signals:
        row = features.describe(x[:n], sr_hz=clip.sr_hz, file_duration_s=dur)
        if extra is not None:
            row = np.concatenate([row, extra(x[:n], clip.sr_hz)])
        out.append(row)
    return out


def corpus_rows(
    corpus: Path,
    n_aug: int,
    extra: Callable[..., np.ndarray] | None = None,
    *,
    augment_seed: int = 0,
    sustain: bool = True,
) -> Any:
    """Feature rows of a labeled tree; `augment_seed` draws another set of variants (seed 0 is
    the bundled model's)."""
    from joblib import Parallel, delayed

    files, _ = pipeline.labeled_tree(corpus)
    pipeline.pin_blas_threads()
    res = Parallel(n_jobs=-1, batch_size=8)(
        delayed(_rows)(f.path, f.label, n_aug, augment_seed * 100003 + i, extra, sustain)
        for i, f in enumerate(files)
    )
    X, y, g, a = [], [], [], []
    for f, rows in zip(files, res, strict=True):
        for j, row in enumerate(rows or []):
            X.append(row)
            y.append(f.label)
            g.append(f.group)
            a.append(j > 0)
    return np.stack(X).astype(np.float32), np.array(y), np.array(g), np.array(a)


def _groups_of(names: list[str]) -> dict[str, list[int]]:
    def idx(pred: Callable[[str], bool]) -> list[int]:
        return [i for i, n in enumerate(names) if pred(n)]

    return {
        "file_duration_s": idx(lambda n: n == "file_duration_s"),
        "mel bands early": idx(lambda n: n.startswith("mel") and "early" in n),
        "mel bands late": idx(lambda n: n.startswith("mel") and "late" in n),
        "mfcc": idx(lambda n: n.startswith("mfcc")),
        "six bands": idx(lambda n: n.startswith("band")),
        "levels after peak": idx(lambda n: n.startswith("level_")),
        "pitch": idx(lambda n: n.startswith(("f0", "low_centroid"))),
        "spectral shape": idx(
            lambda n: not n.startswith("mel") and n.endswith(("_early", "_late"))
        ),
    }


def other_source(
    corpus: Path,
    other: Path,
    n_aug: int,
    without: str | None,
    *,
    seeds: int = 2,
    augment_seed: int = 0,
    sustain: bool = True,
    n_trees: int = 100,
) -> None:
    from samplesort import training
    from samplesort.decide import top_labels

    X, y, groups, _ = corpus_rows(corpus, n_aug, augment_seed=augment_seed, sustain=sustain)
    Xo, yo, _, _ = corpus_rows(other, 0)
    labels = tuple(lab for lab in training.LABELS if lab in set(y.tolist()))
    variants: dict[str, list[int]] = {"all features": []}
    if without:
        variants[f"without {without}"] = _groups_of(list(FEATURE_NAMES))[without]
    for name, drop in variants.items():
        for seed in range(seeds):
            A, B = X.copy(), Xo.copy()
            A[:, drop] = 0.0  # a constant column is never split on
            B[:, drop] = 0.0
            trees = training.fit_trees(
                A, y, labels, algorithm="extra", seed=seed, n_trees=n_trees, groups=groups
            )
            S = trees.predict_proba(B, len(labels))
            pred = top_labels(S, labels, np.full(len(labels), training.THRESHOLD_RANGE[0]))
            rep = training.score_predictions(yo.tolist(), list(pred))
            print(
                f"{name}, seed {seed}: macro-F1 {rep.macro_f1:.3f}, accuracy "
                f"{rep.accuracy:.3f}, group accuracy {rep.group_accuracy:.3f} on "
                f"{len(yo)} files of {other}\n  "
                + ", ".join(f"{k} {v['f1']:.2f}" for k, v in rep.per_label.items()),
                flush=True,
            )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.probe", description=__doc__)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--augment", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--families", action="store_true")
    ap.add_argument("--ablate", action="store_true")
    ap.add_argument("--candidates", action="store_true")
    ap.add_argument("--per-kit", action="store_true", help="accuracy per held-out kit (seed 0)")
    ap.add_argument("--other-source", type=Path)
    ap.add_argument("--without", default=None)
    ap.add_argument(
        "--augment-seed", type=int, default=0, help="another draw of the augmented variants"
    )
    ap.add_argument(
        "--no-sustain", action="store_true", help="augment without the longer-ring variants"
    )
    ap.add_argument("--trees", type=int, default=100, help="trees per label (--other-source)")
    args = ap.parse_args(argv)
    if args.other_source:
        other_source(
            args.corpus,
            args.other_source,
            args.augment,
            args.without,
            seeds=args.seeds,
            augment_seed=args.augment_seed,
            sustain=not args.no_sustain,
            n_trees=args.trees,
        )
        return
    extra = None
    if args.candidates:
        from bench import candidate_features

        extra = candidate_features.extra
    t = time.perf_counter()
    X, y, groups, aug = corpus_rows(
        args.corpus,
        args.augment,
        extra,
        augment_seed=args.augment_seed,
        sustain=not args.no_sustain,
    )
    n_base = len(FEATURE_NAMES)
    print(
        f"{(~aug).sum()} files, {X.shape[0]} rows, {len(set(groups.tolist()))} groups "
        f"({time.perf_counter() - t:.0f} s to extract)"
    )

    def score(cols: np.ndarray | slice, factory: Factory = _extra_trees, seeds: int = 0) -> str:
        runs = [
            loko_macro_f1(X[:, cols], y, groups, aug, factory=factory, seed=s)
            for s in range(seeds or args.seeds)
        ]
        mean = float(np.mean([r[0] for r in runs]))
        per = {k: np.mean([r[1][k] for r in runs]) for k in runs[0][1]}
        return f"{mean:.3f}  (" + ", ".join(f"{k} {v:.2f}" for k, v in per.items()) + ")"

    base = np.arange(n_base)
    if args.per_kit:
        print("per held-out kit, extra-trees, seed 0:")
        loko_macro_f1(X[:, base], y, groups, aug, seed=0, per_kit=True)
    print(f"extra-trees, {n_base} features: macro-F1 {score(base)}", flush=True)
    if args.families:
        for name, factory in _families().items():
            print(f"{name}: macro-F1 {score(base, factory, seeds=1)}", flush=True)
    if args.ablate:
        for name, cols in _groups_of(list(FEATURE_NAMES)).items():
            keep = np.setdiff1d(base, cols)
            print(f"without {name} ({len(cols)}): macro-F1 {score(keep)}", flush=True)
    if args.candidates:
        from bench import candidate_features

        names = candidate_features.NAMES
        print(f"+ all {len(names)} candidates: macro-F1 {score(slice(None))}", flush=True)
        parts = {
            "windows": [i for i, n in enumerate(names) if n.startswith("w")],
            "peak persistence": [i for i, n in enumerate(names) if n.startswith("persist")],
            "bursts": [i for i, n in enumerate(names) if n.startswith(("n_b", "env_rough"))],
            "decay shape": [i for i, n in enumerate(names) if n.startswith("decay_")],
            "membrane modes": [i for i, n in enumerate(names) if n in ("lowpeaks_n", "mode_ratio")],
            "band decay ratio": [i for i, n in enumerate(names) if n == "hi_decay_ratio"],
        }
        for name, cols in parts.items():
            sel = np.concatenate([base, n_base + np.array(cols)])
            print(f"+ {name} ({len(cols)}): macro-F1 {score(sel)}", flush=True)


if __name__ == "__main__":
    main()
