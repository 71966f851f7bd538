"""audio.decode and pipeline.analyse on real files: every bad input is one AudioError naming the
file and the reason on one line; every good input gives features and no error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fixtures import synth
from samplesort import audio, pipeline
from samplesort.errors import AudioError
from samplesort.features import FEATURE_NAMES

SR = synth.SR_HZ


def _kick(sr: int = SR) -> np.ndarray:
    return synth.voice("kick", seed=3, sr=sr)


def _assert_bad(path: Path, match: str) -> None:
    """decode raises one AudioError (path + reason, one line); analyse reports the same."""
    with pytest.raises(AudioError, match=match) as info:
        audio.decode(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    result = pipeline.analyse(path)
    assert result.error is not None and not result.ok
    assert result.features is None and result.prediction is None
    assert str(path) in result.error
    assert "\n" not in result.error
    assert result.error == message


def _assert_good(path: Path, *, channels: int = 1, source_sr: int = SR) -> None:
    clip = audio.decode(path)
    assert clip.sr_hz == audio.ANALYSIS_SR_HZ
    assert clip.source_sr_hz == source_sr
    assert clip.channels == channels
    assert clip.samples.ndim == 1 and clip.samples.dtype == np.float32
    assert np.all(np.isfinite(clip.samples)) and np.max(np.abs(clip.samples)) > 0.01
    assert len(clip.samples) <= 2.1 * clip.sr_hz
    result = pipeline.analyse(path)
    assert result.error is None and result.ok
    assert result.features is not None
    assert result.features.values.shape == (len(FEATURE_NAMES),)
    assert np.all(np.isfinite(result.features.values))
    assert result.meta["channels"] == channels and result.meta["sr_hz"] == source_sr


# --- bad input --------------------------------------------------------------------------------


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    _assert_bad(path, r"empty file")


def test_missing_file(tmp_path: Path) -> None:
    _assert_bad(tmp_path / "gone.wav", r"cannot read")


def test_truncated_wav_header_only(tmp_path: Path, write_audio) -> None:
    full = write_audio("full.wav", _kick(), subtype="PCM_16").read_bytes()
    path = tmp_path / "truncated.wav"
    path.write_bytes(full[:44])  # the RIFF/fmt/data header, claiming 0.5 s; no data at all
    _assert_bad(path, r"no audio samples|truncated")


def test_truncated_wav_inside_header(tmp_path: Path, write_audio) -> None:
    full = write_audio("full.wav", _kick(), subtype="PCM_16").read_bytes()
    path = tmp_path / "truncated.wav"
    path.write_bytes(full[:30])
    _assert_bad(path, r"not readable audio")


def test_truncated_wav_cut_mid_data(tmp_path: Path, write_audio) -> None:
    full = write_audio("full.wav", _kick(), subtype="PCM_16").read_bytes()
    path = tmp_path / "truncated.wav"
    path.write_bytes(full[: len(full) // 3])
    _assert_bad(path, r"truncated")


@pytest.mark.parametrize("name", ["junk.wav", "not audio ü 鼓.wav", "fake.flac", "fake.mp3"])
def test_non_audio_bytes_with_audio_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"this is a text file, not a drum sample\n" * 20)
    _assert_bad(path, r"not readable audio")


def test_wav_magic_then_junk(tmp_path: Path) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    _assert_bad(path, r"not readable audio")


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_silence_only(write_audio, subtype: str) -> None:
    path = write_audio("silence.wav", np.zeros(SR // 2, dtype=np.float32), subtype=subtype)
    _assert_bad(path, r"silent")


@pytest.mark.parametrize(("value", "where"), [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_non_finite_samples(write_audio, value: float, where: str) -> None:
    x = _kick().copy()
    x[1000] = value
    path = write_audio(f"{where}.wav", x, subtype="FLOAT")
    _assert_bad(path, r"NaN")


def test_non_finite_samples_in_one_channel(write_audio) -> None:
    x = np.stack([_kick(), _kick()], axis=1)
    x[10, 1] = np.nan
    path = write_audio("nan_stereo.wav", x, subtype="FLOAT")
    _assert_bad(path, r"NaN")


def test_one_sample_file(write_audio) -> None:
    path = write_audio("one.wav", np.array([0.5], dtype=np.float32), subtype="FLOAT")
    _assert_bad(path, r"too short")


def test_bad_file_with_unicode_and_spaces_in_its_name(tmp_path: Path) -> None:
    path = tmp_path / "Pack Ü" / "  kick  дрож 01 .wav"
    path.parent.mkdir()
    path.write_bytes(b"")
    _assert_bad(path, r"empty file")


# --- good input -------------------------------------------------------------------------------


def test_ten_minute_file_decodes_only_the_head(write_audio) -> None:
    sr = 8000
    x = np.zeros(600 * sr, dtype=np.float32)
    head = _kick(sr)
    x[: head.size] = head
    path = write_audio("ten minutes.wav", x, sr=sr, subtype="PCM_16")
    clip = audio.decode(path)
    assert len(clip.samples) <= 2.1 * clip.sr_hz
    assert clip.duration_s == pytest.approx(600.0, abs=0.01)
    result = pipeline.analyse(path)
    assert result.ok and result.features is not None
    assert result.meta["duration_s"] == pytest.approx(600.0, abs=0.01)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_sample_formats(write_audio, subtype: str) -> None:
    _assert_good(write_audio(f"kick_{subtype}.wav", _kick(), subtype=subtype))


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_channel_counts(write_audio, channels: int) -> None:
    gains = np.linspace(1.0, 0.4, channels, dtype=np.float32)
    x = _kick()[:, None] * gains[None, :]
    _assert_good(write_audio(f"kick_{channels}ch.wav", x), channels=channels)


@pytest.mark.parametrize("sr", [8000, 44100, 96000, 192000])
def test_sample_rates(write_audio, sr: int) -> None:
    path = write_audio(f"snare_{sr}.wav", synth.voice("snare", seed=1, sr=sr), sr=sr)
    _assert_good(path, source_sr=sr)


@pytest.mark.parametrize(
    "name",
    [
        "Kick Hard 01.wav",
        "  leading and trailing  .wav",
        "Бас-барабан.wav",
        "キック.wav",
        "kick 🥁 (final) [v2] #1 & co.wav",
        "Pack Ä/Kicks & More/kick ü.wav",
    ],
)
def test_unicode_and_spaces_in_names(write_audio, name: str) -> None:
    path = write_audio(name, _kick())
    _assert_good(path)
    assert pipeline.walk([path.parent]).files == (path,)


@pytest.mark.parametrize(
    ("fmt", "suffix"),
    [
        ("WAV", ".wav"),
        ("AIFF", ".aiff"),
        ("AIFF", ".aif"),
        ("FLAC", ".flac"),
        ("OGG", ".ogg"),
        ("MP3", ".mp3"),
    ],
)
def test_container_formats(write_audio, fmt: str, suffix: str) -> None:
    name = f"snare{suffix}"
    try:
        path = write_audio(name, synth.voice("snare", seed=2), format=fmt)
    except Exception as exc:  # libsndfile built without this encoder
        pytest.skip(f"this libsndfile cannot write {fmt}: {exc}")
    _assert_good(path)
    assert pipeline.analyse(path).meta["format"] == fmt
