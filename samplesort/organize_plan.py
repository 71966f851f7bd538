"""Planning an organize run: which files (`sources_under`, with `{pack}` = their top-level
folder), what the catalog says each one is (`catalogue` analyses what it does not know yet;
`predictions` reads the stored label, re-decided from the stored features when another model
made it, and the note name), which of them an earlier run already filed, and where each goes
(`decide.destination`, a free name under `--into`, sidecars alongside) -> `PlanItem`s.

Touches no user file; `catalogue` records new or changed files in the catalog the way a scan
does. Library code: never prints, never exits.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import library, pipeline
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

if TYPE_CHECKING:
    from .model import ModelBundle

MODES = ("move", "copy", "link")
# Files that belong to a sample, named "<sample file name><suffix>": Ableton analysis files,
# REAPER peaks, Sound Forge / Vegas peak and region files.
SIDECAR_SUFFIXES = (".asd", ".reapeaks", ".reapindex", ".sfk", ".sfl")
_F0 = FEATURE_NAMES.index("f0_late_hz")
_F0_CONF = FEATURE_NAMES.index("f0_late_conf_db")


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


def under(path: Path, folder: Path) -> bool:
    """`path` is `folder` or inside it."""
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
        if exclude is not None and under(p, exclude):
            continue
        rel = p.relative_to(root)
        out.append(Source(p, rel.parts[0] if len(rel.parts) > 1 else ""))
    return out, [e.error or f"{e.path}: cannot list" for e in found.errors]


def predictions(
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


def catalogue(
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
    errors += catalogue([s.path for s in todo], catalog, model, jobs)
    preds = predictions([s.path for s in todo], catalog, model)
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
        if not under(dest, into):  # render_template cannot do this; belt and braces
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
