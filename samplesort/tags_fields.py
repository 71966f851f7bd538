"""samplesort's tag fields: `SampleTags` and the strings it is written as (`FIELD_KEYS`, the
`samplesort:` summary comment), and `TagError` (its messages end with `errors.reason` of the
underlying exception). Shared by `tags` (the public API and the write sequence) and
`tags_formats` (the fields in each container).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SampleSortError

FIELD_KEYS: dict[str, str] = {
    "label": "SAMPLESORT_LABEL",
    "group": "SAMPLESORT_GROUP",
    "confidence": "SAMPLESORT_CONFIDENCE",
    "model_id": "SAMPLESORT_MODEL_ID",
    "version": "SAMPLESORT_VERSION",
    "labels": "SAMPLESORT_LABELS",
}
COMMENT_PREFIX = "samplesort:"


class TagError(SampleSortError):
    """A file could not be tagged or its tags read; the original file is untouched."""


@dataclass(frozen=True)
class SampleTags:
    label: str
    group: str | None
    confidence: float
    model_id: str
    version: str  # samplesort's version
    labels: tuple[str, ...] = ()  # every accepted label (layered samples), optional

    def fields(self) -> dict[str, str]:
        """samplesort's fields as the strings written (and read back by `read_tags`)."""
        out = {"label": self.label}
        if self.group:
            out["group"] = self.group
        out |= {
            "confidence": f"{self.confidence:.3f}",
            "model_id": self.model_id,
            "version": self.version,
        }
        if self.labels:
            out["labels"] = "; ".join(self.labels)
        return out

    def comment(self) -> str:
        parts = [f"label={self.label}"]
        if self.group:
            parts.append(f"group={self.group}")
        parts += [f"confidence={self.confidence:.3f}", f"model={self.model_id}"]
        if self.labels:
            parts.append("labels=" + ",".join(self.labels))
        return f"{COMMENT_PREFIX} " + " ".join([*parts, f"version={self.version}"])
