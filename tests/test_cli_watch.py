"""`samplesort watch` end to end: the real filer (organize: catalog, plan, journaled moves), the
model the CLI uses, synthesised one-shots and zip packs as real files. A real `samplesort watch`
process is stopped with SIGTERM while files arrive and restarted: every file ends up filed
exactly once, nothing half-moved."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures import synth
from samplesort.catalog import Catalog
from samplesort.cli import app
from samplesort.journal import Journal

runner = CliRunner()
CLI = [sys.executable, "-c", "from samplesort.cli import main; main()"]
ROOT = Path(__file__).resolve().parent.parent
VOICES = ("kick", "snare", "hihat_closed", "clap", "tom", "crash")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_shots(folder: Path, n: int, *, seed: int = 0) -> list[Path]:
    return [
        synth.write(
            folder / f"{VOICES[i % len(VOICES)]} {i:03d}.wav",
            synth.voice(VOICES[i % len(VOICES)], seed=seed + i)[: synth.SR_HZ // 4],
        )
        for i in range(n)
    ]


def _pack(path: Path, src: Path, members: dict[str, str]) -> dict[str, str]:
    """A zip at `path` holding synthesised voices under the given names; name -> sha256."""
    sums = {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i, (name, voice) in enumerate(members.items()):
            f = synth.write(src / f"{i}.wav", synth.voice(voice, seed=500 + i))
            zf.writestr(name, f.read_bytes())
            sums[name] = _sha(f)
    return sums


def _audio_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.wav") if p.is_file())


def _watch(inbox: Path, dest: Path, cat: Path, model_args: list[str], *extra: str):  # noqa: ANN202
    args = ["watch", str(inbox), "--into", str(dest), "--catalog", str(cat), "--settle", "0.1s"]
    return runner.invoke(app, [*args, "--once", "--json", "--jobs", "1", *model_args, *extra])


def test_once_files_loose_samples_and_packs_then_undo_reverses_it(
    tmp_path: Path, model_args: list[str]
) -> None:
    inbox, dest, cat = tmp_path / "Downloads", tmp_path / "Samples", tmp_path / "cat.sqlite3"
    loose = _one_shots(inbox / "Free Kit", 4)
    loose_sums = {_sha(p) for p in loose}
    pack_sums = _pack(
        inbox / "Trap Pack.zip",
        tmp_path / "src",
        {
            "Trap Pack/Drums/Kicks/808 kick.wav": "kick",
            "Trap Pack/Drums/Hats/hat.wav": "hihat_closed",
        },
    )
    with zipfile.ZipFile(inbox / "evil.zip", "w") as zf:
        zf.writestr("../../outside.wav", b"RIFF")
    log = tmp_path / "logs" / "watch.log"

    r = _watch(inbox, dest, cat, model_args, "--log", str(log))
    assert r.exit_code == 3, r.output  # a refused pack makes it partial
    out = json.loads(r.stdout)
    assert out["status"] == "partial" and out["counts"]["arrived"] == 6
    assert out["counts"]["filed"] + out["counts"]["review"] == 6
    assert out["refused"] == [
        f"{inbox / 'evil.zip'}: refused: entry '../../outside.wav' would be written outside "
        "the pack folder ('..')"
    ]
    assert not (tmp_path / "outside.wav").exists() and (inbox / "evil.zip").exists()

    filed = _audio_under(dest)
    assert {_sha(p) for p in filed} == loose_sums | set(pack_sums.values())
    assert len(filed) == 6
    # {pack}: the folder under the inbox for loose files, the zip's stem for a pack.
    by_sha = {_sha(p): p.relative_to(dest).parts for p in filed}
    assert all("Free Kit" in by_sha[s] for s in loose_sums)
    assert all("Trap Pack" in by_sha[s] for s in pack_sums.values())
    assert (dest / "_packs" / "Trap Pack.zip").exists() and not (inbox / "Trap Pack.zip").exists()
    assert _audio_under(inbox) == []
    text = log.read_text()
    assert "filed " in text or "review " in text
    assert f"{inbox / 'Free Kit' / 'kick 000.wav'} -> {dest}" in text

    hist = runner.invoke(app, ["history", "--json", "--catalog", str(cat)])
    assert hist.exit_code == 0, hist.output
    runs = [json.loads(line) for line in hist.stdout.splitlines()]
    assert [(r["kind"], r["status"], r["ops"]["move"]) for r in runs] == [("watch", "ok", 6)]
    assert runs[0]["root"] == str(inbox.resolve())
    undone = runner.invoke(app, ["undo", "--json", "--catalog", str(cat)])
    assert undone.exit_code == 0, undone.output
    assert json.loads(undone.stdout)["status"] == "ok"
    assert {_sha(p) for p in _audio_under(inbox)} == loose_sums
    # The pack's files go back to where they were filed from: the staging folder.
    back = _audio_under(dest)
    assert {_sha(p) for p in back} == set(pack_sums.values())
    assert all(".samplesort-staging" in p.parts for p in back)
    # Files put back by the undo are left alone by the next start; touched, one is filed again.
    again = _watch(inbox, dest, cat, model_args)
    assert again.exit_code == 3, again.output  # evil.zip is still refused
    assert json.loads(again.stdout)["counts"]["undone"] == 4
    assert {_sha(p) for p in _audio_under(inbox)} == loose_sums
    os.utime(inbox / "Free Kit" / "kick 000.wav")
    touched = _watch(inbox, dest, cat, model_args)
    c = json.loads(touched.stdout)["counts"]
    assert (c["filed"] + c["review"], c["undone"]) == (1, 3)
    assert not (inbox / "Free Kit" / "kick 000.wav").exists()


def test_copy_mode_restart_never_files_twice_and_dest_inside_inbox(
    tmp_path: Path, model_args: list[str]
) -> None:
    inbox = tmp_path / "Downloads"
    dest, cat = inbox / "Sorted", tmp_path / "cat.sqlite3"
    files = _one_shots(inbox, 3)
    _pack(inbox / "Mini.zip", tmp_path / "src", {"a/kick.wav": "kick", "b/snare.wav": "snare"})

    first = _watch(inbox, dest, cat, model_args, "--copy")
    assert first.exit_code == 0, first.output
    c1 = json.loads(first.stdout)["counts"]
    assert c1["filed"] + c1["review"] == 5 and c1["skipped"] == 0
    placed = _audio_under(dest)
    assert len(placed) == 5
    assert all(f.exists() for f in files) and (inbox / "Mini.zip").exists()  # copy: untouched

    # Restart (catch-up): DEST inside INBOX is not walked, the pack is re-extracted and every
    # file is recognised as filed by the earlier run.
    second = _watch(inbox, dest, cat, model_args, "--copy")
    assert second.exit_code == 0, second.output
    c2 = json.loads(second.stdout)["counts"]
    assert c2 == {
        "arrived": 5,
        "filed": 0,
        "review": 0,
        "skipped": 5,
        "undone": 0,
        "errors": 0,
        "refused": 0,
    }
    assert _audio_under(dest) == placed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--settle", "soon"], "--settle 'soon': expected a duration"),
        (["--template", "{nope}/{stem}{ext}"], "nope"),
        (["--into", "INBOX/.."], "the inbox cannot be inside the destination"),
        (["--into", "INBOX"], "the inbox cannot be the destination"),
        (["INBOX/missing"], "missing: not a folder"),
    ],
)
def test_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    args = [a.replace("INBOX", str(inbox)) for a in args]
    into = [] if "--into" in args else ["--into", str(tmp_path / "dest")]
    r = runner.invoke(
        app, ["watch", str(inbox), *into, "--catalog", str(tmp_path / "c.sqlite3"), "--once", *args]
    )
    assert r.exit_code == 2, r.output
    assert message in r.stderr


def test_sigterm_while_files_arrive_then_restart_files_each_once(
    tmp_path: Path, model_args: list[str]
) -> None:
    inbox, dest, cat = tmp_path / "inbox", tmp_path / "dest", tmp_path / "cat.sqlite3"
    inbox.mkdir()
    sources = _one_shots(tmp_path / "src", 30, seed=100)
    want = {_sha(p) for p in sources}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [*CLI, "watch", str(inbox), "--into", str(dest), "--catalog", str(cat)]
    proc = subprocess.Popen(
        [*cmd, "--settle", "0.15s", "--jobs", "1", *model_args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while not any("watching" in line for line in list(lines)):
        assert proc.poll() is None, "".join(lines)
        assert time.monotonic() < deadline
        time.sleep(0.05)

    def arrive(src: Path) -> None:  # written in two halves, as a slow copy would
        data = src.read_bytes()
        with open(inbox / src.name, "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            time.sleep(0.02)
            f.write(data[len(data) // 2 :])

    i = 0
    while not any(line.split()[3:4] in (["filed"], ["review"]) for line in list(lines)):
        assert time.monotonic() < deadline, "".join(lines)
        if i < len(sources) - 10:  # on a slow machine, wait for the first batch with 10 left
            arrive(sources[i])
            i += 1
        time.sleep(0.05)
    for src in sources[i : i + 5]:  # keep files arriving while it stops
        arrive(src)
    proc.send_signal(signal.SIGTERM)
    for src in sources[i + 5 :]:
        arrive(src)
    assert proc.wait(timeout=30) == 0, "".join(lines)
    reader.join(timeout=5)
    assert "samplesort watch:" in lines[-1]
    first_filed = len(_audio_under(dest))
    assert 0 < first_filed < len(sources)

    again = runner.invoke(
        app,
        [
            "watch",
            str(inbox),
            "--into",
            str(dest),
            "--catalog",
            str(cat),
            "--once",
            "--settle",
            "0.1s",
            "--json",
            "--jobs",
            "1",
            *model_args,
        ],
    )
    assert again.exit_code == 0, again.output
    filed = _audio_under(dest)
    assert sorted(_sha(p) for p in filed) == sorted(want)  # all there, none twice
    assert _audio_under(inbox) == []
    assert not [p for p in dest.rglob("*") if p.name.startswith(".samplesort-") and p.is_file()]
    with Catalog.open(cat) as c:
        runs = Journal(c).runs()
        assert runs and all(r.kind == "watch" and r.status in ("ok", "interrupted") for r in runs)


def test_live_view_counts_and_last_lines(tmp_path: Path) -> None:
    import logging

    from rich.console import Console

    from samplesort.cli_watch import _LiveView, parse_duration
    from samplesort.watch import BatchOutcome, BatchReport, Filed, Watcher, WatchOptions

    assert [parse_duration(t) for t in ("2s", "500ms", "1.5", "1m")] == [2.0, 0.5, 1.5, 60.0]
    inbox, dest = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    watcher = Watcher(WatchOptions(inboxes=(inbox,), dest=dest), lambda a, s: BatchOutcome(None))
    live = _LiveView(watcher, dest)
    filed = (
        Filed(inbox / "a.wav", dest / "kick" / "a.wav", "kick", 0.9),
        Filed(inbox / "b.wav", dest / "_review" / "b.wav", "tom", 0.4, review=True),
    )
    live.on_batch(BatchReport(2, BatchOutcome(7, filed, 1, ("c.wav: not audio",)), ("z.zip: no",)))
    live.emit(logging.makeLogRecord({"msg": "filed %s", "args": ("a.wav",), "levelno": 20}))
    console = Console(record=True, width=200)
    console.print(live.__rich__())
    text = console.export_text()
    assert f"watching {inbox} -> {dest}" in text
    assert (
        "filed 1  review 1  already filed 1  undone, left alone 0  errors 1  refused packs 1"
        in text
    )
    assert text.rstrip().endswith("filed a.wav")


def test_pack_stopped_half_way_is_finished_after_a_restart(
    tmp_path: Path, model_args: list[str]
) -> None:
    """Stop after the first file of a pack is moved: the zip stays in the inbox; the next start
    re-extracts it, skips what was filed (same staging path, size, mtime) and files the rest."""
    from samplesort.cli_options import load_model
    from samplesort.watch import Watcher, WatchOptions, organize_filer

    inbox, dest = tmp_path / "inbox", tmp_path / "dest"
    inbox.mkdir()
    members = {f"Kit/{v}/{v} {i}.wav": v for i, v in enumerate(VOICES)}
    sums = _pack(inbox / "Kit.zip", tmp_path / "src", members)
    model = load_model(Path(model_args[1]) if model_args else None)

    def filed() -> list[Path]:
        return [p for p in _audio_under(dest) if ".samplesort-staging" not in p.parts]

    with Catalog.open(tmp_path / "cat.sqlite3") as cat:

        def run(should_stop) -> None:  # noqa: ANN001
            filer = organize_filer(
                into=dest,
                mode="move",
                template=None,
                min_confidence=0.6,
                tag=False,
                catalog=cat,
                model=model,
                jobs=1,
            )
            opts = WatchOptions(inboxes=(inbox,), dest=dest, settle_s=0.05)
            Watcher(opts, filer).run(should_stop, once=True)

        run(lambda: len(filed()) >= 1)  # the executor asks before every operation
        assert len(filed()) == 1
        assert (inbox / "Kit.zip").exists() and not (dest / "_packs").exists()
        run(lambda: False)
        runs = Journal(cat).runs()
    assert sorted(_sha(p) for p in filed()) == sorted(sums.values())  # each once
    assert (dest / "_packs" / "Kit.zip").exists() and not (inbox / "Kit.zip").exists()
    assert sorted(r.status for r in runs) == ["interrupted", "ok"]
