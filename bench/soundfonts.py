"""A cross-source check set: the drum kits of Debian's General MIDI soundfonts, rendered.

    python -m bench.soundfonts OUT_DIR        # OUT/<label>/<font>_<kit>/<key>_v<velocity>.wav

Never used to train (`make model` trains on the Hydrogen + LMMS corpus only): this is a set of
kits from another source, to check that a change generalises beyond the corpus's kits, the way
the project's held-out evaluation does. Each kit of `KITS` of each font of `FONTS` plays every
General MIDI drum key of `GM_DRUMS` at two velocities, and a few melodic GM programs give
`other`. The label of a key is the GM drum map's name for it, so no file name is guessed.

Rendering is fluidsynth's (the Debian package `fluidsynth`; the fonts are `fluid-soundfont-gm`,
`timgm6mb-soundfont`, `musescore-general-soundfont`; `make corpus-soundfont` installs them): one
MIDI file per font (written with mido), one note every SPACING_S seconds, reverb and chorus off,
cut back into one WAV per note. A note that renders silent (a key a kit does not map) is
skipped and counted. Kits of one font share many samples (Standard, Room and Power often differ
only in the drums themselves), so per-label scores move in lumps: read them over several seeds.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

# General MIDI percussion keys -> taxonomy labels (GM level 1 names in the comments). 71 / 72
# (whistles) are left out: not a drum, and not clearly "other" either.
GM_DRUMS: dict[int, str] = {
    35: "kick", 36: "kick",  # acoustic bass drum, bass drum 1
    37: "rim",  # side stick
    38: "snare", 40: "snare",  # acoustic / electric snare
    39: "clap",
    41: "tom", 43: "tom", 45: "tom", 47: "tom", 48: "tom", 50: "tom",
    42: "hihat_closed", 44: "hihat_closed",  # closed, pedal
    46: "hihat_open",
    49: "crash", 52: "crash", 55: "crash", 57: "crash",  # crash 1, chinese, splash, crash 2
    51: "ride", 53: "ride", 59: "ride",  # ride 1, ride bell, ride 2
    **{k: "percussion" for k in (54, 56, 58, *range(60, 71), *range(73, 82))},
}  # fmt: skip
# bank 128 presets present in all three fonts (Orchestra is left out: its keys 41-53 are timpani)
KITS = {
    0: "standard", 8: "room", 16: "power", 24: "electronic", 25: "tr808", 32: "jazz", 40: "brush",
}  # fmt: skip
FONTS = {
    "fluidr3": "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "timgm6mb": "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "musescore": "/usr/share/sounds/sf3/MuseScore_General_Full.sf3",
}
# melodic GM programs rendered at two pitches as `other` (tonal hits, basses, pads, fx)
OTHER_PROGRAMS = {
    0: "piano", 11: "vibes", 24: "guitar", 33: "bass", 48: "strings", 52: "choir",
    56: "trumpet", 81: "lead", 88: "pad", 98: "fx_crystal", 102: "fx_echoes",
    120: "fret_noise", 123: "bird", 125: "helicopter", 126: "applause", 127: "gunshot",
}  # fmt: skip
VELOCITIES = (110, 70)
SPACING_S = 3.0
SR_HZ = 44100
SILENT_PEAK = 1e-4


def notes() -> list[tuple[int, int, int, int, float, str, str, str]]:
    """(channel, program, key, velocity, hold_s, label, kit, name) of every note of one font."""
    out = []
    for program, kit in KITS.items():
        for key, label in GM_DRUMS.items():
            for v in VELOCITIES:
                out.append((9, program, key, v, 0.2, label, kit, f"{key:02d}_v{v}"))
    for program, name in OTHER_PROGRAMS.items():
        for key in (40, 60):
            out.append((0, program, key, 100, 1.5, "other", "gm_other", f"{name}_{key}"))
    return out


def midi_file(path: Path, played: list[tuple[int, int, int, int, float, str, str, str]]) -> None:
    """One note every SPACING_S seconds, each after a program change on its channel."""
    import mido

    ticks_per_s = 960  # 480 ticks per beat at 120 BPM
    timed: list[tuple[float, int, mido.Message]] = []
    for i, (ch, program, key, vel, hold_s, *_) in enumerate(played):
        t = i * SPACING_S
        timed.append((t, 0, mido.Message("program_change", channel=ch, program=program)))
        timed.append((t, 1, mido.Message("note_on", channel=ch, note=key, velocity=vel)))
        timed.append((t + hold_s, 2, mido.Message("note_off", channel=ch, note=key)))
    timed.sort(key=lambda e: (e[0], e[1]))
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500_000))
    last = 0
    for t, _, msg in timed:
        tick = int(round(t * ticks_per_s))
        track.append(msg.copy(time=tick - last))
        last = tick
    mid.save(path)


def render_font(font_name: str, font: Path, out: Path) -> tuple[int, int]:
    """Render one font's notes into OUT/<label>/<font>_<kit>/; (written, silent) counts."""
    import soundfile as sf

    played = notes()
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "notes.mid", Path(tmp) / "notes.wav"
        midi_file(mid, played)
        cmd = ["fluidsynth", "-ni", "-g", "0.5", "-R", "0", "-C", "0", "-r", str(SR_HZ)]
        subprocess.run([*cmd, "-F", str(wav), str(font), str(mid)], check=True, capture_output=True)
        x, sr = sf.read(wav, dtype="float32")
    written = silent = 0
    for i, (*_, label, kit, name) in enumerate(played):
        cut = x[int(i * SPACING_S * sr) : int(((i + 1) * SPACING_S - 0.05) * sr)]
        if cut.size == 0 or float(np.abs(cut).max()) < SILENT_PEAK:
            silent += 1
            continue
        dest = out / label / f"{font_name}_{kit}"
        dest.mkdir(parents=True, exist_ok=True)
        sf.write(dest / f"{name}.wav", cut, sr, subtype="PCM_16")
        written += 1
    return written, silent


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    if shutil.which("fluidsynth") is None:
        raise SystemExit("fluidsynth is not installed (make corpus-soundfont installs it)")
    for name, font in FONTS.items():
        if not Path(font).exists():
            print(f"{font}: not installed, skipped", flush=True)
            continue
        written, silent = render_font(name, Path(font), args.out)
        print(f"{name}: {written} files, {silent} silent notes skipped", flush=True)


if __name__ == "__main__":
    main()
