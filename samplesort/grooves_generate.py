"""The groove generator: random drum patterns with their exact notes, as `Groove`s of `Hit`s.

A `Groove` is a list of `Hit`s (time, label, velocity) made from a style's step patterns
(rock, funk, hip-hop, house, breakbeat, half-time with hat rolls, shuffle, latin), a tempo in
70-180 BPM, per-hit velocity variation and accents, humanised timing, simultaneous hits,
fills on toms/snare and crashes after them. Pure: no audio; `grooves_render` plays a groove
with a kit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .taxonomy import LABELS

KIT_LABELS: tuple[str, ...] = tuple(lab for lab in LABELS if lab != "other")
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
