"""The library commands: scan, ls, stats, reclassify, dupes, added to the main typer app by
`register(app)` at the bottom of `cli.py`. `scan` and its progress bar and report live in
`cli_scan.py`; this module holds the commands that read the catalog (`ls`, `stats`, `dupes`)
or relabel it from stored features (`reclassify`). It imports nothing from `cli.py`, so it
works however the CLI is started (`samplesort`, `python -m samplesort`, `python -m
samplesort.cli`).

Like `cli.py`, this is CLI code: it turns a SampleSortError into a one-line message and an exit
status. Heavy imports stay inside the commands. Data goes to stdout (tables, bare paths, JSON),
messages to stderr.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Annotated

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
from .cli_scan import scan
from .errors import SampleSortError

QueryArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="Query terms, ANDed: label:kick group:cymbal unknown confidence:<0.6 "
        "duration:<0.3 format:flac path:808 sr:44100 error missing dupes, ^term to negate; "
        "other words match the path."
    ),
]


def register(app: typer.Typer) -> None:
    """Add the library commands to `app`."""
    for command in (scan, ls_, stats, reclassify, dupes):
        app.command(name=command.__name__.rstrip("_"))(command)


def ls_(
    query: QueryArg = None,
    catalog: CatalogOpt = None,
    paths: Annotated[bool, typer.Option("--paths", help="Bare paths, one a line.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    limit: Annotated[int | None, typer.Option(help="At most this many rows.")] = None,
) -> None:
    """List catalogued files matching a query (all present, analysed files without one)."""
    from rich.markup import escape
    from rich.table import Table

    from . import render
    from .query import parse

    with open_catalog(catalog) as cat:
        try:
            q = parse(query or [])
        except SampleSortError as exc:
            raise fail(exc) from None
        rows = cat.entries(q, limit=limit)
        if paths or as_json:
            for e in rows:
                print(e.path if paths else json.dumps(e.as_dict(), ensure_ascii=False))
            sys.stdout.flush()
            return
        t = Table()
        for col, just in (("file", "left"), ("label", "left"), ("group", "left"),
                          ("conf", "right"), ("dur s", "right"), ("format", "left"),
                          ("sr", "right")):  # fmt: skip
            t.add_column(col, justify=just, overflow="fold" if col == "file" else None)
        n = 0
        for e in rows:
            n += 1
            shown = escape(e.path)
            if e.error is not None:
                reason = e.error.removeprefix(f"{e.path}: ")
                t.add_row(f"{shown}\n[red]{escape(reason)}[/]", "[red]error[/]", "", "", "", "", "")
                continue
            label = e.label or ""
            t.add_row(
                f"[dim]{shown} (missing)[/]" if e.missing else shown,
                f"[yellow]{label}[/]" if label == "unknown" else label,
                e.group or "",
                f"{e.confidence:.2f}" if e.confidence is not None else "",
                f"{e.duration_s:.3f}" if e.duration_s is not None else "",
                (e.format or "").lower(),
                str(e.sr_hz or ""),
            )
        if n:
            render.stdout().print(t)
        render.stderr().print(f"{n} file(s)", markup=False)


def _cell(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def stats(
    query: QueryArg = None,
    catalog: CatalogOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Library totals per label, group, format and sample rate.

    Also counts missing files, errors and duplicate groups. Takes the same query terms as `ls`.
    """
    from rich.markup import escape
    from rich.table import Table

    from . import render
    from .query import parse

    with open_catalog(catalog) as cat:
        try:
            s = cat.stats(parse(query or []))
        except SampleSortError as exc:
            raise fail(exc) from None
    if as_json:
        print(json.dumps({"version": JSON_VERSION, **s}, ensure_ascii=False))
        return
    out = render.stdout()
    c = s["catalog"]
    out.print(
        f"{s['files']} files, {s['duration_s'] / 60:.1f} min of audio; catalog: {c['present']} "
        f"present, {c['missing']} missing, {c['errors']} errors, {c['duplicate_groups']} "
        "duplicate groups"
    )
    tables = [
        ("label", s["labels"], ("files", "mean_confidence", "duration_s")),
        ("group", s["groups"], ("files", "duration_s")),
        ("format", {k: {"files": v} for k, v in s["formats"].items()}, ("files",)),
        ("sample rate", {k: {"files": v} for k, v in s["sample_rates"].items()}, ("files",)),
        ("model", {k: {"files": v} for k, v in s["models"].items()}, ("files",)),
    ]
    for title, data, cols in tables:
        if not data:
            continue
        t = Table(title=f"per {title}")
        t.add_column(title)
        for col in cols:
            t.add_column(col.replace("_", " "), justify="right")
        for key, row in data.items():
            t.add_row(escape(str(key)), *(_cell(row[col]) for col in cols))
        out.print(t)


def reclassify(
    catalog: CatalogOpt = None,
    model: ModelOpt = None,
    jobs: JobsOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Re-label the whole catalog with a model from the stored features (no audio is read)."""
    from . import library, render

    err = render.stderr()
    with open_catalog(catalog) as cat:
        try:
            bundle = load_model(model)
            r = library.reclassify(cat, bundle, jobs=jobs)
        except SampleSortError as exc:
            raise fail(exc) from None
    if as_json:
        print(json.dumps({"version": JSON_VERSION, **asdict(r)}, ensure_ascii=False))
    else:
        err.print(
            f"reclassified {r.rows} files with {r.model_id} in {r.elapsed_s:.1f} s "
            f"({r.distinct} distinct feature vectors); {r.changed} labels changed",
            markup=False,
        )
        render.stdout().print(", ".join(f"{k} {v}" for k, v in sorted(r.labels.items())))
    if r.other_schema:
        err.print(
            f"{r.other_schema} file(s) hold features of another schema: scan their folders to "
            "re-extract them",
            markup=False,
        )


def dupes(
    catalog: CatalogOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per group.")] = False,
) -> None:
    """List groups of files with identical decoded audio. Deletes nothing."""
    from . import render

    out = render.stdout()
    groups = files = 0
    with open_catalog(catalog) as cat:
        for group in cat.dupes():
            groups += 1
            files += len(group) - 1
            first = group[0]
            if as_json:
                print(
                    json.dumps(
                        {
                            "content_hash": first.content_hash,
                            "label": first.label,
                            "duration_s": first.duration_s,
                            "paths": [e.path for e in group],
                        },
                        ensure_ascii=False,
                    )
                )
                continue
            out.print(
                f"[bold]{len(group)} files[/], {first.label}, {first.duration_s or 0:.2f} s "
                f"[dim]({(first.content_hash or '')[:12]})[/]"
            )
            for e in group:
                out.print(f"  {e.path}", markup=False, highlight=False)
    render.stderr().print(
        f"{groups} duplicate group(s), {files} redundant file(s); nothing was deleted",
        markup=False,
    )
