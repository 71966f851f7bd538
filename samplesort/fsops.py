"""The only module that creates, links, moves or deletes paths.

It never overwrites. A name is "taken" when the folder holds an entry equal to it after Unicode
NFC normalisation and case folding — so two names that one disk would treat as the same file
(case-insensitive macOS/Windows volumes, NFD names on macOS) are never both created; a taken name
gets a numbered suffix (`name (2).wav`). Final names are claimed with operations that fail if the
name exists (`link`, `symlink`), never with a check followed by a rename.

Moves: on one filesystem a hard link claims the new name and the old one is then unlinked (the
file is never absent, never copied); across filesystems the bytes go to a temporary file in the
destination folder, are fsynced and verified (size and SHA-256) and only then claimed and the
source removed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import unicodedata
from collections.abc import Iterable
from pathlib import Path

TMP_PREFIX = ".samplesort-"


def name_key(name: str) -> str:
    """What makes two names the same file on some disk: NFC form, case-folded."""
    return unicodedata.normalize("NFC", name).casefold()


def _taken(folder: Path) -> set[str]:
    try:
        return {name_key(n) for n in os.listdir(folder)}
    except OSError:
        return set()


def unique_path(path: Path, *, reserved: Iterable[str] = ()) -> Path:
    """`path` if its name is free in its folder (see `name_key`), else the first free
    `stem (n)suffix` beside it. `reserved` holds more taken paths (as `name_key(str(path))`),
    e.g. destinations an unexecuted plan has already promised."""
    taken = _taken(path.parent)
    reserved = set(reserved)

    def free(p: Path) -> bool:
        return (
            name_key(p.name) not in taken
            and not os.path.lexists(p)
            and name_key(str(p)) not in reserved
        )

    if free(path):
        return path
    n = 2
    while True:
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        if free(candidate):
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


def write_new(dest: Path, data: bytes) -> Path:
    """Write `data` as a new file at `dest` or, if that name is taken, at the first free
    `stem (n)suffix` beside it; written to a temporary file first and claimed with a hard
    link, so neither an existing file nor a half-written one can end up under the name."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{TMP_PREFIX}{dest.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        while True:
            target = unique_path(dest)
            try:
                os.link(tmp, target)
                return target
            except FileExistsError:
                continue
    finally:
        tmp.unlink(missing_ok=True)


def write_wav(dest: Path, samples: object, sr_hz: int) -> Path:
    """Write float samples as a new 16-bit WAV at `dest` (or a unique name beside it; see
    `write_new`); returns where it was written."""
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, samples, sr_hz, subtype="PCM_16", format="WAV")
    return write_new(dest, buf.getvalue())


# --- journaled file operations (used by actions.py and actions_undo.py) --------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_dir(folder: Path) -> None:
    """Create one folder (its parent must exist); an existing folder is an error."""
    os.mkdir(folder)


def remove_dir(folder: Path) -> None:
    """Remove an empty folder (OSError if it is not empty)."""
    os.rmdir(folder)


def make_dir_tree(folder: Path) -> None:
    """Create `folder` and its missing parents."""
    folder.mkdir(parents=True, exist_ok=True)


def make_parents(path: Path) -> None:
    """Create the missing folders above `path` (restoring a file's original folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)


def write_text(path: Path, text: str) -> None:
    """Write a small text file (a path map) atomically, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def tmp_path_for(dest: Path, tag: str) -> Path:
    """The temporary name a copy to `dest` is written under (in dest's folder, hidden)."""
    return dest.with_name(f"{TMP_PREFIX}{tag}.part")


def _copy_verified(src: Path, tmp: Path) -> str:
    """Copy src to the new file tmp (mode and times too), fsync it, read it back and check its
    size and SHA-256 against what was read from src; return that SHA-256."""
    h = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(tmp, "xb") as fout:
        for block in iter(lambda: fin.read(1 << 20), b""):
            h.update(block)
            size += len(block)
            fout.write(block)
        fout.flush()
        os.fsync(fout.fileno())
    shutil.copystat(src, tmp)
    digest = h.hexdigest()
    if tmp.stat().st_size != size or sha256_file(tmp) != digest:
        raise OSError(errno.EIO, "the copy does not match the source (size or SHA-256)", str(tmp))
    return digest


def copy_file(src: Path, dest: Path, *, tmp: Path, durable_name: bool = False) -> str:
    """Copy `src` to the free name `dest` through `tmp` (verified, its bytes fsynced); return
    its SHA-256. FileExistsError if `dest` got taken meanwhile (nothing is left behind).
    `durable_name` also fsyncs the folder, for a move that removes the source next."""
    try:
        digest = _copy_verified(src, tmp)
        os.link(tmp, dest)
        if durable_name:
            fsync_dir(dest.parent)
        return digest
    finally:
        tmp.unlink(missing_ok=True)


def move_file(src: Path, dest: Path, *, tmp: Path) -> None:
    """Move `src` to the free name `dest`; FileExistsError if `dest` got taken (src untouched).

    One filesystem: hard-link then unlink — an atomic claim, no bytes copied, the file always
    reachable under one of its names (journaling filesystems commit the two in order, so no
    fsync is needed). Filesystems without hard links: rename after a check. Across
    filesystems: verified, fsynced copy through `tmp`, claim, then remove the source."""
    try:
        os.link(src, dest, follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.EEXIST:
            raise FileExistsError(errno.EEXIST, "destination exists", str(dest)) from None
        if exc.errno == errno.EXDEV:
            copy_file(src, dest, tmp=tmp, durable_name=True)
            _remove_source_or_roll_back(src, dest)
            fsync_dir(src.parent)
            return
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if os.path.lexists(dest):
            raise FileExistsError(errno.EEXIST, "destination exists", str(dest)) from None
        os.rename(src, dest)
        return
    _remove_source_or_roll_back(src, dest)


def _remove_source_or_roll_back(src: Path, dest: Path) -> None:
    """Last step of a move: remove `src`; if that is refused (a read-only source folder),
    remove the new name instead, so the file is exactly where it was, and re-raise."""
    try:
        os.unlink(src)
    except OSError:
        os.unlink(dest)
        raise


def link_file(src: Path, dest: Path) -> None:
    """A symlink at the free name `dest` pointing to `src` (absolute)."""
    os.symlink(os.path.abspath(src), dest)


def remove_file(path: Path) -> None:
    os.unlink(path)


def backup_file(src: Path, backup: Path) -> str:
    """A verified, fsynced copy of `src` at `backup` (for undoing a rewrite); returns the
    SHA-256 of the bytes copied."""
    backup.parent.mkdir(parents=True, exist_ok=True)
    tmp = backup.with_name(backup.name + ".part")
    tmp.unlink(missing_ok=True)
    digest = _copy_verified(src, tmp)
    os.replace(tmp, backup)
    return digest


def restore_file(backup: Path, dest: Path) -> None:
    """Put the bytes of `backup` back at `dest`, atomically (temp copy beside it, replace)."""
    tmp = tmp_path_for(dest, "restore")
    tmp.unlink(missing_ok=True)
    try:
        _copy_verified(backup, tmp)
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    finally:
        tmp.unlink(missing_ok=True)


def remove_tree(folder: Path) -> None:
    """Remove a folder samplesort owns (a pack's staging folder) with everything in it."""
    shutil.rmtree(folder, ignore_errors=True)


def write_stream(dest: Path, chunks: Iterable[bytes], *, mtime: float | None = None) -> None:
    """Write `chunks` to `dest` through a hidden temporary name renamed into place (a crash
    never leaves a partial file under the final name); `mtime` sets its times. `dest` is in a
    folder samplesort owns (staging), so replacing is allowed there."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        with open(tmp, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
