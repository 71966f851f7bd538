"""Full-track transcription: simultaneous kick + hat give both labels, block-wise decoding
matches whole-file decoding, MIDI round-trips through mido, slices are written and readable,
silence gives no hits, and the bundled track model loads."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from fixtures import synth
from samplesort import grooves, tracktrain, transcribe
from samplesort import segments as seg
from samplesort.audio import ANALYSIS_SR_HZ
from samplesort.errors import AudioError, ModelError
from samplesort.features import FEATURE_NAMES
from tests.tracks_helpers import synth_kit, synth_track_model


def _kick_hat_file(tmp_path: Path) -> tuple[Path, list[float]]:
    kit = synth_kit(5, sr_hz=44100)
    sr = kit.sr_hz
    times = [0.2, 0.7, 1.2, 1.7]
    x = np.zeros(int(2.4 * sr), dtype=np.float32)
    for t in times:
        i = int(t * sr)
        for lab in ("kick", "hihat_closed"):
            v = kit.samples[lab][0]
            x[i : i + v.size] += 0.5 * v[: x.size - i]
    return synth.write(tmp_path / "kickhat.wav", x, sr=sr), times


def test_simultaneous_kick_and_hat_get_both_labels(tmp_path: Path) -> None:
    path, times = _kick_hat_file(tmp_path)
    t = transcribe.transcribe_file(path, synth_track_model())
    assert [round(h.time_s, 2) for h in t.hits] == pytest.approx(times, abs=0.01)
    assert len(t.hits) <= t.onsets
    for h in t.hits:
        assert {"kick", "hihat_closed"} <= set(h.labels)


def _groove_file(tmp_path: Path, seconds_bars: int = 4) -> tuple[Path, grooves.Rendered]:
    rng = np.random.default_rng(7)
    kit = synth_kit(3)
    r = grooves.render(grooves.generate(rng, bpm=120, bars=seconds_bars), kit, rng, color=False)
    stereo = np.stack([r.audio, 0.5 * r.audio], axis=1)
    return synth.write(tmp_path / "groove.flac", stereo, sr=r.sr_hz), r


def test_blocks_give_the_same_hits_as_one_pass(tmp_path: Path) -> None:
    path, r = _groove_file(tmp_path)
    model = synth_track_model()
    whole = transcribe.transcribe_file(path, model, block_s=600)
    blocks = transcribe.transcribe_file(path, model, block_s=2.0)
    assert len(whole.hits) > 20
    assert [h.time_s for h in blocks.hits] == pytest.approx(
        [h.time_s for h in whole.hits], abs=2e-3
    )
    assert [h.labels for h in blocks.hits] == [h.labels for h in whole.hits]
    assert whole.duration_s == pytest.approx(r.audio.size / r.sr_hz, abs=0.01)


def test_blocks_describe_each_slice_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks overlap (context before, held onsets after) and a hit's neighbours are
    described before it is decided, but no slice is described twice: 2 s blocks describe
    as many slices as one pass (44 here; without the memo, 102)."""
    path, _ = _groove_file(tmp_path)
    model = synth_track_model()
    described = transcribe.describe_segments
    counts: list[int] = []

    def counting(x: np.ndarray, sr_hz: int, segs: list[seg.Segment]) -> np.ndarray:
        counts.append(len(segs))
        return described(x, sr_hz, segs)

    monkeypatch.setattr(transcribe, "describe_segments", counting)
    transcribe.transcribe_file(path, model, block_s=600)
    whole, counts[:] = sum(counts), []
    transcribe.transcribe_file(path, model, block_s=2.0)
    assert whole > 20
    assert sum(counts) <= whole + 2  # a slice re-cut at a block's end is described anew


def test_midi_round_trips_through_mido(tmp_path: Path) -> None:
    path, times = _kick_hat_file(tmp_path)
    t = transcribe.transcribe_file(path, synth_track_model(), estimate_bpm=True)
    out = transcribe.write_midi(t, tmp_path / "out.mid")
    mid = mido.MidiFile(str(out))
    tempo = next(m.tempo for m in mid.tracks[0] if m.type == "set_tempo")
    assert mido.tempo2bpm(tempo) == pytest.approx(t.bpm or 120.0, abs=0.01)
    now, notes = 0.0, []
    for msg in mid.tracks[0]:
        now += mido.tick2second(msg.time, mid.ticks_per_beat, tempo)
        if msg.type == "note_on" and msg.velocity > 0:
            assert msg.channel == 9
            notes.append((round(now, 3), msg.note))
    expected = sorted(
        (round(h.time_s, 3), transcribe.GM_NOTES[lab]) for h in t.hits for lab in h.labels
    )
    got = sorted(notes)
    assert [n for _, n in got] == [n for _, n in expected]
    assert [t for t, _ in got] == pytest.approx([t for t, _ in expected], abs=2e-3)
    assert {36, 42} <= {n for _, n in notes}


def test_slices_are_written_and_readable(tmp_path: Path) -> None:
    path, times = _kick_hat_file(tmp_path)
    written: list[Path] = []

    def sink(i: int, hit: transcribe.TrackHit, x: np.ndarray, sr: int) -> None:
        written.append(synth.write(tmp_path / "slices" / transcribe.slice_name(i, hit), x, sr=sr))

    t = transcribe.transcribe_file(path, synth_track_model(), slice_sink=sink)
    assert len(written) == len(t.hits) == len(times)
    for p in written:
        data, sr = sf.read(str(p))
        assert sr == transcribe.ANALYSIS_SR_HZ and 0.1 < data.size / sr <= 0.51
        assert "kick" in p.stem


def test_silence_gives_no_hits_and_empty_file_fails(tmp_path: Path) -> None:
    quiet = synth.write(tmp_path / "silence.wav", np.zeros(44100 * 3), sr=44100)
    t = transcribe.transcribe_file(quiet, synth_track_model())
    assert t.hits == () and t.duration_s == pytest.approx(3.0, abs=0.01)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        transcribe.transcribe_file(empty, synth_track_model())


def test_tom_notes_follow_pitch() -> None:
    def tom(hz: float) -> transcribe.TrackHit:
        return transcribe.TrackHit(0.0, ("tom",), {}, 100, 1.0, hz)

    hits = [tom(80.0), tom(120.0), tom(200.0), tom(82.0)]
    assert transcribe.tom_notes(hits) == {0: 45, 1: 47, 2: 50, 3: 45}
    assert set(transcribe.tom_notes([tom(100.0), tom(105.0)]).values()) == {47}


def test_bundled_track_model_loads_and_one_shot_model_is_refused() -> None:
    bundle = transcribe.load_track_model()
    assert bundle.meta["kind"] == "tracks" and "kick" in bundle.labels
    assert bundle.feature_names == FEATURE_NAMES + transcribe.TRACK_INPUTS
    from samplesort.model import default_model_path, load

    with pytest.raises(ModelError, match="track models go with `samplesort transcribe"):
        transcribe.load_track_model(default_model_path())
    # and the one-shot commands refuse the track model, whose rows carry the onset's rises
    with pytest.raises(ModelError, match=r"beyond the one-shot set are \(rise_low_db"):
        load(transcribe.default_track_model_path())


def test_a_track_model_from_before_the_loop_context_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`transcribe --model old.npz` with a model whose inputs stop at the band rises (as built
    before the loop context) gets a one-line error naming both input sets, never a silent
    wrong answer."""
    rng = np.random.default_rng(0)
    n, n_old = 60, len(FEATURE_NAMES) + len(transcribe.RISE_FEATURES)
    Y = np.zeros((n, len(tracktrain.LABELS)), dtype=bool)
    Y[np.arange(n), np.arange(n) % len(tracktrain.LABELS)] = True
    rows = tracktrain.Rows(
        X=rng.normal(size=(n, n_old)).astype(np.float32),
        Y=Y,
        groups=np.array(["a", "b"] * (n // 2), dtype=object),
        R=rng.normal(size=(n, len(seg.BANDS))).astype(np.float32),
    )
    monkeypatch.setattr(tracktrain, "TRACK_INPUTS", transcribe.RISE_FEATURES)
    old = tracktrain.build(rows, n_trees=2, cv=False)
    path = tmp_path / "old-tracks.npz"
    old.save(path)
    with pytest.raises(
        ModelError, match=r"\(rise_low_db.*rise_high_db\), where .*loop_rel_peak_db"
    ):
        transcribe.load_track_model(path)


def test_hit_features_are_the_slice_features_the_band_rises_then_the_loop_and_timbre_context() -> (
    None
):
    sr = ANALYSIS_SR_HZ
    x = np.zeros(sr, dtype=np.float32)
    k = synth.kick(np.random.default_rng(0), sr)
    x[sr // 4 : sr // 4 + k.size] = k
    onsets = seg.detect(x, sr_hz=sr)
    segs = seg.segments(onsets, sr_hz=sr, n_samples=x.size)
    X = transcribe.hit_features(x, sr, segs)
    n, n_rise = len(FEATURE_NAMES), len(seg.BANDS)
    assert X.shape == (len(segs), n + len(transcribe.TRACK_INPUTS))
    assert abs(segs[0].onset_s - 0.25) < 0.01
    np.testing.assert_array_equal(X[:, :n], transcribe.describe_segments(x, sr, segs))
    np.testing.assert_allclose(X[0, n : n + n_rise], segs[0].rise_db, rtol=1e-6)
    assert X[0, n + seg.BANDS.index("low")] > 10  # a kick adds low end
    n_ctx = len(transcribe.CONTEXT_FEATURES)
    context = X[:, n + n_rise : n + n_rise + n_ctx]
    np.testing.assert_array_equal(context, transcribe.loop_context(x, sr, segs))
    D, t = X[:, :n], np.array([s.onset_s for s in segs])
    np.testing.assert_array_equal(X[:, n + n_rise + n_ctx :], transcribe.timbre_context(D, t, D, t))


def test_timbre_context_is_each_hits_timbre_against_the_median_hit_near_it() -> None:
    """A loop of dark kicks and bright hats (three hats per kick): a kick's centroid reads
    below the loop's median hit (a hat), a hat's about 0; frequencies compare in octaves; a
    lone hit farther than CONTEXT_AROUND_S from the rest is its own reference (0)."""
    names = list(FEATURE_NAMES)
    c, low = names.index("centroid_hz_early"), names.index("eq_low_db")
    times = np.arange(12) * 0.25
    D = np.zeros((12, len(names)), dtype=np.float32)
    kick = np.arange(12) % 4 == 0
    D[:, c] = np.where(kick, 200.0, 6400.0)
    D[:, low] = np.where(kick, -3.0, -30.0)
    far = np.vstack([D, D[:1]])
    far_t = np.append(times, times[-1] + transcribe.CONTEXT_AROUND_S + 1.0)
    T = transcribe.timbre_context(far, far_t, far, far_t)
    rel_c = transcribe.TIMBRE_CONTEXT_FEATURES.index("loop_rel_centroid_oct_early")
    rel_low = transcribe.TIMBRE_CONTEXT_FEATURES.index("loop_rel_eq_low_db")
    assert T.shape == (13, len(transcribe.TIMBRE_FEATURES))
    np.testing.assert_allclose(T[:12][kick, rel_c], -5.0)  # 200 Hz is 5 octaves under 6.4 kHz
    np.testing.assert_allclose(T[:12][~kick, rel_c], 0.0)
    np.testing.assert_allclose(T[:12][kick, rel_low], 27.0)
    np.testing.assert_array_equal(T[12], 0.0)
    # neighbours beyond the hits themselves: the same reference, read from them
    sub = transcribe.timbre_context(D[:1], times[:1], D, times)
    np.testing.assert_array_equal(sub, T[:1])


def _hits(x: np.ndarray, times_s: list[float], sr: int) -> list[seg.Segment]:
    return [seg.Segment(t, int(t * sr), int(t * sr) + sr // 10, 1.0) for t in times_s]


def test_loop_context_is_each_hits_level_against_the_loud_hits_near_it() -> None:
    """A hat 20 dB under the loud hats around it reads about -20 dB in its peak and its high
    band; the loud hats read about 0; hits more than CONTEXT_AROUND_S away do not count."""
    sr = ANALYSIS_SR_HZ
    hat = synth.hihat_closed(np.random.default_rng(1), sr)
    hat = hat / np.max(np.abs(hat))
    times = [0.5, 0.75, 1.0, 1.25, 1.5]
    far = 1.5 + transcribe.CONTEXT_AROUND_S + 0.5  # a lone quiet hat, far from the loud ones
    x = np.zeros(int((far + 0.5) * sr), dtype=np.float32)
    for t in times:
        x[int(t * sr) : int(t * sr) + hat.size] += hat
    quiet_at = 1.125
    for t in (quiet_at, far):
        x[int(t * sr) : int(t * sr) + hat.size] += 0.1 * hat
    segs = _hits(x, sorted([*times, quiet_at, far]), sr)
    C = transcribe.loop_context(x, sr, segs)
    assert C.shape == (len(segs), len(transcribe.CONTEXT_FEATURES))
    quiet = [s.onset_s for s in segs].index(quiet_at)
    peak = transcribe.CONTEXT_FEATURES.index("loop_rel_peak_db")
    high = transcribe.CONTEXT_FEATURES.index("loop_rel_high_db")
    assert C[quiet, peak] == pytest.approx(-20.0, abs=0.5)
    assert C[quiet, high] == pytest.approx(-20.0, abs=1.0)
    assert np.all(np.abs(C[[0, 1, 2], peak]) < 0.5)  # the loud hats are the reference
    assert C[-1, peak] == pytest.approx(0.0, abs=0.5)  # alone, it is its own reference
    # neighbours given explicitly: the quiet hat's context is the same from a subset
    sub = transcribe.loop_context(x, sr, [segs[quiet]], segs)
    np.testing.assert_allclose(sub[0], C[quiet], atol=1e-4)
    # ... and from a segment that is equal but not one of the neighbours (measured anew)
    copy = transcribe.loop_context(x, sr, [dataclasses.replace(segs[quiet])], segs)
    np.testing.assert_allclose(copy[0], C[quiet], atol=1e-4)


def _hits_of(groove: grooves.Groove) -> list[transcribe.TrackHit]:
    """The groove's true hits as a transcription would give them (simultaneous hits merged)."""
    at: dict[float, list[grooves.Hit]] = {}
    for h in groove.hits:
        at.setdefault(round(h.time_s, 3), []).append(h)
    return [
        transcribe.TrackHit(
            t, tuple(h.label for h in hs), {}, max(h.velocity for h in hs), 1.0, 0.0
        )
        for t, hs in sorted(at.items())
    ]


@pytest.mark.parametrize("style", ["rock", "house", "hiphop", "latin"])
@pytest.mark.parametrize("bpm", [80.0, 100.0, 130.0, 160.0])
def test_tempo_is_the_beat_the_backbone_plays(style: str, bpm: float) -> None:
    # librosa's tempogram alone answered 158 for every 80 BPM groove here and 107 for most
    # 160 BPM ones; the kick / snare grid picks the level they play on
    rng = np.random.default_rng(int(bpm) + len(style))
    hits = _hits_of(grooves.generate(rng, style=style, bpm=bpm, bars=4))
    assert transcribe.estimate_tempo(hits) == pytest.approx(bpm, rel=0.03)


def test_tempo_needs_four_hits_and_falls_back_without_a_backbone() -> None:
    hat = [transcribe.TrackHit(i * 0.25, ("hihat_closed",), {}, 100, 1.0, 0.0) for i in range(16)]
    assert transcribe.estimate_tempo(hat[:3]) is None
    assert transcribe.estimate_tempo(hat) == pytest.approx(120.0, rel=0.05)  # 8ths at 120


def test_a_hat_pass_slice_gives_a_clear_hi_hat_or_nothing() -> None:
    bundle = synth_track_model()
    labels = bundle.labels
    # hat thresholds under HAT_PASS_MIN_SCORE, so it is the hat pass's own rule that is tested
    thresholds = bundle.thresholds.copy()
    for lab in transcribe.HAT_LABELS:
        thresholds[labels.index(lab)] = transcribe.HAT_PASS_MIN_SCORE / 2
    bundle = dataclasses.replace(bundle, thresholds=thresholds)
    n = len(labels)

    def row(**scores: float) -> np.ndarray:
        r = np.zeros(n)
        for lab, v in scores.items():
            r[labels.index(lab)] = v
        return r

    S = np.stack(
        [
            row(snare=0.95, hihat_closed=0.9),  # hat pass: the snare is not taken
            row(hihat_closed=transcribe.HAT_PASS_MIN_SCORE - 0.05),  # not clear enough
            row(snare=0.95),  # hat pass: nothing
            row(snare=0.35),  # a main onset no label accepts keeps its best label
        ]
    )
    rise = np.full((4, len(transcribe.seg.BANDS)), 30.0, dtype=np.float32)
    got = transcribe._decide(S, rise, bundle, ["hat", "hat", "hat", "main"])
    assert got[0] == ("hihat_closed",)
    assert got[1] == () and got[2] == ()
    assert got[3] == ("snare",)


def test_a_kick_pass_slice_gives_a_clear_kick_or_nothing() -> None:
    bundle = synth_track_model()
    labels = bundle.labels
    kick = labels.index("kick")
    thresholds = bundle.thresholds.copy()
    thresholds[kick] = transcribe.KICK_PASS_MIN_SCORE / 2  # the pass's own bar is what counts
    bundle = dataclasses.replace(bundle, thresholds=thresholds)
    S = np.zeros((4, len(labels)))
    S[:, labels.index("hihat_closed")] = 0.95  # never taken from a kick-pass slice
    S[:, kick] = [0.9, transcribe.KICK_PASS_MIN_SCORE - 0.05, 0.0, 0.9]
    rise = np.full((4, len(transcribe.seg.BANDS)), 30.0, dtype=np.float32)
    got = transcribe._decide(S, rise, bundle, ["kick", "kick", "kick", "main"])
    assert got[0] == ("kick",)
    assert got[1] == () and got[2] == ()  # not clear enough / no kick: dropped, no fallback
    assert set(got[3]) == {"kick", "hihat_closed"}  # a main slice keeps every label


def test_the_one_shot_classifiers_second_opinion_keeps_a_snare_both_hear() -> None:
    bundle = synth_track_model()
    labels = bundle.labels
    snare = labels.index("snare")
    thresholds = bundle.thresholds.copy()
    thresholds[snare] = 0.9  # the track model alone accepts no snare below
    bundle = dataclasses.replace(bundle, thresholds=thresholds)
    min_oneshot, min_track = transcribe.ONESHOT_RESCUE["snare"]
    S = np.zeros((4, len(labels)))
    S[:, labels.index("hihat_closed")] = 0.95
    S[:, snare] = [min_track, min_track, min_track - 0.05, 0.95]
    oneshot = {"snare": np.array([min_oneshot, min_oneshot - 0.05, 0.99, 0.0])}
    rise = np.full((4, len(transcribe.seg.BANDS)), 30.0, dtype=np.float32)
    main = ["main"] * 4
    alone = transcribe._decide(S, rise, bundle, main)
    assert [("snare" in got) for got in alone] == [False, False, False, True]
    both = transcribe._decide(S, rise, bundle, main, oneshot)
    # both over their bars / the one-shot model not sure / no trace in the track model /
    # the track model alone over its threshold
    assert [("snare" in got) for got in both] == [True, False, False, True]
    assert all("hihat_closed" in got for got in both)
    # a hat-pass slice stays a hi-hat or nothing
    first = {"snare": oneshot["snare"][:1]}
    assert transcribe._decide(S[:1], rise[:1], bundle, ["hat"], first) == [("hihat_closed",)]


def test_the_second_opinion_only_ever_adds_its_own_labels(tmp_path: Path) -> None:
    from samplesort.model import load_default

    path, _ = _groove_file(tmp_path)
    track = transcribe.load_track_model()
    plain = transcribe.transcribe_file(path, track)
    helped = transcribe.transcribe_file(path, track, oneshot=load_default(), block_s=2.0)
    assert [h.time_s for h in helped.hits] == [h.time_s for h in plain.hits]
    for a, b in zip(plain.hits, helped.hits, strict=True):
        assert set(a.labels) <= set(b.labels)
        assert set(b.labels) - set(a.labels) <= set(transcribe.ONESHOT_RESCUE)
        # the opinion is reported, and a label it added cleared its bar
        assert a.oneshot_scores == {} and "oneshot_scores" not in a.as_dict()
        assert set(b.oneshot_scores) == set(transcribe.ONESHOT_RESCUE)
        assert b.as_dict()["oneshot_scores"] == b.oneshot_scores
        for lab in set(b.labels) - set(a.labels):
            assert b.oneshot_scores[lab] >= transcribe.ONESHOT_RESCUE[lab][0]


def test_threshold_offsets_raise_only_their_labels_threshold() -> None:
    kits = [synth_kit(1), synth_kit(2)]
    rows = tracktrain.render_rows(kits, kits, grooves_per_kit=2, seed=0)
    plain = tracktrain.build(rows, seed=0, n_trees=8, cv=False, offsets={})
    shifted = tracktrain.build(rows, seed=0, n_trees=8, cv=False)
    c = plain.labels.index("snare")
    offset = tracktrain.THRESHOLD_OFFSETS["snare"]
    assert offset > 0
    assert shifted.thresholds[c] == pytest.approx(plain.thresholds[c] + offset)
    rest = [i for i in range(len(plain.labels)) if i != c]
    assert np.array_equal(shifted.thresholds[rest], plain.thresholds[rest])
    assert shifted.meta["threshold_offsets"] == {"snare": offset}
    assert plain.meta["threshold_offsets"] == {}
