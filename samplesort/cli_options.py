"""What every command module of the CLI shares: the option types and the one way a
`SampleSortError` becomes a one-line message and an exit code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .errors import SampleSortError

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


def fail(exc: SampleSortError) -> typer.Exit:
    """Print `exc` as one line on stderr; return the Exit to raise with its code."""
    typer.echo(f"samplesort: {exc}", err=True)
    return typer.Exit(int(exc.exit_code))


def load_model(path: Path | None):  # noqa: ANN201 - ModelBundle, imported lazily (numpy)
    """The model at `path`, or the bundled default model."""
    from .model import load, load_default

    return load(path) if path is not None else load_default()
