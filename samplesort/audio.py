"""The only codec boundary: decode a file, validate it, mix to mono, resample -> Clip.

Only the first `max_s` seconds are decoded, so a ten-minute file costs what a one-shot costs.
Every failure is an `AudioError` whose message names the file and the reason in one line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .errors import AudioError, reason
from .records import Clip

ANALYSIS_SR_HZ = 32000
MAX_ANALYSIS_S = 2.0
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".aif", ".aiff", ".aifc", ".flac", ".ogg", ".oga", ".mp3"}
)
# Anything quieter than this (peak, dBFS) is treated as digital silence.
SILENCE_PEAK_DBFS = -90.0
# libsndfile reports a WAV whose data chunk is shorter than its header says in `extra_info`.
_SHORT_DATA = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.M)


def is_audio_path(path: Path) -> bool:
    """True for files with an audio extension that are not OS junk (AppleDouble `._x`)."""
    return path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith("._")


def decode(path: Path, *, max_s: float = MAX_ANALYSIS_S, sr_hz: int = ANALYSIS_SR_HZ) -> Clip:
    """Decode the first `max_s` seconds of `path` to a mono float32 Clip at `sr_hz`."""
    import soundfile as sf

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    try:
        with sf.SoundFile(str(path)) as f:
            source_sr = int(f.samplerate)
            channels = int(f.channels)
            total_frames = int(f.frames)
            fmt = str(f.format)
            short = _SHORT_DATA.search(f.extra_info)
            if short and int(short.group(2)) < int(short.group(1)) != 0xFFFFFFFF:
                raise AudioError(
                    f"{path}: truncated (header declares {short.group(1)} data bytes, "
                    f"file holds {short.group(2)})"
                )
            n = min(total_frames, int(round(max_s * source_sr))) if total_frames > 0 else -1
            data = f.read(frames=n, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, ValueError...
        raise AudioError(f"{path}: not readable audio: {reason(exc)}") from exc
    if data.size == 0:
        raise AudioError(f"{path}: no audio samples")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{path}: contains NaN or infinite samples")
    samples = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    duration_s = (total_frames if total_frames > 0 else len(data)) / source_sr
    return clip_from_array(
        samples,
        source_sr,
        sr_hz=sr_hz,
        channels=channels,
        duration_s=duration_s,
        fmt=fmt,
        name=str(path),
    )


def clip_from_array(
    samples: np.ndarray,
    source_sr_hz: int,
    *,
    sr_hz: int = ANALYSIS_SR_HZ,
    channels: int = 1,
    duration_s: float | None = None,
    fmt: str = "array",
    name: str = "<array>",
) -> Clip:
    """Validate and resample an in-memory mono signal (used by decode, augmentation, segments)."""
    import soxr

    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise AudioError(f"{name}: expected mono samples, got shape {x.shape}")
    if x.size == 0:
        raise AudioError(f"{name}: no audio samples")
    if not np.all(np.isfinite(x)):
        raise AudioError(f"{name}: contains NaN or infinite samples")
    peak = float(np.max(np.abs(x)))
    if peak <= 10 ** (SILENCE_PEAK_DBFS / 20):
        raise AudioError(f"{name}: silent (peak below {SILENCE_PEAK_DBFS:.0f} dBFS)")
    min_samples = max(2, int(0.002 * source_sr_hz))
    if x.size < min_samples:
        raise AudioError(
            f"{name}: too short to analyse ({x.size} sample{'s' if x.size != 1 else ''}, "
            f"need at least 2 ms)"
        )
    if source_sr_hz != sr_hz:
        x = soxr.resample(x, source_sr_hz, sr_hz, quality="MQ").astype(np.float32, copy=False)
    return Clip(
        samples=x,
        sr_hz=sr_hz,
        source_sr_hz=int(source_sr_hz),
        channels=channels,
        duration_s=float(duration_s if duration_s is not None else x.size / sr_hz),
        format=fmt,
    )


def stream(
    path: Path, *, block_s: float = 30.0, sr_hz: int = ANALYSIS_SR_HZ
) -> Iterator[np.ndarray]:
    """A whole file of any length as consecutive mono float32 blocks at `sr_hz` (about
    `block_s` seconds each; the last may be shorter or empty), so memory stays bounded.
    Raises AudioError when the file cannot be opened or holds NaN / infinite samples."""
    import soundfile as sf
    import soxr

    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise AudioError(f"{path}: empty file (0 bytes)")
        f = sf.SoundFile(str(path))
    except AudioError:
        raise
    except OSError as exc:
        raise AudioError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, ValueError...
        raise AudioError(f"{path}: not readable audio: {reason(exc)}") from exc
    with f:
        source_sr = int(f.samplerate)
        resampler = (
            soxr.ResampleStream(source_sr, sr_hz, 1, dtype="float32", quality="MQ")
            if source_sr != sr_hz
            else None
        )
        frames = max(1, int(block_s * source_sr))
        total = 0
        while True:
            try:
                data = f.read(frames=frames, dtype="float32", always_2d=True)
            except Exception as exc:
                raise AudioError(f"{path}: not readable audio: {reason(exc)}") from exc
            last = data.shape[0] < frames
            total += data.shape[0]
            if not np.all(np.isfinite(data)):
                raise AudioError(f"{path}: contains NaN or infinite samples")
            mono = np.ascontiguousarray(data.mean(axis=1), dtype=np.float32)
            out = resampler.resample_chunk(mono, last=last) if resampler is not None else mono
            yield out.astype(np.float32, copy=False)
            if last:
                break
        if total == 0:
            raise AudioError(f"{path}: no audio samples")
