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
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import fft as scipy_fft

from .records import Clip, FeatureVector

FEATURE_SCHEMA_VERSION = 2

N_FFT = 1024
HOP = 256
EARLY_S = 0.05
ACTIVE_FLOOR_DB = -60.0
LEVEL_TIMES_MS = (10, 30, 60, 100, 200, 400, 800, 1500)
EQ3_EDGES_HZ = (200.0, 2500.0)
BAND_EDGES_HZ = (20.0, 150.0, 400.0, 1000.0, 2500.0, 6000.0, 16000.0)
N_MEL_BANDS = 20
N_MFCC = 6
_EPS = 1e-12

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


# --- filterbanks ------------------------------------------------------------------------------


def _hz_to_mel(f_hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale (linear below 1 kHz, logarithmic above), as librosa's default."""
    f = np.asarray(f_hz, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_region = f >= 1000.0
    mel = np.where(
        log_region, 15.0 + np.log(np.maximum(f, _EPS) / 1000.0) / (np.log(6.4) / 27.0), mel
    )
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    m = np.asarray(mel, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * 200.0 / 3)


@lru_cache(maxsize=8)
def mel_filterbank(
    *, sr_hz: int, n_fft: int, n_mels: int, fmin_hz: float = 0.0, fmax_hz: float | None = None
) -> np.ndarray:
    """Slaney-normalised triangular mel filters, shape (n_mels, n_fft // 2 + 1).

    Equal to `librosa.filters.mel` with its defaults (checked in the tests); written out here
    because importing librosa costs about two seconds per process.
    """
    fmax_hz = sr_hz / 2 if fmax_hz is None else fmax_hz
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sr_hz)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(fmin_hz), _hz_to_mel(fmax_hz), n_mels + 2))
    fdiff = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=4)
def _dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II basis (n_out, n_in), as scipy.fft.dct(type=2, norm='ortho')."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


@lru_cache(maxsize=4)
def _window(n: int) -> np.ndarray:
    return np.hanning(n + 1)[:-1].astype(np.float32)


@lru_cache(maxsize=64)
def _hann(n: int) -> np.ndarray:
    return np.hanning(n).astype(np.float32)


@lru_cache(maxsize=8)
def _rfftfreq(n_fft: int, sr_hz: int) -> np.ndarray:
    return np.fft.rfftfreq(n_fft, 1.0 / sr_hz)


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y against x (what np.polyfit(x, y, 1)[0] gives, without lstsq)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xc = x - x.mean()
    denom = float(np.dot(xc, xc))
    return float(np.dot(xc, y - y.mean()) / denom) if denom > 0 else 0.0


# --- the STFT ---------------------------------------------------------------------------------


def power_spectrogram(x: np.ndarray, *, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """|STFT|^2, shape (frames, n_fft // 2 + 1); frame i is centred at sample i * hop."""
    pad = n_fft // 2
    xp = np.pad(x.astype(np.float32, copy=False), (pad, pad + n_fft))
    n_frames = 1 + (len(x) + hop - 1) // hop
    frames = np.lib.stride_tricks.sliding_window_view(xp, n_fft)[: n_frames * hop : hop]
    spec = scipy_fft.rfft(frames * _window(n_fft), axis=1)  # float32 in, complex64 out
    return (spec.real**2 + spec.imag**2).astype(np.float32, copy=False)


def _db(x: np.ndarray | float) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(x, _EPS))


# --- feature groups (each returns a list in the order of its name list) ------------------------


def _envelope(
    x: np.ndarray, env_db: np.ndarray, *, sr_hz: int, file_duration_s: float, ip: int, last: int
) -> list[float]:
    frame_s = HOP / sr_hz
    active = env_db[: last + 1]

    def last_above(thr_db: float) -> int:
        idx = np.nonzero(env_db[ip:] > thr_db)[0]
        return int(idx[-1]) if idx.size else 0

    decay20 = last_above(-20.0) * frame_s
    decay40 = last_above(-40.0) * frame_s
    tail_end = ip + last_above(-50.0)
    if tail_end - ip >= 2:
        t = np.arange(tail_end - ip + 1) * frame_s
        slope = _slope(t, env_db[ip : tail_end + 1])
    else:
        slope = -50.0 / max(frame_s, (tail_end - ip + 1) * frame_s)
    n_active = min(len(x), (last + 1) * HOP)
    rms = float(np.sqrt(np.mean(x[:n_active] ** 2))) if n_active else _EPS
    crest = float(_db(1.0 / max(rms, _EPS) ** 2))  # 20*log10(peak / rms); peak is 1
    energy = 10 ** (active / 10)
    t_frames = np.arange(len(active)) * frame_s
    centroid_s = float(np.sum(t_frames * energy) / max(np.sum(energy), _EPS))
    thirds = np.array_split(active, 3) if len(active) >= 3 else [active, active, active]
    levels = []
    for t_ms in LEVEL_TIMES_MS:
        i = ip + int(round(t_ms / 1000.0 / frame_s))
        levels.append(float(env_db[i]) if i < len(env_db) else -100.0)
    return [
        min(file_duration_s, 60.0),
        (last + 1) * frame_s,
        ip * frame_s,
        decay20,
        decay40,
        slope,
        crest,
        centroid_s,
        *[float(np.mean(part)) for part in thirds],
        *[max(v, -100.0) for v in levels],
    ]


def _peak_hz(seg: np.ndarray, sr_hz: int, n_fft: int = 8192) -> tuple[float, float, float]:
    """Strongest spectral peak in 30-1000 Hz, its prominence over the band median (dB), and
    the power centroid of 30-500 Hz."""
    if seg.size < 64:
        return 0.0, 0.0, 0.0
    c = scipy_fft.rfft(seg.astype(np.float32, copy=False) * _hann(seg.size), n=n_fft)
    spec = (c.real**2 + c.imag**2).astype(np.float64)
    freqs = _rfftfreq(n_fft, sr_hz)
    lo, hi = np.searchsorted(freqs, 30.0), np.searchsorted(freqs, 1000.0)
    band = spec[lo:hi]
    k = int(np.argmax(band))
    if 0 < k < band.size - 1:
        a, b, c = np.log(band[k - 1 : k + 2] + _EPS)
        denom = a - 2 * b + c
        offset = 0.5 * (a - c) / denom if denom != 0 else 0.0
    else:
        offset = 0.0
    f0 = float(freqs[lo + k] + offset * (freqs[1] - freqs[0]))
    conf = float(_db(band[k]) - _db(np.median(band) + _EPS))
    hi500 = np.searchsorted(freqs, 500.0)
    low = spec[lo:hi500]
    low_centroid = float(np.sum(freqs[lo:hi500] * low) / (np.sum(low) + _EPS))
    return f0, conf, low_centroid


def _pitch(x: np.ndarray, *, sr_hz: int, peak_sample: int) -> list[float]:
    n_early = int(0.064 * sr_hz)
    early = x[peak_sample : peak_sample + n_early]
    late = x[peak_sample + n_early : peak_sample + 3 * n_early]
    f_early, c_early, lc_early = _peak_hz(early, sr_hz)
    f_late, c_late, lc_late = _peak_hz(late, sr_hz) if late.size >= 64 else (f_early, 0.0, lc_early)
    ratio = f_late / f_early if f_early > 0 else 1.0
    return [f_early, c_early, f_late, c_late, ratio, lc_early, lc_late]


def _band_matrix(freqs: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    idx = np.searchsorted(freqs, edges)
    m = np.zeros((len(edges) - 1, freqs.size), dtype=np.float32)
    for b in range(len(edges) - 1):
        m[b, idx[b] : max(idx[b + 1], idx[b] + 1)] = 1.0
    return m


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    w = np.sum(weights)
    return float(np.sum(values * weights) / w) if w > 0 else float(np.mean(values))


def _shape_stats(P: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Per frame: centroid, bandwidth, 85 % rolloff, flatness, peakiness -> (frames, 5)."""
    total = P.sum(axis=1) + _EPS
    centroid = (P @ freqs) / total
    bandwidth = np.sqrt(np.maximum((P @ freqs**2) / total - centroid**2, 0.0))
    cum = np.cumsum(P, axis=1)
    roll_idx = np.argmax(cum >= 0.85 * cum[:, -1:], axis=1)
    rolloff = freqs[roll_idx]
    logp = np.log(P + _EPS)
    flatness = np.exp(logp.mean(axis=1)) / (P.mean(axis=1) + _EPS)
    peakiness = _db(P.max(axis=1) / (P.mean(axis=1) + _EPS))
    return np.stack([centroid, bandwidth, rolloff, flatness, peakiness], axis=1)


def _stability(mag: np.ndarray, lag: int = 4) -> float:
    """Mean cosine similarity of magnitude spectra `lag` frames apart: steady ringing partials
    give ~1, noise gives less."""
    if mag.shape[0] <= lag:
        return 1.0
    a, b = mag[:-lag], mag[lag:]
    num = np.sum(a * b, axis=1)
    den = np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1)) + _EPS
    return float(np.mean(num / den))


def _flux(mag: np.ndarray) -> float:
    if mag.shape[0] < 2:
        return 0.0
    d = np.maximum(mag[1:] - mag[:-1], 0.0).sum(axis=1)
    return float(np.mean(d / (mag[1:].sum(axis=1) + _EPS)))


def _partials(late_mean_db: np.ndarray) -> tuple[float, float]:
    """Count of spectral peaks standing > 10 dB over a smoothed spectrum of the averaged late
    frames (noise averages flat; ringing partials stay), and the largest prominence."""
    k = 9
    kernel = np.ones(k) / k
    smooth = np.convolve(late_mean_db, kernel, mode="same")
    prom = late_mean_db - smooth
    core = prom[8:-8] if prom.size > 32 else prom
    is_peak = (core[1:-1] > core[:-2]) & (core[1:-1] >= core[2:]) & (core[1:-1] > 10.0)
    return float(np.sum(is_peak)), float(np.max(core)) if core.size else 0.0


def _band_flatness(P: np.ndarray, freqs: np.ndarray, lo_hz: float, hi_hz: float) -> float:
    """Energy-weighted spectral flatness of the bins in [lo_hz, hi_hz): noise ~1, tones ~0."""
    a, b = np.searchsorted(freqs, lo_hz), np.searchsorted(freqs, hi_hz)
    sub = P[:, a:b]
    if sub.size == 0:
        return 0.0
    flat = np.exp(np.log(sub + _EPS).mean(axis=1)) / (sub.mean(axis=1) + _EPS)
    return _weighted_mean(flat, sub.sum(axis=1))


def _slope_db_per_oct(P: np.ndarray, freqs: np.ndarray) -> float:
    """Slope of the mean log spectrum against log2 frequency (100 Hz - 12 kHz)."""
    a, b = np.searchsorted(freqs, 100.0), np.searchsorted(freqs, 12000.0)
    if P.shape[0] == 0 or b - a < 2:
        return 0.0
    spec_db = _db(P[:, a:b].mean(axis=0))
    return _slope(np.log2(freqs[a:b]), spec_db)


def _attack(P: np.ndarray, freqs: np.ndarray, *, ip: int, early: np.ndarray) -> list[float]:
    """The hit itself: centroid and > 5 kHz share of the onset-to-peak frames (at least two),
    energy of the first 3 frames (~24 ms) over the next 9, and < 100 Hz over 100-300 Hz early."""
    att = P[: max(ip + 1, 2)]
    e_att = att.sum(axis=0)
    centroid = float(np.sum(freqs * e_att) / (np.sum(e_att) + _EPS))
    k5 = int(np.searchsorted(freqs, 5000.0))
    high_share = float(_db(e_att[k5:].sum() / (e_att.sum() + _EPS)))
    energy = P.sum(axis=1)
    transient = float(_db(energy[:3].sum() / (energy[3:12].sum() + _EPS)))
    k100, k300 = int(np.searchsorted(freqs, 100.0)), int(np.searchsorted(freqs, 300.0))
    e_early = early.sum(axis=0)
    sub = float(_db(e_early[:k100].sum() / (e_early[k100:k300].sum() + _EPS)))
    return [
        centroid,
        max(high_share, -100.0),
        float(np.clip(transient, -60, 60)),
        float(np.clip(sub, -60, 60)),
    ]


def _zcr(x: np.ndarray) -> float:
    if x.size < 2:
        return 0.0
    return float(np.mean(np.signbit(x[1:]) != np.signbit(x[:-1])))


def describe(x: np.ndarray, *, sr_hz: int, file_duration_s: float | None = None) -> np.ndarray:
    """Feature values of a mono signal, in the order of FEATURE_NAMES (float32)."""
    x = np.asarray(x, dtype=np.float32)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak <= 0.0:
        raise ValueError("describe() needs a non-silent signal")
    # Start at the first sample within 50 dB of the peak, backing off 2 ms.
    start = int(np.argmax(np.abs(x) > peak * 10 ** (-50 / 20)))
    x = x[max(0, start - int(0.002 * sr_hz)) :] / peak
    file_duration_s = x.size / sr_hz if file_duration_s is None else file_duration_s

    P = power_spectrogram(x)
    freqs = _rfftfreq(N_FFT, sr_hz).astype(np.float32)
    n_frames = P.shape[0]
    energy = P.sum(axis=1)
    env_db = _db(energy / max(float(energy.max()), _EPS))
    ip = int(np.argmax(energy))
    above = np.nonzero(env_db > ACTIVE_FLOOR_DB)[0]
    last = int(above[-1]) if above.size else ip
    frame_s = HOP / sr_hz

    values: list[float] = []
    values += _envelope(x, env_db, sr_hz=sr_hz, file_duration_s=file_duration_s, ip=ip, last=last)
    values += _pitch(x, sr_hz=sr_hz, peak_sample=int(np.argmax(np.abs(x))))

    active = P[: last + 1]
    n_early = max(1, int(round(EARLY_S / frame_s)))
    early = P[ip : ip + n_early]
    late = P[ip + n_early : last + 1]
    if late.shape[0] == 0:
        late = early
    tot_active = float(active.sum()) + _EPS

    eq = _band_matrix(freqs, (0.0, *EQ3_EDGES_HZ, sr_hz / 2 + 1))
    eq_active = eq @ active.sum(axis=0)
    eq_early, eq_late = eq @ early.sum(axis=0), eq @ late.sum(axis=0)
    high_early = _db(eq_early[2] / (eq_early.sum() + _EPS))
    high_late = _db(eq_late[2] / (eq_late.sum() + _EPS))
    values += [*(_db(eq_active / tot_active)).tolist(), float(high_late - high_early)]

    bands = _band_matrix(freqs, BAND_EDGES_HZ)
    band_env = P @ bands.T  # (frames, bands)
    for b in range(bands.shape[0]):
        e = band_env[:, b]
        bp = int(np.argmax(e))
        e_db = _db(e / (e[bp] + _EPS))
        above_b = np.nonzero(e_db[bp:] > -20.0)[0]
        decay = float(above_b[-1]) * frame_s if above_b.size else 0.0

        def at(ms: float, e_db: np.ndarray = e_db, bp: int = bp) -> float:
            i = bp + int(round(ms / 1000.0 / frame_s))
            return max(float(e_db[i]), -100.0) if i < n_frames else -100.0

        share = float(_db(e[: last + 1].sum() / tot_active))
        values += [max(share, -100.0), decay, at(150), at(500)]

    shape_early = _shape_stats(early, freqs)
    shape_late = _shape_stats(late, freqs)
    w_early, w_late = early.sum(axis=1), late.sum(axis=1)
    for stats, w in ((shape_early, w_early), (shape_late, w_late)):
        values += [_weighted_mean(stats[:, j], w) for j in range(stats.shape[1])]
    mag = np.sqrt(P)
    mag_early = mag[ip : ip + n_early + 1]
    mag_late = mag[ip + n_early : last + 1]
    if mag_late.shape[0] < 2:
        mag_late = mag_early
    late_mean_db = _db(late.mean(axis=0))
    n_partials, prominence = _partials(late_mean_db)
    early_x = x[: int((ip * frame_s + EARLY_S) * sr_hz) + 1]
    active_x = x[: (last + 1) * HOP]
    k4 = int(np.searchsorted(freqs, 4000.0))
    values += [
        _flux(mag_early),
        _flux(mag_late),
        _stability(mag_early, lag=2),
        _stability(mag_late),
        n_partials,
        prominence,
        _zcr(early_x),
        _zcr(active_x),
        _band_flatness(early, freqs, 1000.0, 4000.0),
        _band_flatness(early, freqs, 4000.0, 12000.0),
        _band_flatness(late, freqs, 4000.0, 12000.0),
        _stability(mag_late[:, k4:]),
        _slope_db_per_oct(early, freqs),
        _slope_db_per_oct(late, freqs),
        *_attack(P, freqs, ip=ip, early=early),
    ]

    mel20 = mel_filterbank(sr_hz=sr_hz, n_fft=N_FFT, n_mels=N_MEL_BANDS)
    for part in (early, late):
        m = mel20 @ part.mean(axis=0)
        values += np.maximum(_db(m / (m.sum() + _EPS)), -100.0).tolist()

    mel40 = mel_filterbank(sr_hz=sr_hz, n_fft=N_FFT, n_mels=40)
    log_mel = _db(active @ mel40.T)  # (frames, 40)
    mfcc = log_mel @ _dct_matrix(40, N_MFCC + 1)[1:].T
    values += mfcc.mean(axis=0).tolist()

    out = np.asarray(values, dtype=np.float32)
    return np.nan_to_num(out, nan=0.0, posinf=1e6, neginf=-1e6)


def extract(clip: Clip) -> FeatureVector:
    """FeatureVector of a decoded clip."""
    values = describe(clip.samples, sr_hz=clip.sr_hz, file_duration_s=clip.duration_s)
    return FeatureVector(values=values, schema_version=FEATURE_SCHEMA_VERSION)
