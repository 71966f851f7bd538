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
* zero-crossing rate; 20 mel-band energies early and late; MFCC 1-6 means (more MFCCs, and
  their spreads, fitted the timbre of the training kits and lowered leave-one-kit-out F1).

The spectral front end (the STFT, windows, mel filterbank, DCT and the per-sample-rate bin grid)
is `spectral.py`; its public names (`power_spectrogram`, `mel_filterbank`, `HOP`, ...) are also
importable from here.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft as scipy_fft

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
    Grid,
    dct_matrix,  # noqa: F401  (tests/test_features.py checks it against scipy from here)
    grid,
    hann,
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

FEATURE_SCHEMA_VERSION = 2

EARLY_S = 0.05
ACTIVE_FLOOR_DB = -60.0
LEVEL_TIMES_MS = (10, 30, 60, 100, 200, 400, 800, 1500)

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
] + [f"level_{t}ms_db" for t in LEVEL_TIMES_MS]
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
_MEL = [f"mel{i:02d}_{when}_db" for when in ("early", "late") for i in range(N_MEL_BANDS)]
_MFCC = [f"mfcc{i:02d}_mean" for i in range(1, N_MFCC + 1)]

FEATURE_NAMES: tuple[str, ...] = tuple(_ENVELOPE + _PITCH + _EQ3 + _BANDS + _SHAPE + _MEL + _MFCC)


# --- helpers ----------------------------------------------------------------------------------


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y against x (what np.polyfit(x, y, 1)[0] gives, without lstsq)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xc = x - x.sum() / x.size
    denom = float(np.dot(xc, xc))
    return float(np.dot(xc, y - y.sum() / y.size) / denom) if denom > 0 else 0.0


def _db(x: np.ndarray | float) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(x, EPS))


def _db1(x: float) -> float:
    """_db of one Python float (the scalar path, without numpy's call overhead)."""
    return 10.0 * math.log10(max(x, EPS))


# --- feature groups (each returns a list in the order of its name list) ------------------------


def _envelope(
    x: np.ndarray, env_db: np.ndarray, *, sr_hz: int, file_duration_s: float, ip: int, last: int
) -> list[float]:
    """Durations (s), decay slope (dB/s), crest factor (dB), temporal centroid (s) and levels
    (dB re the loudest frame) of the frame-energy envelope `env_db`."""
    frame_s = HOP / sr_hz
    active = env_db[: last + 1]
    tail = env_db[ip:]

    # The last frame from the peak on above -20, -40 and -50 dB (0 if none), all at once: the
    # running maximum of the reversed tail is sorted, so a search finds each threshold.
    from_end = np.maximum.accumulate(tail[::-1])
    first = np.searchsorted(from_end, (-20.0, -40.0, -50.0), side="right").tolist()
    above20, above40, above50 = (tail.size - 1 - j if j < tail.size else 0 for j in first)
    decay20 = above20 * frame_s
    decay40 = above40 * frame_s
    tail_end = ip + above50
    if tail_end - ip >= 2:
        slope = _slope(np.arange(tail_end - ip + 1) * frame_s, env_db[ip : tail_end + 1])
    else:
        slope = -50.0 / max(frame_s, (tail_end - ip + 1) * frame_s)
    n_active = min(len(x), (last + 1) * HOP)
    xa = x[:n_active]
    rms = math.sqrt(float((xa * xa).sum()) / n_active) if n_active else EPS
    crest = _db1(1.0 / max(rms, EPS) ** 2)  # 20*log10(peak / rms); peak is 1
    energy = 10 ** (active / 10)
    t_frames = np.arange(len(active)) * frame_s
    centroid_s = float((t_frames * energy).sum() / max(float(energy.sum()), EPS))
    n = len(active)
    if n >= 3:  # np.array_split(active, 3): the first n % 3 parts take one more frame
        q, r = divmod(n, 3)
        cut1 = q + (r > 0)
        cut2 = cut1 + q + (r > 1)
        thirds = [active[:cut1], active[cut1:cut2], active[cut2:]]
    else:
        thirds = [active, active, active]
    levels = []
    n_env = len(env_db)
    for t_ms in LEVEL_TIMES_MS:
        i = ip + int(round(t_ms / 1000.0 / frame_s))
        levels.append(max(float(env_db[i]), -100.0) if i < n_env else -100.0)
    return [
        min(file_duration_s, 60.0),
        (last + 1) * frame_s,
        ip * frame_s,
        decay20,
        decay40,
        slope,
        crest,
        centroid_s,
        *[float(part.sum()) / part.size for part in thirds],
        *levels,
    ]


def _pitch(x: np.ndarray, *, sr_hz: int, peak_sample: int, grid: Grid) -> list[float]:
    """Strongest low peak (Hz) and its prominence (dB) in the 64 ms from the peak and in the
    128 ms after, their ratio, and the 30-500 Hz power centroid (Hz) of both."""
    n_early = int(0.064 * sr_hz)
    early = x[peak_sample : peak_sample + n_early]
    late = x[peak_sample + n_early : peak_sample + 3 * n_early]
    segs = [s for s in (early, late) if s.size >= 64]  # shorter windows give no pitch
    found = []
    if segs:  # both zero-padded FFTs in one call (rfft(s, n=8192) pads the same way)
        buf = np.zeros((len(segs), PITCH_N_FFT), dtype=np.float32)
        for row, s in zip(buf, segs, strict=True):
            np.multiply(s, hann(s.size), out=row[: s.size])
        spec = scipy_fft.rfft(buf, axis=1, overwrite_x=True)[:, grid.pitch_lo : grid.pitch_hi]
        found = [_peak_hz(c, grid) for c in spec]
    if early.size < 64:
        found.insert(0, (0.0, 0.0, 0.0))
    f_early, c_early, lc_early = found[0]
    f_late, c_late, lc_late = found[1] if late.size >= 64 else (f_early, 0.0, lc_early)
    ratio = f_late / f_early if f_early > 0 else 1.0
    return [f_early, c_early, f_late, c_late, ratio, lc_early, lc_late]


def _peak_hz(c: np.ndarray, grid: Grid) -> tuple[float, float, float]:
    """From the 30-1000 Hz bins `c` of a pitch FFT: the strongest spectral peak (Hz, refined
    by a parabola through the log powers), its prominence over the band median (dB), and the
    power centroid of 30-500 Hz (Hz)."""
    band = (c.real**2 + c.imag**2).astype(np.float64)
    freqs = grid.pitch_freqs
    lo = grid.pitch_lo
    k = int(np.argmax(band))
    if 0 < k < band.size - 1:
        a, b, c3 = (math.log(v + EPS) for v in band[k - 1 : k + 2].tolist())
        denom = a - 2 * b + c3
        offset = 0.5 * (a - c3) / denom if denom != 0 else 0.0
    else:
        offset = 0.0
    f0 = float(freqs[lo + k] + offset * (freqs[1] - freqs[0]))
    n = band.size
    part = np.partition(band, [(n - 1) // 2, n // 2])
    median = float(part[(n - 1) // 2] + part[n // 2]) / 2.0
    conf = _db1(float(band[k])) - _db1(median + EPS)
    n500 = grid.pitch_hi500 - lo
    low = band[:n500]
    low_centroid = float(np.dot(freqs[lo : grid.pitch_hi500], low) / (low.sum() + EPS))
    return f0, conf, low_centroid


def _shape_rows(P: np.ndarray, row_sum: np.ndarray, logp: np.ndarray, g: Grid) -> np.ndarray:
    """Per frame: centroid (Hz), bandwidth (Hz), 85 % rolloff (Hz), flatness, peakiness (dB)
    -> (5, frames). `row_sum` is P.sum(axis=1) and `logp` is log(P + eps)."""
    out = np.empty((5, P.shape[0]), dtype=np.float32)
    centroid, bandwidth, rolloff, flatness, peakiness = out
    total = row_sum + EPS
    np.divide(P @ g.freqs, total, out=centroid)
    np.sqrt(np.maximum((P @ g.freqs_sq) / total - centroid**2, 0.0), out=bandwidth)
    cum = np.cumsum(P, axis=1)
    rolloff[:] = g.freqs[np.argmax(cum >= 0.85 * cum[:, -1:], axis=1)]
    mean = row_sum / P.shape[1] + EPS
    np.divide(np.exp(logp.sum(axis=1) / P.shape[1]), mean, out=flatness)
    peakiness[:] = _db(P.max(axis=1) / mean)
    return out


def _weighted_means(rows: np.ndarray, weights: np.ndarray) -> list[float]:
    """Weighted mean of each row of `rows` (plain mean when the weights sum to zero)."""
    w = weights.sum()
    if w > 0:
        return ((rows * weights).sum(axis=1) / w).tolist()
    return rows.mean(axis=1).tolist()


def _stability(mag: np.ndarray, sq_sum: np.ndarray, lag: int = 4) -> float:
    """Mean cosine similarity of magnitude spectra `lag` frames apart: steady ringing partials
    give ~1, noise gives less. `sq_sum` is (mag * mag).sum(axis=1)."""
    if mag.shape[0] <= lag:
        return 1.0
    num = (mag[:-lag] * mag[lag:]).sum(axis=1)
    den = np.sqrt(sq_sum[:-lag] * sq_sum[lag:]) + EPS
    return float((num / den).sum()) / num.size


def _flux(mag: np.ndarray, row_sum: np.ndarray) -> float:
    """Mean positive spectral change between frames over the frame's magnitude sum;
    `row_sum` is mag.sum(axis=1)."""
    if mag.shape[0] < 2:
        return 0.0
    d = np.subtract(mag[1:], mag[:-1])
    d = np.maximum(d, 0.0, out=d).sum(axis=1)
    return float((d / (row_sum[1:] + EPS)).sum()) / d.size


def _partials(late_mean_db: np.ndarray) -> tuple[float, float]:
    """Count of spectral peaks standing > 10 dB over a smoothed spectrum of the averaged late
    frames (noise averages flat; ringing partials stay), and the largest prominence."""
    k = 9
    kernel = np.ones(k) / k
    smooth = np.convolve(late_mean_db, kernel, mode="same")
    prom = late_mean_db - smooth
    core = prom[8:-8] if prom.size > 32 else prom
    is_peak = (core[1:-1] > core[:-2]) & (core[1:-1] >= core[2:]) & (core[1:-1] > 10.0)
    return float(np.count_nonzero(is_peak)), float(core.max()) if core.size else 0.0


def _band_flatness(P: np.ndarray, logp: np.ndarray, a: int, b: int) -> float:
    """Energy-weighted spectral flatness of bins a..b-1 (noise ~1, tones ~0); `logp` is
    log(P + eps)."""
    sub = P[:, a:b]
    if sub.size == 0:
        return 0.0
    power = sub.sum(axis=1)
    flat = np.exp(logp[:, a:b].sum(axis=1) / sub.shape[1]) / (power / sub.shape[1] + EPS)
    w = power.sum()
    return float((flat * power).sum() / w) if w > 0 else float(flat.sum()) / flat.size


def _slope_db_per_oct(mean_db: np.ndarray, g: Grid) -> float:
    """Slope (dB per octave) of a mean log spectrum against log2 frequency (100 Hz - 12 kHz)."""
    if g.k12k - g.k100 < 2 or g.slope_den <= 0:
        return 0.0
    y = mean_db[g.k100 : g.k12k].astype(np.float64)
    return float(np.dot(g.slope_xc, y - y.sum() / y.size) / g.slope_den)


def _attack(
    P: np.ndarray, energy: np.ndarray, e_early: np.ndarray, *, ip: int, g: Grid
) -> list[float]:
    """The hit itself: centroid (Hz) and > 5 kHz share (dB) of the onset-to-peak frames (at
    least two), energy of the first 3 frames (~24 ms) over the next 9 (dB), and < 100 Hz over
    100-300 Hz early (dB). `energy` is P.sum(axis=1), `e_early` the early frames' sum."""
    e_att = P[: max(ip + 1, 2)].sum(axis=0)
    tot_att = float(e_att.sum())
    centroid = float(np.dot(g.freqs, e_att)) / (tot_att + EPS)
    high_share = _db1(float(e_att[g.k5k :].sum()) / (tot_att + EPS))
    transient = _db1(float(energy[:3].sum()) / (float(energy[3:12].sum()) + EPS))
    sub = _db1(float(e_early[: g.k100].sum()) / (float(e_early[g.k100 : g.k300].sum()) + EPS))
    return [
        centroid,
        max(high_share, -100.0),
        min(max(transient, -60.0), 60.0),
        min(max(sub, -60.0), 60.0),
    ]


def _zcr(sign: np.ndarray, n: int) -> float:
    """Zero-crossing rate of the first n samples, given their sign bits."""
    if n < 2:
        return 0.0
    return np.count_nonzero(sign[1:n] != sign[: n - 1]) / (n - 1)


def _bands(P: np.ndarray, g: Grid, *, last: int, tot_active: float, frame_s: float) -> list[float]:
    """Per band of BAND_EDGES_HZ: share of the active energy (dB), decay to -20 dB under the
    band's own peak (s), and the band's level 150 and 500 ms after that peak (dB)."""
    env = np.ascontiguousarray((P @ g.bands.T).T)  # (bands, frames)
    n_bands, n_frames = env.shape
    rows = np.arange(n_bands)
    bp = np.argmax(env, axis=1)
    e_db = _db(env / (env[rows, bp] + EPS)[:, None])
    above = (e_db > -20.0) & (np.arange(n_frames) >= bp[:, None])
    last_above = n_frames - 1 - np.argmax(above[:, ::-1], axis=1)
    decay = np.where(above.any(axis=1), (last_above - bp) * frame_s, 0.0)
    share = np.maximum(_db(env[:, : last + 1].sum(axis=1) / tot_active), -100.0)
    out: list[float] = []
    for b in range(n_bands):
        at = []
        for ms in (150, 500):
            i = int(bp[b]) + int(round(ms / 1000.0 / frame_s))
            at.append(max(float(e_db[b, i]), -100.0) if i < n_frames else -100.0)
        out += [float(share[b]), float(decay[b]), *at]
    return out


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
    env_db = _db(energy / max(float(energy.max()), EPS))
    ip = int(np.argmax(energy))
    above = np.nonzero(env_db > ACTIVE_FLOOR_DB)[0]
    last = int(above[-1]) if above.size else ip
    frame_s = HOP / sr_hz

    values: list[float] = []
    values += _envelope(x, env_db, sr_hz=sr_hz, file_duration_s=file_duration_s, ip=ip, last=last)
    values += _pitch(x, sr_hz=sr_hz, peak_sample=peak_sample, grid=g)

    # The frames from the peak on: `early` (EARLY_S) then `late` (to the last active frame).
    active = P[: last + 1]
    n_early = max(1, int(round(EARLY_S / frame_s)))
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
    high_early = _db1(float(eq_early[2]) / (float(eq_early.sum()) + EPS))
    high_late = _db1(float(eq_late[2]) / (float(eq_late.sum()) + EPS))
    values += [*_db((g.eq3 @ active.sum(axis=0)) / tot_active).tolist(), high_late - high_early]
    values += _bands(P, g, last=last, tot_active=tot_active, frame_s=frame_s)

    used = span[:late_hi]
    logp = np.add(used, EPS)
    np.log(logp, out=logp)
    shape = _shape_rows(used, span_sum[:late_hi], logp, g)
    values += _weighted_means(shape[:, :n_e], span_sum[:n_e])
    values += _weighted_means(shape[:, late_lo:late_hi], span_sum[late_lo:late_hi])

    mag = np.sqrt(span)  # mag_early takes one frame more than early
    mag_sum = mag.sum(axis=1)
    sq_sum = span_sum  # (mag * mag).sum(axis=1) but for rounding
    sq_high = span[:, g.k4k :].sum(axis=1)
    e_hi = min(n_early + 1, mag.shape[0])
    m_lo, m_hi = (n_early, last + 1 - ip) if last + 1 - ip - n_early >= 2 else (0, e_hi)
    mag_early, mag_late = mag[:e_hi], mag[m_lo:m_hi]

    early_mean = e_early / early.shape[0]
    late_mean = e_late / late.shape[0]
    early_mean_db, late_mean_db = _db(early_mean), _db(late_mean)
    n_partials, prominence = _partials(late_mean_db)
    n_early_x = min(x.size, int((ip * frame_s + EARLY_S) * sr_hz) + 1)
    n_active_x = min(x.size, (last + 1) * HOP)
    sign = np.signbit(x[: max(n_early_x, n_active_x)])
    values += [
        _flux(mag_early, mag_sum[:e_hi]),
        _flux(mag_late, mag_sum[m_lo:m_hi]),
        _stability(mag_early, sq_sum[:e_hi], lag=2),
        _stability(mag_late, sq_sum[m_lo:m_hi]),
        n_partials,
        prominence,
        _zcr(sign, n_early_x),
        _zcr(sign, n_active_x),
        _band_flatness(early, logp[:n_e], g.k1k, g.k4k),
        _band_flatness(early, logp[:n_e], g.k4k, g.k12k),
        _band_flatness(late, logp[late_lo:late_hi], g.k4k, g.k12k),
        _stability(mag_late[:, g.k4k :], sq_high[m_lo:m_hi]),
        _slope_db_per_oct(early_mean_db, g),
        _slope_db_per_oct(late_mean_db, g),
        *_attack(P, energy, e_early, ip=ip, g=g),
    ]

    for mean in (early_mean, late_mean):
        m = g.mel20 @ mean
        values += np.maximum(_db(m / (m.sum() + EPS)), -100.0).tolist()

    log_mel = _db(active @ g.mel40.T)  # (frames, 40)
    values += (log_mel @ g.dct.T).mean(axis=0).tolist()

    out = np.asarray(values, dtype=np.float32)
    if not np.isfinite(out).all():
        out = np.nan_to_num(out, nan=0.0, posinf=1e6, neginf=-1e6)
    return out


def extract(clip: Clip) -> FeatureVector:
    """FeatureVector of a decoded clip."""
    values = describe(clip.samples, sr_hz=clip.sr_hz, file_duration_s=clip.duration_s)
    return FeatureVector(values=values, schema_version=FEATURE_SCHEMA_VERSION)
