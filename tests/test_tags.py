"""tags.py on real files in every format: fields read back, audio bit-identical, other tags and
chunks kept, re-tagging replaces, odd and broken files handled, nothing half-written.

The RIFF/FORM and INFO readers used here (from test_iff.py) are written independently of
iff.py's."""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fixtures import synth
from samplesort.errors import SampleSortError
from samplesort.tags import (
    TAGGABLE_SUFFIXES,
    SampleTags,
    TagError,
    can_tag,
    read_tags,
    write_tags,
)
from tests.test_iff import U8_FMT, build_wav, chunk, chunks, info, info_payload, u8_data

KICK = SampleTags("kick", "kick", 0.931, "default-2026-11", "0.1.0")
TOM = SampleTags("tom", "tom", 0.5, "other-model", "0.2.0", labels=("tom", "kick"))

FORMATS = {  # name -> (subtype, format)
    "pcm16.wav": ("PCM_16", "WAV"),
    "pcm24.wav": ("PCM_24", "WAV"),
    "float.wav": ("FLOAT", "WAV"),
    "pcm16.aiff": ("PCM_16", "AIFF"),
    "pcm16.flac": ("PCM_16", "FLAC"),
    "vorbis.ogg": ("VORBIS", "OGG"),
    "layer3.mp3": ("MPEG_LAYER_III", "MP3"),
}


# --- independent readers (the RIFF/FORM ones are in test_iff.py) ---------------------------------


def flac_frames(path: Path) -> bytes:
    raw = path.read_bytes()
    assert raw[:4] == b"fLaC"
    pos = 4
    while True:
        last, size = raw[pos] & 0x80, int.from_bytes(raw[pos + 1 : pos + 4], "big")
        pos += 4 + size
        if last:
            return raw[pos:]


def raw_audio(path: Path) -> bytes:
    if path.suffix == ".wav":
        return chunk(path, b"data")
    if path.suffix == ".aiff":
        return chunk(path, b"SSND")
    return flac_frames(path)


def decoded(path: Path) -> bytes:
    data, sr = sf.read(str(path), dtype="float64", always_2d=True)
    return data.tobytes() + struct.pack("<I", sr)


def id3_bytes(**frames: str) -> bytes:
    from mutagen.id3 import COMM, ID3, TIT2, TPE1

    tag = ID3()
    tag.add(TIT2(encoding=3, text=[frames["title"]]))
    tag.add(TPE1(encoding=3, text=[frames["artist"]]))
    tag.add(COMM(encoding=3, lang="eng", desc="", text=[frames["comment"]]))
    bio = io.BytesIO()
    tag.save(bio, v1=0, v2_version=4)
    return bio.getvalue()


# --- tests -----------------------------------------------------------------------------------


def make(tmp_path: Path, name: str) -> Path:
    subtype, fmt = FORMATS[name]
    return synth.write(
        tmp_path / name, synth.voice("kick", seed=7)[:11025], subtype=subtype, format=fmt
    )


@pytest.mark.parametrize("name", list(FORMATS))
def test_tag_every_format_audio_bit_identical(tmp_path: Path, name: str) -> None:
    path = make(tmp_path, name)
    before, before_audio = decoded(path), path.read_bytes()
    raw_before = raw_audio(path) if path.suffix in (".wav", ".aiff", ".flac") else None
    mode = path.stat().st_mode

    write_tags(path, KICK)

    assert read_tags(path) == {
        "label": "kick",
        "group": "kick",
        "confidence": "0.931",
        "model_id": "default-2026-11",
        "version": "0.1.0",
    }
    assert path.read_bytes() != before_audio
    assert decoded(path) == before
    if raw_before is not None:
        assert raw_audio(path) == raw_before
    assert path.stat().st_mode == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temp file left

    import mutagen

    tagged = mutagen.File(path)
    genre = tagged.tags["TCON"].text if "TCON" in tagged.tags else tagged.tags["GENRE"]
    assert list(genre) == ["kick"]
    if path.suffix == ".wav":
        assert info(path)["IGNR"] == "kick"
        assert info(path)["IKEY"] == "samplesort; kick"
        assert info(path)["ICMT"].startswith("samplesort: label=kick group=kick confidence=0.931")
        if "float" not in name:
            with wave.open(str(path)) as w:
                pcm = w.readframes(w.getnframes())
            assert pcm == raw_before
        with warnings.catch_warnings():  # scipy's own RIFF parser skips the chunks it does not use
            warnings.simplefilter("ignore")
            from scipy.io import wavfile

            sr, x = wavfile.read(path)
        assert sr == synth.SR_HZ and np.array_equal(x, sf.read(str(path), dtype=x.dtype.name)[0])
    if path.suffix == ".aiff":
        with warnings.catch_warnings():  # the stdlib's AIFF reader (deprecated in 3.11)
            warnings.simplefilter("ignore")
            import aifc

            with aifc.open(str(path)) as a:
                assert a.readframes(a.getnframes()) == raw_before[8:]  # SSND: offset, blocksize


@pytest.mark.parametrize("name", list(FORMATS))
def test_retag_replaces_values_without_duplicates(tmp_path: Path, name: str) -> None:
    path = make(tmp_path, name)
    before = decoded(path)
    write_tags(path, KICK)
    write_tags(path, TOM)
    size = path.stat().st_size
    write_tags(path, TOM)

    assert path.stat().st_size == size
    assert (
        read_tags(path)
        == TOM.fields()
        == {
            "label": "tom",
            "group": "tom",
            "confidence": "0.500",
            "model_id": "other-model",
            "version": "0.2.0",
            "labels": "tom; kick",
        }
    )
    assert decoded(path) == before
    import mutagen

    tags = mutagen.File(path).tags
    if hasattr(tags, "getall"):  # ID3
        assert [f.text for f in tags.getall("TCON")] == [["tom"]]
        assert len(tags.getall("TXXX:SAMPLESORT_LABEL")) == 1
        assert len(tags.getall("COMM")) == 1
    else:
        assert tags["GENRE"] == ["tom"] and tags["SAMPLESORT_LABEL"] == ["tom"]
        assert len(tags["COMMENT"]) == 1
    if path.suffix == ".wav":
        assert info(path)["IKEY"] == "samplesort; tom; kick"
        assert len([c for c, _ in chunks(path) if c.lower() == b"id3 "]) == 1


def test_wav_keeps_other_chunks_info_items_and_id3_frames(tmp_path: Path) -> None:
    bext = bytes(range(256)) * 2 + b"bext-odd"  # 520 bytes
    smpl = struct.pack("<9I", 0, 0, 22675, 60, 0, 0, 0, 0, 0)
    odd = b"xyz"
    path = tmp_path / "user.wav"
    path.write_bytes(
        build_wav(
            [
                (b"fmt ", U8_FMT),
                (b"bext", bext),
                (
                    b"LIST",
                    info_payload(INAM="My kick", IART="me", ICMT="user note", IKEY="punchy; 808"),
                ),
                (b"abcd", odd),
                (b"data", u8_data()),
                (b"smpl", smpl),
                (b"id3 ", id3_bytes(title="Boom", artist="Someone", comment="keep me")),
            ]
        )
    )
    before = decoded(path)
    write_tags(path, KICK)
    write_tags(path, TOM)

    assert [c for c, _ in chunks(path)] == [
        b"fmt ",
        b"bext",
        b"LIST",
        b"abcd",
        b"data",
        b"smpl",
        b"id3 ",
    ]
    assert chunk(path, b"bext") == bext and chunk(path, b"smpl") == smpl
    assert chunk(path, b"abcd") == odd and chunk(path, b"data") == u8_data()
    assert info(path) == {
        "INAM": "My kick",
        "IART": "me",
        "ICMT": "user note",  # a user's comment is never replaced
        "IKEY": "punchy; 808; samplesort; tom; kick",
        "IGNR": "tom",
    }
    assert decoded(path) == before
    from mutagen.wave import WAVE

    tags = WAVE(path).tags
    assert tags["TIT2"].text == ["Boom"] and tags["TPE1"].text == ["Someone"]
    assert [f.text for f in tags.getall("COMM")] == [["keep me"]]
    assert tags.version[:2] == (2, 4)  # an existing tag keeps its version
    assert read_tags(path)["label"] == "tom"


def test_existing_tags_kept_in_other_formats(tmp_path: Path) -> None:
    import mutagen
    from mutagen.id3 import ID3, TIT2, TPE1

    for name in ("pcm16.flac", "vorbis.ogg"):
        path = make(tmp_path, name)
        f = mutagen.File(path)
        if f.tags is None:
            f.add_tags()
        f.tags["TITLE"], f.tags["ARTIST"], f.tags["COMMENT"] = ["Boom"], ["Someone"], ["keep me"]
        f.tags["GROUPING"] = ["mine"]
        f.save()
        write_tags(path, SampleTags("kick", None, 0.9, "m", "0.1.0"))
        f = mutagen.File(path)
        assert (f.tags["TITLE"], f.tags["ARTIST"], f.tags["COMMENT"]) == (
            ["Boom"],
            ["Someone"],
            ["keep me"],
        )
        assert f.tags["GROUPING"] == ["mine"]  # not samplesort's: kept although group is None
        assert f.tags["SAMPLESORT_LABEL"] == ["kick"] and "SAMPLESORT_GROUP" not in f.tags
    for name in ("layer3.mp3", "pcm16.aiff"):
        path = make(tmp_path, name)
        f = mutagen.File(path)
        f.add_tags()
        f.tags.add(TIT2(encoding=3, text=["Boom"]))
        f.tags.add(TPE1(encoding=3, text=["Someone"]))
        f.save()
        before = decoded(path)
        write_tags(path, KICK)
        tags = mutagen.File(path).tags
        assert tags["TIT2"].text == ["Boom"] and tags["TPE1"].text == ["Someone"]
        assert tags["TCON"].text == ["kick"] and decoded(path) == before
        if name.endswith(".mp3"):
            assert ID3(path).version[:2] == (2, 4)


def test_group_cleared_only_where_samplesort_wrote_it(tmp_path: Path) -> None:
    path = make(tmp_path, "pcm16.wav")
    write_tags(path, KICK)
    write_tags(path, SampleTags("unknown", None, 0.1, "m", "0.1.0"))
    from mutagen.wave import WAVE

    tags = WAVE(path).tags
    assert "TIT1" not in tags and "GRP1" not in tags and tags["TCON"].text == ["unknown"]
    assert read_tags(path) == {
        "label": "unknown",
        "confidence": "0.100",
        "model_id": "m",
        "version": "0.1.0",
    }
    assert info(path)["IKEY"] == "samplesort; unknown"


@pytest.mark.parametrize("unpadded", [(), (b"data",), (b"data", b"smpl")])
def test_odd_chunks_with_and_without_pad_bytes(tmp_path: Path, unpadded: tuple[bytes, ...]) -> None:
    path = tmp_path / "odd.wav"
    data = u8_data(999)
    parts = [(b"fmt ", U8_FMT), (b"note", b"abc"), (b"data", data), (b"smpl", b"odd")]
    path.write_bytes(build_wav(parts, unpadded=unpadded))
    before = decoded(path)
    write_tags(path, KICK)
    assert [c for c, _ in chunks(path)] == [b"fmt ", b"note", b"data", b"smpl", b"LIST", b"id3 "]
    assert chunk(path, b"data") == data and chunk(path, b"note") == b"abc"
    assert chunk(path, b"smpl") == b"odd"
    assert decoded(path) == before and info(path)["IGNR"] == "kick"
    with wave.open(str(path)) as w:
        assert w.readframes(w.getnframes()) == data


def test_info_item_with_garbage_pad_byte(tmp_path: Path) -> None:
    """Sound Forge 6 wrote a non-zero pad byte after an odd INFO item (a real file in the
    Hydrogen kits); the items are still read and kept."""
    items = info_payload(ISFT="Sound Forge", ICRD="2004-06-11")
    assert items.endswith(b"2004-06-11\0\0")
    path = tmp_path / "sf.wav"
    path.write_bytes(
        build_wav([(b"fmt ", U8_FMT), (b"data", u8_data()), (b"LIST", items[:-1] + b"\x02")])
    )
    write_tags(path, KICK)
    assert info(path) == {
        "ISFT": "Sound Forge",
        "ICRD": "2004-06-11",
        "IGNR": "kick",
        "IKEY": "samplesort; kick",
        "ICMT": KICK.comment(),
    }


def test_container_detected_from_content(tmp_path: Path) -> None:
    """An AIFF named .wav is tagged as the AIFF it is (ID3 chunk, no RIFF INFO)."""
    path = make(tmp_path, "pcm16.aiff").rename(tmp_path / "really-aiff.wav")
    before = decoded(path)
    write_tags(path, KICK)
    assert read_tags(path)["label"] == "kick" and decoded(path) == before
    assert [c for c, _ in chunks(path)][-1] == b"ID3 "


def test_unreadable_existing_id3_chunk_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad-id3.wav"
    path.write_bytes(
        build_wav([(b"fmt ", U8_FMT), (b"data", u8_data()), (b"id3 ", b"ID3\x04\0\0\x7f\x7f")])
    )
    original = path.read_bytes()
    with pytest.raises(TagError, match="existing ID3 tag is unreadable"):
        write_tags(path, KICK)
    assert path.read_bytes() == original and [p.name for p in tmp_path.iterdir()] == ["bad-id3.wav"]


@pytest.mark.parametrize("size_error", [-300, +8, 0x7FFFFFFF])
def test_wrong_riff_size_and_trailing_bytes(tmp_path: Path, size_error: int) -> None:
    """A RIFF size that is too small or too large is corrected when the chunks are intact;
    bytes after the last chunk that are not a chunk (an ID3v1 tag here) are kept after it."""
    good = build_wav([(b"fmt ", U8_FMT), (b"data", u8_data()), (b"smpl", b"12")])
    size = struct.unpack("<I", good[4:8])[0] + size_error
    tail = b"TAG" + b"v1 title".ljust(125, b"\0")
    path = tmp_path / "size.wav"
    path.write_bytes(good[:4] + struct.pack("<I", size) + good[8:] + tail)
    before = decoded(path)
    write_tags(path, KICK)
    raw = path.read_bytes()
    assert raw.endswith(tail) and decoded(path) == before
    trimmed = tmp_path / "trimmed.wav"
    trimmed.write_bytes(raw[: -len(tail)])
    assert [c for c, _ in chunks(trimmed)] == [b"fmt ", b"data", b"smpl", b"LIST", b"id3 "]
    assert chunk(trimmed, b"data") == u8_data() and chunk(trimmed, b"smpl") == b"12"


def broken_files(tmp_path: Path) -> dict[str, Path]:
    good = build_wav([(b"fmt ", U8_FMT), (b"data", u8_data())])
    rf64 = b"RF64" + b"\xff" * 4 + good[8:]
    files = {
        "truncated.wav": good[: len(good) - 300],
        "garbage.wav": good[:12] + b"\x00\x01\x02\xff" * 20,
        "rf64.wav": rf64,
        "text.wav": b"this is not audio\n",
        "nodata.wav": build_wav([(b"fmt ", U8_FMT)]),
        "garbage.flac": b"fLaC" + b"\x85" * 10,
        "garbage.mp3": b"\x00" * 64,
        "garbage.ogg": b"OggS" + b"\x00" * 40,
        "truncated.aiff": b"FORM\x00\x01\x00\x00AIFFCOMM\x00\x00\x00\x12",
        "empty.aiff": b"",
    }
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
    return {name: tmp_path / name for name in files}


def test_broken_files_refused_untouched_no_temp_left(tmp_path: Path) -> None:
    paths = broken_files(tmp_path)
    before = {p: p.read_bytes() for p in paths.values()}
    reasons = {}
    for name, path in paths.items():
        with pytest.raises(TagError) as err:
            write_tags(path, KICK)
        message = str(err.value)
        assert "\n" not in message and str(path) in message
        assert ".samplesort.tmp" not in message
        reasons[name] = message
        assert isinstance(err.value, SampleSortError)
    assert {p: p.read_bytes() for p in paths.values()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(paths)
    assert "truncated" in reasons["truncated.wav"]
    assert "RF64" in reasons["rf64.wav"]
    assert "garbage" in reasons["garbage.wav"]
    assert "'data'" in reasons["nodata.wav"]


def test_read_only_file_and_folder_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    path = make(folder, "pcm16.wav")
    original = path.read_bytes()
    try:
        path.chmod(0o444)
        with pytest.raises(TagError, match="file is read-only"):
            write_tags(path, KICK)
        path.chmod(0o644)
        folder.chmod(0o555)
        with pytest.raises(TagError, match="folder is read-only"):
            write_tags(path, KICK)
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)
    assert path.read_bytes() == original
    assert [p.name for p in folder.iterdir()] == ["pcm16.wav"]


def test_symlinks_and_hard_links_refused(tmp_path: Path) -> None:
    path = make(tmp_path, "pcm16.wav")
    link = tmp_path / "link.wav"
    link.symlink_to(path)
    with pytest.raises(TagError, match="symlink"):
        write_tags(link, KICK)
    hard = tmp_path / "hard.wav"
    os.link(path, hard)
    with pytest.raises(TagError, match="hard links"):
        write_tags(path, KICK)
    assert read_tags(path) == {}


def test_mode_xattrs_and_optionally_mtime_kept(tmp_path: Path) -> None:
    path = make(tmp_path, "pcm16.flac")
    path.chmod(0o640)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    try:
        os.setxattr(path, "user.samplesort-test", b"red")
        has_xattr = True
    except (AttributeError, OSError):
        has_xattr = False  # no user xattrs on this filesystem / platform
    write_tags(path, KICK, preserve_mtime=True)
    assert path.stat().st_mtime_ns == 1_000_000_000 and stat.S_IMODE(path.stat().st_mode) == 0o640
    if has_xattr:
        assert os.getxattr(path, "user.samplesort-test") == b"red"
    write_tags(path, TOM)
    assert path.stat().st_mtime_ns > 1_000_000_000


def test_can_tag_and_read_untagged() -> None:
    assert TAGGABLE_SUFFIXES == {".wav", ".wave", ".aif", ".aiff", ".aifc", ".flac", ".ogg", ".mp3"}
    assert can_tag(Path("a/B.WAV")) and can_tag(Path("x.aifc"))
    assert not can_tag(Path("x.m4a")) and not can_tag(Path("._x.wav"))


def test_read_tags_of_untagged_files_is_empty(tmp_path: Path) -> None:
    for name in FORMATS:
        assert read_tags(make(tmp_path, name)) == {}
    assert info(tmp_path / "pcm16.wav") == {}
    (tmp_path / "x.m4a").write_bytes(b"\0\0\0\x20ftypM4A ")
    with pytest.raises(TagError, match="cannot tag .m4a"):
        write_tags(tmp_path / "x.m4a", KICK)
    with pytest.raises(TagError, match="no such file"):
        write_tags(tmp_path / "missing.wav", KICK)
    assert stat.S_ISREG((tmp_path / "pcm16.wav").stat().st_mode)


LMMS = Path("/usr/share/lmms/samples")
AUDIOPHOB = Path("/usr/share/hydrogen/data/drumkits/Audiophob")
REAL = {  # real files on this machine (copied into tmp_path; never committed)
    "missing-pad": AUDIOPHOB / "124382__cubix__8bit-snare.wav",  # odd data chunk, no pad byte
    "garbage-info-pad": AUDIOPHOB / "15590__lewis__sabmute.wav",  # INFO pad byte 0x02
    "aiff-named-wav": AUDIOPHOB / "25671__walter-odington__garage-city-snare-snappy.wav",
}


@pytest.mark.parametrize("case", list(REAL))
def test_real_quirky_files_tagged(tmp_path: Path, case: str) -> None:
    if not REAL[case].exists():
        pytest.skip(f"{REAL[case]} not installed")
    path = tmp_path / REAL[case].name
    original = REAL[case].read_bytes()
    path.write_bytes(original)
    before = decoded(path)
    write_tags(path, KICK)
    assert read_tags(path) == KICK.fields() and decoded(path) == before
    if case != "aiff-named-wav":
        assert info(path)["IGNR"] == "kick"
    if case == "missing-pad":  # Modplug's RIFF size ends inside its LIST chunk; an 'xtra' chunk
        # follows: all chunks are walked to the end of the file and the size is corrected
        assert [c for c, _ in chunks(path)] == [
            b"fmt ",
            b"data",
            b"smpl",
            b"LIST",
            b"xtra",
            b"id3 ",
        ]
        assert len(chunk(path, b"data")) == 2425 and chunk(path, b"xtra") == original[-16:]
        assert info(path)["ISFT"] == "Modplug Tracker"


def test_real_ogg_with_audio_on_the_setup_page_refused(tmp_path: Path) -> None:
    src = LMMS / "instruments" / "cello01.ogg"
    if not src.exists():
        pytest.skip(f"{src} not installed")
    path = tmp_path / src.name
    path.write_bytes(src.read_bytes())
    with pytest.raises(TagError, match="Ogg page granule positions"):
        write_tags(path, KICK)
    assert path.read_bytes() == src.read_bytes() and [p.name for p in tmp_path.iterdir()] == [
        src.name
    ]
