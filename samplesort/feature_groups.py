"""The feature groups `features.describe` assembles, each a pure function of the clip's
spectrogram or samples returning its values in the order of its name list in `features.py`:
the loudness envelope, the pitch estimate, the per-band energies and decays, the per-frame
spectral shape, flux, stability and partials, the attack, the zero-crossing rate. Also the
analysis windows they share (EARLY_S, ACTIVE_FLOOR_DB, LEVEL_TIMES_MS).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft as scipy_fft

from .spectral import EPS, HOP, PITCH_N_FFT, Grid, hann

EARLY_S = 0.05
ACTIVE_FLOOR_DB = -60.0
LEVEL_TIMES_MS = (10, 30, 60, 100, 200, 400, 800, 1500)


# --- helpers ----------------------------------------------------------------------------------


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y against x (what np.polyfit(x, y, 1)[0] gives, without lstsq)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xc = x - x.sum() / x.size
    denom = float(np.dot(xc, xc))
    return float(np.dot(xc, y - y.sum() / y.size) / denom) if denom > 0 else 0.0


def db(x: np.ndarray | float) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(x, EPS))


def db1(x: float) -> float:
    """db of one Python float (the scalar path, without numpy's call overhead)."""
    return 10.0 * math.log10(max(x, EPS))


# --- feature groups (each returns a list in the order of its name list) ------------------------


def envelope(
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
    crest = db1(1.0 / max(rms, EPS) ** 2)  # 20*log10(peak / rms); peak is 1
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


def pitch(x: np.ndarray, *, sr_hz: int, peak_sample: int, grid: Grid) -> list[float]:
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
    conf = db1(float(band[k])) - db1(median + EPS)
    n500 = grid.pitch_hi500 - lo
    low = band[:n500]
    low_centroid = float(np.dot(freqs[lo : grid.pitch_hi500], low) / (low.sum() + EPS))
    return f0, conf, low_centroid


def shape_rows(P: np.ndarray, row_sum: np.ndarray, logp: np.ndarray, g: Grid) -> np.ndarray:
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
    peakiness[:] = db(P.max(axis=1) / mean)
    return out


def weighted_means(rows: np.ndarray, weights: np.ndarray) -> list[float]:
    """Weighted mean of each row of `rows` (plain mean when the weights sum to zero)."""
    w = weights.sum()
    if w > 0:
        return ((rows * weights).sum(axis=1) / w).tolist()
    return rows.mean(axis=1).tolist()


def stability(mag: np.ndarray, sq_sum: np.ndarray, lag: int = 4) -> float:
    """Mean cosine similarity of magnitude spectra `lag` frames apart: steady ringing partials
    give ~1, noise gives less. `sq_sum` is (mag * mag).sum(axis=1)."""
    if mag.shape[0] <= lag:
        return 1.0
    num = (mag[:-lag] * mag[lag:]).sum(axis=1)
    den = np.sqrt(sq_sum[:-lag] * sq_sum[lag:]) + EPS
    return float((num / den).sum()) / num.size


def flux(mag: np.ndarray, row_sum: np.ndarray) -> float:
    """Mean positive spectral change between frames over the frame's magnitude sum;
    `row_sum` is mag.sum(axis=1)."""
    if mag.shape[0] < 2:
        return 0.0
    d = np.subtract(mag[1:], mag[:-1])
    d = np.maximum(d, 0.0, out=d).sum(axis=1)
    return float((d / (row_sum[1:] + EPS)).sum()) / d.size


def partials(late_mean_db: np.ndarray) -> tuple[float, float]:
    """Count of spectral peaks standing > 10 dB over a smoothed spectrum of the averaged late
    frames (noise averages flat; ringing partials stay), and the largest prominence."""
    k = 9
    kernel = np.ones(k) / k
    smooth = np.convolve(late_mean_db, kernel, mode="same")
    prom = late_mean_db - smooth
    core = prom[8:-8] if prom.size > 32 else prom
    is_peak = (core[1:-1] > core[:-2]) & (core[1:-1] >= core[2:]) & (core[1:-1] > 10.0)
    return float(np.count_nonzero(is_peak)), float(core.max()) if core.size else 0.0


def band_flatness(P: np.ndarray, logp: np.ndarray, a: int, b: int) -> float:
    """Energy-weighted spectral flatness of bins a..b-1 (noise ~1, tones ~0); `logp` is
    log(P + eps)."""
    sub = P[:, a:b]
    if sub.size == 0:
        return 0.0
    power = sub.sum(axis=1)
    flat = np.exp(logp[:, a:b].sum(axis=1) / sub.shape[1]) / (power / sub.shape[1] + EPS)
    w = power.sum()
    return float((flat * power).sum() / w) if w > 0 else float(flat.sum()) / flat.size


def slope_db_per_oct(mean_db: np.ndarray, g: Grid) -> float:
    """Slope (dB per octave) of a mean log spectrum against log2 frequency (100 Hz - 12 kHz)."""
    if g.k12k - g.k100 < 2 or g.slope_den <= 0:
        return 0.0
    y = mean_db[g.k100 : g.k12k].astype(np.float64)
    return float(np.dot(g.slope_xc, y - y.sum() / y.size) / g.slope_den)


def attack(
    P: np.ndarray, energy: np.ndarray, e_early: np.ndarray, *, ip: int, g: Grid
) -> list[float]:
    """The hit itself: centroid (Hz) and > 5 kHz share (dB) of the onset-to-peak frames (at
    least two), energy of the first 3 frames (~24 ms) over the next 9 (dB), and < 100 Hz over
    100-300 Hz early (dB). `energy` is P.sum(axis=1), `e_early` the early frames' sum."""
    e_att = P[: max(ip + 1, 2)].sum(axis=0)
    tot_att = float(e_att.sum())
    centroid = float(np.dot(g.freqs, e_att)) / (tot_att + EPS)
    high_share = db1(float(e_att[g.k5k :].sum()) / (tot_att + EPS))
    transient = db1(float(energy[:3].sum()) / (float(energy[3:12].sum()) + EPS))
    sub = db1(float(e_early[: g.k100].sum()) / (float(e_early[g.k100 : g.k300].sum()) + EPS))
    return [
        centroid,
        max(high_share, -100.0),
        min(max(transient, -60.0), 60.0),
        min(max(sub, -60.0), 60.0),
    ]


def zcr(sign: np.ndarray, n: int) -> float:
    """Zero-crossing rate of the first n samples, given their sign bits."""
    if n < 2:
        return 0.0
    return np.count_nonzero(sign[1:n] != sign[: n - 1]) / (n - 1)


def bands(P: np.ndarray, g: Grid, *, last: int, tot_active: float, frame_s: float) -> list[float]:
    """Per band of BAND_EDGES_HZ: share of the active energy (dB), decay to -20 dB under the
    band's own peak (s), and the band's level 150 and 500 ms after that peak (dB)."""
    env = np.ascontiguousarray((P @ g.bands.T).T)  # (bands, frames)
    n_bands, n_frames = env.shape
    rows = np.arange(n_bands)
    bp = np.argmax(env, axis=1)
    e_db = db(env / (env[rows, bp] + EPS)[:, None])
    above = (e_db > -20.0) & (np.arange(n_frames) >= bp[:, None])
    last_above = n_frames - 1 - np.argmax(above[:, ::-1], axis=1)
    decay = np.where(above.any(axis=1), (last_above - bp) * frame_s, 0.0)
    share = np.maximum(db(env[:, : last + 1].sum(axis=1) / tot_active), -100.0)
    out: list[float] = []
    for b in range(n_bands):
        at = []
        for ms in (150, 500):
            i = int(bp[b]) + int(round(ms / 1000.0 / frame_s))
            at.append(max(float(e_db[b, i]), -100.0) if i < n_frames else -100.0)
        out += [float(share[b]), float(decay[b]), *at]
    return out
