"""Pure training-audio augmentation: realistic variants of a one-shot, from a seeded RNG.

Sample packs differ in tuning, EQ, tail length (shorter and longer), room and noise floor; each
variant applies one or two of those changes so the classifier learns the drum, not the pack.
(Gain alone is a no-op: features are computed on the peak-normalised signal.)
"""

from __future__ import annotations

import numpy as np


def pitch_shift(x: np.ndarray, sr_hz: int, semitones: float) -> np.ndarray:
    """Tape-style retune: resample so the clip plays `semitones` higher (and shorter)."""
    import soxr

    ratio = 2.0 ** (semitones / 12.0)
    return soxr.resample(x, sr_hz * ratio, sr_hz, quality="MQ").astype(np.float32)


def filtered(x: np.ndarray, sr_hz: int, *, kind: str, cutoff_hz: float) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    sos = butter(2, cutoff_hz, btype=kind, fs=sr_hz, output="sos")
    return sosfilt(sos, x).astype(np.float32)


def truncated(x: np.ndarray, sr_hz: int, *, keep_s: float, fade_s: float = 0.01) -> np.ndarray:
    n = min(x.size, max(int(keep_s * sr_hz), 16))
    y = x[:n].copy()
    nf = min(n, max(1, int(fade_s * sr_hz)))
    y[-nf:] *= np.linspace(1.0, 0.0, nf, dtype=np.float32)
    return y


def with_room(
    x: np.ndarray, sr_hz: int, *, rt60_s: float, wet: float, rng: np.random.Generator
) -> np.ndarray:
    from scipy.signal import fftconvolve

    n = int(rt60_s * sr_hz)
    t = np.arange(n) / sr_hz
    ir = rng.standard_normal(n) * 10 ** (-3.0 * t / rt60_s)
    ir /= np.sqrt(np.sum(ir**2)) + 1e-12
    rev = fftconvolve(x, ir)[: x.size + n // 2]
    dry = np.pad(x, (0, rev.size - x.size))
    return ((1 - wet) * dry + wet * rev).astype(np.float32)


def with_noise(x: np.ndarray, *, level_db: float, rng: np.random.Generator) -> np.ndarray:
    peak = float(np.max(np.abs(x))) or 1.0
    return x + rng.standard_normal(x.size).astype(np.float32) * peak * 10 ** (level_db / 20)


def sustained(
    x: np.ndarray, sr_hz: int, *, stretch: float, gain_db_per_s: float, max_gain_db: float
) -> np.ndarray:
    """A longer ring: the tail (from 10 ms after the peak) slowed down `stretch` times with its
    pitch kept (librosa's phase vocoder) and lifted by a gain rising `gain_db_per_s` up to
    `max_gain_db`; the attack is untouched and nothing exceeds the original peak. Packs differ
    most in how long a hat or a cymbal rings (an open hat held open for 2 s, or choked after
    200 ms), and the corpus holds mostly short ones."""
    import librosa

    cut = int(np.argmax(np.abs(x))) + int(0.01 * sr_hz)
    head, tail = x[:cut], np.ascontiguousarray(x[cut:], dtype=np.float32)
    if tail.size < 512:
        return x
    slow = librosa.effects.time_stretch(tail, rate=1.0 / stretch, n_fft=512)
    t_s = np.arange(slow.size) / sr_hz
    gain = 10 ** (np.minimum(gain_db_per_s * t_s, max_gain_db) / 20)
    peak = float(np.max(np.abs(head))) or 1.0
    return np.clip(np.concatenate([head, slow * gain]), -peak, peak).astype(np.float32)


# Hats and cymbals ring for as long as the player lets them and the pack keeps: their variants
# ring longer with probability SUSTAIN_P. (A kick or a snare that rings longer is another drum
# more than another pack; sustaining every label measured worse, see README.)
SUSTAINED_LABELS = frozenset({"hihat_closed", "hihat_open", "crash", "ride"})
SUSTAIN_P = 0.3


def variant(
    x: np.ndarray, sr_hz: int, rng: np.random.Generator, *, sustain: bool = True
) -> np.ndarray:
    """One random realistic variant of `x`: with probability `SUSTAIN_P` (when `sustain`) a
    longer ring, otherwise one or two of retune, EQ, shorter tail, room and noise. `variants`
    decides `sustain` from the file's label."""
    if sustain and rng.random() < SUSTAIN_P:
        rate = float(rng.uniform(0.35, 0.8))
        rise_db_per_s = float(rng.uniform(5.0, 30.0))
        return sustained(
            x, sr_hz, stretch=1.0 / rate, gain_db_per_s=rise_db_per_s, max_gain_db=20.0
        )
    y = x
    ops = rng.choice(5, size=int(rng.integers(1, 3)), replace=False)
    for op in ops:
        if op == 0:
            y = pitch_shift(y, sr_hz, float(rng.uniform(-3.0, 3.0)))
        elif op == 1:
            if rng.random() < 0.5:
                y = filtered(y, sr_hz, kind="lowpass", cutoff_hz=float(rng.uniform(3000, 12000)))
            else:
                y = filtered(y, sr_hz, kind="highpass", cutoff_hz=float(rng.uniform(30, 250)))
        elif op == 2:
            y = truncated(y, sr_hz, keep_s=float(rng.uniform(0.3, 1.0)) * y.size / sr_hz)
        elif op == 3:
            y = with_room(
                y,
                sr_hz,
                rt60_s=float(rng.uniform(0.2, 0.9)),
                wet=float(rng.uniform(0.05, 0.3)),
                rng=rng,
            )
        else:
            y = with_noise(y, level_db=float(rng.uniform(-70, -45)), rng=rng)
    return y


def variants(
    x: np.ndarray, sr_hz: int, *, label: str, n: int, seed: int, sustain: bool = True
) -> list[np.ndarray]:
    """The `n` training variants of one file labelled `label`, from `seed` (the same file and
    seed give the same variants); unusable ones (non-finite or silent) are left out. Hats and
    cymbals (`SUSTAINED_LABELS`) may also ring longer, unless `sustain` is False."""
    rng = np.random.default_rng(seed)
    ring = sustain and label in SUSTAINED_LABELS
    out = []
    for _ in range(n):
        y = variant(x, sr_hz, rng, sustain=ring)
        if np.all(np.isfinite(y)) and np.max(np.abs(y)) > 0:
            out.append(y)
    return out
