"""The class names, their coarse groups, and the synonyms that map file / folder / instrument
names to classes.

`label_for_name` is deliberately conservative: a name that could mean two things ("cymbal",
"semi-open hat", "fx", "crash/ride") maps to None rather than to a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

LABELS: tuple[str, ...] = (
    "kick",
    "snare",
    "clap",
    "rim",
    "hihat_closed",
    "hihat_open",
    "tom",
    "crash",
    "ride",
    "percussion",
    "other",
)
UNKNOWN = "unknown"

GROUP_OF: dict[str, str] = {
    "kick": "kick",
    "snare": "snare",
    "clap": "snare",
    "rim": "snare",
    "hihat_closed": "hihat",
    "hihat_open": "hihat",
    "tom": "tom",
    "crash": "cymbal",
    "ride": "cymbal",
    "percussion": "percussion",
    "other": "other",
}
GROUPS: tuple[str, ...] = ("kick", "snare", "hihat", "cymbal", "tom", "percussion", "other")


def group_of(label: str) -> str:
    """Coarse group of a label; "unknown" stays "unknown"."""
    return GROUP_OF.get(label, UNKNOWN)


# --- name -> label ---------------------------------------------------------------------------

_PERCUSSION = {
    "cowbell",
    "tambourine",
    "tamb",
    "tambo",
    "tamborine",
    "shaker",
    "shake",
    "conga",
    "congas",
    "bongo",
    "bongos",
    "timbale",
    "timbales",
    "clave",
    "claves",
    "clav",
    "woodblock",
    "wood",
    "block",
    "triangle",
    "tri",
    "agogo",
    "cabasa",
    "guiro",
    "maraca",
    "maracas",
    "djembe",
    "cajon",
    "sangban",
    "dununba",
    "kenkeni",
    "dunun",
    "cuica",
    "whistle",
    "udu",
    "tabla",
    "darbuka",
    "doumbek",
    "perc",
    "percussion",
    "waterglass",
    "castanet",
    "castanets",
    "vibraslap",
    "quijada",
    "surdo",
    "timbal",
    "caxixi",
    "kalimba",
    "chimes",
    "windchime",
    "jingle",
}
_KICK = {"kick", "kik", "kck", "bd", "bassdrum", "kicks", "bdrum"}
_SNARE = {"snare", "snr", "sd", "snares", "sn"}
_CLAP = {"clap", "claps", "handclap", "snap", "snaps", "fingersnap", "cp"}
_RIM = {"rim", "rimshot", "rimclick", "sidestick", "xstick", "crossstick", "stick", "rs"}
_TOM = {"tom", "toms", "floortom", "tomtom", "ft", "lt", "mt", "ht"}
_CRASH = {"crash", "splash", "china", "crashes", "cr"}
_RIDE = {"ride", "rd", "cup", "rides"}
_HAT = {"hh", "hihat", "hat", "hats", "hihats", "hi-hat"}
_HAT_CLOSED = {
    "closed",
    "close",
    "cl",
    "chh",
    "ch",
    "pedal",
    "ped",
    "pd",
    "foot",
    "tight",
    "hatc",
    "hhc",
}
_HAT_OPEN = {"open", "opened", "op", "ohh", "oh", "hato", "hho"}
_OTHER = {
    "bass",
    "synth",
    "pad",
    "pads",
    "vocal",
    "vox",
    "voice",
    "piano",
    "organ",
    "guitar",
    "strings",
    "string",
    "brass",
    "flute",
    "chord",
    "chords",
    "stab",
    "stabs",
    "riser",
    "sweep",
    "lead",
    "arp",
    "pluck",
    "cello",
    "violin",
    "harpsichord",
    "choir",
    "drone",
    "texture",
}
_HALF_OPEN = {"semi", "semiopen", "halfopen", "half"}
_AMBIGUOUS = _HALF_OPEN | {"swish", "fx", "sfx", "roll", "flam"}
_HAT_JOINED = re.compile(r"hi-?hat|hh")


def tokens(name: str) -> list[str]:
    """Lower-case word tokens of a name: splits on punctuation, camelCase and digits.

    >>> tokens("BassDrum_02-Hard")
    ['bass', 'drum', 'hard']
    """
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"[0-9]+", " ", spaced)
    words = re.split(r"[^A-Za-z]+", spaced.lower())
    return [w for w in words if w]


def _joined_words(words: list[str]) -> set[str]:
    """The words plus adjacent pairs glued together ("hi hat" -> "hihat", "bass drum" -> ...)."""
    out = set(words)
    out.update(a + b for a, b in zip(words, words[1:], strict=False))
    return out


def names_half_open(name: str) -> bool:
    """True when `name` says half- / semi-open (a hat that is neither open nor closed)."""
    return bool(_joined_words(tokens(name)) & _HALF_OPEN)


def label_for_name(name: str) -> str | None:
    """Map one name (file stem, folder or instrument name) to a label, or None if it is not
    clearly one class."""
    words = tokens(name)
    if not words:
        return None
    w = _joined_words(words)
    if w & _AMBIGUOUS:
        return None
    if "bass" in w and "drum" in w:
        w = (w - {"bass", "drum"}) | {"bassdrum"}
    if w & _PERCUSSION:
        return "percussion"
    if w & _HAT or _HAT_JOINED.search(name.lower().replace(" ", "")):
        is_open = bool(w & _HAT_OPEN)
        is_closed = bool(w & _HAT_CLOSED)
        if is_open and not is_closed:
            return "hihat_open"
        if is_closed and not is_open:
            return "hihat_closed"
        return None
    if "chh" in w:
        return "hihat_closed"
    if "ohh" in w:
        return "hihat_open"
    if w & _RIM:
        return "rim"
    if w & _CLAP:
        return "clap"
    if w & _KICK:
        return "kick"
    if w & _SNARE:
        return "snare"
    if w & _TOM:
        return "tom"
    is_crash, is_ride = bool(w & _CRASH), bool(w & _RIDE)
    if is_crash and is_ride:
        return None
    if is_crash:
        return "crash"
    if is_ride:
        return "ride"
    if w & _OTHER:
        return "other"
    return None


def label_for_path_parts(parts: Iterable[str]) -> str | None:
    """The label of the innermost part of a path (stem first, then folders) that names one."""
    for part in reversed(list(parts)):
        label = label_for_name(part)
        if label is not None:
            return label
    return None
