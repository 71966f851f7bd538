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

This module owns that writer (`write_set`, `write_truth`) and its command line; the generator is
`grooves_generate.py`, the kits and the renderer `grooves_render.py`, and their public names are
importable from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .errors import UsageError
from .grooves_generate import KIT_LABELS, STYLES, Groove, Hit, generate
from .grooves_render import (
    MAX_SAMPLE_S,
    ONSET_DB,
    REQUIRED,
    Kit,
    Rendered,
    complete,
    corpus_kits,
    instrument_of,
    layer_for,
    layers,
    load_kits,
    one_hit,
    render,
    trim_lead,
)

__all__ = [
    "KIT_LABELS",
    "MAX_SAMPLE_S",
    "ONSET_DB",
    "REQUIRED",
    "STYLES",
    "Groove",
    "Hit",
    "Kit",
    "Rendered",
    "complete",
    "corpus_kits",
    "generate",
    "instrument_of",
    "layer_for",
    "layers",
    "load_kits",
    "main",
    "one_hit",
    "render",
    "trim_lead",
    "write_set",
    "write_truth",
]


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
    """Render `n` grooves (kits in turn) into `out` as WAV + truth CSV; returns the WAVs.
    Refuses (UsageError) when `out` already holds a groove of one of the indices: a set is
    never written over another."""
    import soundfile as sf
    import soxr

    taken = sorted(p for i in range(n) for p in out.glob(f"groove{i:03d}_*"))
    if taken:
        raise UsageError(f"{taken[0]}: exists; grooves are never written over (use a new folder)")
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
    try:
        write_set(kits, args.out, n=args.n, seed=args.seed)
    except UsageError as exc:
        raise SystemExit(str(exc)) from None


if __name__ == "__main__":
    main()
