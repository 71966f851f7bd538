"""Shared fixtures: synthesised drum one-shots written as real files into pytest's tmp_path,
a helper that writes any array with soundfile, and a small model for CLI tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fixtures import synth
from samplesort.taxonomy import LABELS

WriteAudio = Callable[..., Path]


@pytest.fixture
def write_audio(tmp_path: Path) -> WriteAudio:
    """`write_audio(name, x, sr=..., subtype=..., format=...)` -> the written file in tmp_path."""

    def write(
        name: str,
        x: np.ndarray,
        *,
        sr: int = synth.SR_HZ,
        subtype: str | None = None,
        format: str | None = None,
    ) -> Path:
        return synth.write(tmp_path / name, x, sr=sr, subtype=subtype, format=format)

    return write


@pytest.fixture
def synth_dir(tmp_path: Path) -> Path:
    """A folder holding one synthetic WAV per taxonomy label: `<label>.wav`."""
    out = tmp_path / "synth"
    for i, label in enumerate(LABELS):
        synth.write(out / f"{label}.wav", synth.voice(label, seed=i))
    return out


@pytest.fixture(scope="session")
def model_args(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """CLI arguments selecting a model: none when the bundled default model exists, otherwise
    `--model <a small model trained here on synthetic voices>` (3 kits x every label)."""
    from samplesort import pipeline
    from samplesort.model import default_model_path
    from samplesort.training import train_bundle

    if default_model_path().exists():
        return []
    root = tmp_path_factory.mktemp("labeled")
    for k in range(3):
        for i, label in enumerate(LABELS):
            synth.write(
                root / label / f"kit{k}" / f"{label}_{k}.wav", synth.voice(label, seed=1000 * k + i)
            )
    files, _ = pipeline.labeled_tree(root)
    ts, errors = pipeline.training_set(files, augment=0, jobs=1)
    assert not errors
    bundle = train_bundle(ts, n_trees=20, cv=False)
    path = tmp_path_factory.mktemp("model") / "small.npz"
    bundle.save(path)
    return ["--model", str(path)]
