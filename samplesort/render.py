"""Presentation: rich tables and progress for people, JSON lines for scripts. Data on stdout,
messages on stderr."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .records import FileResult
from .taxonomy import LABELS, UNKNOWN, group_of


def stdout() -> Console:
    return Console(highlight=False, soft_wrap=False)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def result_json(r: FileResult) -> str:
    """One line of the `classify --json` contract."""
    if r.error is not None or r.prediction is None:
        return json.dumps(
            {"path": str(r.path), "error": r.error or "no prediction"}, ensure_ascii=False
        )
    p = r.prediction
    return json.dumps(
        {
            "path": str(r.path),
            "label": p.label,
            "confidence": round(p.confidence, 4),
            "labels": list(p.labels),
            "scores": p.scores,
        },
        ensure_ascii=False,
    )


def _display_path(path: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return os.path.relpath(path, base)
        except ValueError:
            pass
    return str(path)


def classify_table(results: Sequence[FileResult], *, base: Path | None = None) -> Table:
    table = Table(title=None, show_lines=False, expand=False)
    table.add_column("file", overflow="fold")
    table.add_column("label")
    table.add_column("group")
    table.add_column("conf", justify="right")
    table.add_column("also")
    for r in results:
        shown = _display_path(r.path, base)
        if r.prediction is None:
            table.add_row(shown, "[red]error[/]", "", "", f"[red]{r.error}[/]")
            continue
        p = r.prediction
        style = "yellow" if p.label == UNKNOWN else "bold"
        also = ", ".join(lab for lab in p.labels if lab != p.label)
        table.add_row(
            shown, f"[{style}]{p.label}[/]", group_of(p.label), f"{p.confidence:.2f}", also
        )
    return table


def summary_table(results: Sequence[FileResult], skipped_non_audio: int) -> Table:
    counts: Counter[str] = Counter()
    conf: dict[str, float] = {}
    for r in results:
        key = r.prediction.label if r.prediction else "error"
        counts[key] += 1
        if r.prediction:
            conf[key] = conf.get(key, 0.0) + r.prediction.confidence
    table = Table(title="summary")
    table.add_column("label")
    table.add_column("files", justify="right")
    table.add_column("mean conf", justify="right")
    for key in [*LABELS, UNKNOWN, "error"]:
        if counts[key]:
            mean = f"{conf[key] / counts[key]:.2f}" if key in conf else ""
            table.add_row(key, str(counts[key]), mean)
    if skipped_non_audio:
        table.add_row("[dim]skipped (not audio)[/]", str(skipped_non_audio), "")
    return table


def report_tables(report: dict[str, Any], *, title: str) -> list[Table]:
    head = Table(title=title)
    head.add_column("metric")
    head.add_column("value", justify="right")
    for key in ("n", "macro_f1", "accuracy", "group_accuracy", "unknown_rate"):
        head.add_row(key, f"{report[key]}")
    per = Table(title="per label")
    for col in ("label", "precision", "recall", "f1", "support"):
        per.add_column(col, justify="right" if col != "label" else "left")
    for lab, row in report["per_label"].items():
        per.add_row(
            lab,
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
            f"{row['f1']:.3f}",
            str(row["support"]),
        )
    conf = Table(title="confusion (rows: truth, columns: prediction)")
    conf.add_column("")
    short = [c[:6] for c in report["confusion_columns"]]
    for c in short:
        conf.add_column(c, justify="right")
    for lab, row in zip(report["confusion_rows"], report["confusion"], strict=True):
        conf.add_row(lab, *[str(v) if v else "[dim]·[/]" for v in row])
    return [head, per, conf]


def plot_confusion(report: dict[str, Any], out: Path) -> None:
    """Write the confusion matrix as an image (needs matplotlib: `pip install samplesort[plot]`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    m = np.asarray(report["confusion"], dtype=float)
    rows, cols = report["confusion_rows"], report["confusion_columns"]
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1 + 0.6 * len(cols), 1 + 0.5 * len(rows)))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    for i in range(len(rows)):
        for j in range(len(cols)):
            if m[i, j]:
                ax.text(
                    j,
                    i,
                    int(m[i, j]),
                    ha="center",
                    va="center",
                    color="white" if norm[i, j] > 0.5 else "black",
                    fontsize=8,
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(
        f"macro-F1 {report['macro_f1']:.3f}, group accuracy {report['group_accuracy']:.3f}"
    )
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


@contextmanager
def progress_bar(total: int | None, *, label: str, enabled: bool) -> Iterator[Any]:
    """A rich progress bar on stderr (files/s, ETA); a no-op callback when disabled."""
    if not enabled:
        yield lambda n=1: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class FilesPerSecond(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.0f} files/s" if task.speed else "")

    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        FilesPerSecond(),
        TimeRemainingColumn(),
        console=stderr(),
        transient=True,
    ) as prog:
        task = prog.add_task(label, total=total)
        yield lambda n=1: prog.advance(task, n)
