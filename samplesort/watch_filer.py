"""The filer side of watch: what the engine hands a filer (batches of `Arrival`s, and a stop
check to honour between operations), what it gets back (`BatchOutcome`: the files placed, and
those skipped, failed or left alone), and `organize_filer`, the filer the CLI uses.

`organize_filer` files each batch as one `organize_sources` run of kind "watch", so watch runs
are ordinary journaled runs (history, undo, "already filed" on restart). A file that an undo of
a watch run into the same destination put back (same path, size and mtime) is left alone;
touching it makes it new again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .catalog import Catalog
    from .model import ModelBundle

log = logging.getLogger(__name__)

StopCheck = Callable[[], bool]


@dataclass(frozen=True)
class Arrival:
    """A complete file to file: `pack` is the value of `{pack}` in templates ("" for none)."""

    path: Path
    pack: str


@dataclass(frozen=True)
class Filed:
    """One file the filer placed: where, as what, and whether it went to review."""

    source: Path
    dest: Path
    label: str
    confidence: float | None = None
    review: bool = False


@dataclass(frozen=True)
class BatchOutcome:
    """What a filer did with one batch (one journaled run)."""

    run_id: int | None
    filed: tuple[Filed, ...] = ()
    skipped: int = 0  # filed by an earlier run
    errors: tuple[str, ...] = ()  # one line each, naming the file
    undone: int = 0  # put back by an undo of a watch run: left alone

    @property
    def review(self) -> int:
        return sum(f.review for f in self.filed)


Filer = Callable[[Sequence[Arrival], StopCheck], BatchOutcome]


def organize_filer(
    *,
    into: Path,
    mode: str,
    template: str | None,
    min_confidence: float,
    tag: bool,
    catalog: Catalog,
    model: ModelBundle,
    jobs: int | None = None,
    root: Path | None = None,
) -> Filer:
    """The filer the CLI uses: each batch is one `organize_sources` run of kind "watch"
    (analysed and recorded in `catalog`, planned with `template`, carried out and journaled),
    so `samplesort history` lists it (with `root`, the inbox) and `samplesort undo` reverses
    it. Raises `UsageError`
    for a bad template or option before anything is watched."""
    from .journal import Journal
    from .organize import DEFAULT_TEMPLATE, OrganizeOptions, Source, organize_sources

    options = OrganizeOptions(
        into=into,
        mode=mode,
        template=template or DEFAULT_TEMPLATE,
        min_confidence=min_confidence,
        tag=tag,
    )
    options.check()
    journal = Journal(catalog)
    dest = str(Path(os.path.abspath(into)))
    undone_runs: dict[int, frozenset[tuple[str, int | None, int | None]]] = {}

    def undone() -> set[tuple[str, int | None, int | None]]:
        """(path, size, mtime) of files an undo of a watch run into `into` put back."""
        out: set[tuple[str, int | None, int | None]] = set()
        for run in journal.runs():
            if run.kind != "watch" or run.undone_at is None or run.dest != dest:
                continue
            got = undone_runs.get(run.id)
            if got is None:
                got = frozenset(
                    (op.src, op.size, op.mtime_ns)
                    for op in journal.ops(run.id)
                    if op.kind in ("move", "copy", "link") and op.state == "undone" and op.src
                )
                if run.status == "undone":  # final; an undo-partial run may change
                    undone_runs[run.id] = got
            out |= got
        return out

    def filer(arrivals: Sequence[Arrival], should_stop: StopCheck) -> BatchOutcome:
        held = undone()
        todo = []
        for a in arrivals:
            try:
                st = os.stat(a.path)
            except OSError:
                todo.append(a)  # organize reports it
                continue
            if (str(a.path), st.st_size, st.st_mtime_ns) in held:
                log.info("%s: put back by an undo, left alone (touch it to file it again)", a.path)
            else:
                todo.append(a)
        left = len(arrivals) - len(todo)
        if not todo:
            return BatchOutcome(None, undone=left)
        result = organize_sources(
            [Source(a.path, a.pack) for a in todo],
            options,
            catalog=catalog,
            model=model,
            kind="watch",
            should_stop=should_stop,
            jobs=jobs,
            root=root,
        )
        if result.run_id is None:  # nothing to do: all skipped or failed before planning
            return BatchOutcome(None, (), result.skipped, result.errors, left)
        placed = {
            op.src: Path(op.dest)
            for op in journal.ops(result.run_id)
            if op.kind in ("move", "copy", "link") and op.state == "done"
        }
        filed = tuple(
            Filed(item.source, placed[str(item.source)], item.label, item.confidence, item.review)
            for item in result.items
            if str(item.source) in placed
        )
        return BatchOutcome(result.run_id, filed, result.skipped, result.errors, left)

    return filer
