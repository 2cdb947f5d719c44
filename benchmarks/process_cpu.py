"""Where a command's CPU goes, by kind of process: Ray's trial workers, Ray's daemons, pytest and its workers,
drivers, servers. Run the whole suite under it, on an otherwise quiet machine::

    python benchmarks/process_cpu.py --json cpu.json -- .venv/bin/python -m pytest

Every process on the machine is read from ``/proc`` every ``--interval`` seconds while the command runs (the
processes Ray and the tests start are no children pytest waits for, so no ``getrusage`` counts them): its user and
system time, its command line at first sight, and the CPU it already had then (a process older than the command
counts only what it used after). A process's last slice before it ends is lost between two reads: the figures are
lower bounds. It prints the CPU seconds and the number of processes of each kind, and writes every process to the
JSON file. The command's exit code is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from restore_core import cli  # noqa: E402

_TICK = os.sysconf("SC_CLK_TCK")

# (kind, words any of which in the command line puts a process in it); the first that matches: a server or a driver
# can have a pytest folder among its arguments, and optuna-dashboard is no Ray dashboard
KINDS = (
    ("sweep drivers and CLI commands", ("(rs-fork:cmd)",)),  # a command the tests forked (tests/worker_forks.py)
    ("Ray's own Python processes, forked (dashboard, agents, monitors, ray start)", ("(rs-fork:ray)",)),
    ("Ray GCS, raylet, monitor, runtime env agent, ray CLI", ("/raylet/raylet ",)),  # its arguments name the workers
    ("Ray trial workers", ("default_worker.py", "setup_worker.py", "worker_forks.py", "ray::")),
    ("servers (S3, MLflow, optuna-dashboard, browser, SLURM)", ("moto", "mlflow", "huey", "optuna-dashboard",
                                                                  "chromium", "slurm", "munge")),
    ("Ray dashboard", ("dashboard",)),
    ("Ray log monitor", ("log_monitor.py",)),
    ("Ray GCS, raylet, monitor, runtime env agent, ray CLI", ("gcs_server", "raylet", "monitor.py",
                                                               "runtime_env/agent", "bin/ray ", "ray.scripts")),
    ("sweep drivers and CLI commands", ("sweeps/run.py", "sweeps/submit.py", "driver_forks.py", "cli_forks.py",
                                        "-m analysis", "benchmarks/")),
    ("C++ compiler (torch.compile's kernels)", ("cc1plus", "g++")),
    ("pytest and its xdist workers", ("-m pytest", "exec(eval(sys.stdin.readline()))")),
)


KERNEL = "kernel threads"


def kind_of(command: str) -> str:
    """The kind of a process by its command line (``other``: none of :data:`KINDS` matched)."""
    if command.startswith("[") and command.endswith("]"):  # no command line: the kernel's name, as ps shows it
        return KERNEL
    return next((kind for kind, words in KINDS if any(word in command for word in words)), "other")


def _read(pid: str) -> tuple[str, float] | None:
    """``(key, CPU seconds)`` of a process: the key is its pid and start time, unique over the run."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return f"{pid}:{fields[19]}", (int(fields[11]) + int(fields[12])) / _TICK


def _command(pid: str) -> str:
    """The command line; a kernel thread's name in brackets; a process forked by the tests' fork server with its name
    after it (``(rs-fork:worker)``, ``(rs-fork:ray)`` or ``(rs-fork:cmd)``): it has its server's command line."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            command = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
        if command and "worker_forks.py" not in command:
            return command
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
            name = comm.read().strip()
    except OSError:
        return ""
    return f"[{name}]" if not command else f"{command} ({name})" if name.startswith("rs-fork:") else command


class Sampler:
    """Reads every process's CPU until stopped; ``processes`` maps each to its command, CPU and CPU at first sight."""

    def __init__(self, interval: float) -> None:
        self.interval, self.processes = interval, {}
        self._stop = threading.Event()
        self.sample(first=True)  # what was running before the command: only its CPU from now on counts
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self, first: bool = False) -> None:
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            read = _read(pid)
            if read is None:
                continue
            key, cpu = read
            seen = self.processes.setdefault(key, {"command": "", "cpu": cpu, "before": cpu if first else 0.0})
            seen["cpu"] = max(seen["cpu"], cpu)
            seen["command"] = seen["command"] or _command(pid)  # empty until a new process has exec'd

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def by_kind(processes: dict[str, dict]) -> list[tuple[str, float, int]]:
    """``(kind, CPU seconds used during the run, processes that used any)``, the most CPU first."""
    seconds, counts = Counter(), Counter()
    for process in processes.values():
        used = process["cpu"] - process["before"]
        if used > 0:
            kind = kind_of(process["command"])
            seconds[kind] += used
            counts[kind] += 1
    return [(kind, used, counts[kind]) for kind, used in seconds.most_common()]


def main(argv: list[str] | None = None) -> int:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("--interval", type=cli.number_above(0, 10), default=0.5, help="seconds between reads")
    parser.add_argument("--json", metavar="FILE", help="write every process here (default: none)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to measure after --, e.g. -- .venv/bin/python -m pytest")
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        parser.error(f"--json {args.json}: its folder does not exist")
    sampler = Sampler(args.interval)
    try:
        code = subprocess.call(command)
    except OSError as err:
        sampler.stop()
        parser.error(f"cannot run {command[0]!r}: {err.strerror}")
    sampler.stop()
    rows = by_kind(sampler.processes)
    total = sum(used for _, used, _ in rows)
    print(f"\nCPU seconds by kind of process ({total:.1f} in all, lower bounds):", file=sys.stderr)
    for kind, used, count in rows:
        print(f"{used:9.1f}  {count:5d} processes  {kind}", file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"by_kind": rows, "processes": sampler.processes}, handle)
    return code


if __name__ == "__main__":
    sys.exit(main())
