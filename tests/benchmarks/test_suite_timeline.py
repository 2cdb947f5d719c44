"""The suite-timeline plugin, run by a real pytest on two small test files side by side in two xdist workers: each
test is recorded once with the worker that ran it, the busy share is sampled every second, and the windows name the
files each worker ran in them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SLEEPS = "import time\n\ndef test_sleeps():\n    time.sleep(2.5)\n"
SPINS = ("import time\n\ndef test_spins():\n    end = time.process_time() + 1.5\n    while time.process_time() < end:\n"
         "        pass\n\ndef test_quick():\n    pass\n")


def _pytest(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": ROOT}
    argv = [sys.executable, "-m", "pytest", "-p", "benchmarks.suite_timeline", "-q", "-p", "no:cacheprovider",
            "--rootdir", str(tmp_path), *args]
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_files_side_by_side_are_recorded_with_their_worker_and_the_windows_name_them(tmp_path):
    (tmp_path / "test_sleeps.py").write_text(SLEEPS)
    (tmp_path / "test_spins.py").write_text(SPINS)
    out = tmp_path / "timeline.json"
    done = _pytest(tmp_path, "-n", "2", "--dist", "loadfile", "--suite-timeline", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    timeline = json.loads(out.read_text())
    tests = {test["nodeid"]: test for test in timeline["tests"]}
    assert sorted(tests) == ["test_sleeps.py::test_sleeps", "test_spins.py::test_quick", "test_spins.py::test_spins"]
    assert len(timeline["tests"]) == 3 and all(test["start"] <= test["end"] for test in tests.values())
    assert tests["test_sleeps.py::test_sleeps"]["end"] - tests["test_sleeps.py::test_sleeps"]["start"] >= 2.5
    workers = {path: {test["worker"] for test in timeline["tests"] if test["nodeid"].startswith(path)}
               for path in ("test_sleeps.py", "test_spins.py")}
    assert workers["test_sleeps.py"] | workers["test_spins.py"] == {"gw0", "gw1"}  # one file on each worker
    samples = timeline["samples"]
    assert len(samples) >= 2 and all(0.0 <= share <= 1.0 for _, share in samples)
    assert timeline["cores"] == os.cpu_count()
    (sleeper,) = workers["test_sleeps.py"]
    assert f"{sleeper}: test_sleeps.py" in done.stdout
    assert "idle core-seconds in" in done.stdout and "(3 tests)" in done.stdout


def test_one_process_records_its_tests_as_main(tmp_path):
    (tmp_path / "test_spins.py").write_text(SPINS)
    out = tmp_path / "timeline.json"
    done = _pytest(tmp_path, "--suite-timeline", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert {test["worker"] for test in json.loads(out.read_text())["tests"]} == {"main"}
    assert "main: test_spins.py" in done.stdout


def test_a_file_in_a_missing_folder_is_refused_before_any_test_runs(tmp_path):
    (tmp_path / "test_small.py").write_text("def test_never():\n    raise AssertionError('ran')\n")
    done = _pytest(tmp_path, "--suite-timeline", str(tmp_path / "missing" / "t.json"), "test_small.py")
    assert done.returncode == 4
    missing = tmp_path / "missing"
    assert f"--suite-timeline {missing / 't.json'}: cannot write into {missing}" in done.stderr
    assert "Traceback" not in done.stderr and "ran" not in done.stdout
