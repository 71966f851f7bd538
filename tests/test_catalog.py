"""The SQLite catalog on real files: named migrations, WAL, transactions, moves, concurrent
writers, unreadable / read-only / foreign catalog files, stats and duplicate groups."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from samplesort.catalog import MIGRATIONS, SCHEMA_VERSION, Catalog, CatalogError, Record


def _rec(path: str, h: str, label: str = "kick", **kw: object) -> Record:
    base: dict[str, object] = dict(
        size=100,
        mtime_ns=5,
        content_hash=h,
        duration_s=0.5,
        format="WAV",
        sr_hz=44100,
        channels=2,
        features=b"\x00\x00\x80?" * 3,
        feature_schema=2,
        label=label,
        confidence=0.8,
        labels=(label,),
        scores={label: 0.8},
        model_id="m1",
    )
    base.update(kw)
    return Record(path, **base)  # type: ignore[arg-type]


def test_open_creates_schema_with_named_migrations(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "c.sqlite3"
    with Catalog.open(path) as cat:
        assert cat.schema_version == SCHEMA_VERSION == len(MIGRATIONS)
        assert cat.migrations() == [name for name, _ in MIGRATIONS]
        assert cat.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cat.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 10000
    with Catalog.open(path) as cat:  # reopening applies nothing twice
        assert cat.migrations() == [name for name, _ in MIGRATIONS]


def test_old_catalog_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    with Catalog.open(path, migrations=MIGRATIONS[:1]) as cat:
        assert cat.schema_version == 1
        cat.record([_rec("/a.wav", "h1")], path_exists=os.path.exists)
        with pytest.raises(sqlite3.OperationalError, match="no such table: scans"):
            cat.conn.execute("SELECT * FROM scans")
    with Catalog.open(path) as cat:
        assert cat.schema_version == SCHEMA_VERSION
        assert cat.migrations() == [name for name, _ in MIGRATIONS]
        assert [e.path for e in cat.entries()] == ["/a.wav"]
        assert cat.begin_scan("/") > 0


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    Catalog.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(CatalogError, match="schema 99 is newer"):
        Catalog.open(path)


def test_foreign_file_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    path.write_text("these are my notes, not a database\n" * 200)
    with pytest.raises(CatalogError) as info:
        Catalog.open(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_catalog_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(CatalogError, match="cannot create the catalog's folder"):
        Catalog.open(tmp_path / "afile" / "c.sqlite3")


def _read_only_dir(tmp_path: Path) -> Path | None:
    """A folder nobody can create files in: a 0555 folder for a normal user; for root (who
    ignores modes) a kernel filesystem that refuses new entries."""
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir(mode=0o555)
        return d
    for d in (Path("/sys"), Path("/proc")):
        try:
            (d / "samplesort-probe").mkdir()
        except OSError:
            return d
        (d / "samplesort-probe").rmdir()
    return None


def test_catalog_on_read_only_location_is_a_clear_error(tmp_path: Path) -> None:
    ro = _read_only_dir(tmp_path)
    if ro is None:
        pytest.skip("no read-only location on this machine")
    for path in (ro / "c.sqlite3", ro / "sub" / "c.sqlite3"):
        with pytest.raises(CatalogError) as info:
            Catalog.open(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        with pytest.raises(RuntimeError), cat.transaction() as conn:
            conn.execute("INSERT INTO files (path) VALUES ('/x.wav')")
            raise RuntimeError("boom")
        assert list(cat.entries()) == []
        assert not cat.conn.in_transaction


def test_move_keeps_the_row_and_its_analysis(tmp_path: Path) -> None:
    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        cat.record([_rec("/lib/a.wav", "h1", label="snare")], path_exists=lambda p: True)
        (row_id,) = cat.conn.execute("SELECT id FROM files").fetchone()
        # The same audio at a new path while the old path is gone: a move. The analysis (here
        # the label from an earlier model) is kept; only path, size and mtime change.
        moved = cat.record(
            [_rec("/lib/sub/b.wav", "h1", label="kick", size=7)], path_exists=lambda p: False
        )
        assert moved == ["/lib/a.wav"]
        rows = cat.conn.execute("SELECT id, path, size, label, missing FROM files").fetchall()
        assert rows == [(row_id, "/lib/sub/b.wav", 7, "snare", 0)]
        # A copy (old file still there) is a new row: a duplicate, not a move.
        assert cat.record([_rec("/lib/c.wav", "h1")], path_exists=lambda p: True) == [None]
        assert [[e.path for e in g] for g in cat.dupes()] == [["/lib/c.wav", "/lib/sub/b.wav"]]


def test_missing_rows_and_index(tmp_path: Path) -> None:
    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        cat.record(
            [_rec("/lib/a.wav", "h1"), _rec("/lib/b.wav", "h2"), _rec("/lib2/c.wav", "h3")],
            path_exists=lambda p: True,
        )
        assert cat.set_missing(["/lib/b.wav"]) == 1
        assert cat.set_missing(["/lib/b.wav"]) == 0
        idx = cat.index("/lib")
        assert sorted(idx) == ["/lib/a.wav", "/lib/b.wav"]  # not /lib2
        assert idx["/lib/b.wav"].missing and not idx["/lib/a.wav"].missing
        assert idx["/lib/a.wav"].size == 100 and idx["/lib/a.wav"].mtime_ns == 5
        s = cat.stats()
        assert s["files"] == 2 and s["catalog"] == {
            "present": 2,
            "missing": 1,
            "errors": 0,
            "duplicate_groups": 0,
        }


def test_stats_breakdowns(tmp_path: Path) -> None:
    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        cat.record(
            [
                _rec("/l/k1.wav", "h1", "kick"),
                _rec("/l/k2.flac", "h2", "kick", format="FLAC", sr_hz=48000),
                _rec("/l/c.wav", "h3", "crash", duration_s=2.0),
                _rec("/l/r.wav", "h3", "ride", duration_s=2.0),
                Record("/l/bad.wav", 1, 1, error="/l/bad.wav: not audio"),
            ],
            path_exists=lambda p: True,
        )
        s = cat.stats()
    assert s["files"] == 4 and s["duration_s"] == 5.0
    assert s["labels"]["kick"] == {"files": 2, "mean_confidence": 0.8, "duration_s": 1.0}
    assert s["groups"]["cymbal"] == {"files": 2, "duration_s": 4.0}
    assert s["formats"] == {"WAV": 3, "FLAC": 1}
    assert s["sample_rates"] == {"44100": 3, "48000": 1}
    assert s["catalog"]["errors"] == 1 and s["catalog"]["duplicate_groups"] == 1


def test_concurrent_writers_wait_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    Catalog.open(path).close()
    failures: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            with Catalog.open(path) as cat:
                for b in range(20):
                    batch = [_rec(f"/w{k}/{b}-{i}.wav", f"{k}-{b}-{i}") for i in range(10)]
                    cat.record(batch, path_exists=lambda p: True)
                    cat.set_missing([f"/w{1 - k}/{b}-0.wav"])
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with Catalog.open(path) as cat:
        assert cat.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert cat.conn.execute("SELECT count(*) FROM files").fetchone()[0] == 400


def _open_and_write(path: str, barrier: Any, failures: Any) -> None:
    barrier.wait()
    try:
        with Catalog.open(Path(path)) as cat:
            cat.record([_rec(f"{path}-{os.getpid()}.wav", "h")], path_exists=lambda p: True)
    except CatalogError as exc:
        failures.put(str(exc))


def test_processes_creating_one_catalog_at_once(tmp_path: Path) -> None:
    # Switching a new database to WAL can deadlock two openers; SQLite then reports "locked"
    # at once rather than waiting. Regression test: every opener must get through.
    ctx = multiprocessing.get_context("fork")
    failures = ctx.Queue()
    for round_ in range(12):
        path = str(tmp_path / f"c{round_}.sqlite3")
        barrier = ctx.Barrier(3)
        procs = [
            ctx.Process(target=_open_and_write, args=(path, barrier, failures)) for _ in range(3)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=60)
        assert [p.exitcode for p in procs] == [0, 0, 0]
        with Catalog.open(Path(path)) as cat:
            assert cat.conn.execute("SELECT count(*) FROM files").fetchone()[0] == 3
    assert failures.empty(), failures.get()
