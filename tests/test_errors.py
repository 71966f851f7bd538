"""One-line failure reasons (`errors.reason`), shared by decoding, tagging and the executor."""

from __future__ import annotations

import errno
import os

from samplesort.errors import reason


def test_os_errors_read_as_their_strerror() -> None:
    exc = PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/x/y.wav")
    assert reason(exc) == os.strerror(errno.EACCES)[0].lower() + os.strerror(errno.EACCES)[1:]
    assert "/x/y.wav" not in reason(exc)  # the caller names the file


def test_first_line_without_soundfile_path_prefix() -> None:
    exc = RuntimeError("Error opening '/a/b c.wav': Format not recognised.\nmore detail")
    assert reason(exc) == "Format not recognised."
    assert reason(ValueError("bad header\nsecond line")) == "bad header"


def test_an_empty_message_gives_the_type_name() -> None:
    assert reason(ValueError()) == "ValueError"
    assert reason(OSError()) == "OSError"  # no strerror: falls back like any exception
