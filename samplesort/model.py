"""A model bundle: per-class tree ensembles + labels + thresholds + feature schema + metadata.

Training uses scikit-learn (see `training_fit.py`); the fitted trees are then exported to plain
arrays and saved as an `.npz` file loaded with `allow_pickle=False`. So:

* loading a model never runs code from the file (pickle/joblib would), and
* the bundled model loads the same under any scikit-learn / numpy version — prediction walks
  the exported trees with numpy and matches `predict_proba` exactly (tested).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError, SchemaMismatch
from .features import FEATURE_NAMES, FEATURE_SCHEMA_VERSION

MODEL_FORMAT = "samplesort-trees"
MODEL_FORMAT_VERSION = 1
_CHUNK = 256  # rows per numpy prediction step
_COMPILED_FROM = 48  # batches this large use the numba kernel (compiled once, cached on disk)
# Rows a whole run scores from which the numba kernel is worth its start-up in a process
# (import + loading the cached kernel, ~1 s of CPU): the numpy walk costs ~0.45 ms per row, the
# kernel ~0.25 ms, so below this many rows the numpy walk finishes first.
COMPILED_RUN_FROM = 4000


@lru_cache(maxsize=1)
def _compiled_walk() -> Callable[..., np.ndarray] | None:
    """A numba-compiled tree walk (numba comes with librosa) for large batches, where the numpy
    walk costs ~1 ms per row; None if numba is unavailable, and the numpy walk is used."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba ships with librosa
        return None

    @numba.njit(cache=True, nogil=True)
    def walk(X, roots, feature, threshold, left, right):  # type: ignore[no-untyped-def]
        n, t = X.shape[0], roots.shape[0]
        out = np.empty((n, t), dtype=np.int64)
        for j in range(t):  # tree-major: one tree's nodes stay in cache for every row
            for i in range(n):
                node = roots[j]
                while feature[node] >= 0:
                    if X[i, feature[node]] <= threshold[node]:
                        node = left[node]
                    else:
                        node = right[node]
                out[i, j] = node
        return out

    return walk


_ARRAYS = ("feature", "threshold", "left", "right", "value", "roots", "tree_class")


@dataclass(frozen=True)
class TreeArrays:
    """Every tree of every per-class ensemble, concatenated.

    Node arrays: `feature` (-1 at leaves), `threshold` (go left when x <= threshold), `left`,
    `right` (absolute node indices), `value` (P(class) at the node). Per tree: `roots` (index of
    its root node) and `tree_class` (which label it votes for).
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    tree_class: np.ndarray

    def predict_proba(
        self, X: np.ndarray, n_classes: int, *, compiled: bool | None = None
    ) -> np.ndarray:
        """Per-class probability, shape (n_samples, n_classes): the mean of that class's trees.
        Rows go in chunks so memory stays bounded however many are asked for. `compiled`:
        whether to walk with the numba kernel (True) or numpy (False), same results; None =
        the kernel for batches of `_COMPILED_FROM` rows or more."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float32))
        if compiled is None:
            compiled = X.shape[0] >= _COMPILED_FROM
        if compiled:
            walk = _compiled_walk()
            if walk is not None:
                leaf = walk(X, self.roots, self.feature, self.threshold, self.left, self.right)
                return self._average(self.value[leaf], n_classes)
        if X.shape[0] > _CHUNK:
            return np.vstack(
                [
                    self.predict_proba(X[i : i + _CHUNK], n_classes, compiled=False)
                    for i in range(0, X.shape[0], _CHUNK)
                ]
            )
        return self._predict_chunk(X.astype(np.float64), n_classes)

    def _predict_chunk(self, X: np.ndarray, n_classes: int) -> np.ndarray:
        n, n_trees = X.shape[0], self.roots.size
        feature, threshold, children, is_leaf = self._walk_arrays
        # Walk every (sample, tree) pair down together, 3 levels per step (a leaf is its own
        # child, so a pair that reaches one stays there); then the pairs at a leaf drop out,
        # so each step only touches the pairs still inside their trees.
        x = np.ascontiguousarray(X, dtype=np.float64).ravel()
        row_start = np.repeat(np.arange(n, dtype=np.int64) * X.shape[1], n_trees)
        nodes = np.tile(self.roots.astype(np.int64), n)
        pair = np.arange(n * n_trees)
        leaf_node = np.empty(n * n_trees, dtype=np.int64)
        while pair.size:
            for _ in range(3):
                # x <= threshold goes left (a NaN goes right), as in scikit-learn
                right = ~(x[row_start + feature[nodes]] <= threshold[nodes])
                nodes = children[2 * nodes + right]
            done = is_leaf[nodes]
            leaf_node[pair[done]] = nodes[done]
            keep = ~done
            pair, nodes, row_start = pair[keep], nodes[keep], row_start[keep]
        return self._average(self.value[leaf_node].reshape(n, n_trees), n_classes)

    def only(self, classes: Sequence[int]) -> TreeArrays:
        """These trees restricted to the ensembles of `classes` (node arrays shared): they score
        those classes as before, every other class 0, and walk only their own trees."""
        keep = np.isin(self.tree_class, list(classes))
        out = replace(self, roots=self.roots[keep], tree_class=self.tree_class[keep])
        out.__dict__["_walk_arrays"] = self._walk_arrays  # same nodes: built once, shared
        return out

    @cached_property
    def _walk_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The numpy walk's view of the trees: a leaf reads feature 0 against +inf and both its
        children are itself; `children[2 * node + went_right]`."""
        is_leaf = self.feature < 0
        node = np.arange(self.feature.size, dtype=np.int64)
        children = np.empty(2 * node.size, dtype=np.int64)
        children[0::2] = np.where(is_leaf, node, self.left)
        children[1::2] = np.where(is_leaf, node, self.right)
        feature = np.where(is_leaf, 0, self.feature).astype(np.int64)
        threshold = np.where(is_leaf, np.inf, self.threshold)
        return feature, threshold, children, is_leaf

    def _average(self, leaf_p: np.ndarray, n_classes: int) -> np.ndarray:
        n = leaf_p.shape[0]
        counts = np.bincount(self.tree_class, minlength=n_classes).astype(np.float64)
        sums = np.zeros((n, n_classes))
        for c in range(n_classes):
            sums[:, c] = leaf_p[:, self.tree_class == c].sum(axis=1)
        return sums / np.maximum(counts, 1.0)

    @classmethod
    def from_estimators(cls, estimators: list[Any]) -> TreeArrays:
        """Export fitted per-class binary sklearn trees/forests (one estimator per class)."""
        parts: dict[str, list[np.ndarray]] = {k: [] for k in _ARRAYS}
        offset = 0
        for c, est in enumerate(estimators):
            trees = getattr(est, "estimators_", [est])
            pos = list(est.classes_).index(1) if 1 in list(est.classes_) else None
            for tree in trees:
                t = tree.tree_
                leaf = t.children_left < 0
                parts["feature"].append(np.where(leaf, -1, t.feature).astype(np.int32))
                parts["threshold"].append(t.threshold.astype(np.float64))
                parts["left"].append(np.where(leaf, -1, t.children_left + offset).astype(np.int32))
                parts["right"].append(
                    np.where(leaf, -1, t.children_right + offset).astype(np.int32)
                )
                v = t.value[:, 0, :]
                p = v[:, pos] / np.maximum(v.sum(axis=1), 1e-12) if pos is not None else 0 * v[:, 0]
                parts["value"].append(p.astype(np.float64))
                parts["roots"].append(np.array([offset], dtype=np.int32))
                parts["tree_class"].append(np.array([c], dtype=np.int32))
                offset += t.node_count
        return cls(**{k: np.concatenate(v) for k, v in parts.items()})


@dataclass(frozen=True)
class ModelBundle:
    labels: tuple[str, ...]
    thresholds: np.ndarray
    trees: TreeArrays
    feature_names: tuple[str, ...] = FEATURE_NAMES
    schema_version: int = FEATURE_SCHEMA_VERSION
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The compiled tree walk does not bounds-check: a split on a column the rows do not have
        # would read past the row, a silent wrong score. Refuse such a model up front.
        used = int(self.trees.feature.max(initial=-1))
        if used >= len(self.feature_names):
            raise ModelError(
                f"model trees split on feature {used}, but the model names only "
                f"{len(self.feature_names)} features; the model file is inconsistent"
            )

    @property
    def model_id(self) -> str:
        return str(self.meta.get("model_id", "unnamed"))

    def scores(
        self,
        X: np.ndarray,
        *,
        schema_version: int = FEATURE_SCHEMA_VERSION,
        compiled: bool | None = None,
    ) -> np.ndarray:
        """One-vs-rest scores (n_samples, n_labels) for feature rows of `schema_version`;
        `compiled` as in `TreeArrays.predict_proba`."""
        if schema_version != self.schema_version:
            raise SchemaMismatch(
                f"features use schema {schema_version} but the model expects schema "
                f"{self.schema_version}; re-extract or retrain"
            )
        X = np.atleast_2d(X)
        if X.shape[1] != len(self.feature_names):
            raise SchemaMismatch(
                f"got {X.shape[1]} features, the model expects {len(self.feature_names)}"
            )
        return self.trees.predict_proba(X, len(self.labels), compiled=compiled)

    def save(self, path: Path) -> None:
        path = Path(path)
        meta = dict(self.meta)
        meta.update(
            format=MODEL_FORMAT,
            format_version=MODEL_FORMAT_VERSION,
            labels=list(self.labels),
            thresholds=[float(t) for t in self.thresholds],
            feature_names=list(self.feature_names),
            schema_version=self.schema_version,
        )
        blob = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
        arrays = {k: getattr(self.trees, k) for k in _ARRAYS}
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, meta_json=blob, **arrays)
        tmp.replace(path)


def load(path: Path, *, extra_features: tuple[str, ...] = ()) -> ModelBundle:
    """Load a model saved by `ModelBundle.save`; never unpickles anything. Its features must
    be this samplesort's FEATURE_NAMES followed by `extra_features` (the track model adds what
    the onset detector measured about each hit)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta_json"]).decode())
            arrays = {k: data[k] for k in _ARRAYS}
    except FileNotFoundError as exc:
        raise ModelError(f"{path}: model file not found") from exc
    except (ValueError, KeyError, OSError, json.JSONDecodeError) as exc:
        raise ModelError(
            f"{path}: not a samplesort model (expected an .npz written by `samplesort train`; "
            f"pickle/joblib files are refused because loading them runs code)"
        ) from exc
    if meta.get("format") != MODEL_FORMAT or meta.get("format_version") != MODEL_FORMAT_VERSION:
        raise ModelError(
            f"{path}: model format {meta.get('format')} v{meta.get('format_version')} is not "
            f"readable by this samplesort (needs {MODEL_FORMAT} v{MODEL_FORMAT_VERSION})"
        )
    names = tuple(meta.get("feature_names", ()))
    if meta.get("schema_version") != FEATURE_SCHEMA_VERSION or names[: len(FEATURE_NAMES)] != (
        FEATURE_NAMES
    ):
        raise SchemaMismatch(
            f"{path}: model was trained on feature schema {meta.get('schema_version')}, this "
            f"samplesort computes schema {FEATURE_SCHEMA_VERSION}; "
            "retrain it with `samplesort train`"
        )
    extra = names[len(FEATURE_NAMES) :]
    if extra != extra_features:
        got, want = ", ".join(extra) or "none", ", ".join(extra_features) or "none"
        raise SchemaMismatch(
            f"{path}: a {meta.get('kind', 'one-shot')} model whose features beyond the one-shot "
            f"set are ({got}), where this command computes ({want}): track models go with "
            "`samplesort transcribe --model`, one-shot models with the other commands"
        )
    return ModelBundle(
        labels=tuple(meta["labels"]),
        thresholds=np.asarray(meta["thresholds"], dtype=np.float64),
        trees=TreeArrays(**arrays),
        feature_names=tuple(meta["feature_names"]),
        schema_version=int(meta["schema_version"]),
        meta=meta,
    )


def default_model_path() -> Path:
    return Path(str(resources.files("samplesort") / "models" / "default.npz"))


def load_default() -> ModelBundle:
    path = default_model_path()
    if not path.exists():
        raise ModelError(f"{path}: the bundled default model is missing; run `make model`")
    return load(path)
