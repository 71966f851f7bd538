"""Zip sample packs: list a pack's audio safely and extract it into a staging folder.

A pack is refused as a whole, with one line naming the zip and the reason, when any entry could
write outside the target (a `..` component, an absolute path, a drive letter, a symlink entry),
is encrypted, or looks like a zip bomb (too many entries, too much uncompressed data, a large
entry with an implausible compression ratio, more data than the disk has free). Extraction reads
at most each entry's declared size (zipfile stops there and checks the CRC), writes every file
to a temporary name then renames it, and gives it the entry's timestamp, so extracting the same
pack twice gives the same paths, sizes and mtimes. Only audio entries are extracted; the zip
itself is never modified or deleted here.
"""

from __future__ import annotations

import re
import shutil
import stat
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import fsops
from .audio import is_audio_path
from .errors import SampleSortError

PACK_EXTENSIONS = frozenset({".zip"})
JUNK_PARTS = frozenset({"__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini"})
_DRIVE = re.compile(r"^[A-Za-z]:")
_CHUNK = 1 << 20


class PackError(SampleSortError):
    """A zip pack was refused or could not be read (one line naming the zip and why)."""


@dataclass(frozen=True)
class PackLimits:
    """Zip-bomb caps. The ratio cap applies to entries over `ratio_floor_bytes` only: a short
    one-shot with a silent tail can deflate 100:1 and harms nobody."""

    max_total_bytes: int = 8 * 1024**3
    max_entries: int = 50_000
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 1024**2


@dataclass(frozen=True)
class PackEntry:
    name: str  # the zip's name for it
    parts: tuple[str, ...]  # the safe relative path it is extracted to
    size: int  # uncompressed bytes, as declared
    compressed: int


@dataclass(frozen=True)
class PackListing:
    path: Path
    audio: tuple[PackEntry, ...]
    skipped: int  # entries that are not audio, OS junk, or repeat a name
    total_bytes: int  # uncompressed size of the audio entries

    @property
    def name(self) -> str:
        """The pack's name for `{pack}` in templates: the zip's stem."""
        return self.path.stem


def is_pack_path(path: Path) -> bool:
    return path.suffix.lower() in PACK_EXTENSIONS and not path.name.startswith(".")


def _refuse(zip_path: Path, reason: str) -> PackError:
    return PackError(f"{zip_path}: refused: {reason}")


def _safe_parts(info: zipfile.ZipInfo) -> tuple[str, ...] | str:
    """The entry's path components, or why the entry could escape the target."""
    raw = info.filename
    if "\x00" in raw:
        return f"entry {raw!r} has a NUL byte in its name"
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"entry {raw!r} is a symlink"
    name = raw.replace("\\", "/")
    if name.startswith("/"):
        return f"entry {raw!r} has an absolute path"
    if _DRIVE.match(name):
        return f"entry {raw!r} has a drive letter"
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        return f"entry {raw!r} would be written outside the pack folder ('..')"
    return parts


def _is_junk(parts: tuple[str, ...]) -> bool:
    return any(p in JUNK_PARTS or p.startswith(".") for p in parts)


def inspect(zip_path: Path, limits: PackLimits = PackLimits()) -> PackListing:
    """List the audio in `zip_path`; raise `PackError` if the pack must be refused."""
    zip_path = Path(zip_path)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise PackError(f"{zip_path}: not a readable zip: {exc}") from None
    except OSError as exc:
        raise PackError(f"{zip_path}: cannot read: {exc.strerror or exc}") from None
    if len(infos) > limits.max_entries:
        raise _refuse(zip_path, f"{len(infos)} entries, more than the cap of {limits.max_entries}")
    audio: list[PackEntry] = []
    seen: set[tuple[str, ...]] = set()
    skipped = 0
    total = 0
    for info in infos:
        parts = _safe_parts(info)
        if isinstance(parts, str):
            raise _refuse(zip_path, parts)
        if info.is_dir() or not parts:
            continue
        if info.flag_bits & 0x1:
            raise _refuse(zip_path, f"entry {info.filename!r} is encrypted")
        size, packed = info.file_size, info.compress_size
        if size > limits.ratio_floor_bytes and size > limits.max_ratio * max(packed, 1):
            raise _refuse(
                zip_path,
                f"entry {info.filename!r} expands {size / max(packed, 1):.0f}x "
                f"({packed} -> {size} bytes), over the cap of {limits.max_ratio:.0f}x (zip bomb?)",
            )
        if _is_junk(parts) or not is_audio_path(Path(parts[-1])) or parts in seen:
            skipped += 1
            continue
        seen.add(parts)
        total += size
        if total > limits.max_total_bytes:
            raise _refuse(
                zip_path,
                f"more than {limits.max_total_bytes} bytes of audio uncompressed "
                "(the cap; zip bomb?)",
            )
        audio.append(PackEntry(info.filename, parts, size, packed))
    return PackListing(zip_path, tuple(audio), skipped, total)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def extract(zip_path: Path, target: Path, limits: PackLimits = PackLimits()) -> tuple[Path, ...]:
    """Extract the audio of `zip_path` under `target` (emptied first: it is a staging folder
    owned by the caller), keeping the pack's folders. Returns the extracted files in the
    pack's order. Raises `PackError` when the pack is refused or cannot be read; then nothing
    is left under `target`."""
    listing = inspect(zip_path, limits)
    target = Path(target)
    fsops.remove_tree(target)
    fsops.make_dir_tree(target)
    root = target.resolve()
    free = shutil.disk_usage(root).free
    if listing.total_bytes > free:
        fsops.remove_tree(target)
        raise _refuse(zip_path, f"{listing.total_bytes} bytes of audio but only {free} bytes free")
    written: list[Path] = []
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for entry in listing.audio:
                dest = root.joinpath(*entry.parts)
                if not _inside(dest.parent.resolve(), root):  # belt and braces
                    raise _refuse(zip_path, f"entry {entry.name!r} resolves outside the target")
                _copy_entry(zf, entry, dest, zip_path)
                written.append(dest)
    except PackError:
        fsops.remove_tree(target)
        raise
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        fsops.remove_tree(target)
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise PackError(f"{zip_path}: cannot extract: {reason}") from None
    return tuple(written)


def _copy_entry(zf: zipfile.ZipFile, entry: PackEntry, dest: Path, zip_path: Path) -> None:
    info = zf.getinfo(entry.name)

    def chunks() -> Iterator[bytes]:
        n = 0
        with zf.open(info) as src:
            while chunk := src.read(_CHUNK):
                n += len(chunk)
                if n > entry.size:  # zipfile stops at the declared size; never trust it blindly
                    raise _refuse(zip_path, f"entry {entry.name!r} holds more than it declares")
                yield chunk

    fsops.write_stream(dest, chunks(), mtime=time.mktime((*info.date_time, 0, 0, -1)))
