"""Kits and the groove renderer: one-shots per label from a labeled corpus, and `render`,
which plays a `Groove` with a `Kit` and returns the audio with the exact truth.

A kit is one-shots per label (e.g. a Hydrogen / LMMS kit from the labeled corpus, or synthetic
voices in tests), leading silence trimmed, files holding more than one hit left out; a kit
missing a label can borrow it from donors (`complete`). The files of one instrument recorded
at several velocities (a Hydrogen instrument's layers, a soundfont key rendered at two
velocities) are its velocity layers, and a hit's velocity picks the layer, as a sampler does.
A rendered hit's truth time is where its sample's sound starts (first sample within ONSET_DB
of its peak), not where the sample file starts; an optional random production (EQ, room,
saturation, noise) follows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .grooves_generate import KIT_LABELS, Groove, Hit

REQUIRED = ("kick", "snare", "hihat_closed")
ONSET_DB = -30.0  # a sample's sound starts at its first sample within this of its peak
MAX_SAMPLE_S = 3.0


@dataclass(frozen=True)
class Kit:
    """One-shots per label (mono float32 at `sr_hz`, leading silence trimmed, peak 1), and per
    label its instruments: each a tuple of indices into `samples[label]`, its velocity layers
    from the softest (lowest recorded peak) to the loudest. A label missing from `instruments`
    has one single-layer instrument per sample."""

    name: str
    sr_hz: int
    samples: dict[str, tuple[np.ndarray, ...]]
    instruments: dict[str, tuple[tuple[int, ...], ...]] = field(default_factory=dict)

    def has(self, label: str) -> bool:
        return bool(self.samples.get(label))

    def instruments_of(self, label: str) -> tuple[tuple[int, ...], ...]:
        found = self.instruments.get(label)
        return found if found else tuple((i,) for i in range(len(self.samples[label])))


# --- kits -------------------------------------------------------------------------------------


def instrument_of(stem: str) -> str:
    """The instrument a corpus file belongs to, from its name: a Hydrogen layer is
    `<instrument>__<layer file>` (`corpus.hydrogen_kit`), a rendered soundfont key
    `<key>_v<velocity>` (`bench.soundfonts`); any other file is an instrument of its own."""
    if "__" in stem:
        return stem.split("__", 1)[0]
    m = re.fullmatch(r"(.+)_v\d+", stem)
    return m.group(1) if m else stem


def layers(names: Sequence[str], peaks: Sequence[float]) -> tuple[tuple[int, ...], ...]:
    """Indices of `names` grouped by `instrument_of`, each group ordered by recorded peak
    (softest layer first; ties keep the files' order)."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(instrument_of(name), []).append(i)
    return tuple(tuple(sorted(g, key=lambda i: peaks[i])) for g in groups.values())


def layer_for(velocity: int, n_layers: int) -> int:
    """The layer a hit of `velocity` (1-127) plays: layer i of n covers velocities from
    127 i / n up to 127 (i + 1) / n, the even split Hydrogen's layer editor starts from."""
    return min(n_layers - 1, max(0, velocity) * n_layers // 127)


def trim_lead(x: np.ndarray, sr_hz: int, *, lead_s: float = 0.002) -> tuple[np.ndarray, float]:
    """`x` with leading silence cut to `lead_s` before its first sample within 50 dB of the
    peak, and the time of its onset (first sample within ONSET_DB of the peak) in the result."""
    a = np.abs(x)
    peak = float(a.max()) if a.size else 0.0
    if peak <= 0:
        return x, 0.0
    start = max(0, int(np.argmax(a > peak * 10 ** (-50 / 20))) - int(lead_s * sr_hz))
    y = x[start : start + int(MAX_SAMPLE_S * sr_hz)].astype(np.float32)
    fade = min(y.size, int(0.005 * sr_hz))
    y[y.size - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)  # no cut-off click
    onset = int(np.argmax(np.abs(y) > peak * 10 ** (ONSET_DB / 20)))
    return y / peak, onset / sr_hz


def one_hit(x: np.ndarray, sr_hz: int, *, most: int = 2) -> bool:
    """False when the onset detector finds more than `most` onsets in `x`: some kit
    "one-shots" are slices of a played beat (rumpf_kit's `beats_*` files), and a groove
    rendered with them would hold hits its truth does not list. Two onsets are kept: that may
    be the detector's own double trigger on a real one-shot, which the evaluation must see."""
    from .segments import detect

    return detect(x, sr_hz=sr_hz).times_s.size <= most


def corpus_kits(root: Path) -> list[str]:
    """Kit folder names under a labeled corpus (`root/<label>/<kit>/...`) that have a kick, a
    snare and a closed hat."""
    kits: set[str] | None = None
    for lab in REQUIRED:
        names = {p.name for p in (root / lab).iterdir() if p.is_dir()}
        kits = names if kits is None else kits & names
    return sorted(kits or ())


def load_kits(root: Path, names: Sequence[str], *, sr_hz: int) -> list[Kit]:
    """Decode every one-shot of the named kits; files that fail to decode, and files that
    hold more than one hit (see `one_hit`), are skipped. Each label's files are grouped into
    instruments with their velocity layers (`layers`)."""
    from .audio import AUDIO_EXTENSIONS, decode
    from .errors import AudioError

    kits = []
    for name in names:
        samples: dict[str, tuple[np.ndarray, ...]] = {}
        instruments: dict[str, tuple[tuple[int, ...], ...]] = {}
        for lab in KIT_LABELS:
            folder = root / lab / name
            found, stems, peaks = [], [], []
            if folder.is_dir():
                for p in sorted(folder.iterdir()):
                    if p.suffix.lower() not in AUDIO_EXTENSIONS:
                        continue
                    try:
                        clip = decode(p, max_s=MAX_SAMPLE_S, sr_hz=sr_hz)
                    except AudioError:
                        continue
                    x = trim_lead(clip.samples, sr_hz)[0]
                    if one_hit(x, sr_hz):
                        found.append(x)
                        stems.append(p.stem)
                        peaks.append(float(np.max(np.abs(clip.samples))))
            if found:
                samples[lab] = tuple(found)
                instruments[lab] = layers(stems, peaks)
        kits.append(Kit(name=name, sr_hz=sr_hz, samples=samples, instruments=instruments))
    return kits


def complete(kit: Kit, donors: Sequence[Kit], rng: np.random.Generator) -> Kit:
    """`kit` with each missing label borrowed from a random donor kit that has it."""
    samples = dict(kit.samples)
    instruments = {lab: kit.instruments_of(lab) for lab in kit.samples if kit.has(lab)}
    for lab in KIT_LABELS:
        if not samples.get(lab):
            have = [d for d in donors if d.has(lab)]
            if have:
                donor = have[int(rng.integers(len(have)))]
                samples[lab] = donor.samples[lab]
                instruments[lab] = donor.instruments_of(lab)
    return Kit(name=kit.name, sr_hz=kit.sr_hz, samples=samples, instruments=instruments)


# --- rendering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    audio: np.ndarray  # mono float32
    sr_hz: int
    truth: tuple[Hit, ...]  # times are the hits' sound onsets in `audio`


def _color(x: np.ndarray, sr_hz: int, rng: np.random.Generator) -> np.ndarray:
    """A random 'production': EQ tilt, room, saturation, noise floor (each maybe)."""
    from scipy.signal import butter, fftconvolve, sosfilt

    y = x
    if rng.random() < 0.5:
        kind = "lowpass" if rng.random() < 0.5 else "highpass"
        cut = rng.uniform(5000, 14000) if kind == "lowpass" else rng.uniform(30, 120)
        y = sosfilt(butter(2, cut, btype=kind, fs=sr_hz, output="sos"), y)
    if rng.random() < 0.4:
        n = int(rng.uniform(0.2, 0.8) * sr_hz)
        t = np.arange(n) / sr_hz
        ir = rng.standard_normal(n) * 10 ** (-3.0 * t / (n / sr_hz))
        ir /= np.sqrt(np.sum(ir**2))
        wet = rng.uniform(0.05, 0.25)
        y = (1 - wet) * y + wet * fftconvolve(y, ir)[: y.size]
    if rng.random() < 0.3:
        drive = rng.uniform(1.5, 4.0)
        y = np.tanh(drive * y / (np.max(np.abs(y)) + 1e-12)) / np.tanh(drive)
    if rng.random() < 0.3:
        y = y + rng.standard_normal(y.size) * np.max(np.abs(y)) * 10 ** (rng.uniform(-70, -50) / 20)
    return np.asarray(y, dtype=np.float32)


def render(
    groove: Groove,
    kit: Kit,
    rng: np.random.Generator,
    *,
    pre_s: float = 0.25,
    color: bool = True,
) -> Rendered:
    """Play `groove` with `kit`: per hit, the groove's instrument for its label (another at
    random 30 % of the time) and that instrument's velocity layer for the hit's velocity
    (`layer_for`), the velocity also setting the gain; open hats choked by the next hat,
    per-label levels, and an optional random production."""
    sr = kit.sr_hz
    n = int((pre_s + groove.duration_s + MAX_SAMPLE_S) * sr)
    out = np.zeros(n, dtype=np.float32)
    level = {lab: 10 ** (rng.uniform(-6, 0) / 20) for lab in KIT_LABELS}
    kinds = {lab: kit.instruments_of(lab) for lab in kit.samples if kit.has(lab)}
    pick = {lab: int(rng.integers(len(insts))) for lab, insts in kinds.items()}
    hat_times = sorted(h.time_s for h in groove.hits if h.label.startswith("hihat"))
    truth = []
    for h in groove.hits:
        if not kit.has(h.label):
            continue
        insts = kinds[h.label]
        inst = insts[pick[h.label] if rng.random() < 0.7 else int(rng.integers(len(insts)))]
        x = kit.samples[h.label][inst[layer_for(h.velocity, len(inst))]]
        _, onset_s = trim_lead(x, sr)
        if h.label == "hihat_open":
            later = [t for t in hat_times if t > h.time_s + 0.02]
            if later:
                keep = int((later[0] - h.time_s) * sr)
                x = x[: keep + int(0.01 * sr)].copy()
                fade = min(x.size, int(0.01 * sr))
                x[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
        gain = level[h.label] * (h.velocity / 127.0) ** 1.5
        start = int(round((pre_s + h.time_s) * sr))
        seg = x[: n - start]
        out[start : start + seg.size] += gain * seg
        truth.append(Hit(round(pre_s + h.time_s + onset_s, 4), h.label, h.velocity))
    end = int((pre_s + groove.duration_s + 1.0) * sr)
    out = out[:end]
    if color:
        out = _color(out, sr, rng)
    out = out / (np.max(np.abs(out)) + 1e-12) * rng.uniform(0.3, 0.95)
    return Rendered(audio=out.astype(np.float32), sr_hz=sr, truth=tuple(truth))
