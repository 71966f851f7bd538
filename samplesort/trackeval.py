"""Scoring a transcription against ground truth: per-label precision / recall / F1 with
mir_eval's onset matching (50 ms window), hihat closed + open merged as "hihat", and a
class-agnostic onset F1; per file and overall (counts summed over files).

Ground truth is a CSV beside each audio file, `<name>.csv` with a header and the columns
`time_s,class` (more columns are ignored). For the class-agnostic score, true hits closer than
MERGE_S to each other (a kick and a hat struck together) count as one onset, and so do
transcribed ones.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import AudioError

WINDOW_S = 0.05
MERGE_S = 0.02
ONSETS = "onsets"
MERGED = {"hihat": ("hihat_closed", "hihat_open")}


@dataclass(frozen=True)
class Counts:
    tp: int
    fp: int
    fn: int

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def read_truth(path: Path) -> list[tuple[float, str]]:
    """(time_s, class) rows of a ground-truth CSV."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise AudioError(f"{path}: cannot read ground truth: {exc.strerror or exc}") from exc
    try:
        return [(float(r["time_s"]), str(r["class"]).strip()) for r in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise AudioError(f"{path}: ground truth needs a header and columns time_s,class") from exc


def merge_close(times: Iterable[float], gap_s: float = MERGE_S) -> np.ndarray:
    """Sorted times with any time closer than `gap_s` to the previous kept one dropped."""
    out: list[float] = []
    for t in sorted(times):
        if not out or t - out[-1] >= gap_s:
            out.append(t)
    return np.asarray(out, dtype=np.float64)


def match(ref: np.ndarray, est: np.ndarray, window_s: float = WINDOW_S) -> Counts:
    """Counts from mir_eval's one-to-one onset matching within `window_s`."""
    import mir_eval

    ref, est = np.sort(np.asarray(ref, float)), np.sort(np.asarray(est, float))
    tp = len(mir_eval.util.match_events(ref, est, window_s)) if ref.size and est.size else 0
    return Counts(tp, int(est.size) - tp, int(ref.size) - tp)


def score(
    truth: Sequence[tuple[float, str]], estimate: Sequence[tuple[float, str]]
) -> dict[str, Counts]:
    """Per-label counts (for every label in either list, plus the merged groups) and the
    class-agnostic onset counts under ONSETS."""

    def times(rows: Sequence[tuple[float, str]], labels: Sequence[str]) -> np.ndarray:
        return merge_close([t for t, lab in rows if lab in labels], 1e-3)

    labels = sorted({lab for _, lab in truth} | {lab for _, lab in estimate})
    out = {lab: match(times(truth, [lab]), times(estimate, [lab])) for lab in labels}
    for name, members in MERGED.items():
        if any(lab in labels for lab in members):
            out[name] = match(times(truth, members), times(estimate, members))
    out[ONSETS] = match(merge_close(t for t, _ in truth), merge_close(t for t, _ in estimate))
    return out


def as_json(counts: dict[str, Counts]) -> dict[str, dict[str, Any]]:
    """One file's (or a total's) counts per label as JSON-ready dicts, labels sorted."""
    return {lab: c.as_dict() for lab, c in sorted(counts.items())}


def total(per_file: Iterable[dict[str, Counts]]) -> dict[str, Counts]:
    out: dict[str, Counts] = {}
    for counts in per_file:
        for lab, c in counts.items():
            out[lab] = out.get(lab, Counts(0, 0, 0)) + c
    return out
