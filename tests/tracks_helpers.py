"""Shared by the full-track tests: a kit of synthetic voices, a groove rendered with it, and a
small track model trained (in seconds) on grooves rendered with two synthetic kits."""

from __future__ import annotations

from functools import lru_cache

from fixtures import synth
from samplesort import grooves, tracktrain
from samplesort.audio import ANALYSIS_SR_HZ
from samplesort.model import ModelBundle


def synth_kit(seed: int, *, sr_hz: int = ANALYSIS_SR_HZ, name: str | None = None) -> grooves.Kit:
    samples = {}
    for k, lab in enumerate(grooves.KIT_LABELS):
        voices = []
        for j in range(2 if seed == 1 else 1):
            x = synth.voice(lab, seed=1000 * seed + 10 * k + j, sr=sr_hz)
            voices.append(grooves.trim_lead(x, sr_hz)[0])
        samples[lab] = tuple(voices)
    return grooves.Kit(name=name or f"synth{seed}", sr_hz=sr_hz, samples=samples)


@lru_cache(maxsize=1)
def synth_track_model() -> ModelBundle:
    kits = [synth_kit(1), synth_kit(2)]
    rows = tracktrain.render_rows(kits, kits, grooves_per_kit=2, seed=0)
    return tracktrain.build(rows, seed=0, n_trees=8, cv=False)
