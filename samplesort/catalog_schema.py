"""The catalog's SQLite file: the schema as named migrations, opening it (folder created, WAL,
busy timeout), read and write transactions, and `CatalogError`.

`CatalogDB` is the connection every catalog operation goes through; `catalog_reads` and
`catalog_writes` add the queries and the writes, and `catalog.Catalog` is the three together.

Concurrency and crashes: WAL journal and a busy timeout, so readers never block and a second
writer waits instead of failing; every write is one `BEGIN IMMEDIATE ... COMMIT` transaction, so a
killed process leaves the catalog as of its last commit, never half a batch. Every SQLite failure
surfaces as a one-line `CatalogError`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from .errors import SampleSortError

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


class CatalogError(SampleSortError):
    """The catalog cannot be opened, read or written (one-line message)."""


def default_path() -> Path:
    """`$SAMPLESORT_CATALOG`, else `catalog.sqlite3` in the user data dir (platformdirs)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    import platformdirs

    return platformdirs.user_data_path("samplesort") / "catalog.sqlite3"


def _explain(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "readonly" in text or "unable to open" in text:
        return f"{text} (is its folder writable?)"
    if "locked" in text or "busy" in text:
        return f"{text} (another process held it for {BUSY_TIMEOUT_S:.0f} s)"
    if "not a database" in text:
        return f"{text} (not a samplesort catalog)"
    return text


class CatalogDB:
    """An open catalog file: its connection, transactions and migrations. Use `open(path)`;
    close it (or use it as a context manager)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(
        cls, path: Path | None = None, *, migrations: Sequence[tuple[str, str]] = MIGRATIONS
    ) -> Self:
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

    def __enter__(self) -> Self:
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
