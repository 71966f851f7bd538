"""iff.py at the byte level: walking RIFF/WAVE and FORM/AIFF chunk lists (pad bytes present,
missing or garbage, wrong form sizes, trailing bytes), rebuilding them with chunks replaced or
appended, LIST/INFO items, and the refusals. Files are built in memory.

The RIFF/FORM and INFO readers and builders here are written independently of iff.py's;
test_tags.py uses them too."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest

from fixtures import synth
from samplesort.iff import (
    FormatError,
    encode_info,
    info_items,
    info_text,
    parse_form,
    rebuild,
)

# --- independent readers and builders --------------------------------------------------------


def chunks(path: Path, *, exact: bool = True) -> list[tuple[bytes, bytes]]:
    """Top-level (id, payload) chunks of a RIFF/WAVE or FORM/AIFF file; asserts well-formedness
    (and, if `exact`, that the form size covers the whole file)."""
    return raw_chunks(path.read_bytes(), exact=exact)


def raw_chunks(raw: bytes, *, exact: bool = True) -> list[tuple[bytes, bytes]]:
    big = raw[:4] == b"FORM"
    fmt = ">I" if big else "<I"
    assert raw[:4] in (b"RIFF", b"FORM")
    end = 8 + struct.unpack(fmt, raw[4:8])[0]
    assert end == len(raw) if exact else end <= len(raw), "form size must match the file"
    out, pos = [], 12
    while pos < end:
        cid, size = raw[pos : pos + 4], struct.unpack(fmt, raw[pos + 4 : pos + 8])[0]
        assert pos + 8 + size <= end, f"chunk {cid!r} overruns the form"
        out.append((cid, raw[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    assert pos == end
    return out


def chunk(path: Path, cid: bytes) -> bytes:
    found = [data for c, data in chunks(path) if c == cid]
    assert len(found) == 1, f"{cid!r} occurs {len(found)} times"
    return found[0]


def info(path: Path, *, exact: bool = True) -> dict[str, str]:
    lists = [d for c, d in chunks(path, exact=exact) if c == b"LIST" and d[:4] == b"INFO"]
    assert len(lists) <= 1
    if not lists:
        return {}
    payload, items, pos = lists[0], {}, 4
    while pos < len(payload):
        cid, size = (
            payload[pos : pos + 4].decode(),
            struct.unpack("<I", payload[pos + 4 : pos + 8])[0],
        )
        assert cid not in items, f"duplicate INFO item {cid}"
        assert payload[pos + 8 + size - 1] == 0, "INFO strings are NUL-terminated"
        items[cid] = payload[pos + 8 : pos + 8 + size].rstrip(b"\0").decode("utf-8")
        pos += 8 + size + (size & 1)
    assert pos == len(payload)
    return items


def build_wav(parts: list[tuple[bytes, bytes]], *, unpadded: tuple[bytes, ...] = ()) -> bytes:
    """A RIFF/WAVE file of `parts`; chunks named in `unpadded` lack their pad byte."""
    body = b""
    for cid, data in parts:
        pad = b"\0" * (len(data) & 1) if cid not in unpadded else b""
        body += cid + struct.pack("<I", len(data)) + data + pad
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def info_payload(**items: str) -> bytes:
    out = b"INFO"
    for cid, text in items.items():
        v = text.encode() + b"\0"
        out += cid.encode() + struct.pack("<I", len(v)) + v + b"\0" * (len(v) & 1)
    return out


U8_FMT = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)  # PCM, mono, 8 kHz, 8-bit


def u8_data(n: int = 1001) -> bytes:
    return np.random.default_rng(3).integers(0, 256, n, dtype=np.uint8).tobytes()


NAME = Path("mem.wav")  # only named in messages


def rebuilt(
    raw: bytes,
    kind: str = "wav",
    *,
    replace: dict[int, tuple[bytes, bytes]] | None = None,
    append: list[tuple[bytes, bytes]] | None = None,
) -> bytes:
    """`raw` parsed and rebuilt by iff."""
    src, dst = io.BytesIO(raw), io.BytesIO()
    form = parse_form(src, NAME, kind)
    rebuild(src, dst, form, NAME, replace=replace or {}, append=append or [])
    return dst.getvalue()


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("unpadded", [(), (b"data",), (b"data", b"smpl")])
def test_walk_and_rebuild_writes_missing_pad_bytes(unpadded: tuple[bytes, ...]) -> None:
    data = u8_data(999)
    parts = [(b"fmt ", U8_FMT), (b"note", b"abc"), (b"data", data), (b"smpl", b"odd")]
    raw = build_wav(parts, unpadded=unpadded)
    form = parse_form(io.BytesIO(raw), NAME, "wav")
    assert [(c.cid, c.size) for c in form.chunks] == [(cid, len(d)) for cid, d in parts]
    padded = [c.padded for c in form.chunks]
    assert padded == [True, True, b"data" not in unpadded, b"smpl" not in unpadded]
    assert form.end == form.file_size == len(raw) and not form.big_endian
    out = rebuilt(raw)
    assert raw_chunks(out) == parts  # every chunk, in order, now with its pad byte
    if not unpadded:
        assert out == raw


def test_rebuild_replaces_in_place_and_appends_after_the_last_chunk() -> None:
    old_info = info_payload(INAM="My kick", ICMT="note")
    raw = build_wav(
        [(b"fmt ", U8_FMT), (b"LIST", old_info), (b"data", u8_data()), (b"smpl", b"12")]
    )
    form = parse_form(io.BytesIO(raw), NAME, "wav")
    info_ch = form.info_chunk(NAME)
    assert info_ch is not None and info_ch.list_type == b"INFO" and form.id3_chunk(NAME) is None
    new_info = encode_info([(b"INAM", b"My kick\0"), (b"IGNR", b"kick\0")])
    out = rebuilt(raw, replace={info_ch.offset: (b"LIST", new_info)}, append=[(b"id3 ", b"ID3od")])
    assert raw_chunks(out) == [
        (b"fmt ", U8_FMT),
        (b"LIST", new_info),
        (b"data", u8_data()),
        (b"smpl", b"12"),
        (b"id3 ", b"ID3od"),
    ]
    assert out.endswith(b"ID3od\0")  # an odd appended chunk gets its pad byte


@pytest.mark.parametrize("size_error", [-300, +8, 0x7FFFFFFF])
def test_wrong_form_size_corrected_and_trailing_bytes_kept(size_error: int) -> None:
    good = build_wav([(b"fmt ", U8_FMT), (b"data", u8_data()), (b"smpl", b"12")])
    size = struct.unpack("<I", good[4:8])[0] + size_error
    tail = b"TAG" + b"v1 title".ljust(125, b"\0")
    raw = good[:4] + struct.pack("<I", size) + good[8:] + tail
    form = parse_form(io.BytesIO(raw), NAME, "wav")
    assert [c.cid for c in form.chunks] == [b"fmt ", b"data", b"smpl"]
    assert (form.end, form.file_size) == (len(good), len(raw))
    out = rebuilt(raw)
    assert out == good + tail


def test_aiff_is_big_endian_and_keeps_its_chunks(tmp_path: Path) -> None:
    path = synth.write(
        tmp_path / "a.aiff", synth.voice("snare", seed=1)[:3001], subtype="PCM_16", format="AIFF"
    )
    raw = path.read_bytes()
    with open(path, "rb") as f:
        form = parse_form(f, path, "aiff")
    assert form.big_endian and form.magic == b"FORM" and form.form_type in (b"AIFF", b"AIFC")
    assert {b"COMM", b"SSND"} <= {c.cid for c in form.chunks}
    out = rebuilt(raw, "aiff", append=[(b"ID3 ", b"tag")])
    assert raw_chunks(out) == [*raw_chunks(raw), (b"ID3 ", b"tag")]
    assert struct.unpack(">I", out[4:8])[0] == len(out) - 8


def test_info_items_tolerate_garbage_and_missing_pad_bytes() -> None:
    """Sound Forge 6 wrote a non-zero pad byte after an odd INFO item; others leave it out."""
    items = info_payload(ISFT="Sound Forge", ICRD="2004-06-11")
    assert items.endswith(b"2004-06-11\0\0")
    expected = [(b"ISFT", b"Sound Forge\0"), (b"ICRD", b"2004-06-11\0")]
    assert info_items(items, NAME) == expected
    assert info_items(items[:-1] + b"\x02", NAME) == expected  # garbage pad byte
    assert info_items(items[:-1], NAME) == expected  # no pad byte at the end
    odd = [(b"ISFT", b"Sound Forg\0"), (b"ICRD", b"2004-06-11\0")]
    unpadded = b"INFO" + b"".join(c + struct.pack("<I", len(v)) + v for c, v in odd)
    assert info_items(unpadded, NAME) == odd  # no pad byte between items
    assert encode_info(expected) == items
    assert info_items(encode_info([(b"IKEY", b"odd")]), NAME) == [(b"IKEY", b"odd")]


def test_info_text() -> None:
    assert info_text(b"kick\0") == "kick"
    assert info_text("Grosse Trommel \u00e9".encode() + b"\0junk") == "Grosse Trommel \u00e9"
    assert info_text(b"caf\xe9\0") == "caf\u00e9"  # not UTF-8: Latin-1


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"INFO" + b"IN\x01M" + struct.pack("<I", 2) + b"a\0", r"malformed LIST/INFO .*item at 4"),
        (b"INFO" + b"INAM" + struct.pack("<I", 99) + b"a\0", r"malformed LIST/INFO .*item at 4"),
        (info_payload(INAM="x") + b"\x07", r"stray bytes"),
    ],
)
def test_malformed_info_refused(payload: bytes, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        info_items(payload, NAME)


def test_broken_forms_refused_with_one_line_reasons() -> None:
    good = build_wav([(b"fmt ", U8_FMT), (b"data", u8_data())])
    id3 = (b"id3 ", b"ID3\x03\0\0\0\0\0\0")
    cases = {
        "truncated: chunk 'data'": good[: len(good) - 300],
        "garbage where a chunk header": good[:12] + b"\x00\x01\x02\xff" * 20,
        "RF64 \\(64-bit WAV\\)": b"RF64" + b"\xff" * 4 + good[8:],
        "big-endian RIFX": b"RIFX" + good[4:],
        "too short \\(5 bytes\\)": b"RIFF\0",
        "not a WAV file": b"FORM" + good[4:8] + b"AIFF" + good[12:],
        "no 'data' chunk": build_wav([(b"fmt ", U8_FMT)]),
        "3 stray bytes at offset 12": good[:4] + struct.pack("<I", 100) + b"WAVEabc",
    }
    for match, raw in cases.items():
        with pytest.raises(FormatError, match=match) as err:
            parse_form(io.BytesIO(raw), NAME, "wav")
        assert str(err.value).startswith(f"{NAME}: ") and "\n" not in str(err.value)
    two_id3 = build_wav([(b"fmt ", U8_FMT), (b"data", b""), id3, id3])
    two = parse_form(io.BytesIO(two_id3), NAME, "wav")
    with pytest.raises(FormatError, match="2 ID3 chunks; refusing to guess"):
        two.id3_chunk(NAME)
    with pytest.raises(FormatError, match="no 'COMM' chunk"):
        parse_form(io.BytesIO(b"FORM" + struct.pack(">I", 4) + b"AIFF"), NAME, "aiff")


def test_rebuild_refuses_a_source_that_shrank() -> None:
    raw = build_wav([(b"fmt ", U8_FMT), (b"data", u8_data())])
    form = parse_form(io.BytesIO(raw), NAME, "wav")
    with pytest.raises(FormatError, match="file shrank while being read"):
        rebuild(io.BytesIO(raw[:-100]), io.BytesIO(), form, NAME, replace={}, append=[])
