"""Zip packs: nested folders extracted with stable paths and mtimes; zip-slip, absolute paths,
drive letters, symlinks, encrypted entries and zip bombs refused with one line, nothing
written outside the target."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fixtures import synth
from samplesort.packs import PackError, PackLimits, extract, inspect, is_pack_path


def _wav_bytes(tmp_path: Path, label: str, seed: int) -> bytes:
    p = synth.write(tmp_path / "src" / f"{label}{seed}.wav", synth.voice(label, seed=seed))
    return p.read_bytes()


def _zip(path: Path, entries: dict[str, bytes] | list[tuple[zipfile.ZipInfo, bytes]]) -> Path:
    items = entries.items() if isinstance(entries, dict) else entries
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in items:
            zf.writestr(name, data)
    return path


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_nested_pack_extracts_audio_only_with_stable_paths_and_mtimes(tmp_path: Path) -> None:
    kick, snare = _wav_bytes(tmp_path, "kick", 1), _wav_bytes(tmp_path, "snare", 2)
    zpath = _zip(
        tmp_path / "Cool Pack.zip",
        {
            "Cool Pack/Drums/Kicks/BD 01.wav": kick,
            "Cool Pack/Drums/Snares/SD 01.wav": snare,
            "Cool Pack/readme.txt": b"hello",
            "__MACOSX/Cool Pack/Drums/Kicks/._BD 01.wav": b"junk",
            "Cool Pack/.DS_Store": b"junk",
        },
    )
    listing = inspect(zpath)
    assert listing.name == "Cool Pack"
    assert [e.parts[-1] for e in listing.audio] == ["BD 01.wav", "SD 01.wav"]
    assert listing.skipped == 3
    assert listing.total_bytes == len(kick) + len(snare)

    target = tmp_path / "staging" / "cool"
    files = extract(zpath, target)
    assert [f.relative_to(target.resolve()).as_posix() for f in files] == [
        "Cool Pack/Drums/Kicks/BD 01.wav",
        "Cool Pack/Drums/Snares/SD 01.wav",
    ]
    assert files[0].read_bytes() == kick and files[1].read_bytes() == snare
    assert not any(n.endswith(".part") for n in _tree(target))
    first = [(f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    # A second extraction (e.g. after a restart) gives the same paths, sizes and mtimes.
    again = extract(zpath, target)
    assert again == files
    assert [(f.stat().st_size, f.stat().st_mtime_ns) for f in again] == first
    assert zpath.exists()  # the zip is never touched


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../../evil.wav", r"outside the pack folder \('\.\.'\)"),
        ("ok/../../evil.wav", r"outside the pack folder"),
        ("..\\..\\evil.wav", r"outside the pack folder"),
        ("/tmp/evil.wav", "absolute path"),
        ("\\\\server\\share\\evil.wav", "absolute path"),
        ("C:/Windows/evil.wav", "drive letter"),
        ("c:evil.wav", "drive letter"),
    ],
)
def test_escaping_entries_refuse_the_pack_and_write_nothing(
    tmp_path: Path, name: str, why: str
) -> None:
    zpath = _zip(tmp_path / "slip.zip", {"fine/kick.wav": b"RIFF....", name: b"RIFF evil"})
    before = _tree(tmp_path)
    target = tmp_path / "stage" / "slip"
    with pytest.raises(PackError, match=rf"slip\.zip: refused: entry .*{why}"):
        extract(zpath, target)
    assert _tree(tmp_path) - before <= {"stage"}  # at most the (empty) staging parent
    assert not target.exists()
    assert not (tmp_path.parent / "evil.wav").exists()


def test_symlink_entry_refused(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("kit/link.wav")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    zpath = _zip(tmp_path / "links.zip", [(info, b"/etc/passwd")])
    with pytest.raises(PackError, match=r"links\.zip: refused: entry 'kit/link\.wav' is a symlink"):
        extract(zpath, tmp_path / "stage")
    assert not (tmp_path / "stage").exists()


def test_encrypted_entry_refused(tmp_path: Path) -> None:
    zpath = _zip(tmp_path / "secret.zip", {"kick.wav": b"xx"})
    # zipfile cannot encrypt: set the "encrypted" flag bit in both headers by hand.
    data = bytearray(zpath.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.index(sig) + offset] |= 0x1
    zpath.write_bytes(bytes(data))
    with pytest.raises(PackError, match=r"secret\.zip: refused: entry 'kick\.wav' is encrypted"):
        inspect(zpath)


def test_zip_bomb_refused_by_ratio_before_anything_is_written(tmp_path: Path) -> None:
    zpath = _zip(tmp_path / "bomb.zip", {"kick.wav": bytes(3 * 1024**2)})
    assert zpath.stat().st_size < 100_000
    with pytest.raises(
        PackError, match=r"bomb\.zip: refused: entry 'kick\.wav' expands \d+x.*zip bomb"
    ):
        extract(zpath, tmp_path / "stage")
    assert not (tmp_path / "stage").exists()


def test_short_silent_one_shot_is_not_a_bomb(tmp_path: Path) -> None:
    # 0.5 s of digital silence deflates far past 100:1 but is under the 1 MiB floor.
    silent = synth.write(tmp_path / "src" / "silent.wav", np.zeros(22050, np.float32))
    zpath = _zip(tmp_path / "quiet.zip", {"silent.wav": silent.read_bytes()})
    assert len(inspect(zpath).audio) == 1


def test_total_and_entry_caps(tmp_path: Path) -> None:
    zpath = _zip(tmp_path / "big.zip", {f"k{i}.wav": os.urandom(600) for i in range(4)})
    with pytest.raises(PackError, match=r"big\.zip: refused: more than 2000 bytes of audio"):
        inspect(zpath, PackLimits(max_total_bytes=2000))
    with pytest.raises(PackError, match=r"big\.zip: refused: 4 entries, more than the cap of 3"):
        inspect(zpath, PackLimits(max_entries=3))
    assert len(inspect(zpath).audio) == 4


def test_not_a_zip(tmp_path: Path) -> None:
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(PackError, match=r"broken\.zip: not a readable zip"):
        inspect(bad)


def test_is_pack_path() -> None:
    assert is_pack_path(Path("a/Pack.ZIP"))
    assert not is_pack_path(Path("a/.hidden.zip"))
    assert not is_pack_path(Path("a/kick.wav"))
