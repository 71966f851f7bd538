"""Plain frozen records that flow between layers: Clip, FeatureVector, Prediction, FileResult."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Clip:
    """Decoded audio: mono float32 in [-1, 1] at `sr_hz`, plus what the file said about itself."""

    samples: np.ndarray
    sr_hz: int
    source_sr_hz: int
    channels: int
    duration_s: float  # whole file, before the analysis window was cut
    format: str


@dataclass(frozen=True)
class FeatureVector:
    values: np.ndarray  # float32, ordered as features.FEATURE_NAMES
    schema_version: int


@dataclass(frozen=True)
class Prediction:
    """One file's verdict: `label` is a taxonomy label or "unknown"; `labels` every class over
    its own threshold; `scores` the per-class one-vs-rest probabilities (they need not sum to 1)."""

    label: str
    confidence: float
    labels: tuple[str, ...]
    scores: dict[str, float]


@dataclass(frozen=True)
class FileResult:
    path: Path
    prediction: Prediction | None = None
    error: str | None = None
    features: FeatureVector | None = None
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Source:
    """A file to organize, and the value of `{pack}` for it ("" when it has none)."""

    path: Path
    pack: str = ""


@dataclass(frozen=True)
class PlanItem:
    """Where one file goes and why. `review` items go under `_review/<best guess>/`.
    `sidecars` are files that belong to the sample (Ableton `.asd`, REAPER `.reapeaks`...)
    and travel with it; `note` is the detected pitch (e.g. "A1") or ""."""

    source: Path
    dest: Path
    label: str
    confidence: float
    review: bool
    reason: str
    sidecars: tuple[Path, ...] = ()
    note: str = ""
    labels: tuple[str, ...] = ()
