"""samplesort's fields in each container: read back from, and edited into, ID3 (WAV `id3 `
chunk, AIFF `ID3 ` chunk, MP3), Vorbis comments (FLAC, OGG) and WAV's RIFF INFO list. WAV/AIFF
are rebuilt chunk by chunk with `iff.py`; MP3, FLAC and OGG are edited in place by mutagen (on
the temp copy `tags.write_tags` hands over). Checks, the temp copy and its verification are
`tags.py`'s.

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
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, BinaryIO

from . import iff
from .errors import reason
from .iff import FormatError
from .payload import leading_id3
from .tags_fields import COMMENT_PREFIX, FIELD_KEYS, SampleTags, TagError


def read_fields(path: Path, kind: str) -> dict[str, str]:
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
        raise TagError(f"{path}: cannot read tags: {reason(exc)}") from exc


# --- WAV / AIFF (chunk work in iff.py) -------------------------------------------------------


def write_iff(src: BinaryIO, dst: BinaryIO, path: Path, kind: str, tags: SampleTags) -> None:
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
        why = reason(exc)
        raise TagError(f"{path}: existing ID3 tag is unreadable ({why}); not tagged") from exc


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
            raise TagError(f"{shown}: not a readable FLAC file ({reason(exc)})") from exc
    from mutagen.oggvorbis import OggVorbis

    try:
        return OggVorbis(path)
    except Exception as exc:
        raise TagError(
            f"{shown}: not Ogg Vorbis ({reason(exc)}); only Vorbis .ogg files are tagged"
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


def edit_with_mutagen(tmp: Path, path: Path, kind: str, tags: SampleTags) -> None:
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
