"""The spectral front end of the feature extractor: STFT, filterbanks and per-rate bin grids.

Owns the analysis geometry `features.describe` (and `segments`' onset detector) stand on: the
power spectrogram (`power_spectrogram`, one STFT per clip, its input buffer reused per thread),
the Hann windows, the Slaney mel filterbank and the orthonormal DCT-II (written out, equal to
librosa's / scipy's, because importing librosa costs about two seconds per process), and
`grid(sr_hz)`: everything about the spectrum that depends only on the sample rate (bin
frequencies, band matrices, filterbanks, bin indices, pitch-FFT bins), built once per rate.

The constants here (FFT sizes, hop, band edges, mel / MFCC counts) are parameters of the
features: changing one changes every feature vector and bumps `features.FEATURE_SCHEMA_VERSION`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import fft as scipy_fft

N_FFT = 1024
HOP = 256
EQ3_EDGES_HZ = (200.0, 2500.0)
BAND_EDGES_HZ = (20.0, 150.0, 400.0, 1000.0, 2500.0, 6000.0, 16000.0)
N_MEL_BANDS = 20
N_MFCC = 6
PITCH_N_FFT = 8192  # zero-padded FFT of the pitch windows (3.9 Hz bins at 32 kHz)
EPS = 1e-12


# --- filterbanks ------------------------------------------------------------------------------


def _hz_to_mel(f_hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale (linear below 1 kHz, logarithmic above), as librosa's default."""
    f = np.asarray(f_hz, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_region = f >= 1000.0
    mel = np.where(
        log_region, 15.0 + np.log(np.maximum(f, EPS) / 1000.0) / (np.log(6.4) / 27.0), mel
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
def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
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
def hann(n: int) -> np.ndarray:
    return np.hanning(n).astype(np.float32)


@lru_cache(maxsize=8)
def _rfftfreq(n_fft: int, sr_hz: int) -> np.ndarray:
    return np.fft.rfftfreq(n_fft, 1.0 / sr_hz)


# --- per-rate constants -----------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """What `describe` needs that depends only on the sample rate, built once per rate."""

    freqs: np.ndarray  # STFT bin frequencies, Hz (float32)
    freqs_sq: np.ndarray  # their squares, Hz^2 (float32)
    eq3: np.ndarray  # (3, bins) 0/1 matrix of the low / mid / high bands
    bands: np.ndarray  # (6, bins) 0/1 matrix of the finer bands (BAND_EDGES_HZ)
    k100: int  # first bin at or above 100 Hz (and so on)
    k300: int
    k1k: int
    k4k: int
    k5k: int
    k12k: int
    slope_xc: np.ndarray  # centred log2 frequencies of bins k100..k12k (float64)
    slope_den: float  # their sum of squares
    mel20: np.ndarray
    mel40: np.ndarray
    dct: np.ndarray  # (N_MFCC, 40) DCT-II rows 1..N_MFCC
    pitch_freqs: np.ndarray  # bin frequencies of the 8192-point pitch FFT, Hz (float64)
    pitch_lo: int  # its bins at 30, 1000 and 500 Hz
    pitch_hi: int
    pitch_hi500: int


@lru_cache(maxsize=8)
def grid(sr_hz: int) -> Grid:
    freqs = _rfftfreq(N_FFT, sr_hz).astype(np.float32)
    ks = [int(np.searchsorted(freqs, f)) for f in (100.0, 300.0, 1000.0, 4000.0, 5000.0, 12000.0)]
    log2f = np.log2(freqs[ks[0] : ks[5]]).astype(np.float64)
    xc = log2f - log2f.mean()
    pf = _rfftfreq(PITCH_N_FFT, sr_hz)
    lo, hi, hi500 = (int(np.searchsorted(pf, f)) for f in (30.0, 1000.0, 500.0))
    return Grid(
        freqs=freqs,
        freqs_sq=freqs**2,
        eq3=_band_matrix(freqs, (0.0, *EQ3_EDGES_HZ, sr_hz / 2 + 1)),
        bands=_band_matrix(freqs, BAND_EDGES_HZ),
        k100=ks[0],
        k300=ks[1],
        k1k=ks[2],
        k4k=ks[3],
        k5k=ks[4],
        k12k=ks[5],
        slope_xc=xc,
        slope_den=float(np.dot(xc, xc)),
        mel20=mel_filterbank(sr_hz=sr_hz, n_fft=N_FFT, n_mels=N_MEL_BANDS),
        mel40=mel_filterbank(sr_hz=sr_hz, n_fft=N_FFT, n_mels=40),
        dct=np.ascontiguousarray(dct_matrix(40, N_MFCC + 1)[1:]),
        pitch_freqs=pf,
        pitch_lo=lo,
        pitch_hi=hi,
        pitch_hi500=hi500,
    )


def _band_matrix(freqs: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    idx = np.searchsorted(freqs, edges)
    m = np.zeros((len(edges) - 1, freqs.size), dtype=np.float32)
    for b in range(len(edges) - 1):
        m[b, idx[b] : max(idx[b + 1], idx[b] + 1)] = 1.0
    return m


# --- the STFT ---------------------------------------------------------------------------------


_SCRATCH_MAX_FLOATS = 1 << 20  # 4 MB: the windowed frames of clips up to ~8 s at 32 kHz
_scratch_local = threading.local()


def _scratch(shape: tuple[int, int]) -> np.ndarray:
    """An uninitialised float32 array of `shape`, reused by the calling thread while small.

    Freshly allocated large arrays are slow to use (each allocation maps new pages, and
    pocketfft ran ~3x slower on them than on reused memory), so the STFT's input buffer is kept.
    """
    n = shape[0] * shape[1]
    if n > _SCRATCH_MAX_FLOATS:
        return np.empty(shape, dtype=np.float32)
    buf = getattr(_scratch_local, "buf", None)
    if buf is None or buf.size < n:
        buf = _scratch_local.buf = np.empty(max(n, 1 << 16), dtype=np.float32)
    return buf[:n].reshape(shape)


def power_spectrogram(x: np.ndarray, *, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """|STFT|^2, shape (frames, n_fft // 2 + 1); frame i is centred at sample i * hop."""
    pad = n_fft // 2
    n = len(x)
    xp = np.zeros(n + 2 * pad + n_fft - pad, dtype=np.float32)
    xp[pad : pad + n] = x
    n_frames = 1 + (n + hop - 1) // hop
    # Overlapping views into xp (what sliding_window_view gives, without its ~6 us overhead).
    frames = np.ndarray(
        (n_frames, n_fft), dtype=np.float32, buffer=xp, strides=(hop * xp.itemsize, xp.itemsize)
    )
    windowed = np.multiply(frames, _window(n_fft), out=_scratch((n_frames, n_fft)))
    spec = scipy_fft.rfft(windowed, axis=1, overwrite_x=True)  # complex64
    re_im = spec.view(np.float32)
    re_im *= re_im
    return re_im[:, 0::2] + re_im[:, 1::2]
