"""The only module that rewrites file contents: samplesort's tags written into audio files
(mutagen for ID3 and Vorbis comments, `iff.py`'s chunk writer for WAV/AIFF and WAV's RIFF
INFO list), always through a verified temp copy that replaces the original atomically. This
module owns the public API, the checks and the write/verify sequence; `tags_fields.py` owns
`SampleTags`, the field keys and `TagError` (importable from here), `tags_formats.py` the field
mapping and its reading and editing per container; `iff.py` (chunk lists, byte level) and
`payload.py` (audio payload digests) only read and write the open files handed to them.

How a write happens (`write_tags`): refuse symlinks, hard-linked and read-only files and
read-only folders; take the container from the file's first bytes (an AIFF named .wav is
tagged as AIFF); copy it (MP3/FLAC/OGG, then mutagen edits the copy) or rebuild it (WAV/AIFF,
`iff.rebuild`: every chunk streamed over unchanged and in order, the `id3 ` chunk and
`LIST`/`INFO` list replaced in place or appended after the last chunk, pad bytes written where
a writer left them out, form size fixed) into `.<name>.<random>.samplesort.tmp` beside it
(no audio suffix, so folder watchers ignore it); verify the copy: the raw audio payload is
identical (`payload.payload`: for WAV/AIFF every chunk we do not own, same order and bytes;
FLAC: STREAMINFO, every non-comment block and all frames; OGG: every packet but the comment
header, and the granule position of every page that ends an audio packet; MP3: everything
between the ID3v2 tag and an ID3v1 tag), libsndfile decodes the original and the copy to the
same samples, and our fields read back; copy the mode, owner (where allowed) and extended
attributes (and the mtime if asked); then fsync, `os.replace`, fsync the folder. On any
failure the copy is removed, the original is untouched, and a `TagError` names the file and
the reason. RF64/BW64, RIFX, truncated and garbled files, and files libsndfile cannot decode,
are refused rather than repaired. (An Ogg file whose first audio packets share a page with
the setup header is refused too: mutagen re-pages the headers, zeroing that page's granule
position, and libsndfile then decodes a different number of samples. One LMMS sample,
cello01.ogg, is such a file.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

from . import iff
from .errors import reason
from .fsops import fsync_dir
from .iff import FormatError
from .payload import id3v2_size, ogg_packets_equal, payload
from .tags_fields import COMMENT_PREFIX, FIELD_KEYS, SampleTags, TagError
from .tags_formats import edit_with_mutagen, read_fields, write_iff

__all__ = [
    "COMMENT_PREFIX",
    "FIELD_KEYS",
    "TAGGABLE_SUFFIXES",
    "TEMP_SUFFIX",
    "SampleTags",
    "TagError",
    "can_tag",
    "leftover_temps",
    "read_tags",
    "write_tags",
]

TAGGABLE_SUFFIXES: frozenset[str] = frozenset(
    {".wav", ".wave", ".aif", ".aiff", ".aifc", ".flac", ".ogg", ".mp3"}
)
_WAV = frozenset({".wav", ".wave"})
_AIFF = frozenset({".aif", ".aiff", ".aifc"})
TEMP_SUFFIX = ".samplesort.tmp"


def can_tag(path: Path) -> bool:
    """True for the suffixes `write_tags` handles (by name only; the content is checked when
    writing). AppleDouble `._x` files are not audio."""
    path = Path(path)
    return path.suffix.lower() in TAGGABLE_SUFFIXES and not path.name.startswith("._")


def _temp_prefix(path: Path) -> str:
    return f".{path.name[:60]}."


def leftover_temps(path: Path) -> list[Path]:
    """The temporary copies a `write_tags` of `path` killed before its atomic replace left
    beside it (`.<name>.<random>.samplesort.tmp`); undo removes them."""
    head = _temp_prefix(path)
    try:
        names = os.listdir(path.parent)
    except OSError:
        return []
    return [path.parent / n for n in names if n.startswith(head) and n.endswith(TEMP_SUFFIX)]


# --- public entry points ---------------------------------------------------------------------


def read_tags(path: Path) -> dict[str, str]:
    """samplesort's fields (keys of `SampleTags.fields()`) as stored in `path`; {} if none."""
    path = Path(path)
    return read_fields(path, _kind(path))


def write_tags(path: Path, tags: SampleTags, *, preserve_mtime: bool = False) -> None:
    """Write `tags` into `path` atomically, keeping every other tag and the audio bit-identical.

    `preserve_mtime` keeps the file's modification time (default: the change shows as new).
    Raises `TagError` (one line: the file and the reason) and leaves the original untouched."""
    path = Path(path)
    st = _check_writable(path)
    kind = _kind(path)
    tmp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=TEMP_SUFFIX, dir=path.parent)
        tmp = Path(name)
        with open(path, "rb") as src, os.fdopen(fd, "w+b") as dst:
            if os.fstat(src.fileno()).st_ino != st.st_ino:
                raise TagError(f"{path}: changed while being tagged; not tagged")
            if kind in ("wav", "aiff"):
                write_iff(src, dst, path, kind, tags)
            else:
                shutil.copyfileobj(src, dst, iff.COPY_BLOCK)
                dst.flush()
                edit_with_mutagen(tmp, path, kind, tags)
            dst.seek(0)
            _verify(src, dst, path, tmp, kind, tags)
            dst.flush()
            # Keep the owner where we may (root, or our own file); otherwise the copy stays ours.
            with contextlib.suppress(OSError):
                if hasattr(os, "fchown"):  # POSIX only
                    os.fchown(dst.fileno(), st.st_uid, st.st_gid)
            shutil.copystat(path, tmp)  # mode, flags, extended attributes (e.g. colour labels)
            if not preserve_mtime:
                os.utime(tmp)
            os.fsync(dst.fileno())
        now = os.stat(path, follow_symlinks=False)
        if (now.st_ino, now.st_size, now.st_mtime_ns) != (st.st_ino, st.st_size, st.st_mtime_ns):
            raise TagError(f"{path}: changed while being tagged; not tagged")
        os.replace(tmp, path)
        tmp = None
        fsync_dir(path.parent)
    except TagError:
        raise
    except FormatError as exc:
        raise TagError(str(exc)) from exc
    except Exception as exc:
        raise TagError(f"{path}: not tagged: {reason(exc)}") from exc
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


# --- checks ----------------------------------------------------------------------------------


def _kind(path: Path) -> str:
    """The container, from the first bytes (a .wav that is really AIFF is tagged as AIFF),
    for the suffixes samplesort tags; TagError for any other suffix."""
    if not can_tag(path):
        raise TagError(f"{path}: cannot tag {path.suffix or 'suffix-less'} files")
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if head[:3] == b"ID3" and len(head) >= 10:
                f.seek(id3v2_size(head))
                return "flac" if f.read(4) == b"fLaC" else "mp3"
    except OSError as exc:
        raise TagError(f"{path}: cannot read: {reason(exc)}") from exc
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    suffix = path.suffix.lower()
    return "wav" if suffix in _WAV else "aiff" if suffix in _AIFF else suffix[1:]


_MAGIC = {
    b"RIFF": "wav",
    b"RIFX": "wav",
    b"RF64": "wav",
    b"BW64": "wav",
    b"FORM": "aiff",
    b"fLaC": "flac",
    b"OggS": "ogg",
}


def _check_writable(path: Path) -> os.stat_result:
    """The file's stat, or TagError if tagging it in place would be wrong or impossible."""
    try:
        st = os.stat(path, follow_symlinks=False)
        folder = os.stat(path.parent)
    except OSError as exc:
        raise TagError(f"{path}: cannot tag: {reason(exc)}") from exc
    if stat.S_ISLNK(st.st_mode):
        raise TagError(f"{path}: is a symlink; tag the file it points to instead")
    if not stat.S_ISREG(st.st_mode):
        raise TagError(f"{path}: not a regular file")
    if st.st_nlink > 1:
        raise TagError(
            f"{path}: has {st.st_nlink} hard links; replacing it would split them; not tagged"
        )
    # Mode bits as well as access(): a file marked read-only stays untouched even for root.
    if not st.st_mode & 0o222 or not os.access(path, os.W_OK):
        raise TagError(f"{path}: file is read-only; not tagged")
    if not folder.st_mode & 0o222 or not os.access(path.parent, os.W_OK | os.X_OK):
        raise TagError(f"{path}: folder is read-only (the temp copy goes beside the file)")
    return st


# --- verification ----------------------------------------------------------------------------


def _verify(
    src: BinaryIO, dst: BinaryIO, path: Path, tmp: Path, kind: str, tags: SampleTags
) -> None:
    """Raise TagError unless the temp copy holds the same audio and our fields read back."""
    try:
        before, after = payload(src, path, kind), payload(dst, tmp, kind)
        if before != after:
            what = "the audio payload"
            if kind == "ogg" and ogg_packets_equal(before, after):
                what = "the Ogg page granule positions (mutagen re-pages the headers)"
            raise TagError(f"{path}: tagging would change {what}; not tagged")
        problem = _decode_difference(path, tmp)
        if problem:
            raise TagError(f"{path}: {problem}; not tagged")
        got = read_fields(tmp, kind)
    except (TagError, FormatError) as exc:
        raise TagError(str(exc).replace(str(tmp), f"{path} (tagged copy)")) from exc
    if got != tags.fields():
        raise TagError(f"{path}: tags did not read back as written ({got}); not tagged")


def _decode_difference(a: Path, b: Path) -> str | None:
    """None if libsndfile decodes `a` and `b` to the same samples, else what differs."""
    import soundfile as sf

    try:
        fa = sf.SoundFile(str(a))
    except Exception as exc:
        return f"not readable audio ({reason(exc)})"
    try:
        fb = sf.SoundFile(str(b))
    except Exception as exc:
        fa.close()
        return f"the tagged copy would not decode ({reason(exc)})"
    with fa, fb:
        shape_a = (fa.samplerate, fa.channels, fa.frames, fa.format, fa.subtype)
        shape_b = (fb.samplerate, fb.channels, fb.frames, fb.format, fb.subtype)
        if shape_a != shape_b:
            return f"tagging would change the stream from {shape_a} to {shape_b}"
        while True:
            xa = fa.read(65536, dtype="float64")
            xb = fb.read(65536, dtype="float64")
            if xa.tobytes() != xb.tobytes():
                return "tagging would change the decoded samples"
            if len(xa) == 0:
                return None
