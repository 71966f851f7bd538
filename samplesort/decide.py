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


def decide(scores: np.ndarray, labels: Sequence[str], thresholds: np.ndarray) -> Prediction:
    """One file's Prediction from its per-class scores (same order as `labels`)."""
    s = np.asarray(scores, dtype=np.float64)
    thr = np.asarray(thresholds, dtype=np.float64)
    score_map = {lab: round(float(v), 4) for lab, v in zip(labels, s, strict=True)}
    accepted = np.nonzero(s >= thr)[0]
    order = accepted[np.argsort(-s[accepted], kind="stable")]
    best = int(np.argmax(s))
    label = labels[best] if s[best] >= thr[best] else UNKNOWN
    return Prediction(
        label=label,
        confidence=float(s[best]),
        labels=tuple(labels[int(i)] for i in order),
        scores=score_map,
    )


def decide_many(
    scores: np.ndarray, labels: Sequence[str], thresholds: np.ndarray
) -> list[Prediction]:
    return [decide(row, labels, thresholds) for row in np.atleast_2d(scores)]
