"""Training data and training for the track model: hits cut from rendered grooves.

Hits inside a groove differ from clean one-shots (tails cut by the next hit, the previous hit
ringing underneath, several drums at once), so the track model learns from exactly what
`transcribe` will meet: grooves are rendered with corpus kits (`grooves.py`), the SAME onset
detector cuts them, and each detected slice is labelled with every ground-truth hit within
MATCH_S of its onset (several labels, or none for a spurious onset). Features come from the
one-shot extractor; the trees are the one-shot model's machinery fitted one-vs-rest per label
(`training.fit_trees_multilabel`), thresholds are chosen on out-of-fold scores with whole kits
held out, and the result is an ordinary `ModelBundle` (.npz, loaded without pickle).

    python -m samplesort.tracktrain CORPUS --out samplesort/models/tracks.npz
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import grooves
from . import segments as seg
from .audio import ANALYSIS_SR_HZ
from .features import FEATURE_NAMES, FEATURE_SCHEMA_VERSION
from .model import ModelBundle, TreeArrays
from .training import (
    ALGORITHMS,
    choose_thresholds_multilabel,
    fit_trees_multilabel,
    library_versions,
    multilabel_f1,
)
from .transcribe import TRACK_INPUTS, TRACK_MODEL_KIND, hit_features, rise_matrix

MATCH_S = 0.03
LABELS = grooves.KIT_LABELS
ALGORITHM = "forest"
N_TREES = 40
MAX_LEAF_NODES = 160
N_FOLDS = 4
GATE_GRID_DB = np.arange(-3.0, 25.0, 1.0)
GATE_MIN_GAIN = 0.005
# Added to a label's threshold after it is chosen on the training kits' out-of-fold scores:
# on kits never trained on, snare wants a higher one (README "Snare threshold").
THRESHOLD_OFFSETS = {"snare": 0.15}


@dataclass(frozen=True)
class Rows:
    X: np.ndarray
    Y: np.ndarray  # bool (n_rows, len(LABELS))
    groups: np.ndarray  # kit names
    R: np.ndarray  # (n_rows, len(segments.BANDS)) band level rise at the onset, dB

    def __add__(self, other: Rows) -> Rows:
        return Rows(
            np.vstack([self.X, other.X]),
            np.vstack([self.Y, other.Y]),
            np.concatenate([self.groups, other.groups]),
            np.vstack([self.R, other.R]),
        )

    def take(self, mask: np.ndarray) -> Rows:
        return Rows(self.X[mask], self.Y[mask], self.groups[mask], self.R[mask])


def label_onsets(
    onsets_s: np.ndarray, truth: Sequence[grooves.Hit], labels: Sequence[str] = LABELS
) -> np.ndarray:
    """(n_onsets, n_labels) bool: each true hit marks its label on the nearest detected onset
    when that is within MATCH_S."""
    Y = np.zeros((onsets_s.size, len(labels)), dtype=bool)
    if onsets_s.size == 0:
        return Y
    for h in truth:
        j = int(np.argmin(np.abs(onsets_s - h.time_s)))
        if abs(onsets_s[j] - h.time_s) <= MATCH_S and h.label in labels:
            Y[j, labels.index(h.label)] = True
    return Y


def rows_of(rendered: grooves.Rendered, group: str) -> Rows:
    """Feature rows and labels of one rendered groove (at ANALYSIS_SR_HZ)."""
    x = rendered.audio
    onsets = seg.detect(x, sr_hz=rendered.sr_hz)
    segs = seg.segments(onsets, sr_hz=rendered.sr_hz, n_samples=x.size)
    segs += seg.hat_segments(onsets, sr_hz=rendered.sr_hz, n_samples=x.size)
    segs.sort(key=lambda s: s.onset_s)
    times = np.array([s.onset_s for s in segs])
    return Rows(
        X=hit_features(x, rendered.sr_hz, segs),
        Y=label_onsets(times, rendered.truth),
        groups=np.array([group] * len(segs), dtype=object),
        R=rise_matrix(segs),
    )


def render_rows(
    kits: Sequence[grooves.Kit],
    donors: Sequence[grooves.Kit],
    *,
    grooves_per_kit: int,
    seed: int,
    progress: Callable[[str], None] | None = None,
) -> Rows:
    """Rows from `grooves_per_kit` random grooves per kit; missing drums are borrowed from
    `donors` (keep donors on the same side of a train / test split)."""
    rng = np.random.default_rng(seed)
    parts = []
    for kit in kits:
        for _ in range(grooves_per_kit):
            full = grooves.complete(kit, donors, rng)
            groove = grooves.generate(rng, labels=full.samples.keys(), bars=int(rng.integers(2, 5)))
            parts.append(rows_of(grooves.render(groove, full, rng), kit.name))
        if progress:
            progress(f"{kit.name}: {sum(p.X.shape[0] for p in parts)} rows so far")
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return out


def accept(
    scores: np.ndarray, rise_db: np.ndarray, thresholds: np.ndarray, gates: dict[str, Any]
) -> np.ndarray:
    """Bool (n, n_labels): score over the label's threshold, and the label's gate band rose
    at least its gate (dB) at the onset. See `transcribe.accept`."""
    from .transcribe import accept as decide

    return decide(scores, rise_db, LABELS, thresholds, gates)


def choose_gates(
    scores: np.ndarray, rise_db: np.ndarray, Y: np.ndarray, thresholds: np.ndarray
) -> tuple[np.ndarray, dict[str, Any]]:
    """Per label, the band of segments.BANDS and the minimum level rise there (dB) that,
    with a re-chosen threshold, best raise the label's F1 on out-of-fold scores (kept only
    for a gain over GATE_MIN_GAIN). For example, a kick must add low end: before the loop
    context was an input, a closed hat over a ringing kick scored "kick" on its slice's
    features, though its low band did not rise, and kick was gated on the low band."""
    grid = np.round(np.arange(0.1, 0.81, 0.025), 3)
    thr = thresholds.copy()
    gates: dict[str, Any] = {}
    base = multilabel_f1(Y, scores >= thr)
    for c, lab in enumerate(LABELS):
        best = (base[c] + GATE_MIN_GAIN, None, None, thr[c])
        pos = Y[:, c].sum()
        over = scores[:, c, None] >= grid[None, :]  # (n, thresholds)
        for b, band in enumerate(seg.BANDS):
            for g in GATE_GRID_DB:
                a = over & (rise_db[:, b] >= g)[:, None]
                f = 2 * np.sum(a & Y[:, c, None], axis=0) / np.maximum(a.sum(axis=0) + pos, 1)
                i = int(np.argmax(f))
                if f[i] > best[0]:
                    best = (float(f[i]), band, float(g), float(grid[i]))
        if best[1] is not None:
            gates[lab] = [best[1], best[2]]
            thr[c] = best[3]
    return thr, gates


def kit_folds(names: Sequence[str], n_folds: int = N_FOLDS) -> list[list[str]]:
    """Whole kits dealt round-robin into `n_folds` folds (sorted names: reproducible)."""
    ordered = sorted(names)
    return [ordered[i::n_folds] for i in range(n_folds)]


def fit(
    rows: Rows, *, seed: int = 0, n_trees: int = N_TREES, algorithm: str = ALGORITHM
) -> TreeArrays:
    return fit_trees_multilabel(
        rows.X,
        rows.Y,
        LABELS,
        algorithm=algorithm,
        seed=seed,
        n_trees=n_trees,
        n_jobs=1,
        groups=rows.groups,
        max_leaf_nodes=MAX_LEAF_NODES,
    )


def oof_scores(
    rows: Rows,
    *,
    seed: int = 0,
    n_trees: int = N_TREES,
    algorithm: str = ALGORITHM,
    progress: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Out-of-fold scores with whole kits held out (N_FOLDS folds, fewer with fewer kits)."""
    scores = np.zeros(rows.Y.shape)
    names = sorted(set(rows.groups.tolist()))
    folds = kit_folds(names, min(N_FOLDS, len(names)))
    for k, fold in enumerate(folds):
        test = np.isin(rows.groups, fold)
        part = rows.take(~test)
        scores[test] = fit(part, seed=seed, n_trees=n_trees, algorithm=algorithm).predict_proba(
            rows.X[test], len(LABELS)
        )
        if progress:
            progress(f"fold {k + 1}/{len(folds)} (held out: {', '.join(fold)})")
    return scores


def build(
    rows: Rows,
    *,
    seed: int = 0,
    n_trees: int = N_TREES,
    cv: bool = True,
    offsets: dict[str, float] | None = None,
    algorithm: str = ALGORITHM,
    progress: Callable[[str], None] | None = None,
) -> ModelBundle:
    """Thresholds and gates from leave-kits-out scores (needs two kits or more), then a final
    fit on every kit; `offsets` (default THRESHOLD_OFFSETS) are added to the chosen thresholds.
    `cv=False` (quick test models only) chooses them on the final fit's own training scores,
    which flatters every label."""

    from . import __version__

    trees = fit(rows, seed=seed, n_trees=n_trees, algorithm=algorithm)
    if cv:
        oof = oof_scores(rows, seed=seed, n_trees=n_trees, algorithm=algorithm, progress=progress)
    else:
        oof = trees.predict_proba(rows.X, len(LABELS))
    thresholds = choose_thresholds_multilabel(oof, rows.Y)
    f1_trees = multilabel_f1(rows.Y, oof >= thresholds)
    thresholds, gates = choose_gates(oof, rows.R, rows.Y, thresholds)
    offsets = THRESHOLD_OFFSETS if offsets is None else offsets
    for lab, offset in offsets.items():
        thresholds[LABELS.index(lab)] += offset
    f1 = multilabel_f1(rows.Y, accept(oof, rows.R, thresholds, gates))
    digest = hashlib.sha256(trees.threshold.tobytes() + thresholds.tobytes()).hexdigest()[:10]
    meta = {
        "kind": TRACK_MODEL_KIND,
        "model_id": f"samplesort-tracks-s{FEATURE_SCHEMA_VERSION}-{digest}",
        "algorithm": algorithm,
        "n_trees": n_trees,
        "max_leaf_nodes": MAX_LEAF_NODES,
        "seed": seed,
        "samplesort_version": __version__,
        "versions": library_versions(),
        "rows": int(rows.X.shape[0]),
        "kits": sorted(set(rows.groups.tolist())),
        "cv_scheme": f"{N_FOLDS} folds of whole kits; slice-level F1 per label"
        if cv
        else "none (scores on the training rows)",
        "cv_f1": {lab: round(float(v), 4) for lab, v in zip(LABELS, f1, strict=True)},
        "cv_f1_without_gates": {
            lab: round(float(v), 4) for lab, v in zip(LABELS, f1_trees, strict=True)
        },
        "gates": gates,
        "threshold_offsets": dict(offsets),
    }
    return ModelBundle(
        labels=LABELS,
        thresholds=thresholds,
        trees=trees,
        feature_names=FEATURE_NAMES + TRACK_INPUTS,
        schema_version=FEATURE_SCHEMA_VERSION,
        meta=meta,
    )


def main(argv: Sequence[str] | None = None) -> None:
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m samplesort.tracktrain", description=__doc__)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--grooves-per-kit", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--algorithm", choices=ALGORITHMS, default=ALGORITHM)
    ap.add_argument("--trees", type=int, default=N_TREES)
    args = ap.parse_args(argv)

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    kits = grooves.load_kits(args.corpus, grooves.corpus_kits(args.corpus), sr_hz=ANALYSIS_SR_HZ)
    rows = render_rows(
        kits, kits, grooves_per_kit=args.grooves_per_kit, seed=args.seed, progress=say
    )
    bundle = build(rows, seed=args.seed, n_trees=args.trees, algorithm=args.algorithm, progress=say)
    bundle.save(args.out)
    say(f"{args.out}: {bundle.model_id}; leave-kits-out slice F1 {bundle.meta['cv_f1']}")


if __name__ == "__main__":
    main()
