"""Errors samplesort raises on purpose: each has a one-line human message and an exit code.

Only `cli.py` catches `SampleSortError` and turns it into an exit status.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    PARTIAL = 3
    INTERRUPTED = 130


class SampleSortError(Exception):
    """Base class: `str(err)` is a complete one-line message."""

    exit_code: ExitCode = ExitCode.ERROR


class AudioError(SampleSortError):
    """A file could not be decoded or holds nothing to analyse."""


class ModelError(SampleSortError):
    """A model file is missing, unreadable, or does not match this samplesort."""


class SchemaMismatch(ModelError):
    """Features were computed with a different feature schema than the model expects."""


class CorpusError(SampleSortError):
    """A corpus source is missing or malformed."""


class UsageError(SampleSortError):
    exit_code = ExitCode.USAGE


def reason(exc: BaseException) -> str:
    """`exc` in one line, for a message that names the file itself: an OS error by its
    strerror (first letter lower-cased), else the first line of its message with soundfile's
    "Error opening '<path>': " prefix dropped, else the exception type's name."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    if text.startswith("Error opening") and "': " in text:
        text = text.split("': ", 1)[1]
    return text
