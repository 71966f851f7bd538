"""Writing the catalog: a scan's batches of analysed files (`Record`; a file whose content hash
matches a vanished row is a move and keeps its analysis), missing marks, the `scans` log, new
predictions from reclassify, and the rows that follow the files organize moves, copies, links
and tags (called inside a journal transaction). Every write is one transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields

from .catalog_schema import CatalogDB

# Every column of `files`, as the migrations leave it (copy_row copies all but id and path).
_ALL_COLUMNS = (
    "id path size mtime_ns content_hash duration_s format sr_hz channels features feature_schema "
    "label confidence labels scores model_id error missing analysed_at updated_at"
).split()


@dataclass(frozen=True)
class Record:
    """One analysed file, or one failure (`error` set, analysis fields None), to store."""

    path: str
    size: int | None
    mtime_ns: int | None
    content_hash: str | None = None
    duration_s: float | None = None
    format: str | None = None
    sr_hz: int | None = None
    channels: int | None = None
    features: bytes | None = None
    feature_schema: int | None = None
    label: str | None = None
    confidence: float | None = None
    labels: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    model_id: str | None = None
    error: str | None = None


# Record's fields are the columns they fill; an upsert replaces a path's whole analysis.
_RECORD_COLUMNS = tuple(f.name for f in fields(Record))
_UPSERT = (
    f"INSERT INTO files ({', '.join(_RECORD_COLUMNS)}, missing, analysed_at, updated_at) "
    f"VALUES ({', '.join('?' * len(_RECORD_COLUMNS))}, 0, ?, ?) ON CONFLICT (path) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _RECORD_COLUMNS[1:])
    + ", missing = 0, analysed_at = excluded.analysed_at, updated_at = excluded.updated_at"
)


class CatalogWrites(CatalogDB):
    """The catalog's writes (mixed into `catalog.Catalog`)."""

    # --- scanning ------------------------------------------------------------------------------

    def set_missing(self, paths: Iterable[str], *, missing: bool = True) -> int:
        """Mark paths as gone from disk (or back); returns how many rows changed."""
        now = time.time()
        with self.transaction() as conn:
            cur = conn.executemany(
                "UPDATE files SET missing = ?, updated_at = ? WHERE path = ? AND missing != ?",
                ((int(missing), now, p, int(missing)) for p in paths),
            )
            return cur.rowcount

    def record(
        self, records: Sequence[Record], *, path_exists: Callable[[str], bool]
    ) -> list[str | None]:
        """Store a batch in one transaction. A successful record whose content hash matches a row
        whose file is gone (missing, or `path_exists` false) is a move: that row takes the new
        path and keeps its analysis. Returns, per record, the old path of such a move, or None."""
        now = time.time()
        moved: list[str | None] = []
        with self.transaction() as conn:
            for r in records:
                old = None
                if r.error is None and r.content_hash is not None:
                    old = self._adopt(conn, r, now, path_exists)
                moved.append(old)
                if old is None:
                    self._upsert(conn, r, now)
        return moved

    def _adopt(
        self, conn: sqlite3.Connection, r: Record, now: float, path_exists: Callable[[str], bool]
    ) -> str | None:
        rows = conn.execute(
            "SELECT id, path, missing FROM files WHERE content_hash = ? AND path != ? "
            "AND error IS NULL ORDER BY missing DESC, id",
            (r.content_hash, r.path),
        ).fetchall()
        for row_id, old_path, missing in rows:
            if missing or not path_exists(old_path):
                conn.execute("DELETE FROM files WHERE path = ?", (r.path,))
                conn.execute(
                    "UPDATE files SET path = ?, size = ?, mtime_ns = ?, missing = 0, "
                    "updated_at = ? WHERE id = ?",
                    (r.path, r.size, r.mtime_ns, now, row_id),
                )
                return str(old_path)
        return None

    def _upsert(self, conn: sqlite3.Connection, r: Record, now: float) -> None:
        values = [getattr(r, c) for c in _RECORD_COLUMNS]
        if r.error is None:
            values[_RECORD_COLUMNS.index("labels")] = json.dumps(list(r.labels))
            values[_RECORD_COLUMNS.index("scores")] = json.dumps(r.scores)
        else:
            values[_RECORD_COLUMNS.index("labels")] = values[_RECORD_COLUMNS.index("scores")] = None
        conn.execute(_UPSERT, (*values, now, now))

    def begin_scan(self, root: str) -> int:
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO scans (root, started_at, status) VALUES (?, ?, 'running')",
                (root, time.time()),
            )
            return int(cur.lastrowid or 0)

    def finish_scan(self, scan_id: int, status: str, counts: dict[str, int]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE scans SET finished_at = ?, status = ?, counts = ? WHERE id = ?",
                (time.time(), status, json.dumps(counts), scan_id),
            )

    # --- reclassify ----------------------------------------------------------------------------

    def set_predictions(
        self, rows: Iterable[tuple[int, str, float, tuple[str, ...], dict[str, float], str]]
    ) -> None:
        """(id, label, confidence, labels, scores, model_id) for rows already catalogued."""
        now = time.time()
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE files SET label = ?, confidence = ?, labels = ?, scores = ?, "
                "model_id = ?, updated_at = ? WHERE id = ?",
                (
                    (lab, conf, json.dumps(list(labs)), json.dumps(sc), mid, now, i)
                    for i, lab, conf, labs, sc, mid in rows
                ),
            )

    # --- following the files organize moves (called inside a journal transaction) -------------

    @staticmethod
    def move_row(conn: sqlite3.Connection, old: str, new: str) -> None:
        """The row of `old` now describes `new` (a stale row for `new` is replaced)."""
        if conn.execute("SELECT 1 FROM files WHERE path = ?", (old,)).fetchone() is None:
            return
        conn.execute("DELETE FROM files WHERE path = ?", (new,))
        conn.execute(
            "UPDATE files SET path = ?, missing = 0, updated_at = ? WHERE path = ?",
            (new, time.time(), old),
        )

    @staticmethod
    def copy_row(conn: sqlite3.Connection, src: str, new: str) -> None:
        """A row for the copy `new` with the analysis of `src`."""
        cols = ", ".join(c for c in _ALL_COLUMNS if c not in ("id", "path"))
        conn.execute("DELETE FROM files WHERE path = ?", (new,))
        conn.execute(
            f"INSERT INTO files (path, {cols}) SELECT ?, {cols} FROM files WHERE path = ?",
            (new, src),
        )

    @staticmethod
    def drop_row(conn: sqlite3.Connection, path: str) -> None:
        conn.execute("DELETE FROM files WHERE path = ?", (path,))

    @staticmethod
    def restat_row(conn: sqlite3.Connection, path: str) -> None:
        """Take a rewritten file's new size and mtime (its decoded audio, hence its analysis,
        is unchanged: tags only), so a rescan does not decode it again."""
        try:
            st = os.stat(path)
        except OSError:
            return
        conn.execute(
            "UPDATE files SET size = ?, mtime_ns = ?, updated_at = ? WHERE path = ?",
            (st.st_size, st.st_mtime_ns, time.time(), path),
        )
