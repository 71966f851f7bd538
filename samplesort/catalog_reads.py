"""Reading the catalog: what a rescan knows of a folder (`Known`), the rows as `ls` shows them
(`Entry`, filtered by a `query.Query`), stats, duplicate groups, and the stored features and
analysis that reclassify and organize read back. Nothing here writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .catalog_schema import CatalogDB
from .query import Query, where
from .taxonomy import group_of

_ENTRY_COLUMNS = (
    "path, label, confidence, labels, scores, duration_s, format, sr_hz, channels, size, "
    "mtime_ns, content_hash, model_id, error, missing"
)


@dataclass(frozen=True)
class Known:
    """What a rescan needs to know about a catalogued path."""

    size: int | None
    mtime_ns: int | None
    feature_schema: int | None
    failed: bool
    missing: bool


@dataclass(frozen=True)
class Entry:
    """A catalog row as `ls` shows it."""

    path: str
    label: str | None
    confidence: float | None
    labels: tuple[str, ...]
    scores: dict[str, float]
    duration_s: float | None
    format: str | None
    sr_hz: int | None
    channels: int | None
    size: int | None
    mtime_ns: int | None
    content_hash: str | None
    model_id: str | None
    error: str | None
    missing: bool

    @property
    def group(self) -> str | None:
        return group_of(self.label) if self.label else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "label": self.label,
            "group": self.group,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "labels": list(self.labels),
            "scores": self.scores,
            "duration_s": self.duration_s,
            "format": self.format,
            "sr_hz": self.sr_hz,
            "channels": self.channels,
            "size": self.size,
            "content_hash": self.content_hash,
            "model_id": self.model_id,
            "error": self.error,
            "missing": self.missing,
        }


def _entry(row: Sequence[Any]) -> Entry:
    return Entry(
        path=row[0],
        label=row[1],
        confidence=row[2],
        labels=tuple(json.loads(row[3])) if row[3] else (),
        scores=json.loads(row[4]) if row[4] else {},
        duration_s=row[5],
        format=row[6],
        sr_hz=row[7],
        channels=row[8],
        size=row[9],
        mtime_ns=row[10],
        content_hash=row[11],
        model_id=row[12],
        error=row[13],
        missing=bool(row[14]),
    )


def _prefix_bounds(root: str) -> tuple[str, str]:
    """Paths under the folder `root` are exactly those in [root + '/', root + '0'): '0' is the
    byte after '/', and SQLite compares TEXT bytewise, so the range uses the primary key index."""
    base = root.rstrip("/") + "/"
    return base, base[:-1] + "0"


class CatalogReads(CatalogDB):
    """The catalog's queries (mixed into `catalog.Catalog`)."""

    # --- scanning ------------------------------------------------------------------------------

    def index(self, root: str) -> dict[str, Known]:
        """Every catalogued path under the folder `root` (absolute), with what a rescan needs."""
        lo, hi = _prefix_bounds(root)
        with self._guard("read"):
            rows = self.conn.execute(
                "SELECT path, size, mtime_ns, feature_schema, error IS NOT NULL, missing "
                "FROM files WHERE path >= ? AND path < ?",
                (lo, hi),
            )
            return {r[0]: Known(r[1], r[2], r[3], bool(r[4]), bool(r[5])) for r in rows}

    def other_model_count(self, root: str, model_id: str) -> int:
        """Present, analysed files under `root` labelled by a model other than `model_id`."""
        lo, hi = _prefix_bounds(root)
        with self._guard("read"):
            return int(
                self.conn.execute(
                    "SELECT count(*) FROM files WHERE path >= ? AND path < ? AND missing = 0 "
                    "AND error IS NULL AND model_id IS NOT ?",
                    (lo, hi, model_id),
                ).fetchone()[0]
            )

    def label_summary(self, root: str) -> list[tuple[str, int, float | None]]:
        """(label, files, mean confidence) of the present, analysed files under `root`."""
        lo, hi = _prefix_bounds(root)
        with self._guard("read"):
            return self.conn.execute(
                "SELECT label, count(*), avg(confidence) FROM files WHERE path >= ? AND path < ? "
                "AND missing = 0 AND error IS NULL GROUP BY label",
                (lo, hi),
            ).fetchall()

    # --- queries -------------------------------------------------------------------------------

    def entries(
        self, query: Query | None = None, *, under: str | None = None, limit: int | None = None
    ) -> Iterator[Entry]:
        """Rows matching `query` (and under the folder `under`), ordered by path, streamed."""
        clause, params = where(query or Query())
        if under is not None:
            clause += " AND path >= ? AND path < ?"
            params = [*params, *_prefix_bounds(under)]
        sql = f"SELECT {_ENTRY_COLUMNS} FROM files WHERE {clause} ORDER BY path"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._guard("query"):
            for row in self.conn.execute(sql, params):
                yield _entry(row)

    def stats(self, query: Query | None = None) -> dict[str, Any]:
        """Totals and breakdowns (label, format, sample rate) of the rows `query` selects, plus
        library-wide counts of missing files, errors and duplicate groups."""
        clause, params = where(query or Query())
        out: dict[str, Any] = {}
        with self.snapshot() as conn:
            files, duration = conn.execute(
                f"SELECT count(*), coalesce(sum(duration_s), 0) FROM files WHERE {clause}", params
            ).fetchone()
            out["files"] = files
            out["duration_s"] = round(duration, 3)
            out["labels"] = {
                lab: {"files": n, "mean_confidence": round(c, 4), "duration_s": round(d, 3)}
                for lab, n, c, d in conn.execute(
                    f"SELECT label, count(*), avg(confidence), coalesce(sum(duration_s), 0) "
                    f"FROM files WHERE {clause} AND label IS NOT NULL GROUP BY label "
                    "ORDER BY count(*) DESC, label",
                    params,
                )
            }
            out["formats"] = dict(
                conn.execute(
                    f"SELECT upper(format), count(*) FROM files WHERE {clause} AND format IS NOT "
                    "NULL GROUP BY upper(format) ORDER BY count(*) DESC",
                    params,
                ).fetchall()
            )
            out["sample_rates"] = {
                str(sr): n
                for sr, n in conn.execute(
                    f"SELECT sr_hz, count(*) FROM files WHERE {clause} AND sr_hz IS NOT NULL "
                    "GROUP BY sr_hz ORDER BY sr_hz",
                    params,
                )
            }
            out["models"] = dict(
                conn.execute(
                    f"SELECT model_id, count(*) FROM files WHERE {clause} AND model_id IS NOT "
                    "NULL GROUP BY model_id",
                    params,
                ).fetchall()
            )
            out["catalog"] = dict(
                zip(
                    ("present", "missing", "errors"),
                    conn.execute(
                        "SELECT coalesce(sum(missing = 0), 0), coalesce(sum(missing = 1), 0), "
                        "coalesce(sum(missing = 0 AND error IS NOT NULL), 0) FROM files"
                    ).fetchone(),
                    strict=True,
                )
            )
            out["catalog"]["duplicate_groups"] = conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM files WHERE missing = 0 AND content_hash IS "
                "NOT NULL GROUP BY content_hash HAVING count(*) > 1)"
            ).fetchone()[0]
        groups: dict[str, dict[str, Any]] = {}
        for lab, row in out["labels"].items():
            g = groups.setdefault(group_of(lab), {"files": 0, "duration_s": 0.0})
            g["files"] += row["files"]
            g["duration_s"] = round(g["duration_s"] + row["duration_s"], 3)
        out["groups"] = groups
        return out

    def dupes(self) -> Iterator[list[Entry]]:
        """Groups of present files with the same decoded audio (largest groups first)."""
        with self._guard("query"):
            hashes = [
                h
                for (h,) in self.conn.execute(
                    "SELECT content_hash FROM files WHERE missing = 0 AND content_hash IS NOT "
                    "NULL GROUP BY content_hash HAVING count(*) > 1 ORDER BY count(*) DESC, "
                    "min(path)"
                )
            ]
        for h in hashes:
            with self._guard("query"):
                rows = self.conn.execute(
                    f"SELECT {_ENTRY_COLUMNS} FROM files WHERE content_hash = ? AND missing = 0 "
                    "ORDER BY path",
                    (h,),
                ).fetchall()
            if len(rows) > 1:
                yield [_entry(r) for r in rows]

    # --- reclassify ----------------------------------------------------------------------------

    def feature_ids(self, schema: int) -> tuple[list[int], int]:
        """Ids of rows holding features of `schema` (ordered so identical audio is adjacent),
        and how many rows hold features of another schema."""
        with self.snapshot() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM files WHERE features IS NOT NULL AND feature_schema = ? "
                    "ORDER BY content_hash, id",
                    (schema,),
                )
            ]
            other = conn.execute(
                "SELECT count(*) FROM files WHERE features IS NOT NULL AND feature_schema != ?",
                (schema,),
            ).fetchone()[0]
        return ids, int(other)

    def features(self, ids: Sequence[int]) -> list[tuple[int, bytes, str | None]]:
        """(id, feature BLOB, current label) for `ids`."""
        marks = ", ".join("?" * len(ids))
        with self._guard("read"):
            return self.conn.execute(
                f"SELECT id, features, label FROM files WHERE id IN ({marks})", list(ids)
            ).fetchall()

    # --- organize ------------------------------------------------------------------------------

    def analysis(self, paths: Sequence[str]) -> dict[str, tuple[Entry, bytes | None, int | None]]:
        """(entry, feature BLOB, feature schema) of each catalogued path among `paths`."""
        out: dict[str, tuple[Entry, bytes | None, int | None]] = {}
        with self.snapshot() as conn:
            for i in range(0, len(paths), 500):
                chunk = list(paths[i : i + 500])
                marks = ", ".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT {_ENTRY_COLUMNS}, features, feature_schema FROM files "
                    f"WHERE path IN ({marks})",
                    chunk,
                ):
                    e = _entry(row[:-2])
                    out[e.path] = (e, row[-2], row[-1])
        return out
