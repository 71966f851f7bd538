"""The `scan` command: a library analysed into the catalog, with a rich progress bar on stderr
(files/s, ETA, errors) and the report of a `ScanResult`: a JSON object, or per-label and
"unknown" tables on stdout and a summary line on stderr. `cli_library.register` adds it to the
app with the other library commands.

CLI code: a SampleSortError becomes a one-line message and an exit status (`cli_options`).
Heavy imports stay inside the command.
"""

from __future__ import annotations

import json
import sys
import time
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
    load_model,
    open_catalog,
)
from .errors import ExitCode

if TYPE_CHECKING:
    from .catalog import Catalog
    from .library import ScanResult

SHOW_UNKNOWN = 20


@contextmanager
def _scan_progress(enabled: bool) -> Iterator[tuple[Any, Any]]:
    """(on_plan, progress) callbacks driving a rich bar on stderr: files/s, ETA, errors."""
    if not enabled:
        yield (lambda plan: None), (lambda n, e: None)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from .render import stderr

    columns = (
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("[red]{task.fields[errors]}"),
        TimeRemainingColumn(),
    )
    # No refresh thread (auto_refresh=False): the scan forks its workers only while this
    # process has a single thread, so the bar is redrawn from the callbacks, 10 times a second.
    with Progress(*columns, console=stderr(), transient=True, auto_refresh=False) as prog:
        task = prog.add_task("scan", total=None, errors="", rate="")
        errors = done = 0
        start = drawn = time.perf_counter()

        def on_plan(plan: Any) -> None:
            nonlocal start
            start = time.perf_counter()
            prog.update(task, total=len(plan.todo), refresh=True)

        def advance(n: int, e: int) -> None:
            # Results arrive in bursts of a worker batch: average over the whole run.
            nonlocal errors, done, drawn
            errors += e
            done += n
            now = time.perf_counter()
            rate = done / max(now - start, 1e-3)
            prog.update(
                task,
                advance=n,
                errors=f"{errors} error{'s' if errors != 1 else ''}" if errors else "",
                rate=f"{rate:.0f} files/s",
                refresh=now - drawn >= 0.1,
            )
            if now - drawn >= 0.1:
                drawn = now

        yield on_plan, advance


def _scan_json(r: ScanResult, cat: Catalog) -> str:
    from .query import parse

    labels = {
        lab: {"files": n, "mean_confidence": round(c, 4) if c is not None else None}
        for lab, n, c in cat.label_summary(str(r.root))
    }
    unknown = [e.path for e in cat.entries(parse(["unknown"]), under=str(r.root))]
    return json.dumps(
        {
            "version": JSON_VERSION,
            "status": r.status,
            "root": str(r.root),
            "catalog": str(r.catalog),
            "elapsed_s": r.elapsed_s,
            "counts": r.counts,
            "labels": labels,
            "unknown": unknown,
            "errors": [{"path": p, "error": m} for p, m in r.errors],
        },
        ensure_ascii=False,
    )


def _scan_tables(r: ScanResult, cat: Catalog) -> list[Any]:
    import os

    from rich.markup import escape
    from rich.table import Table

    from .query import parse
    from .taxonomy import LABELS, UNKNOWN

    rows = {lab: (n, c) for lab, n, c in cat.label_summary(str(r.root))}
    summary = Table(title=f"library {r.root}")
    summary.add_column("label")
    summary.add_column("files", justify="right")
    summary.add_column("mean conf", justify="right")
    for lab in [*LABELS, UNKNOWN, *sorted(set(rows) - {*LABELS, UNKNOWN})]:
        if lab in rows:
            n, c = rows[lab]
            style = "yellow" if lab == UNKNOWN else ""
            summary.add_row(f"[{style}]{lab}[/]" if style else lab, str(n), f"{c or 0:.2f}")
    failing = len(r.errors) + r.counts["still_failing"]
    if failing:
        summary.add_row("[red]error[/]", str(failing), "")
    out: list[Any] = [summary]
    unknown = list(cat.entries(parse(["unknown"]), under=str(r.root), limit=SHOW_UNKNOWN + 1))
    if unknown:
        t = Table(title="unknown (no class cleared its threshold)")
        t.add_column("file", overflow="fold")
        t.add_column("best guess")
        t.add_column("score", justify="right")
        for e in unknown[:SHOW_UNKNOWN]:
            best = max(e.scores.items(), key=lambda kv: kv[1]) if e.scores else ("", 0.0)
            t.add_row(escape(os.path.relpath(e.path, r.root)), best[0], f"{best[1]:.2f}")
        if len(unknown) > SHOW_UNKNOWN:
            t.caption = "more: samplesort ls unknown"
        out.append(t)
    return out


def _scan_line(r: ScanResult) -> str:
    c = r.counts
    head = "interrupted" if r.interrupted else "scanned"
    rate = c["analysed"] / r.elapsed_s if r.elapsed_s > 0 else 0.0
    parts = [
        f"{c['analysed']} analysed ({c['new']} new, {c['changed']} changed, "
        f"{c['moved']} moved; {rate:.0f} files/s)",
        f"{c['unchanged']} unchanged",
    ]
    names = {
        "restored": "restored",
        "missing": "missing",
        "vanished": "vanished during the scan",
        "errors": "failed",
        "still_failing": "failed before",
        "skipped_non_audio": "not audio (skipped)",
    }
    parts += [f"{c[key]} {name}" for key, name in names.items() if c.get(key)]
    return f"{head} {r.root} in {r.elapsed_s:.1f} s: {', '.join(parts)}; catalog {r.catalog}"


def scan(
    root: Annotated[Path, typer.Argument(help="The sample library's folder (walked recursively).")],
    catalog: CatalogOpt = None,
    jobs: JobsOpt = 0,
    as_json: JsonOpt = False,
    model: ModelOpt = None,
    backend: Annotated[
        str, typer.Option(help="loky (local processes) or dask (a Dask cluster, --scheduler).")
    ] = "loky",
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address, e.g. tcp://10.0.0.5:8786.")
    ] = None,
    retry_errors: Annotated[
        bool, typer.Option("--retry-errors", help="Re-read unchanged files that failed before.")
    ] = False,
) -> None:
    """Analyse a library into the catalog; only new or changed files are decoded.

    Moved files keep their analysis; deleted ones are marked missing; Ctrl-C keeps everything
    analysed so far, and the next scan continues. Never changes an audio file. Exit status: 0 ok,
    3 some files failed (each listed), 1 fatal, 130 interrupted.
    """
    from .workers import pin_blas_threads

    pin_blas_threads()  # before numpy loads: the scan's BLAS work is small, in every process
    from . import library, render

    err = render.stderr()
    with open_catalog(catalog) as cat:
        bundle = load_model(model) if model is not None else None
        with _scan_progress(sys.stderr.isatty() and not as_json) as (on_plan, advance):
            result = library.scan(
                root,
                cat,
                bundle,
                jobs=jobs,
                backend=backend,
                scheduler=scheduler,
                retry_errors=retry_errors,
                progress=advance,
                on_plan=on_plan,
            )
        if as_json:
            print(_scan_json(result, cat))
        else:
            out = render.stdout()
            for t in _scan_tables(result, cat):
                out.print(t)
    for _, message in result.errors:
        err.print(f"error: {message}", markup=False, highlight=False)
    err.print(_scan_line(result), markup=False, highlight=False)
    if result.counts["still_failing"]:
        err.print(
            f"{result.counts['still_failing']} unchanged file(s) failed before: "
            "samplesort ls error (--retry-errors re-reads them)",
            markup=False,
        )
    if result.counts.get("other_model"):
        err.print(
            f"{result.counts['other_model']} unchanged file(s) keep labels from another model: "
            "samplesort reclassify relabels them from the stored features",
            markup=False,
        )
    if result.interrupted:
        err.print("run scan again to continue", markup=False)
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    raise typer.Exit(int(ExitCode.PARTIAL if result.errors else ExitCode.OK))
