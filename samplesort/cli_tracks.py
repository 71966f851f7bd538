"""The full-track commands: transcribe and evaluate-tracks, added to the main typer app by
`register(app)` in `cli.py` (like `cli_library.py`, it imports nothing from `cli.py`).

CLI code: it turns a SampleSortError into a one-line message and an exit status. Heavy imports
stay inside the commands. Data goes to stdout (hit lines, JSON), messages to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .cli_options import JSON_VERSION, fail
from .errors import ExitCode, SampleSortError

if TYPE_CHECKING:
    from .transcribe import Transcription


TrackModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--model",
        "-m",
        help="A track model .npz (default: the bundled one, built by `make track-model`).",
    ),
]


def register(app: typer.Typer) -> None:
    """Add the full-track commands to `app`."""
    app.command(name="transcribe")(transcribe)
    app.command(name="evaluate-tracks")(evaluate_tracks)


def _hit_line(t: Transcription, i: int) -> str:
    h = t.hits[i]
    return f"{h.time_s:9.3f}  {'+'.join(h.labels):<28} vel {h.velocity:3d}"


def transcribe(
    path: Annotated[Path, typer.Argument(help="A drum loop or stem (any format classify reads).")],
    midi: Annotated[
        Path | None, typer.Option("--midi", help="Write a General MIDI drum file here.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per hit on stdout.")
    ] = False,
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="Write time_s,class,velocity,score rows here.")
    ] = None,
    slices: Annotated[
        Path | None,
        typer.Option("--slices", help="Write each hit as a one-shot WAV in this folder."),
    ] = None,
    bpm: Annotated[
        bool, typer.Option("--bpm", help="Estimate the tempo (sets the MIDI tempo).")
    ] = False,
    model: TrackModelOpt = None,
) -> None:
    """Find every hit in a drum loop, label it (several labels when drums are struck
    together), and print it; optionally write MIDI, CSV and one-shot slices. The track model
    decides, with the bundled one-shot classifier as a second opinion on snares.

    Exit status: 0 on success, 1 when the file or the model cannot be read.
    """
    from . import fsops, render
    from .model import load_default
    from .transcribe import csv_text, load_track_model, slice_name, transcribe_file, write_midi

    err = render.stderr()
    written: list[Path] = []

    def sink(index: int, hit: Any, samples: Any, sr_hz: int) -> None:
        assert slices is not None
        written.append(fsops.write_wav(slices / slice_name(index, hit), samples, sr_hz))

    try:
        bundle = load_track_model(model)
        t = transcribe_file(
            path,
            bundle,
            slice_sink=sink if slices is not None else None,
            estimate_bpm=bpm,
            oneshot=load_default(),
        )
    except SampleSortError as exc:
        raise fail(exc) from None
    if as_json:
        for h in t.hits:
            print(json.dumps(h.as_dict()))
    else:
        for i in range(len(t.hits)):
            print(_hit_line(t, i))
    try:
        if midi is not None:
            err.print(f"wrote {write_midi(t, midi)}")
        if csv_out is not None:
            err.print(f"wrote {fsops.write_new(csv_out, csv_text(t).encode())}")
    except OSError as exc:
        err.print(f"samplesort: cannot write output: {exc.strerror or exc}")
        raise typer.Exit(int(ExitCode.ERROR)) from None
    if slices is not None:
        err.print(f"wrote {len(written)} slices to {slices}")
    tempo = f", {t.bpm:g} BPM" if t.bpm else ""
    err.print(f"{path}: {len(t.hits)} hits in {t.duration_s:.2f} s{tempo} ({t.model_id})")


def evaluate_tracks(
    root: Annotated[
        Path, typer.Argument(help="A folder of audio files, each with <name>.csv (time_s,class).")
    ],
    model: TrackModelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Per-label precision / recall / F1 (mir_eval onset matching, 50 ms), hihat closed + open
    merged, and a class-agnostic onset F1; per file and overall.

    Exit status: 0 when every file was scored, 3 when some could not be, 1 when none could.
    """
    from . import render, trackeval
    from .audio import is_audio_path
    from .model import load_default
    from .transcribe import load_track_model, transcribe_file

    err = render.stderr()
    try:
        bundle = load_track_model(model)
        oneshot = load_default()
    except SampleSortError as exc:
        raise fail(exc) from None
    if not root.is_dir():
        raise fail(SampleSortError(f"{root}: not a folder"))
    files = sorted(p for p in root.iterdir() if is_audio_path(p) and p.is_file())
    per_file: dict[str, dict[str, trackeval.Counts]] = {}
    errors: list[str] = []
    for p in files:
        truth_path = p.with_suffix(".csv")
        if not truth_path.exists():
            errors.append(f"{p}: no ground truth {truth_path.name}")
            continue
        try:
            truth = trackeval.read_truth(truth_path)
            t = transcribe_file(p, bundle, oneshot=oneshot)
        except SampleSortError as exc:
            errors.append(str(exc))
            continue
        est = [(h.time_s, lab) for h in t.hits for lab in h.labels]
        per_file[p.name] = trackeval.score(truth, est)
    overall = trackeval.total(per_file.values())
    if as_json:
        report = {
            "version": JSON_VERSION,
            "model": bundle.model_id,
            "window_s": trackeval.WINDOW_S,
            "overall": trackeval.as_json(overall),
            "files": {n: trackeval.as_json(s) for n, s in per_file.items()},
            "errors": errors,
        }
        print(json.dumps(report))
    else:
        out = render.stdout()
        for name, counts in [*per_file.items(), ("overall", overall)]:
            out.print(_table(name, counts))
    for e in errors:
        err.print(f"samplesort: {e}")
    if not per_file:
        err.print(f"samplesort: {root}: no audio file with ground truth was scored")
        raise typer.Exit(int(ExitCode.ERROR))
    raise typer.Exit(int(ExitCode.PARTIAL if errors else ExitCode.OK))


def _table(title: str, counts: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("label", "precision", "recall", "F1", "tp", "fp", "fn"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for lab in sorted(counts, key=lambda k: (k == "onsets", k)):
        c = counts[lab]
        table.add_row(
            lab,
            f"{c.precision:.3f}",
            f"{c.recall:.3f}",
            f"{c.f1:.3f}",
            *map(str, (c.tp, c.fp, c.fn)),
        )
    return table
