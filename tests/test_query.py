"""Query parsing (pure) and query results on a real SQLite catalog filled with records."""

from __future__ import annotations

from pathlib import Path

import pytest

from samplesort.catalog import Catalog, Record
from samplesort.errors import UsageError
from samplesort.query import Term, parse, where


def test_parse_fields_keywords_and_free_words() -> None:
    q = parse(["label:kick", "group:cymbal", "unknown", "confidence:<0.6", "808", "^path:loop"])
    assert q.terms == (
        Term("label", "in", ("kick",)),
        Term("label", "in", ("crash", "ride")),
        Term("unknown", "flag"),
        Term("confidence", "lt", (0.6,)),
        Term("path", "like", ("808",)),
        Term("path", "like", ("loop",), negate=True),
    )


@pytest.mark.parametrize(
    ("word", "term"),
    [
        ("duration:<0.3", Term("duration_s", "lt", (0.3,))),
        ("dur:>=1.5", Term("duration_s", "ge", (1.5,))),
        ("sr:44100", Term("sr_hz", "eq", (44100.0,))),
        ("confidence:0.2..0.8", Term("confidence", "range", (0.2, 0.8))),
        ("confidence:0.5..", Term("confidence", "range", (0.5, None))),
        ("size:..1000", Term("size", "range", (None, 1000.0))),
        ("format:flac", Term("format", "in", ("FLAC",))),
        ("format:aif,wave", Term("format", "in", ("AIFF", "WAV"))),
        ("label:kick,SNARE", Term("label", "in", ("kick", "snare"))),
        ("hash:3FA2", Term("content_hash", "prefix", ("3fa2",))),
        ("errors", Term("error", "flag")),
        ("-dupes", Term("dupes", "flag", negate=True)),
        ("path:C:/x", Term("path", "like", ("C:/x",))),
    ],
)
def test_parse_one_term(word: str, term: Term) -> None:
    assert parse([word]).terms == (term,)


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("lable:kick", "unknown query field 'lable'"),
        ("label:bassdrum", "label:bassdrum: not a label"),
        ("group:drums", "group:drums: not a group"),
        ("confidence:<high", "expected a number"),
        ("duration:a..b", "is not a number"),
        ("label:", "give a value after 'label:'"),
    ],
)
def test_parse_errors_are_usage_errors(word: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse([word])


def test_where_hides_missing_and_errors_unless_asked() -> None:
    assert where(parse([])) == ("missing = 0 AND error IS NULL", [])
    sql, params = where(parse(["missing", "label:kick"]))
    assert "missing = 0" not in sql and "error IS NULL" in sql and params == ["kick"]
    sql, _ = where(parse(["error"]))
    assert "missing = 0" in sql and "error IS NULL" not in sql


def test_like_wildcards_in_words_are_literal() -> None:
    _, params = where(parse(["100%_wet"]))
    assert params == ["%100\\%\\_wet%"]


# --- results on a real catalog --------------------------------------------------------------


def _rec(path: str, label: str, conf: float, dur: float, fmt: str, h: str, sr: int = 44100):
    return Record(
        path=path,
        size=1000,
        mtime_ns=1,
        content_hash=h,
        duration_s=dur,
        format=fmt,
        sr_hz=sr,
        channels=1,
        features=b"\0" * 8,
        feature_schema=2,
        label=label,
        confidence=conf,
        labels=(label,) if label != "unknown" else (),
        scores={"kick": conf},
        model_id="m1",
    )


@pytest.fixture
def cat(tmp_path: Path):
    records = [
        _rec("/lib/808/BD 808 long.wav", "kick", 0.9, 0.8, "WAV", "aa01"),
        _rec("/lib/909/BD 909.flac", "kick", 0.5, 0.25, "FLAC", "aa02", sr=48000),
        _rec("/lib/909/BD 909 copy.wav", "kick", 0.5, 0.25, "WAV", "aa02", sr=48000),
        _rec("/lib/cym/crash 16.wav", "crash", 0.7, 2.0, "WAV", "bb01"),
        _rec("/lib/cym/ride bell.aiff", "ride", 0.4, 1.5, "AIFF", "bb02"),
        _rec("/lib/odd/100%_wet.wav", "unknown", 0.2, 0.1, "WAV", "cc01"),
        _rec("/lib/odd/1000_wet.wav", "unknown", 0.3, 0.1, "WAV", "cc02"),
        _rec("/lib/gone/808 snare.wav", "snare", 0.8, 0.3, "WAV", "dd01"),
        Record("/lib/odd/broken 808.wav", 10, 1, error="/lib/odd/broken 808.wav: not audio"),
    ]
    with Catalog.open(tmp_path / "c.sqlite3") as c:
        c.record(records, path_exists=lambda p: True)
        c.set_missing(["/lib/gone/808 snare.wav"])
        yield c


def _paths(cat: Catalog, *words: str) -> list[str]:
    return [e.path for e in cat.entries(parse(list(words)))]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (
            ["label:kick"],
            ["/lib/808/BD 808 long.wav", "/lib/909/BD 909 copy.wav", "/lib/909/BD 909.flac"],
        ),  # fmt: skip
        (["group:cymbal"], ["/lib/cym/crash 16.wav", "/lib/cym/ride bell.aiff"]),
        (["unknown"], ["/lib/odd/100%_wet.wav", "/lib/odd/1000_wet.wav"]),
        (
            ["confidence:<0.6", "duration:<0.3"],
            [
                "/lib/909/BD 909 copy.wav",
                "/lib/909/BD 909.flac",
                "/lib/odd/100%_wet.wav",
                "/lib/odd/1000_wet.wav",
            ],
        ),  # fmt: skip
        (["format:flac"], ["/lib/909/BD 909.flac"]),
        (["format:aif"], ["/lib/cym/ride bell.aiff"]),
        (["path:808"], ["/lib/808/BD 808 long.wav"]),
        (["bd", "long"], ["/lib/808/BD 808 long.wav"]),
        (["100%_wet"], ["/lib/odd/100%_wet.wav"]),
        (["sr:48000", "^format:flac"], ["/lib/909/BD 909 copy.wav"]),
        (["dupes"], ["/lib/909/BD 909 copy.wav", "/lib/909/BD 909.flac"]),
        (["hash:bb"], ["/lib/cym/crash 16.wav", "/lib/cym/ride bell.aiff"]),
        (["missing"], ["/lib/gone/808 snare.wav"]),
        (["error"], ["/lib/odd/broken 808.wav"]),
        (["error", "808"], ["/lib/odd/broken 808.wav"]),
        (["label:snare"], []),
    ],
)
def test_query_results(cat: Catalog, words: list[str], expected: list[str]) -> None:
    assert _paths(cat, *words) == expected


def test_negated_label_keeps_rows_without_one(cat: Catalog) -> None:
    # An error row has no label: it is "not a kick" (only shown when errors are asked for).
    assert "/lib/odd/broken 808.wav" in _paths(cat, "error", "^label:kick")
    assert len(_paths(cat, "^label:kick")) == 4


def test_entry_json_fields(cat: Catalog) -> None:
    (e,) = cat.entries(parse(["format:flac"]))
    d = e.as_dict()
    assert d["label"] == "kick" and d["group"] == "kick" and d["sr_hz"] == 48000
    assert d["labels"] == ["kick"] and d["scores"] == {"kick": 0.5} and d["missing"] is False
