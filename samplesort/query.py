"""Pure: beets-style catalog queries -> a parsed `Query` -> an SQL WHERE clause.

    label:kick          label is kick (`label:kick,snare`: either)
    group:cymbal        label in the coarse group (crash, ride)
    unknown             label is "unknown"
    confidence:<0.6     numeric fields take <, <=, >, >=, =, a plain number, or a range a..b
    duration:<0.3       (also sr:44100, channels:2, size:>1000000)
    format:flac         container format (case-insensitive; aif = aiff, wave = wav, oga = ogg)
    path:808            substring of the path (case-insensitive for ASCII)
    hash:3fa2           content hash starts with
    808 snare           free words: substrings of the path
    error, missing      rows that failed analysis / files gone from disk (hidden otherwise)
    dupes               files whose decoded audio another present file shares
    ^term               negation (so does -term, after `--` on the command line)

Terms AND together. A typo in a field name is an error, never a silent free word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import UsageError
from .taxonomy import GROUP_OF, GROUPS, LABELS, UNKNOWN

NUMERIC = {
    "confidence": "confidence",
    "conf": "confidence",
    "duration": "duration_s",
    "dur": "duration_s",
    "sr": "sr_hz",
    "samplerate": "sr_hz",
    "channels": "channels",
    "size": "size",
}
TEXT = ("label", "group", "format", "path", "hash", "model")
KEYWORDS = ("unknown", "error", "errors", "missing", "dupes")
FORMAT_ALIASES = {"aif": "AIFF", "aifc": "AIFF", "wave": "WAV", "oga": "OGG"}
_NUM = re.compile(r"^(<=|>=|<|>|=)?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$")
_RANGE = re.compile(r"^(.*?)\.\.(.*)$")


@dataclass(frozen=True)
class Term:
    """One condition. `field` is a query field or keyword; `op` one of eq, in, like, prefix,
    lt, le, gt, ge, range, flag; `values` its operands."""

    field: str
    op: str
    values: tuple[object, ...] = ()
    negate: bool = False


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...] = ()

    @property
    def shows_missing(self) -> bool:
        return any(t.field == "missing" and not t.negate for t in self.terms)

    @property
    def shows_errors(self) -> bool:
        return any(t.field == "error" and not t.negate for t in self.terms)


def _number(field: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{field}: {text!r} is not a number") from None


def _numeric(field: str, value: str) -> Term:
    rng = _RANGE.match(value)
    if rng and (rng.group(1) or rng.group(2)):
        lo = _number(field, rng.group(1)) if rng.group(1) else None
        hi = _number(field, rng.group(2)) if rng.group(2) else None
        return Term(field, "range", (lo, hi))
    m = _NUM.match(value.strip())
    if not m:
        raise UsageError(
            f"{field}:{value}: expected a number, a comparison (<0.6, >=44100) "
            "or a range (0.1..0.3)"
        )
    op = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "=": "eq", None: "eq"}[m.group(1)]
    return Term(field, op, (float(m.group(2)),))


def _term(word: str) -> Term:
    negate = word[:1] in ("^", "-") and len(word) > 1
    body = word[1:] if negate else word
    low = body.lower()
    if low in KEYWORDS:
        field = {"errors": "error"}.get(low, low)
        return Term(field, "flag", (), negate)
    if ":" not in body:
        return Term("path", "like", (body,), negate)
    key, value = body.split(":", 1)
    key = key.lower()
    if key in NUMERIC:
        t = _numeric(NUMERIC[key], value)
        return Term(t.field, t.op, t.values, negate)
    if key not in TEXT:
        raise UsageError(
            f"unknown query field {key!r} in {word!r}; fields: "
            f"{', '.join([*TEXT, *dict.fromkeys(NUMERIC)])}; keywords: {', '.join(KEYWORDS)}"
            " (use path:... to match a path containing ':')"
        )
    if not value:
        raise UsageError(f"{word!r}: give a value after '{key}:'")
    if key == "label":
        values = tuple(v.strip().lower() for v in value.split(",") if v.strip())
        bad = [v for v in values if v not in LABELS and v != UNKNOWN]
        if bad:
            raise UsageError(f"label:{bad[0]}: not a label; labels: {', '.join(LABELS)}, unknown")
        return Term("label", "in", values, negate)
    if key == "group":
        groups = tuple(v.strip().lower() for v in value.split(",") if v.strip())
        bad = [g for g in groups if g not in GROUPS and g != UNKNOWN]
        if bad:
            raise UsageError(f"group:{bad[0]}: not a group; groups: {', '.join(GROUPS)}, unknown")
        labels = tuple(lab for lab, g in GROUP_OF.items() if g in groups)
        labels += (UNKNOWN,) if UNKNOWN in groups else ()
        return Term("label", "in", labels, negate)
    if key == "format":
        values = tuple(
            FORMAT_ALIASES.get(v.strip().lower(), v.strip().upper())
            for v in value.split(",")
            if v.strip()
        )
        return Term("format", "in", values, negate)
    if key == "hash":
        return Term("content_hash", "prefix", (value.lower(),), negate)
    if key == "model":
        return Term("model_id", "like", (value,), negate)
    return Term("path", "like", (value,), negate)


def parse(words: Sequence[str]) -> Query:
    """Parse query words (as the shell split them) into a Query; raises UsageError on a typo."""
    return Query(tuple(_term(w) for w in words if w.strip()))


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _sql(t: Term) -> tuple[str, list[object]]:
    if t.op == "flag":
        return {
            "unknown": (f"label = '{UNKNOWN}'", []),
            "error": ("error IS NOT NULL", []),
            "missing": ("missing = 1", []),
            "dupes": (
                "content_hash IN (SELECT content_hash FROM files WHERE missing = 0 AND "
                "content_hash IS NOT NULL GROUP BY content_hash HAVING count(*) > 1)",
                [],
            ),
        }[t.field]
    col = t.field
    if t.op == "in":
        if col == "format":
            col = "upper(format)"
        marks = ", ".join("?" * len(t.values))
        return f"{col} IN ({marks})", list(t.values)
    if t.op == "like":
        return f"{col} LIKE ? ESCAPE '\\'", [_like(str(t.values[0]))]
    if t.op == "prefix":
        return f"{col} LIKE ? ESCAPE '\\'", [_like(str(t.values[0]))[1:]]
    if t.op == "range":
        lo, hi = t.values
        parts, params = [], []
        if lo is not None:
            parts.append(f"{col} >= ?")
            params.append(lo)
        if hi is not None:
            parts.append(f"{col} <= ?")
            params.append(hi)
        return " AND ".join(parts), params
    sym = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "="}[t.op]
    return f"{col} {sym} ?", [t.values[0]]


def where(q: Query) -> tuple[str, list[object]]:
    """The WHERE clause (without the keyword) and its parameters. Files gone from disk and
    failed analyses are left out unless the query asks for them (`missing`, `error`)."""
    parts: list[str] = []
    params: list[object] = []
    if not q.shows_missing:
        parts.append("missing = 0")
    if not q.shows_errors:
        parts.append("error IS NULL")
    for t in q.terms:
        sql, p = _sql(t)
        # A NULL column (an error row has no label) does not match a term; its negation does.
        parts.append(f"NOT coalesce(({sql}), 0)" if t.negate else f"({sql})")
        params.extend(p)
    return " AND ".join(parts) or "1", params
