"""The library commands end to end: scan / ls / stats / reclassify / dupes through CliRunner
(JSON contracts, exit codes, one-line errors), and real `samplesort scan` processes: killed with
SIGKILL mid-scan then resumed, and two scans writing one catalog at once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fixtures import synth
from samplesort.cli import app
from samplesort.taxonomy import LABELS, UNKNOWN

runner = CliRunner()
VOICES = ("kick", "snare", "hihat_closed", "rim")
CLI = [sys.executable, "-c", "from samplesort.cli import main; main()"]


def make_library(root: Path, n: int, *, seconds: float = 0.25) -> list[Path]:
    """`n` one-shots with distinct audio under `root/<label>/`."""
    base = {v: synth.voice(v, seed=i)[: int(seconds * synth.SR_HZ)] for i, v in enumerate(VOICES)}
    out = []
    for i in range(n):
        label = VOICES[i % len(VOICES)]
        x = (base[label] * (0.2 + 0.7 * i / max(n, 1))).astype(np.float32)
        out.append(synth.write(root / label / f"{label} {i:03d}.wav", x))
    return out


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _scan(lib: Path, cat: Path, *extra: str):  # noqa: ANN202
    return runner.invoke(app, ["scan", str(lib), "--catalog", str(cat), "--jobs", "1", *extra])


@pytest.mark.parametrize("command", ["scan", "ls", "stats", "reclassify", "dupes"])
def test_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout and "--catalog" in result.stdout


def test_scan_json_envelope_and_partial_exit(tmp_path: Path) -> None:
    lib = tmp_path / "my library"
    make_library(lib, 6)
    (lib / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (lib / "notes.txt").write_text("not audio")
    (lib / ".DS_Store").write_bytes(b"\0\0")
    result = _scan(lib, tmp_path / "c.sqlite3", "--json")
    assert result.exit_code == 3, result.output
    (env,) = _lines(result.stdout)
    assert env["version"] == 1 and env["status"] == "partial"
    assert env["root"] == str(lib) and env["catalog"] == str(tmp_path / "c.sqlite3")
    c = env["counts"]
    assert (c["new"], c["analysed"], c["errors"], c["skipped_non_audio"]) == (6, 6, 1, 1)
    assert sum(v["files"] for v in env["labels"].values()) == 6
    assert set(env["labels"]) <= {*LABELS, UNKNOWN}
    assert (
        env["errors"] == [{"path": str(lib / "broken.wav"), "error": env["errors"][0]["error"]}]
        and "not readable audio" in env["errors"][0]["error"]
    )
    assert all(p.startswith(str(lib)) for p in env["unknown"])
    assert "error: " in result.stderr and "scanned" in result.stderr

    again = _scan(lib, tmp_path / "c.sqlite3", "--json")
    assert again.exit_code == 0, again.output  # the unchanged broken file is not re-read
    c = _lines(again.stdout)[0]["counts"]
    assert (c["unchanged"], c["analysed"], c["still_failing"]) == (6, 0, 1)


def test_scan_table_lists_labels_and_errors(tmp_path: Path) -> None:
    lib = tmp_path / "lib [v2]"
    make_library(lib, 4)
    (lib / "fake.wav").write_text("text")
    result = _scan(lib, tmp_path / "c.sqlite3")
    assert result.exit_code == 3
    assert "label" in result.stdout and "mean conf" in result.stdout and "error" in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(lib / "fake.wav") in errors[0]


def test_ls_outputs_and_queries(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    files = make_library(lib, 8)
    shutil.copy2(files[0], lib / "kick" / "copy of kick.wav")
    cat = tmp_path / "c.sqlite3"
    assert _scan(lib, cat).exit_code == 0

    result = runner.invoke(app, ["ls", "--catalog", str(cat), "--json"])
    assert result.exit_code == 0, result.output
    objs = _lines(result.stdout)
    assert len(objs) == 9 and [o["path"] for o in objs] == sorted(o["path"] for o in objs)
    o = objs[0]
    assert o["label"] in (*LABELS, UNKNOWN) and o["group"] and 0 <= o["confidence"] <= 1
    assert o["format"] == "WAV" and o["sr_hz"] == 44100 and len(o["content_hash"]) == 40
    assert o["missing"] is False and o["error"] is None and set(o["scores"]) == set(LABELS)

    by_label = {}
    for obj in objs:
        by_label.setdefault(obj["label"], []).append(obj["path"])
    some = next(iter(by_label))
    result = runner.invoke(app, ["ls", f"label:{some}", "--paths", "--catalog", str(cat)])
    assert result.stdout.splitlines() == sorted(by_label[some])

    result = runner.invoke(app, ["ls", "path:snare", "duration:<0.3", "--paths", "-c", str(cat)])
    assert result.stdout.splitlines() == sorted(str(p) for p in files if "snare" in p.name)

    result = runner.invoke(app, ["ls", "dupes", "--paths", "--catalog", str(cat)])
    assert result.stdout.splitlines() == [str(lib / "kick" / "copy of kick.wav"), str(files[0])]

    # wide enough that rich does not fold the (tmp_path-long) paths
    result = runner.invoke(app, ["ls", "--catalog", str(cat)], env={"COLUMNS": "300"})
    assert (
        result.exit_code == 0 and "kick 000.wav" in result.stdout and "9 file(s)" in result.stderr
    )

    result = runner.invoke(app, ["ls", "colour:red", "--catalog", str(cat)])
    assert result.exit_code == 2 and "unknown query field 'colour'" in result.stderr


def test_stats_dupes_reclassify_json(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    files = make_library(lib, 6)
    shutil.copy2(files[1], lib / "dup.wav")
    cat = tmp_path / "c.sqlite3"
    assert _scan(lib, cat).exit_code == 0
    files[2].unlink()
    assert _scan(lib, cat).exit_code == 0

    s = json.loads(runner.invoke(app, ["stats", "--json", "--catalog", str(cat)]).stdout)
    assert s["version"] == 1 and s["files"] == 6
    assert s["catalog"] == {"present": 6, "missing": 1, "errors": 0, "duplicate_groups": 1}
    assert sum(v["files"] for v in s["labels"].values()) == 6
    assert s["formats"] == {"WAV": 6} and s["sample_rates"] == {"44100": 6}
    assert sum(g["files"] for g in s["groups"].values()) == 6

    d = _lines(runner.invoke(app, ["dupes", "--json", "--catalog", str(cat)]).stdout)
    assert [g["paths"] for g in d] == [[str(lib / "dup.wav"), str(files[1])]]
    assert files[1].exists() and (lib / "dup.wav").exists()  # listed, never deleted

    result = runner.invoke(app, ["reclassify", "--json", "--catalog", str(cat)])
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)
    assert r["rows"] == 7 and r["changed"] == 0 and r["other_schema"] == 0

    result = runner.invoke(app, ["stats", "--catalog", str(cat)])
    assert result.exit_code == 0 and "per label" in result.stdout


def test_catalog_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_library(tmp_path / "lib", 2)
    monkeypatch.setenv("SAMPLESORT_CATALOG", str(tmp_path / "env.sqlite3"))
    result = runner.invoke(app, ["scan", str(tmp_path / "lib"), "--json", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert _lines(result.stdout)[0]["catalog"] == str(tmp_path / "env.sqlite3")


def test_unusable_catalog_is_one_line_exit_1(tmp_path: Path) -> None:
    make_library(tmp_path / "lib", 1)
    (tmp_path / "afile").write_text("x")
    for bad in (tmp_path / "afile" / "c.sqlite3", Path("/sys/samplesort/c.sqlite3")):
        result = _scan(tmp_path / "lib", bad)
        assert result.exit_code == 1, result.output
        assert result.stdout == ""
        message = result.stderr.strip()
        assert "\n" not in message and message.startswith(f"samplesort: {bad}:")


def _count(cat: Path) -> int:
    try:
        with sqlite3.connect(f"file:{cat}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM files").fetchone()[0]
    except sqlite3.Error:
        return 0


def _scan_until_committed(
    lib: Path, cat: Path, *, jobs: int, stderr: int, rows: int = 64
) -> subprocess.Popen[bytes]:
    """A `scan --json` subprocess, returned once `rows` files are committed (or it ended)."""
    proc = subprocess.Popen(
        [*CLI, "scan", str(lib), "--catalog", str(cat), "--jobs", str(jobs), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    deadline = time.monotonic() + 60
    while _count(cat) < rows and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc


def test_kill_9_mid_scan_then_resume(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    n = 400
    make_library(lib, n, seconds=0.1)
    cat = tmp_path / "c.sqlite3"
    proc = _scan_until_committed(lib, cat, jobs=1, stderr=subprocess.PIPE)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    proc.stderr and proc.stderr.close()

    with sqlite3.connect(cat) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        done = conn.execute("SELECT count(*) FROM files").fetchone()[0]
        # Whole batches only: every row has its complete analysis.
        assert conn.execute(
            "SELECT count(*) FROM files WHERE features IS NULL OR label IS NULL OR "
            "content_hash IS NULL"
        ).fetchone() == (0,)
        assert conn.execute("SELECT status FROM scans").fetchall() == [("running",)]
    assert 64 <= done < n and done % 64 == 0

    result = _scan(lib, cat, "--json")
    assert result.exit_code == 0, result.output
    c = _lines(result.stdout)[0]["counts"]
    assert (c["unchanged"], c["analysed"], c["new"]) == (done, n - done, n - done)
    assert _count(cat) == n


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        kids.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return kids


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux")
def test_scan_in_forked_workers_equals_scan_in_one_process(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    make_library(lib, 100, seconds=0.1)
    (lib / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    rows = {}
    for jobs in ("1", "2"):
        cat = tmp_path / f"c{jobs}.sqlite3"
        proc = subprocess.run(
            [*CLI, "scan", str(lib), "--catalog", str(cat), "--jobs", jobs, "--json"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 3, proc.stderr
        assert json.loads(proc.stdout)["counts"]["analysed"] == 100
        with sqlite3.connect(cat) as conn:
            rows[jobs] = conn.execute(
                "SELECT path, size, content_hash, duration_s, features, label, confidence, "
                "labels, scores, error FROM files ORDER BY path"
            ).fetchall()
    assert len(rows["2"]) == 101 and rows["2"] == rows["1"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux")
def test_kill_9_mid_scan_leaves_no_worker_behind(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    make_library(lib, 400, seconds=0.1)
    cat = tmp_path / "c.sqlite3"
    proc = _scan_until_committed(lib, cat, jobs=2, stderr=subprocess.DEVNULL)
    kids = _children(proc.pid)
    cmdlines = set()
    for pid in (proc.pid, *kids):
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdlines.add(fh.read())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(kids) == 2
    assert len(cmdlines) == 1  # forked workers (the parent's command line), not spawned ones
    deadline = time.monotonic() + 10
    while any(_alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(k) for k in kids)
    with sqlite3.connect(cat) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM files WHERE label IS NULL").fetchone() == (0,)


def test_two_scans_at_once_on_one_catalog(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    make_library(lib, 90, seconds=0.1)
    cat = tmp_path / "c.sqlite3"
    procs = [
        subprocess.Popen(
            [*CLI, "scan", str(lib), "--catalog", str(cat), "--jobs", "1", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert json.loads(out)["status"] == "ok"
    with sqlite3.connect(cat) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*), count(DISTINCT path) FROM files").fetchone() == (
            90,
            90,
        )
        assert conn.execute("SELECT count(*) FROM files WHERE label IS NULL").fetchone() == (0,)
        assert conn.execute("SELECT DISTINCT status FROM scans").fetchall() == [("ok",)]
