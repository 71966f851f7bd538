"""What every command module of the CLI shares: the option types and the one way a
`SampleSortError` becomes a one-line message and an exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .errors import SampleSortError

JSON_VERSION = 1  # the "version" of every JSON object the commands print

if TYPE_CHECKING:
    from .catalog import Catalog

ModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--model",
        "-m",
        help="A model file from `samplesort train` (default: the bundled model). Only .npz "
        "tree files are read; nothing in them is executed.",
    ),
]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", help="Worker processes (0 = all cores).")]
CatalogOpt = Annotated[
    Path | None,
    typer.Option(
        "--catalog",
        "-c",
        envvar="SAMPLESORT_CATALOG",
        show_envvar=True,
        help="The catalog file (default: catalog.sqlite3 in the user data folder).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON on stdout, for scripts.")]


def fail(exc: SampleSortError) -> typer.Exit:
    """Print `exc` as one line on stderr; return the Exit to raise with its code."""
    typer.echo(f"samplesort: {exc}", err=True)
    return typer.Exit(int(exc.exit_code))


def load_model(path: Path | None):  # noqa: ANN201 - ModelBundle, imported lazily (numpy)
    """The model at `path`, or the bundled default model."""
    from .model import load, load_default

    return load(path) if path is not None else load_default()


@contextmanager
def open_catalog(path: Path | None) -> Iterator[Catalog]:
    """The catalog at `path` (or the default one), closed afterwards; a SampleSortError inside
    becomes a one-line message and its exit code."""
    from .catalog import Catalog

    try:
        cat = Catalog.open(path)
    except SampleSortError as exc:
        raise fail(exc) from None
    try:
        yield cat
    except SampleSortError as exc:
        raise fail(exc) from None
    finally:
        cat.close()
