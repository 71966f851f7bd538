"""Multi-label training for full-track mode, where a hit can be a kick AND a closed hat: one
binary estimator per column of a boolean label matrix with every group (kit) weighing the same
(`fit_trees_multilabel`), per-label F1 (`multilabel_f1`) and per-label thresholds, each label
accepted on its own (`choose_thresholds_multilabel`). Used by `tracktrain`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .model import TreeArrays
from .training_fit import DEFAULT_TREES, balanced_weights, fit_columns


def fit_trees_multilabel(
    X: np.ndarray,
    Y: np.ndarray,
    labels: Sequence[str],
    *,
    algorithm: str = "forest",
    seed: int = 0,
    n_trees: int = DEFAULT_TREES,
    n_jobs: int = -1,
    groups: np.ndarray | None = None,
    max_leaf_nodes: int | None = None,
) -> TreeArrays:
    """One binary estimator per column of the boolean matrix `Y` (n_rows, len(labels)): a row
    can be positive for several labels, or for none. With `groups`, every group (kit) weighs
    the same in total however many rows it has. `max_leaf_nodes` bounds each tree's size."""
    weights = None if groups is None else balanced_weights(groups.astype(str))
    return fit_columns(
        X, Y[:, : len(labels)], weights, algorithm, seed, n_trees, n_jobs, max_leaf_nodes
    )


def multilabel_f1(truth: np.ndarray, accepted: np.ndarray) -> np.ndarray:
    """Per-column F1 of boolean decisions against boolean truth (both (n_rows, n_labels))."""
    tp = np.sum(truth & accepted, axis=0).astype(np.float64)
    denom = truth.sum(axis=0) + accepted.sum(axis=0)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def choose_thresholds_multilabel(
    scores: np.ndarray, Y: np.ndarray, *, grid: Sequence[float] | None = None
) -> np.ndarray:
    """Per-label thresholds that maximise each label's own F1 on (out-of-fold) scores: in a
    multi-label decision every label is accepted on its own, so the labels do not interact."""
    grid = np.round(np.arange(0.1, 0.81, 0.025), 3) if grid is None else np.asarray(grid)
    best = np.full(Y.shape[1], 0.5)
    best_f1 = np.full(Y.shape[1], -1.0)
    for t in grid:
        f1 = multilabel_f1(Y, scores >= t)
        better = f1 > best_f1 + 1e-9
        best[better], best_f1[better] = t, f1[better]
    return best
