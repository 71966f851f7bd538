"""The `watch` command: file new downloads and zip packs from inbox folders as they arrive,
added to the main typer app by `register(app)` at the bottom of `cli.py`.

CLI code: it loads the model once, opens the catalog, wires the watch engine to organize (each
batch one journaled run, so `history` / `undo` cover it), turns SIGINT / SIGTERM into a clean
stop between two file operations, and shows what happens: a rich live view on a terminal,
plain log lines otherwise, and a rotating log file with `--log`. Like `cli.py` it maps
`SampleSortError` to exit codes. Heavy imports stay inside the command.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .cli_options import JSON_VERSION, CatalogOpt, JobsOpt, ModelOpt, fail, load_model
from .errors import ExitCode, SampleSortError, UsageError

if TYPE_CHECKING:
    from .watch import BatchReport, Watcher, WatchSummary

LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"
LOG_MAX_BYTES = 1_000_000
LOG_BACKUPS = 5
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|min)?\s*$")


def register(app: typer.Typer) -> None:
    """Add the `watch` command to `app`."""
    app.command(name="watch")(watch)


def parse_duration(text: str) -> float:
    """'2s', '500ms', '1.5', '1m' -> seconds."""
    m = _DURATION.match(text)
    if m is None:
        raise UsageError(f"--settle {text!r}: expected a duration like 2s, 500ms or 1m")
    scale = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0}[m.group(2)]
    return float(m.group(1)) * scale


def _check_paths(inboxes: list[Path], into: Path) -> tuple[list[Path], Path]:
    dest = into.expanduser().resolve()
    out = []
    for inbox in inboxes:
        if not inbox.expanduser().is_dir():
            raise UsageError(f"{inbox}: not a folder")
        real = inbox.expanduser().resolve()
        if real == dest:
            raise UsageError(f"{inbox}: the inbox cannot be the destination")
        if real.is_relative_to(dest):
            raise UsageError(f"{inbox}: the inbox cannot be inside the destination {into}")
        out.append(real)
    return out, dest


@contextmanager
def _stop_on_signals() -> Iterator[tuple[threading.Event, list[int]]]:
    """SIGINT / SIGTERM set the stop event (the file in hand is finished first); a second
    SIGINT interrupts at once."""
    stop = threading.Event()
    got: list[int] = []

    def handler(signum: int, frame: object) -> None:
        got.append(signum)
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop, got
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class _LiveView(logging.Handler):
    """Counts and the last log lines, drawn by rich.live on stderr."""

    def __init__(self, watcher: Watcher, dest: Path) -> None:
        super().__init__(logging.INFO)
        self.watcher = watcher
        self.dest = dest
        self.lines: deque[tuple[str, str]] = deque(maxlen=12)
        self.counts = dict.fromkeys(
            ("filed", "review", "skipped", "undone", "errors", "refused"), 0
        )

    def emit(self, record: logging.LogRecord) -> None:
        style = {logging.WARNING: "yellow", logging.ERROR: "red"}.get(record.levelno, "")
        self.lines.append((record.getMessage(), style))

    def on_batch(self, r: BatchReport) -> None:
        c = self.counts
        c["refused"] += len(r.refused)
        c["errors"] += len(r.errors)
        if r.outcome is not None:
            c["filed"] += len(r.outcome.filed) - r.outcome.review
            c["review"] += r.outcome.review
            c["skipped"] += r.outcome.skipped
            c["undone"] += r.outcome.undone
            c["errors"] += len(r.outcome.errors)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        c = self.counts
        head = Text.assemble(
            ("watching ", "dim"),
            ", ".join(str(p) for p in self.watcher.inboxes),
            (" -> ", "dim"),
            str(self.dest),
        )
        counts = Text.assemble(
            (f"filed {c['filed']}", "green"),
            "  ",
            (f"review {c['review']}", "yellow"),
            f"  already filed {c['skipped']}  undone, left alone {c['undone']}  ",
            (f"errors {c['errors']}", "red" if c["errors"] else ""),
            "  ",
            (f"refused packs {c['refused']}", "red" if c["refused"] else ""),
            f"  waiting {len(self.watcher.queue)}",
        )
        tail = [Text(m, style=s, overflow="ellipsis", no_wrap=True) for m, s in self.lines]
        return Group(head, counts, *tail)


@contextmanager
def _logging(log_file: Path | None, live: _LiveView | None) -> Iterator[None]:
    """INFO lines of the `samplesort` loggers to the log file (rotating), and to stderr as
    plain lines (no terminal) or into the live view."""
    from logging.handlers import RotatingFileHandler

    logger = logging.getLogger("samplesort")
    handlers: list[logging.Handler] = []
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            RotatingFileHandler(
                log_file, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
            )
        )
    handlers.append(live if live is not None else logging.StreamHandler(sys.stderr))
    for h in handlers:
        if h is not live:
            h.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(h)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(level)
        for h in handlers:
            logger.removeHandler(h)
            h.close()


def _summary_json(s: WatchSummary, dest: Path) -> str:
    return json.dumps(
        {
            "version": JSON_VERSION,
            "status": s.status,
            "stopped": s.stopped,
            "into": str(dest),
            "elapsed_s": round(s.elapsed_s, 3),
            "batches": s.batches,
            "runs": s.run_ids,
            "counts": {
                "arrived": s.arrivals,
                "filed": s.filed - s.review,
                "review": s.review,
                "skipped": s.skipped,
                "undone": s.undone,
                "errors": len(s.errors),
                "refused": len(s.refused),
            },
            "errors": s.errors,
            "refused": s.refused,
        },
        ensure_ascii=False,
    )


def watch(
    inboxes: Annotated[
        list[Path], typer.Argument(help="Folders to watch (recursively), e.g. ~/Downloads.")
    ],
    into: Annotated[
        Path, typer.Option("--into", help="Where samples are filed (may be inside an inbox).")
    ],
    copy: Annotated[
        bool, typer.Option("--copy", help="Copy files instead of moving them (inbox untouched).")
    ] = False,
    template: Annotated[
        str,
        typer.Option(
            help="Destination under --into. Fields: {label} {group} {pack} (the zip's name, or "
            "the folder under the inbox) {stem} {ext} {confidence} {note}."
        ),
    ] = "{group}/{label}/{pack}/{stem}{ext}",
    min_confidence: Annotated[
        float,
        typer.Option(help="Below this, a file goes to _review/<best guess>/.", min=0, max=1),
    ] = 0.6,
    settle: Annotated[
        str,
        typer.Option(
            help="A file is filed once its size and mtime stayed the same this long (2s, 500ms)."
        ),
    ] = "2s",
    once: Annotated[
        bool,
        typer.Option("--once", help="File what is in the inboxes now and exit (for cron)."),
    ] = False,
    log_file: Annotated[
        Path | None,
        typer.Option("--log", help="Also log what was filed where to this file (rotating)."),
    ] = None,
    tag: Annotated[
        bool, typer.Option("--tag", help="Write the label into each filed file's tags.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON summary on stdout when it stops.")
    ] = False,
    catalog: CatalogOpt = None,
    model: ModelOpt = None,
    jobs: JobsOpt = 0,
) -> None:
    """Watch inbox folders and file each new sample (and each zip pack's audio) where it
    belongs, unattended. Files are acted on only once complete; every batch is a journaled run
    (`samplesort history`, `samplesort undo`).

    Zip packs are extracted and filed with {pack} = the zip's name; the zip is kept (in
    DEST/_packs/ after a move). Stops cleanly on Ctrl-C / SIGTERM. Exit status: 0 ok (also
    after SIGTERM), 3 some files failed or packs were refused (--once), 130 after Ctrl-C.
    """
    from .catalog import Catalog
    from .watch import Watcher, WatchOptions, organize_filer

    try:
        settle_s = parse_duration(settle)
        paths, dest = _check_paths(inboxes, into)
        bundle = load_model(model)  # once, for the life of the process
        cat = Catalog.open(catalog)
    except SampleSortError as exc:
        raise fail(exc) from None
    mode = "copy" if copy else "move"
    try:
        filer = organize_filer(
            into=dest,
            mode=mode,
            template=template,
            min_confidence=min_confidence,
            tag=tag,
            catalog=cat,
            model=bundle,
            jobs=jobs,
            root=paths[0] if len(paths) == 1 else None,
        )
        options = WatchOptions(inboxes=tuple(paths), dest=dest, settle_s=settle_s, mode=mode)
        interactive = sys.stderr.isatty() and not as_json
        watcher = Watcher(options, filer)
        live = _LiveView(watcher, dest) if interactive else None
        if live is not None:
            watcher.on_batch = live.on_batch
        with _stop_on_signals() as (stop, got), _logging(log_file, live):
            if live is not None:
                from rich.live import Live

                from .render import stderr

                with Live(get_renderable=live.__rich__, console=stderr(), transient=False):
                    summary = watcher.run(stop.is_set, once=once)
            else:
                summary = watcher.run(stop.is_set, once=once)
    except KeyboardInterrupt:
        typer.echo("samplesort: interrupted", err=True)
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except SampleSortError as exc:
        raise fail(exc) from None
    finally:
        cat.close()
    if as_json:
        print(_summary_json(summary, dest))
    typer.echo(
        f"samplesort watch: {summary.filed - summary.review} filed, {summary.review} to review, "
        f"{summary.skipped} already filed, {summary.undone} undone (left alone), "
        f"{len(summary.errors)} error(s), "
        f"{len(summary.refused)} refused pack(s) in {len(summary.run_ids)} run(s)",
        err=True,
    )
    if got and got[0] == signal.SIGINT:
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    if got:  # SIGTERM: a service asked to stop, and it did
        raise typer.Exit(int(ExitCode.OK))
    if summary.status == "error":
        raise typer.Exit(int(ExitCode.ERROR))
    raise typer.Exit(int(ExitCode.PARTIAL if summary.status == "partial" else ExitCode.OK))
