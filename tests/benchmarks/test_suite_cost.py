"""The suite-cost plugin, run by a real pytest on a small test file: a sleep is wall time and waiting but no CPU, a
busy loop and a child process it waits for are pytest's own CPU, a module fixture's stop is in the last test's
teardown, and every file's sums are its phases' sums."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TESTS = '''
import subprocess, sys, time
import pytest

def spin(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass

@pytest.fixture(scope="module")
def slow_to_stop():
    yield
    time.sleep(0.4)

def test_sleeps(slow_to_stop):
    time.sleep(0.6)

def test_spins(slow_to_stop):
    spin(0.5)

SPIN_THEN_SLEEP = ("import sys, time\\nend = time.process_time() + 0.5\\nwhile time.process_time() < end: pass\\n"
                   "open(sys.argv[1], 'w').close()\\ntime.sleep(60)")
LEFT_RUNNING = []

def test_leaves_a_child_running(slow_to_stop, tmp_path):
    spun = tmp_path / "spun"
    LEFT_RUNNING.append(subprocess.Popen([sys.executable, "-c", SPIN_THEN_SLEEP, str(spun)]))
    while not spun.exists():  # it has spun and sleeps on past the end of this test: not waited for
        time.sleep(0.05)

def test_reaps_the_child_left_running(slow_to_stop):
    LEFT_RUNNING[0].kill()
    LEFT_RUNNING[0].wait()

def test_waits_for_a_child(slow_to_stop):
    subprocess.run([sys.executable, "-c", "import time\\nend = time.process_time() + 0.5\\n"
                    "while time.process_time() < end: pass"], check=True)
'''


def _pytest(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": ROOT}
    argv = [sys.executable, "-m", "pytest", "-p", "benchmarks.suite_cost", "-q", "-p", "no:cacheprovider",
            "--rootdir", str(tmp_path), *args]
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("suite_cost")
    (tmp_path / "test_small.py").write_text(TESTS)
    done = _pytest(tmp_path, "--suite-cost", str(tmp_path / "cost.json"), "test_small.py")
    assert done.returncode == 0, done.stdout + done.stderr
    with open(tmp_path / "cost.json") as cost:
        return json.load(cost), done.stdout


def _phase(report: dict, test: str, phase: str) -> dict:
    (row,) = [row for row in report["phases"] if row["nodeid"] == f"test_small.py::{test}" and row["phase"] == phase]
    return row


def test_a_sleep_is_wall_and_waiting_not_pytests_cpu(report):
    cost, _ = report
    sleep = _phase(cost, "test_sleeps", "call")
    assert sleep["wall"] >= 0.6
    assert sleep["own"] < 0.3
    assert sleep["waiting"] == pytest.approx(sleep["wall"] * cost["total"]["cores"] - sleep["busy"])


def test_a_busy_loop_and_a_waited_child_are_pytests_cpu_and_the_machines(report):
    cost, _ = report
    for test in ("test_spins", "test_waits_for_a_child"):
        call = _phase(cost, test, "call")
        assert call["own"] >= 0.45, test
        # /proc/stat counts in clock ticks: allow two of them either side
        assert call["busy"] >= call["own"] - 0.02, test


def test_a_child_not_waited_for_is_in_the_process_tree_only(report):
    cost, _ = report
    call = _phase(cost, "test_leaves_a_child_running", "call")
    assert call["own"] < 0.3
    assert call["tree"] >= 0.45
    assert call["idle_alone"] == pytest.approx(call["wall"] * cost["total"]["cores"] - call["tree"])
    # once waited for, its CPU is getrusage's, and the tree does not count it a second time in its parent
    reaped = _phase(cost, "test_reaps_the_child_left_running", "call")
    assert reaped["own"] >= 0.45 and reaped["tree"] < 0.3
    # a waited child is counted once in the tree: in itself while it runs, in its parent once waited for
    assert 0.45 <= _phase(cost, "test_waits_for_a_child", "call")["tree"] < 0.9


def test_a_module_fixtures_stop_is_the_last_tests_teardown(report):
    cost, _ = report
    assert _phase(cost, "test_waits_for_a_child", "teardown")["wall"] >= 0.4
    assert _phase(cost, "test_sleeps", "teardown")["wall"] < 0.3


def test_a_files_sums_are_its_phases_and_the_top_lists_are_printed(report):
    cost, stdout = report
    row = cost["files"]["test_small.py"]
    phases = [phase for phase in cost["phases"] if phase["file"] == "test_small.py"]
    assert len(phases) == 15 and row["tests"] == 5
    for field in ("wall", "busy", "own", "tree", "waiting", "idle_alone"):
        assert row[field] == pytest.approx(sum(phase[field] for phase in phases))
    assert cost["total"]["wall"] >= row["wall"]
    for heading in ("top files by wall s:", "top files by busy core-s:", "top files by pytest own CPU s:",
                    "top files by process tree CPU s:", "top files by waiting core-s:",
                    "top files by waiting core-s alone (wall × cores − tree):", "top phases by wall s:"):
        assert heading in stdout
    assert "test_small.py  (wall" in stdout


def test_a_file_in_a_missing_folder_is_refused_before_any_test_runs(tmp_path):
    (tmp_path / "test_small.py").write_text("def test_never():\n    raise AssertionError('ran')\n")
    done = _pytest(tmp_path, "--suite-cost", str(tmp_path / "missing" / "cost.json"), "test_small.py")
    assert done.returncode == 4
    assert f"--suite-cost {tmp_path / 'missing' / 'cost.json'}: cannot write into {tmp_path / 'missing'}" in done.stderr
    assert "Traceback" not in done.stderr and "ran" not in done.stdout


def test_files_run_side_by_side_are_refused_with_the_option_that_runs_them_in_one_process(tmp_path):
    (tmp_path / "test_small.py").write_text("def test_never():\n    raise AssertionError('ran')\n")
    done = _pytest(tmp_path, "-n", "2", "--suite-cost", str(tmp_path / "cost.json"), "test_small.py")
    assert done.returncode == 4
    assert "--suite-cost measures the tests one at a time in one process; add -n 0 (with -n 2 the files" in done.stderr
    assert "Traceback" not in done.stderr and "ran" not in done.stdout and not (tmp_path / "cost.json").exists()
