"""Timestamps of a trial's parts, for ``benchmarks/trial_cost.py --timeline``: off (one dictionary lookup) unless the
environment variable ``RESTORE_TIMELINE`` names a file, to which every process of a sweep (the driver, Ray's
workers, which inherit the variable) appends one JSON line per mark."""

from __future__ import annotations

import json
import os
import time

ENV = "RESTORE_TIMELINE"


def mark(event: str, **fields) -> None:
    """Append ``{"t": wall time, "pid": ..., "event": event, **fields}`` to the timeline file, if one is set.

    One short line per ``write`` on a file opened for appending: the lines of concurrent processes do not mix.
    """
    path = os.environ.get(ENV)
    if not path:
        return
    line = json.dumps({"t": time.time(), "pid": os.getpid(), "event": event, **fields}, default=str)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
