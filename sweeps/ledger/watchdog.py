"""``--trial-timeout``: stop a trial whose wall time exceeds a limit, even one that hangs and never reports.

Ray Tune's ``stop={"time_total_s": ...}`` is checked only when a trial reports, so a trial stuck inside a step (a
deadlock, a hung collective, an endless data loader) would hold its CPUs and GPU for ever. The watchdog is a
thread beside the training thread. When the limit passes it raises :class:`TrialTimeout` inside the training thread
(``PyThreadState_SetAsyncExc``: delivered at the next Python bytecode, so within a second of a ``time.sleep`` loop).
The trainable records the time-out, lets go of the trial's memory and raises :class:`TrialTimedOut`, so that Ray
records the attempt as failed (ERROR), like any other error: ``--max-failures`` retries it and ``--resume
--retry-failed`` runs it again. Code stuck inside one C call never runs the next bytecode; if the training thread
has not ended ``grace`` seconds later, the watchdog ends the worker process itself (Ray then sees the trial's actor
die and records the failure).
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable


class TrialTimeout(BaseException):
    """The trial ran longer than ``--trial-timeout``. A BaseException, so that no ``except Exception`` on the way
    up (in a task, in torch) swallows it."""


class TrialTimedOut(RuntimeError):
    """What Ray gets from an attempt that :class:`TrialTimeout` stopped: an ordinary error, whose message is the
    time-out's reason, so that the trial ends as ERROR (not TERMINATED, as a trainable that returned would)."""


class Watchdog:
    """Raise :class:`TrialTimeout` in the thread that called :meth:`start` after ``seconds`` of wall time.

    The exception is raised at most once. Use it so that :meth:`finish` always runs, even when the exception
    arrives while finishing::

        watchdog = Watchdog(60, "timed out", record).start()
        try:
            try:
                train()
            finally:
                watchdog.finish()
        except TrialTimeout:
            watchdog.finish()

    Args:
        seconds: the limit.
        message: the reason recorded for the trial.
        on_timeout: called (from the watchdog thread) with ``message`` when the limit passes, before anything else.
        grace: seconds to wait for the training thread to unwind before ending the process.
    """

    def __init__(self, seconds: float, message: str, on_timeout: Callable[[str], None], grace: float = 30.0):
        self.seconds = seconds
        self.message = message
        self.on_timeout = on_timeout
        self.grace = grace
        self.fired = False
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self._target = 0

    def start(self) -> Watchdog:
        self._target = threading.get_ident()
        threading.Thread(target=self._watch, name="trial-watchdog", daemon=True).start()
        return self

    def finish(self) -> None:
        """The watched code ended: stop watching and withdraw an exception raised but not yet delivered."""
        with self._lock:
            self._finished.set()
            if self.fired:
                _async_raise(self._target, None)

    def _watch(self) -> None:
        if self._finished.wait(self.seconds):
            return
        with self._lock:
            if self._finished.is_set():
                return
            self.fired = True
            self.on_timeout(self.message)
            _async_raise(self._target, TrialTimeout)
        if not self._finished.wait(self.grace):
            os._exit(70)  # stuck in C code: only ending the process frees the trial's resources


def _async_raise(thread_id: int, exception: type[BaseException] | None) -> None:
    """Make ``exception`` pending in thread ``thread_id``; ``None`` withdraws a pending one."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exception) if exception else None)
