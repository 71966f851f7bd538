"""The watch engine with a real watchdog observer, real files in tmp dirs and a simple real
filer (moves or copies each file into DEST/<pack>/). The filer records a checksum of every file
at the moment it is handed over, so filing a file before it is complete cannot go unnoticed.
The CLI tests (tests/test_cli_watch.py) run the same engine through organize."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from samplesort import fsops
from samplesort.watch import (
    PACKS_DIR,
    STAGING_DIR,
    Arrival,
    BatchOutcome,
    BatchReport,
    Filed,
    Watcher,
    WatchOptions,
    WatchSummary,
)

SETTLE_S = 0.2


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FolderFiler:
    """Files each arrival into DEST/<pack or _loose>/<name> by moving or copying it."""

    def __init__(self, dest: Path, *, mode: str = "move") -> None:
        self.dest = dest
        self.mode = mode
        self.calls: list[Arrival] = []
        self.sums: dict[str, str] = {}  # file name -> checksum when handed over
        self.lock = threading.Lock()

    def __call__(
        self, arrivals: Sequence[Arrival], should_stop: Callable[[], bool]
    ) -> BatchOutcome:
        filed = []
        for a in arrivals:
            if should_stop():
                break
            data = a.path.read_bytes()
            target = fsops.unique_path(self.dest / (a.pack or "_loose") / a.path.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            if self.mode == "move":
                os.replace(a.path, target)
            else:
                shutil.copyfile(a.path, target)
            with self.lock:
                self.calls.append(a)
                self.sums[a.path.name] = _sha(data)
            filed.append(Filed(a.path, target, "kick"))
        return BatchOutcome(run_id=None, filed=tuple(filed))

    def names(self) -> list[str]:
        with self.lock:
            return [a.path.name for a in self.calls]


class Running:
    """A Watcher running in a thread until `stop()`."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self.event = threading.Event()
        self.summary: WatchSummary | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.summary = self.watcher.run(self.event.is_set)

    def stop(self) -> WatchSummary:
        self.event.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()
        assert self.summary is not None
        return self.summary


def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def _watcher(
    inbox: Path, dest: Path, filer: FolderFiler, reports: list[BatchReport] | None = None, **kw
) -> Watcher:
    opts = WatchOptions(inboxes=(inbox,), dest=dest, settle_s=SETTLE_S, mode=filer.mode, **kw)
    return Watcher(opts, filer, on_batch=reports.append if reports is not None else None)


def _ready(tmp_path: Path) -> tuple[Path, Path]:
    inbox, dest = tmp_path / "inbox", tmp_path / "dest"
    inbox.mkdir()
    return inbox, dest


def _settle_watcher_started(run: Running) -> None:
    # The observer is up once the catch-up walk has run; a short pause covers thread start.
    time.sleep(0.1)


def test_files_still_being_written_are_filed_once_complete(tmp_path: Path) -> None:
    """Four writers at once, each a way a file arrives over time (one watcher, so the suite
    waits ~2 s once):
    - held open, chunks over ~2 s with pauses longer than the settle time: only the open
      handle (inotify close-after-write) says "not done";
    - reopened per chunk: close-after-write fires every time, only the settle time (size and
      mtime unchanged) keeps the half file back;
    - Chrome: x.wav.crdownload written, then renamed to x.wav;
    - Firefox: an empty placeholder x.wav, the data in x.wav.part, renamed over it."""
    inbox, dest = _ready(tmp_path)
    filer = FolderFiler(dest)
    run = Running(_watcher(inbox, dest, filer))
    _settle_watcher_started(run)
    want: dict[str, bytes] = {}

    def held_open() -> None:
        chunks = [os.urandom(4096) for _ in range(5)]
        want["slow.wav"] = b"".join(chunks)
        with open(inbox / "slow.wav", "wb") as f:
            for c in chunks:
                f.write(c)
                f.flush()
                time.sleep(0.4)  # > SETTLE_S

    def reopened() -> None:
        chunks = [os.urandom(2048) for _ in range(6)]
        want["append.wav"] = b"".join(chunks)
        for c in chunks:
            with open(inbox / "append.wav", "ab") as f:
                f.write(c)
            time.sleep(0.08)

    def chrome() -> None:
        chunks = [os.urandom(3000) for _ in range(4)]
        want["x.wav"] = b"".join(chunks)
        with open(inbox / "x.wav.crdownload", "wb") as f:
            for c in chunks:
                f.write(c)
                f.flush()
                time.sleep(0.3)
        os.rename(inbox / "x.wav.crdownload", inbox / "x.wav")

    def firefox() -> None:
        want["y.wav"] = data = os.urandom(5000)
        (inbox / "y.wav").touch()
        (inbox / "y.wav.part").write_bytes(data)
        time.sleep(3 * SETTLE_S)
        os.replace(inbox / "y.wav.part", inbox / "y.wav")

    writers = [threading.Thread(target=w) for w in (held_open, reopened, chrome, firefox)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    names = ["append.wav", "slow.wav", "x.wav", "y.wav"]
    wait_until(lambda: sorted(filer.names()) == names)
    run.stop()
    assert sorted(filer.names()) == names
    assert filer.sums == {n: _sha(want[n]) for n in names}  # whole when handed over
    assert (dest / "_loose" / "slow.wav").read_bytes() == want["slow.wav"]
    assert os.listdir(inbox) == []


def test_burst_of_500_files_all_filed_none_twice(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    inbox, dest = _ready(tmp_path)
    filer = FolderFiler(dest)
    reports: list[BatchReport] = []
    run = Running(_watcher(inbox, dest, filer, reports))
    _settle_watcher_started(run)
    want = {}
    start = time.perf_counter()
    for i in range(500):
        data = os.urandom(1024)
        sub = inbox / f"Pack {i % 5}"
        sub.mkdir(exist_ok=True)
        (sub / f"hit{i:03d}.wav").write_bytes(data)
        want[f"hit{i:03d}.wav"] = _sha(data)
    wait_until(lambda: len(filer.names()) >= 500, timeout=20)
    elapsed = time.perf_counter() - start
    time.sleep(SETTLE_S)
    summary = run.stop()
    names = filer.names()
    assert len(names) == 500 and set(names) == set(want)
    assert filer.sums == want
    assert summary.filed == 500 and not summary.errors
    assert {a.pack for a in filer.calls} == {f"Pack {k}" for k in range(5)}
    assert sum(1 for _ in dest.rglob("*.wav")) == 500
    record_property("burst_files_per_s", round(500 / elapsed))
    record_property("burst_batches", len(reports))


def test_catch_up_on_start_and_dest_inside_inbox_does_not_loop(tmp_path: Path) -> None:
    """Files that arrived before the start are filed, and one a process still holds open for
    writing (found by the walk, so no write events were seen) waits until it is closed."""
    inbox = tmp_path / "Downloads"
    dest = inbox / "Sorted"
    (dest / "_loose").mkdir(parents=True)
    (dest / "_loose" / "old.wav").write_bytes(b"filed last week")
    (inbox / "early.wav").write_bytes(b"arrived while not running")
    chunks = [os.urandom(3000), os.urandom(3000)]
    held = open(inbox / "in progress.wav", "wb")  # noqa: SIM115 - closed below
    held.write(chunks[0])
    held.flush()
    filer = FolderFiler(dest)
    run = Running(_watcher(inbox, dest, filer))
    wait_until(lambda: filer.names() == ["early.wav"])
    time.sleep(3 * SETTLE_S)  # unchanged for longer than the settle time, but open
    held.write(chunks[1])
    held.close()
    (inbox / "late.wav").write_bytes(b"arrived while running")
    names = ["early.wav", "in progress.wav", "late.wav"]
    wait_until(lambda: sorted(filer.names()) == names)
    time.sleep(2 * SETTLE_S)  # the moves into DEST raise events inside INBOX: none is filed
    summary = run.stop()
    assert sorted(filer.names()) == names
    assert filer.sums["in progress.wav"] == _sha(b"".join(chunks))
    assert summary.filed == 3
    assert sorted(p.name for p in dest.rglob("*.wav")) == [*names, "old.wav"]


def test_copy_mode_does_not_refile_after_reads_and_touches(tmp_path: Path) -> None:
    inbox, dest = _ready(tmp_path)
    filer = FolderFiler(dest, mode="copy")
    run = Running(_watcher(inbox, dest, filer))
    _settle_watcher_started(run)
    (inbox / "keep.wav").write_bytes(b"abc" * 100)
    wait_until(lambda: filer.names() == ["keep.wav"])
    (inbox / "keep.wav").read_bytes()  # open + close-nowrite
    st = (inbox / "keep.wav").stat()
    os.utime(inbox / "keep.wav", ns=(st.st_atime_ns, st.st_mtime_ns))  # attrib only
    (inbox / "sub").mkdir()  # a folder event rescans it, not the whole inbox
    time.sleep(2 * SETTLE_S)
    run.stop()
    assert filer.names() == ["keep.wav"]
    assert (inbox / "keep.wav").exists()


def test_once_files_what_is_there_ignores_temp_and_empty_files(tmp_path: Path) -> None:
    inbox, dest = _ready(tmp_path)
    (inbox / "a.wav").write_bytes(b"a" * 10)
    (inbox / "nested" / "deeper").mkdir(parents=True)
    (inbox / "nested" / "deeper" / "b.flac").write_bytes(b"b" * 10)
    for name in ("c.wav.crdownload", "d.wav.part", "~$e.wav", ".f.wav", "notes.txt"):
        (inbox / name).write_bytes(b"x")
    (inbox / ".hidden").mkdir()
    (inbox / ".hidden" / "g.wav").write_bytes(b"g")
    (inbox / "empty.wav").touch()
    # Still growing when --once starts (no observer: only size + mtime say it is not done).
    chunks = [os.urandom(1000) for _ in range(8)]
    (inbox / "growing.wav").write_bytes(chunks[0])

    def grow() -> None:
        for c in chunks[1:]:
            time.sleep(0.08)
            with open(inbox / "growing.wav", "ab") as f:
                f.write(c)

    # Held open with a pause longer than the settle time: only /proc says it is not done.
    held_chunks = [os.urandom(1500), os.urandom(1500)]
    held = open(inbox / "held.wav", "wb")  # noqa: SIM115 - closed by the writer
    held.write(held_chunks[0])
    held.flush()

    def finish_held() -> None:
        time.sleep(4 * SETTLE_S)
        held.write(held_chunks[1])
        held.close()

    writers = [threading.Thread(target=grow), threading.Thread(target=finish_held)]
    for w in writers:
        w.start()
    filer = FolderFiler(dest)
    start = time.monotonic()
    summary = _watcher(inbox, dest, filer).run(lambda: False, once=True)
    for w in writers:
        w.join()
    assert time.monotonic() - start < 5
    assert sorted(filer.names()) == ["a.wav", "b.flac", "growing.wav", "held.wav"]
    assert filer.sums["growing.wav"] == _sha(b"".join(chunks))
    assert filer.sums["held.wav"] == _sha(b"".join(held_chunks))
    assert {a.path.name: a.pack for a in filer.calls} == {
        "a.wav": "",
        "b.flac": "nested",
        "growing.wav": "",
        "held.wav": "",
    }
    assert summary.filed == 4 and summary.status == "ok" and not summary.stopped
    assert (inbox / "empty.wav").exists()


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def test_zip_packs_filed_with_pack_name_bad_ones_refused(tmp_path: Path) -> None:
    inbox, dest = _ready(tmp_path)
    filer = FolderFiler(dest)
    reports: list[BatchReport] = []
    good = {"Kicks/Sub/BD 1.wav": os.urandom(900), "Snares/SD 1.wav": os.urandom(800)}
    _zip(inbox / "Cool Pack.zip", {**good, "readme.txt": b"hi"})
    _zip(inbox / "slip.zip", {"ok.wav": b"RIFF", "../../../escaped.wav": b"RIFF evil"})
    _zip(inbox / "bomb.zip", {"huge.wav": bytes(3 * 1024**2)})
    _zip(inbox / "invoice.zip", {"invoice.pdf": b"%PDF-1.4"})  # not a sample pack
    summary = _watcher(inbox, dest, filer, reports).run(lambda: False, once=True)
    assert sorted(filer.names()) == ["BD 1.wav", "SD 1.wav"]
    assert {a.pack for a in filer.calls} == {"Cool Pack"}
    assert (dest / "Cool Pack" / "BD 1.wav").read_bytes() == good["Kicks/Sub/BD 1.wav"]
    # The good zip is kept in DEST/_packs (move mode); the staging folder is gone.
    assert (dest / PACKS_DIR / "Cool Pack.zip").exists()
    assert not (inbox / "Cool Pack.zip").exists()
    assert list((dest / STAGING_DIR).iterdir()) == []
    # Refused packs: one line each naming the zip and why; kept where they were.
    assert len(summary.refused) == 2
    assert any("slip.zip: refused: entry '../../../escaped.wav'" in r for r in summary.refused)
    assert any("bomb.zip: refused: entry 'huge.wav' expands" in r for r in summary.refused)
    assert (inbox / "slip.zip").exists() and (inbox / "bomb.zip").exists()
    assert not any(p.name == "escaped.wav" for p in tmp_path.parent.rglob("escaped.wav"))
    assert (inbox / "invoice.zip").exists() and not (dest / PACKS_DIR / "invoice.zip").exists()
    assert summary.status == "partial"


def test_stop_while_files_arrive_then_restart_files_everything_once(tmp_path: Path) -> None:
    inbox, dest = _ready(tmp_path)
    filer = FolderFiler(dest)
    want: dict[str, str] = {}
    writing_done = threading.Event()

    def producer() -> None:
        for i in range(120):
            data = os.urandom(700)
            (inbox / f"f{i:03d}.wav").write_bytes(data)
            want[f"f{i:03d}.wav"] = _sha(data)
            time.sleep(0.005)
        writing_done.set()

    run = Running(_watcher(inbox, dest, filer, batch_max=10))
    _settle_watcher_started(run)
    threading.Thread(target=producer, daemon=True).start()
    wait_until(lambda: len(filer.names()) >= 10)
    first = run.stop()  # while the producer is still writing
    assert first.stopped
    writing_done.wait(10)
    assert len(filer.names()) < 120
    second = _watcher(inbox, dest, filer).run(lambda: False, once=True)
    names = filer.names()
    assert len(names) == len(set(names)) == 120
    assert filer.sums == want
    assert first.filed + second.filed == 120
    assert os.listdir(inbox) == []


def test_filer_failure_is_collected_and_the_files_stay(tmp_path: Path) -> None:
    from samplesort.errors import SampleSortError

    inbox, dest = _ready(tmp_path)
    (inbox / "a.wav").write_bytes(b"aaaa")

    def broken(arrivals: Sequence[Arrival], should_stop: Callable[[], bool]) -> BatchOutcome:
        raise SampleSortError("catalog.sqlite3: cannot write the catalog: disk I/O error")

    opts = WatchOptions(inboxes=(inbox,), dest=dest, settle_s=0.05)
    summary = Watcher(opts, broken).run(lambda: False, once=True)
    assert summary.errors == [
        "1 file(s) not filed: catalog.sqlite3: cannot write the catalog: disk I/O error"
    ]
    assert summary.status == "error"
    assert (inbox / "a.wav").exists()


def test_filer_failure_while_watching_is_retried_later(tmp_path: Path) -> None:
    from samplesort.errors import SampleSortError

    inbox, dest = _ready(tmp_path)
    (inbox / "a.wav").write_bytes(b"aaaa")
    calls = []

    def broken(arrivals: Sequence[Arrival], should_stop: Callable[[], bool]) -> BatchOutcome:
        calls.append(time.monotonic())
        raise SampleSortError("catalog.sqlite3: cannot write the catalog: database is locked")

    opts = WatchOptions(inboxes=(inbox,), dest=dest, settle_s=0.05)
    w = Watcher(opts, broken)
    run = Running(w)
    wait_until(lambda: len(calls) == 1)
    time.sleep(0.3)
    assert len(calls) == 1  # not retried at once...
    assert inbox / "a.wav" in w.queue  # ...but waiting for the retry
    summary = run.stop()
    assert summary.errors[0].endswith("database is locked; retrying in 60 s")
