"""The commands that change the user's files: organize, tag, undo, history, added to the main
typer app by `register(app)` at the bottom of `cli.py`.

Every change is previewable (`--dry-run`) and journaled; `undo` reverses a run. Ctrl-C and
SIGTERM are turned into a stop request that the executor honours between two operations, so a
run is never left with half a move. Data goes to stdout (tables, JSON), messages to stderr.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .cli_options import (
    JSON_VERSION,
    CatalogOpt,
    JobsOpt,
    JsonOpt,
    ModelOpt,
    fail,
    load_model,
    open_catalog,
)
from .errors import ExitCode, SampleSortError, UsageError

if TYPE_CHECKING:
    from .organize import RunResult

DryRunOpt = Annotated[bool, typer.Option("--dry-run", "-n", help="Show the plan; change nothing.")]


def register(app: typer.Typer) -> None:
    """Add organize, tag, undo and history to `app`."""
    for command in (organize, tag, undo, history):
        app.command()(command)


@contextmanager
def stop_requests() -> Iterator[Any]:
    """A callable that answers whether Ctrl-C / SIGTERM arrived; the signals only set it."""
    state = {"stop": False}

    def handler(signum: int, frame: object) -> None:
        if state["stop"] and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: the user means it
        state["stop"] = True

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: state["stop"]
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _item_dict(i: Any) -> dict[str, Any]:
    return {
        "source": str(i.source),
        "dest": str(i.dest),
        "label": i.label,
        "labels": list(i.labels),
        "confidence": round(i.confidence, 4),
        "review": i.review,
        "reason": i.reason,
        "note": i.note or None,
        "sidecars": [str(s) for s in i.sidecars],
    }


def _result_json(r: RunResult, command: str) -> str:
    return json.dumps(
        {
            "version": JSON_VERSION,
            "command": command,
            "status": r.status,
            "dry_run": r.dry_run,
            "run": r.run_id,
            "done": r.done,
            "review": r.review,
            "skipped": r.skipped,
            "pathmap": str(r.pathmap) if r.pathmap else None,
            "items": [_item_dict(i) for i in r.items],
            "errors": list(r.errors),
        },
        ensure_ascii=False,
    )


def _plan_table(r: RunResult, bases: tuple[Path, Path] | None, title: str) -> Any:
    import os

    from rich.markup import escape
    from rich.table import Table

    t = Table(title=title)
    t.add_column("file", overflow="fold")
    t.add_column("->", overflow="fold")
    t.add_column("label")
    t.add_column("conf", justify="right")
    t.add_column("why", overflow="fold")
    for i in r.items:
        src = os.path.relpath(i.source, bases[0]) if bases else str(i.source)
        dest = os.path.relpath(i.dest, bases[1]) if bases else str(i.dest)
        extra = f" (+{len(i.sidecars)} sidecar)" if i.sidecars else ""
        style = "yellow" if i.review else ""
        t.add_row(
            escape(src),
            f"[{style}]{escape(dest)}{extra}[/]" if style else escape(dest) + extra,
            i.label,
            f"{i.confidence:.2f}",
            escape(i.reason),
        )
    return t


def _finish(
    r: RunResult, as_json: bool, command: str, title: str, bases: tuple[Path, Path] | None
) -> None:
    from . import render

    err = render.stderr()
    if as_json:
        print(_result_json(r, command))
    elif r.items:
        render.stdout().print(_plan_table(r, bases, title))
    for e in r.errors:
        err.print(f"error: {e}", markup=False, highlight=False)
    if r.interrupted:
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    raise typer.Exit(int(ExitCode.PARTIAL if r.errors else ExitCode.OK))


def _mode(copy: bool, move: bool, link: bool) -> str:
    chosen = [m for m, on in (("copy", copy), ("move", move), ("link", link)) if on]
    if len(chosen) > 1:
        raise UsageError(f"choose one of --copy, --move, --link (got {', '.join(chosen)})")
    return chosen[0] if chosen else "move"


def organize(
    root: Annotated[Path, typer.Argument(help="The folder to put in order (walked recursively).")],
    into: Annotated[Path, typer.Option("--into", help="Where the sorted tree goes.")],
    copy: Annotated[bool, typer.Option("--copy", help="Copy; leave the sources alone.")] = False,
    move: Annotated[bool, typer.Option("--move", help="Move (the default).")] = False,
    link: Annotated[bool, typer.Option("--link", help="Symlink to the sources.")] = False,
    template: Annotated[
        str,
        typer.Option(
            help="Destination under --into. Fields: {label} {group} {pack} {stem} {ext} "
            "{confidence} {note}."
        ),
    ] = "{group}/{label}/{pack}/{stem}{ext}",
    min_confidence: Annotated[
        float, typer.Option(help="Below this, a file goes to _review/<best guess>/.")
    ] = 0.6,
    tag_files: Annotated[
        bool, typer.Option("--tag", help="Also write the label into each file's tags.")
    ] = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
    model: ModelOpt = None,
    jobs: JobsOpt = 0,
) -> None:
    """File every sample under ROOT into --into by label, as one undoable run.

    The plan comes from the catalog (files not yet catalogued are scanned first). Unknown or
    unsure files go to _review/<best guess>/. Nothing is ever overwritten; sidecar files (.asd,
    .reapeaks) travel with their sample; a path map CSV (old,new) is written for relinking DAW
    projects. Exit status: 0 ok, 3 some files failed (listed), 130 stopped (undo still works).
    """
    from . import organize as org
    from . import render

    try:
        options = org.OrganizeOptions(
            into=into,
            mode=_mode(copy, move, link),
            template=template,
            min_confidence=min_confidence,
            tag=tag_files,
        )
        options.check()
    except SampleSortError as exc:
        raise fail(exc) from None
    with open_catalog(catalog) as cat:
        bundle = load_model(model)
        show = sys.stderr.isatty() and not as_json
        with (
            stop_requests() as should_stop,
            render.progress_bar(None, label="filing", enabled=show) as advance,
        ):
            r = org.organize(
                root,
                options,
                catalog=cat,
                model=bundle,
                dry_run=dry_run,
                should_stop=should_stop,
                progress=advance,
                jobs=jobs,
            )
    err = render.stderr()
    if not as_json:
        verb = {"move": "moved", "copy": "copied", "link": "linked"}[options.mode]
        n = len(r.items)
        if dry_run:
            err.print(
                f"dry run: would file {n} file(s) ({r.review} to review) into {options.into}; "
                f"{r.skipped} already filed; nothing changed",
                markup=False,
            )
        elif r.run_id is None:
            err.print(f"nothing to file ({r.skipped} already filed)", markup=False)
        else:
            err.print(
                f"run {r.run_id}: {verb} {n} file(s) ({r.review} to review) into "
                f"{options.into}; {r.skipped} already filed; path map {r.pathmap}; "
                f"undo with: samplesort undo {r.run_id}",
                markup=False,
            )
            if r.interrupted:
                err.print("stopped on request between two operations", markup=False)
    title = "plan" if dry_run else "filed"
    _finish(r, as_json, "organize", title, (Path(root).absolute(), Path(into).absolute()))


def tag(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (walked recursively).")],
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
    model: ModelOpt = None,
    jobs: JobsOpt = 0,
) -> None:
    """Write each file's label, group, confidence, model id and samplesort version into its
    tags (WAV ID3 + RIFF INFO, AIFF, FLAC, OGG Vorbis, MP3), as one undoable run. The audio
    data is never changed."""
    from . import organize as org
    from . import render

    with open_catalog(catalog) as cat:
        bundle = load_model(model)
        r = org.tag_files(paths, catalog=cat, model=bundle, dry_run=dry_run, jobs=jobs)
    if not as_json:
        if dry_run:
            msg = f"dry run: would tag {len(r.items)} file(s); nothing changed"
        elif r.run_id is None:
            msg = "nothing to tag"
        else:
            msg = f"run {r.run_id}: tagged {r.done} file(s); undo with: samplesort undo {r.run_id}"
        render.stderr().print(msg, markup=False)
    _finish(r, as_json, "tag", "tags", None)


def undo(
    run_id: Annotated[
        int | None, typer.Argument(help="The run to undo (default: the latest not undone).")
    ] = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
    catalog: CatalogOpt = None,
) -> None:
    """Reverse a whole organize / tag / watch run: every file back at its original path with
    its original bytes, folders the run created removed. Also works on a run that was killed
    mid-way. Nothing is ever overwritten: conflicts are listed and left in place."""
    from . import actions, render
    from .journal import Journal

    with open_catalog(catalog) as cat:
        j = Journal(cat)
        if run_id is None:
            last = j.last_undoable()
            if last is None:
                raise fail(SampleSortError(f"nothing to undo in {cat.path}"))
            run_id = last.id
        r = actions.undo(j, run_id, dry_run=dry_run)
    err = render.stderr()
    if as_json:
        print(
            json.dumps(
                {
                    "version": JSON_VERSION,
                    "command": "undo",
                    "run": r.run_id,
                    "status": r.status,
                    "dry_run": r.dry_run,
                    "reversed": r.reversed,
                    "steps": list(r.steps),
                    "errors": list(r.errors),
                    "notes": list(r.notes),
                    "pathmap": str(r.pathmap) if r.pathmap else None,
                },
                ensure_ascii=False,
            )
        )
    else:
        out = render.stdout()
        for s in r.steps:
            out.print(("would " if dry_run else "") + s, markup=False, highlight=False)
    for n in r.notes:
        err.print(f"note: {n}", markup=False, highlight=False)
    for e in r.errors:
        err.print(f"error: {e}", markup=False, highlight=False)
    if not as_json:
        head = "dry run: would undo" if dry_run else "undid"
        err.print(f"{head} run {r.run_id}: {len(r.steps)} step(s)", markup=False)
    raise typer.Exit(int(ExitCode.PARTIAL if r.errors else ExitCode.OK))


def history(
    as_json: JsonOpt = False,
    limit: Annotated[int, typer.Option(help="The latest N runs.")] = 20,
    catalog: CatalogOpt = None,
) -> None:
    """List the runs that changed files (organize, tag, watch), newest first, with counts."""
    import datetime as dt

    from rich.table import Table

    from . import render
    from .journal import Journal

    with open_catalog(catalog) as cat:
        j = Journal(cat)
        runs = [(r, j.op_counts(r.id)) for r in j.runs(limit=limit)]
    if as_json:
        for r, ops in runs:
            print(json.dumps(r.as_dict() | {"ops": ops}, ensure_ascii=False))
        return
    t = Table(title=f"runs in {cat.path}")
    for col in ("run", "kind", "started", "status", "operations", "into"):
        t.add_column(col, overflow="fold")
    for r, ops in runs:
        when = dt.datetime.fromtimestamp(r.started_at).strftime("%Y-%m-%d %H:%M:%S")
        counts = ", ".join(f"{n} {k}" for k, n in sorted(ops.items()) if not k.startswith("mkdir"))
        t.add_row(str(r.id), r.kind, when, r.status, counts or "-", r.dest or "")
    render.stdout().print(t)
