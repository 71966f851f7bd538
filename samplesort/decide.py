"""Pure policy: per-class one-vs-rest scores and thresholds -> a Prediction.

A class is *accepted* when its score reaches its own threshold. The label is the accepted class
with the highest score relative to its threshold; when no class is accepted the label is
"unknown" — a file is never forced into a class.
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
    accepted = np.nonzero(s >= thr)[0]
    score_map = {lab: round(float(v), 4) for lab, v in zip(labels, s, strict=True)}
    if accepted.size == 0:
        best = int(np.argmax(s))
        return Prediction(UNKNOWN, float(s[best]), (), score_map)
    margin = s[accepted] / np.maximum(thr[accepted], 1e-6)
    order = accepted[np.argsort(-margin, kind="stable")]
    label = labels[int(order[0])]
    return Prediction(
        label=label,
        confidence=float(s[order[0]]),
        labels=tuple(labels[int(i)] for i in order),
        scores=score_map,
    )


def decide_many(
    scores: np.ndarray, labels: Sequence[str], thresholds: np.ndarray
) -> list[Prediction]:
    return [decide(row, labels, thresholds) for row in np.atleast_2d(scores)]
