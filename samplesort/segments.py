"""Pure onset segmentation for full-track mode: mono samples -> onset times -> hit segments.

Drum-tuned onset strength: a log-power mel spectrogram (64 bands, 16 ms window, 5 ms hop),
each frame compared with a frequency-max-filtered frame two hops back (SuperFlux, Böck &
Widmer 2013), positive differences summed. Because it works on decibels, a quiet ghost note
or a closed hat over a ringing crash rises as clearly as an accent, which is what the default
librosa detector misses in fast hat rolls and dense cymbal patterns. Peaks are picked with a
local-maximum window, a moving-average threshold and a 35 ms minimum gap (32nd notes at 180
BPM are 42 ms apart), then each onset is refined to the sample where the hit's energy rises.

A hit's segment runs from just before its onset to the next onset, at most MAX_SEGMENT_S.

The hat pass (HAT_PASS): the same picker on the bands above HAT_FROM_HZ finds soft hats that
a loud hit just before hides from the full-band picker; its onsets away from every main onset
get their own slices (`hat_segments`), which only a hi-hat label may come of. The kick pass
(KICK_PASS) does the same under KICK_TO_HZ for kicks the full-band moving mean hides
(`kick_segments`); only a kick may come of its slices. A slice records which picker found it
(`Segment.source`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .spectral import mel_filterbank, power_spectrogram

N_FFT = 512
HOP = 160
N_MELS = 64
LAG = 2  # frames between the compared spectra
FLOOR_DB = -100.0  # band power floor (dB re full scale)
MIN_LEVEL_DB = -65.0  # frames quieter than this (total power, dB re full scale) start no hit
DELTA = 2.5  # odf units (summed dB per band / N_MELS * 10) above the moving average
PRE_MAX_S, POST_MAX_S = 0.02, 0.02
PRE_AVG_S, POST_AVG_S = 0.1, 0.05
MIN_GAP_S = 0.035
FALL_DB = 3.0  # a peak where the level fell more than this since LAG + 1 hops ago is no hit
PRE_ROLL_S = 0.003
MAX_SEGMENT_S = 0.5
LEAD_HOPS = 4
# The hat pass: a second peak picking on the mel bands above HAT_FROM_HZ only, for soft hats
# that a loud hit just before hides from the full-band picker (its moving mean is still high).
# Its onsets more than PASS_GAP_S from every main onset become hat-only candidates.
HAT_PASS = True
HAT_FROM_HZ = 3000.0
PASS_GAP_S = 0.03
HAT_DELTA = DELTA  # the hat pass's own threshold above its moving average
# The kick pass: the same picking on the mel bands under KICK_TO_HZ, for kicks whose rise the
# full-band moving mean hides (a kick right after a loud hit, or in a compressed loop: all the
# kicks the main picker missed in the held-out grooves fell under that mean). Its bands are
# few and a kick's low end beats as it rings, so it needs a higher threshold (KICK_DELTA).
# Its onsets more than PASS_GAP_S from every main and hat onset become kick-only candidates.
KICK_PASS = True
KICK_TO_HZ = 150.0
KICK_DELTA = 8.0


BAND_EDGES_HZ = (30.0, 150.0, 500.0, 3000.0, 16000.0)  # low, low-mid, mid, high
BANDS = ("low", "lowmid", "mid", "high")


@dataclass(frozen=True)
class Onsets:
    times_s: np.ndarray  # refined onset times (where the hit starts sounding)
    strength: np.ndarray  # onset-strength value at each detected peak
    rise_db: np.ndarray  # (n, len(BANDS)): how much each band's level rose at the onset
    odf: np.ndarray  # the onset-strength function, one value per hop
    hop_s: float
    # the hat pass's and the kick pass's extra onsets (see HAT_PASS, KICK_PASS), band rises
    hat_times_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hat_rise_db: np.ndarray = field(default_factory=lambda: np.zeros((0, len(BANDS)), np.float32))
    kick_times_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    kick_rise_db: np.ndarray = field(default_factory=lambda: np.zeros((0, len(BANDS)), np.float32))


@dataclass(frozen=True)
class Segment:
    onset_s: float  # when the hit starts sounding
    start: int  # sample index of the slice start (PRE_ROLL_S before the onset)
    end: int  # exclusive: the next onset's slice start, at most MAX_SEGMENT_S later
    strength: float
    rise_db: tuple[float, ...] = ()  # per band of BANDS, see `band_rise`
    source: str = "main"  # the picker that found it: "main", "hat" (HAT_PASS), "kick" (KICK_PASS)


def onset_strength(x: np.ndarray, *, sr_hz: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(odf, level_db, band_db) per hop: the SuperFlux onset strength, each frame's total
    power in dB re a full-scale signal, and the power of each of BANDS in dB. Frame i is
    centred at sample i * HOP."""
    odf, _, _, level_db, band_db = _strengths(x, sr_hz=sr_hz)
    return odf, level_db, band_db


def _strengths(
    x: np.ndarray, *, sr_hz: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`onset_strength`'s three values plus the onset strength of the mel bands above
    HAT_FROM_HZ alone (second) and of those under KICK_TO_HZ alone (third), on the same scale
    (dB summed per band / band count)."""
    x = np.asarray(x, dtype=np.float32)
    P = power_spectrogram(x, n_fft=N_FFT, hop=HOP)
    fb = mel_filterbank(sr_hz=sr_hz, n_fft=N_FFT, n_mels=N_MELS, fmin_hz=30.0)
    full_scale = (N_FFT * 0.5) ** 2  # |rfft|^2 of a full-scale sine under a Hann window, ~
    M = P @ fb.T
    M_db = 10.0 * np.log10(np.maximum(M / (full_scale * fb.max()), 10 ** (FLOOR_DB / 10)))
    from scipy.ndimage import maximum_filter1d

    ref = maximum_filter1d(M_db, size=3, axis=1)
    diff = np.zeros_like(M_db)
    diff[LAG:] = M_db[LAG:] - ref[:-LAG]
    np.maximum(diff, 0.0, out=diff)
    odf = diff.sum(axis=1) / N_MELS
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr_hz)
    centres = freqs[np.argmax(fb, axis=1)]
    high = centres >= HAT_FROM_HZ
    odf_high = diff[:, high].sum(axis=1) / max(int(high.sum()), 1)
    low = centres < KICK_TO_HZ
    odf_low = diff[:, low].sum(axis=1) / max(int(low.sum()), 1)
    level_db = 10.0 * np.log10(np.maximum(P.sum(axis=1) / full_scale, 1e-20))
    idx = np.searchsorted(freqs, BAND_EDGES_HZ)
    band = np.stack([P[:, idx[b] : idx[b + 1]].sum(axis=1) for b in range(len(BANDS))], axis=1)
    band_db = 10.0 * np.log10(np.maximum(band / full_scale, 1e-12))
    f32 = np.float32
    return (
        odf.astype(f32),
        odf_high.astype(f32),
        odf_low.astype(f32),
        level_db.astype(f32),
        band_db.astype(f32),
    )


def band_rise(band_db: np.ndarray, times_s: np.ndarray, *, sr_hz: int) -> np.ndarray:
    """(n, len(BANDS)) dB: each band's loudest frame in the 20 ms from the onset minus its
    mean over the frames 10-25 ms before it (what the hit added, not what was ringing)."""
    out = np.zeros((times_s.size, band_db.shape[1]), dtype=np.float32)
    n = band_db.shape[0]
    for k, t in enumerate(times_s):
        f = int(round(t * sr_hz / HOP))
        after = band_db[min(f, n - 1) : min(f + 5, n)]
        before = band_db[max(0, f - 5) : max(0, f - 2)]
        if after.size:
            base = before.mean(axis=0) if before.size else np.full(band_db.shape[1], -120.0)
            out[k] = after.max(axis=0) - base
    return out


def pick_peaks(
    odf: np.ndarray, level_db: np.ndarray, *, hop_s: float, delta: float | None = None
) -> np.ndarray:
    """Frame indices of onset peaks: local maxima over +-20 ms, `delta` (default DELTA) above
    the moving mean (100 ms before, 50 ms after), in a frame loud enough, at least MIN_GAP_S
    apart."""
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    if odf.size < 3:
        return np.zeros(0, dtype=np.int64)
    pre_m, post_m = round(PRE_MAX_S / hop_s), round(POST_MAX_S / hop_s)
    local_max = maximum_filter1d(odf, size=pre_m + post_m + 1, origin=(pre_m - post_m) // 2)
    pre_a, post_a = round(PRE_AVG_S / hop_s), round(POST_AVG_S / hop_s)
    avg = uniform_filter1d(odf, size=pre_a + post_a + 1, origin=(pre_a - post_a) // 2)
    loud = maximum_filter1d(level_db, size=5) >= MIN_LEVEL_DB
    # a hit adds energy: an abrupt cut-off also splashes positive flux, but the level falls
    before = np.concatenate([np.full(LAG + 1, -200.0), level_db[: -(LAG + 1)]])
    after = maximum_filter1d(level_db, size=4, origin=-2)  # max of frames i .. i + 3
    loud &= after >= before - FALL_DB
    threshold = avg + (DELTA if delta is None else delta)
    cand = np.nonzero((odf >= local_max) & (odf >= threshold) & loud)[0]
    out: list[int] = []
    gap = MIN_GAP_S / hop_s
    for i in cand:
        if out and i - out[-1] < gap:
            if odf[i] > odf[out[-1]]:
                out[-1] = int(i)
            continue
        out.append(int(i))
    return np.asarray(out, dtype=np.int64)


def refine(x: np.ndarray, peaks: np.ndarray, *, sr_hz: int) -> np.ndarray:
    """Sample-accurate onset of each peak frame: in the 25 ms before the frame centre and
    5 ms after, the 0.5 ms block where the log energy of the first difference (a transient's
    fast edge) rises most steeply (2 ms after against 2 ms before)."""
    block = max(1, int(0.0005 * sr_hz))
    d = np.diff(x, prepend=x[:1]).astype(np.float64) ** 2
    out = np.empty(peaks.size)
    k4 = 4
    for k, p in enumerate(peaks):
        c = int(p) * HOP
        a, b = max(0, c - int(0.025 * sr_hz)), min(x.size, c + int(0.005 * sr_hz))
        n = (b - a) // block
        if n < 2 * k4 + 1:
            out[k] = c / sr_hz
            continue
        e = 10.0 * np.log10(d[a : a + n * block].reshape(n, block).mean(axis=1) + 1e-20)
        csum = np.concatenate([[0.0], np.cumsum(e)])
        j = np.arange(k4, n - k4 + 1)
        rise = (csum[j + k4] - csum[j]) - (csum[j] - csum[j - k4])
        out[k] = (a + int(j[np.argmax(rise)]) * block) / sr_hz
    return out


def detect(x: np.ndarray, *, sr_hz: int) -> Onsets:
    """Onsets of a mono signal. Silence gives none. The signal is analysed behind LEAD_HOPS
    hops of silence, so a hit at the very first sample (a one-shot) is found too. With
    HAT_PASS, `hat_times_s` holds the high-band-only onsets no main onset explains; with
    KICK_PASS, `kick_times_s` the low-band-only onsets no main or hat onset explains."""
    x = np.asarray(x, dtype=np.float32)
    hop_s = HOP / sr_hz
    if x.size < 32:
        empty = np.zeros((0, len(BANDS)), np.float32)
        return Onsets(np.zeros(0), np.zeros(0), empty, np.zeros(0, np.float32), hop_s)
    lead = LEAD_HOPS * HOP
    xp = np.concatenate([np.zeros(lead, dtype=np.float32), x])
    odf, odf_high, odf_low, level_db, band_db = _strengths(xp, sr_hz=sr_hz)
    peaks = pick_peaks(odf, level_db, hop_s=hop_s)
    times = refine(xp, peaks, sr_hz=sr_hz)
    if times.size > 1:  # refinement may pull two peaks together: keep them MIN_GAP_S apart
        keep = np.concatenate([[True], np.diff(times) >= MIN_GAP_S * 0.6])
        times, peaks = times[keep], peaks[keep]
    hat_times = np.zeros(0)
    if HAT_PASS:
        high_db = band_db[:, BANDS.index("high")]
        hat_peaks = pick_peaks(odf_high, high_db, hop_s=hop_s, delta=HAT_DELTA)
        hat_times = refine(xp, hat_peaks, sr_hz=sr_hz)
        hat_times = _away_from(hat_times, times, PASS_GAP_S)
    kick_times = np.zeros(0)
    if KICK_PASS:
        low_db = band_db[:, BANDS.index("low")]
        kick_peaks = pick_peaks(odf_low, low_db, hop_s=hop_s, delta=KICK_DELTA)
        kick_times = refine(xp, kick_peaks, sr_hz=sr_hz)
        kick_times = _away_from(kick_times, np.concatenate([times, hat_times]), PASS_GAP_S)
    shift = lead / sr_hz
    return Onsets(
        times_s=np.maximum(times - shift, 0.0),
        strength=odf[peaks].astype(np.float64),
        rise_db=band_rise(band_db, times, sr_hz=sr_hz),
        odf=odf[LEAD_HOPS:],
        hop_s=hop_s,
        hat_times_s=np.maximum(hat_times - shift, 0.0),
        hat_rise_db=band_rise(band_db, hat_times, sr_hz=sr_hz),
        kick_times_s=np.maximum(kick_times - shift, 0.0),
        kick_rise_db=band_rise(band_db, kick_times, sr_hz=sr_hz),
    )


def _away_from(times: np.ndarray, others: np.ndarray, gap_s: float) -> np.ndarray:
    """The `times` more than `gap_s` from every one of `others`."""
    if not times.size or not others.size:
        return times
    return times[np.min(np.abs(times[:, None] - others[None, :]), axis=1) > gap_s]


def segments(onsets: Onsets, *, sr_hz: int, n_samples: int) -> list[Segment]:
    """Each onset's slice: PRE_ROLL_S before it up to the next slice, at most MAX_SEGMENT_S."""
    starts = [max(0, int(round((t - PRE_ROLL_S) * sr_hz))) for t in onsets.times_s]
    out = []
    for k, s in enumerate(starts):
        nxt = starts[k + 1] if k + 1 < len(starts) else n_samples
        end = min(nxt, s + int(MAX_SEGMENT_S * sr_hz), n_samples)
        if end - s >= int(0.005 * sr_hz):
            rise = tuple(float(v) for v in onsets.rise_db[k])
            out.append(Segment(float(onsets.times_s[k]), s, end, float(onsets.strength[k]), rise))
    return out


def hat_segments(onsets: Onsets, *, sr_hz: int, n_samples: int) -> list[Segment]:
    """The hat pass's slices: PRE_ROLL_S before each hat onset up to the next onset of the
    main or the hat pass, at most MAX_SEGMENT_S. The main slices (`segments`) are not re-cut
    by them."""
    every = np.concatenate([onsets.times_s, onsets.hat_times_s])
    return _pass_segments(onsets.hat_times_s, onsets.hat_rise_db, every, "hat", sr_hz, n_samples)


def kick_segments(onsets: Onsets, *, sr_hz: int, n_samples: int) -> list[Segment]:
    """The kick pass's slices: PRE_ROLL_S before each kick onset up to the next onset of any
    pass, at most MAX_SEGMENT_S. No other slice is re-cut by them."""
    every = np.concatenate([onsets.times_s, onsets.hat_times_s, onsets.kick_times_s])
    return _pass_segments(onsets.kick_times_s, onsets.kick_rise_db, every, "kick", sr_hz, n_samples)


def _pass_segments(
    times_s: np.ndarray,
    rise_db: np.ndarray,
    every: np.ndarray,
    source: str,
    sr_hz: int,
    n_samples: int,
) -> list[Segment]:
    every = np.sort(every)
    out = []
    for k, t in enumerate(times_s):
        s = max(0, int(round((t - PRE_ROLL_S) * sr_hz)))
        later = every[every > t + 1e-6]
        nxt = int(round((later[0] - PRE_ROLL_S) * sr_hz)) if later.size else n_samples
        end = min(nxt, s + int(MAX_SEGMENT_S * sr_hz), n_samples)
        if end - s >= int(0.005 * sr_hz):
            rise = tuple(float(v) for v in rise_db[k])
            out.append(Segment(float(t), s, end, 0.0, rise, source=source))
    return out
