"""Opening a raw file with LibRaw (rawpy) so that every failure is one ``DataError`` naming the file and LibRaw's
own cause, and nothing else reaches stderr."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import rawpy

from restore_core.data.paths import file_problem
from restore_core.errors import DataError

RAW_EXPECTED = "expected a complete camera raw file such as Sony .ARW or .DNG (copy it again)"
T = TypeVar("T")
_STDERR_LOCK = threading.Lock()  # one redirect of file descriptor 2 at a time, or a restore could undo another


def decode_raw(path: Path, read: Callable[[rawpy.RawPy], T]) -> T:
    """Open ``path`` with LibRaw and return ``read(raw)``.

    LibRaw reports a damaged file twice: it raises (a truncated file gives only "Input/output error") and it prints
    the cause ("<file>: Unexpected end of file") on the C library's stderr, which would be a second line under the
    error. What it prints is collected and goes into the message instead; anything else printed meanwhile is written
    back.

    Raises:
        DataError: a missing, unreadable or empty file, or one LibRaw cannot decode.
    """
    problem = file_problem(path)
    if problem:
        raise DataError(f"raw file '{path}' {problem}")
    try:
        with path.open("rb") as handle:
            empty = not handle.read(1)
    except OSError as error:
        raise DataError(f"cannot read raw file '{path}': {error.strerror or error}") from error
    if empty:
        raise DataError(f"cannot read raw file '{path}': not a raw file LibRaw can decode (the file is empty); "
                        f"{RAW_EXPECTED}")
    failure = None
    with _c_stderr() as printed:
        try:
            with rawpy.imread(str(path)) as raw:
                result = read(raw)
        except (rawpy.LibRawError, OSError, ValueError) as error:
            failure = error
    if failure is None:
        sys.stderr.writelines(line + "\n" for line in printed)
        return result
    prefix = f"{path}: "  # how LibRaw starts its own lines
    sys.stderr.writelines(line + "\n" for line in printed if not line.startswith(prefix))
    causes = dict.fromkeys(line[len(prefix):].strip() for line in printed if line.startswith(prefix))
    cause = "; ".join(causes) or _describe(failure)
    if not causes and isinstance(failure, rawpy.LibRawIOError):  # "Input/output error" says little
        cause += ": the file ends early or is damaged"
    raise DataError(
        f"cannot read raw file '{path}': not a raw file LibRaw can decode (LibRaw: {cause}); {RAW_EXPECTED}"
    ) from failure


@contextlib.contextmanager
def _c_stderr() -> Iterator[list[str]]:
    """Redirect the process's stderr (file descriptor 2, where C libraries write) to a temporary file meanwhile;
    the list holds its lines afterwards. Threads take turns: each restores what it redirected."""
    printed: list[str] = []
    sys.stderr.flush()
    with _STDERR_LOCK:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr to redirect
            yield printed
            return
        with _redirected(saved, printed):
            yield printed


@contextlib.contextmanager
def _redirected(saved: int, printed: list[str]) -> Iterator[None]:
    """File descriptor 2 into a temporary file until the end, then back to ``saved`` (closed); its lines into
    ``printed``."""
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            printed.extend(sink.read().decode(errors="replace").splitlines())


def _describe(error: Exception) -> str:
    """LibRaw's messages are bytes (b'Unsupported file format or not RAW file'); make them plain text."""
    message = error.args[0] if error.args else type(error).__name__
    return message.decode(errors="replace") if isinstance(message, bytes) else str(message)
