"""The groove generator and renderer: tempo range, styles, simultaneous hits, fills, exact
ground truth (each true time is where that hit's sound starts), truth CSV round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from samplesort import grooves, trackeval
from samplesort.errors import UsageError
from tests.tracks_helpers import synth_kit


def test_generate_is_seeded_and_musical() -> None:
    a = grooves.generate(np.random.default_rng(3))
    b = grooves.generate(np.random.default_rng(3))
    assert a == b
    rng = np.random.default_rng(0)
    made = [grooves.generate(rng, bars=4) for _ in range(40)]
    assert {g.style for g in made} == set(grooves.STYLES)
    assert all(70 <= g.bpm <= 180 for g in made)
    for g in made:
        times = [h.time_s for h in g.hits]
        assert times == sorted(times)
        assert all(h.label in grooves.KIT_LABELS and 1 <= h.velocity <= 127 for h in g.hits)
        assert max(times) <= g.duration_s + 0.05
    labels = {h.label for g in made for h in g.hits}
    assert {"kick", "snare", "hihat_closed", "tom", "crash"} <= labels  # fills and crashes
    velocities = [h.velocity for g in made for h in g.hits]
    assert np.std(velocities) > 10
    together = sum(  # a kick and a hat on the same step, within 10 ms
        1
        for g in made
        for k in g.hits
        if k.label == "kick"
        and any(h.label == "hihat_closed" and abs(h.time_s - k.time_s) < 0.01 for h in g.hits)
    )
    assert together > 20


def test_generate_uses_only_the_kits_labels() -> None:
    g = grooves.generate(np.random.default_rng(1), labels=("kick", "snare", "hihat_closed"))
    assert {h.label for h in g.hits} <= {"kick", "snare", "hihat_closed"}


def test_render_truth_is_where_each_sound_starts() -> None:
    kit = synth_kit(0)
    rng = np.random.default_rng(2)
    groove = grooves.generate(rng, style="rock", bpm=90, bars=2)
    r = grooves.render(groove, kit, rng, color=False)
    assert len(r.truth) == len(groove.hits)
    sr = r.sr_hz
    for h in r.truth:
        i = int(round(h.time_s * sr))
        before = np.max(np.abs(r.audio[max(0, i - int(0.004 * sr)) : i - int(0.002 * sr)]))
        after = np.max(np.abs(r.audio[i : i + int(0.004 * sr)]))
        assert after > before  # the hit starts here (a ringing tail may be underneath)


def test_truth_csv_round_trip(tmp_path: Path) -> None:
    hits = [grooves.Hit(0.25, "kick", 100), grooves.Hit(0.25, "hihat_closed", 80)]
    path = grooves.write_truth(tmp_path / "g.csv", hits)
    assert trackeval.read_truth(path) == [(0.25, "kick"), (0.25, "hihat_closed")]


def test_write_set_writes_audio_and_truth(tmp_path: Path) -> None:
    wavs = grooves.write_set([synth_kit(0, sr_hz=44100)], tmp_path, n=2, seed=0)
    assert len(wavs) == 2
    for w in wavs:
        assert w.exists() and w.with_suffix(".csv").exists()
        assert len(trackeval.read_truth(w.with_suffix(".csv"))) > 5


def test_write_set_never_writes_over_an_existing_groove(tmp_path: Path) -> None:
    kit = synth_kit(0, sr_hz=44100)
    first = grooves.write_set([kit], tmp_path, n=1, seed=0)[0]
    before = first.read_bytes(), first.with_suffix(".csv").read_bytes()
    with pytest.raises(UsageError, match=r"groove000_.*exists"):
        grooves.write_set([kit], tmp_path, n=1, seed=1)
    assert (first.read_bytes(), first.with_suffix(".csv").read_bytes()) == before


def test_one_hit_refuses_a_slice_of_a_played_beat() -> None:
    kick = synth_kit(0).samples["kick"][0]
    beat = np.concatenate([kick[:6000]] * 3)  # three kicks in one "one-shot"
    assert grooves.one_hit(kick, 32000)
    assert not grooves.one_hit(beat, 32000)


def test_instruments_are_told_by_their_file_names() -> None:
    assert grooves.instrument_of("Snare__Snare-3") == "Snare"  # a Hydrogen layer
    assert grooves.instrument_of("38_v70") == "38"  # a soundfont key at one velocity
    assert grooves.instrument_of("snare01") == "snare01"  # anything else: its own instrument
    names = ["Snare__Snare-0", "38_v110", "Snare__Snare-1", "38_v70", "snare01"]
    peaks = [0.9, 1.0, 0.2, 0.4, 1.0]
    # grouped by instrument, each softest layer first
    assert grooves.layers(names, peaks) == ((2, 0), (3, 1), (4,))


def test_layer_for_splits_the_velocity_range_evenly() -> None:
    assert [grooves.layer_for(v, 1) for v in (1, 64, 127)] == [0, 0, 0]
    assert [grooves.layer_for(v, 2) for v in (1, 63, 64, 127)] == [0, 0, 1, 1]
    assert [grooves.layer_for(v, 5) for v in (1, 25, 26, 50, 51, 127)] == [0, 0, 1, 1, 2, 4]
    assert grooves.layer_for(0, 3) == 0 and grooves.layer_for(200, 3) == 2  # clamped


def _tone(freq_hz: float, sr_hz: int) -> np.ndarray:
    t = np.arange(int(0.2 * sr_hz)) / sr_hz
    return (np.sin(2 * np.pi * freq_hz * t) * np.exp(-t / 0.05)).astype(np.float32)


def test_a_hits_velocity_picks_its_instruments_layer() -> None:
    sr = 32000
    soft, loud = _tone(200.0, sr), _tone(3000.0, sr)  # two layers of one snare, told by pitch
    kit = grooves.Kit("layered", sr, {"snare": (loud, soft)}, instruments={"snare": ((1, 0),)})
    hits = tuple(grooves.Hit(0.5 * i, "snare", v) for i, v in enumerate((20, 120, 40, 127)))
    g = grooves.Groove("rock", 120.0, 1, hits)
    r = grooves.render(g, kit, np.random.default_rng(0), color=False)
    for h, want in zip(r.truth, (200.0, 3000.0, 200.0, 3000.0), strict=True):
        i = int(round(h.time_s * sr))
        piece = r.audio[i : i + int(0.05 * sr)]
        crossings_per_s = np.sum(np.abs(np.diff(np.sign(piece))) > 0) / 0.05
        assert abs(crossings_per_s / 2 - want) < 0.1 * want
    # a kit that borrows the label keeps the donor's layers
    full = grooves.complete(grooves.Kit("bare", sr, {}), [kit], np.random.default_rng(0))
    assert full.instruments_of("snare") == ((1, 0),)
    # without layers, every sample is an instrument of its own
    assert grooves.Kit("plain", sr, {"snare": (loud, soft)}).instruments_of("snare") == ((0,), (1,))


def test_load_kits_finds_each_instruments_layers_on_disk(tmp_path: Path) -> None:
    import soundfile as sf

    sr = 32000
    folder = tmp_path / "snare" / "kitA"
    folder.mkdir(parents=True)
    # two layers of one Hydrogen instrument, the louder one first by name, and a lone snare
    sf.write(str(folder / "Snare__Snare-0.wav"), 0.9 * _tone(3000.0, sr), sr)
    sf.write(str(folder / "Snare__Snare-1.wav"), 0.1 * _tone(200.0, sr), sr)
    sf.write(str(folder / "rimless.wav"), 0.5 * _tone(800.0, sr), sr)
    (kit,) = grooves.load_kits(tmp_path, ["kitA"], sr_hz=sr)
    # files load in name order (Snare-0 loud, Snare-1 soft); layers go softest first
    assert kit.instruments_of("snare") == ((1, 0), (2,))
    assert all(abs(np.max(np.abs(x)) - 1.0) < 1e-3 for x in kit.samples["snare"])  # peak 1
