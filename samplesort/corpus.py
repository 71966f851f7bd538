"""Find labeled drum samples in Debian's packaged kits: Hydrogen drumkits (`drumkit.xml`) and
LMMS's sample folders. Pure discovery: returns CorpusItems; `pipeline.build_corpus` places them.

Labels come from instrument names (Hydrogen) or file stems (LMMS drums) through the taxonomy's
synonyms; names that do not clearly name one class are skipped and reported, never guessed. A
Hydrogen layer whose own file name names another class (a "Snare" layer called
"snare-rimshot2") or a half-open hat is skipped too: the two names disagree.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from .audio import is_audio_path
from .errors import CorpusError
from .taxonomy import label_for_name, names_half_open

# LMMS folders whose every file is "other" (not a drum one-shot). `beats` (drum loops),
# `shapes` / `waveforms` (single-cycle oscillator tables) and `drumsynth` (presets, not audio)
# are left out on purpose.
LMMS_OTHER_DIRS = ("basses", "bassloops", "effects", "instruments", "latin", "misc", "stringsnpads")


@dataclass(frozen=True)
class CorpusItem:
    source: Path
    label: str
    group: str  # kit / pack: the unit of grouped cross-validation
    name: str  # a readable file name for the corpus tree


@dataclass(frozen=True)
class Discovery:
    items: tuple[CorpusItem, ...]
    skipped: tuple[tuple[str, str], ...]  # (what, why)


def slug(text: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text.strip())
    return keep.strip("_") or "unnamed"


def _text(elem: ET.Element, tag: str) -> str:
    child = elem.find(tag)
    return (child.text or "").strip() if child is not None else ""


def _strip_ns(root: ET.Element) -> None:
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]


def layer_disagrees(label: str, stem: str) -> str | None:
    """Why a layer file named `stem` does not belong under an instrument labelled `label`, or
    None: its own name names another class, or a half-open hat."""
    own = label_for_name(stem)
    if own is not None and own != label:
        return f"the instrument name says {label}, the file name says {own}"
    if names_half_open(stem):
        return "the file name says half-open hat"
    return None


def hydrogen_kit(kit_dir: Path) -> Discovery:
    """Labeled layers of one Hydrogen kit directory."""
    xml_path = kit_dir / "drumkit.xml"
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise CorpusError(f"{xml_path}: cannot read drumkit.xml: {exc}") from exc
    _strip_ns(root)
    kit = _text(root, "name") or kit_dir.name
    items: list[CorpusItem] = []
    skipped: list[tuple[str, str]] = []
    for inst in root.iter("instrument"):
        name = _text(inst, "name")
        files = [(el.text or "").strip() for el in inst.iter("filename") if (el.text or "").strip()]
        if not files:
            continue
        label = label_for_name(name)
        if label is None:
            skipped.append((f"{kit}/{name}", "instrument name does not name one class"))
            continue
        for fname in dict.fromkeys(files):
            src = kit_dir / fname
            if not src.is_file() or not is_audio_path(src):
                skipped.append((f"{kit}/{fname}", "layer file missing or not audio"))
                continue
            disagree = layer_disagrees(label, src.stem)
            if disagree:
                skipped.append((f"{kit}/{fname}", disagree))
                continue
            items.append(
                CorpusItem(src, label, f"hydrogen:{kit}", f"{slug(name)}__{slug(Path(fname).name)}")
            )
    return Discovery(tuple(items), tuple(skipped))


def hydrogen(drumkits_dir: Path) -> Discovery:
    """Every kit with a drumkit.xml under `drumkits_dir`."""
    drumkits_dir = Path(drumkits_dir)
    kits = sorted(p.parent for p in drumkits_dir.glob("*/drumkit.xml"))
    if not kits:
        raise CorpusError(
            f"{drumkits_dir}: no Hydrogen kits (*/drumkit.xml) found; "
            f"install hydrogen-drumkits and hydrogen-data"
        )
    items: list[CorpusItem] = []
    skipped: list[tuple[str, str]] = []
    for kit_dir in kits:
        d = hydrogen_kit(kit_dir)
        items += d.items
        skipped += d.skipped
    return Discovery(tuple(items), tuple(skipped))


def lmms(samples_dir: Path) -> Discovery:
    """LMMS `drums/` (labeled by file name) and its non-drum folders (labeled "other")."""
    samples_dir = Path(samples_dir)
    drums = samples_dir / "drums"
    if not drums.is_dir():
        raise CorpusError(
            f"{samples_dir}: no drums/ folder; install lmms-common "
            f"(samples live in /usr/share/lmms/samples)"
        )
    items: list[CorpusItem] = []
    skipped: list[tuple[str, str]] = []
    for src in sorted(drums.rglob("*")):
        if not src.is_file() or not is_audio_path(src):
            continue
        label = label_for_name(src.stem)
        if label is None:
            skipped.append((f"lmms/drums/{src.name}", "file name does not name one class"))
            continue
        items.append(CorpusItem(src, label, "lmms:drums", src.name))
    for folder in LMMS_OTHER_DIRS:
        for src in sorted((samples_dir / folder).rglob("*")):
            if src.is_file() and is_audio_path(src):
                items.append(CorpusItem(src, "other", f"lmms:{folder}", src.name))
    return Discovery(tuple(items), tuple(skipped))


# DrumSynth preset folders whose every preset is one class whatever its name.
DRUMSYNTH_FOLDER_LABELS = {
    "effects": "other",
    "instrument": "other",
    "magnetboy": "other",
    "misc_bass": "other",
    "misc_fx": "other",
    "misc_synth": "other",
    "misc_claps": "clap",
    "misc_perc": "percussion",
}


def drumsynth(presets_dir: Path) -> Discovery:
    """LMMS's DrumSynth presets (`.ds`, rendered by `drumsynth.render` when placed), labeled by
    preset name, or by folder for the folders in DRUMSYNTH_FOLDER_LABELS; group = folder."""
    presets_dir = Path(presets_dir)
    presets = sorted(presets_dir.rglob("*.ds"))
    if not presets:
        raise CorpusError(
            f"{presets_dir}: no DrumSynth presets (*.ds); install lmms-common "
            f"(presets live in /usr/share/lmms/samples/drumsynth)"
        )
    items: list[CorpusItem] = []
    skipped: list[tuple[str, str]] = []
    for src in presets:
        folder = src.parent.name
        label = DRUMSYNTH_FOLDER_LABELS.get(folder) or label_for_name(src.stem)
        if label is None:
            skipped.append(
                (f"drumsynth/{folder}/{src.name}", "preset name does not name one class")
            )
            continue
        items.append(CorpusItem(src, label, f"drumsynth:{folder}", f"{slug(src.stem)}.wav"))
    return Discovery(tuple(items), tuple(skipped))


SOURCES = {"hydrogen": hydrogen, "lmms": lmms, "drumsynth": drumsynth}


def dedupe(items: tuple[CorpusItem, ...]) -> tuple[tuple[CorpusItem, ...], dict[str, str]]:
    """Drop byte-identical files and merge the groups that shared them (two packaged kits hold
    the same recordings), so one recording can never sit on both sides of a grouped split.

    Returns the kept items (with merged group names) and a map old group -> merged group.
    """
    import hashlib

    parent: dict[str, str] = {}

    def find(g: str) -> str:
        while parent.setdefault(g, g) != g:
            g = parent[g]
        return g

    first_by_hash: dict[str, CorpusItem] = {}
    kept: list[CorpusItem] = []
    for item in items:
        digest = hashlib.sha1(item.source.read_bytes()).hexdigest()
        if digest in first_by_hash:
            a, b = find(first_by_hash[digest].group), find(item.group)
            if a != b:
                parent[max(a, b)] = min(a, b)
            continue
        first_by_hash[digest] = item
        kept.append(item)
    members: dict[str, list[str]] = {}
    for g in {i.group for i in items}:
        members.setdefault(find(g), []).append(g)
    merged = {g: "+".join(sorted(members[find(g)])) for g in {i.group for i in items}}
    out = tuple(CorpusItem(i.source, i.label, merged[i.group], i.name) for i in kept)
    return out, merged
