"""`make bench-tracks-other-sources`: a track model on grooves rendered with kits from another
source — the GM soundfont kits of `make corpus-soundfont`, which no model here is trained on.

    python -m bench.tracks_other SOUNDFONT_CORPUS [--model tracks.npz] [--per-kit 8]
                                 [--seed 0] [--keep DIR] [--json OUT]

`bench.tracks` holds whole corpus kits out, but its held-out kits come from the same two
Debian packages as the training kits. The project's own evaluation uses grooves from other
sources, so this renders `--per-kit` grooves with every kit of SOUNDFONT_CORPUS (the same
generator and production as `samplesort.grooves`, 44.1 kHz WAV + truth CSV), transcribes them
with the model (default: the bundled one, trained on every corpus kit; the bundled one-shot
classifier gives its second opinion, as in `samplesort transcribe`, unless
`--track-model-alone`) and scores them exactly as `samplesort evaluate-tracks` does.
Printed: the overall table (hihat closed + open merged, class-agnostic onsets) and kick /
snare / hihat / onsets F1 per kit and per kit style (standard, room, power, electronic, tr808,
jazz, brush), each summed over files.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.tracks import TARGETS, print_overall, require_new_folder
from samplesort import grooves, trackeval
from samplesort.model import load_default
from samplesort.transcribe import load_track_model, transcribe_file

_KIT_OF = re.compile(r"^groove\d+_[a-z]+_\d+bpm_(?P<kit>.+)$")


def kit_of(wav: Path) -> str:
    """The kit a `grooves.write_set` file was rendered with (its name's last part)."""
    m = _KIT_OF.match(wav.stem)
    return m.group("kit") if m else wav.stem


def style_of(kit: str) -> str:
    """`fluidr3_tr808` -> `tr808`: the GM kit style, shared by every soundfont."""
    return kit.split("_", 1)[-1]


def _row(name: str, counts: dict[str, trackeval.Counts]) -> str:
    return f"{name:<24}" + "".join(
        f"{counts[lab].f1:8.3f}" if lab in counts else f"{'-':>8}" for lab in TARGETS
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.tracks_other", description=__doc__)
    ap.add_argument("corpus", type=Path, help="a labeled corpus of other kits (corpus-soundfont)")
    ap.add_argument("--model", type=Path, default=None, help="track model (default: bundled)")
    ap.add_argument("--per-kit", type=int, default=8, help="grooves rendered per kit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None, help="write the grooves here and keep them")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--track-model-alone",
        action="store_true",
        help="without the one-shot classifier's second opinion (transcribe.ONESHOT_RESCUE)",
    )
    args = ap.parse_args(argv)

    require_new_folder(args.keep)
    model = load_track_model(args.model)
    oneshot = None if args.track_model_alone else load_default()
    names = grooves.corpus_kits(args.corpus)
    if not names:
        sys.exit(f"{args.corpus}: no kit with a kick, a snare and a closed hat")
    kits = grooves.load_kits(args.corpus, names, sr_hz=44100)
    per_file: dict[str, dict[str, trackeval.Counts]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-tracks-other-") as tmp:
        out = args.keep or Path(tmp)
        wavs = grooves.write_set(kits, out, n=len(kits) * args.per_kit, seed=args.seed)
        for wav in wavs:
            truth = trackeval.read_truth(wav.with_suffix(".csv"))
            t = transcribe_file(wav, model, oneshot=oneshot)
            per_file[wav.name] = trackeval.score(
                truth, [(h.time_s, x) for h in t.hits for x in h.labels]
            )
    overall = trackeval.total(per_file.values())
    by_kit: dict[str, list[dict[str, trackeval.Counts]]] = defaultdict(list)
    by_style: dict[str, list[dict[str, trackeval.Counts]]] = defaultdict(list)
    for name, counts in per_file.items():
        kit = kit_of(Path(name))
        by_kit[kit].append(counts)
        by_style[style_of(kit)].append(counts)

    print(f"{model.model_id} on {len(per_file)} grooves of {len(names)} kits from {args.corpus}")
    print_overall(overall)
    head = f"{'F1 per kit style':<24}" + "".join(f"{lab:>8}" for lab in TARGETS)
    print(head)
    for style in sorted(by_style):
        print(_row(style, trackeval.total(by_style[style])))
    print(f"{'F1 per kit':<24}" + "".join(f"{lab:>8}" for lab in TARGETS))
    for kit in sorted(by_kit):
        print(_row(kit, trackeval.total(by_kit[kit])))
    if args.json:
        report: dict[str, Any] = {
            "model": model.model_id,
            "files": len(per_file),
            "overall": trackeval.as_json(overall),
            "per_kit": {
                kit: trackeval.as_json(trackeval.total(v)) for kit, v in sorted(by_kit.items())
            },
        }
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
