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
    """Put `src` at `dest` (or a unique name beside it) as a symlink or a copy; return where.

    The final name is claimed with an operation that fails if the name exists (symlink, or a
    hard link of the finished copy), so a name taken meanwhile is never overwritten: the next
    free name is tried instead. A copy is written to a temporary file first, so a crash never
    leaves a half-written sample under the final name."""
    if mode not in ("symlink", "copy"):
        raise ValueError(f"unknown placement mode {mode!r}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    if mode == "copy":
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
        shutil.copyfile(src, tmp)
    try:
        while True:
            target = unique_path(dest)
            try:
                if tmp is None:
                    os.symlink(os.path.abspath(src), target)
                else:
                    os.link(tmp, target)
                return target
            except FileExistsError:
                continue
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def same_file_content(a: Path, b: Path) -> bool:
    """True when `a` resolves to `b` or holds the same bytes."""
    try:
        if os.path.realpath(a) == os.path.realpath(b):
            return True
        if a.stat().st_size != b.stat().st_size:
            return False
        return a.read_bytes() == b.read_bytes()
    except OSError:
        return False


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
