"""organize / undo / history on real files in tmp dirs with a real SQLite catalog: plans and
dry runs, templates, the review folder, never overwriting (case and Unicode collisions, long
names), sidecars, copy / link modes, path maps, cross-filesystem moves, read-only places, a
destination that vanishes mid-run, and undo after SIGKILL at many points of a run."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fixtures import synth
from samplesort import actions
from samplesort.catalog import Catalog
from samplesort.cli import app
from samplesort.journal import Journal
from samplesort.model import load_default
from samplesort.organize import OrganizeOptions, Source, organize, organize_sources

runner = CliRunner()
CLI = [sys.executable, "-c", "from samplesort.cli import main; main()"]
VOICES = ("kick", "snare", "hihat_closed", "crash")


@pytest.fixture(scope="module")
def model():  # noqa: ANN201
    return load_default()


def tree(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file (symlinks as '-> target')."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def library(root: Path, n: int = 4) -> list[Path]:
    """`n` short one-shots in two packs, one with an Ableton sidecar."""
    out = []
    for i in range(n):
        v = VOICES[i % len(VOICES)]
        x = synth.voice(v, seed=i)[: int(0.3 * synth.SR_HZ)]
        out.append(synth.write(root / f"Pack {'AB'[i % 2]}" / f"{v} {i}.wav", x))
    out[0].with_name(out[0].name + ".asd").write_bytes(b"ableton analysis")
    return out


def opts(into: Path, **kw: object) -> OrganizeOptions:
    return OrganizeOptions(into=into, min_confidence=kw.pop("min_confidence", 0.0), **kw)  # type: ignore[arg-type]


def test_dry_run_plans_and_touches_nothing(tmp_path: Path, model) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    library(lib)
    before = tree(lib)
    with Catalog.open(tmp_path / "c.db") as cat:
        r = organize(lib, opts(lib / "Sorted"), catalog=cat, model=model, dry_run=True, jobs=1)
        assert Journal(cat).runs() == []
    assert tree(lib) == before and not (lib / "Sorted").exists()
    assert r.dry_run and r.run_id is None and len(r.items) == 4
    for item in r.items:
        assert item.dest.is_relative_to(lib / "Sorted")
        group, label, pack, name = item.dest.relative_to(lib / "Sorted").parts
        assert label == item.label and pack in ("Pack A", "Pack B") and name == item.source.name
    assert [len(i.sidecars) for i in r.items].count(1) == 1


def test_organize_then_undo_restores_every_byte(tmp_path: Path, model) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    files = library(lib)
    before = tree(lib)
    into = lib / "Sorted"
    with Catalog.open(tmp_path / "c.db") as cat:
        r = organize(lib, opts(into), catalog=cat, model=model, jobs=1)
        assert r.status == "ok" and r.done == 5  # 4 files + 1 sidecar
        assert not any(f.exists() for f in files)
        for item in r.items:
            assert item.dest.exists() and item.dest.is_relative_to(into)
            # the catalog follows the move: the row has the new path and keeps its analysis
            assert cat.analysis([str(item.dest)])[str(item.dest)][0].label == item.label
        sidecar = next(i for i in r.items if i.sidecars).dest
        assert sidecar.with_name(sidecar.name + ".asd").read_bytes() == b"ableton analysis"
        with open(r.pathmap, newline="") as f:  # type: ignore[arg-type]
            rows = list(csv.DictReader(f))
        assert {(row["old_path"], row["new_path"]) for row in rows} >= {
            (str(i.source), str(i.dest)) for i in r.items
        }
        # a second organize finds nothing new to file
        again = organize(lib, opts(into), catalog=cat, model=model, jobs=1)
        assert again.items == () and again.run_id is None
        u = actions.undo(Journal(cat), r.run_id)  # type: ignore[arg-type]
        assert u.status == "ok" and not u.errors
        assert Journal(cat).run(r.run_id).status == "undone"  # type: ignore[arg-type, union-attr]
        assert {e.path for e in cat.entries()} == {str(f) for f in files}
    assert tree(lib) == before
    assert not into.exists()  # the folders the run made are gone too


def test_copy_and_link_modes_leave_sources_alone(tmp_path: Path, model) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    library(lib)
    before = tree(lib)
    with Catalog.open(tmp_path / "c.db") as cat:
        c = organize(lib, opts(tmp_path / "copies", mode="copy"), catalog=cat, model=model)
        lk = organize(lib, opts(tmp_path / "links", mode="link"), catalog=cat, model=model)
        assert tree(lib) == before
        for i in c.items:
            assert not i.dest.is_symlink() and i.dest.read_bytes() == i.source.read_bytes()
        for i in lk.items:
            assert i.dest.is_symlink() and i.dest.resolve() == i.source
        # already filed (same path, size, mtime) by a run that is not undone: skipped
        again = organize(lib, opts(tmp_path / "copies", mode="copy"), catalog=cat, model=model)
        assert again.skipped == 4 and again.items == ()
        j = Journal(cat)
        assert actions.undo(j, lk.run_id).status == "ok"  # type: ignore[arg-type]
        assert actions.undo(j, c.run_id).status == "ok"  # type: ignore[arg-type]
    assert tree(lib) == before
    assert not (tmp_path / "copies").exists() and not (tmp_path / "links").exists()


def test_never_overwrites_case_unicode_and_long_names(tmp_path: Path, model) -> None:  # noqa: ANN001
    src = tmp_path / "in"
    x = synth.voice("kick", seed=3)[:8000]
    nfd = unicodedata.normalize("NFD", "Café kick.wav")
    long_name = "k" * 250 + ".wav"
    for name in ("KICK.wav", nfd, long_name):
        synth.write(src / name, x * (0.5 + len(name) / 1000))
    into = tmp_path / "out"
    tmpl = "{stem}{ext}"
    (into).mkdir()
    (into / "kick.wav").write_bytes(b"someone else's kick")
    (into / unicodedata.normalize("NFC", "café kick.wav")).write_bytes(b"another one")
    with Catalog.open(tmp_path / "c.db") as cat:
        r = organize(src, opts(into, template=tmpl), catalog=cat, model=model)
        assert r.status == "ok", r.errors
        names = sorted(os.listdir(into))
        assert (into / "kick.wav").read_bytes() == b"someone else's kick"
        assert "KICK (2).wav" in names  # not "KICK.wav": same name on a case-insensitive disk
        assert any(
            n.startswith("Café kick (2)")
            for n in map(unicodedata.normalize, ["NFC"] * len(names), names)
        )
        assert all(len(n.encode()) <= 255 for n in names)
        assert len(names) == 5
        assert actions.undo(Journal(cat), r.run_id).status == "ok"  # type: ignore[arg-type]
    assert sorted(os.listdir(src)) == sorted(["KICK.wav", nfd, long_name])


def test_two_plan_items_never_share_a_name(tmp_path: Path, model) -> None:  # noqa: ANN001
    a, b = tmp_path / "a" / "hit.wav", tmp_path / "b" / "HIT.wav"
    synth.write(a, synth.voice("snare", seed=1))
    synth.write(b, synth.voice("snare", seed=2))
    with Catalog.open(tmp_path / "c.db") as cat:
        r = organize_sources(
            [Source(a), Source(b)],
            opts(tmp_path / "out", template="{stem}{ext}"),
            catalog=cat,
            model=model,
            dry_run=True,
        )
    assert [i.dest.name for i in r.items] == ["hit.wav", "HIT (2).wav"]


def test_unsure_files_go_to_review_with_the_reason(tmp_path: Path, model) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    library(lib)
    with Catalog.open(tmp_path / "c.db") as cat:
        r = organize(
            lib, opts(lib / "S", min_confidence=0.99), catalog=cat, model=model, dry_run=True
        )
    for i in r.items:
        assert i.review and i.dest.relative_to(lib / "S").parts[0] == "_review"
        assert i.dest.relative_to(lib / "S").parts[1] == i.label
        assert "< 0.99" in i.reason


def test_cross_filesystem_move_and_undo(tmp_path: Path, model) -> None:  # noqa: ANN001
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no /dev/shm to act as a second filesystem")
    lib = tmp_path / "lib"
    library(lib)
    other = Path(os.environ.get("SAMPLESORT_TEST_OTHER_FS", shm)) / f"samplesort-{os.getpid()}"
    if os.stat(other.parent).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip(f"{other.parent} is on the same filesystem as {tmp_path}")
    before = tree(lib)
    try:
        with Catalog.open(tmp_path / "c.db") as cat:
            r = organize(lib, opts(other), catalog=cat, model=model)
            assert r.status == "ok" and r.done == 5
            assert not list(lib.rglob("*.wav"))
            assert not [p for p in other.rglob("*") if p.name.startswith(".samplesort-")]
            moved = {hashlib.sha256(i.dest.read_bytes()).hexdigest() for i in r.items}
            assert moved <= set(before.values())
            assert actions.undo(Journal(cat), r.run_id).status == "ok"  # type: ignore[arg-type]
        assert tree(lib) == before and not other.exists()
    finally:
        shutil.rmtree(other, ignore_errors=True)


def _read_only_dir_for_root(d: Path) -> bool:
    """Make `d` refuse new and removed entries even for root (chattr +i); False if impossible."""
    if os.geteuid() != 0:
        d.chmod(0o555)
        return True
    return subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode == 0


def _writable_again(d: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(d)], capture_output=True)
    else:
        d.chmod(0o755)


def test_read_only_source_fails_per_file_and_the_run_goes_on(tmp_path: Path, model) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    library(lib)
    locked = lib / "Pack A"
    before = tree(lib)
    if not _read_only_dir_for_root(locked):
        pytest.skip("cannot make a read-only folder here (chattr unavailable)")
    try:
        with Catalog.open(tmp_path / "c.db") as cat:
            r = organize(lib, opts(tmp_path / "out"), catalog=cat, model=model)
    finally:
        _writable_again(locked)
    assert r.status == "partial"
    locked_files = [i for i in r.items if i.source.parent == locked]
    assert len(r.errors) == len(locked_files) == 2
    assert all("Pack A" in e and "cannot move" in e for e in r.errors)
    for i in locked_files:  # still where they were, and nothing half-made at the destination
        assert i.source.exists()
    out_files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert len(out_files) == 2  # the Pack B files
    assert {k: v for k, v in tree(lib).items() if k.startswith("Pack A")} == {
        k: v for k, v in before.items() if k.startswith("Pack A")
    }


def test_read_only_destination_is_a_clear_error_per_file(tmp_path: Path, model) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    library(lib)
    before = tree(lib)
    ro = tmp_path / "ro"
    ro.mkdir()
    if not _read_only_dir_for_root(ro):
        pytest.skip("cannot make a read-only folder here (chattr unavailable)")
    try:
        with Catalog.open(tmp_path / "c.db") as cat:
            r = organize(lib, opts(ro / "Sorted"), catalog=cat, model=model)
    finally:
        _writable_again(ro)
    assert r.status == "error" and len(r.errors) == 4
    assert all(e.startswith(str(lib)) and "cannot move" in e for e in r.errors)
    assert tree(lib) == before


def test_destination_vanishing_mid_run_loses_nothing(tmp_path: Path, model) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    files = library(lib)
    into = tmp_path / "disk" / "Sorted"
    into.mkdir(parents=True)
    gone = tmp_path / "unplugged"
    calls = []

    def unplug(n: int) -> None:
        calls.append(n)
        if len(calls) == 1:
            os.rename(tmp_path / "disk", gone)  # the disk goes away after the first operation

    with Catalog.open(tmp_path / "c.db") as cat:
        r = organize(lib, opts(into), catalog=cat, model=model, progress=unplug)
    assert r.status == "partial"
    assert any("has vanished" in e for e in r.errors)
    assert not (tmp_path / "disk").exists()  # never recreated somewhere else
    names = {f.name for f in files}
    found = {p.name for p in lib.rglob("*.wav")} | {p.name for p in gone.rglob("*.wav")}
    assert found == names  # every file is in its source folder or on the "unplugged" disk


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.mark.parametrize(
    "point", ["before:1", "after:2", "before:4", "after:5", "before:9", "after:12"]
)
def test_kill_9_mid_run_then_undo_restores_everything(tmp_path: Path, point: str) -> None:
    """SIGKILL the organize process at an operation boundary (after the journal entry is
    committed and before the disk is touched, or after the disk and before the journal says
    done); `samplesort undo` then puts every file back, byte for byte."""
    lib = tmp_path / "lib"
    library(lib, 6)
    before = tree(lib)
    cat = tmp_path / "c.db"
    r = _cli(
        "organize",
        str(lib),
        "--into",
        str(tmp_path / "out"),
        "-c",
        str(cat),
        "--min-confidence",
        "0",
        "-j",
        "1",
        env={actions.FAULT_ENV: point},
    )
    assert r.returncode == -9, r.stderr
    with Catalog.open(cat) as c:
        j = Journal(c)
        (run,) = j.runs()
        assert run.status == "crashed"
        u = actions.undo(j, run.id)
        assert u.status == "ok", u.errors
    assert tree(lib) == before
    assert not (tmp_path / "out").exists()


def test_undo_finishes_a_move_caught_between_link_and_unlink(tmp_path: Path, model) -> None:  # noqa: ANN001
    """A crash inside a same-filesystem move leaves both names on one file: undo removes the
    new name only."""
    src = tmp_path / "a.wav"
    synth.write(src, synth.voice("kick", seed=0))
    data = src.read_bytes()
    with Catalog.open(tmp_path / "c.db") as cat:
        j = Journal(cat)
        run = j.begin_run("organize")
        (tmp_path / "out").mkdir()
        dest = tmp_path / "out" / "a.wav"
        j.pending(run, 1, "move", src=src, dest=dest, sha256=hashlib.sha256(data).hexdigest())
        os.link(src, dest)  # the process "dies" here
        assert Journal(cat).run(run).status == "running"  # this process is alive  # type: ignore[union-attr]
        j.finish_run(run, "interrupted", {}, None)
        u = actions.undo(j, run)
    assert u.status == "ok" and src.read_bytes() == data and not dest.exists()


def test_cli_organize_dry_run_json_history_and_undo(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    library(lib)
    before = tree(lib)
    cat = str(tmp_path / "c.db")
    into = str(tmp_path / "out")
    r = runner.invoke(app, ["organize", str(lib), "--into", into, "-c", cat, "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert plan["dry_run"] and plan["run"] is None and len(plan["items"]) == 4
    assert tree(lib) == before
    bad = runner.invoke(
        app, ["organize", str(lib), "--into", into, "-c", cat, "--template", "../{stem}{ext}"]
    )
    assert bad.exit_code == 2 and "'..'" in bad.stderr
    both = runner.invoke(app, ["organize", str(lib), "--into", into, "-c", cat, "--copy", "--link"])
    assert both.exit_code == 2 and "choose one" in both.stderr
    r = runner.invoke(app, ["organize", str(lib), "--into", into, "-c", cat, "--copy", "--json"])
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)["run"]
    h = runner.invoke(app, ["history", "-c", cat, "--json"])
    row = json.loads(h.stdout.splitlines()[0])
    assert row["run"] == run and row["status"] == "ok" and row["ops"]["copy"] == 5
    u = runner.invoke(app, ["undo", str(run), "-c", cat, "--dry-run"])
    assert u.exit_code == 0 and "would remove copy" in u.stdout
    assert len(list(Path(into).rglob("*.wav"))) == 4
    u = runner.invoke(app, ["undo", "-c", cat])
    assert u.exit_code == 0, u.output
    assert not Path(into).exists() and tree(lib) == before
    again = runner.invoke(app, ["undo", "-c", cat])
    assert again.exit_code == 1 and "nothing to undo" in again.stderr


def test_unreadable_files_are_reported_and_left_in_place(tmp_path: Path, model) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    library(lib, 2)
    bad = lib / "Pack A" / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with Catalog.open(tmp_path / "c.db") as cat:
        r = organize(lib, opts(tmp_path / "out"), catalog=cat, model=model)
    assert r.status == "partial" and len(r.items) == 2
    assert len(r.errors) == 1 and r.errors[0].startswith(str(bad))
    assert bad.exists()


def test_templates_fields_and_notes(tmp_path: Path, model) -> None:  # noqa: ANN001
    src = tmp_path / "in" / "My:Pack." / "kick?.wav"
    synth.write(src, synth.voice("kick", seed=0))
    with Catalog.open(tmp_path / "c.db") as cat:
        r = organize(
            tmp_path / "in",
            opts(tmp_path / "out", template="{label} ({confidence})/{note}/{pack}/CON{ext}"),
            catalog=cat,
            model=model,
            dry_run=True,
        )
    (item,) = r.items
    parts = item.dest.relative_to(tmp_path / "out").parts
    assert parts[0] == f"{item.label} ({item.confidence:.2f})"
    assert item.note and parts[1] == item.note  # a kick has a clear low pitch, e.g. "A1"
    assert parts[2] == "My_Pack" and parts[3] == "_CON.wav"
    assert np.isfinite(item.confidence)


FORMATS = {  # name -> (soundfile subtype, format)
    "a.wav": ("PCM_24", "WAV"),
    "b.aiff": ("PCM_16", "AIFF"),
    "c.flac": ("PCM_16", "FLAC"),
    "d.ogg": ("VORBIS", "OGG"),
    "e.mp3": ("MPEG_LAYER_III", "MP3"),
}


def _every_format(root: Path) -> list[Path]:
    out = []
    for i, (name, (subtype, fmt)) in enumerate(FORMATS.items()):
        x = synth.voice(VOICES[i % len(VOICES)], seed=i)[: int(0.4 * synth.SR_HZ)]
        out.append(synth.write(root / "Pack" / name, x, subtype=subtype, format=fmt))
    return out


def _decoded(path: Path) -> np.ndarray:
    import soundfile as sf

    return sf.read(str(path), dtype="float32")[0]


def test_organize_tag_every_format_then_undo_is_byte_identical(tmp_path: Path, model) -> None:  # noqa: ANN001
    from samplesort.tags import read_tags

    lib = tmp_path / "lib"
    files = _every_format(lib)
    audio = {f.name: _decoded(f) for f in files}
    before = tree(lib)
    with Catalog.open(tmp_path / "c.db") as cat:
        r = organize(lib, opts(tmp_path / "out", tag=True), catalog=cat, model=model)
        assert r.status == "ok", r.errors
        assert r.done == 10  # 5 moves + 5 tag writes
        for i in r.items:
            t = read_tags(i.dest)
            assert t["label"] == i.label and t["model_id"] == model.model_id
            assert np.array_equal(_decoded(i.dest), audio[i.dest.name])  # audio untouched
        # the catalog keeps the analysis and takes the new size/mtime: a rescan decodes nothing
        from samplesort import library

        assert library.plan_scan(tmp_path / "out", cat).todo == ()
        u = actions.undo(Journal(cat), r.run_id)  # type: ignore[arg-type]
        assert u.status == "ok", u.errors
    assert tree(lib) == before


def test_tag_command_then_undo(tmp_path: Path) -> None:
    from samplesort.tags import read_tags

    lib = tmp_path / "lib"
    files = _every_format(lib)
    (lib / "Pack" / "notes.txt").write_text("not audio")
    before = tree(lib)
    cat = str(tmp_path / "c.db")
    r = runner.invoke(app, ["tag", str(lib), "-c", cat, "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["items"]) == 5 and tree(lib) == before
    r = runner.invoke(app, ["tag", str(lib), "-c", cat, "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["done"] == 5 and out["run"] is not None
    assert all(read_tags(f)["label"] for f in files)
    assert tree(lib) != before
    u = runner.invoke(app, ["undo", str(out["run"]), "-c", cat])
    assert u.exit_code == 0, u.output
    assert tree(lib) == before


@pytest.mark.parametrize("point", ["before:1", "after:3", "before:5"])
def test_kill_9_during_tag_writes_then_undo(tmp_path: Path, point: str) -> None:
    lib = tmp_path / "lib"
    _every_format(lib)
    before = tree(lib)
    cat = tmp_path / "c.db"
    r = _cli("tag", str(lib), "-c", str(cat), "-j", "1", env={actions.FAULT_ENV: point})
    assert r.returncode == -9, r.stderr
    with Catalog.open(cat) as c:
        j = Journal(c)
        (run,) = j.runs()
        assert run.status == "crashed"
        assert actions.undo(j, run.id).status == "ok"
    assert tree(lib) == before


def test_cli_missing_folder_and_unknown_run_are_one_line_errors(tmp_path: Path) -> None:
    cat = str(tmp_path / "c.db")
    r = runner.invoke(
        app, ["organize", str(tmp_path / "nope"), "--into", str(tmp_path / "o"), "-c", cat]
    )
    assert r.exit_code == 2 and "nope: not a folder" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "o").exists()
    r = runner.invoke(app, ["undo", "42", "-c", cat])
    assert r.exit_code == 1 and "run 42: no such run" in r.stderr


def test_undo_never_overwrites_a_file_that_took_the_original_path(tmp_path: Path, model) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    files = library(lib, 2)
    with Catalog.open(tmp_path / "c.db") as cat:
        r = organize(lib, opts(tmp_path / "out"), catalog=cat, model=model)
        squatter = files[1]
        squatter.write_bytes(b"a new file the user saved here")
        u = actions.undo(Journal(cat), r.run_id)  # type: ignore[arg-type]
        assert u.status == "partial" and len(u.errors) == 1
        assert u.errors[0].startswith(str(next(i.dest for i in r.items if i.source == squatter)))
        assert "another file now has that name" in u.errors[0]
        assert Journal(cat).run(r.run_id).status == "undo-partial"  # type: ignore[arg-type, union-attr]
    assert squatter.read_bytes() == b"a new file the user saved here"  # not overwritten
    moved = next(i.dest for i in r.items if i.source == squatter)
    assert moved.exists()  # and the sample is still where organize put it
    assert files[0].exists()  # the rest was undone


def test_stop_request_ends_between_operations_and_undo_restores(tmp_path: Path, model) -> None:  # noqa: ANN001
    lib = tmp_path / "lib"
    library(lib, 6)
    before = tree(lib)
    done: list[int] = []
    with Catalog.open(tmp_path / "c.db") as cat:
        r = organize(
            lib,
            opts(tmp_path / "out"),
            catalog=cat,
            model=model,
            progress=done.append,
            should_stop=lambda: len(done) >= 3,
        )
        assert r.interrupted and r.status == "interrupted"
        assert Journal(cat).run(r.run_id).status == "interrupted"  # type: ignore[arg-type, union-attr]
        assert 0 < len(list(lib.rglob("*.wav"))) < 6  # some moved, some not
        assert actions.undo(Journal(cat), r.run_id).status == "ok"  # type: ignore[arg-type]
    assert tree(lib) == before


def test_tag_reports_a_broken_file_and_tags_the_rest(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    files = _every_format(lib)[:2]
    (lib / "Pack" / "c.flac").unlink()
    broken = lib / "Pack" / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    r = runner.invoke(app, ["tag", str(lib), "-c", str(tmp_path / "c.db"), "--json"])
    assert r.exit_code == 3, r.output
    out = json.loads(r.stdout)
    assert out["done"] == 4 and len(out["errors"]) == 1 and out["errors"][0].startswith(str(broken))
    assert broken.read_bytes() == b"RIFF\x00\x00\x00\x00WAVEjunk"
    from samplesort.tags import read_tags

    assert all(read_tags(f) for f in files)
