"""Full-track mode: find every hit in a drum loop, label it, and write JSON / CSV / MIDI / slices.

The pipeline: `audio.stream` decodes the file in blocks (memory stays bounded for a ten-minute
file) -> `segments.detect` finds onsets -> each hit's slice goes through the SAME feature
extractor as one-shots (`features.describe`); the four band rises the onset detector measured
and the hit's level against the loud hits near it (`loop_context`) are appended
(`hit_features`) -> the track model (a `ModelBundle` whose
one-vs-rest trees were trained on slices cut from rendered grooves, see `tracktrain.py`) scores
every label; every label over its own threshold is kept, so a kick struck with a closed hat
comes out as both. The one-shot classifier (the bundled `default.npz`, trained on isolated,
augmented one-shots of every corpus kit) scores the same 108 features as a second opinion:
a snare it is sure of is kept when the track model also hears at least a trace of one
(`ONESHOT_RESCUE`). A detected onset that clears no threshold is not a drum hit and is dropped;
an onset of the hat or the kick pass only ever becomes a clear hi-hat / kick (`PASSES`).
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from . import fsops
from . import segments as seg
from .audio import ANALYSIS_SR_HZ, stream
from .errors import AudioError, ModelError
from .features import FEATURE_NAMES, FEATURE_SCHEMA_VERSION, describe
from .model import ModelBundle, load
from .tempo import estimate_tempo

BLOCK_S = 30.0
# A hit's loop context (CONTEXT_FEATURES) looks CONTEXT_AROUND_S either side of it.
CONTEXT_AROUND_S = 1.5
# Audio kept before the undecided region: 1 s so the onset function is warmed up, plus the
# hits a decided hit's context looks back at.
CONTEXT_S = 1.0 + CONTEXT_AROUND_S
# Onsets this close to a block's end wait for the next block: their slice, and the hits their
# context looks ahead at (with those hits' whole slices, for the timbre context), are not all
# in yet.
HOLD_S = CONTEXT_AROUND_S + seg.MAX_SEGMENT_S + 0.3
TRACK_MODEL_KIND = "tracks"
HAT_LABELS = frozenset({"hihat_closed", "hihat_open"})
# What a pass slice (`segments.Segment.source`) may become, and the score it needs: a hat-pass
# slice a clear hi-hat, a kick-pass slice a clear kick; otherwise it is dropped (no fallback).
HAT_PASS_MIN_SCORE = 0.75
KICK_PASS_MIN_SCORE = 0.6
PASSES: dict[str, tuple[frozenset[str], float]] = {
    "hat": (HAT_LABELS, HAT_PASS_MIN_SCORE),
    "kick": (frozenset({"kick"}), KICK_PASS_MIN_SCORE),
}
FALLBACK_SCORE = 0.3  # an onset no label accepts keeps its best label if it scores this
# The one-shot classifier's second opinion: label -> (its one-shot score >=, track score >=).
# A label both agree on this far is accepted whatever the track model's own threshold. The
# track model, trained on the grooves of 13 kits, misses many snares of kits from elsewhere
# (it hears them as closed hats, rims or claps); the one-shot model, trained on isolated and
# augmented one-shots of every corpus group, knows more snares (README "Second opinion").
ONESHOT_RESCUE: dict[str, tuple[float, float]] = {"snare": (0.5, 0.2)}

# General MIDI drum map (channel 10). Toms get 45 / 47 / 50 by their pitch within the file.
GM_NOTES: dict[str, int] = {
    "kick": 36,
    "rim": 37,
    "snare": 38,
    "clap": 39,
    "hihat_closed": 42,
    "hihat_open": 46,
    "crash": 49,
    "ride": 51,
    "percussion": 56,  # cowbell: GM has no generic percussion note
    "tom": 47,
}
TOM_NOTES = (45, 47, 50)  # low, mid, high
MIDI_NOTE_S = 0.05
_F0 = FEATURE_NAMES.index("f0_early_hz")
# The track model's inputs beyond the one-shot features: how much each band of
# `segments.BANDS` rose at the hit's onset (what this hit added over what was ringing).
RISE_FEATURES = tuple(f"rise_{band}_db" for band in seg.BANDS)
# ... and where the hit stands among its neighbours (`loop_context`): each band's level and
# the peak over the hit's first CONTEXT_WINDOW_S, relative to the loud hits (the
# CONTEXT_PERCENTILE-th percentile) within CONTEXT_AROUND_S of it. The one-shot features are
# level-free (a slice is judged by its shape), so without these a pedal hat's thump or a
# hat over a ringing kick looks like a quiet kick.
CONTEXT_FEATURES = tuple(f"loop_rel_{band}_db" for band in seg.BANDS) + ("loop_rel_peak_db",)
CONTEXT_WINDOW_S = 0.03
CONTEXT_PERCENTILE = 90
# ... and how its timbre differs from the hits around it (`timbre_context`): each of these
# one-shot features minus its median over the hits within CONTEXT_AROUND_S (frequencies
# compared in octaves). Kits differ in absolute brightness and balance, but within any kit the
# snare sits between the kick and the hats; this says where a hit sits in its own kit.
TIMBRE_FEATURES = (
    *(f"band{i}_share_db" for i in range(6)),
    "centroid_hz_early",
    "rolloff_hz_early",
    "flatness_early",
    "slope_db_per_oct_early",
    "attack_centroid_hz",
    "eq_low_db",
    "eq_mid_db",
    "eq_high_db",
    "low_centroid_early_hz",
    "zcr_early",
    *(f"mfcc0{i}_mean" for i in range(1, 7)),
)
TIMBRE_CONTEXT_FEATURES = tuple(
    "loop_rel_" + (n.replace("_hz", "_oct") if "_hz" in n else n) for n in TIMBRE_FEATURES
)
_TIMBRE = [FEATURE_NAMES.index(n) for n in TIMBRE_FEATURES]
_TIMBRE_HZ = np.array(["_hz" in n for n in TIMBRE_FEATURES])
TRACK_INPUTS = RISE_FEATURES + CONTEXT_FEATURES + TIMBRE_CONTEXT_FEATURES


@dataclass(frozen=True)
class TrackHit:
    time_s: float
    labels: tuple[str, ...]  # every label over its threshold, best first
    scores: dict[str, float]
    velocity: int  # 1-127, from the hit's peak relative to the loudest hit of the file
    peak: float  # linear peak of the slice
    pitch_hz: float  # strongest low spectral peak of the slice (orders toms)
    # the one-shot classifier's scores for the labels of ONESHOT_RESCUE, when it was asked
    # (a snare it rescued is in `labels` with a track score under the track threshold)
    oneshot_scores: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {
            "time": round(self.time_s, 4),
            "labels": list(self.labels),
            "scores": self.scores,
            "velocity": self.velocity,
        }
        if self.oneshot_scores:
            out["oneshot_scores"] = self.oneshot_scores
        return out


@dataclass(frozen=True)
class Transcription:
    path: str
    duration_s: float
    hits: tuple[TrackHit, ...]
    model_id: str
    onsets: int  # detected onsets, including those that cleared no label (hat-pass onsets
    # count only when they gave a hat), so there are never more hits than onsets
    bpm: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def default_track_model_path() -> Path:
    return Path(str(resources.files("samplesort") / "models" / "tracks.npz"))


def load_track_model(path: Path | None = None) -> ModelBundle:
    """The track model at `path`, or the bundled one."""
    path = default_track_model_path() if path is None else Path(path)
    if not path.exists() and path == default_track_model_path():
        raise ModelError(f"{path}: the bundled track model is missing; run `make track-model`")
    bundle = load(path, extra_features=TRACK_INPUTS)
    if bundle.meta.get("kind") != TRACK_MODEL_KIND:
        raise ModelError(
            f"{path}: a one-shot model, not a track model (build one with `make track-model`)"
        )
    return bundle


# --- per-hit analysis ---------------------------------------------------------------------------


def describe_segments(x: np.ndarray, sr_hz: int, segs: Sequence[seg.Segment]) -> np.ndarray:
    """Feature rows (len(segs), n_features) of the hits' slices, by the one-shot extractor."""
    X = np.zeros((len(segs), len(FEATURE_NAMES)), dtype=np.float32)
    for i, s in enumerate(segs):
        piece = x[s.start : s.end]
        if piece.size and np.max(np.abs(piece)) > 0:
            X[i] = describe(piece, sr_hz=sr_hz)
    return X


def _levels_db(x: np.ndarray, sr_hz: int, segs: Sequence[seg.Segment]) -> np.ndarray:
    """(len(segs), len(CONTEXT_FEATURES)) dB: each hit's power in the bands of `segments.BANDS`
    and its peak, over the first CONTEXT_WINDOW_S from its slice start."""
    n_fft = 1 << int(np.ceil(np.log2(CONTEXT_WINDOW_S * sr_hz)))
    idx = np.searchsorted(np.fft.rfftfreq(n_fft, 1.0 / sr_hz), seg.BAND_EDGES_HZ)
    frames = np.zeros((len(segs), n_fft), dtype=np.float32)
    for i, s in enumerate(segs):
        piece = x[s.start : s.start + n_fft]
        frames[i, : piece.size] = piece
    out = np.empty((len(segs), len(CONTEXT_FEATURES)), dtype=np.float32)
    P = np.abs(np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)) ** 2
    bands = np.stack([P[:, idx[b] : idx[b + 1]].sum(axis=1) for b in range(len(seg.BANDS))], 1)
    out[:, : len(seg.BANDS)] = 10 * np.log10(np.maximum(bands, 1e-12))
    out[:, -1] = 20 * np.log10(np.maximum(np.max(np.abs(frames), axis=1, initial=0.0), 1e-6))
    return out


def loop_context(
    x: np.ndarray,
    sr_hz: int,
    segs: Sequence[seg.Segment],
    neighbours: Sequence[seg.Segment] | None = None,
) -> np.ndarray:
    """(len(segs), len(CONTEXT_FEATURES)) dB: each hit's `_levels_db` minus the
    CONTEXT_PERCENTILE-th percentile of those of the `neighbours` within CONTEXT_AROUND_S of
    it (default: `segs`; `segs` are among the neighbours). 0 is as loud as the loud hits
    nearby, -20 is 20 dB quieter."""
    neighbours = segs if neighbours is None else neighbours
    near_db = _levels_db(x, sr_hz, neighbours)
    at = {id(s): i for i, s in enumerate(neighbours)}
    if all(id(s) in at for s in segs):  # the usual case: each hit's levels measured once
        own = near_db[[at[id(s)] for s in segs]].reshape(len(segs), -1)
    else:
        own = _levels_db(x, sr_hz, segs)
    if not len(segs):
        return own
    t = np.array([s.onset_s for s in segs])
    near_t = np.array([s.onset_s for s in neighbours])
    near = np.abs(near_t[None, :] - t[:, None]) <= CONTEXT_AROUND_S  # (segs, neighbours)
    # the percentile of each row's neighbours (np.percentile's linear rule), vectorised:
    # the others sort to the end as +inf
    pool = np.sort(np.where(near[:, :, None], near_db[None, :, :], np.inf), axis=1)
    k = near.sum(axis=1)
    pos = CONTEXT_PERCENTILE / 100 * np.maximum(k - 1, 0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, np.maximum(k - 1, 0))
    frac = (pos - lo)[:, None]
    below = np.take_along_axis(pool, lo[:, None, None], axis=1)[:, 0]
    above = np.take_along_axis(pool, hi[:, None, None], axis=1)[:, 0]
    ref = np.where((k > 0)[:, None], below + frac * (above - below), own)  # none: its own
    return (own - ref).astype(np.float32)


def _timbre(D: np.ndarray) -> np.ndarray:
    V = D[:, _TIMBRE].astype(np.float64)
    V[:, _TIMBRE_HZ] = np.log2(np.maximum(V[:, _TIMBRE_HZ], 1.0))
    return V


def timbre_context(
    D: np.ndarray, times_s: np.ndarray, D_near: np.ndarray, near_times_s: np.ndarray
) -> np.ndarray:
    """(len(D), len(TIMBRE_CONTEXT_FEATURES)): each hit's TIMBRE_FEATURES (from its one-shot
    feature row in `D`, onset at `times_s`) minus their median over the neighbours' rows
    `D_near` whose onsets lie within CONTEXT_AROUND_S of it (frequencies in octaves)."""
    V, N = _timbre(D), _timbre(D_near)
    near = np.abs(np.asarray(near_times_s)[None, :] - np.asarray(times_s)[:, None])
    near = near <= CONTEXT_AROUND_S  # (hits, neighbours)
    out = np.zeros_like(V)
    for i in np.nonzero(near.any(axis=1))[0]:
        out[i] = V[i] - np.median(N[near[i]], axis=0)
    return out.astype(np.float32)


def rise_matrix(segs: Sequence[seg.Segment]) -> np.ndarray:
    """(len(segs), len(segments.BANDS)) dB: each slice's band rises at its onset."""
    return np.array([s.rise_db for s in segs], dtype=np.float32).reshape(len(segs), len(seg.BANDS))


def hit_features(
    x: np.ndarray,
    sr_hz: int,
    segs: Sequence[seg.Segment],
    neighbours: Sequence[seg.Segment] | None = None,
    *,
    described: Callable[[Sequence[seg.Segment]], np.ndarray] | None = None,
) -> np.ndarray:
    """The track model's rows (len(segs), FEATURE_NAMES + TRACK_INPUTS): the slice's one-shot
    features, the band rises the onset detector measured, and the hit's loop context and
    timbre context among `neighbours` (default `segs`; `segs` are among them). `described`
    gives the one-shot feature rows of segments (default `describe_segments` on `x`; the
    transcriber passes one that remembers the slices it has already described)."""
    neighbours = segs if neighbours is None else neighbours
    known = {id(s) for s in neighbours}
    times = np.array([s.onset_s for s in segs])
    # only the neighbours some hit looks at (and the hits themselves) are described
    pool = [*neighbours, *(s for s in segs if id(s) not in known)]
    pool_times = np.array([s.onset_s for s in pool])
    looked_at = (np.abs(pool_times[None, :] - times[:, None]) <= CONTEXT_AROUND_S).any(axis=0)
    neighbours = [s for s, keep in zip(pool, looked_at, strict=True) if keep]
    D_near = (described or (lambda ss: describe_segments(x, sr_hz, ss)))(neighbours)
    at = {id(s): i for i, s in enumerate(neighbours)}
    D = D_near[[at[id(s)] for s in segs]].reshape(len(segs), -1)
    near_times = np.array([s.onset_s for s in neighbours])
    return np.hstack(
        [
            D,
            rise_matrix(segs),
            loop_context(x, sr_hz, segs, neighbours),
            timbre_context(D, times, D_near, near_times),
        ]
    )


def accept(
    scores: np.ndarray,
    rise_db: np.ndarray,
    labels: Sequence[str],
    thresholds: np.ndarray,
    gates: dict[str, Any],
) -> np.ndarray:
    """Bool (n_hits, n_labels): a label is accepted when its score reaches its threshold and,
    if the model has a gate for it (`gates[label] = [band, min_rise_db]`, chosen in training),
    that band of `segments.BANDS` rose at least that much at the onset."""
    ok = np.asarray(scores) >= np.asarray(thresholds)
    for lab, (band, min_db) in gates.items():
        if lab in labels:
            ok[:, labels.index(lab)] &= rise_db[:, seg.BANDS.index(band)] >= min_db
    return ok


def second_opinion(
    scores: np.ndarray, labels: Sequence[str], oneshot_scores: dict[str, np.ndarray]
) -> np.ndarray:
    """Bool (n_hits, n_labels): the labels `ONESHOT_RESCUE` accepts — the one-shot classifier's
    score (`oneshot_scores[label]`, one per hit) and the track model's both over its bars."""
    ok = np.zeros(np.shape(scores), dtype=bool)
    for lab, (min_oneshot, min_track) in ONESHOT_RESCUE.items():
        if lab in labels and lab in oneshot_scores:
            i = list(labels).index(lab)
            ok[:, i] = (oneshot_scores[lab] >= min_oneshot) & (scores[:, i] >= min_track)
    return ok


def second_opinion_model(oneshot: ModelBundle) -> ModelBundle:
    """`oneshot` walking only the trees of the labels `ONESHOT_RESCUE` asks it about."""
    wanted = [oneshot.labels.index(lab) for lab in ONESHOT_RESCUE if lab in oneshot.labels]
    return dataclasses.replace(oneshot, trees=oneshot.trees.only(wanted))


def _decide(
    scores: np.ndarray,
    rise_db: np.ndarray,
    bundle: ModelBundle,
    sources: Sequence[str],
    oneshot_scores: dict[str, np.ndarray] | None = None,
) -> list[tuple[str, ...]]:
    ok = accept(scores, rise_db, bundle.labels, bundle.thresholds, bundle.meta.get("gates", {}))
    if oneshot_scores:
        ok |= second_opinion(scores, bundle.labels, oneshot_scores)
    allowed = {
        name: (np.array([lab in labels for lab in bundle.labels]), min_score)
        for name, (labels, min_score) in PASSES.items()
    }
    out = []
    for row, acc, source in zip(scores, ok, sources, strict=True):
        passed = source in allowed
        if passed:  # a pass slice: a clear label of its pass or nothing (no fallback)
            mask, min_score = allowed[source]
            acc = acc & mask & (row >= min_score)
        idx = np.nonzero(acc)[0]
        if not idx.size and not passed and row.max() >= FALLBACK_SCORE:  # a clear onset: a drum
            idx = np.array([int(np.argmax(row))])
        order = idx[np.argsort(-row[idx], kind="stable")]
        out.append(tuple(bundle.labels[int(i)] for i in order))
    return out


class _Described:
    """One-shot feature rows of the slices of a file read in blocks, each slice described
    once: the blocks overlap, and a hit's neighbours are described before it is decided."""

    def __init__(self) -> None:
        self.rows: dict[tuple[int, int], np.ndarray] = {}
        self.buf = np.zeros(0, dtype=np.float32)
        self.buf0 = 0

    def at(self, buf: np.ndarray, buf0: int) -> _Described:
        """Now reading `buf`, whose first sample is the file's `buf0`; forget slices before it."""
        self.buf, self.buf0 = buf, buf0
        self.rows = {k: v for k, v in self.rows.items() if k[0] >= buf0}
        return self

    def __call__(self, segs: Sequence[seg.Segment]) -> np.ndarray:
        keys = [(self.buf0 + s.start, self.buf0 + s.end) for s in segs]
        new = [i for i, k in enumerate(keys) if k not in self.rows]
        if new:
            D = describe_segments(self.buf, ANALYSIS_SR_HZ, [segs[i] for i in new])
            self.rows.update((keys[i], row) for i, row in zip(new, D, strict=True))
        return np.array([self.rows[k] for k in keys]).reshape(len(segs), len(FEATURE_NAMES))


def _analyse(
    x: np.ndarray,
    segs: Sequence[seg.Segment],
    neighbours: Sequence[seg.Segment],
    bundle: ModelBundle,
    offset_s: float,
    oneshot: ModelBundle | None = None,
    described: Callable[[Sequence[seg.Segment]], np.ndarray] | None = None,
) -> list[tuple[TrackHit, seg.Segment]]:
    if not segs:
        return []
    X = hit_features(x, ANALYSIS_SR_HZ, segs, neighbours, described=described)
    S = bundle.scores(X, schema_version=FEATURE_SCHEMA_VERSION)
    rise = rise_matrix(segs)
    opinion = None
    if oneshot is not None:
        S1 = oneshot.scores(X[:, : len(FEATURE_NAMES)], schema_version=FEATURE_SCHEMA_VERSION)
        opinion = {
            lab: S1[:, oneshot.labels.index(lab)] for lab in ONESHOT_RESCUE if lab in oneshot.labels
        }
    decided = _decide(S, rise, bundle, [s.source for s in segs], opinion)
    out = []
    for i, s in enumerate(segs):
        peak = float(np.max(np.abs(x[s.start : s.end]))) if s.end > s.start else 0.0
        hit = TrackHit(
            time_s=round(offset_s + s.onset_s, 4),
            labels=decided[i],
            scores={lab: round(float(v), 3) for lab, v in zip(bundle.labels, S[i], strict=True)},
            velocity=0,
            peak=peak,
            pitch_hz=float(X[i, _F0]),
            oneshot_scores={lab: round(float(v[i]), 3) for lab, v in (opinion or {}).items()},
        )
        out.append((hit, s))
    return out


SliceSink = Callable[[int, TrackHit, np.ndarray, int], None]


def transcribe_blocks(
    blocks: Iterable[np.ndarray],
    bundle: ModelBundle,
    *,
    name: str = "<array>",
    slice_sink: SliceSink | None = None,
    estimate_bpm: bool = False,
    oneshot: ModelBundle | None = None,
) -> Transcription:
    """Transcribe consecutive mono blocks at ANALYSIS_SR_HZ. Onsets are decided once, in the
    block where they are at least HOLD_S from the end (or in the last block); the buffer keeps
    CONTEXT_S before the undecided region, cut on a hop boundary so frames line up. `oneshot`
    (a one-shot classifier, e.g. `model.load_default()`) gives `ONESHOT_RESCUE`'s second
    opinion; without it the track model decides alone."""
    sr = ANALYSIS_SR_HZ
    if oneshot is not None:
        oneshot = second_opinion_model(oneshot)
    hold = int(HOLD_S * sr)
    context = int(CONTEXT_S * sr) // seg.HOP * seg.HOP
    buf = np.zeros(0, dtype=np.float32)
    buf0 = 0  # file sample index of buf[0]
    decided_to = 0  # file sample index: onsets before it are already decided
    n_total = 0
    raw: list[TrackHit] = []
    n_onsets = 0
    described = _Described()
    blocks = iter(blocks)
    pending = next(blocks, None)
    while pending is not None:
        nxt = next(blocks, None)
        last = nxt is None
        buf = np.concatenate([buf, pending]) if buf.size else pending
        n_total += pending.size
        pending = nxt
        limit = buf0 + buf.size if last else buf0 + buf.size - hold
        if limit <= decided_to:
            continue
        onsets = seg.detect(buf, sr_hz=sr)
        all_segs = seg.segments(onsets, sr_hz=sr, n_samples=buf.size)
        all_segs += seg.hat_segments(onsets, sr_hz=sr, n_samples=buf.size)
        all_segs += seg.kick_segments(onsets, sr_hz=sr, n_samples=buf.size)
        all_segs.sort(key=lambda s: s.onset_s)
        mine = [s for s in all_segs if decided_to <= buf0 + round(s.onset_s * sr) < limit]
        n_onsets += sum(s.source == "main" for s in mine)
        analysed = _analyse(
            buf, mine, all_segs, bundle, buf0 / sr, oneshot, described.at(buf, buf0)
        )
        for hit, s in analysed:
            n_onsets += s.source != "main" and bool(hit.labels)
            if hit.labels:
                raw.append(hit)
                if slice_sink is not None:
                    slice_sink(len(raw) - 1, hit, buf[s.start : s.end], sr)
        decided_to = limit
        cut = max(0, (decided_to - buf0 - context) // seg.HOP * seg.HOP)
        buf, buf0 = buf[cut:], buf0 + cut
    if n_total == 0:
        raise AudioError(f"{name}: no audio samples")
    top = max((h.peak for h in raw), default=0.0)
    hits = tuple(
        dataclasses.replace(
            h, velocity=int(np.clip(round(127 * np.sqrt(h.peak / top)), 1, 127)) if top > 0 else 1
        )
        for h in raw
    )
    bpm = estimate_tempo(hits) if estimate_bpm else None
    return Transcription(
        path=name,
        duration_s=n_total / sr,
        hits=hits,
        model_id=bundle.model_id,
        onsets=n_onsets,
        bpm=bpm,
    )


def transcribe_file(
    path: Path,
    bundle: ModelBundle,
    *,
    slice_sink: SliceSink | None = None,
    estimate_bpm: bool = False,
    block_s: float = BLOCK_S,
    oneshot: ModelBundle | None = None,
) -> Transcription:
    """Transcribe an audio file of any length (decoded in blocks); `oneshot` as in
    `transcribe_blocks`."""
    return transcribe_blocks(
        stream(path, block_s=block_s, sr_hz=ANALYSIS_SR_HZ),
        bundle,
        name=str(path),
        slice_sink=slice_sink,
        estimate_bpm=estimate_bpm,
        oneshot=oneshot,
    )


# --- outputs ----------------------------------------------------------------------------------


def tom_notes(hits: Sequence[TrackHit]) -> dict[int, int]:
    """GM note per tom hit (index into `hits`): the file's tom pitches split into up to three
    equal ranges on a log scale, low 45, mid 47, high 50; all 47 if they are within 15 %."""
    idx = [i for i, h in enumerate(hits) if "tom" in h.labels]
    pitch = np.array([max(hits[i].pitch_hz, 1.0) for i in idx])
    if not idx:
        return {}
    lo, hi = np.log(pitch.min()), np.log(pitch.max())
    if hi - lo < np.log(1.15):
        return {i: TOM_NOTES[1] for i in idx}
    band = np.minimum(((np.log(pitch) - lo) / (hi - lo) * 3).astype(int), 2)
    return {i: TOM_NOTES[int(b)] for i, b in zip(idx, band, strict=True)}


def midi_events(t: Transcription) -> list[tuple[float, int, int]]:
    """(time_s, note, velocity) for every label of every hit, time-ordered."""
    toms = tom_notes(t.hits)
    out = []
    for i, h in enumerate(t.hits):
        for lab in h.labels:
            note = toms.get(i, GM_NOTES["tom"]) if lab == "tom" else GM_NOTES[lab]
            out.append((h.time_s, note, h.velocity))
    return sorted(out)


def write_midi(t: Transcription, path: Path, *, ticks_per_beat: int = 480) -> Path:
    """A type-0 Standard MIDI File on channel 10 (index 9), written with mido; the tempo is
    the estimated BPM when there is one (else 120), so note times in seconds are exact.
    Never overwrites: a taken name gets a ` (2)` suffix; returns where it was written."""
    import mido

    bpm = t.bpm or 120.0
    tempo = mido.bpm2tempo(bpm)
    events: list[tuple[int, int, mido.Message]] = []
    for time_s, note, vel in midi_events(t):
        on = round(mido.second2tick(time_s, ticks_per_beat, tempo))
        off = round(mido.second2tick(time_s + MIDI_NOTE_S, ticks_per_beat, tempo))
        events.append((on, 1, mido.Message("note_on", channel=9, note=note, velocity=vel)))
        events.append((off, 0, mido.Message("note_off", channel=9, note=note, velocity=0)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=tempo, time=0))
    track.append(mido.MetaMessage("track_name", name=Path(t.path).stem, time=0))
    now = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    mid = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat)
    mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    return fsops.write_new(Path(path), buf.getvalue())


def csv_text(t: Transcription) -> str:
    """`time_s,class,velocity,score`: one row per label of each hit (the ground-truth layout
    `evaluate-tracks` reads, plus two columns)."""
    lines = ["time_s,class,velocity,score"]
    for h in t.hits:
        for lab in h.labels:
            lines.append(f"{h.time_s:.4f},{lab},{h.velocity},{h.scores[lab]:.3f}")
    return "\n".join(lines) + "\n"


def slice_name(index: int, hit: TrackHit) -> str:
    return f"{index + 1:04d}_{'+'.join(hit.labels)}.wav"
