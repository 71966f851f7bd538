"""Pure policy: scores -> a Prediction; a Prediction -> where the file goes.

A class is *accepted* when its score reaches its own threshold. The label is the
highest-scoring class if it is accepted, otherwise "unknown" — a file is never forced into a
class. `labels` lists every accepted class (a layered sample can have two).

Destinations come from beets-like templates (`{group}/{label}/{pack}/{stem}{ext}`). Each field
value is sanitised into one path component for every OS (no `/ \\ : * ? " < > |` or control
characters, no trailing dots or spaces, no reserved Windows names such as `CON` or `LPT1`, at
most 240 UTF-8 bytes so a ` (2)` suffix still fits in 255), empty components are dropped, and a
template with `..`, an absolute path or an unknown field is refused: a template cannot write
outside `--into`. Unsure files (unknown, or below the minimum confidence) never go into a class
folder: they go to `_review/<best guess>/...` with the reason.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .errors import UsageError
from .records import Prediction
from .taxonomy import UNKNOWN, group_of


def top_labels(scores: np.ndarray, labels: Sequence[str], thresholds: np.ndarray) -> np.ndarray:
    """The label of each row of a score matrix (n, len(labels)): the top-scoring class if it
    clears its own threshold, else "unknown". The one implementation of the rule; `decide`
    and threshold selection in training both use it."""
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    thr = np.asarray(thresholds, dtype=np.float64)
    best = np.argmax(s, axis=1)
    out = np.array(labels, dtype=object)[best]
    out[s[np.arange(len(s)), best] < thr[best]] = UNKNOWN
    return out


def decide(scores: np.ndarray, labels: Sequence[str], thresholds: np.ndarray) -> Prediction:
    """One file's Prediction from its per-class scores (same order as `labels`)."""
    s = np.asarray(scores, dtype=np.float64)
    thr = np.asarray(thresholds, dtype=np.float64)
    accepted = np.nonzero(s >= thr)[0]
    order = accepted[np.argsort(-s[accepted], kind="stable")]
    return Prediction(
        label=str(top_labels(s, labels, thr)[0]),
        confidence=float(s.max()),
        labels=tuple(labels[int(i)] for i in order),
        scores={lab: round(float(v), 4) for lab, v in zip(labels, s, strict=True)},
    )


# --- destinations -------------------------------------------------------------------------------

DEFAULT_TEMPLATE = "{group}/{label}/{pack}/{stem}{ext}"
REVIEW_FOLDER = "_review"
TEMPLATE_FIELDS = ("label", "group", "pack", "stem", "ext", "confidence", "note")
MAX_COMPONENT_BYTES = 240
NOTE_MIN_CONF_DB = 20.0  # pitch-peak prominence above which {note} is filled in
_ILLEGAL = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])$", re.IGNORECASE)
_NOTES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def check_template(template: str) -> None:
    """Refuse, with a one-line UsageError, a template that could not name a file inside
    `--into`: unknown fields, format specs, absolute paths, `.`/`..` parts, no file name."""
    if not template.strip():
        raise UsageError("template is empty")
    if template.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", template):
        raise UsageError(f"template {template!r}: must be relative to --into")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise UsageError(f"template {template!r}: {exc}") from None
    for _, name, spec, conv in parsed:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS:
            raise UsageError(
                f"template {template!r}: unknown field {{{name}}} "
                f"(fields: {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)})"
            )
        if spec or conv:
            raise UsageError(f"template {template!r}: format specs are not supported")
    parts = re.split(r"[/\\]", template)
    if any(p.strip() in (".", "..") for p in parts):
        raise UsageError(f"template {template!r}: '.' and '..' are not allowed")
    if not parts[-1].strip():
        raise UsageError(f"template {template!r}: must end with a file name, e.g. {{stem}}{{ext}}")


def _truncate_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def sanitize_component(text: str, *, keep_suffix: str = "") -> str:
    """`text` made safe as one file or folder name on every OS ("" stays "")."""
    text = unicodedata.normalize("NFC", text)
    text = _ILLEGAL.sub("_", text).strip(" ").rstrip(". ")
    if not text:
        return ""
    if text in (".", ".."):
        return "_"
    if _RESERVED.match(text.split(".")[0].strip()):
        text = "_" + text
    if len(text.encode("utf-8")) > MAX_COMPONENT_BYTES:
        suffix = keep_suffix if keep_suffix and text.endswith(keep_suffix) else ""
        head = text[: len(text) - len(suffix)] if suffix else text
        room = MAX_COMPONENT_BYTES - len(suffix.encode("utf-8"))
        text = _truncate_utf8(head, room).rstrip(". ") + suffix
    return text


def note_name(f0_hz: float) -> str:
    """Scientific pitch name of the nearest equal-tempered note (A4 = 440 Hz): 55 Hz -> "A1"."""
    if not f0_hz or f0_hz <= 0 or not math.isfinite(f0_hz):
        return ""
    midi = int(round(69 + 12 * math.log2(f0_hz / 440.0)))
    return f"{_NOTES[midi % 12]}{midi // 12 - 1}"


def render_template(template: str, values: Mapping[str, str]) -> Path:
    """The relative path a (checked) template names for these field values."""
    safe = {k: sanitize_component(str(v)) for k, v in values.items()}
    safe["ext"] = sanitize_component(str(values.get("ext", "")))
    parts = []
    components = re.split(r"[/\\]", template)
    for i, comp in enumerate(components):
        last = i == len(components) - 1
        text = comp.format_map(safe)
        text = sanitize_component(text, keep_suffix=safe.get("ext", "") if last else "")
        if text:
            parts.append(text)
        elif last:
            parts.append(sanitize_component(str(values.get("stem", ""))) or "sample")
    return Path(*parts)


def destination(
    *,
    template: str,
    prediction: Prediction,
    source: Path,
    pack: str,
    min_confidence: float,
    note: str = "",
) -> tuple[Path, bool, str]:
    """(relative destination, review?, reason) for one file under a checked template."""
    best = max(prediction.scores, key=prediction.scores.__getitem__) if prediction.scores else ""
    values = {
        "label": prediction.label,
        "group": group_of(prediction.label),
        "pack": pack,
        "stem": source.stem,
        "ext": source.suffix.lower(),
        "confidence": f"{prediction.confidence:.2f}",
        "note": note,
    }
    if prediction.label == UNKNOWN:
        guess = best or UNKNOWN
        reason = f"unknown: no class cleared its threshold (best guess {guess} "
        reason += f"{prediction.scores.get(guess, 0.0):.2f})"
    elif prediction.confidence < min_confidence:
        guess = prediction.label
        reason = f"confidence {prediction.confidence:.2f} < {min_confidence:.2f}"
    else:
        reason = f"{prediction.label} {prediction.confidence:.2f}"
        return render_template(template, values), False, reason
    rel = render_template("{pack}/{stem}{ext}", values)
    return Path(REVIEW_FOLDER, sanitize_component(guess) or UNKNOWN, rel), True, reason
