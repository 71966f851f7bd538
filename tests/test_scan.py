"""Library scans on real audio files in tmp dirs and a real SQLite catalog: incremental rescans
(added, changed, moved, deleted, restored), Ctrl-C and resume, the filesystem's bad cases,
reclassify from stored features with the audio gone, and the Dask backend on a LocalCluster."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from fixtures import synth
from samplesort import library
from samplesort.catalog import Catalog
from samplesort.features import FEATURE_NAMES, FEATURE_SCHEMA_VERSION
from samplesort.model import ModelBundle, load_default
from samplesort.query import parse

LABELS = ("kick", "snare", "hihat_closed", "clap", "rim", "tom")


@pytest.fixture(scope="module")
def model() -> ModelBundle:
    return load_default()


def make_library(root: Path, n: int, *, start: int = 0, seconds: float = 0.25) -> list[Path]:
    """`n` short one-shots under `root/<label>/`, each with distinct audio (distinct gain)."""
    out = []
    for i in range(start, start + n):
        label = LABELS[i % len(LABELS)]
        x = synth.voice(label, seed=i)[: int(seconds * synth.SR_HZ)] * (0.3 + 0.6 * (i % 97) / 97)
        out.append(synth.write(root / label / f"{label} {i:03d}.wav", x.astype(np.float32)))
    return out


def _rows(cat: Catalog) -> dict[str, tuple]:
    q = "SELECT path, id, label, missing, error IS NOT NULL, content_hash FROM files"
    return {r[0]: r[1:] for r in cat.conn.execute(q)}


def test_cold_scan_records_everything(tmp_path: Path, model: ModelBundle) -> None:
    files = make_library(tmp_path / "lib", 8)
    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        r = library.scan(tmp_path / "lib", cat, model, jobs=1)
        assert r.status == "ok" and r.counts["new"] == r.counts["analysed"] == 8
        row = cat.conn.execute(
            "SELECT size, mtime_ns, content_hash, duration_s, format, sr_hz, channels, "
            "features, feature_schema, label, confidence, scores, model_id FROM files "
            "WHERE path = ?",
            (str(files[0]),),
        ).fetchone()
    st = files[0].stat()
    assert row[:2] == (st.st_size, st.st_mtime_ns)
    assert len(row[2]) == 40 and row[3] == 0.25 and row[4] == "WAV" and row[5:7] == (44100, 1)
    x = np.frombuffer(row[7], dtype="<f4")
    assert x.size == len(FEATURE_NAMES) and np.all(np.isfinite(x))
    assert row[8] == FEATURE_SCHEMA_VERSION and row[12] == model.model_id
    assert row[9] in (*model.labels, "unknown") and 0 <= row[10] <= 1 and "kick" in row[11]


def test_incremental_rescan(tmp_path: Path, model: ModelBundle) -> None:
    lib = tmp_path / "lib"
    files = make_library(lib, 8)
    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        library.scan(lib, cat, model, jobs=1)
        before = _rows(cat)

        r = library.scan(lib, cat, model, jobs=1)
        assert r.counts["unchanged"] == 8 and r.counts["analysed"] == 0

        # Stat-only fast path: same size and mtime means not decoded, whatever the bytes.
        st = files[1].stat()
        data = bytearray(files[1].read_bytes())
        data[-200:] = bytes(200)
        files[1].write_bytes(bytes(data))
        os.utime(files[1], ns=(st.st_atime_ns, st.st_mtime_ns))
        assert library.scan(lib, cat, model, jobs=1).counts["analysed"] == 0

        added = make_library(lib, 2, start=100)
        synth.write(files[2], synth.voice("crash", seed=7)[:8000])  # changed
        moved_to = lib / "elsewhere" / "renamed kick.wav"
        moved_to.parent.mkdir()
        files[0].rename(moved_to)
        files[3].unlink()
        r = library.scan(lib, cat, model, jobs=1)
        c = r.counts
        assert (c["new"], c["changed"], c["moved"], c["missing"], c["unchanged"]) == (2, 1, 1, 1, 5)
        after = _rows(cat)
        assert after[str(moved_to)][0] == before[str(files[0])][0]  # same row: analysis kept
        assert str(files[0]) not in after
        assert after[str(files[3])][2] == 1  # deleted: missing, not forgotten
        assert after[str(files[2])][4] != before[str(files[2])][4]  # changed: new hash
        assert all(str(p) in after for p in added)
        assert [e.path for e in cat.entries(parse(["missing"]))] == [str(files[3])]


def test_deleted_file_restored_unchanged_is_not_decoded(tmp_path: Path, model: ModelBundle) -> None:
    lib = tmp_path / "lib"
    files = make_library(lib, 3)
    keep = tmp_path / "kept.wav"
    shutil.copy2(files[0], keep)
    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        library.scan(lib, cat, model, jobs=1)
        files[0].unlink()
        assert library.scan(lib, cat, model, jobs=1).counts["missing"] == 1
        shutil.copy2(keep, files[0])  # same bytes, same mtime
        r = library.scan(lib, cat, model, jobs=1)
        assert r.counts["restored"] == 1 and r.counts["analysed"] == 0
        assert list(cat.entries(parse(["missing"]))) == []


@pytest.mark.parametrize("jobs", [1, 2])
def test_interrupted_scan_keeps_committed_batches_and_resumes(
    tmp_path: Path, model: ModelBundle, jobs: int
) -> None:
    lib = tmp_path / "lib"
    make_library(lib, 150, seconds=0.1)
    seen = 0

    def ctrl_c_after_100(n: int, errors: int) -> None:
        nonlocal seen
        seen += n
        if seen == 100:
            raise KeyboardInterrupt

    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        r = library.scan(lib, cat, model, jobs=jobs, progress=ctrl_c_after_100)
        assert r.interrupted and r.status == "interrupted"
        assert r.counts["analysed"] == 100  # one full batch of 64 + the 36 analysed when stopped
        assert cat.conn.execute("SELECT count(*) FROM files").fetchone()[0] == 100
        assert cat.conn.execute("SELECT status FROM scans").fetchone()[0] == "interrupted"
        r = library.scan(lib, cat, model, jobs=1)
        assert r.counts["unchanged"] == 100 and r.counts["analysed"] == 50


def test_file_vanishing_between_walk_and_read(tmp_path: Path, model: ModelBundle) -> None:
    lib = tmp_path / "lib"
    files = make_library(lib, 4)
    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        plan = library.plan_scan(lib, cat)
        files[1].unlink()
        r = library.run_scan(plan, cat, model, jobs=1)
        assert r.counts["analysed"] == 3 and r.counts["vanished"] == 1
        assert r.errors == ((str(files[1]), f"{files[1]}: vanished during the scan"),)
        assert str(files[1]) not in _rows(cat)


def test_filesystem_bad_cases(tmp_path: Path, model: ModelBundle) -> None:
    lib = tmp_path / "lib"
    (good,) = make_library(lib, 1)
    odd = synth.write(lib / "Ünïcødé ✓" / "kick 808 [hard] ＃1.wav", synth.voice("kick", seed=3))
    (lib / "fake.wav").write_text("I am a text file with an audio extension\n")
    (lib / "empty.flac").write_bytes(b"")
    (lib / "dangling.wav").symlink_to(lib / "nowhere.wav")
    (lib / "loop.wav").symlink_to(lib / "loop.wav")
    (lib / "kick" / "up").symlink_to(lib, target_is_directory=True)  # a directory loop
    for junk in (".DS_Store", "._kick 000.wav", "__MACOSX/kick 000.wav", ".hidden/x.wav"):
        (lib / junk).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(good, lib / junk)
    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        r = library.scan(lib, cat, model, jobs=1)
        rows = _rows(cat)
        errors = dict(r.errors)
    assert r.counts["analysed"] == 2 and set(rows) >= {str(good), str(odd)}
    assert rows[str(odd)][3] == 0 and rows[str(odd)][1] is not None
    assert "not readable audio" in errors[str(lib / "fake.wav")]
    assert "empty file" in errors[str(lib / "empty.flac")]
    assert "broken symbolic link" in errors[str(lib / "dangling.wav")]
    assert "symbolic link loop" in errors[str(lib / "loop.wav")]
    assert all("\n" not in m for m in errors.values())
    assert len(errors) == 4 and r.status == "partial"
    # OS junk and hidden files are neither catalogued nor errors; the loop is not followed.
    assert sorted(rows) == sorted([str(good), str(odd), *errors])


@pytest.mark.skipif(os.geteuid() == 0, reason="runs as root: chmod 000 does not stop root reading")
def test_permission_denied_is_a_per_file_error_retried_later(
    tmp_path: Path, model: ModelBundle
) -> None:
    lib = tmp_path / "lib"
    files = make_library(lib, 3)
    files[0].chmod(0)
    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        r = library.scan(lib, cat, model, jobs=1)
        assert r.counts["errors"] == 1 and str(files[0]) in r.errors[0][1]
        files[0].chmod(0o644)
        r = library.scan(lib, cat, model, jobs=1)  # an unreadable file is retried
        assert r.counts["errors"] == 0 and r.counts["changed"] == 1


def test_failed_files_are_not_reread_unless_asked(tmp_path: Path, model: ModelBundle) -> None:
    lib = tmp_path / "lib"
    make_library(lib, 2)
    (lib / "fake.wav").write_text("not audio\n")
    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        assert library.scan(lib, cat, model, jobs=1).counts["errors"] == 1
        r = library.scan(lib, cat, model, jobs=1)
        assert r.counts["still_failing"] == 1 and r.status == "ok"
        r = library.scan(lib, cat, model, jobs=1, retry_errors=True)
        assert r.counts["errors"] == 1


def test_old_feature_schema_is_reanalysed(tmp_path: Path, model: ModelBundle) -> None:
    lib = tmp_path / "lib"
    make_library(lib, 3)
    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        library.scan(lib, cat, model, jobs=1)
        cat.conn.execute("UPDATE files SET feature_schema = 1 WHERE id = 1")
        r = library.scan(lib, cat, model, jobs=1)
        assert r.counts["changed"] == 1 and r.counts["unchanged"] == 2


def test_reclassify_from_stored_features_without_audio(tmp_path: Path, model: ModelBundle) -> None:
    lib = tmp_path / "lib"
    make_library(lib, 6)
    shutil.copy2(lib / "kick" / "kick 000.wav", lib / "kick" / "copy.wav")
    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        library.scan(lib, cat, model, jobs=1)
        before = {e.path: (e.label, e.scores) for e in cat.entries()}
        shutil.rmtree(lib)  # nothing left to decode

        same = library.reclassify(cat, model, jobs=2)
        assert (same.rows, same.distinct, same.changed) == (7, 6, 0)
        assert {e.path: (e.label, e.scores) for e in cat.entries()} == before

        strict = dataclasses.replace(
            model,
            thresholds=np.full(len(model.labels), 1.01),
            meta={**model.meta, "model_id": "strict-test"},
        )
        r = library.reclassify(cat, strict, jobs=1)
        assert r.model_id == "strict-test" and r.labels == {"unknown": 7}
        assert r.changed == sum(lab != "unknown" for lab, _ in before.values())
        rows = cat.conn.execute("SELECT DISTINCT label, model_id FROM files").fetchall()
        assert rows == [("unknown", "strict-test")]


def test_dask_backend_on_a_local_cluster(tmp_path: Path, model: ModelBundle) -> None:
    distributed = pytest.importorskip("dask.distributed")
    lib = tmp_path / "lib"
    make_library(lib, 70, seconds=0.1)  # more than one 64-file batch: joblib dispatches to Dask
    with distributed.LocalCluster(
        n_workers=2,
        processes=False,
        threads_per_worker=1,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        with Catalog.open(tmp_path / "c.sqlite3") as cat:
            r = library.scan(lib, cat, model, backend="dask", scheduler=cluster.scheduler_address)
            assert r.status == "ok" and r.counts["analysed"] == 70
            assert cat.conn.execute("SELECT count(*) FROM files").fetchone()[0] == 70
        ran = [k for k in cluster.scheduler.task_prefixes if "_analyse_batch" in k]
        assert ran, list(cluster.scheduler.task_prefixes)


def test_dask_backend_usage_errors(tmp_path: Path, model: ModelBundle) -> None:
    from samplesort.errors import UsageError

    make_library(tmp_path / "lib", 1)
    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        with pytest.raises(UsageError, match="needs --scheduler"):
            library.scan(tmp_path / "lib", cat, model, backend="dask")
        with pytest.raises(UsageError, match="--backend must be one of"):
            library.scan(tmp_path / "lib", cat, model, backend="spark")


def test_rescan_with_another_model_points_at_reclassify(tmp_path: Path, model: ModelBundle) -> None:
    lib = tmp_path / "lib"
    make_library(lib, 3)
    other = dataclasses.replace(model, meta={**model.meta, "model_id": "other-test"})
    with Catalog.open(tmp_path / "c.sqlite3") as cat:
        assert library.scan(lib, cat, model, jobs=1).counts["other_model"] == 0
        r = library.scan(lib, cat, other, jobs=1)
        assert r.counts["unchanged"] == 3 and r.counts["other_model"] == 3
        library.reclassify(cat, other, jobs=1)
        assert library.scan(lib, cat, other, jobs=1).counts["other_model"] == 0
