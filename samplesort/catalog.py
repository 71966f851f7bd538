"""The SQLite catalog of a sample library: schema and named migrations, transactions, queries.

One row per file path: size and mtime (for the stat-only rescan), a content hash of the decoded
audio (moves and duplicates), duration / format / sample rate / channels, the feature vector as a
little-endian float32 BLOB with its schema version (reclassify without decoding), and the
prediction: label, confidence, accepted labels, per-class scores, the model's identity. A file
gone from disk keeps its row with `missing = 1`; a file that could not be analysed has `error`.

Concurrency and crashes: WAL journal and a busy timeout, so readers never block and a second
writer waits instead of failing; every write is one `BEGIN IMMEDIATE ... COMMIT` transaction, so a
killed process leaves the catalog as of its last commit, never half a batch. Every SQLite failure
surfaces as a one-line `CatalogError`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import SampleSortError
from .query import Query, where
from .taxonomy import group_of

BUSY_TIMEOUT_S = 30.0
ENV_VAR = "SAMPLESORT_CATALOG"

# Named migrations, applied in order, each recorded in `migrations`; never edit a released one.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "0001_files",
        """
        CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            size INTEGER,
            mtime_ns INTEGER,
            content_hash TEXT,
            duration_s REAL,
            format TEXT,
            sr_hz INTEGER,
            channels INTEGER,
            features BLOB,
            feature_schema INTEGER,
            label TEXT,
            confidence REAL,
            labels TEXT,
            scores TEXT,
            model_id TEXT,
            error TEXT,
            missing INTEGER NOT NULL DEFAULT 0,
            analysed_at REAL,
            updated_at REAL
        );
        CREATE INDEX files_content_hash ON files (content_hash);
        CREATE INDEX files_label ON files (label);
        """,
    ),
    (
        "0002_scans",
        """
        CREATE TABLE scans (
            id INTEGER PRIMARY KEY,
            root TEXT NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL,
            status TEXT NOT NULL,
            counts TEXT
        );
        """,
    ),
    (
        "0003_journal",
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL,
            status TEXT NOT NULL,
            pid INTEGER,
            root TEXT,
            dest TEXT,
            mode TEXT,
            options TEXT,
            counts TEXT,
            pathmap TEXT,
            undone_at REAL
        );
        CREATE TABLE ops (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            src TEXT,
            dest TEXT NOT NULL,
            tmp TEXT,
            backup TEXT,
            size INTEGER,
            mtime_ns INTEGER,
            sha256 TEXT,
            new_sha256 TEXT,
            state TEXT NOT NULL,
            error TEXT,
            started_at REAL,
            finished_at REAL
        );
        CREATE INDEX ops_run ON ops (run_id, seq);
        CREATE INDEX ops_src ON ops (src);
        """,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
_ENTRY_COLUMNS = (
    "path, label, confidence, labels, scores, duration_s, format, sr_hz, channels, size, "
    "mtime_ns, content_hash, model_id, error, missing"
)
_ALL_COLUMNS = (
    "id path size mtime_ns content_hash duration_s format sr_hz channels features feature_schema "
    "label confidence labels scores model_id error missing analysed_at updated_at"
).split()


class CatalogError(SampleSortError):
    """The catalog cannot be opened, read or written (one-line message)."""


def default_path() -> Path:
    """`$SAMPLESORT_CATALOG`, else `catalog.sqlite3` in the user data dir (platformdirs)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    import platformdirs

    return platformdirs.user_data_path("samplesort") / "catalog.sqlite3"


@dataclass(frozen=True)
class Known:
    """What a rescan needs to know about a catalogued path."""

    size: int | None
    mtime_ns: int | None
    feature_schema: int | None
    failed: bool
    missing: bool


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


def _explain(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "readonly" in text or "unable to open" in text:
        return f"{text} (is its folder writable?)"
    if "locked" in text or "busy" in text:
        return f"{text} (another process held it for {BUSY_TIMEOUT_S:.0f} s)"
    if "not a database" in text:
        return f"{text} (not a samplesort catalog)"
    return text


def _prefix_bounds(root: str) -> tuple[str, str]:
    """Paths under the folder `root` are exactly those in [root + '/', root + '0'): '0' is the
    byte after '/', and SQLite compares TEXT bytewise, so the range uses the primary key index."""
    base = root.rstrip("/") + "/"
    return base, base[:-1] + "0"


class Catalog:
    """An open catalog. Use `Catalog.open(path)`; close it (or use it as a context manager)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    # --- opening, migrations, transactions ---------------------------------------------------

    @classmethod
    def open(
        cls, path: Path | None = None, *, migrations: Sequence[tuple[str, str]] = MIGRATIONS
    ) -> Catalog:
        """Open (creating it and its folder if needed) and migrate the catalog at `path`."""
        path = (Path(path) if path is not None else default_path()).absolute()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CatalogError(
                f"{path}: cannot create the catalog's folder: {exc.strerror or exc}"
            ) from None
        try:
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise CatalogError(f"{path}: cannot open the catalog: {_explain(exc)}") from None
        cat = cls(conn, path)
        try:
            with cat._guard("open"):
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                cat._use_wal()
                conn.execute("PRAGMA synchronous = NORMAL")
            cat._migrate(migrations)
        except BaseException:
            conn.close()
            raise
        return cat

    def _use_wal(self) -> None:
        """Switch a new catalog to WAL (a persistent setting). Two processes creating the same
        catalog can deadlock on that switch, and SQLite then answers "locked" at once instead of
        waiting: retry until the busy timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                if self.conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self.conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                text = str(exc)
                if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise CatalogError(
                f"{self.path}: cannot {doing} the catalog: {_explain(exc)}"
            ) from None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; taken with BEGIN IMMEDIATE so writers queue on the busy
        timeout instead of failing on a lock upgrade. Rolls back on any exception."""
        with self._guard("write"):
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several queries see one consistent state."""
        with self._guard("read"):
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            finally:
                self.conn.execute("COMMIT")

    def _migrate(self, migrations: Sequence[tuple[str, str]]) -> None:
        with self._guard("read"):
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise CatalogError(
                f"{self.path}: catalog schema {version} is newer than this samplesort "
                f"understands ({len(MIGRATIONS)}); upgrade samplesort"
            )
        if version >= len(migrations):
            return
        with self.transaction() as conn:  # re-checked under the write lock: two may race here
            conn.execute(
                "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL)"
            )
            done = {r[0] for r in conn.execute("SELECT name FROM migrations")}
            for name, sql in migrations:
                if name in done:
                    continue
                for statement in sql.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
            conn.execute(f"PRAGMA user_version = {len(migrations)}")

    @property
    def schema_version(self) -> int:
        with self._guard("read"):
            return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrations(self) -> list[str]:
        with self._guard("read"):
            return [r[0] for r in self.conn.execute("SELECT name FROM migrations ORDER BY name")]

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
