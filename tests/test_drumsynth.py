"""DrumSynth renderer: small synthetic .ds presets in tmp_path (no LMMS install needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from samplesort.drumsynth import render
from samplesort.errors import CorpusError

SR = 44100
OFF = {"On": "0"}


def write_preset(path: Path, sections: dict[str, dict[str, str]], *, eol: str = "\r\n") -> Path:
    """Write a DrumSynth v2 preset; sections not given are switched off."""
    body = {"General": {"Version": "DrumSynth v2.0", "Tuning": "0", "Stretch": "100", "Level": "0"}}
    for name in ("Tone", "Noise", "Overtones", "NoiseBand", "NoiseBand2", "Distortion"):
        body[name] = dict(OFF)
    for name, keys in sections.items():
        body.setdefault(name, {}).update(keys)
    lines = []
    for name, keys in body.items():
        lines.append(f"[{name}]")
        lines += [f"{k}={v}" for k, v in keys.items()]
        lines.append("")
    path.write_bytes(eol.join(lines).encode("latin-1"))
    return path


def tone(**extra: str) -> dict[str, str]:
    keys = {"On": "1", "Level": "128", "F1": "440", "F2": "440", "Droop": "0", "Phase": "0"}
    keys["Envelope"] = "0,100 20000,0"
    return keys | extra


def band(**keys: str) -> dict[str, str]:
    return {"On": "1", "Level": "180"} | keys


def peak_hz(x: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=8 * len(x)))
    return float(np.fft.rfftfreq(8 * len(x), 1 / sr)[np.argmax(spectrum)])


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_tone_only_preset_is_a_decaying_tone_at_its_frequency(tmp_path: Path) -> None:
    x = render(write_preset(tmp_path / "tone.ds", {"Tone": tone()}))
    assert x.dtype == np.float32 and x.ndim == 1
    # the engine's length: 2400 + 1200 * floor(longest envelope / 1200) samples
    assert len(x) == 2400 + 1200 * (20000 // 1200)
    assert abs(peak_hz(x, SR) - 440.0) < 2.0
    assert rms(x[:2000]) > 4 * rms(x[15000:17000]) > 0
    assert np.all(x[20100:] == 0)  # the envelope has ended
    assert abs(np.abs(x).max() - 128**2 / 32767) < 0.01  # level 128: peak 128^2 of 32767


def test_sample_rate_keeps_pitch_and_duration(tmp_path: Path) -> None:
    path = write_preset(tmp_path / "tone.ds", {"Tone": tone()})
    x = render(path, sr_hz=22050)
    assert len(x) == 2400 + 1200 * (10000 // 1200)
    assert abs(peak_hz(x, 22050) - 440.0) < 2.0


def test_stretch_and_tuning(tmp_path: Path) -> None:
    general = {"Stretch": "200", "Tuning": "12"}
    x = render(write_preset(tmp_path / "t.ds", {"General": general, "Tone": tone()}))
    assert len(x) == 2400 + 1200 * (40000 // 1200)
    assert abs(peak_hz(x, SR) - 880.0) < 2.0


def crossings_hz(x: np.ndarray, sr: int) -> float:
    return float(np.count_nonzero(np.diff(np.signbit(x))) * sr / (2 * len(x)))


def test_droop_falls_from_f1_towards_f2(tmp_path: Path) -> None:
    x = render(write_preset(tmp_path / "k.ds", {"Tone": tone(F1="400", F2="50", Droop="20")}))
    early, late = crossings_hz(x[:2000], SR), crossings_hz(x[12000:18000], SR)
    assert 250 < early < 400 and 45 < late < 100


def test_noise_only_preset_is_broadband_noise(tmp_path: Path) -> None:
    noise = {"On": "1", "Level": "128", "Slope": "0", "Envelope": "0,100 8000,0"}
    path = write_preset(tmp_path / "noise.ds", {"Noise": noise})
    x = render(path)
    power = np.abs(np.fft.rfft(x[:8000])) ** 2
    freqs = np.fft.rfftfreq(8000, 1 / SR)
    share_low = power[freqs < SR / 4].sum() / power.sum()
    assert 0.35 < share_low < 0.65  # white: half the power below sr/4
    assert power.max() < 0.01 * power.sum()  # no tone stands out
    zero_crossings = np.mean(np.abs(np.diff(np.sign(x[:8000]))) > 0)
    assert zero_crossings > 0.3
    assert np.array_equal(x, render(path))  # seeded from the file: reproducible
    assert not np.array_equal(x, render(path, seed=1))


def test_positive_slope_brightens_the_noise(tmp_path: Path) -> None:
    def high_share(slope: str) -> float:
        noise = {"On": "1", "Level": "128", "Slope": slope, "Envelope": "0,100 8000,0"}
        x = render(write_preset(tmp_path / f"n{slope}.ds", {"Noise": noise}))
        power = np.abs(np.fft.rfft(x[:8000])) ** 2
        return float(power[np.fft.rfftfreq(8000, 1 / SR) > 8000].sum() / power.sum())

    assert high_share("-80") < high_share("0") < high_share("80")


@pytest.mark.parametrize(
    "content",
    [
        "this is not a preset\n",
        "[General]\r\nVersion=DrumSynth v3.0\r\n[Tone]\r\nOn=1\r\n",
        "[Tone]\r\nOn=1\r\n",
        "",
    ],
)
def test_malformed_preset_raises_with_path(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad preset.ds"
    path.write_text(content)
    with pytest.raises(CorpusError) as info:
        render(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message


def test_missing_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "missing.ds"
    with pytest.raises(CorpusError, match="missing.ds"):
        render(path)


def test_silent_preset_raises(tmp_path: Path) -> None:
    path = write_preset(tmp_path / "silent.ds", {})
    with pytest.raises(CorpusError, match="silence"):
        render(path)


def test_tolerant_parsing_defaults_case_and_whitespace(tmp_path: Path) -> None:
    # lower-case section/key names, LF line endings, a trailing space after the envelope,
    # F1/F2 missing (defaults 200 -> 120 Hz linear sweep), unknown keys ignored
    text = (
        "[general]\nversion=DrumSynth v1.0\nSomething=else\n\n"
        "[tone]\non=1\nlevel=128\nEnvelope=0,100 10000,0 \n"
    )
    path = tmp_path / "loose.ds"
    path.write_text(text)
    x = render(path)
    assert len(x) == 2400 + 1200 * (10000 // 1200)
    assert 115.0 < peak_hz(x, SR) < 205.0


def test_everything_on_is_finite_and_bounded(tmp_path: Path) -> None:
    sections = {
        "General": {
            "Level": "6",
            "Filter": "1",
            "HighPass": "1",
            "Resonance": "80",
            "FilterEnv": "0,20 3000,90 9000,10",
        },
        "Tone": tone(Level="250", F1="300", F2="60", Droop="40"),
        "Noise": {"On": "1", "Level": "200", "Slope": "-60", "Envelope": "0,100 3000,0"},
        "Overtones": {
            "On": "1",
            "Level": "200",
            "F1": "330",
            "F2": "540",
            "Method": "3",
            "Param": "60",
            "Track1": "1",
            "Envelope1": "0,100 6000,0",
            "Envelope2": "0,100 9000,0",
        },
        "NoiseBand": band(F="3000", dF="40", Envelope="0,100 5000,0"),
        "NoiseBand2": band(F="700", dF="90", Envelope="0,100 7000,0"),
        "Distortion": {"On": "1", "Clipping": "12", "Bits": "3", "Rate": "4"},
    }
    for method in ("0", "1", "2", "3"):
        sections["Overtones"]["Method"] = method
        x = render(write_preset(tmp_path / f"all{method}.ds", sections))
        assert x.dtype == np.float32
        assert np.isfinite(x).all()
        assert np.abs(x).max() <= 1.0
        assert rms(x) > 0.01


def test_noise_band_centres_on_its_frequency(tmp_path: Path) -> None:
    sections = {"NoiseBand": band(F="3000", dF="20", Envelope="0,100 8000,0")}
    x = render(write_preset(tmp_path / "band.ds", sections))
    power = np.abs(np.fft.rfft(x[:8000])) ** 2
    freqs = np.fft.rfftfreq(8000, 1 / SR)
    assert power[(freqs > 2000) & (freqs < 4000)].sum() > 0.8 * power.sum()


def test_overtones_add_two_waves(tmp_path: Path) -> None:
    overtones = {
        "On": "1",
        "Level": "128",
        "F1": "500",
        "F2": "1700",
        "Method": "0",
        "Param": "50",
        "Envelope1": "0,100 8000,100",
        "Envelope2": "0,100 8000,100",
    }
    x = render(write_preset(tmp_path / "ot.ds", {"Overtones": overtones}))
    power = np.abs(np.fft.rfft(x[:8000] * np.hanning(8000))) ** 2
    freqs = np.fft.rfftfreq(8000, 1 / SR)
    top_two = sorted(freqs[np.argsort(power)[-2:]])
    assert abs(top_two[0] - 500) < 10 and abs(top_two[1] - 1700) < 10
