"""Pure policy: per-class one-vs-rest scores and thresholds -> a Prediction.

A class is *accepted* when its score reaches its own threshold. The label is the
highest-scoring class if it is accepted, otherwise "unknown" — a file is never forced into a
class. `labels` lists every accepted class (a layered sample can have two).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .records import Prediction
from .taxonomy import UNKNOWN


def top_labels(scores: np.ndarray, labels: Sequence[str], thresholds: np.ndarray) -> np.ndarray:
    """The label of each row of a score matrix (n, len(labels)): the top-scoring class if it
    clears its own threshold, else "unknown". The one implementation of the rule; `decide`
    and threshold selection in training both use it."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    thr = np.asarray(thresholds, dtype=np.float64)
    best = np.argmax(s, axis=1)
    out = np.array(labels, dtype=object)[best]
    out[s[np.arange(len(s)), best] < thr[best]] = UNKNOWN
    return out


def decide(scores: np.ndarray, labels: Sequence[str], thresholds: np.ndarray) -> Prediction:
    """One file's Prediction from its per-class scores (same order as `labels`)."""
    s = np.asarray(scores, dtype=np.float64)
    thr = np.asarray(thresholds, dtype=np.float64)
    accepted = np.nonzero(s >= thr)[0]
    order = accepted[np.argsort(-s[accepted], kind="stable")]
    return Prediction(
        label=str(top_labels(s, labels, thr)[0]),
        confidence=float(s.max()),
        labels=tuple(labels[int(i)] for i in order),
        scores={lab: round(float(v), 4) for lab, v in zip(labels, s, strict=True)},
    )
