"""One fold of `bench.tracks`, fast, with variants of the onset picker and the track model.

    python -m bench.tracks_probe CORPUS_DIR [--fold 1] [--variant base ...] [--why]

The same fold as `bench.tracks` fold N (kits dealt with `tracktrain.kit_folds`; 20 grooves
per training kit; 4 grooves per held-out kit at 44.1 kHz; same seeds): `base` reproduces its
figures exactly. Each variant re-renders the training rows (onsets change the slices), builds
the track model as `make track-model` does, and scores the held-out grooves as
`evaluate-tracks` does. Variants:

* `base`: the shipped picker with the hat pass (`segments.HAT_PASS`) and, in transcription,
  the kick pass (`segments.KICK_PASS`);
* `no-hat-pass`: the full-band picker alone (what shipped before the hat pass; no kick pass
  either); every variant below is measured on top of it, not of the hat pass (none was
  adopted; see README "Tried and not kept");
* `no-rise-features`: the four band rises at the onset only as gates, not as forest inputs
  (what shipped before they were; measured on top of the hat pass, not of `no-hat-pass`);
* `no-loop-context`: without the hits' loop context (`transcribe.CONTEXT_FEATURES`) as forest
  inputs (what shipped before them);
* `no-timbre-context`: without the hits' timbre context (`transcribe.TIMBRE_CONTEXT_FEATURES`)
  as forest inputs (what shipped before them);
* `hat-delta1.5`: the hat pass picks 1.5 odf units above its moving mean, not 2.5 (on top of
  the shipped picker; not kept);
* `short-average`: the peak picker's moving mean over 30 ms before / 20 ms after (not 100/50);
* `median`: a moving median instead of the moving mean (a loud hit raises a mean for 100 ms
  and hides the quiet hats after it; a median ignores one peak);
* `median-delta3.5`: the median with a higher threshold.

`--why` (the first variant's model): for each held-out hat the model missed, whether an onset
was found and, if not, which peak-picking rule rejected it; and what each false kick / snare
really was.

`--seed N` draws other training grooves (render seed fold + 100 N) and forest seed N; the
held-out grooves stay the same, so the difference from `--seed 0` is what one retrain moves.
`--threshold-offsets LABEL` (the first variant's model): the held-out F1 with LABEL's
threshold moved by each of OFFSETS, the rest of the model unchanged — whether the threshold
chosen on training kits' out-of-fold scores is also the best one on kits never seen.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from bench.tracks import oneshot_models
from samplesort import grooves, trackeval, tracktrain, transcribe
from samplesort import segments as seg
from samplesort.audio import ANALYSIS_SR_HZ
from samplesort.features import FEATURE_NAMES
from samplesort.model import ModelBundle

VARIANTS = (
    "base",
    "no-hat-pass",
    "no-rise-features",
    "no-loop-context",
    "no-timbre-context",
    "hat-delta1.5",
    "short-average",
    "median",
    "median-delta3.5",
)
OFFSETS = (-0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)


@contextmanager
def _variant(name: str) -> Iterator[None]:
    """Patch the onset picker / slice features for one variant; restore them afterwards."""
    import scipy.ndimage as ndi

    patched = ("PRE_AVG_S", "POST_AVG_S", "DELTA", "HAT_PASS", "HAT_DELTA", "KICK_PASS")
    saved = {attr: getattr(seg, attr) for attr in patched}
    uniform_filter1d = ndi.uniform_filter1d
    features = (transcribe.hit_features, tracktrain.hit_features, tracktrain.TRACK_INPUTS)
    try:
        if name not in (
            "base",
            "no-rise-features",
            "no-loop-context",
            "no-timbre-context",
            "hat-delta1.5",
        ):
            seg.HAT_PASS = seg.KICK_PASS = False
        if name == "short-average":
            seg.PRE_AVG_S, seg.POST_AVG_S = 0.03, 0.02
        if name.startswith("median"):
            ndi.uniform_filter1d = lambda a, size, origin=0: ndi.median_filter(
                a, size=size, origin=origin
            )
            if name == "median-delta3.5":
                seg.DELTA = 3.5
        if name == "hat-delta1.5":
            seg.HAT_DELTA = 1.5
        dropped = {
            "no-rise-features": transcribe.RISE_FEATURES,
            "no-loop-context": transcribe.CONTEXT_FEATURES,
            "no-timbre-context": transcribe.TIMBRE_CONTEXT_FEATURES,
        }.get(name)
        if dropped:
            transcribe.hit_features = tracktrain.hit_features = _dropping(features[0], dropped)
            tracktrain.TRACK_INPUTS = tuple(f for f in features[2] if f not in dropped)
        yield
    finally:
        for attr, value in saved.items():
            setattr(seg, attr, value)
        ndi.uniform_filter1d = uniform_filter1d
        transcribe.hit_features, tracktrain.hit_features, tracktrain.TRACK_INPUTS = features


def _dropping(
    full: Callable[..., np.ndarray], dropped: tuple[str, ...]
) -> Callable[..., np.ndarray]:
    """`full` (the shipped `hit_features`) without the columns named in `dropped`."""
    names = FEATURE_NAMES + transcribe.TRACK_INPUTS
    keep = [i for i, name in enumerate(names) if name not in dropped]
    return lambda *args, **kwargs: full(*args, **kwargs)[:, keep]


def _score(model: object, wavs: list[Path], oneshot: ModelBundle) -> dict[str, trackeval.Counts]:
    per = []
    for wav in wavs:
        truth = trackeval.read_truth(wav.with_suffix(".csv"))
        t = transcribe.transcribe_file(wav, model, oneshot=oneshot)
        per.append(trackeval.score(truth, [(h.time_s, lab) for h in t.hits for lab in h.labels]))
    return trackeval.total(per)


def _scored_as(label: str) -> str:
    """The name `trackeval` scores `label` under (closed and open hats merge into "hihat")."""
    return next((m for m, members in trackeval.MERGED.items() if label in members), label)


def _threshold_offsets(
    model: ModelBundle, wavs: list[Path], label: str, oneshot: ModelBundle
) -> None:
    c = model.labels.index(label)
    metric = _scored_as(label)
    cells = []
    for off in OFFSETS:
        thr = model.thresholds.copy()
        thr[c] = thr[c] + off
        tot = _score(dataclasses.replace(model, thresholds=thr), wavs, oneshot)
        cells.append(f"{off:+.2f}: {tot[metric].f1:.3f}")
    base = float(model.thresholds[c])
    print(f"{metric} F1 with the {label} threshold ({base:.3f}) moved by: " + ", ".join(cells))


def _why(model: object, wavs: list[Path], oneshot: ModelBundle) -> None:
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    from samplesort import audio

    missed: Counter[str] = Counter()
    false: Counter[str] = Counter()
    for wav in wavs:
        truth = trackeval.read_truth(wav.with_suffix(".csv"))
        t = transcribe.transcribe_file(wav, model, oneshot=oneshot)
        hits = [(h.time_s, {_scored_as(lab) for lab in h.labels}) for h in t.hits]
        clip = audio.decode(wav, max_s=3600)
        hop_s = seg.HOP / clip.sr_hz
        xp = np.concatenate([np.zeros(seg.LEAD_HOPS * seg.HOP, np.float32), clip.samples])
        odf, level, _ = seg.onset_strength(xp, sr_hz=clip.sr_hz)
        pre_a, post_a = round(seg.PRE_AVG_S / hop_s), round(seg.POST_AVG_S / hop_s)
        avg = uniform_filter1d(odf, size=pre_a + post_a + 1, origin=(pre_a - post_a) // 2)
        before = np.concatenate([np.full(seg.LAG + 1, -200.0), level[: -(seg.LAG + 1)]])
        fell = maximum_filter1d(level, size=4, origin=-2) < before - seg.FALL_DB
        for time_s, lab in truth:
            if _scored_as(lab) != "hihat":
                continue
            near = [h for h in hits if abs(h[0] - time_s) <= 0.05]
            if any("hihat" in labs for _, labs in near):
                continue
            if near:
                got = "+".join(sorted(set().union(*(labs for _, labs in near))))
                missed[f"onset found, labelled {got}"] += 1
                continue
            f = int(round(time_s / hop_s)) + seg.LEAD_HOPS
            i = max(range(max(0, f - 1), min(odf.size, f + 6)), key=lambda j: odf[j])
            rule = "below the moving mean + DELTA" if odf[i] < avg[i] + seg.DELTA else "other"
            missed[f"no onset: {'level fell' if fell[i] else rule}"] += 1
        for time_s, labs in hits:
            for lab in labs & {"kick", "snare"}:
                real = sorted({_scored_as(x) for tt, x in truth if abs(tt - time_s) <= 0.05})
                if lab not in real:
                    false[f"{lab} where the truth is {'+'.join(real) or 'nothing'}"] += 1
    print("hats missed:")
    for k, v in missed.most_common():
        print(f"  {v:4d}  {k}")
    print("false kicks / snares:")
    for k, v in false.most_common(12):
        print(f"  {v:4d}  {k}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.tracks_probe", description=__doc__)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--fold", type=int, default=1, help="1-based, as bench.tracks prints them")
    ap.add_argument("--variant", nargs="+", choices=VARIANTS, default=["base"])
    ap.add_argument("--why", action="store_true")
    ap.add_argument("--seed", type=int, default=0, help="another draw of the training grooves")
    ap.add_argument("--threshold-offsets", metavar="LABEL", choices=tracktrain.LABELS)
    args = ap.parse_args(argv)
    names = grooves.corpus_kits(args.corpus)
    k = args.fold - 1
    held = tracktrain.kit_folds(names, tracktrain.N_FOLDS)[k]
    kits = {x.name: x for x in grooves.load_kits(args.corpus, names, sr_hz=ANALYSIS_SR_HZ)}
    kits44 = {x.name: x for x in grooves.load_kits(args.corpus, held, sr_hz=44100)}
    train = [kits[n] for n in names if n not in held]
    test = [kits44[n] for n in held]
    print(f"fold {args.fold}: held out {', '.join(held)}")
    oneshot = oneshot_models(args.corpus, [held])[0]
    with tempfile.TemporaryDirectory(prefix="tracks-probe-") as tmp:
        wavs = grooves.write_set(test * 4, Path(tmp), n=len(test) * 4, seed=10_000 + k, donors=test)
        for name in args.variant:
            with _variant(name):
                rows = tracktrain.render_rows(
                    train, train, grooves_per_kit=20, seed=k + 100 * args.seed
                )
                model = tracktrain.build(rows, seed=args.seed)
                tot = _score(model, wavs, oneshot)
                print(
                    f"{name:<16}"
                    + "  ".join(f"{lab} {tot[lab].f1:.3f}" for lab in ("kick", "snare", "hihat"))
                    + f"  onsets {tot['onsets'].f1:.3f}"
                    + "".join(
                        f"; {lab} P {tot[lab].precision:.3f} R {tot[lab].recall:.3f}"
                        for lab in ("hihat", "onsets")
                    ),
                    flush=True,
                )
                if args.why and name == args.variant[0]:
                    _why(model, wavs, oneshot)
                if args.threshold_offsets and name == args.variant[0]:
                    _threshold_offsets(model, wavs, args.threshold_offsets, oneshot)


if __name__ == "__main__":
    main()
