"""payload.py: the value tagging must not change stays equal when only tags change (ID3v2,
ID3v1, INFO, Vorbis comments, padding, re-paged Ogg headers) and differs when one audio byte,
a chunk's order or an Ogg granule position changes; malformed files are refused."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from fixtures import synth
from samplesort.iff import FormatError
from samplesort.payload import id3v2_size, leading_id3, ogg_packets_equal, payload
from tests.test_iff import U8_FMT, build_wav, info_payload, u8_data

NAME = Path("mem")


def of(raw: bytes, kind: str) -> object:
    return payload(io.BytesIO(raw), NAME, kind)


def flipped(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1 :]


def make(tmp_path: Path, name: str, subtype: str, fmt: str) -> Path:
    x = synth.voice("snare", seed=2)[:8000]
    return synth.write(tmp_path / name, x, subtype=subtype, format=fmt)


def test_wav_payload_ignores_our_chunks_only() -> None:
    fmt, data, smpl = (b"fmt ", U8_FMT), (b"data", u8_data()), (b"smpl", b"12")
    plain = build_wav([fmt, data, smpl])
    tagged = build_wav(
        [fmt, (b"LIST", info_payload(IGNR="kick")), data, smpl, (b"id3 ", b"ID3 whatever")]
    )
    assert of(plain, "wav") == of(tagged, "wav")
    assert of(plain, "wav") != of(flipped(plain, len(plain) - 20), "wav")  # a data byte
    assert of(plain, "wav") != of(build_wav([fmt, smpl, data]), "wav")  # order counts
    assert of(plain, "wav") != of(build_wav([fmt, data, (b"LIST", b"adtlxxxx")]), "wav")
    with pytest.raises(FormatError, match="no 'data' chunk"):
        of(build_wav([fmt]), "wav")


def id3v2(body: bytes, *, footer: bool = False) -> bytes:
    n = len(body)
    size = bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])
    flags = 0x10 if footer else 0
    return b"ID3\x04\x00" + bytes([flags]) + size + body + (b"3DI" + b"\0" * 7 if footer else b"")


def test_id3v2_size_and_leading_tag() -> None:
    body = b"\0" * 300  # a syncsafe size: 300 = 2 * 128 + 44
    assert id3v2_size(id3v2(body)[:10]) == 310
    assert id3v2_size(id3v2(body, footer=True)[:10]) == 320
    tag = id3v2(body, footer=True)
    assert leading_id3(io.BytesIO(tag + b"\xff\xfbframes")) == tag
    assert leading_id3(io.BytesIO(b"\xff\xfbframes")) is None


def test_mp3_payload_is_what_lies_between_the_id3_tags() -> None:
    frames = bytes(range(256)) * 8
    v1 = b"TAG" + b"title".ljust(125, b"\0")
    bare = of(frames, "mp3")
    assert of(id3v2(b"\0" * 40) + frames + v1, "mp3") == bare
    assert of(id3v2(b"\1" * 90, footer=True) + frames, "mp3") == bare
    assert of(frames + b"x", "mp3") != bare
    assert of(flipped(frames, 100), "mp3") != bare


def test_flac_payload_ignores_comments_and_padding(tmp_path: Path) -> None:
    from mutagen.flac import FLAC

    path = make(tmp_path, "a.flac", "PCM_16", "FLAC")
    raw = path.read_bytes()
    f = FLAC(path)
    f["GENRE"] = ["kick"]
    f.save(padding=lambda info: 3000)
    tagged = path.read_bytes()
    assert tagged != raw and of(tagged, "flac") == of(raw, "flac")
    assert of(flipped(raw, len(raw) - 10), "flac") != of(raw, "flac")  # a frame byte
    assert of(flipped(raw, 20), "flac") != of(raw, "flac")  # STREAMINFO
    with pytest.raises(FormatError, match="not a FLAC file"):
        of(b"OggS" + raw[4:], "flac")
    with pytest.raises(FormatError, match="truncated FLAC metadata"):
        of(raw[:30], "flac")


def ogg_pages(raw: bytes) -> list[int]:
    """Offsets of the Ogg pages in `raw` (walked by their headers, not by searching)."""
    out, pos = [], 0
    while pos < len(raw):
        assert raw[pos : pos + 4] == b"OggS"
        out.append(pos)
        lacing = raw[pos + 27 : pos + 27 + raw[pos + 26]]
        pos += 27 + len(lacing) + sum(lacing)
    return out


def test_ogg_payload_ignores_the_comment_packet_not_granules(tmp_path: Path) -> None:
    from mutagen.oggvorbis import OggVorbis

    path = make(tmp_path, "a.ogg", "VORBIS", "OGG")
    raw = path.read_bytes()
    f = OggVorbis(path)
    f["GENRE"] = ["kick" * 300]  # a long comment: the header pages are rebuilt
    f.save()
    tagged = path.read_bytes()
    assert tagged != raw and len(ogg_pages(tagged)) >= len(ogg_pages(raw))
    assert of(tagged, "ogg") == of(raw, "ogg")

    last = ogg_pages(raw)[-1]
    granule = struct.unpack("<q", raw[last + 6 : last + 14])[0]
    moved = raw[: last + 6] + struct.pack("<q", granule - 1) + raw[last + 14 :]
    assert of(moved, "ogg") != of(raw, "ogg")
    assert ogg_packets_equal(of(moved, "ogg"), of(raw, "ogg"))  # only a granule differs

    audio = flipped(raw, len(raw) - 5)
    assert of(audio, "ogg") != of(raw, "ogg")
    assert not ogg_packets_equal(of(audio, "ogg"), of(raw, "ogg"))
    with pytest.raises(FormatError, match="truncated Ogg page at offset"):
        of(raw[: last + 30], "ogg")
    with pytest.raises(FormatError, match="malformed Ogg page at offset 0"):
        of(b"Ogg!" + raw[4:], "ogg")
