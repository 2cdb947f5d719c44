"""What each test file of the suite costs: wall time, the machine's busy CPU and pytest's own CPU, per test phase.

A pytest plugin::

    python -m pytest -p benchmarks.suite_cost --suite-cost=cost.json -n 0 tests/sweeps/cluster

(FILE with ``=``, as for ``benchmarks/suite_timeline.py``: an existing FILE given apart is taken for tests too.)

It measures one test at a time in one process: the suite's default of running files side by side in pytest-xdist
workers (pyproject.toml's addopts) is refused, ``-n 0`` turns it off.

Around every phase of every test (setup, call, teardown: a module fixture's start is in the setup of its file's
first test, its stop in the teardown of the last) it reads three clocks:

- wall: ``time.monotonic()``;
- busy: the machine's busy CPU seconds from ``/proc/stat`` (every process on it: Ray's GCS, raylet and workers
  count, and so does anything else running on a shared machine);
- own: the CPU seconds of pytest itself and of the children it waited for (``resource.getrusage``), i.e. the test
  code and the subprocesses it ran to the end;
- tree: the CPU seconds of pytest's whole process tree from ``/proc/PID/stat`` (itself, and every descendant alive
  at either end of the phase: the Ray daemons and workers that the tests start, drivers run as subprocesses). A
  descendant that ends within the phase without being waited for by another one (a daemon reparented to init)
  loses its last slice: a lower bound.

A file's waiting is ``wall × cores − busy``: core-seconds the machine sat idle while the file ran (sleeps, polls,
timeouts waited to the end, one core idle while the other works). On a shared machine others' work fills some of
those idle cores and ``busy`` counts it, so ``wall × cores − tree`` is printed beside it: the idle core-seconds as
the file alone would leave them. At the end it prints the top files by each figure and writes every phase and every
file's sums as JSON to FILE.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections import defaultdict

import pytest

_FIELDS = ("wall", "busy", "own", "tree")
_TICK = os.sysconf("SC_CLK_TCK")
_TOP = 10


def _cores() -> int:
    """The CPUs ``/proc/stat`` counts (its ``cpuN`` lines), which its busy total is summed over."""
    with open("/proc/stat") as stat:
        return sum(1 for line in stat if line.startswith("cpu") and line[3:4].isdigit())


def _busy_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot: every state of ``/proc/stat``'s ``cpu`` line but idle and
    iowait (guest time is already inside user time, so it is left out too)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / _TICK


def _own_seconds() -> float:
    """CPU seconds of this process and of every child it has waited for."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _processes() -> dict[tuple[int, int], tuple[int, float]]:
    """Every process: (pid, start time) -> (parent pid, its CPU seconds and its waited children's)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:  # it ended while the folder was read
            continue
        fields = text[text.rindex(")") + 2:].split()  # after "pid (name) ": state, ppid, ..., from field 3 on
        cpu = sum(int(value) for value in fields[11:15]) / _TICK  # utime, stime, cutime, cstime
        found[(int(entry), int(fields[19]))] = (int(fields[1]), cpu)
    return found


def _tree(processes: dict[tuple[int, int], tuple[int, float]], root: int) -> dict[tuple[int, int], tuple[int, float]]:
    """The processes descended from ``root`` (itself included)."""
    children: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for key, (parent, _) in processes.items():
        children[parent].append(key)
    tree, todo = {}, [key for key in processes if key[0] == root]
    while todo:
        key = todo.pop()
        tree[key] = processes[key]
        todo += children[key[0]]
    return tree


def _tree_seconds(before: dict, after: dict) -> float:
    """CPU seconds the process tree spent between two samples. A process gone by the second whose parent is still in
    the tree was waited for by it: its CPU moved into the parent's, so what it had before is taken off again."""
    spent = sum(cpu - before.get(key, (0, 0.0))[1] for key, (_, cpu) in after.items())
    alive = {key[0] for key in after}
    return spent - sum(cpu for key, (parent, cpu) in before.items() if key not in after and parent in alive)


def _clocks() -> tuple[float, float, float, dict]:
    return time.monotonic(), _busy_seconds(), _own_seconds(), _tree(_processes(), os.getpid())


def _deltas(before: tuple, after: tuple) -> tuple[float, float, float, float]:
    return (after[0] - before[0], after[1] - before[1], after[2] - before[2], _tree_seconds(before[3], after[3]))


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


class SuiteCost:
    """Records the three clocks around each test phase and sums them per file."""

    def __init__(self, path: str):
        self.path = path
        self.cores = _cores()
        self.phases: list[dict] = []
        self.start = _clocks()

    def _measure(self, nodeid: str, phase: str):
        before = _clocks()
        try:
            return (yield)
        finally:
            wall, busy, own, tree = _deltas(before, _clocks())
            self.phases.append({"nodeid": nodeid, "file": _file_of(nodeid), "phase": phase, "wall": wall,
                                "busy": busy, "own": own, "tree": tree, "waiting": wall * self.cores - busy,
                                "idle_alone": wall * self.cores - tree})

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item):
        return (yield from self._measure(item.nodeid, "setup"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        return (yield from self._measure(item.nodeid, "call"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item):
        return (yield from self._measure(item.nodeid, "teardown"))

    @pytest.hookimpl(wrapper=True)
    def pytest_collection(self, session):
        return (yield from self._measure("<collection>", "collect"))

    def files(self) -> dict[str, dict[str, float]]:
        """Each file's sums of every figure over its phases, and its number of tests."""
        fields = (*_FIELDS, "waiting", "idle_alone", "tests")
        sums: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(fields, 0.0))
        for phase in self.phases:
            row = sums[phase["file"]]
            for field in (*_FIELDS, "waiting", "idle_alone"):
                row[field] += phase[field]
            row["tests"] += phase["phase"] == "call"
        return dict(sums)

    def summary(self) -> dict:
        wall, busy, own, tree = _deltas(self.start, _clocks())
        return {"cores": self.cores, "wall": wall, "busy": busy, "own": own, "tree": tree,
                "waiting": wall * self.cores - busy, "idle_alone": wall * self.cores - tree}

    def pytest_sessionfinish(self, session):
        report = {"total": self.summary(), "files": self.files(), "phases": self.phases}
        with open(self.path, "w") as out:
            json.dump(report, out, indent=1)

    def pytest_terminal_summary(self, terminalreporter):
        write = terminalreporter.write_line
        files = self.files()
        total = self.summary()
        terminalreporter.section("suite cost")
        write(f"whole run: wall {total['wall']:.1f} s, busy {total['busy']:.1f} core-s of {self.cores} cores "
              f"({100 * total['busy'] / max(total['wall'] * self.cores, 1e-9):.0f} %), pytest's own "
              f"{total['own']:.1f} s, its process tree {total['tree']:.1f} s, waiting {total['waiting']:.1f} core-s "
              f"(alone: {total['idle_alone']:.1f}); per phase and file in {self.path}")
        for field, what in (("wall", "wall s"), ("busy", "busy core-s"), ("own", "pytest own CPU s"),
                            ("tree", "process tree CPU s"), ("waiting", "waiting core-s"),
                            ("idle_alone", "waiting core-s alone (wall × cores − tree)")):
            write(f"top files by {what}:")
            for name, row in sorted(files.items(), key=lambda kv: -kv[1][field])[:_TOP]:
                write(f"  {row[field]:8.1f}  {name}  (wall {row['wall']:.1f}, busy {row['busy']:.1f}, own "
                      f"{row['own']:.1f}, tree {row['tree']:.1f}, waiting {row['waiting']:.1f}, alone "
                      f"{row['idle_alone']:.1f}, {int(row['tests'])} tests)")
        write("top phases by wall s:")
        for phase in sorted(self.phases, key=lambda row: -row["wall"])[:_TOP]:
            write(f"  {phase['wall']:8.1f}  {phase['phase']:8s} {phase['nodeid']}  (busy {phase['busy']:.1f}, "
                  f"own {phase['own']:.1f}, tree {phase['tree']:.1f})")


def pytest_addoption(parser):
    parser.addoption("--suite-cost", metavar="FILE", default=None,
                     help="record wall, busy CPU (/proc/stat) and pytest's CPU per test phase and file into FILE "
                          "(JSON) and print the top files")


def check_writable(option: str, path: str) -> None:
    """Refuse ``option path`` before any test runs where the file cannot be written at the end."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.access(folder, os.W_OK):
        raise pytest.UsageError(f"{option} {path}: cannot write into {folder} (give a file in a folder that exists "
                                "and is writable)")


def pytest_configure(config):
    path = config.getoption("--suite-cost")
    if path:
        check_writable("--suite-cost", path)
        if getattr(config.option, "numprocesses", None):  # pytest-xdist's -n, once its own hook has resolved it
            raise pytest.UsageError(f"--suite-cost measures the tests one at a time in one process; add -n 0 (with "
                                    f"-n {config.option.numprocesses} the files run side by side in worker processes, "
                                    "and the machine's busy CPU of one test would count the others')")
        config.pluginmanager.register(SuiteCost(path), "suite_cost_recorder")
