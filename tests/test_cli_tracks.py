"""The transcribe and evaluate-tracks commands, end to end on real files: JSON lines, MIDI,
CSV and slices; evaluate-tracks on a generated groove matches a score computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fixtures import synth
from samplesort import grooves
from samplesort.cli import app
from tests.tracks_helpers import synth_kit, synth_track_model

runner = CliRunner()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tracks.npz"
    synth_track_model().save(path)
    return path


def _groove(tmp_path: Path, seed: int = 11) -> Path:
    rng = np.random.default_rng(seed)
    kit = synth_kit(4, sr_hz=44100)
    groove = grooves.generate(rng, style="rock", bpm=100, bars=2)
    r = grooves.render(groove, kit, rng, color=False)
    wav = synth.write(tmp_path / "data" / "groove.wav", r.audio, sr=r.sr_hz)
    grooves.write_truth(wav.with_suffix(".csv"), r.truth)
    return wav


def test_transcribe_writes_json_midi_csv_and_slices(tmp_path: Path, model_path: Path) -> None:
    wav = _groove(tmp_path)
    res = runner.invoke(
        app,
        [
            "transcribe", str(wav), "--model", str(model_path), "--json", "--bpm",
            "--midi", str(tmp_path / "o.mid"), "--csv", str(tmp_path / "o.csv"),
            "--slices", str(tmp_path / "slices"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    hits = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(hits) > 10
    assert set(hits[0]) == {"time", "labels", "scores", "velocity", "oneshot_scores"}
    assert all(set(h["oneshot_scores"]) == {"snare"} for h in hits)  # the second opinion
    assert all(1 <= h["velocity"] <= 127 and h["labels"] for h in hits)
    assert (tmp_path / "o.mid").stat().st_size > 50
    rows = (tmp_path / "o.csv").read_text().splitlines()
    assert rows[0] == "time_s,class,velocity,score"
    assert len(rows) - 1 == sum(len(h["labels"]) for h in hits)
    assert len(list((tmp_path / "slices").glob("*.wav"))) == len(hits)


def _hand_f1(ref: list[float], est: list[float]) -> tuple[int, int, int]:
    """Greedy one-to-one matching within 50 ms, nearest pairs first."""
    pairs = sorted((abs(r - e), i, j) for i, r in enumerate(ref) for j, e in enumerate(est))
    used_r, used_e = set(), set()
    for d, i, j in pairs:
        if d <= 0.05 and i not in used_r and j not in used_e:
            used_r.add(i)
            used_e.add(j)
    tp = len(used_r)
    return tp, len(est) - tp, len(ref) - tp


def test_evaluate_tracks_matches_a_hand_computed_score(tmp_path: Path, model_path: Path) -> None:
    wav = _groove(tmp_path)
    out = runner.invoke(app, ["transcribe", str(wav), "--model", str(model_path), "--json"])
    hits = [json.loads(line) for line in out.stdout.splitlines()]
    truth = [line.split(",") for line in wav.with_suffix(".csv").read_text().splitlines()[1:]]
    res = runner.invoke(
        app, ["evaluate-tracks", str(wav.parent), "--model", str(model_path), "--json"]
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    got = report["files"]["groove.wav"]
    for label in ("kick", "snare", "hihat_closed"):
        ref = [float(t) for t, c in truth if c == label]
        est = [h["time"] for h in hits if label in h["labels"]]
        tp, fp, fn = _hand_f1(ref, est)
        assert (got[label]["tp"], got[label]["fp"], got[label]["fn"]) == (tp, fp, fn)
        f1 = 2 * tp / (2 * tp + fp + fn)
        assert got[label]["f1"] == pytest.approx(f1, abs=1e-4)
    assert report["overall"]["kick"] == got["kick"]
    onsets: list[float] = []  # class-agnostic: true hits within 20 ms are one onset
    for t in sorted(float(t) for t, _ in truth):
        if not onsets or t - onsets[-1] >= 0.02:
            onsets.append(t)
    tp, fp, fn = _hand_f1(onsets, [h["time"] for h in hits])
    assert (got["onsets"]["tp"], got["onsets"]["fp"], got["onsets"]["fn"]) == (tp, fp, fn)
    assert tp >= len(onsets) // 2


def test_evaluate_tracks_reports_missing_truth_and_bad_model(
    tmp_path: Path, model_path: Path
) -> None:
    wav = _groove(tmp_path)
    synth.write(wav.parent / "no_truth.wav", synth.voice("kick"))
    res = runner.invoke(app, ["evaluate-tracks", str(wav.parent), "--model", str(model_path)])
    assert res.exit_code == 3
    assert "no_truth.wav: no ground truth" in res.stderr
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    res = runner.invoke(app, ["transcribe", str(wav), "--model", str(bad)])
    assert res.exit_code == 1 and "not a samplesort model" in res.stderr


def test_transcribe_never_overwrites_outputs_and_a_missing_file_is_one_line(
    tmp_path: Path, model_path: Path
) -> None:
    wav = _groove(tmp_path)
    (tmp_path / "o.mid").write_bytes(b"my own midi")
    (tmp_path / "o.csv").write_text("my own notes\n")
    (tmp_path / "slices").mkdir()
    args = ["transcribe", str(wav), "--model", str(model_path), "--midi", str(tmp_path / "o.mid")]
    args += ["--csv", str(tmp_path / "o.csv"), "--slices", str(tmp_path / "slices")]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert (tmp_path / "o.mid").read_bytes() == b"my own midi"
    assert (tmp_path / "o.csv").read_text() == "my own notes\n"
    assert (tmp_path / "o (2).mid").stat().st_size > 50
    assert (tmp_path / "o (2).csv").read_text().startswith("time_s,class")
    n = len(list((tmp_path / "slices").glob("*.wav")))
    again = runner.invoke(app, args)  # same slice names: new files beside, none replaced
    assert again.exit_code == 0, again.output
    assert len(list((tmp_path / "slices").glob("*.wav"))) == 2 * n
    assert (tmp_path / "o (3).mid").exists()
    missing = runner.invoke(
        app, ["transcribe", str(tmp_path / "nope.wav"), "--model", str(model_path)]
    )
    assert missing.exit_code == 1
    assert "nope.wav: cannot read" in missing.stderr and len(missing.stderr.splitlines()) == 1
