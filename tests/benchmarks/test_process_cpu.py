"""benchmarks/process_cpu.py on a real command: a process the command leaves behind, that no one waits for, still
counts with its CPU and its kind; what ran before the command counts only from its start."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.benchmarks.test_bad_arguments import benchmark

# the command: starts a grandchild in a session of its own that spins 0.6 CPU-s, and ends without waiting for it
GRANDCHILD = ("import sys, time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\n"
              "open(sys.argv[1], 'w').close()\ntime.sleep(3)")
COMMAND = ("import os, subprocess, sys, time\n"
           "subprocess.Popen([sys.executable, '-c', sys.argv[1], sys.argv[2]], start_new_session=True)\n"
           "while not os.path.exists(sys.argv[2]): time.sleep(0.05)")


def test_a_process_left_behind_counts_with_its_kind(tmp_path, capsys):
    out = tmp_path / "cpu.json"
    earlier = subprocess.Popen([sys.executable, "-c", GRANDCHILD, str(tmp_path / "spun before")])
    try:
        while not (tmp_path / "spun before").exists():  # it has used its CPU before the command starts
            time.sleep(0.05)
        code = benchmark("process_cpu").main(["--interval", "0.1", "--json", str(out), "--",
                                              sys.executable, "-c", COMMAND, GRANDCHILD, str(tmp_path / "spun")])
    finally:
        earlier.kill()
        earlier.wait()
    assert code == 0
    data = json.loads(out.read_text())
    spinner = [p for p in data["processes"].values()
               if p["command"] == f"{sys.executable} -c {GRANDCHILD} {tmp_path / 'spun'}"]
    assert len(spinner) == 1 and spinner[0]["before"] == 0.0 and spinner[0]["cpu"] >= 0.55, spinner
    before = [p for key, p in data["processes"].items() if key.split(":")[0] == str(earlier.pid)]
    assert len(before) == 1 and before[0]["before"] >= 0.55 and before[0]["cpu"] - before[0]["before"] < 0.2, before
    assert benchmark("process_cpu").kind_of(spinner[0]["command"]) == "other"  # its pytest folder makes it no pytest
    rows = {kind: (used, count) for kind, used, count in data["by_kind"]}
    assert rows["other"][0] >= spinner[0]["cpu"]  # the spinner is in its kind's sum
    assert "CPU seconds by kind of process" in capsys.readouterr().err


def test_each_kind_by_its_command_line():
    kind_of = benchmark("process_cpu").kind_of
    python = "/work/.venv/bin/python"
    assert kind_of("[kdamond.0]") == "kernel threads"
    forks = f"{python} /work/tests/worker_forks.py /tmp/rs-workers-1.sock numpy,torch"
    assert kind_of(f"{forks} (rs-fork:worker)") == kind_of(forks) == "Ray trial workers"
    assert kind_of(f"{forks} (rs-fork:cmd)") == "sweep drivers and CLI commands"
    assert kind_of(f"{forks} (rs-fork:ray)").startswith("Ray's own Python processes, forked")
    assert kind_of(f"{python} .../ray/_private/workers/default_worker.py --node-ip-address=127.0.0.1") == \
        "Ray trial workers"
    assert kind_of(f"{python} .../ray/dashboard/agent.py --node-ip-address=127.0.0.1") == "Ray dashboard"
    assert kind_of(".../ray/core/src/ray/raylet/raylet --raylet_socket_name=... --python_worker_command=python "
                   ".../ray/_private/workers/setup_worker.py .../default_worker.py") == \
        "Ray GCS, raylet, monitor, runtime env agent, ray CLI"
    assert kind_of(f"{python} -u -c import sys;exec(eval(sys.stdin.readline()))") == "pytest and its xdist workers"
    # a driver, a CLI command or a browser whose arguments name the test's pytest folder is no pytest process
    assert kind_of(f"{python} sweeps/run.py --storage /tmp/pytest-of-root/pytest-3/popen-gw0/runs") == \
        "sweep drivers and CLI commands"
    assert kind_of(f"{python} -m analysis /tmp/pytest-of-root/pytest-3/run") == "sweep drivers and CLI commands"
    assert kind_of("/usr/lib/chromium/chromium --headless --user-data-dir=/tmp/pytest-of-root/x") == \
        "servers (S3, MLflow, optuna-dashboard, browser, SLURM)"
    assert kind_of(f"{python} .venv/bin/optuna-dashboard --host 127.0.0.1 sqlite:///s.db") == \
        "servers (S3, MLflow, optuna-dashboard, browser, SLURM)"
    assert kind_of(f"{python} -m pytest -q") == "pytest and its xdist workers"
    assert kind_of("/usr/lib/gcc/x86_64-linux-gnu/12/cc1plus -quiet") == "C++ compiler (torch.compile's kernels)"
    assert kind_of("sleep 1") == "other"
