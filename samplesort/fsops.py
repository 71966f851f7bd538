"""The only module that creates, links or moves paths. It never overwrites: a taken name gets
a numbered suffix (`name (2).wav`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def unique_path(path: Path) -> Path:
    """`path` if free, else the first free `stem (n)suffix` beside it."""
    if not os.path.lexists(path):
        return path
    n = 2
    while True:
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        if not os.path.lexists(candidate):
            return candidate
        n += 1


def place(src: Path, dest: Path, *, mode: str = "symlink") -> Path:
    """Put `src` at `dest` (or a unique name beside it) as a symlink or a copy; return where."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    target = unique_path(dest)
    if mode == "symlink":
        os.symlink(os.path.abspath(src), target)
    elif mode == "copy":
        tmp = target.with_name(f".{target.name}.part")
        shutil.copyfile(src, tmp)
        os.replace(tmp, target) if not os.path.lexists(target) else None
    else:
        raise ValueError(f"unknown placement mode {mode!r}")
    return target


def write_wav(dest: Path, samples: object, sr_hz: int) -> Path:
    """Write float samples as a 16-bit WAV at `dest` (or a unique name beside it), via a
    temporary file renamed into place, so a crash never leaves a half-written file."""
    import soundfile as sf

    dest.parent.mkdir(parents=True, exist_ok=True)
    target = unique_path(dest)
    tmp = target.with_name(f".{target.name}.part")
    sf.write(str(tmp), samples, sr_hz, subtype="PCM_16", format="WAV")
    os.replace(tmp, target)
    return target
