"""The typer app. The only place that catches SampleSortError and maps it to an exit code.

Heavy libraries (numpy, scikit-learn, soundfile) are imported inside the commands, so
`samplesort --help` answers fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import __version__
from .cli_options import JobsOpt, ModelOpt, fail, load_model
from .errors import ExitCode, SampleSortError

app = typer.Typer(
    name="samplesort",
    help="Listen to a drum-sample library, label every one-shot, file it where it belongs.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"samplesort {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """samplesort: classify drum one-shots (kick, snare, clap, rim, hats, toms, cymbals,
    percussion, other) with hand-crafted features and one-vs-rest tree ensembles."""


@app.command()
def classify(
    paths: Annotated[
        list[Path], typer.Argument(help="Audio files or folders (walked recursively).")
    ],
    model: ModelOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line on stdout.")
    ] = False,
    jobs: JobsOpt = 0,
) -> None:
    """Say what each file is. Changes nothing on disk.

    Exit status: 0 when every file was analysed, 3 when some could not be (each gets a
    one-line error), 1 on a fatal error (e.g. an unreadable model).
    """
    from . import pipeline, render

    try:
        bundle = load_model(model)
    except SampleSortError as exc:
        raise fail(exc) from None
    found = pipeline.walk(paths)
    err = render.stderr()
    results = list(found.errors)
    interactive = sys.stderr.isatty() and not as_json
    base = paths[0] if len(paths) == 1 and paths[0].is_dir() else None
    try:
        with render.progress_bar(
            len(found.files), label="classifying", enabled=interactive
        ) as advance:
            for r in pipeline.classify(found.files, bundle, jobs=jobs, progress=advance):
                results.append(r)
                if as_json:
                    print(render.result_json(r), flush=False)
            if as_json:
                for r in found.errors:
                    print(render.result_json(r))
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except SampleSortError as exc:
        raise fail(exc) from None
    failed = [r for r in results if not r.ok]
    if as_json:
        sys.stdout.flush()
        if found.skipped_non_audio:
            err.print(f"skipped {found.skipped_non_audio} non-audio file(s)")
    else:
        out = render.stdout()
        if results:
            out.print(render.classify_table([r for r in results if r.ok] + failed, base=base))
        out.print(render.summary_table(results, found.skipped_non_audio))
    for r in failed:
        err.print(f"error: {r.error}", markup=False)
    if not results:
        err.print("no audio files found")
    raise typer.Exit(int(ExitCode.PARTIAL if failed else ExitCode.OK))


@app.command()
def train(
    root: Annotated[Path, typer.Argument(help="Labeled tree: ROOT/<label>/**/<audio>.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the model (.npz).")],
    algorithm: Annotated[
        str, typer.Option(help="forest (random forest) or tree (one decision tree per class).")
    ] = "forest",
    augment: Annotated[
        int,
        typer.Option(
            help="Augmented variants per training file (pitch, EQ, truncated tail, room, noise)."
        ),
    ] = 8,
    groups: Annotated[
        str,
        typer.Option(
            help="Cross-validation groups: kit (folder under the label), folder, or none."
        ),
    ] = "kit",
    trees: Annotated[int, typer.Option(help="Trees per class (forest).")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed (training is reproducible).")] = 0,
    no_cv: Annotated[
        bool,
        typer.Option(
            "--no-cv", help="Skip grouped cross-validation (thresholds fall back to 0.35)."
        ),
    ] = False,
    jobs: JobsOpt = 0,
) -> None:
    """Train a one-vs-rest model; thresholds come from leave-one-group-out cross-validation."""
    from . import pipeline, render, training

    err = render.stderr()
    try:
        if algorithm not in training.ALGORITHMS:
            raise _usage(f"--algorithm must be one of {', '.join(training.ALGORITHMS)}")
        if out.suffix != ".npz":
            raise _usage(f"--out {out}: model files end in .npz")
        files, ignored = pipeline.labeled_tree(root, groups=groups)
        if ignored:
            err.print(f"ignored folders that are not labels: {', '.join(ignored)}")
        with render.progress_bar(
            len(files), label="features", enabled=sys.stderr.isatty()
        ) as advance:
            ts, errors = pipeline.training_set(
                files, augment=augment, seed=seed, jobs=jobs, progress=advance
            )
        for e in errors:
            err.print(f"error: {e}", markup=False)
        bundle = training.train_bundle(
            ts,
            algorithm=algorithm,
            seed=seed,
            n_trees=trees,
            cv=not no_cv,
            progress=lambda m: err.print(m),
        )
        bundle.meta["training_root"] = str(root)
        bundle.meta["augment"] = augment
        bundle.meta["groups"] = groups
        out.parent.mkdir(parents=True, exist_ok=True)
        bundle.save(out)
    except SampleSortError as exc:
        raise fail(exc) from None
    cv = bundle.meta.get("cv")
    if cv:
        for t in render.report_tables(cv, title=f"grouped CV ({groups}) of {out.name}"):
            render.stdout().print(t)
    err.print(
        f"wrote {out} ({bundle.model_id}, {len(bundle.labels)} labels, "
        f"{ts.X.shape[0]} rows from {len(ts.paths)} files)"
    )
    raise typer.Exit(int(ExitCode.PARTIAL if errors else ExitCode.OK))


def _usage(message: str) -> SampleSortError:
    from .errors import UsageError

    return UsageError(message)


@app.command()
def evaluate(
    root: Annotated[Path, typer.Argument(help="Labeled tree: ROOT/<label>/**/<audio>.")],
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            "-m",
            help="Score this model file "
            "on ROOT. Without it, ROOT is cross-validated: train on all groups but "
            "one, test on the one left out.",
        ),
    ] = None,
    groups: Annotated[str, typer.Option(help="kit, folder or none.")] = "kit",
    algorithm: Annotated[str, typer.Option(help="forest or tree (cross-validation).")] = "forest",
    augment: Annotated[
        int, typer.Option(help="Augmented variants per training file (cross-validation).")
    ] = 8,
    trees: Annotated[int, typer.Option(help="Trees per class (cross-validation).")] = 300,
    seed: int = 0,
    plot: Annotated[
        Path | None, typer.Option(help="Write the confusion matrix as an image.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    jobs: JobsOpt = 0,
) -> None:
    """Fine macro-F1, per-label F1, coarse-group accuracy and the confusion matrix."""
    from . import pipeline, render, training

    err = render.stderr()
    try:
        files, _ = pipeline.labeled_tree(root, groups=groups)
        if model is not None:
            bundle = load_model(model)
            results = list(pipeline.classify([f.path for f in files], bundle, jobs=jobs))
            truth = {f.path: f.label for f in files}
            ok = [r for r in results if r.prediction is not None]
            report = training.score_predictions(
                [truth[r.path] for r in ok], [r.prediction.label for r in ok if r.prediction]
            ).as_dict()
            title = f"{model.name} on {root}"
            n_err = len(results) - len(ok)
        else:
            ts, errors = pipeline.training_set(files, augment=augment, seed=seed, jobs=jobs)
            n_err = len(errors)
            labels = tuple(lab for lab in training.LABELS if lab in set(ts.y.tolist()))
            _, _, rep = training.cross_validate(
                ts,
                labels,
                algorithm=algorithm,
                seed=seed,
                n_trees=trees,
                progress=lambda m: err.print(m),
            )
            report = rep.as_dict()
            title = f"leave-one-{groups}-out on {root} ({algorithm}, augment {augment})"
    except SampleSortError as exc:
        raise fail(exc) from None
    if as_json:
        print(json.dumps({"version": 1, "title": title, "errors": n_err, **report}))
    else:
        for t in render.report_tables(report, title=title):
            render.stdout().print(t)
    if plot is not None:
        try:
            render.plot_confusion(report, plot)
        except ImportError:
            err.print("--plot needs matplotlib: pip install 'samplesort[plot]'")
            raise typer.Exit(int(ExitCode.ERROR)) from None
        err.print(f"wrote {plot}")
    if n_err:
        err.print(f"{n_err} file(s) could not be analysed")
    raise typer.Exit(int(ExitCode.PARTIAL if n_err else ExitCode.OK))


@app.command()
def corpus(
    kind: Annotated[
        str,
        typer.Argument(
            help="hydrogen (a drumkits folder with */drumkit.xml) or lmms (LMMS's samples folder)."
        ),
    ],
    source: Annotated[
        Path,
        typer.Argument(help="e.g. /usr/share/hydrogen/data/drumkits or /usr/share/lmms/samples"),
    ],
    out: Annotated[Path, typer.Argument(help="Labeled tree to build: OUT/<label>/<kit>/...")],
    copy: Annotated[bool, typer.Option("--copy", help="Copy files instead of symlinking.")] = False,
    list_skipped: Annotated[
        bool,
        typer.Option(
            "--list-skipped", help="Print every instrument or file left out, and why (stderr)."
        ),
    ] = False,
) -> None:
    """Build a labeled tree from packaged drum kits (labels from instrument / file names)."""
    from . import pipeline, render

    err = render.stderr()
    try:
        found, placed = pipeline.build_corpus(kind, source, out, mode="copy" if copy else "symlink")
    except SampleSortError as exc:
        raise fail(exc) from None
    from collections import Counter

    counts = Counter(i.label for i in found.items)
    err.print(
        f"{kind}: {len(found.items)} labeled files ({placed} new) -> {out}; "
        f"skipped {len(found.skipped)}"
        + ("" if list_skipped or not found.skipped else " (--list-skipped says why)")
    )
    err.print(", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if list_skipped:
        for what, why in found.skipped:
            err.print(f"  {what}: {why}", markup=False, highlight=False)


from . import cli_library, cli_organize, cli_tracks, cli_watch  # noqa: E402

cli_library.register(app)  # scan, ls, stats, reclassify, dupes
cli_organize.register(app)  # organize, tag, undo, history
cli_watch.register(app)  # watch
cli_tracks.register(app)  # transcribe, evaluate-tracks


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(int(ExitCode.INTERRUPTED))


if __name__ == "__main__":
    main()
