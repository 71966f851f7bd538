"""RIFF/WAVE and FORM/AIFF chunk lists at the byte level: walk a file's top-level chunks
strictly, rebuild it with some chunks replaced or appended, and read and encode the items
of a WAV `LIST`/`INFO` chunk. No tag library and no policy: `tags_formats.py` decides what
goes in the chunks, and `tags.py` alone writes user files; this module only reads the open file
objects and writes the file object (a temp copy) it is handed.

What the walk tolerates, because real files do it: an odd-sized chunk whose pad byte is
missing (the next chunk starts right after it, or the file ends), a form size that is too
small or too large while the chunks themselves are intact, and bytes after the last chunk
that are not a chunk (an ID3v1 tag, say) once the audio chunks have been seen; those are
kept verbatim after the form. Refused, with a `FormatError` naming the file: RF64/BW64 and
RIFX, a truncated chunk, garbage where a chunk header should be, a missing `fmt `/`data`
(WAV) or `COMM` (AIFF) chunk, two ID3 or two INFO chunks, and a malformed INFO list.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

COPY_BLOCK = 1 << 20  # bytes read at a time when copying or hashing


class FormatError(ValueError):
    """A file's bytes are not a container we can read or rewrite faithfully; `str(err)` is a
    one-line message naming the file."""


@dataclass(frozen=True)
class Chunk:
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
class Form:
    big_endian: bool
    magic: bytes
    form_type: bytes
    chunks: tuple[Chunk, ...]
    end: int  # where the last chunk (and its pad byte, if present) ends
    file_size: int

    def _one(self, pick: Callable[[Chunk], bool], what: str, path: Path) -> Chunk | None:
        found = [c for c in self.chunks if pick(c)]
        if len(found) > 1:
            raise FormatError(f"{path}: {len(found)} {what} chunks; refusing to guess which counts")
        return found[0] if found else None

    def id3_chunk(self, path: Path) -> Chunk | None:
        return self._one(Chunk.is_id3, "ID3", path)

    def info_chunk(self, path: Path) -> Chunk | None:
        return self._one(Chunk.is_info, "LIST/INFO", path)

    @property
    def size_format(self) -> str:
        """The struct format of a chunk size in this form."""
        return ">I" if self.big_endian else "<I"


def parse_form(f: BinaryIO, path: Path, kind: str) -> Form:
    """Walk the top-level chunks of `f` (`kind` "wav" or "aiff"; `path` names the file in
    errors) strictly; FormatError for anything we could not rewrite faithfully."""
    f.seek(0, 2)
    file_size = f.tell()
    f.seek(0)
    head = f.read(12)
    want = (b"RIFF", (b"WAVE",)) if kind == "wav" else (b"FORM", (b"AIFF", b"AIFC"))
    if len(head) < 12:
        raise FormatError(f"{path}: too short ({file_size} bytes) for a {kind.upper()} file")
    magic, form_type = head[:4], head[8:12]
    if magic in (b"RF64", b"BW64"):
        raise FormatError(
            f"{path}: {magic.decode()} (64-bit WAV) files are not supported; not tagged"
        )
    if magic == b"RIFX":
        raise FormatError(f"{path}: big-endian RIFX files are not supported; not tagged")
    if magic != want[0] or form_type not in want[1]:
        raise FormatError(f"{path}: not a {kind.upper()} file (header {head[:12]!r})")
    big = kind == "aiff"
    fmt = ">I" if big else "<I"
    declared_end = 8 + struct.unpack(fmt, head[4:8])[0]
    limit = min(declared_end, file_size)
    audio = {b"fmt ", b"data"} if kind == "wav" else {b"COMM", b"SSND"}
    chunks: list[Chunk] = []
    pos = 12
    while pos < file_size:
        if not _header_fits(f, pos, fmt, file_size):
            if pos >= limit or audio <= {c.cid for c in chunks}:
                break  # not a chunk, after the form or the audio: kept verbatim after the form
            raise FormatError(f"{path}: {_not_a_chunk(f, pos, fmt, file_size)}; not tagged")
        f.seek(pos)
        cid, size = struct.unpack(fmt[0] + "4sI", f.read(8))
        end = pos + 8 + size
        list_type = f.read(4) if cid == b"LIST" and size >= 4 else b""
        # A pad byte should be 0; where the next chunk starts without it (or the file ends),
        # the writer left it out: tolerated, and written when the file is rebuilt.
        padded = not size & 1 or (end < file_size and not _header_fits(f, end, fmt, file_size))
        chunks.append(Chunk(cid, pos, size, list_type, padded))
        pos = end + (size & 1 if padded else 0)
    for cid in (b"fmt ", b"data") if kind == "wav" else (b"COMM",):
        if not any(c.cid == cid for c in chunks):
            raise FormatError(f"{path}: no {cid.decode()!r} chunk; not a valid {kind.upper()} file")
    return Form(big, magic, form_type, tuple(chunks), pos, file_size)


def _not_a_chunk(f: BinaryIO, pos: int, fmt: str, file_size: int) -> str:
    """Why no chunk header starts at `pos` (for a one-line refusal)."""
    if file_size - pos < 8:
        return f"{file_size - pos} stray bytes at offset {pos}"
    f.seek(pos)
    cid, size = struct.unpack(fmt[0] + "4sI", f.read(8))
    if not _printable(cid):
        return f"garbage where a chunk header should be (offset {pos})"
    short = pos + 8 + size - file_size
    return (
        f"truncated: chunk {cid.decode()!r} at offset {pos} declares {size} bytes, "
        f"the file ends {short} bytes early"
    )


def _header_fits(f: BinaryIO, at: int, fmt: str, file_size: int) -> bool:
    """True if a plausible chunk header (printable id, data inside the file) starts at `at`."""
    f.seek(at)
    return _fits(f.read(8), at, fmt, file_size)


def _fits(header: bytes, at: int, fmt: str, end: int) -> bool:
    """True if `header` (the 8 bytes at `at`) has a printable id and its data ends by `end`."""
    return (
        len(header) == 8
        and _printable(header[:4])
        and at + 8 + struct.unpack(fmt, header[4:])[0] <= end
    )


def _printable(cid: bytes) -> bool:
    return all(0x20 <= b <= 0x7E for b in cid)


def chunk_bytes(f: BinaryIO, ch: Chunk) -> bytes:
    """The data of `ch` (without header and pad byte)."""
    f.seek(ch.data_offset)
    return f.read(ch.size)


def copy_range(src: BinaryIO, dst: BinaryIO, start: int, n: int) -> None:
    """Copy `n` bytes of `src` from `start` to `dst`'s position; FormatError if `src` ends
    first."""
    src.seek(start)
    while n > 0:
        block = src.read(min(n, COPY_BLOCK))
        if not block:
            raise FormatError(f"{getattr(src, 'name', '?')}: file shrank while being read")
        dst.write(block)
        n -= len(block)


def encode_chunk(cid: bytes, data: bytes, fmt: str) -> bytes:
    """A chunk: id, size (struct format `fmt`), data and a pad byte if the size is odd."""
    return cid + struct.pack(fmt, len(data)) + data + b"\0" * (len(data) & 1)


def rebuild(
    src: BinaryIO,
    dst: BinaryIO,
    form: Form,
    path: Path,
    *,
    replace: Mapping[int, tuple[bytes, bytes]],
    append: Sequence[tuple[bytes, bytes]],
) -> None:
    """Write `form` (parsed from `src`) into `dst` from its start: every chunk copied
    unchanged and in order, except those whose offset is in `replace` (written as the given
    (id, data)); a pad byte written where the file left one out; the `append` chunks after the
    last one; then any bytes that followed the form, as they were; the form size fixed."""
    fmt = form.size_format
    dst.seek(0)
    dst.write(form.magic + b"\0\0\0\0" + form.form_type)
    for ch in form.chunks:
        if ch.offset in replace:
            dst.write(encode_chunk(*replace[ch.offset], fmt))
            continue
        copy_range(src, dst, ch.offset, 8 + ch.size)
        if ch.size & 1:  # keep the pad byte; write one where the file left it out
            src.seek(ch.data_offset + ch.size)
            dst.write(src.read(1) if ch.padded else b"\0")
    for cid, data in append:
        dst.write(encode_chunk(cid, data, fmt))
    form_size = dst.tell() - 8
    if form_size > 0xFFFFFFFF:
        raise FormatError(f"{path}: the tagged file would exceed 4 GiB; not tagged")
    if form.end < form.file_size:  # bytes after the form: not ours, kept as they were
        copy_range(src, dst, form.end, form.file_size - form.end)
    dst.truncate()
    dst.seek(4)
    dst.write(struct.pack(fmt, form_size))
    dst.flush()


# --- LIST/INFO -------------------------------------------------------------------------------


def info_items(payload: bytes, path: Path) -> list[tuple[bytes, bytes]]:
    """(id, raw value) items of a LIST/INFO payload (which starts with b"INFO")."""
    items: list[tuple[bytes, bytes]] = []
    pos = 4
    while len(payload) - pos >= 8:
        cid, size = payload[pos : pos + 4], struct.unpack("<I", payload[pos + 4 : pos + 8])[0]
        if not _printable(cid) or pos + 8 + size > len(payload):
            raise FormatError(f"{path}: malformed LIST/INFO chunk (item at {pos}); not tagged")
        items.append((cid, payload[pos + 8 : pos + 8 + size]))
        pos += 8 + size
        if size & 1 and pos < len(payload) and (payload[pos] == 0 or not _item_at(payload, pos)):
            pos += 1  # a pad byte (some writers leave it out, some write garbage)
    if any(payload[pos:]):
        raise FormatError(f"{path}: malformed LIST/INFO chunk (stray bytes); not tagged")
    return items


def _item_at(payload: bytes, pos: int) -> bool:
    return _fits(payload[pos : pos + 8], pos, "<I", len(payload))


def info_text(raw: bytes) -> str:
    """An INFO value as text: up to its first NUL, UTF-8 if it decodes, else Latin-1."""
    raw = raw.split(b"\0", 1)[0]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def encode_info(items: Sequence[tuple[bytes, bytes]]) -> bytes:
    """A LIST/INFO payload (b"INFO" + the items, each padded to an even size)."""
    return b"INFO" + b"".join(encode_chunk(cid, v, "<I") for cid, v in items)
