"""The journal of runs that change the user's files (organize, tag, watch): tables `runs` and
`ops` in the catalog.

Write-ahead: an operation is recorded as `pending` (with everything needed to reverse it: source,
destination, temporary name, backup, size, mtime, SHA-256) and committed *before* it touches the
disk, and marked `done` (together with the catalog row it moves, in one transaction) right
after. A run killed at any instant therefore leaves at most one `pending` operation per run
whose effect is unknown; `actions.undo` works out from the disk what happened to it.

Run states: running -> ok | partial | interrupted (stopped between operations on request);
a `running` run whose process is gone is reported as `crashed`; undo sets `undone` (or
`undo-partial` when some operation could not be reversed — running undo again retries those).
Op states: pending -> done | failed; then undone.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .catalog import Catalog

UNDOABLE = ("ok", "partial", "interrupted", "running", "crashed", "undo-partial")


@dataclass(frozen=True)
class Op:
    id: int
    run_id: int
    seq: int
    kind: str  # mkdir | move | copy | link | tag
    src: str | None
    dest: str
    tmp: str | None
    backup: str | None
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    new_sha256: str | None
    state: str
    error: str | None


@dataclass(frozen=True)
class Run:
    id: int
    kind: str
    started_at: float
    finished_at: float | None
    status: str
    root: str | None
    dest: str | None
    mode: str | None
    options: dict[str, Any]
    counts: dict[str, int]
    pathmap: str | None
    undone_at: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.id,
            "kind": self.kind,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "root": self.root,
            "into": self.dest,
            "mode": self.mode,
            "counts": self.counts,
            "pathmap": self.pathmap,
            "undone_at": self.undone_at,
        }


_OP_COLUMNS = (
    "id, run_id, seq, kind, src, dest, tmp, backup, size, mtime_ns, sha256, new_sha256, "
    "state, error"
)
_RUN_COLUMNS = (
    "id, kind, started_at, finished_at, status, root, dest, mode, options, counts, pathmap, "
    "undone_at, pid"
)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run(row: Sequence[Any]) -> Run:
    status = row[4]
    if status == "running" and (row[12] != os.getpid() and not _alive(row[12])):
        status = "crashed"
    return Run(
        id=row[0],
        kind=row[1],
        started_at=row[2],
        finished_at=row[3],
        status=status,
        root=row[5],
        dest=row[6],
        mode=row[7],
        options=json.loads(row[8]) if row[8] else {},
        counts=json.loads(row[9]) if row[9] else {},
        pathmap=row[10],
        undone_at=row[11],
    )


class Journal:
    """Runs and operations, stored in `catalog`. Run folders (path maps, tag backups) live in
    `<catalog folder>/<catalog stem>-runs/<run id>/`."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def run_dir(self, run_id: int) -> Path:
        return self.catalog.path.parent / f"{self.catalog.path.stem}-runs" / str(run_id)

    # --- runs ---------------------------------------------------------------------------------

    def begin_run(
        self,
        kind: str,
        *,
        root: str | None = None,
        dest: str | None = None,
        mode: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> int:
        with self.catalog.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO runs (kind, started_at, status, pid, root, dest, mode, options) "
                "VALUES (?, ?, 'running', ?, ?, ?, ?, ?)",
                (kind, time.time(), os.getpid(), root, dest, mode, json.dumps(options or {})),
            )
            return int(cur.lastrowid or 0)

    def finish_run(
        self, run_id: int, status: str, counts: dict[str, int], pathmap: Path | None
    ) -> None:
        with self.catalog.transaction() as conn:
            conn.execute(
                "UPDATE runs SET finished_at = ?, status = ?, counts = ?, pathmap = ? WHERE id = ?",
                (
                    time.time(),
                    status,
                    json.dumps(counts),
                    str(pathmap) if pathmap else None,
                    run_id,
                ),
            )

    def set_undone(self, run_id: int, status: str) -> None:
        with self.catalog.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, undone_at = ? WHERE id = ?",
                (status, time.time(), run_id),
            )

    def runs(self, *, limit: int | None = None) -> list[Run]:
        sql = f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self.catalog.snapshot() as conn:
            return [_run(r) for r in conn.execute(sql)]

    def run(self, run_id: int) -> Run | None:
        with self.catalog.snapshot() as conn:
            row = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
        return _run(row) if row else None

    def last_undoable(self) -> Run | None:
        for r in self.runs():
            if r.status in UNDOABLE:
                return r
        return None

    def op_counts(self, run_id: int) -> dict[str, int]:
        """Operations of a run by kind and state, e.g. {"move": 10, "move failed": 1}."""
        with self.catalog.snapshot() as conn:
            rows = conn.execute(
                "SELECT kind, state, count(*) FROM ops WHERE run_id = ? GROUP BY kind, state",
                (run_id,),
            ).fetchall()
        out: dict[str, int] = {}
        for kind, state, n in rows:
            key = kind if state == "done" else f"{kind} {state}"
            out[key] = out.get(key, 0) + n
        return out

    # --- operations ---------------------------------------------------------------------------

    def pending(
        self,
        run_id: int,
        seq: int,
        kind: str,
        *,
        dest: Path,
        src: Path | None = None,
        tmp: Path | None = None,
        backup: Path | None = None,
        size: int | None = None,
        mtime_ns: int | None = None,
        sha256: str | None = None,
    ) -> int:
        """Record an operation about to happen (committed before it does)."""
        with self.catalog.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO ops (run_id, seq, kind, src, dest, tmp, backup, size, mtime_ns, "
                "sha256, state, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
                (
                    run_id,
                    seq,
                    kind,
                    None if src is None else str(src),
                    str(dest),
                    None if tmp is None else str(tmp),
                    None if backup is None else str(backup),
                    size,
                    mtime_ns,
                    sha256,
                    time.time(),
                ),
            )
            return int(cur.lastrowid or 0)

    def done(self, op: Op, *, new_sha256: str | None = None) -> None:
        """Mark `op` done and make the catalog follow the file, in one transaction."""
        with self.catalog.transaction() as conn:
            conn.execute(
                "UPDATE ops SET state = 'done', new_sha256 = ?, finished_at = ? WHERE id = ?",
                (new_sha256, time.time(), op.id),
            )
            if op.kind == "move" and op.src:
                self.catalog.move_row(conn, op.src, op.dest)
            elif op.kind in ("copy", "link") and op.src:
                self.catalog.copy_row(conn, op.src, op.dest)
            elif op.kind == "tag":
                self.catalog.restat_row(conn, op.dest)

    def failed(self, op_id: int, error: str) -> None:
        with self.catalog.transaction() as conn:
            conn.execute(
                "UPDATE ops SET state = 'failed', error = ?, finished_at = ? WHERE id = ?",
                (error, time.time(), op_id),
            )

    def undone(self, op: Op) -> None:
        """Mark `op` reversed and put the catalog row back, in one transaction."""
        with self.catalog.transaction() as conn:
            conn.execute(
                "UPDATE ops SET state = 'undone', finished_at = ? WHERE id = ?",
                (time.time(), op.id),
            )
            if op.kind == "move" and op.src:
                self.catalog.move_row(conn, op.dest, op.src)
            elif op.kind in ("copy", "link"):
                self.catalog.drop_row(conn, op.dest)
            elif op.kind == "tag":
                self.catalog.restat_row(conn, op.dest)

    def op(self, op_id: int) -> Op:
        with self.catalog.snapshot() as conn:
            row = conn.execute(f"SELECT {_OP_COLUMNS} FROM ops WHERE id = ?", (op_id,)).fetchone()
        return Op(*row)

    def ops(self, run_id: int) -> list[Op]:
        with self.catalog.snapshot() as conn:
            return [
                Op(*r)
                for r in conn.execute(
                    f"SELECT {_OP_COLUMNS} FROM ops WHERE run_id = ? ORDER BY seq, id", (run_id,)
                )
            ]

    def already_filed(self, path: Path, size: int, mtime_ns: int, into: Path) -> bool:
        """Whether a run into `into` that was not undone already moved, copied or linked this
        very file (same path, size and mtime) — so a restarted watch or a re-run never files
        it twice."""
        with self.catalog.snapshot() as conn:
            row = conn.execute(
                "SELECT 1 FROM ops JOIN runs ON runs.id = ops.run_id WHERE ops.src = ? "
                "AND ops.kind IN ('move', 'copy', 'link') AND ops.state = 'done' "
                "AND ops.size = ? AND ops.mtime_ns = ? AND runs.dest = ? "
                "AND runs.status NOT IN ('undone') LIMIT 1",
                (str(path), size, mtime_ns, str(into)),
            ).fetchone()
        return row is not None
