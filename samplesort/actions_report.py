"""What a run of the executor or of undo reports besides its journal rows: the path map
(`old_path,new_path,operation` CSV, written into the run's folder so DAW projects can be
relinked). The one-line reason an operation failed with is `errors.reason`."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from . import fsops
from .journal import Journal


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
