"""Tempo of a transcription (`transcribe --bpm`): librosa's tempogram estimate of the hits,
then the metrical level the kicks and snares play on, chosen by how well they fit a beat grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Hit(Protocol):
    """What the estimate reads of a hit (`transcribe.TrackHit` has it)."""

    @property
    def time_s(self) -> float: ...
    @property
    def labels(self) -> tuple[str, ...]: ...
    @property
    def velocity(self) -> int: ...


TEMPO_RANGE_BPM = (60.0, 200.0)
# Metrical levels tried around the tempogram's estimate (it often lands on half, double or a
# triplet relation of the beat a producer counts).
TEMPO_RATIOS = (1 / 2, 2 / 3, 3 / 4, 1.0, 4 / 3, 3 / 2, 2.0)
BACKBONE_LABELS = frozenset({"kick", "snare", "clap", "rim"})
TEMPO_PRIOR_OCTAVES = 1.5  # width of a weak log-normal preference for ~110 BPM


def estimate_tempo(hits: Sequence[Hit]) -> float | None:
    """Tempo (BPM) of the hits; None with fewer than 4 hits.

    librosa's tempogram estimator on a velocity-weighted hit train (10 ms frames) gives a
    first estimate; it often lands on a related metrical level (half, double, 2/3). So each
    related level in TEMPO_RANGE_BPM is scored by how well the backbone hits (kick, snare,
    clap, rim) fit a beat grid of that period — hits on beats (precision) and beats with a hit
    (recall), as an F-measure, times a weak preference for ~110 BPM — and the best level's
    period is refined by a least-squares fit of the hits on its beats."""
    if len(hits) < 4:
        return None
    import librosa

    times = [h.time_s for h in hits]
    hop_s = 0.01
    env = np.zeros(int(max(times) / hop_s) + 200)
    for h in hits:
        env[int(round(h.time_s / hop_s))] += h.velocity / 127.0
    env = np.convolve(env, [0.25, 0.5, 1.0, 0.5, 0.25], mode="same")
    sr = 22050
    tempo = librosa.feature.tempo(
        onset_envelope=env, sr=sr, hop_length=int(hop_s * sr), start_bpm=110
    )
    first = float(np.atleast_1d(tempo)[0])
    backbone = np.array(sorted(h.time_s for h in hits if BACKBONE_LABELS & set(h.labels)))
    if backbone.size < 4 or first <= 0:
        return round(first, 1)
    lo, hi = TEMPO_RANGE_BPM
    best = (-1.0, first, first)
    for r in TEMPO_RATIOS:
        bpm = first * r
        if not lo <= bpm <= hi:
            continue
        fit, refined = _grid_fit(backbone, 60.0 / bpm)
        score = fit * np.exp(-0.5 * (np.log2(bpm / 110.0) / TEMPO_PRIOR_OCTAVES) ** 2)
        if score > best[0]:
            best = (score, bpm, refined)
    return round(best[2], 1)


def _grid_fit(times_s: np.ndarray, period_s: float) -> tuple[float, float]:
    """(F-measure, refined BPM) of a beat grid of `period_s` on sorted hit times: the grid's
    phase is the one that puts the most hits on beats (within 10 % of a period, at least
    30 ms); precision = hits on beats / hits, recall = beats between the first and the last
    hit that have one / those beats. The refined tempo is the slope of on-beat hit times
    against their beat numbers."""
    tol = max(0.03, 0.1 * period_s)
    best_on: np.ndarray | None = None
    best_phase = 0.0
    for anchor in times_s:
        d = (times_s - anchor) / period_s
        on = np.abs(d - np.round(d)) * period_s <= tol
        if best_on is None or on.sum() > best_on.sum():
            best_on, best_phase = on, float(anchor)
    assert best_on is not None
    beat_no = np.round((times_s - best_phase) / period_s).astype(int)
    precision = float(best_on.mean())
    beats = np.arange(beat_no.min(), beat_no.max() + 1)
    recall = np.isin(beats, beat_no[best_on]).mean() if beats.size else 0.0
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    k, t = beat_no[best_on], times_s[best_on]
    refined = 60.0 / period_s
    if np.unique(k).size >= 2:
        slope = float(np.polyfit(k, t, 1)[0])
        if slope > 0 and abs(slope - period_s) <= 0.05 * period_s:
            refined = 60.0 / slope
    return float(f), refined
