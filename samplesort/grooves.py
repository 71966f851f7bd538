"""Groove generator and renderer with exact ground truth: development data for full-track mode.

A `Groove` is a list of `Hit`s (time, label, velocity) made from a style's step patterns
(rock, funk, hip-hop, house, breakbeat, half-time with hat rolls, shuffle, latin), a tempo in
70-180 BPM, per-hit velocity variation and accents, humanised timing, simultaneous hits,
fills on toms/snare and crashes after them. `render` plays it with a `Kit` (one-shots per
label, e.g. a Hydrogen / LMMS kit from the labeled corpus, or synthetic voices in tests) and
returns the audio plus the truth: each hit's time is where its sample's sound starts (first
sample within 30 dB of its peak), not where the sample file starts.

    python -m samplesort.grooves CORPUS OUT_DIR --kits a,b --n 20 --seed 0

writes OUT_DIR/<name>.wav + <name>.csv (`time_s,class`), the layout `evaluate-tracks` reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .taxonomy import LABELS

KIT_LABELS: tuple[str, ...] = tuple(lab for lab in LABELS if lab != "other")
REQUIRED = ("kick", "snare", "hihat_closed")
ONSET_DB = -30.0  # a sample's sound starts at its first sample within this of its peak
MAX_SAMPLE_S = 3.0
STYLES = ("rock", "funk", "hiphop", "house", "breakbeat", "halftime", "shuffle", "latin")


@dataclass(frozen=True)
class Hit:
    time_s: float
    label: str
    velocity: int  # 1-127


@dataclass(frozen=True)
class Groove:
    style: str
    bpm: float
    bars: int
    hits: tuple[Hit, ...]  # sorted by time; times are the notes' start, before sample offsets

    @property
    def duration_s(self) -> float:
        return self.bars * 4 * 60.0 / self.bpm


@dataclass(frozen=True)
class Kit:
    """One-shots per label (mono float32 at `sr_hz`, leading silence trimmed to `lead_s`)."""

    name: str
    sr_hz: int
    samples: dict[str, tuple[np.ndarray, ...]]

    def has(self, label: str) -> bool:
        return bool(self.samples.get(label))


# --- patterns: one string per instrument, one character per step ("x" hit, "a" accent, "g"
# ghost, "." rest); several alternatives per style and instrument --------------------------------

_PATTERNS: dict[str, dict[str, tuple[str, ...]]] = {
    "rock": {
        "kick": ("x.......x.x.....", "x.....x.x.......", "x.......x...x..."),
        "snare": ("....a.......a...", "....a.......a..g"),
        "hihat_closed": ("x.x.x.x.x.x.x.x.", "a.x.a.x.a.x.a.x."),
        "ride": ("x.x.x.x.x.x.x.x.",),
    },
    "funk": {
        "kick": ("x..x..x...x..x..", "x.x...x..x......", "x..x......x..x.."),
        "snare": ("....a..g.g..a..g", "....a.g.....a.g.", "..g.a..g.g..a..."),
        "hihat_closed": ("axxxaxxxaxxxaxxx", "x.x.x.x.x.x.x.x."),
        "hihat_open": ("..............x.", "......x.........", "................"),
    },
    "hiphop": {
        "kick": ("x.....x..x......", "x..x......x.....", "x.....x...x..x.."),
        "snare": ("....a.......a...",),
        "clap": ("....a.......a...",),
        "hihat_closed": ("x.x.x.x.x.x.x.x.", "x.xxx.x.x.xxx.x."),
        "hihat_open": ("..............x.", "................"),
    },
    "house": {
        "kick": ("a...a...a...a...",),
        "clap": ("....a.......a...",),
        "hihat_closed": ("x.x.x.x.x.x.x.x.", "xxxxxxxxxxxxxxxx"),
        "hihat_open": ("..x...x...x...x.",),
        "percussion": ("...x..x....x..x.", "................"),
    },
    "breakbeat": {
        "kick": ("x.x.......xx....", "x.x.......x.....", "x..x..x...x....."),
        "snare": ("....a..g.g..a..g", "....a..x.x..a..x", ".g..a..g.ga.a..."),
        "ride": ("x.x.x.x.x.x.x.x.",),
        "hihat_closed": ("x.x.x.x.x.x.x.x.", "xxxxxxxxxxxxxxxx"),
    },
    "halftime": {
        "kick": ("x.........x.....", "x.....x...x..x..", "x.x.......x....."),
        "snare": ("........a.......",),
        "hihat_closed": ("x.x.x.x.x.x.x.x.", "xxxxxxxxxxxxxxxx"),
    },
    "shuffle": {  # 12 steps: triplet eighths
        "kick": ("x.....x.....", "x.....x..x..", "x........x.."),
        "snare": ("...a.....a..", "...a..g..a.g"),
        "hihat_closed": ("x.xx.xx.xx.x", "x..x..x..x.."),
        "ride": ("x.xx.xx.xx.x",),
    },
    "latin": {
        "kick": ("x..x....x..x....", "x.....x.x.....x."),
        "rim": ("..x..x....x..x..", "x..x..x...x.x..."),
        "percussion": ("x.xxx.xxx.xxx.xx", "..x...x...x...x.", "x..x..x.x..x..x."),
        "hihat_closed": ("x.x.x.x.x.x.x.x.",),
    },
}
_VELOCITY = {"a": 115, "x": 92, "g": 40}


def _steps(style: str) -> int:
    return 12 if style == "shuffle" else 16


def _fill(rng: np.random.Generator, steps: int) -> list[tuple[int, str, str]]:
    """A fill over the second half of a bar: (step, label, symbol) on toms and snare."""
    voices = ("snare", "tom", "tom", "tom") if rng.random() < 0.7 else ("snare", "snare", "tom")
    start = steps // 2 if rng.random() < 0.7 else 3 * steps // 4
    every = 1 if rng.random() < 0.6 else 2
    out = []
    for s in range(start, steps, every):
        if rng.random() < 0.9:
            out.append((s, str(rng.choice(voices)), "a" if rng.random() < 0.3 else "x"))
    return out


def generate(
    rng: np.random.Generator,
    *,
    style: str | None = None,
    bpm: float | None = None,
    bars: int = 4,
    labels: Iterable[str] = KIT_LABELS,
) -> Groove:
    """A random groove of `bars` bars. Only `labels` (what the kit can play) are used."""
    available = set(labels)
    style = style or str(rng.choice(STYLES))
    bpm = float(bpm if bpm is not None else rng.uniform(70, 180))
    steps = _steps(style)
    beat_s = 60.0 / bpm
    step_s = 4 * beat_s / steps
    swing = rng.uniform(0.0, 0.3) if steps == 16 and rng.random() < 0.3 else 0.0
    jitter_s = rng.uniform(0.0, 0.008)
    patterns = _PATTERNS[style]
    chosen = {lab: str(rng.choice(alts)) for lab, alts in patterns.items()}
    if "ride" in chosen and "hihat_closed" in chosen:  # a groove rides one cymbal
        drop = "ride" if rng.random() < 0.6 or "ride" not in available else "hihat_closed"
        chosen.pop(drop)
    if "clap" in chosen and "snare" in chosen:
        r = rng.random()
        if r < 0.4:
            chosen.pop("clap")
        elif r < 0.8:
            chosen.pop("snare")  # else both: a layered snare + clap
    if style in ("halftime", "hiphop") and rng.random() < 0.4:  # hat rolls (32nds)
        chosen["roll"] = "".join(
            rng.choice(["..", "xx", "x."], p=[0.2, 0.4, 0.4]) for _ in range(8)
        )
    for lab in list(chosen):
        if lab != "roll" and lab not in available:
            chosen.pop(lab)
    if "snare" not in chosen and "clap" not in chosen:
        if "snare" in available:
            chosen["snare"] = patterns.get("snare", ("....a.......a...",))[0]
    fill_every = int(rng.choice([2, 4, 0]))
    hits: list[Hit] = []
    step_late: dict[float, float] = {}

    def add(t_s: float, label: str, symbol: str) -> None:
        if label not in available:
            return
        v = _VELOCITY[symbol] + rng.normal(0, 10)
        # the drummer is early or late on a step; the limbs on one step land within ~2 ms
        late = step_late.setdefault(round(t_s, 4), rng.normal(0, jitter_s) if jitter_s else 0.0)
        t = t_s + late + rng.normal(0, 0.0015)
        hits.append(Hit(max(0.0, float(t)), label, int(np.clip(round(v), 20, 127))))

    for bar in range(bars):
        t0 = bar * 4 * beat_s
        fill = fill_every and (bar + 1) % fill_every == 0 and bar > 0
        fill_notes = _fill(rng, steps) if fill else []
        fill_from = min((s for s, _, _ in fill_notes), default=steps)
        if bar == 0 or (fill_every and bar % fill_every == 0 and bar > 0 and rng.random() < 0.8):
            if "crash" in available:
                add(t0, "crash", "a")
        for lab, pat in chosen.items():
            if lab == "roll":
                continue
            n = len(pat)
            for s, sym in enumerate(pat):
                if sym == "." or (s * steps // n >= fill_from and lab != "kick"):
                    continue
                if rng.random() < 0.05:  # variation: a dropped note
                    continue
                t = t0 + s * step_s * steps / n + (swing * step_s if s % 2 else 0.0)
                add(t, lab, sym)
            if lab == "kick" and rng.random() < 0.15:  # variation: an extra kick
                s = int(rng.integers(0, steps))
                add(t0 + s * step_s, "kick", "x")
        if "roll" in chosen and not fill and "hihat_closed" in available:
            for s, sym in enumerate(chosen["roll"]):  # a 32nd-note pair on the step
                if sym == "x" and rng.random() < 0.5:
                    add(t0 + s * step_s, "hihat_closed", "x")
                    add(t0 + (s + 0.5) * step_s, "hihat_closed", "g")
        for s, lab, sym in fill_notes:
            add(t0 + s * step_s, lab, sym)
    if "crash" in available and rng.random() < 0.5:
        add(bars * 4 * beat_s - 0.0, "crash", "a")
        add(bars * 4 * beat_s - 0.0, "kick", "a")
        bars_out = bars + 1
    else:
        bars_out = bars
    hits = _dedupe(sorted(hits, key=lambda h: (h.time_s, h.label)), min_gap_s=0.03)
    return Groove(style=style, bpm=bpm, bars=bars_out, hits=tuple(hits))


def _dedupe(hits: list[Hit], *, min_gap_s: float) -> list[Hit]:
    """Drop a hit of a label that repeats within `min_gap_s` of that label's previous hit."""
    last: dict[str, float] = {}
    out = []
    for h in hits:
        if h.time_s - last.get(h.label, -1.0) < min_gap_s:
            continue
        last[h.label] = h.time_s
        out.append(h)
    return out


# --- kits -------------------------------------------------------------------------------------


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
    hold more than one hit (see `one_hit`), are skipped."""
    from .audio import AUDIO_EXTENSIONS, decode
    from .errors import AudioError

    kits = []
    for name in names:
        samples: dict[str, tuple[np.ndarray, ...]] = {}
        for lab in KIT_LABELS:
            folder = root / lab / name
            found = []
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
            if found:
                samples[lab] = tuple(found)
        kits.append(Kit(name=name, sr_hz=sr_hz, samples=samples))
    return kits


def complete(kit: Kit, donors: Sequence[Kit], rng: np.random.Generator) -> Kit:
    """`kit` with each missing label borrowed from a random donor kit that has it."""
    samples = dict(kit.samples)
    for lab in KIT_LABELS:
        if not samples.get(lab):
            have = [d for d in donors if d.has(lab)]
            if have:
                samples[lab] = have[int(rng.integers(len(have)))].samples[lab]
    return Kit(name=kit.name, sr_hz=kit.sr_hz, samples=samples)


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
    """Play `groove` with `kit`: a random sample per hit (velocity sets its gain), open hats
    choked by the next hat, per-instrument levels, and an optional random production."""
    sr = kit.sr_hz
    n = int((pre_s + groove.duration_s + MAX_SAMPLE_S) * sr)
    out = np.zeros(n, dtype=np.float32)
    level = {lab: 10 ** (rng.uniform(-6, 0) / 20) for lab in KIT_LABELS}
    pick = {lab: int(rng.integers(len(kit.samples[lab]))) for lab in kit.samples}
    hat_times = sorted(h.time_s for h in groove.hits if h.label.startswith("hihat"))
    truth = []
    for h in groove.hits:
        if not kit.has(h.label):
            continue
        choices = kit.samples[h.label]
        idx = pick[h.label] if rng.random() < 0.7 else int(rng.integers(len(choices)))
        x = choices[idx]
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


def write_truth(path: Path, truth: Iterable[Hit]) -> Path:
    """The ground-truth CSV `evaluate-tracks` reads: a `time_s,class` header, one row per hit."""
    lines = ["time_s,class"] + [f"{h.time_s:.4f},{h.label}" for h in truth]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_set(
    kits: Sequence[Kit],
    out: Path,
    *,
    n: int,
    seed: int,
    donors: Sequence[Kit] = (),
    out_sr_hz: int = 44100,
) -> list[Path]:
    """Render `n` grooves (kits in turn) into `out` as WAV + truth CSV; returns the WAVs."""
    import soundfile as sf
    import soxr

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(n):
        kit = complete(kits[i % len(kits)], donors or kits, rng)
        groove = generate(rng, labels=kit.samples.keys(), bars=int(rng.integers(2, 5)))
        r = render(groove, kit, rng)
        audio = soxr.resample(r.audio, r.sr_hz, out_sr_hz) if out_sr_hz != r.sr_hz else r.audio
        name = f"groove{i:03d}_{groove.style}_{round(groove.bpm)}bpm_{kit.name}"
        sf.write(str(out / f"{name}.wav"), audio, out_sr_hz, subtype="PCM_16")
        write_truth(out / f"{name}.csv", r.truth)
        written.append(out / f"{name}.wav")
    return written


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m samplesort.grooves", description=__doc__)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--kits", default="", help="comma-separated kit names (default: all)")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    names = args.kits.split(",") if args.kits else corpus_kits(args.corpus)
    kits = load_kits(args.corpus, names, sr_hz=44100)
    write_set(kits, args.out, n=args.n, seed=args.seed)


if __name__ == "__main__":
    main()
