"""What a run of the executor or of undo reports besides its journal rows: the path map
(`old_path,new_path,operation` CSV, written into the run's folder so DAW projects can be
relinked) and `why`, the one-line reason an operation failed with (recorded in the journal and
in the run's error lines)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from . import fsops
from .journal import Journal


def why(exc: BaseException) -> str:
    """`exc` in one line: an OS error's strerror (first letter lower-cased), else the first line
    of its message (or its type's name)."""
    if isinstance(exc, OSError):
        text = exc.strerror or str(exc)
        return text[0].lower() + text[1:] if text else "error"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def write_pathmap(
    journal: Journal, run_id: int, rows: Sequence[tuple[str, str, str]], name: str = "pathmap.csv"
) -> Path:
    """`old_path,new_path,operation` CSV in the run's folder (written atomically)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("old_path", "new_path", "operation"))
    w.writerows(rows)
    path = journal.run_dir(run_id) / name
    fsops.write_text(path, buf.getvalue())
    return path
