"""Composition root: walk paths, analyse files (in parallel), classify, train, evaluate, and
build corpora. Library code: never prints, never exits; progress goes through callbacks and
per-file failures are collected as FileResults, never raised mid-batch."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import audio, features
from .errors import SampleSortError, UsageError
from .records import FileResult
from .workers import pin_blas_threads

if TYPE_CHECKING:
    from .model import ModelBundle
    from .workers import ForkPool

Progress = Callable[[int], None]
JUNK_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
JUNK_DIRS = frozenset({"__MACOSX", ".git", ".Trash", "$RECYCLE.BIN"})
BATCH = 64
TASK_FILES = 32  # files per worker task: small enough to balance the two cores at the end


@dataclass(frozen=True)
class Walk:
    files: tuple[Path, ...]
    skipped_non_audio: int
    errors: tuple[FileResult, ...]


def walk(paths: Iterable[Path]) -> Walk:
    """Audio files under `paths` (files as given, directories recursively, sorted), skipping
    hidden files and OS junk; non-audio files are counted, unreadable paths reported."""
    files: list[Path] = []
    skipped = 0
    errors: list[FileResult] = []
    for root in paths:
        root = Path(root)
        if root.is_file():
            if audio.is_audio_path(root):
                files.append(root)
            else:
                skipped += 1
            continue
        if not root.exists():
            errors.append(FileResult(root, error=f"{root}: no such file or directory"))
            continue

        def onerror(exc: OSError, root: Path = root) -> None:
            errors.append(
                FileResult(
                    Path(exc.filename or root), error=f"{exc.filename}: cannot list: {exc.strerror}"
                )
            )

        for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
            dirnames[:] = sorted(
                d for d in dirnames if d not in JUNK_DIRS and not d.startswith(".")
            )
            for name in sorted(filenames):
                if name in JUNK_NAMES or name.startswith("."):
                    continue
                p = Path(dirpath) / name
                if audio.is_audio_path(p):
                    files.append(p)
                else:
                    skipped += 1
    return Walk(tuple(files), skipped, tuple(errors))


def analyse(path: Path) -> FileResult:
    """Decode + features for one file; any failure becomes a one-line error.

    `meta["content_hash"]` identifies the decoded audio (one decode serves features and hash):
    sha1 of the analysed samples (the first 2 s, mono, float32 at 32 kHz) plus the file's total
    frame count, source sample rate and channel count. Two files with the same audio in different
    containers (WAV vs FLAC) hash alike; files differing only after 2 s with the same length
    would too."""
    import hashlib

    try:
        clip = audio.decode(path)
        fv = features.extract(clip)
        h = hashlib.sha1(b"samplesort-audio-v1")
        frames = int(round(clip.duration_s * clip.source_sr_hz))
        h.update(f"{frames}:{clip.source_sr_hz}:{clip.channels}:".encode())
        h.update(np.ascontiguousarray(clip.samples, dtype="<f4").tobytes())
    except SampleSortError as exc:
        return FileResult(path, error=str(exc))
    except MemoryError:
        return FileResult(path, error=f"{path}: out of memory while decoding")
    except Exception as exc:  # a codec or numeric corner we did not foresee: report, go on
        return FileResult(path, error=f"{path}: analysis failed: {type(exc).__name__}: {exc}")
    meta = {
        "duration_s": round(clip.duration_s, 4),
        "sr_hz": clip.source_sr_hz,
        "channels": clip.channels,
        "format": clip.format,
        "content_hash": h.hexdigest(),
    }
    return FileResult(path, features=fv, meta=meta)


def _analyse_batch(paths: Sequence[Path]) -> list[FileResult]:
    return [analyse(p) for p in paths]


def _batches(items: Sequence[Path], size: int) -> Iterator[Sequence[Path]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def analysis_pool(jobs: int) -> ForkPool[Sequence[Path], list[FileResult]] | None:
    """`jobs` forked processes for `analyse_many(pool=...)`, started now, or None where forking
    is not safe (another thread runs, not Linux) or not worth it (one job): `analyse_many` then
    uses joblib. Imports and caches the analysis needs are warmed here first, once, so every
    worker inherits them. Close the pool when done (it is a context manager)."""
    from . import workers

    if jobs <= 1 or not workers.fork_safe():
        return None
    pin_blas_threads()
    _warm_up()
    return workers.ForkPool(_analyse_batch, jobs)


def _warm_up() -> None:
    """Load what the first analysis would load (codec libraries, resampler, analysis grid, FFT
    plans), so forked workers start warm."""
    import soundfile  # noqa: F401
    import threadpoolctl  # noqa: F401

    t = np.arange(int(0.05 * 44100), dtype=np.float32) / 44100
    x = (np.sin(2 * np.pi * 200 * t) * np.exp(-t * 40)).astype(np.float32)
    features.extract(audio.clip_from_array(x, 44100))


def analyse_many(
    paths: Sequence[Path],
    *,
    jobs: int = 1,
    progress: Progress | None = None,
    pool: ForkPool[Sequence[Path], list[FileResult]] | None = None,
) -> Iterator[FileResult]:
    """FileResults in input order, streamed batch by batch: computed in `pool` (see
    `analysis_pool`) if given, else in `jobs` joblib processes (the active joblib backend:
    loky, or Dask inside `parallel_config(backend="dask")`), else here with one BLAS thread."""
    if pool is not None:
        batches = pool.imap(_batches(paths, TASK_FILES))
    elif jobs == 1 or len(paths) <= BATCH:
        yield from _analyse_here(paths, progress)
        return
    else:
        pin_blas_threads()
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=jobs, return_as="generator", batch_size=1)
        batches = parallel(delayed(_analyse_batch)(b) for b in _batches(paths, TASK_FILES))
    for batch in batches:
        for r in batch:
            if progress:
                progress(1)
            yield r


def _analyse_here(paths: Sequence[Path], progress: Progress | None) -> Iterator[FileResult]:
    from .workers import one_blas_thread

    for p in paths:
        with one_blas_thread():
            r = analyse(p)
        if progress:
            progress(1)
        yield r


def resolve_jobs(jobs: int | None) -> int:
    n = os.cpu_count() or 1
    if jobs is None or jobs <= 0:
        return n
    return jobs


# --- classify ---------------------------------------------------------------------------------


def classify(
    paths: Sequence[Path],
    model: ModelBundle,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> Iterator[FileResult]:
    """Analyse and label each file; yields FileResults with a Prediction or an error."""
    from .decide import decide

    pending: list[FileResult] = []

    def flush() -> Iterator[FileResult]:
        ok = [r for r in pending if r.features is not None]
        if ok:
            X = np.stack([r.features.values for r in ok if r.features is not None])
            S = model.scores(X, schema_version=features.FEATURE_SCHEMA_VERSION)
            preds = iter(decide(row, model.labels, model.thresholds) for row in S)
        for r in pending:
            if r.features is None:
                yield r
            else:
                yield FileResult(r.path, prediction=next(preds), features=r.features, meta=r.meta)
        pending.clear()

    for r in analyse_many(paths, jobs=resolve_jobs(jobs), progress=progress):
        pending.append(r)
        if len(pending) >= BATCH:
            yield from flush()
    yield from flush()


# --- labeled trees, training, evaluation ------------------------------------------------------


@dataclass(frozen=True)
class LabeledFile:
    path: Path
    label: str
    group: str


def labeled_tree(root: Path, *, groups: str = "kit") -> tuple[list[LabeledFile], list[str]]:
    """Files of `root/<label>/**/<audio>`. Group: `kit` = the folder right under the label (a
    kit / pack), `folder` = the file's own folder, `none` = each file alone. Returns the files
    and the names of top-level folders that are not labels (ignored)."""
    from .taxonomy import LABELS

    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory (expected <root>/<label>/**/<audio files>)")
    if groups not in ("kit", "folder", "none"):
        raise UsageError(f"--groups must be kit, folder or none, not {groups!r}")
    files: list[LabeledFile] = []
    ignored: list[str] = []
    for label_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if label_dir.name not in LABELS:
            ignored.append(label_dir.name)
            continue
        for p in walk([label_dir]).files:
            rel = p.relative_to(label_dir)
            if groups == "kit":
                group = rel.parts[0] if len(rel.parts) > 1 else f"{label_dir.name}/(loose)"
            elif groups == "folder":
                group = str(p.parent.relative_to(root))
            else:
                group = str(rel)
            files.append(LabeledFile(p, label_dir.name, group))
    if not files:
        raise UsageError(
            f"{root}: no labeled audio (expected <root>/<label>/**/<audio>, "
            f"labels: {', '.join(LABELS)})"
        )
    return files, ignored


def _training_rows(path: Path, label: str, n_aug: int, seed: int) -> list[np.ndarray]:
    from . import augment

    clip = audio.decode(path, max_s=audio.MAX_ANALYSIS_S + 0.5)
    x, n = clip.samples, int(audio.MAX_ANALYSIS_S * clip.sr_hz)
    rows = [features.describe(x[:n], sr_hz=clip.sr_hz, file_duration_s=clip.duration_s)]
    for y in augment.variants(x, clip.sr_hz, label=label, n=n_aug, seed=seed):
        dur = clip.duration_s * y.size / max(x.size, 1)
        rows.append(features.describe(y[:n], sr_hz=clip.sr_hz, file_duration_s=dur))
    return rows


def _training_rows_safe(path: Path, label: str, n_aug: int, seed: int) -> list[np.ndarray] | str:
    try:
        return _training_rows(path, label, n_aug, seed)
    except SampleSortError as exc:
        return str(exc)
    except Exception as exc:
        return f"{path}: analysis failed: {type(exc).__name__}: {exc}"


def training_set(
    files: Sequence[LabeledFile],
    *,
    augment: int = 0,
    seed: int = 0,
    jobs: int | None = None,
    progress: Progress | None = None,
):  # noqa: ANN201
    """Feature rows for labeled files (+ `augment` variants each). Returns (TrainingSet,
    errors). Variants are seeded per file, so the set is reproducible."""
    from .training import TrainingSet

    pin_blas_threads()
    from joblib import Parallel, delayed

    n_jobs = resolve_jobs(jobs)
    tasks = (
        delayed(_training_rows_safe)(f.path, f.label, augment, seed * 100003 + i)
        for i, f in enumerate(files)
    )
    X: list[np.ndarray] = []
    y: list[str] = []
    g: list[str] = []
    origin: list[int] = []
    aug: list[bool] = []
    kept_paths: list[str] = []
    errors: list[str] = []
    out = (
        Parallel(n_jobs=n_jobs, return_as="generator", batch_size=8)(tasks)
        if n_jobs > 1
        else (t[0](*t[1], **t[2]) for t in tasks)
    )
    for f, rows in zip(files, out, strict=True):
        if progress:
            progress(1)
        if isinstance(rows, str):
            errors.append(rows)
            continue
        k = len(kept_paths)
        kept_paths.append(str(f.path))
        for j, row in enumerate(rows):
            X.append(row)
            y.append(f.label)
            g.append(f.group)
            origin.append(k)
            aug.append(j > 0)
    if not X:
        raise UsageError("no usable training files: " + (errors[0] if errors else "none given"))
    ts = TrainingSet(
        np.stack(X).astype(np.float32),
        np.array(y),
        np.array(g),
        np.array(origin),
        np.array(aug),
        tuple(kept_paths),
    )
    return ts, errors


# --- corpora ----------------------------------------------------------------------------------


def build_corpus(kind: str, source: Path, out: Path, *, mode: str = "symlink"):  # noqa: ANN201
    """Place the labeled samples of a packaged source under `out/<label>/<group>/<name>`
    (DrumSynth presets are rendered to WAV). Returns (Discovery, placed count). Re-running is
    idempotent in every mode: a sample already in place is not placed again; a preset that
    cannot be rendered is reported in `Discovery.skipped`, never dropped silently."""
    from . import corpus, fsops

    if kind not in corpus.SOURCES:
        raise UsageError(f"unknown corpus kind {kind!r}; choose {', '.join(corpus.SOURCES)}")
    found = corpus.SOURCES[kind](Path(source))
    items, _ = corpus.dedupe(found.items)
    placed = 0
    failed: set[Path] = set()
    skipped = list(found.skipped)
    for item in items:
        dest = Path(out) / item.label / corpus.slug(item.group.replace(":", "_")) / item.name
        if item.source.suffix == ".ds":  # a DrumSynth preset: render it
            from . import drumsynth

            if dest.exists():
                continue
            try:
                fsops.write_wav(dest, drumsynth.render(item.source, sr_hz=44100), 44100)
            except SampleSortError as exc:
                skipped.append((str(item.source), str(exc)))
                failed.add(item.source)
                continue
        elif os.path.lexists(dest) and fsops.same_file_content(dest, item.source):
            continue
        else:
            fsops.place(item.source, dest, mode=mode)
        placed += 1
    kept = tuple(i for i in items if i.source not in failed)
    return corpus.Discovery(kept, tuple(skipped)), placed
