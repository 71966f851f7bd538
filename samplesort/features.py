"""Pure feature extraction: a Clip (or raw mono samples) -> a FeatureVector of named values.

One STFT per clip feeds every spectral feature. The analysis is level-invariant (the clip is
peak-normalised first) because sample packs are mastered at arbitrary levels. Units are in the
names: `_s` seconds, `_hz` hertz, `_db` decibels relative to the stated reference.

Groups of features (see `FEATURE_NAMES` for the exact order):

* envelope: file and active duration (above a -60 dB floor), attack time, decay times to
  -20/-40 dB, level at fixed times after the peak, decay slope, crest factor, temporal centroid;
* pitch: the strongest spectral peak between 30 and 1000 Hz in the first 64 ms and in the next
  128 ms (a kick's sweep shows as a drop), with a confidence (peak prominence);
* EQ bands: low (< 200 Hz), mid (200-2500 Hz), high (> 2500 Hz) energy shares, plus six finer
  bands (20-150-400-1000-2500-6000-16000 Hz) each with its own decay time and late level, so a
  ride's ringing highs tell apart from an open hat's noisy, choked ones;
* spectral shape, early (first 50 ms after the peak) and late (after): centroid, bandwidth,
  85 % rolloff, flatness, peakiness; spectral flux and frame-to-frame spectral stability; the
  number of stable partials standing out of the late spectrum;
* zero-crossing rate; 20 mel-band energies of the late part; MFCC 1-6 means (more MFCCs, and
  their spreads, fitted the timbre of the training kits and lowered leave-one-kit-out F1; the
  same 20 mel bands of the early part did too, and scored kits from other sources worse:
  schema 3 dropped them, see README "What generalises").

The spectral front end (the STFT, windows, mel filterbank, DCT and the per-sample-rate bin grid)
is `spectral.py`; its public names (`power_spectrogram`, `mel_filterbank`, `HOP`, ...) are also
importable from here.
"""

from __future__ import annotations

import numpy as np

from . import feature_groups as fg
from .records import Clip, FeatureVector
from .spectral import (
    BAND_EDGES_HZ,
    EPS,
    EQ3_EDGES_HZ,
    HOP,
    N_FFT,
    N_MEL_BANDS,
    N_MFCC,
    PITCH_N_FFT,
    dct_matrix,  # noqa: F401  (tests/test_features.py checks it against scipy from here)
    grid,
    mel_filterbank,
    power_spectrogram,
)

__all__ = [
    "BAND_EDGES_HZ",
    "EQ3_EDGES_HZ",
    "FEATURE_NAMES",
    "FEATURE_SCHEMA_VERSION",
    "HOP",
    "N_FFT",
    "N_MEL_BANDS",
    "N_MFCC",
    "PITCH_N_FFT",
    "describe",
    "extract",
    "mel_filterbank",
    "power_spectrogram",
]

FEATURE_SCHEMA_VERSION = 3  # 3: the early mel bands dropped (2 had them)


_ENVELOPE = [
    "file_duration_s",
    "active_duration_s",
    "attack_s",
    "decay20_s",
    "decay40_s",
    "decay_slope_db_per_s",
    "crest_db",
    "temporal_centroid_s",
    "env_first_third_db",
    "env_mid_third_db",
    "env_last_third_db",
] + [f"level_{t}ms_db" for t in fg.LEVEL_TIMES_MS]
_PITCH = [
    "f0_early_hz",
    "f0_early_conf_db",
    "f0_late_hz",
    "f0_late_conf_db",
    "f0_ratio",
    "low_centroid_early_hz",
    "low_centroid_late_hz",
]
_EQ3 = ["eq_low_db", "eq_mid_db", "eq_high_db", "eq_high_late_minus_early_db"]
_BANDS = [
    f"band{i}_{stat}"
    for i in range(len(BAND_EDGES_HZ) - 1)
    for stat in ("share_db", "decay20_s", "level_150ms_db", "level_500ms_db")
]
_SHAPE = [
    f"{stat}_{when}"
    for when in ("early", "late")
    for stat in ("centroid_hz", "bandwidth_hz", "rolloff_hz", "flatness", "peakiness_db")
] + [
    "flux_early",
    "flux_late",
    "stability_early",
    "stability_late",
    "late_partials",
    "late_partial_prominence_db",
    "zcr_early",
    "zcr_active",
    "flatness_1k_4k_early",
    "flatness_4k_12k_early",
    "flatness_4k_12k_late",
    "stability_high_late",
    "slope_db_per_oct_early",
    "slope_db_per_oct_late",
    "attack_centroid_hz",
    "attack_high_share_db",
    "transient_db",
    "sub_vs_lowmid_early_db",
]
_MEL = [f"mel{i:02d}_late_db" for i in range(N_MEL_BANDS)]
_MFCC = [f"mfcc{i:02d}_mean" for i in range(1, N_MFCC + 1)]

FEATURE_NAMES: tuple[str, ...] = tuple(_ENVELOPE + _PITCH + _EQ3 + _BANDS + _SHAPE + _MEL + _MFCC)


def describe(x: np.ndarray, *, sr_hz: int, file_duration_s: float | None = None) -> np.ndarray:
    """Feature values of a mono signal, in the order of FEATURE_NAMES (float32)."""
    x = np.asarray(x, dtype=np.float32)
    ax = np.abs(x)
    peak = float(ax.max()) if x.size else 0.0
    if peak <= 0.0:
        raise ValueError("describe() needs a non-silent signal")
    # Start at the first sample within 50 dB of the peak, backing off 2 ms.
    start = max(0, int(np.argmax(ax > peak * 10 ** (-50 / 20))) - int(0.002 * sr_hz))
    peak_sample = int(np.argmax(ax[start:]))  # dividing by the peak keeps the first maximum
    x = x[start:] / peak
    file_duration_s = x.size / sr_hz if file_duration_s is None else file_duration_s
    g = grid(sr_hz)

    P = power_spectrogram(x)
    energy = P.sum(axis=1)
    env_db = fg.db(energy / max(float(energy.max()), EPS))
    ip = int(np.argmax(energy))
    above = np.nonzero(env_db > fg.ACTIVE_FLOOR_DB)[0]
    last = int(above[-1]) if above.size else ip
    frame_s = HOP / sr_hz

    values: list[float] = []
    values += fg.envelope(x, env_db, sr_hz=sr_hz, file_duration_s=file_duration_s, ip=ip, last=last)
    values += fg.pitch(x, sr_hz=sr_hz, peak_sample=peak_sample, grid=g)

    # The frames from the peak on: `early` (EARLY_S) then `late` (to the last active frame).
    active = P[: last + 1]
    n_early = max(1, int(round(fg.EARLY_S / frame_s)))
    span = P[ip : max(last + 1, ip + n_early + 1)]
    span_sum = energy[ip : ip + span.shape[0]]
    n_e = min(n_early, span.shape[0])
    n_l = last + 1 - ip - n_e
    early = span[:n_e]
    late_lo, late_hi = (n_e, n_e + n_l) if n_l > 0 else (0, n_e)  # no late frames: use early
    late = span[late_lo:late_hi]
    tot_active = float(active.sum()) + EPS

    e_early, e_late = early.sum(axis=0), late.sum(axis=0)
    eq_early, eq_late = g.eq3 @ e_early, g.eq3 @ e_late
    high_early = fg.db1(float(eq_early[2]) / (float(eq_early.sum()) + EPS))
    high_late = fg.db1(float(eq_late[2]) / (float(eq_late.sum()) + EPS))
    values += [*fg.db((g.eq3 @ active.sum(axis=0)) / tot_active).tolist(), high_late - high_early]
    values += fg.bands(P, g, last=last, tot_active=tot_active, frame_s=frame_s)

    used = span[:late_hi]
    logp = np.add(used, EPS)
    np.log(logp, out=logp)
    shape = fg.shape_rows(used, span_sum[:late_hi], logp, g)
    values += fg.weighted_means(shape[:, :n_e], span_sum[:n_e])
    values += fg.weighted_means(shape[:, late_lo:late_hi], span_sum[late_lo:late_hi])

    mag = np.sqrt(span)  # mag_early takes one frame more than early
    mag_sum = mag.sum(axis=1)
    sq_sum = span_sum  # (mag * mag).sum(axis=1) but for rounding
    sq_high = span[:, g.k4k :].sum(axis=1)
    e_hi = min(n_early + 1, mag.shape[0])
    m_lo, m_hi = (n_early, last + 1 - ip) if last + 1 - ip - n_early >= 2 else (0, e_hi)
    mag_early, mag_late = mag[:e_hi], mag[m_lo:m_hi]

    early_mean = e_early / early.shape[0]
    late_mean = e_late / late.shape[0]
    early_mean_db, late_mean_db = fg.db(early_mean), fg.db(late_mean)
    n_partials, prominence = fg.partials(late_mean_db)
    n_early_x = min(x.size, int((ip * frame_s + fg.EARLY_S) * sr_hz) + 1)
    n_active_x = min(x.size, (last + 1) * HOP)
    sign = np.signbit(x[: max(n_early_x, n_active_x)])
    values += [
        fg.flux(mag_early, mag_sum[:e_hi]),
        fg.flux(mag_late, mag_sum[m_lo:m_hi]),
        fg.stability(mag_early, sq_sum[:e_hi], lag=2),
        fg.stability(mag_late, sq_sum[m_lo:m_hi]),
        n_partials,
        prominence,
        fg.zcr(sign, n_early_x),
        fg.zcr(sign, n_active_x),
        fg.band_flatness(early, logp[:n_e], g.k1k, g.k4k),
        fg.band_flatness(early, logp[:n_e], g.k4k, g.k12k),
        fg.band_flatness(late, logp[late_lo:late_hi], g.k4k, g.k12k),
        fg.stability(mag_late[:, g.k4k :], sq_high[m_lo:m_hi]),
        fg.slope_db_per_oct(early_mean_db, g),
        fg.slope_db_per_oct(late_mean_db, g),
        *fg.attack(P, energy, e_early, ip=ip, g=g),
    ]

    m = g.mel20 @ late_mean
    values += np.maximum(fg.db(m / (m.sum() + EPS)), -100.0).tolist()

    log_mel = fg.db(active @ g.mel40.T)  # (frames, 40)
    values += (log_mel @ g.dct.T).mean(axis=0).tolist()

    out = np.asarray(values, dtype=np.float32)
    if not np.isfinite(out).all():
        out = np.nan_to_num(out, nan=0.0, posinf=1e6, neginf=-1e6)
    return out


def extract(clip: Clip) -> FeatureVector:
    """FeatureVector of a decoded clip."""
    values = describe(clip.samples, sr_hz=clip.sr_hz, file_duration_s=clip.duration_s)
    return FeatureVector(values=values, schema_version=FEATURE_SCHEMA_VERSION)
