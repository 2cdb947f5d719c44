"""What every command line of the project shares (``sweeps/run.py``, ``sweeps/submit.py``, ``python -m analysis``,
``benchmarks/``): argument types that refuse impossible values, help that says the defaults, and bad input turned
into one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import atexit
import math
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

import cv2

from restore_core.errors import UserError


class Interrupted(KeyboardInterrupt):
    """A signal stopped the program after it saved what it had.

    :func:`run_user_facing` prints ``message`` and returns 128 + the signal's number
    (130 for Ctrl-C, 143 for SIGTERM), the exit code a shell gives a process that signal ended.

    Args:
        signum: the signal that stopped it.
        advice: what to do next, e.g. ``continue with --resume --name r1``.
    """

    def __init__(self, signum: int, advice: str):
        what = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
        self.message = f"{what}; {advice}"
        self.exit_code = 128 + int(signum)
        super().__init__(self.message)


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds ``(default: X)`` to an option's help unless the help already says its default or there is none to say
    (None, False, an empty list: "not given")."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or any(action.default is nothing for nothing in (None, False, argparse.SUPPRESS)) \
                or action.default == []:
            return text
        if isinstance(action.default, (list, tuple)):  # as typed on the command line: "a b", not "['a', 'b']"
            return f"{text} (default: {' '.join(map(str, action.default))})"
        return super()._get_help_string(action)


class RawDescriptionDefaultsHelpFormatter(DefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """:class:`DefaultsHelpFormatter` that keeps the description's line breaks (a script's docstring)."""


class UserFacingParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit code 2, like every other bad input."""

    def error(self, message: str):
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` for whole numbers of at least ``minimum``: ``--steps 0`` is refused while parsing."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}; got '{text}'") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}; got {value}")
        return value

    return parse


def number_above(bound: float, at_most: float = math.inf) -> Callable[[str], float]:
    """An argparse ``type`` for finite numbers in ``(bound, at_most]``: ``--reduction 1`` is refused while parsing."""
    accepted = f"a number > {bound:g}" if at_most == math.inf else f"a number in ({bound:g}, {at_most:g}]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {accepted}; got '{text}'") from None
        if not bound < value <= at_most or math.isinf(value):
            raise argparse.ArgumentTypeError(f"must be {accepted}; got {text}")
        return value

    return parse


def run_user_facing(main: Callable[[], int | None], interrupted: str | None = None) -> int:
    """Run ``main``; bad input becomes one line on stderr and exit code 2, with no traceback.

    Args:
        main: the program after its arguments are parsed; returns its exit code (None: 0).
        interrupted: the line printed on Ctrl-C (exit code 130, or the one of :class:`Interrupted`); None: the line
            of the :class:`Interrupted` the program raised, else "interrupted".
    """
    _quiet_opencv()
    try:
        return main() or 0
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        own = stop.message if isinstance(stop, Interrupted) else "interrupted"
        print(interrupted or own, file=sys.stderr)
        return stop.exit_code if isinstance(stop, Interrupted) else 130


def _quiet_opencv() -> None:
    """OpenCV logs its own lines about a corrupt image; the DataError that follows already names the file."""
    if hasattr(cv2, "setLogLevel"):  # OpenCV 4
        cv2.setLogLevel(0)  # 0: silent
    elif hasattr(cv2, "utils") and hasattr(cv2.utils, "logging"):  # OpenCV 5
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def exit_without_teardown(code: int) -> NoReturn:
    """End the process with ``code`` as the interpreter would (its other threads joined, every ``atexit`` handler
    run, the output flushed), less the interpreter's own teardown: freeing every module and object one by one, 1-2 s
    after a sweep, spent on torch's and Ray's modules and the driver's data, with nothing left to write."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed stream or pipe: nothing more can be written
            pass
    os._exit(code)
