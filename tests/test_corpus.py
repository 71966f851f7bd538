"""Building a labeled corpus from packaged kits: discovery, dedupe, placement that never
overwrites and can be re-run, and the errors a producer sees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures import synth
from samplesort import corpus, fsops, pipeline
from samplesort.cli import app
from samplesort.errors import CorpusError
from tests.test_drumsynth import tone, write_preset

runner = CliRunner()


def _kit(root: Path, name: str, instruments: dict[str, list[str]], seed: int = 0) -> Path:
    kit = root / name
    kit.mkdir(parents=True)
    parts = [f"<drumkit_info><name>{name}</name><instrumentList>"]
    for k, (inst, files) in enumerate(instruments.items()):
        layers = "".join(f"<layer><filename>{f}</filename></layer>" for f in files)
        parts.append(f"<instrument><id>{k}</id><name>{inst}</name>{layers}</instrument>")
        for j, f in enumerate(files):
            if not f.startswith("missing"):
                label = "kick" if "Kick" in inst else "hihat_open"
                synth.write(kit / f, synth.voice(label, seed=seed + 10 * k + j))
    parts.append("</instrumentList></drumkit_info>")
    (kit / "drumkit.xml").write_text("".join(parts))
    return kit


def test_hydrogen_kit_labels_layers_and_reports_what_it_skips(tmp_path: Path) -> None:
    _kit(
        tmp_path,
        "KitA",
        {"Kick": ["k1.wav", "k2.wav"], "Hi-Hat Semiopen": ["h.wav"], "Open HH": ["missing.wav"]},
    )
    found = corpus.hydrogen(tmp_path)
    assert sorted((i.label, i.source.name) for i in found.items) == [
        ("kick", "k1.wav"),
        ("kick", "k2.wav"),
    ]
    reasons = dict(found.skipped)
    assert "does not name one class" in reasons["KitA/Hi-Hat Semiopen"]
    assert "missing" in reasons["KitA/missing.wav"]


def test_a_layer_whose_file_name_names_another_class_is_skipped(tmp_path: Path) -> None:
    # Colombo's "Closed HH" holds "hihat-semi-open" and "hihat-open" layers, its "Snare"
    # rimshots: the two names disagree, so the layer is left out rather than guessed
    _kit(
        tmp_path,
        "KitA",
        {
            "Snare": ["snare-1.wav", "snare-opaque-rimshot2.wav"],
            "Closed HH": ["hh-closed.wav", "hihat-semi-open-1.wav", "hihat-open-1.wav", "x.wav"],
        },
    )
    found = corpus.hydrogen(tmp_path)
    assert sorted((i.label, i.source.name) for i in found.items) == [
        ("hihat_closed", "hh-closed.wav"),
        ("hihat_closed", "x.wav"),
        ("snare", "snare-1.wav"),
    ]
    reasons = dict(found.skipped)
    assert reasons["KitA/snare-opaque-rimshot2.wav"] == (
        "the instrument name says snare, the file name says rim"
    )
    assert reasons["KitA/hihat-open-1.wav"] == (
        "the instrument name says hihat_closed, the file name says hihat_open"
    )
    assert reasons["KitA/hihat-semi-open-1.wav"] == "the file name says half-open hat"


def test_corpus_command_counts_what_it_skips_and_lists_why_on_request(tmp_path: Path) -> None:
    _kit(
        tmp_path / "kits", "KitA", {"Snare": ["snare-1.wav", "snare-rimshot2.wav"], "Fx": ["f.wav"]}
    )
    out = tmp_path / "out"
    result = runner.invoke(app, ["corpus", "hydrogen", str(tmp_path / "kits"), str(out)])
    assert result.exit_code == 0, result.output
    assert (
        "1 labeled files" in result.output
        and "skipped 2 (--list-skipped says why)" in result.output
    )
    assert "rimshot2" not in result.output
    result = runner.invoke(
        app, ["corpus", "hydrogen", str(tmp_path / "kits"), str(out), "--list-skipped"]
    )
    assert result.exit_code == 0, result.output
    assert "KitA/snare-rimshot2.wav: the instrument name says snare, the file name says rim" in (
        result.output
    )
    assert "KitA/Fx: instrument name does not name one class" in result.output


def test_kits_sharing_a_recording_merge_into_one_group(tmp_path: Path) -> None:
    _kit(tmp_path, "KitA", {"Kick": ["k1.wav"]})
    b = _kit(tmp_path, "KitB", {"Kick": ["other.wav"]}, seed=50)
    (b / "dup.wav").write_bytes((tmp_path / "KitA" / "k1.wav").read_bytes())
    (b / "drumkit.xml").write_text(
        (b / "drumkit.xml")
        .read_text()
        .replace(
            "<filename>other.wav</filename>",
            "<filename>other.wav</filename></layer><layer><filename>dup.wav</filename>",
        )
    )
    items, merged = corpus.dedupe(corpus.hydrogen(tmp_path).items)
    assert len(items) == 2  # the shared recording is kept once
    assert {i.group for i in items} == {"hydrogen:KitA+hydrogen:KitB"}


@pytest.mark.parametrize("mode", ["symlink", "copy"])
def test_build_corpus_twice_places_nothing_new(tmp_path: Path, mode: str) -> None:
    _kit(tmp_path / "src", "KitA", {"Kick": ["k1.wav", "k2.wav"]})
    out = tmp_path / "out"
    _, placed = pipeline.build_corpus("hydrogen", tmp_path / "src", out, mode=mode)
    _, again = pipeline.build_corpus("hydrogen", tmp_path / "src", out, mode=mode)
    assert (placed, again) == (2, 0)
    files = sorted(p.name for p in (out / "kick").rglob("*.wav"))
    assert files == ["Kick__k1.wav", "Kick__k2.wav"]
    assert all(p.is_symlink() == (mode == "symlink") for p in (out / "kick").rglob("*.wav"))


def test_place_never_overwrites_a_taken_name(tmp_path: Path) -> None:
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    a.write_bytes(b"first")
    b.write_bytes(b"second")
    dest = tmp_path / "out" / "x.wav"
    first = fsops.place(a, dest, mode="copy")
    second = fsops.place(b, dest, mode="copy")
    third = fsops.place(b, dest, mode="symlink")
    assert first == dest and second.name == "x (2).wav" and third.name == "x (3).wav"
    assert dest.read_bytes() == b"first" and second.read_bytes() == b"second"
    assert sorted(os.listdir(dest.parent)) == ["x (2).wav", "x (3).wav", "x.wav"]  # no temp left


def test_drumsynth_corpus_renders_presets_and_reports_broken_ones(tmp_path: Path) -> None:
    src = tmp_path / "drumsynth" / "tr00"
    src.mkdir(parents=True)
    write_preset(src / "Kick.ds", {"Tone": tone(F1="60", F2="60")})
    write_preset(src / "Snare.ds", {})  # renders silence
    found, placed = pipeline.build_corpus("drumsynth", tmp_path / "drumsynth", tmp_path / "out")
    assert placed == 1 and [i.label for i in found.items] == ["kick"]
    assert (tmp_path / "out" / "kick" / "drumsynth_tr00" / "Kick.wav").is_file()
    assert any("Snare.ds" in what and "silence" in why for what, why in found.skipped)


def test_missing_source_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no Hydrogen kits"):
        corpus.hydrogen(tmp_path / "nowhere")
    result = runner.invoke(app, ["corpus", "lmms", str(tmp_path / "nowhere"), str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "no drums/ folder" in result.output and len(result.output.strip().splitlines()) == 1
    result = runner.invoke(app, ["corpus", "garageband", str(tmp_path), str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown corpus kind" in result.output
