"""Train a one-shot model: choose per-class thresholds by grouped cross-validation, score
predictions (fine macro-F1, per-label F1, coarse-group accuracy, confusion matrix) and build the
`ModelBundle` (`train_bundle`). The forests are fitted in `training_fit.py`; the multi-label
training of full-track mode is `training_multilabel.py`. Re-exports both modules' public names.

Groups are kits / packs: every fold holds whole kits out, so the velocity layers of one drum
are never on both sides of a split. Augmented rows train only; they are never scored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .decide import top_labels
from .features import FEATURE_NAMES, FEATURE_SCHEMA_VERSION
from .model import ModelBundle
from .taxonomy import LABELS, UNKNOWN, group_of
from .training_fit import ALGORITHMS, DEFAULT_TREES, fit_trees, library_versions
from .training_multilabel import (
    choose_thresholds_multilabel,
    fit_trees_multilabel,
    multilabel_f1,
)

__all__ = [
    "ALGORITHMS",
    "DEFAULT_TREES",
    "LABELS",
    "MIN_GAIN",
    "THRESHOLD_RANGE",
    "Report",
    "TrainingSet",
    "choose_thresholds",
    "choose_thresholds_multilabel",
    "cross_validate",
    "fit_trees",
    "fit_trees_multilabel",
    "grouped_oof_scores",
    "library_versions",
    "multilabel_f1",
    "nested_labels",
    "score_predictions",
    "summary",
    "train_bundle",
]

THRESHOLD_RANGE = (0.15, 0.45)
MIN_GAIN = 0.003  # a threshold moves only for a clear macro-F1 gain (they overfit otherwise)


@dataclass(frozen=True)
class TrainingSet:
    """Rows of features. `origin[i]` is the index of the source file the row came from;
    `augmented[i]` marks rows made by augmentation (trained on, never scored)."""

    X: np.ndarray
    y: np.ndarray  # label strings
    groups: np.ndarray  # kit / pack names
    origin: np.ndarray
    augmented: np.ndarray
    paths: tuple[str, ...]  # per source file

    @property
    def originals(self) -> np.ndarray:
        return np.nonzero(~self.augmented)[0]


def _fold(
    ts: TrainingSet, g: str, labels: Sequence[str], algorithm: str, seed: int, n_trees: int
) -> tuple[np.ndarray, np.ndarray]:
    test = (ts.groups == g) & ~ts.augmented
    train = ts.groups != g
    trees = fit_trees(
        ts.X[train],
        ts.y[train],
        labels,
        algorithm=algorithm,
        seed=seed,
        n_trees=n_trees,
        n_jobs=1,
        groups=ts.groups[train],
    )
    return test, trees.predict_proba(ts.X[test], len(labels))


def grouped_oof_scores(
    ts: TrainingSet,
    labels: Sequence[str],
    *,
    algorithm: str = "forest",
    seed: int = 0,
    n_trees: int = DEFAULT_TREES,
    jobs: int = -1,
    progress: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Leave-one-group-out scores for every original row: (n_rows, n_labels); augmented rows
    get NaN. Each fold trains on every row (augmented included) of the other groups; folds run
    in parallel processes."""
    from joblib import Parallel, delayed

    scores = np.full((ts.X.shape[0], len(labels)), np.nan)
    folds = [g for g in sorted(set(ts.groups.tolist())) if ((ts.groups == g) & ~ts.augmented).any()]
    if progress:
        progress(f"{len(folds)} leave-one-group-out folds")
    results = Parallel(n_jobs=jobs)(
        delayed(_fold)(ts, g, labels, algorithm, seed, n_trees) for g in folds
    )
    for test, s in results:
        scores[test] = s
    return scores


def _macro_f1(y: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> float:
    f1s = []
    for lab in labels:
        t, p = y == lab, pred == lab
        denom = t.sum() + p.sum()
        if t.any():
            f1s.append(2.0 * np.sum(t & p) / denom if denom else 0.0)
    return float(np.mean(f1s)) if f1s else 0.0


def choose_thresholds(
    scores: np.ndarray, y: np.ndarray, labels: Sequence[str], *, passes: int = 3
) -> np.ndarray:
    """Per-class thresholds in THRESHOLD_RANGE chosen on out-of-fold scores to maximise the
    fine macro-F1 of the final decision (coordinate ascent from the low end, so a class only
    gets a stricter threshold when that clearly pays; "unknown" counts as a miss). The floor
    is what makes a file that resembles nothing come out "unknown"."""
    grid = np.round(np.arange(THRESHOLD_RANGE[0], THRESHOLD_RANGE[1] + 1e-9, 0.025), 3)
    thr = np.full(len(labels), float(grid[0]))
    best = _macro_f1(y, top_labels(scores, labels, thr), labels)
    for _ in range(passes):
        changed = False
        for c in range(len(labels)):
            for t in grid:
                trial = thr.copy()
                trial[c] = t
                f1 = _macro_f1(y, top_labels(scores, labels, trial), labels)
                if f1 > best + MIN_GAIN:
                    best, thr, changed = f1, trial, True
        if not changed:
            break
    return thr


@dataclass(frozen=True)
class Report:
    labels: tuple[str, ...]
    macro_f1: float
    accuracy: float
    group_accuracy: float
    unknown_rate: float
    per_label: dict[str, dict[str, float]]
    confusion: list[list[int]]  # rows: true labels (`labels`), cols: `columns`
    columns: tuple[str, ...]
    n: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "macro_f1": round(self.macro_f1, 4),
            "accuracy": round(self.accuracy, 4),
            "group_accuracy": round(self.group_accuracy, 4),
            "unknown_rate": round(self.unknown_rate, 4),
            "per_label": self.per_label,
            "confusion_rows": list(self.labels),
            "confusion_columns": list(self.columns),
            "confusion": self.confusion,
        }


def score_predictions(y_true: Sequence[str], y_pred: Sequence[str]) -> Report:
    """Fine macro-F1 over the labels present in `y_true` ("unknown" counts as a miss)."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    present = tuple(lab for lab in LABELS if lab in set(yt.tolist()))
    per: dict[str, dict[str, float]] = {}
    for lab in present:
        tp = float(np.sum((yt == lab) & (yp == lab)))
        fp = float(np.sum((yt != lab) & (yp == lab)))
        fn = float(np.sum((yt == lab) & (yp != lab)))
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        per[lab] = {
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f, 4),
            "support": int(np.sum(yt == lab)),
        }
    cols = [*present, UNKNOWN]
    extra = sorted(set(yp.tolist()) - set(cols))
    cols += extra
    conf = [[int(np.sum((yt == t) & (yp == p))) for p in cols] for t in present]
    groups_t = np.array([group_of(v) for v in yt])
    groups_p = np.array([group_of(v) for v in yp])
    return Report(
        labels=present,
        macro_f1=float(np.mean([per[lab]["f1"] for lab in present])) if present else 0.0,
        accuracy=float(np.mean(yt == yp)) if yt.size else 0.0,
        group_accuracy=float(np.mean(groups_t == groups_p)) if yt.size else 0.0,
        unknown_rate=float(np.mean(yp == UNKNOWN)) if yt.size else 0.0,
        per_label=per,
        confusion=conf,
        columns=tuple(cols),
        n=int(yt.size),
    )


def nested_labels(
    scores: np.ndarray, y: np.ndarray, groups: np.ndarray, labels: Sequence[str]
) -> np.ndarray:
    """Out-of-fold labels where each held-out group's thresholds were chosen on the other
    groups' out-of-fold scores only, so the reported score never sees its own thresholds."""
    out = np.empty(len(y), dtype=object)
    for g in sorted(set(groups.tolist())):
        held = groups == g
        thr = choose_thresholds(scores[~held], y[~held], labels)
        out[held] = top_labels(scores[held], labels, thr)
    return out


def cross_validate(
    ts: TrainingSet,
    labels: Sequence[str] = LABELS,
    *,
    algorithm: str = "forest",
    seed: int = 0,
    n_trees: int = DEFAULT_TREES,
    progress: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, Report]:
    """Leave-one-group-out CV. Returns (thresholds chosen on all out-of-fold scores, those
    scores, a report whose labels use nested thresholds — see `nested_labels`)."""
    oof = grouped_oof_scores(
        ts, labels, algorithm=algorithm, seed=seed, n_trees=n_trees, progress=progress
    )
    idx = ts.originals
    y, groups = ts.y[idx], ts.groups[idx]
    thresholds = choose_thresholds(oof[idx], y, labels)
    preds = nested_labels(oof[idx], y, groups, labels)
    report = score_predictions(y.tolist(), preds.tolist())
    return thresholds, oof[idx], report


def summary(ts: TrainingSet) -> dict[str, Any]:
    idx = ts.originals
    per_label: dict[str, int] = {}
    per_group: dict[str, int] = {}
    for lab, g in zip(ts.y[idx].tolist(), ts.groups[idx].tolist(), strict=True):
        per_label[lab] = per_label.get(lab, 0) + 1
        per_group[g] = per_group.get(g, 0) + 1
    return {
        "files": int(idx.size),
        "rows_with_augmentation": int(ts.X.shape[0]),
        "per_label": per_label,
        "per_group": per_group,
    }


def train_bundle(
    ts: TrainingSet,
    *,
    algorithm: str = "forest",
    seed: int = 0,
    n_trees: int = DEFAULT_TREES,
    cv: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ModelBundle:
    """Grouped CV (for thresholds and honest scores), then a final fit on everything."""

    from . import __version__

    labels = tuple(lab for lab in LABELS if lab in set(ts.y.tolist()))
    n_groups = len(set(ts.groups.tolist()))
    cv_report: dict[str, Any] | None = None
    if cv and n_groups >= 2:
        thresholds, _, report = cross_validate(
            ts, labels, algorithm=algorithm, seed=seed, n_trees=n_trees, progress=progress
        )
        cv_report = report.as_dict()
    else:
        thresholds = np.full(len(labels), 0.35)
    if progress:
        progress(f"final fit on {ts.X.shape[0]} rows")
    trees = fit_trees(
        ts.X, ts.y, labels, algorithm=algorithm, seed=seed, n_trees=n_trees, groups=ts.groups
    )
    digest = hashlib.sha256(
        trees.threshold.tobytes() + trees.value.tobytes() + thresholds.tobytes()
    ).hexdigest()[:10]
    meta = {
        "model_id": f"samplesort-{algorithm}-s{FEATURE_SCHEMA_VERSION}-{digest}",
        "algorithm": algorithm,
        "n_trees": n_trees if algorithm in ("forest", "extra") else 1,
        "seed": seed,
        "samplesort_version": __version__,
        "versions": library_versions(),
        "training_set": summary(ts),
        "cv": cv_report,
        "cv_scheme": "leave-one-group-out (group = kit / pack)" if cv_report else None,
    }
    return ModelBundle(
        labels=labels,
        thresholds=thresholds,
        trees=trees,
        feature_names=FEATURE_NAMES,
        schema_version=FEATURE_SCHEMA_VERSION,
        meta=meta,
    )
