"""The typer app through CliRunner: help for every command, the `classify --json` contract,
exit codes (0 ok, 3 partial, 1 fatal) and the refusal of missing or pickled model files."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures import synth
from samplesort.cli import app
from samplesort.taxonomy import LABELS, UNKNOWN

GOOD_LABELS = ("kick", "snare", "hihat_closed")
runner = CliRunner()


def _good_folder(root: Path) -> list[Path]:
    return [
        synth.write(root / f"{label} {i}.wav", synth.voice(label, seed=50 + i))
        for i, label in enumerate(GOOD_LABELS)
    ]


def _json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _assert_prediction_line(obj: dict) -> None:
    assert set(obj) == {"path", "label", "confidence", "labels", "scores"}
    assert obj["label"] in (*LABELS, UNKNOWN)
    assert 0.0 <= obj["confidence"] <= 1.0
    assert set(obj["labels"]) <= set(LABELS)
    assert obj["scores"] and set(obj["scores"]) <= set(LABELS)
    assert all(0.0 <= v <= 1.0 for v in obj["scores"].values())


@pytest.mark.parametrize("command", [[], ["classify"], ["train"], ["evaluate"], ["corpus"]])
def test_help_works_for_every_command(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout
    for name in command:
        assert name in result.stdout


def test_classify_json_mixed_folder_is_partial(tmp_path: Path, model_args: list[str]) -> None:
    lib = tmp_path / "my library"
    good = _good_folder(lib)
    broken = lib / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (lib / "README.txt").write_text("not audio\n")

    result = runner.invoke(app, ["classify", "--json", *model_args, str(lib)])

    assert result.exit_code == 3, result.output
    objs = _json_lines(result.stdout)
    by_path = {o["path"]: o for o in objs}
    assert len(by_path) == len(objs) == len(good) + 1
    assert set(by_path) == {str(p) for p in [*good, broken]}
    for p in good:
        _assert_prediction_line(by_path[str(p)])
    err = by_path[str(broken)]
    assert set(err) == {"path", "error"}
    assert str(broken) in err["error"] and "\n" not in err["error"]
    assert "non-audio" in result.stderr


def test_classify_json_good_files_exit_zero(tmp_path: Path, model_args: list[str]) -> None:
    good = _good_folder(tmp_path / "kit")
    result = runner.invoke(app, ["classify", "--json", *model_args, str(tmp_path / "kit")])
    assert result.exit_code == 0, result.output
    objs = _json_lines(result.stdout)
    assert [o["path"] for o in objs] == [str(p) for p in sorted(good)]
    for obj in objs:
        _assert_prediction_line(obj)


def test_classify_table_reports_each_failure_on_one_line(
    tmp_path: Path, model_args: list[str]
) -> None:
    lib = tmp_path / "a folder with a rather long name to push the line past eighty columns"
    _good_folder(lib)
    broken = lib / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    result = runner.invoke(app, ["classify", *model_args, str(lib)])
    assert result.exit_code == 3, result.output
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert str(broken) in error_lines[0] and "not readable audio" in error_lines[0]


def test_classify_missing_model_is_fatal(tmp_path: Path) -> None:
    _good_folder(tmp_path / "kit")
    missing = tmp_path / "no such model.npz"
    result = runner.invoke(app, ["classify", "--model", str(missing), str(tmp_path / "kit")])
    assert result.exit_code == 1
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message
    assert str(missing) in message and "not found" in message


@pytest.mark.parametrize("name", ["model.pkl", "model.joblib", "disguised.npz"])
def test_classify_refuses_pickle_model(tmp_path: Path, name: str) -> None:
    _good_folder(tmp_path / "kit")
    model = tmp_path / name
    model.write_bytes(pickle.dumps({"labels": ["kick"], "trees": [1, 2, 3]}))
    result = runner.invoke(app, ["classify", "--model", str(model), str(tmp_path / "kit")])
    assert result.exit_code == 1
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message
    assert str(model) in message and "pickle" in message


def _labeled_tree(root: Path) -> Path:
    for label in ("kick", "snare", "hihat_closed"):
        for kit in range(3):
            for j in range(2):
                synth.write(
                    root / label / f"kit{kit}" / f"{label}{j}.wav",
                    synth.voice(label, seed=100 * kit + j),
                )
    return root


def test_evaluate_scores_a_model_on_a_labeled_tree(tmp_path: Path, model_args) -> None:
    from samplesort.model import default_model_path

    root = _labeled_tree(tmp_path / "labeled")
    args = model_args or ["--model", str(default_model_path())]
    result = runner.invoke(app, ["evaluate", str(root), *args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["n"] == 18
    assert set(report["per_label"]) == {"kick", "snare", "hihat_closed"}
    assert 0.0 <= report["macro_f1"] <= 1.0


def test_train_then_classify_with_the_new_model(tmp_path: Path) -> None:
    root = _labeled_tree(tmp_path / "labeled")
    out = tmp_path / "mine.npz"
    result = runner.invoke(
        app,
        ["train", str(root), "--out", str(out), "--augment", "1", "--trees", "10", "--jobs", "1"],
    )
    assert result.exit_code == 0, result.output
    assert out.exists()
    result = runner.invoke(app, ["classify", str(root / "kick"), "--model", str(out), "--json"])
    assert result.exit_code == 0, result.output
    labels = [json.loads(line)["label"] for line in result.stdout.strip().splitlines()]
    assert labels.count("kick") >= 4  # trained on these very kits: most come back as kick


def test_classify_missing_folder_is_a_per_path_error(tmp_path: Path, model_args) -> None:
    good = synth.write(tmp_path / "lib" / "kick.wav", synth.voice("kick", seed=3))
    gone = tmp_path / "not there"
    result = runner.invoke(app, ["classify", "--json", *model_args, str(gone), str(good)])
    assert result.exit_code == 3, result.output
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert {r["path"] for r in rows} == {str(gone), str(good)}
    error = next(r for r in rows if r["path"] == str(gone))
    assert "no such file or directory" in error["error"]


def test_train_refuses_a_tree_without_labels(tmp_path: Path) -> None:
    synth.write(tmp_path / "drums" / "k.wav", synth.voice("kick"))
    result = runner.invoke(app, ["train", str(tmp_path), "--out", str(tmp_path / "m.npz")])
    assert result.exit_code == 2
    assert "no labeled audio" in result.output and not (tmp_path / "m.npz").exists()
