"""The only module that rewrites file contents: samplesort's tags written into audio files
(mutagen for ID3 and Vorbis comments, `iff.py`'s chunk writer for WAV/AIFF and WAV's RIFF
INFO list), always through a verified temp copy that replaces the original atomically. This
module owns the public API, the field mapping below and the write/verify sequence; `iff.py`
(chunk lists, byte level) and `payload.py` (audio payload digests) only read and write the
open files handed to them.

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
import io
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from . import iff
from .errors import SampleSortError
from .fsops import fsync_dir
from .iff import FormatError
from .payload import id3v2_size, leading_id3, ogg_packets_equal, payload

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
    return _read_fields(path, _kind(path))


def _read_fields(path: Path, kind: str) -> dict[str, str]:
    try:
        with open(path, "rb") as f:
            if kind in ("wav", "aiff"):
                form = iff.parse_form(f, path, kind)
                ch = form.id3_chunk(path)
                return _id3_fields(_load_id3(iff.chunk_bytes(f, ch), path)) if ch else {}
            if kind == "mp3":
                return _id3_fields(_load_id3(leading_id3(f), path))
        return _vorbis_fields(_open_vorbis(path, kind, path).tags)
    except TagError:
        raise
    except FormatError as exc:
        raise TagError(str(exc)) from exc
    except Exception as exc:  # mutagen.MutagenError, OSError, struct.error, ...
        raise TagError(f"{path}: cannot read tags: {_reason(exc)}") from exc


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
                _write_iff(src, dst, path, kind, tags)
            else:
                shutil.copyfileobj(src, dst, iff.COPY_BLOCK)
                dst.flush()
                _edit_with_mutagen(tmp, path, kind, tags)
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
                f.seek(id3v2_size(head))
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


# --- WAV / AIFF (chunk work in iff.py) -------------------------------------------------------


def _write_iff(src: BinaryIO, dst: BinaryIO, path: Path, kind: str, tags: SampleTags) -> None:
    """Rebuild the file into `dst`: every chunk copied unchanged, ours replaced or appended."""
    form = iff.parse_form(src, path, kind)
    id3_ch, info_ch = form.id3_chunk(path), form.info_chunk(path) if kind == "wav" else None
    id3 = _load_id3(iff.chunk_bytes(src, id3_ch), path) if id3_ch else None
    prev = _id3_fields(id3) if id3 is not None else {}
    id3_data = _id3_bytes(_edit_id3(id3, tags, prev))
    id3_cid = b"id3 " if kind == "wav" else b"ID3 "  # mutagen reads AIFF's as "ID3 "
    replace: dict[int, tuple[bytes, bytes]] = {}
    append: list[tuple[bytes, bytes]] = []
    if kind == "wav":
        old_items = iff.info_items(iff.chunk_bytes(src, info_ch), path) if info_ch else []
        info = _info_payload(old_items, tags, prev)
        if info_ch:
            replace[info_ch.offset] = (b"LIST", info)
        else:
            append.append((b"LIST", info))
    if id3_ch:
        replace[id3_ch.offset] = (id3_ch.cid if kind == "wav" else id3_cid, id3_data)
    else:
        append.append((id3_cid, id3_data))
    iff.rebuild(src, dst, form, path, replace=replace, append=append)


def _keywords(old: str, tags: SampleTags, prev: dict[str, str]) -> str:
    ours = ["samplesort", tags.label, *tags.labels, *([tags.group] if tags.group else [])]
    stale = {"samplesort", prev.get("label"), prev.get("group")}
    stale |= {s.strip() for s in prev.get("labels", "").split(";")}
    kept = [k.strip() for k in old.split(";") if k.strip() and k.strip() not in stale]
    return "; ".join(dict.fromkeys([*kept, *ours]))


def _info_payload(
    items: list[tuple[bytes, bytes]], tags: SampleTags, prev: dict[str, str]
) -> bytes:
    """The new LIST/INFO payload: IGNR, IKEY and (where it is empty or ours) ICMT set, every
    other item kept in order."""
    old = {cid: iff.info_text(v) for cid, v in items}
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
    return iff.encode_info(out)


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
        before, after = payload(src, path, kind), payload(dst, tmp, kind)
        if before != after:
            what = "the audio payload"
            if kind == "ogg" and ogg_packets_equal(before, after):
                what = "the Ogg page granule positions (mutagen re-pages the headers)"
            raise TagError(f"{path}: tagging would change {what}; not tagged")
        problem = _decode_difference(path, tmp)
        if problem:
            raise TagError(f"{path}: {problem}; not tagged")
        got = _read_fields(tmp, kind)
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
