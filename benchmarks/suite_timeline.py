"""When the machine's cores sit idle through a whole run of the suite, files side by side in pytest-xdist workers,
and which test files each worker was running then. A pytest plugin::

    python -m pytest -p benchmarks.suite_timeline --suite-timeline=timeline.json

Give FILE with ``=``: written as a separate argument, a FILE that already exists is also taken for a path of tests,
and pytest then roots the session at FILE's folder and reads no ``pyproject.toml`` there (a FILE in ``/tmp``: the run
goes in one process, without the suite's ``-n 2`` and markers).

The process that runs the session (xdist's controller, or pytest itself under ``-n 0``) reads the machine's busy
share from ``/proc/stat`` every second (every process on it counts: Ray's daemons and workers, the drivers the tests
start, anyone else's work on a shared machine). Each process that runs tests records every test's start and end
(wall clock) and, in a worker, hands its records to the controller as the worker ends. At the end it prints the idle
core-seconds of the run, and its least busy windows (10 s) with the files each worker ran in them; FILE gets every
sample and every test as JSON.

It complements ``benchmarks/suite_cost.py``, which measures one test at a time in one process: this one shows
which files, run side by side as CI runs them, leave a core waiting.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from benchmarks.suite_cost import _busy_seconds, _cores, check_writable

WINDOW = 10  # seconds
_SHOWN = 8
_KEY = "suite_timeline"


class Timeline:
    def __init__(self, config: pytest.Config, path: str):
        self.path, self.tests, self.samples = path, [], []
        self.worker = getattr(config, "workerinput", {}).get("workerid")  # None: the process that runs the session
        self._config, self._stop = config, threading.Event()
        if self.worker is None:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _sample(self) -> None:
        cores, last, before = _cores(), time.time(), _busy_seconds()
        while not self._stop.wait(1.0):
            now, busy = time.time(), _busy_seconds()
            self.samples.append((now, min(1.0, (busy - before) / (cores * (now - last)))))
            last, before = now, busy

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        start = time.time()
        try:
            return (yield)
        finally:
            self.tests.append({"nodeid": item.nodeid.split("@")[0], "worker": self.worker or "main",
                               "start": start, "end": time.time()})

    @pytest.hookimpl(optionalhook=True)  # pytest-xdist's: in the controller, as a worker ends
    def pytest_testnodedown(self, node, error):
        self.tests.extend(json.loads(getattr(node, "workeroutput", {}).get(_KEY, "[]")))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session):
        if self.worker is not None:
            self._config.workeroutput[_KEY] = json.dumps(self.tests)
            return
        self._stop.set()
        self._thread.join(timeout=5)
        with open(self.path, "w", encoding="utf-8") as out:
            json.dump({"cores": _cores(), "samples": self.samples, "tests": self.tests}, out)

    def windows(self) -> list[dict]:
        """The run in windows of :data:`WINDOW` seconds: their start (seconds from the first sample), busy share,
        idle core-seconds and the files each worker ran in them."""
        if not self.samples:
            return []
        cores, first, rows = _cores(), self.samples[0][0], []
        for index in range(0, len(self.samples), WINDOW):
            chunk = self.samples[index:index + WINDOW]
            start, end = chunk[0][0] - 1.0, chunk[-1][0]
            files: dict[str, list[str]] = {}
            for test in self.tests:
                if test["start"] < end and test["end"] > start:
                    names = files.setdefault(test["worker"], [])
                    path = test["nodeid"].split("::")[0]
                    if path not in names:
                        names.append(path)
            rows.append({"start": start - first + 1.0, "busy": sum(share for _, share in chunk) / len(chunk),
                         "idle": sum(1.0 - share for _, share in chunk) * cores, "files": files})
        return rows

    def pytest_terminal_summary(self, terminalreporter):
        if self.worker is not None:
            return
        rows = self.windows()
        write = terminalreporter.write_line
        idle = sum(row["idle"] for row in rows)
        write(f"suite timeline: {idle:.0f} idle core-seconds in {len(self.samples)} s on {_cores()} cores "
              f"({len(self.tests)} tests); the least busy windows of {WINDOW} s:")
        for row in sorted(rows, key=lambda row: row["busy"])[:_SHOWN]:
            running = "; ".join(f"{worker}: {', '.join(names)}" for worker, names in sorted(row["files"].items()))
            write(f"  {row['start']:6.0f} s  busy {row['busy']:4.0%}  idle {row['idle']:4.1f} core-s  "
                  f"{running or '(no test)'}")
        write(f"every sample and test: {self.path}")


def pytest_addoption(parser):
    parser.addoption("--suite-timeline", metavar="FILE", default=None,
                     help="record the machine's busy share every second and every test's start and end into FILE "
                          "(JSON); print the least busy windows and the files running then")


def pytest_configure(config):
    path = config.getoption("--suite-timeline")
    if path:
        check_writable("--suite-timeline", path)
        config.pluginmanager.register(Timeline(config, path), "suite_timeline_recorder")
