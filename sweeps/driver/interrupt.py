"""Stopping a sweep with Ctrl-C (SIGINT) or SIGTERM (``timeout``, SLURM's ``scancel``): Ray Tune saves the
experiment so that ``--resume`` can continue it, the partial run gets no tables, and the driver prints how to
continue and exits with 128 + the signal's number."""

from __future__ import annotations

import os
import shlex
import signal
import threading

from ray import tune

from restore_core.cli import Interrupted
from sweeps.ray_private import connected_through_client
from sweeps.settings.options import DEFAULTS
from sweeps.settings.resolve import RunSettings


def resume_advice(settings: RunSettings) -> str:
    """The command that continues a stopped run, for the line printed when a signal stops the sweep."""
    storage = "" if settings.storage == DEFAULTS["storage"] else f" --storage {shlex.quote(settings.storage)}"
    return f"continue with --resume --name {shlex.quote(settings.name)}{storage}"


def fit_or_interrupt(tuner: tune.Tuner, advice: str) -> tune.ResultGrid:
    """Run the sweep to its end and return Ray Tune's results, or raise :class:`Interrupted` once Ctrl-C (SIGINT) or
    SIGTERM stopped it, so that a partial run gets no tables and exits 130 (143).

    Ray Tune takes the first SIGINT itself: it stops the trials, saves the experiment one last time (what
    ``--resume`` continues from), puts back the handler it found and returns from ``fit()`` as if the sweep had ended.
    The handler it finds is ours, so finding it back after ``fit()`` tells that Ray took a Ctrl-C, and a second one
    raises at once. SIGTERM is handed to Ray's handler the same way (without this, Ray's own SIGTERM handling aborts
    the driver, without that last save).

    Args:
        tuner: the sweep's Tuner.
        advice: what the printed line tells the user to do next (see :func:`resume_advice`).
    """
    if threading.current_thread() is not threading.main_thread():  # only the main thread sets handlers, Ray's too
        return tuner.fit()
    received: list[int] = []

    def stop_now(signum, frame):  # a second signal, or one that came while Ray's handler was not installed
        raise Interrupted(signum, advice)

    def stop_like_ctrl_c(signum, frame):
        received.append(signum)
        handler = signal.getsignal(signal.SIGINT)
        if handler is stop_now or not callable(handler):
            raise Interrupted(signum, advice)
        handler(signal.SIGINT, frame)

    previous = {signal.SIGINT: signal.signal(signal.SIGINT, stop_now),
                signal.SIGTERM: signal.signal(signal.SIGTERM, stop_like_ctrl_c)}
    try:
        results = tuner.fit()
        # Ray leaves its handler installed after a sweep that ended, and after a Ctrl-C puts back the one it found
        took_ctrl_c = ray_takes_sigint() and signal.getsignal(signal.SIGINT) is stop_now
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
    if received or took_ctrl_c:
        raise Interrupted(received[0] if received else signal.SIGINT, advice)
    return results


def ray_takes_sigint() -> bool:
    """Whether Ray Tune's ``fit()`` installs its own SIGINT handler in this (main) thread: unless
    ``TUNE_DISABLE_SIGINT_HANDLER`` is set, or the Tuner runs on the cluster through Ray Client (``ray://``)."""
    return not int(os.environ.get("TUNE_DISABLE_SIGINT_HANDLER", "0")) and not connected_through_client()
