"""Onset segmentation: click trains and synthetic drum sequences land within 10 ms; silence
gives no onsets; slices end at the next onset or the maximum window."""

from __future__ import annotations

import numpy as np
import soxr

from fixtures import synth
from samplesort import segments

SR = 32000


def _voice(label: str, seed: int = 0) -> np.ndarray:
    """A synthetic one-shot at SR with a 5 ms fade-out (no click where it ends)."""
    x = soxr.resample(synth.voice(label, seed=seed), synth.SR_HZ, SR).astype(np.float32)
    x[-160:] *= np.linspace(1.0, 0.0, 160, dtype=np.float32)
    return x


def _place(times_s: list[float], voices: list[np.ndarray], dur_s: float) -> np.ndarray:
    x = np.zeros(int(dur_s * SR), dtype=np.float32)
    for t, v in zip(times_s, voices, strict=True):
        i = int(round(t * SR))
        seg = v[: x.size - i]
        x[i : i + seg.size] += seg
    return x


def test_click_train_onsets_are_the_click_times() -> None:
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.uniform(0.06, 0.3, 20)) + 0.1
    click = np.zeros(64, dtype=np.float32)
    click[0] = 1.0
    click[1] = -0.5
    x = _place(list(times), [click * rng.uniform(0.2, 1.0) for _ in times], times[-1] + 0.5)
    found = segments.detect(x, sr_hz=SR).times_s
    assert found.size == times.size
    assert np.max(np.abs(found - times)) < 0.010


def test_drum_sequence_onsets_within_10_ms() -> None:
    rng = np.random.default_rng(1)
    labels = ["kick", "hihat_closed", "snare", "hihat_closed", "tom", "clap", "hihat_open", "rim"]
    voices = [_voice(lab, seed=i) * rng.uniform(0.3, 1.0) for i, lab in enumerate(labels * 2)]
    times = list(0.2 + 0.15 * np.arange(len(voices)))  # 16ths at 100 BPM
    for i, lab in enumerate(labels * 2):  # the next hat hit closes an open hat
        if lab == "hihat_open":
            voices[i] = voices[i][: int(0.3 * SR)] * np.linspace(1, 0, int(0.3 * SR)) ** 4
    x = _place(times, voices, times[-1] + 1.0)
    found = segments.detect(x, sr_hz=SR).times_s
    assert found.size == len(times)
    assert np.max(np.abs(found - np.array(times))) < 0.010


def test_silence_and_tiny_input_give_no_onsets() -> None:
    assert segments.detect(np.zeros(SR * 2, dtype=np.float32), sr_hz=SR).times_s.size == 0
    quiet = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 1e-6
    assert segments.detect(quiet, sr_hz=SR).times_s.size == 0
    assert segments.detect(np.ones(10, dtype=np.float32), sr_hz=SR).times_s.size == 0


def test_segments_end_at_next_onset_or_max_window() -> None:
    kick = _voice("kick")
    x = _place([0.1, 0.3, 1.5], [kick, kick, kick], 2.5)
    onsets = segments.detect(x, sr_hz=SR)
    segs = segments.segments(onsets, sr_hz=SR, n_samples=x.size)
    assert len(segs) == 3
    assert segs[0].end == segs[1].start  # cut at the next hit
    assert segs[1].end - segs[1].start == int(segments.MAX_SEGMENT_S * SR)  # capped
    assert all(abs(s.start / SR + segments.PRE_ROLL_S - s.onset_s) < 1e-3 for s in segs)


def test_a_hit_at_the_first_sample_is_found() -> None:
    found = segments.detect(_voice("snare"), sr_hz=SR)
    assert found.times_s.size == 1 and found.times_s[0] < 0.005
    assert found.rise_db.shape == (1, len(segments.BANDS))
    assert found.rise_db[0, segments.BANDS.index("high")] > 20  # from silence


def test_hat_pass_finds_a_soft_hat_the_full_band_picker_misses() -> None:
    # a ringing tom, then a closed hat 50 ms later at -34 dB: the tom's onset-strength peak
    # lifts the full-band moving mean over the hat; in the bands above 3 kHz the hat stands out
    x = _place([0.2, 0.25], [_voice("tom"), _voice("hihat_closed", seed=3) * 0.02], 1.0)
    onsets = segments.detect(x, sr_hz=SR)
    assert np.all(np.abs(onsets.times_s - 0.25) > 0.01)  # the main picker misses it
    assert onsets.hat_times_s.size == 1 and abs(onsets.hat_times_s[0] - 0.25) < 0.010
    assert onsets.hat_rise_db.shape == (1, len(segments.BANDS))
    hat = segments.hat_segments(onsets, sr_hz=SR, n_samples=x.size)
    main = segments.segments(onsets, sr_hz=SR, n_samples=x.size)
    assert [s.source for s in hat] == ["hat"] and {s.source for s in main} == {"main"}
    # the main slice is not re-cut by the hat; the hat's slice runs to the window's end
    assert main[0].end == main[0].start + int(segments.MAX_SEGMENT_S * SR)
    assert hat[0].end == hat[0].start + int(segments.MAX_SEGMENT_S * SR)


def test_hat_pass_off_and_hats_near_main_onsets_add_nothing(monkeypatch) -> None:  # noqa: ANN001
    x = _place([0.2, 0.25], [_voice("tom"), _voice("hihat_closed", seed=3) * 0.02], 1.0)
    monkeypatch.setattr(segments, "HAT_PASS", False)
    assert segments.detect(x, sr_hz=SR).hat_times_s.size == 0
    monkeypatch.setattr(segments, "HAT_PASS", True)
    loud = _place([0.2, 0.5], [_voice("kick"), _voice("hihat_closed")], 1.0)
    assert segments.detect(loud, sr_hz=SR).hat_times_s.size == 0  # both found by the main pass


def _burst_then_kick(gap_s: float, kick_gain: float) -> np.ndarray:
    """A loud noise burst (above 400 Hz, 120 ms decay) at 0.2 s, then a 55 Hz kick."""
    from scipy.signal import butter, sosfilt

    t = np.arange(int(0.4 * SR)) / SR
    noise = np.random.default_rng(0).standard_normal(t.size) * np.exp(-t / 0.12)
    noise = sosfilt(butter(2, 400, "highpass", fs=SR, output="sos"), noise).astype(np.float32)
    kick = (kick_gain * np.sin(2 * np.pi * 55 * t) * np.exp(-t / 0.15)).astype(np.float32)
    return _place([0.2, 0.2 + gap_s], [noise, kick], 1.0)


def test_kick_pass_finds_a_kick_the_full_band_picker_misses() -> None:
    # the burst's onset-strength peak lifts the full-band moving mean over the kick 50 ms
    # later; in the bands under 150 Hz the kick stands out
    x = _burst_then_kick(0.05, 0.2)
    onsets = segments.detect(x, sr_hz=SR)
    assert np.all(np.abs(onsets.times_s - 0.25) > 0.01)  # the main picker misses it
    assert onsets.kick_times_s.size == 1 and abs(onsets.kick_times_s[0] - 0.25) < 0.010
    assert onsets.kick_rise_db.shape == (1, len(segments.BANDS))
    assert onsets.kick_rise_db[0, segments.BANDS.index("low")] > 20  # it added low end
    kick = segments.kick_segments(onsets, sr_hz=SR, n_samples=x.size)
    main = segments.segments(onsets, sr_hz=SR, n_samples=x.size)
    assert [s.source for s in kick] == ["kick"]
    # no other slice is re-cut by a kick-pass onset; the kick's runs to the window's end
    assert main[0].end == main[0].start + int(segments.MAX_SEGMENT_S * SR)
    assert kick[0].end == kick[0].start + int(segments.MAX_SEGMENT_S * SR)


def test_kick_pass_off_and_kicks_near_other_onsets_add_nothing(monkeypatch) -> None:  # noqa: ANN001
    x = _burst_then_kick(0.05, 0.2)
    monkeypatch.setattr(segments, "KICK_PASS", False)
    assert segments.detect(x, sr_hz=SR).kick_times_s.size == 0
    monkeypatch.setattr(segments, "KICK_PASS", True)
    loud = _place([0.2, 0.6], [_voice("kick"), _voice("snare")], 1.0)
    assert segments.detect(loud, sr_hz=SR).kick_times_s.size == 0  # the main pass found both
