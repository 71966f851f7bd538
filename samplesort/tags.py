"""The only module that rewrites file contents: samplesort's tags written into audio files
(mutagen for ID3 and Vorbis comments, our own chunk writer for WAV's RIFF INFO list), always
through a verified temp copy that replaces the original atomically.

Field mapping (`SampleTags` -> file). samplesort *owns* genre and grouping (re-tagging
overwrites them), its own `SAMPLESORT_*` fields, and the comment / keywords only as far as
described; every other tag, frame, comment, INFO item and chunk is kept byte for byte.

    field       ID3 (WAV `id3 ` chunk,          Vorbis comments        RIFF INFO (WAV)
                AIFF `ID3 ` chunk, MP3)         (FLAC, OGG)
    label       TCON (genre)                    GENRE                  IGNR (genre)
    group       TIT1 and GRP1 (grouping)        GROUPING               in IKEY
    every one   TXXX:SAMPLESORT_LABEL, _GROUP,  the same SAMPLESORT_*  -
                _CONFIDENCE, _MODEL_ID,         keys
                _VERSION, _LABELS
    summary     COMM (desc "", lang "eng")      COMMENT                ICMT (comment)
    keywords    -                               -                      IKEY "samplesort; kick; .."

* The summary comment reads
  `samplesort: label=kick group=kick confidence=0.930 model=... version=...`. It is written
  only where the comment is empty or already samplesort's (starts `samplesort:`): a user's own
  comment is never replaced. `SAMPLESORT_*` always carries the values.
* With no group, a grouping field is cleared only if it still holds the group samplesort wrote.
* `IKEY` keeps the user's keywords and replaces samplesort's previous ones (known from the
  previous `SAMPLESORT_*` values).
* ID3 keeps the version a file already has (v2.4 stays v2.4); new tags are ID3v2.3, which
  Windows, older DAWs and hardware samplers read. In WAV/AIFF the ID3 tag has no padding.

How a write happens (`write_tags`): refuse symlinks, hard-linked and read-only files and
read-only folders; take the container from the file's first bytes (an AIFF named .wav is
tagged as AIFF); copy it (MP3/FLAC/OGG, then mutagen edits the copy) or rebuild it (WAV/AIFF:
every chunk streamed over unchanged and in order, the `id3 ` chunk and `LIST`/`INFO` list
replaced in place or appended after the last chunk, pad bytes written where a writer left
them out, form size fixed) into `.<name>.<random>.samplesort.tmp` beside it (no audio suffix,
so folder watchers ignore it); verify the copy: the raw audio payload is identical (WAV/AIFF:
every chunk we do not own, same order and bytes; FLAC: STREAMINFO, every non-comment block and
all frames; OGG: every packet but the comment header, and the granule position of every page
that ends an audio packet; MP3: everything between the ID3v2 tag and an ID3v1 tag),
libsndfile decodes the original and the copy to the same samples, and our fields read back;
copy the mode, owner (where allowed) and extended attributes (and the mtime if asked); then
fsync, `os.replace`, fsync the folder. On any failure the copy is removed, the original
is untouched, and a `TagError` names the file and the reason. RF64/BW64, RIFX, truncated and
garbled files, and files libsndfile cannot decode, are refused rather than repaired. (An Ogg
file whose first audio packets share a page with the setup header is refused too: mutagen
re-pages the headers, zeroing that page's granule position, and libsndfile then decodes a
different number of samples. One LMMS sample, cello01.ogg, is such a file.)
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .errors import SampleSortError

TAGGABLE_SUFFIXES: frozenset[str] = frozenset(
    {".wav", ".wave", ".aif", ".aiff", ".aifc", ".flac", ".ogg", ".mp3"}
)
_WAV = frozenset({".wav", ".wave"})
_AIFF = frozenset({".aif", ".aiff", ".aifc"})
FIELD_KEYS: dict[str, str] = {
    "label": "SAMPLESORT_LABEL",
    "group": "SAMPLESORT_GROUP",
    "confidence": "SAMPLESORT_CONFIDENCE",
    "model_id": "SAMPLESORT_MODEL_ID",
    "version": "SAMPLESORT_VERSION",
    "labels": "SAMPLESORT_LABELS",
}
COMMENT_PREFIX = "samplesort:"
TEMP_SUFFIX = ".samplesort.tmp"
_COPY_BLOCK = 1 << 20


class TagError(SampleSortError):
    """A file could not be tagged or its tags read; the original file is untouched."""


@dataclass(frozen=True)
class SampleTags:
    label: str
    group: str | None
    confidence: float
    model_id: str
    version: str  # samplesort's version
    labels: tuple[str, ...] = ()  # every accepted label (layered samples), optional

    def fields(self) -> dict[str, str]:
        """samplesort's fields as the strings written (and read back by `read_tags`)."""
        out = {"label": self.label}
        if self.group:
            out["group"] = self.group
        out |= {
            "confidence": f"{self.confidence:.3f}",
            "model_id": self.model_id,
            "version": self.version,
        }
        if self.labels:
            out["labels"] = "; ".join(self.labels)
        return out

    def comment(self) -> str:
        parts = [f"label={self.label}"]
        if self.group:
            parts.append(f"group={self.group}")
        parts += [f"confidence={self.confidence:.3f}", f"model={self.model_id}"]
        if self.labels:
            parts.append("labels=" + ",".join(self.labels))
        return f"{COMMENT_PREFIX} " + " ".join([*parts, f"version={self.version}"])


def can_tag(path: Path) -> bool:
    """True for the suffixes `write_tags` handles (by name only; the content is checked when
    writing). AppleDouble `._x` files are not audio."""
    path = Path(path)
    return path.suffix.lower() in TAGGABLE_SUFFIXES and not path.name.startswith("._")


# --- public entry points ---------------------------------------------------------------------


def read_tags(path: Path) -> dict[str, str]:
    """samplesort's fields (keys of `SampleTags.fields()`) as stored in `path`; {} if none."""
    path = Path(path)
    return _read_fields(path, _kind(path))


def _read_fields(path: Path, kind: str) -> dict[str, str]:
    try:
        with open(path, "rb") as f:
            if kind in ("wav", "aiff"):
                form = _parse_form(f, path, kind)
                ch = form.id3_chunk(path)
                return _id3_fields(_load_id3(_chunk_bytes(f, ch), path)) if ch else {}
            if kind == "mp3":
                return _id3_fields(_load_id3(_leading_id3(f), path))
        return _vorbis_fields(_open_vorbis(path, kind, path).tags)
    except TagError:
        raise
    except Exception as exc:  # mutagen.MutagenError, OSError, struct.error, ...
        raise TagError(f"{path}: cannot read tags: {_reason(exc)}") from exc


def read_riff_info(path: Path) -> dict[str, str]:
    """The WAV's LIST/INFO items as text (`{"IGNR": "kick", ...}`); {} if it has none."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            ch = _parse_form(f, path, "wav").info_chunk(path)
            if ch is None:
                return {}
            items = _info_items(_chunk_bytes(f, ch), path)
    except TagError:
        raise
    except Exception as exc:
        raise TagError(f"{path}: cannot read RIFF INFO: {_reason(exc)}") from exc
    return {k.decode("latin-1"): _info_text(v) for k, v in items}


def write_tags(path: Path, tags: SampleTags, *, preserve_mtime: bool = False) -> None:
    """Write `tags` into `path` atomically, keeping every other tag and the audio bit-identical.

    `preserve_mtime` keeps the file's modification time (default: the change shows as new).
    Raises `TagError` (one line: the file and the reason) and leaves the original untouched."""
    path = Path(path)
    st = _check_writable(path)
    kind = _kind(path)
    tmp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(
            prefix=f".{path.name[:60]}.", suffix=TEMP_SUFFIX, dir=path.parent
        )
        tmp = Path(name)
        with open(path, "rb") as src, os.fdopen(fd, "w+b") as dst:
            if os.fstat(src.fileno()).st_ino != st.st_ino:
                raise TagError(f"{path}: changed while being tagged; not tagged")
            if kind in ("wav", "aiff"):
                _write_iff(src, dst, path, kind, tags)
            else:
                shutil.copyfileobj(src, dst, _COPY_BLOCK)
                dst.flush()
                _edit_with_mutagen(tmp, path, kind, tags)
            dst.seek(0)
            _verify(src, dst, path, tmp, kind, tags)
            dst.flush()
            try:
                if hasattr(os, "fchown"):  # POSIX only
                    os.fchown(dst.fileno(), st.st_uid, st.st_gid)
            except OSError:
                pass  # not ours to give away; the file keeps our ownership
            shutil.copystat(path, tmp)  # mode, flags, extended attributes (e.g. colour labels)
            if not preserve_mtime:
                os.utime(tmp)
            os.fsync(dst.fileno())
        now = os.stat(path, follow_symlinks=False)
        if (now.st_ino, now.st_size, now.st_mtime_ns) != (st.st_ino, st.st_size, st.st_mtime_ns):
            raise TagError(f"{path}: changed while being tagged; not tagged")
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(path.parent)
    except TagError:
        raise
    except Exception as exc:
        raise TagError(f"{path}: not tagged: {_reason(exc)}") from exc
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
                f.seek(_id3_size(head))
                return "flac" if f.read(4) == b"fLaC" else "mp3"
    except OSError as exc:
        raise TagError(f"{path}: cannot read: {_reason(exc)}") from exc
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


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    lines = str(exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    if reason.startswith("Error opening") and "': " in reason:  # soundfile names the file
        reason = reason.split("': ", 1)[1]
    return reason


def _check_writable(path: Path) -> os.stat_result:
    """The file's stat, or TagError if tagging it in place would be wrong or impossible."""
    try:
        st = os.stat(path, follow_symlinks=False)
        folder = os.stat(path.parent)
    except OSError as exc:
        raise TagError(f"{path}: cannot tag: {_reason(exc)}") from exc
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


def _fsync_dir(folder: Path) -> None:
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


# --- IFF (RIFF/WAVE and FORM/AIFF) -----------------------------------------------------------


@dataclass(frozen=True)
class _Chunk:
    cid: bytes
    offset: int  # of the 8-byte header
    size: int  # declared data size
    list_type: bytes = b""  # first 4 data bytes of a LIST chunk
    padded: bool = True  # an odd-sized chunk is followed by its pad byte (some writers omit it)

    @property
    def data_offset(self) -> int:
        return self.offset + 8

    def is_id3(self) -> bool:
        return self.cid.upper() == b"ID3 "

    def is_info(self) -> bool:
        return self.cid == b"LIST" and self.list_type == b"INFO"


@dataclass(frozen=True)
class _Form:
    big_endian: bool
    magic: bytes
    form_type: bytes
    chunks: tuple[_Chunk, ...]
    end: int  # where the last chunk (and its pad byte, if present) ends
    file_size: int

    def _one(self, pick: Callable[[_Chunk], bool], what: str, path: Path) -> _Chunk | None:
        found = [c for c in self.chunks if pick(c)]
        if len(found) > 1:
            raise TagError(f"{path}: {len(found)} {what} chunks; refusing to guess which counts")
        return found[0] if found else None

    def id3_chunk(self, path: Path) -> _Chunk | None:
        return self._one(_Chunk.is_id3, "ID3", path)

    def info_chunk(self, path: Path) -> _Chunk | None:
        return self._one(_Chunk.is_info, "LIST/INFO", path)


def _parse_form(f: BinaryIO, path: Path, kind: str) -> _Form:
    """Walk the top-level chunks strictly; refuse anything we could not rewrite faithfully."""
    f.seek(0)
    file_size = os.fstat(f.fileno()).st_size
    head = f.read(12)
    want = (b"RIFF", (b"WAVE",)) if kind == "wav" else (b"FORM", (b"AIFF", b"AIFC"))
    if len(head) < 12:
        raise TagError(f"{path}: too short ({file_size} bytes) for a {kind.upper()} file")
    magic, form_type = head[:4], head[8:12]
    if magic in (b"RF64", b"BW64"):
        raise TagError(f"{path}: {magic.decode()} (64-bit WAV) files are not supported; not tagged")
    if magic == b"RIFX":
        raise TagError(f"{path}: big-endian RIFX files are not supported; not tagged")
    if magic != want[0] or form_type not in want[1]:
        raise TagError(f"{path}: not a {kind.upper()} file (header {head[:12]!r})")
    big = kind == "aiff"
    fmt = ">I" if big else "<I"
    declared_end = 8 + struct.unpack(fmt, head[4:8])[0]
    limit = min(declared_end, file_size)
    audio = {b"fmt ", b"data"} if kind == "wav" else {b"COMM", b"SSND"}
    chunks: list[_Chunk] = []
    pos = 12
    while pos < file_size:
        if not _header_fits(f, pos, fmt, file_size):
            if pos >= limit or audio <= {c.cid for c in chunks}:
                break  # not a chunk, after the form or the audio: kept verbatim after the form
            raise TagError(f"{path}: {_not_a_chunk(f, pos, fmt, file_size)}; not tagged")
        f.seek(pos)
        cid, size = struct.unpack(fmt[0] + "4sI", f.read(8))
        end = pos + 8 + size
        list_type = f.read(4) if cid == b"LIST" and size >= 4 else b""
        # A pad byte should be 0; where the next chunk starts without it (or the file ends),
        # the writer left it out: tolerated, and written when the file is rebuilt.
        padded = not size & 1 or (end < file_size and not _header_fits(f, end, fmt, file_size))
        chunks.append(_Chunk(cid, pos, size, list_type, padded))
        pos = end + (size & 1 if padded else 0)
    for cid in (b"fmt ", b"data") if kind == "wav" else (b"COMM",):
        if not any(c.cid == cid for c in chunks):
            raise TagError(f"{path}: no {cid.decode()!r} chunk; not a valid {kind.upper()} file")
    return _Form(big, magic, form_type, tuple(chunks), pos, file_size)


def _not_a_chunk(f: BinaryIO, pos: int, fmt: str, file_size: int) -> str:
    """Why no chunk header starts at `pos` (for a one-line refusal)."""
    if file_size - pos < 8:
        return f"{file_size - pos} stray bytes at offset {pos}"
    f.seek(pos)
    cid, size = struct.unpack(fmt[0] + "4sI", f.read(8))
    if not all(0x20 <= b <= 0x7E for b in cid):
        return f"garbage where a chunk header should be (offset {pos})"
    short = pos + 8 + size - file_size
    return (
        f"truncated: chunk {cid.decode()!r} at offset {pos} declares {size} bytes, "
        f"the file ends {short} bytes early"
    )


def _header_fits(f: BinaryIO, at: int, fmt: str, file_size: int) -> bool:
    """True if a plausible chunk header (printable id, data inside the file) starts at `at`."""
    f.seek(at)
    header = f.read(8)
    return (
        len(header) == 8
        and all(0x20 <= b <= 0x7E for b in header[:4])
        and at + 8 + struct.unpack(fmt, header[4:])[0] <= file_size
    )


def _chunk_bytes(f: BinaryIO, ch: _Chunk) -> bytes:
    f.seek(ch.data_offset)
    return f.read(ch.size)


def _copy_range(src: BinaryIO, dst: BinaryIO, start: int, n: int) -> None:
    src.seek(start)
    while n > 0:
        block = src.read(min(n, _COPY_BLOCK))
        if not block:
            raise TagError(f"{getattr(src, 'name', '?')}: file shrank while being read")
        dst.write(block)
        n -= len(block)


def _chunk_digest(f: BinaryIO, ch: _Chunk) -> tuple[bytes, int, bytes]:
    h = hashlib.blake2b()
    f.seek(ch.data_offset)
    n = ch.size
    while n > 0:
        block = f.read(min(n, _COPY_BLOCK))
        if not block:
            break
        h.update(block)
        n -= len(block)
    return ch.cid, ch.size, h.digest()


def _write_iff(src: BinaryIO, dst: BinaryIO, path: Path, kind: str, tags: SampleTags) -> None:
    """Rebuild the file into `dst`: every chunk copied unchanged, ours replaced or appended."""
    form = _parse_form(src, path, kind)
    id3_ch, info_ch = form.id3_chunk(path), form.info_chunk(path) if kind == "wav" else None
    id3 = _load_id3(_chunk_bytes(src, id3_ch), path) if id3_ch else None
    prev = _id3_fields(id3) if id3 is not None else {}
    id3_data = _id3_bytes(_edit_id3(id3, tags, prev))
    new: dict[int, bytes] = {}
    tail: list[tuple[bytes, bytes]] = []
    if kind == "wav":
        old_items = _info_items(_chunk_bytes(src, info_ch), path) if info_ch else []
        info = b"INFO" + _info_payload(old_items, tags, prev)
        if info_ch:
            new[info_ch.offset] = info
        else:
            tail.append((b"LIST", info))
    if id3_ch:
        new[id3_ch.offset] = id3_data
    else:
        tail.append((b"id3 " if kind == "wav" else b"ID3 ", id3_data))
    fmt = ">I" if form.big_endian else "<I"
    dst.seek(0)
    dst.write(form.magic + b"\0\0\0\0" + form.form_type)
    for ch in form.chunks:
        if ch.offset in new:
            cid = b"ID3 " if kind == "aiff" and ch.is_id3() else ch.cid  # mutagen reads "ID3 "
            _write_chunk(dst, cid, new[ch.offset], fmt)
            continue
        _copy_range(src, dst, ch.offset, 8 + ch.size)
        if ch.size & 1:  # keep the pad byte; write one where the file left it out
            src.seek(ch.data_offset + ch.size)
            dst.write(src.read(1) if ch.padded else b"\0")
    for cid, data in tail:
        _write_chunk(dst, cid, data, fmt)
    form_size = dst.tell() - 8
    if form_size > 0xFFFFFFFF:
        raise TagError(f"{path}: the tagged file would exceed 4 GiB; not tagged")
    if form.end < form.file_size:  # bytes after the form: not ours, kept as they were
        _copy_range(src, dst, form.end, form.file_size - form.end)
    dst.truncate()
    dst.seek(4)
    dst.write(struct.pack(fmt, form_size))
    dst.flush()


def _write_chunk(dst: BinaryIO, cid: bytes, data: bytes, fmt: str) -> None:
    dst.write(cid + struct.pack(fmt, len(data)) + data + b"\0" * (len(data) & 1))


def _info_items(payload: bytes, path: Path) -> list[tuple[bytes, bytes]]:
    """(id, raw value) items of a LIST/INFO payload (which starts with b"INFO")."""
    items: list[tuple[bytes, bytes]] = []
    pos = 4
    while len(payload) - pos >= 8:
        cid, size = payload[pos : pos + 4], struct.unpack("<I", payload[pos + 4 : pos + 8])[0]
        if not all(0x20 <= b <= 0x7E for b in cid) or pos + 8 + size > len(payload):
            raise TagError(f"{path}: malformed LIST/INFO chunk (item at {pos}); not tagged")
        items.append((cid, payload[pos + 8 : pos + 8 + size]))
        pos += 8 + size
        if size & 1 and pos < len(payload) and (payload[pos] == 0 or not _item_at(payload, pos)):
            pos += 1  # a pad byte (some writers leave it out, some write garbage)
    if any(payload[pos:]):
        raise TagError(f"{path}: malformed LIST/INFO chunk (stray bytes); not tagged")
    return items


def _item_at(payload: bytes, pos: int) -> bool:
    head = payload[pos : pos + 8]
    return (
        len(head) == 8
        and all(0x20 <= b <= 0x7E for b in head[:4])
        and pos + 8 + struct.unpack("<I", head[4:])[0] <= len(payload)
    )


def _info_text(raw: bytes) -> str:
    raw = raw.split(b"\0", 1)[0]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _keywords(old: str, tags: SampleTags, prev: dict[str, str]) -> str:
    ours = ["samplesort", tags.label, *tags.labels, *([tags.group] if tags.group else [])]
    stale = {"samplesort", prev.get("label"), prev.get("group")}
    stale |= {s.strip() for s in prev.get("labels", "").split(";")}
    kept = [k.strip() for k in old.split(";") if k.strip() and k.strip() not in stale]
    return "; ".join(dict.fromkeys([*kept, *ours]))


def _info_payload(
    items: list[tuple[bytes, bytes]], tags: SampleTags, prev: dict[str, str]
) -> bytes:
    old = {cid: _info_text(v) for cid, v in items}
    values = {b"IGNR": tags.label, b"IKEY": _keywords(old.get(b"IKEY", ""), tags, prev)}
    if not old.get(b"ICMT") or old[b"ICMT"].startswith(COMMENT_PREFIX):
        values[b"ICMT"] = tags.comment()
    encoded = {k: v.encode("utf-8") + b"\0" for k, v in values.items()}
    out = []
    for cid, raw in items:
        if cid in values:
            if cid in encoded:
                out.append((cid, encoded.pop(cid)))
            continue  # a duplicate of an item we own: dropped
        out.append((cid, raw))
    out += list(encoded.items())
    return b"".join(cid + struct.pack("<I", len(v)) + v + b"\0" * (len(v) & 1) for cid, v in out)


# --- ID3 -------------------------------------------------------------------------------------


def _load_id3(data: bytes | None, path: Path) -> Any:
    """A mutagen ID3 from a complete ID3v2 tag's bytes (None: no tag)."""
    from mutagen.id3 import ID3

    if not data:
        return None
    major = data[3] if data[:3] == b"ID3" and len(data) > 3 else 0
    try:
        return ID3(io.BytesIO(data), load_v1=False, v2_version=4 if major == 4 else 3)
    except Exception as exc:
        reason = _reason(exc)
        raise TagError(f"{path}: existing ID3 tag is unreadable ({reason}); not tagged") from exc


def _leading_id3(f: BinaryIO) -> bytes | None:
    f.seek(0)
    head = f.read(10)
    if head[:3] != b"ID3" or len(head) < 10:
        return None
    f.seek(0)
    return f.read(_id3_size(head))


def _id3_size(head: bytes) -> int:
    size = 0
    for b in head[6:10]:
        size = (size << 7) | (b & 0x7F)
    return 10 + size + (10 if head[5] & 0x10 else 0)


def _edit_id3(id3: Any, tags: SampleTags, prev: dict[str, str]) -> Any:
    from mutagen.id3 import COMM, GRP1, ID3, TCON, TIT1, TXXX

    if id3 is None:
        id3 = ID3()
        id3.version = (2, 3, 0)
    id3.setall("TCON", [TCON(encoding=_enc(tags.label), text=[tags.label])])
    for frame in (TIT1, GRP1):
        if tags.group:
            id3.setall(frame.__name__, [frame(encoding=_enc(tags.group), text=[tags.group])])
        elif prev.get("group") and any(
            list(f.text) == [prev["group"]] for f in id3.getall(frame.__name__)
        ):
            id3.delall(frame.__name__)
    plain = [f for f in id3.getall("COMM") if f.desc == ""]
    if all(str(f.text[0] if f.text else "").startswith(COMMENT_PREFIX) for f in plain):
        for f in plain:
            del id3[f.HashKey]
        id3.add(COMM(encoding=_enc(tags.comment()), lang="eng", desc="", text=[tags.comment()]))
    fields = tags.fields()
    for name, key in FIELD_KEYS.items():
        id3.delall(f"TXXX:{key}")
        if name in fields:
            id3.add(TXXX(encoding=_enc(fields[name]), desc=key, text=[fields[name]]))
    return id3


def _enc(text: str) -> int:
    """ID3 text encoding: Latin-1 (0) when it can hold `text` (compact, read by everything),
    else UTF-8 (3; mutagen writes UTF-16 in ID3v2.3)."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return 3
    return 0


def _id3_version(id3: Any) -> int:
    return 4 if tuple(id3.version[:2]) == (2, 4) else 3


def _id3_bytes(id3: Any) -> bytes:
    """The complete ID3v2 tag (header + frames, no padding) as mutagen writes it."""
    version = _id3_version(id3)
    if version == 3:
        id3.update_to_v23()
    bio = io.BytesIO()
    id3.save(bio, v1=0, v2_version=version, padding=lambda info: 0)
    return bio.getvalue()


def _id3_fields(id3: Any) -> dict[str, str]:
    if id3 is None:
        return {}
    out = {}
    for name, key in FIELD_KEYS.items():
        frames = id3.getall(f"TXXX:{key}")
        if frames and frames[0].text:
            out[name] = str(frames[0].text[0])
    return out


# --- MP3, FLAC, OGG through mutagen ----------------------------------------------------------


def _open_vorbis(path: Path, kind: str, shown: Path) -> Any:
    """mutagen's FLAC / OggVorbis for `path`; errors name `shown` (the user's file)."""
    if kind == "flac":
        from mutagen.flac import FLAC

        try:
            return FLAC(path)
        except Exception as exc:
            raise TagError(f"{shown}: not a readable FLAC file ({_reason(exc)})") from exc
    from mutagen.oggvorbis import OggVorbis

    try:
        return OggVorbis(path)
    except Exception as exc:
        raise TagError(
            f"{shown}: not Ogg Vorbis ({_reason(exc)}); only Vorbis .ogg files are tagged"
        ) from exc


def _vorbis_fields(vc: Any) -> dict[str, str]:
    if vc is None:
        return {}
    return {name: vc[key][0] for name, key in FIELD_KEYS.items() if key in vc and vc[key]}


def _edit_vorbis(vc: Any, tags: SampleTags, prev: dict[str, str]) -> None:
    vc["GENRE"] = [tags.label]
    if tags.group:
        vc["GROUPING"] = [tags.group]
    elif "GROUPING" in vc and vc["GROUPING"] == [prev.get("group")]:
        del vc["GROUPING"]
    comments = vc["COMMENT"] if "COMMENT" in vc else []
    if all(c.startswith(COMMENT_PREFIX) for c in comments):
        vc["COMMENT"] = [tags.comment()]
    fields = tags.fields()
    for name, key in FIELD_KEYS.items():
        if name in fields:
            vc[key] = [fields[name]]
        elif key in vc:
            del vc[key]


def _edit_with_mutagen(tmp: Path, path: Path, kind: str, tags: SampleTags) -> None:
    if kind == "mp3":
        from mutagen.id3 import ID3, ID3NoHeaderError

        with open(tmp, "rb") as f:
            head = f.read(4)
        try:  # an ID3v1 tag's fields are merged in (mutagen's default), so v1 stays complete
            old = ID3(tmp, v2_version=4 if head[:3] == b"ID3" and head[3:4] == b"\x04" else 3)
        except ID3NoHeaderError:
            old = None
        id3 = _edit_id3(old, tags, _id3_fields(old))
        version = _id3_version(id3)
        if version == 3:
            id3.update_to_v23()
        id3.save(tmp, v1=1, v2_version=version)
        return
    audio = _open_vorbis(tmp, kind, path)
    if audio.tags is None:
        audio.add_tags()
    _edit_vorbis(audio.tags, tags, _vorbis_fields(audio.tags))
    audio.save()


# --- verification ----------------------------------------------------------------------------


def _verify(
    src: BinaryIO, dst: BinaryIO, path: Path, tmp: Path, kind: str, tags: SampleTags
) -> None:
    """Raise TagError unless the temp copy holds the same audio and our fields read back."""
    try:
        before, after = _payload(src, path, kind), _payload(dst, tmp, kind)
        if before != after:
            what = "the audio payload"
            if kind == "ogg" and [v[0] for v in before.values()] == [v[0] for v in after.values()]:
                what = "the Ogg page granule positions (mutagen re-pages the headers)"
            raise TagError(f"{path}: tagging would change {what}; not tagged")
        problem = _decode_difference(path, tmp)
        if problem:
            raise TagError(f"{path}: {problem}; not tagged")
        got = _read_fields(tmp, kind)
    except TagError as exc:
        raise TagError(str(exc).replace(str(tmp), f"{path} (tagged copy)")) from exc
    if got != tags.fields():
        raise TagError(f"{path}: tags did not read back as written ({got}); not tagged")


def _payload(f: BinaryIO, path: Path, kind: str) -> Any:
    """What tagging must not change, as a comparable value (digests of the audio parts)."""
    f.seek(0)
    if kind in ("wav", "aiff"):
        form = _parse_form(f, path, kind)
        return [_chunk_digest(f, ch) for ch in form.chunks if not (ch.is_id3() or ch.is_info())]
    if kind == "mp3":
        start = len(_leading_id3(f) or b"")
        end = os.fstat(f.fileno()).st_size
        if end - start >= 128:
            f.seek(end - 128)
            end -= 128 if f.read(3) == b"TAG" else 0
        return _range_digest(f, start, end)
    if kind == "flac":
        return _flac_payload(f, path)
    return _ogg_payload(f, path)


def _range_digest(f: BinaryIO, start: int, end: int) -> bytes:
    return _chunk_digest(f, _Chunk(b"", start - 8, max(0, end - start)))[2]


def _flac_payload(f: BinaryIO, path: Path) -> object:
    f.seek(0)
    pos = len(_leading_id3(f) or b"")
    f.seek(pos)
    if f.read(4) != b"fLaC":
        raise TagError(f"{path}: not a FLAC file")
    pos += 4
    blocks = []
    while True:
        f.seek(pos)
        head = f.read(4)
        if len(head) < 4:
            raise TagError(f"{path}: truncated FLAC metadata")
        btype, size = head[0] & 0x7F, int.from_bytes(head[1:4], "big")
        if btype not in (1, 4):  # PADDING and VORBIS_COMMENT are ours to rewrite
            blocks.append((btype, _range_digest(f, pos + 4, pos + 4 + size)))
        pos += 4 + size
        if head[0] & 0x80:
            break
    return blocks, _range_digest(f, pos, os.fstat(f.fileno()).st_size)


def _ogg_payload(f: BinaryIO, path: Path) -> Any:
    """Per logical stream: every packet but the comment header (packet 1), and the granule
    position and end-of-stream flag of each page that ends an audio packet, keyed by that
    packet's index. Re-paging the headers (sequence numbers, CRCs) does not change it."""
    digests, pages = _ogg_scan(f, path)
    return {
        serial: (digest, [(n, g, eos) for s, n, g, eos, _ in pages if s == serial])
        for serial, digest in digests.items()
    }


def _ogg_scan(f: BinaryIO, path: Path) -> tuple[dict[int, bytes], list[tuple[int, ...]]]:
    """({serial: digest of its packets but packet 1}, [(serial, packets ended so far, granule,
    EOS flag, page offset) for each page that ends an audio packet or the stream])."""
    f.seek(0)
    digests: dict[int, Any] = {}
    count: dict[int, int] = {}
    partial: dict[int, bytes] = {}
    pages: list[tuple[int, ...]] = []
    while True:
        offset = f.tell()
        head = f.read(27)
        if not head:
            break
        if len(head) < 27 or head[:4] != b"OggS":
            raise TagError(f"{path}: malformed Ogg page at offset {offset}")
        granule, serial = struct.unpack("<qI", head[6:18])
        lacing = f.read(head[26])
        body = f.read(sum(lacing))
        if len(lacing) < head[26] or len(body) < sum(lacing):
            raise TagError(f"{path}: truncated Ogg page at offset {offset}")
        digest = digests.setdefault(serial, hashlib.blake2b())
        pos, ended = 0, False
        for n in lacing:
            partial[serial] = partial.get(serial, b"") + body[pos : pos + n]
            pos += n
            if n < 255:
                packet, index, ended = partial.pop(serial), count.get(serial, 0), True
                count[serial] = index + 1
                if index != 1:
                    digest.update(struct.pack("<QQ", index, len(packet)) + packet)
        if ended and count[serial] > 3 or head[5] & 4:
            pages.append((serial, count.get(serial, 0), granule, head[5] & 4, offset))
    return {s: d.digest() for s, d in digests.items()}, pages


def _decode_difference(a: Path, b: Path) -> str | None:
    """None if libsndfile decodes `a` and `b` to the same samples, else what differs."""
    import soundfile as sf

    try:
        fa = sf.SoundFile(str(a))
    except Exception as exc:
        return f"not readable audio ({_reason(exc)})"
    try:
        fb = sf.SoundFile(str(b))
    except Exception as exc:
        fa.close()
        return f"the tagged copy would not decode ({_reason(exc)})"
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
