"""Organize and tag: catalogue what is not yet catalogued, plan where each file goes (pure:
`decide.destination`), and carry the plan out as one journaled run (`actions.execute`).

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

import numpy as np

from . import __version__, actions, library, pipeline
from .catalog import Catalog
from .decide import (
    DEFAULT_TEMPLATE,
    NOTE_MIN_CONF_DB,
    check_template,
    decide,
    destination,
    note_name,
)
from .errors import UsageError
from .features import FEATURE_NAMES, FEATURE_SCHEMA_VERSION
from .fsops import name_key, unique_path
from .journal import Journal
from .records import PlanItem, Prediction, Source
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

MODES = ("move", "copy", "link")
# Files that belong to a sample, named "<sample file name><suffix>": Ableton analysis files,
# REAPER peaks, Sound Forge / Vegas peak and region files.
SIDECAR_SUFFIXES = (".asd", ".reapeaks", ".reapindex", ".sfk", ".sfl")
_F0 = FEATURE_NAMES.index("f0_late_hz")
_F0_CONF = FEATURE_NAMES.index("f0_late_conf_db")

Progress = Callable[[int], None]


@dataclass(frozen=True)
class OrganizeOptions:
    into: Path
    mode: str = "move"  # "move" | "copy" | "link"
    template: str = DEFAULT_TEMPLATE
    min_confidence: float = 0.6
    tag: bool = False

    def check(self) -> None:
        if self.mode not in MODES:
            raise UsageError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise UsageError(f"--min-confidence must be in [0, 1], not {self.min_confidence}")
        check_template(self.template)


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


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def sidecars(path: Path) -> list[tuple[Path, str]]:
    """(sidecar, suffix) of the files that belong to the sample at `path`."""
    out = []
    for suffix in SIDECAR_SUFFIXES:
        p = path.with_name(path.name + suffix)
        if os.path.isfile(p) and not os.path.islink(p):
            out.append((p, suffix))
    return out


def sources_under(root: Path, *, exclude: Path | None = None) -> tuple[list[Source], list[str]]:
    """Audio files under `root` (not under `exclude`) with `{pack}` = their top-level folder."""
    root = Path(os.path.abspath(root))
    found = pipeline.walk([root])
    out = []
    for p in found.files:
        if exclude is not None and _under(p, exclude):
            continue
        rel = p.relative_to(root)
        out.append(Source(p, rel.parts[0] if len(rel.parts) > 1 else ""))
    return out, [e.error or f"{e.path}: cannot list" for e in found.errors]


def _predictions(
    paths: Sequence[Path], catalog: Catalog, model: ModelBundle
) -> dict[str, tuple[Prediction, str] | str]:
    """Per path: (Prediction, note) from the catalog (re-decided with `model` when the row was
    labelled by another model), or an error line."""
    rows = catalog.analysis([str(p) for p in paths])
    out: dict[str, tuple[Prediction, str] | str] = {}
    for p in paths:
        got = rows.get(str(p))
        if got is None:
            out[str(p)] = f"{p}: not in the catalog (could not be analysed)"
            continue
        e, blob, schema = got
        if e.error:
            out[str(p)] = e.error if e.error.startswith(str(p)) else f"{p}: {e.error}"
            continue
        x = np.frombuffer(blob, dtype="<f4") if blob is not None else None
        note = ""
        if x is not None and schema == FEATURE_SCHEMA_VERSION and x[_F0_CONF] >= NOTE_MIN_CONF_DB:
            note = note_name(float(x[_F0]))
        if e.model_id != model.model_id and x is not None and schema == model.schema_version:
            s = model.scores(x[None, :].astype(np.float32), schema_version=schema)[0]
            pred = decide(s, model.labels, model.thresholds)
        else:
            pred = Prediction(e.label or "unknown", e.confidence or 0.0, e.labels, e.scores)
        out[str(p)] = (pred, note)
    return out


def _catalogue(
    paths: Sequence[Path], catalog: Catalog, model: ModelBundle, jobs: int | None
) -> list[str]:
    """Analyse and record the files the catalog does not know yet (or that changed)."""
    if not paths:
        return []
    plan = library.plan_files(paths, catalog)
    if not plan.todo and not plan.failures:
        return [m for _, m in plan.errors]
    res = library.run_scan(plan, catalog, model, jobs=jobs)
    return [m for _, m in res.errors]


def plan(
    sources: Sequence[Source],
    options: OrganizeOptions,
    *,
    catalog: Catalog,
    model: ModelBundle,
    jobs: int | None = None,
) -> tuple[list[PlanItem], list[str], int]:
    """(plan items, error lines, files skipped as already filed). Catalogues what is new."""
    options.check()
    into = Path(os.path.abspath(options.into))
    journal = Journal(catalog)
    todo: list[Source] = []
    skipped = 0
    errors: list[str] = []
    for s in sources:
        p = Path(os.path.abspath(s.path))
        try:
            st = os.stat(p)
        except OSError as exc:
            errors.append(f"{p}: cannot read: {exc.strerror or exc}")
            continue
        if journal.already_filed(p, st.st_size, st.st_mtime_ns, into):
            skipped += 1
            continue
        todo.append(replace(s, path=p))
    errors += _catalogue([s.path for s in todo], catalog, model, jobs)
    preds = _predictions([s.path for s in todo], catalog, model)
    items: list[PlanItem] = []
    reserved: set[str] = set()
    seen_errors = set(errors)
    for s in todo:
        got = preds[str(s.path)]
        if isinstance(got, str):
            if got not in seen_errors:
                errors.append(got)
            continue
        pred, note = got
        rel, review, reason = destination(
            template=options.template,
            prediction=pred,
            source=s.path,
            pack=s.pack,
            min_confidence=options.min_confidence,
            note=note,
        )
        dest = into / rel
        if not _under(dest, into):  # render_template cannot do this; belt and braces
            errors.append(f"{s.path}: template would write outside {into}; skipped")
            continue
        dest = unique_path(dest, reserved=reserved)
        reserved.add(name_key(str(dest)))
        items.append(
            PlanItem(
                source=s.path,
                dest=dest,
                label=pred.label,
                confidence=pred.confidence,
                review=review,
                reason=reason,
                sidecars=tuple(p for p, _ in sidecars(s.path)) if options.mode != "link" else (),
                note=note,
                labels=pred.labels,
            )
        )
    return items, errors, skipped


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
    if _under(root, into):
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
    errors += _catalogue(files, catalog, model, jobs)
    preds = _predictions(files, catalog, model)
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
