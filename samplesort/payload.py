"""What tagging must not change, per container, as a comparable value (digests of the audio
parts of an open file), and where a leading ID3v2 tag ends. Byte-level and read-only: no tag
library; `tags.py` compares the original's value with its temp copy's before replacing.

    WAV/AIFF  every chunk but the ID3 chunk and the LIST/INFO list: id, size and data, in order
    MP3       everything between the ID3v2 tag and an ID3v1 tag
    FLAC      STREAMINFO and every block but VORBIS_COMMENT and PADDING, then all frames
    OGG       per logical stream, every packet but the comment header, and the granule position
              and end-of-stream flag of each page that ends an audio packet (re-paging the
              headers changes sequence numbers and CRCs, not this)
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import Any, BinaryIO

from .iff import COPY_BLOCK, FormatError, parse_form


def payload(f: BinaryIO, path: Path, kind: str) -> Any:
    """The audio parts of `f` (a "wav", "aiff", "mp3", "flac" or "ogg" file; `path` names it
    in errors) as a value that compares equal exactly when they are the same bytes.
    FormatError if the file is not well-formed."""
    f.seek(0)
    if kind in ("wav", "aiff"):
        form = parse_form(f, path, kind)
        return [
            (ch.cid, ch.size, _digest(f, ch.data_offset, ch.size))
            for ch in form.chunks
            if not (ch.is_id3() or ch.is_info())
        ]
    if kind == "mp3":
        start = len(leading_id3(f) or b"")
        end = _size(f)
        if end - start >= 128:
            f.seek(end - 128)
            end -= 128 if f.read(3) == b"TAG" else 0
        return _digest(f, start, max(0, end - start))
    if kind == "flac":
        return _flac_payload(f, path)
    return _ogg_payload(f, path)


def ogg_packets_equal(before: Any, after: Any) -> bool:
    """For two Ogg payloads: True if every stream's packets are the same (so where the
    payloads differ, only page granule positions or end-of-stream flags do)."""
    return [v[0] for v in before.values()] == [v[0] for v in after.values()]


def leading_id3(f: BinaryIO) -> bytes | None:
    """The complete ID3v2 tag at the start of `f`, or None."""
    f.seek(0)
    head = f.read(10)
    if head[:3] != b"ID3" or len(head) < 10:
        return None
    f.seek(0)
    return f.read(id3v2_size(head))


def id3v2_size(head: bytes) -> int:
    """The size of an ID3v2 tag, header and footer included, from its 10-byte header."""
    size = 0
    for b in head[6:10]:
        size = (size << 7) | (b & 0x7F)
    return 10 + size + (10 if head[5] & 0x10 else 0)


def _size(f: BinaryIO) -> int:
    f.seek(0, 2)
    return f.tell()


def _digest(f: BinaryIO, start: int, n: int) -> bytes:
    """blake2b of `n` bytes of `f` from `start` (fewer if the file ends first)."""
    h = hashlib.blake2b()
    f.seek(start)
    while n > 0:
        block = f.read(min(n, COPY_BLOCK))
        if not block:
            break
        h.update(block)
        n -= len(block)
    return h.digest()


def _flac_payload(f: BinaryIO, path: Path) -> object:
    f.seek(0)
    pos = len(leading_id3(f) or b"")
    f.seek(pos)
    if f.read(4) != b"fLaC":
        raise FormatError(f"{path}: not a FLAC file")
    pos += 4
    blocks = []
    while True:
        f.seek(pos)
        head = f.read(4)
        if len(head) < 4:
            raise FormatError(f"{path}: truncated FLAC metadata")
        btype, size = head[0] & 0x7F, int.from_bytes(head[1:4], "big")
        if btype not in (1, 4):  # PADDING and VORBIS_COMMENT are ours to rewrite
            blocks.append((btype, _digest(f, pos + 4, size)))
        pos += 4 + size
        if head[0] & 0x80:
            break
    return blocks, _digest(f, pos, max(0, _size(f) - pos))


def _ogg_payload(f: BinaryIO, path: Path) -> Any:
    """Per logical stream: every packet but the comment header (packet 1), and the granule
    position and end-of-stream flag of each page that ends an audio packet, keyed by that
    packet's index."""
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
            raise FormatError(f"{path}: malformed Ogg page at offset {offset}")
        granule, serial = struct.unpack("<qI", head[6:18])
        lacing = f.read(head[26])
        body = f.read(sum(lacing))
        if len(lacing) < head[26] or len(body) < sum(lacing):
            raise FormatError(f"{path}: truncated Ogg page at offset {offset}")
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
