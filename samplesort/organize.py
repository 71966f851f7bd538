"""Organize and tag: catalogue what is not yet catalogued, plan where each file goes (pure:
`decide.destination`), and carry the plan out as one journaled run (`actions.execute`). The
planning lives in `organize_plan.py`; this module turns a plan into the executor's actions (the
file, its sidecars, its tags), runs them and reports a `RunResult`. Re-exports `MODES` and
`OrganizeOptions`.

    result = organize(root, OrganizeOptions(into=...), catalog=cat, model=model, dry_run=True)
    result = organize_sources([Source(path, pack)], options, catalog=cat, model=model)  # watch
    result = tag_files(paths, catalog=cat, model=model)

The plan comes from the catalog: a file's label is the one stored by the scan, re-decided from
its stored features when the catalog's model is not the one in use. Files that could not be
analysed are reported and left where they are. A file already filed by an earlier run that was
not undone (same path, size and mtime) is skipped, so re-running organize or restarting watch
never files a file twice. Sidecar files (`<file name>.asd`, `.reapeaks`, ...) travel with their
sample. Library code: never prints, never exits.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__, actions, pipeline
from .catalog import Catalog
from .decide import DEFAULT_TEMPLATE
from .errors import UsageError
from .journal import Journal
from .organize_plan import (
    MODES,
    OrganizeOptions,
    catalogue,
    plan,
    predictions,
    sources_under,
    under,
)
from .records import PlanItem, Source
from .taxonomy import group_of

if TYPE_CHECKING:
    from .model import ModelBundle

__all__ = [
    "DEFAULT_TEMPLATE",
    "MODES",
    "OrganizeOptions",
    "RunResult",
    "Source",
    "organize",
    "organize_sources",
    "tag_files",
]

Progress = Callable[[int], None]


@dataclass(frozen=True)
class RunResult:
    run_id: int | None  # None for a dry run
    items: tuple[PlanItem, ...]  # after a real run, `dest` is where each file ended
    done: int  # operations carried out (files, sidecars, tags)
    review: int  # files sent to _review/
    skipped: int  # already filed by an earlier run
    errors: tuple[str, ...]
    interrupted: bool = False
    pathmap: Path | None = None
    dry_run: bool = False

    @property
    def status(self) -> str:
        if self.interrupted:
            return "interrupted"
        if self.errors:
            return "partial" if self.done or self.dry_run else "error"
        return "ok"


def _tags(item: PlanItem, model_id: str) -> Any:
    from .tags import SampleTags

    return SampleTags(
        label=item.label,
        group=group_of(item.label) if item.label != "unknown" else None,
        confidence=round(item.confidence, 4),
        model_id=model_id,
        version=__version__,
        labels=item.labels,
    )


def to_actions(
    items: Sequence[PlanItem], options: OrganizeOptions, model_id: str
) -> list[actions.Action]:
    """The executor's actions for a plan: each file, then its sidecars, then its tags."""
    out: list[actions.Action] = []
    for item in items:
        main = len(out)
        out.append(actions.Action(options.mode, dest=item.dest, src=item.source))
        for sc in item.sidecars:
            suffix = sc.name[len(item.source.name) :]
            out.append(actions.Action(options.mode, src=sc, base=main, suffix=suffix))
        if options.tag:
            out.append(actions.Action("tag", base=main, tags=_tags(item, model_id)))
    return out


def organize_sources(
    sources: Sequence[Source],
    options: OrganizeOptions,
    *,
    catalog: Catalog,
    model: ModelBundle,
    kind: str = "organize",
    dry_run: bool = False,
    should_stop: Callable[[], bool] | None = None,
    progress: Progress | None = None,
    jobs: int | None = None,
    root: Path | None = None,
) -> RunResult:
    """Plan and (unless `dry_run`) carry out the filing of `sources` as one journaled run."""
    items, errors, skipped = plan(sources, options, catalog=catalog, model=model, jobs=jobs)
    review = sum(i.review for i in items)
    if dry_run:
        return RunResult(None, tuple(items), 0, review, skipped, tuple(errors), dry_run=True)
    if not items:
        return RunResult(None, (), 0, 0, skipped, tuple(errors))
    into = Path(os.path.abspath(options.into))
    journal = Journal(catalog)
    run_id = journal.begin_run(
        kind,
        root=str(root) if root else None,
        dest=str(into),
        mode=options.mode,
        options={
            "template": options.template,
            "min_confidence": options.min_confidence,
            "tag": options.tag,
            "model": model.model_id,
        },
    )
    acts = to_actions(items, options, model.model_id)
    out = actions.execute(
        acts, journal, run_id, into=into, should_stop=should_stop, progress=progress
    )
    main_index = [i for i, a in enumerate(acts) if a.base is None]
    final = tuple(
        replace(item, dest=out.final[i]) if i in out.final else item
        for item, i in zip(items, main_index, strict=True)
    )
    return RunResult(
        run_id,
        final,
        out.done,
        review,
        skipped,
        tuple(errors) + out.errors,
        out.interrupted,
        out.pathmap,
    )


def organize(
    root: Path,
    options: OrganizeOptions,
    *,
    catalog: Catalog,
    model: ModelBundle,
    dry_run: bool = False,
    should_stop: Callable[[], bool] | None = None,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> RunResult:
    """Organize every audio file under `root` (except what is already under `--into`)."""
    root = Path(os.path.abspath(root))
    if not root.is_dir():
        raise UsageError(f"{root}: not a folder")
    options.check()
    into = Path(os.path.abspath(options.into))
    if under(root, into):
        raise UsageError(f"{root}: is inside --into {into}; nothing to organize")
    sources, walk_errors = sources_under(root, exclude=into)
    res = organize_sources(
        sources,
        options,
        catalog=catalog,
        model=model,
        dry_run=dry_run,
        should_stop=should_stop,
        progress=progress,
        jobs=jobs,
        root=root,
    )
    return replace(res, errors=tuple(walk_errors) + res.errors)


def tag_files(
    paths: Sequence[Path],
    *,
    catalog: Catalog,
    model: ModelBundle,
    dry_run: bool = False,
    jobs: int | None = None,
) -> RunResult:
    """Write each file's label into its tags, as one journaled (undoable) run."""
    from .tags import can_tag

    found = pipeline.walk([Path(os.path.abspath(p)) for p in paths])
    errors = [e.error or f"{e.path}: cannot read" for e in found.errors]
    files = []
    for p in found.files:
        if can_tag(p):
            files.append(p)
        else:
            errors.append(f"{p}: cannot tag {p.suffix or 'this'} files")
    errors += catalogue(files, catalog, model, jobs)
    preds = predictions(files, catalog, model)
    items: list[PlanItem] = []
    for p in files:
        got = preds[str(p)]
        if isinstance(got, str):
            if got not in errors:
                errors.append(got)
            continue
        pred, note = got
        reason = f"{pred.label} {pred.confidence:.2f}"
        items.append(
            PlanItem(
                p, p, pred.label, pred.confidence, False, reason, note=note, labels=pred.labels
            )
        )
    if dry_run or not items:
        return RunResult(None, tuple(items), 0, 0, 0, tuple(errors), dry_run=dry_run)
    journal = Journal(catalog)
    run_id = journal.begin_run("tag", options={"model": model.model_id})
    acts = [actions.Action("tag", dest=i.source, tags=_tags(i, model.model_id)) for i in items]
    out = actions.execute(acts, journal, run_id)
    return RunResult(
        run_id,
        tuple(items),
        out.done,
        0,
        0,
        tuple(errors) + out.errors,
        out.interrupted,
        out.pathmap,
    )
