"""Fitting tree ensembles with scikit-learn (the only training code that imports it, lazily):
one binary estimator per label (`fit_trees`, one-vs-rest, rows weighted per (group, label)) or
per column of a boolean matrix (`fit_columns`), exported to plain `model.TreeArrays`; the
algorithms (`forest`, `extra`, `tree`) and their settings; `library_versions`, what a saved
model records about the libraries that trained it.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from typing import Any

import numpy as np

from .model import TreeArrays

ALGORITHMS = ("forest", "extra", "tree")
DEFAULT_TREES = 300


def _estimator(algorithm: str, seed: int, n_trees: int, n_jobs: int = -1) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    if algorithm in ("forest", "extra"):
        forest = RandomForestClassifier if algorithm == "forest" else ExtraTreesClassifier
        return forest(
            n_estimators=n_trees,
            max_features="sqrt",
            # extra-trees split at random, so they grow deeper; a leaf of 2 keeps them smaller
            # at the same grouped-CV score
            min_samples_leaf=1 if algorithm == "forest" else 2,
            class_weight="balanced_subsample",
            random_state=seed,
            n_jobs=n_jobs,
        )
    if algorithm == "tree":
        return DecisionTreeClassifier(
            min_samples_leaf=3, class_weight="balanced", random_state=seed
        )
    raise ValueError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")


def fit_trees(
    X: np.ndarray,
    y: np.ndarray,
    labels: Sequence[str],
    *,
    algorithm: str = "forest",
    seed: int = 0,
    n_trees: int = DEFAULT_TREES,
    n_jobs: int = -1,
    groups: np.ndarray | None = None,
) -> TreeArrays:
    """One binary estimator per label (one-vs-rest), exported to plain arrays. With `groups`,
    rows are weighted so every (group, label) pair — one drum of one kit — weighs the same
    however many velocity layers or augmented copies it has."""
    weights = None
    if groups is not None:
        weights = balanced_weights(
            np.char.add(np.char.add(groups.astype(str), "\x00"), y.astype(str))
        )
    Y = np.stack([y == label for label in labels], axis=1)
    return fit_columns(X, Y, weights, algorithm, seed, n_trees, n_jobs)


def balanced_weights(keys: np.ndarray) -> np.ndarray:
    """Row weights under which every distinct key (a kit, or a kit's drum) weighs the same in
    total however many rows it has; they average 1."""
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[inverse]
    weights *= weights.size / weights.sum()
    return weights


def fit_columns(
    X: np.ndarray,
    Y: np.ndarray,
    weights: np.ndarray | None,
    algorithm: str,
    seed: int,
    n_trees: int,
    n_jobs: int,
    max_leaf_nodes: int | None = None,
) -> TreeArrays:
    """One binary estimator per column of the boolean matrix Y (seeded seed + column)."""
    estimators = []
    for c in range(Y.shape[1]):
        est = _estimator(algorithm, seed + c, n_trees, n_jobs)
        if max_leaf_nodes is not None and hasattr(est, "max_leaf_nodes"):
            est.set_params(max_leaf_nodes=max_leaf_nodes)
        est.fit(X, Y[:, c].astype(np.int8), sample_weight=weights)
        estimators.append(est)
    return TreeArrays.from_estimators(estimators)


def library_versions() -> dict[str, str]:
    """The versions a saved model records (scikit-learn trained it, numpy holds its arrays)."""
    import sklearn

    return {
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
