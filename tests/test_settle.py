"""The settle rules on real files: a changed file restarts its clock, one open for writing
waits for its close (or the stall time), a vanished one is dropped; /proc tells which files a
process holds open for writing; temporary download names."""

from __future__ import annotations

from pathlib import Path

import pytest

from samplesort.settle import SettleQueue, is_temp_name, open_for_writing


def test_settle_queue_rules(tmp_path: Path) -> None:
    now = [0.0]
    q = SettleQueue(1.0, stall_s=10.0, clock=lambda: now[0])
    f = tmp_path / "a.wav"
    f.write_bytes(b"1234")
    q.touch(f)
    assert q.ready() == []  # first look: records size and mtime
    now[0] = 0.9
    assert q.ready() == []
    now[0] = 1.1
    st = f.stat()
    assert q.ready() == [(f, (4, st.st_mtime_ns))] and len(q) == 0
    # A file open for writing waits for its close event, or for the stall time.
    q.touch(f, writing=True)
    q.ready()
    now[0] = 5.0
    assert q.ready() == []
    q.touch(f, writing=False)
    q.ready()
    now[0] = 6.5
    assert [p for p, _ in q.ready()] == [f]
    q.touch(f, writing=True)
    q.ready()
    now[0] = 20.0
    assert [p for p, _ in q.ready()] == [f]
    # A change restarts the clock; a vanished file is dropped.
    q.touch(f)
    q.ready()
    now[0] = 21.5
    f.write_bytes(b"123456")
    assert q.ready() == []
    f.unlink()
    now[0] = 30.0
    assert q.ready() == [] and len(q) == 0


def test_open_for_writing_sees_this_process_writers_only(tmp_path: Path) -> None:
    w, r, idle = tmp_path / "w.wav", tmp_path / "r.wav", tmp_path / "idle.wav"
    for p in (w, r, idle):
        p.write_bytes(b"x")
    with open(w, "ab"), open(r, "rb"):
        assert open_for_writing([w, r, idle]) == {w}
    assert open_for_writing([w, r, idle]) == set()


@pytest.mark.parametrize(
    ("name", "temp"),
    [
        ("kick.wav", False),
        ("kick.wav.crdownload", True),
        ("kick.wav.part", True),
        ("kick.wav.download", True),
        ("kick.WAV.TMP", True),
        ("~$kick.wav", True),
        (".kick.wav", True),
    ],
)
def test_temp_names(name: str, temp: bool) -> None:
    assert is_temp_name(name) is temp


def test_a_found_file_held_open_waits_until_closed(tmp_path: Path) -> None:
    """Found by a walk (untracked): /proc is asked; while a writer holds it, it is held and
    asked again every OPEN_RECHECK_S; a tracked file is never asked (its events say it all)."""
    from samplesort.settle import OPEN_RECHECK_S

    now = [0.0]
    f, g = tmp_path / "found.wav", tmp_path / "seen.wav"
    f.write_bytes(b"1234")
    g.write_bytes(b"5678")
    q = SettleQueue(1.0, clock=lambda: now[0], open_check=open_for_writing)
    with open(f, "ab"), open(g, "ab"):
        q.touch(f)  # as the catch-up walk does
        q.touch(g, tracked=True)  # as a create event does
        q.ready()
        now[0] = 2.0
        assert [p for p, _ in q.ready()] == [g]  # g: no write event, so not being written
        now[0] = 2.0 + OPEN_RECHECK_S / 2
        assert q.ready() == [] and f in q
    assert q.ready() == []  # closed, but not looked at again before OPEN_RECHECK_S
    now[0] = 2.0 + OPEN_RECHECK_S
    assert [p for p, _ in q.ready()] == [f] and len(q) == 0
