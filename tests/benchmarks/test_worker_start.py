"""benchmarks/worker_start.py: the trial workers' and Ray's starts read from a sweep's timeline, the table, and the
other ways' drivers, which keep the runtime env Ray Tune gives every trainable, or start the dashboard first."""

from __future__ import annotations

import json
import subprocess

import pytest

from benchmarks.worker_start import DASHBOARD_FIRST, KEEP_TUNE_ENV, PLATFORM, ray_start, table, worker_starts
from restore_core.errors import DataError
from tests.conftest import ROOT
from tests.worker_forks import python_command


def _marks(*events: tuple[str, float]) -> list[dict]:
    return [{"t": t, "pid": 1 if event.startswith("driver") else 2, "event": event} for event, t in events]


def test_the_first_worker_counts_from_the_fit_and_each_later_one_from_the_release_before_it():
    marks = _marks(("driver: ray", 1.0), ("driver: fit", 2.0), ("trial", 5.5), ("train", 5.6), ("released", 8.0),
                   ("trial", 10.5), ("released", 12.0), ("trial", 14.0), ("released", 15.0))
    first, later = worker_starts(marks)
    assert first == 3.5 and later == [2.5, 2.0]
    assert ray_start([*_marks(("driver: data", 0.25)), *marks]) == (0.75, 5.25)
    with pytest.raises(DataError, match="no driver's data and Ray marks"):
        ray_start(marks)


def test_the_table_gives_each_ways_medians_and_the_platforms_ratio_to_the_other():
    found = {PLATFORM: [(20.0, 3.0, 3.0, 6.0, [2.0, 3.0]), (22.0, 4.0, 3.0, 8.0, [2.0])],
             "other": [(24.0, 5.0, 3.0, 8.0, [4.0]), (26.0, 5.0, 3.0, 9.0, [4.0])]}
    lines = table(found, "other", 2, 3)
    assert lines[3] == f"| {PLATFORM} | 21.00 | 3.50 | 3.00 | 7.00 | 2.00 |"
    assert lines[4] == "| other | 25.00 | 5.00 | 3.00 | 8.50 | 4.00 |"
    assert lines[5] == "| ratio | 0.840 | 0.700 | 1.000 | 0.824 | 0.500 |"


@pytest.mark.parametrize("events", [
    [("trial", 1.0), ("released", 2.0)],  # no fit
    [("driver: fit", 1.0), ("trial", 2.0), ("trial", 3.0), ("released", 4.0), ("released", 5.0)],  # two at once
])
def test_a_timeline_the_benchmark_cannot_read_is_refused(events):
    with pytest.raises(DataError):
        worker_starts(_marks(*events))


def driven_through(wrapper: str, folder, lines: list[str]) -> list:
    """What the driver script of ``lines`` prints last (JSON), run through the other way's ``wrapper`` with the
    arguments ``--space x``."""
    script = folder / "driver.py"
    script.write_text("\n".join(lines) + "\n")
    done = subprocess.run([*python_command(), "-c", wrapper, ROOT, str(script), "--space", "x"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_the_other_path_keeps_ray_tunes_env_for_the_trainables(forked_workers, tmp_path):
    """The driver's call that drops Ray Tune's env does nothing there; the script runs as __main__ with its
    arguments."""
    printed = driven_through(KEEP_TUNE_ENV, tmp_path, [
        "import json, sys", "import sweeps.driver.tuner as tuner", "from ray.tune.execution import class_cache",
        "tuner.trials_without_tune_env()", "print(json.dumps([class_cache.DEFAULT_ENV_VARS, sys.argv[1:], __name__]))"])
    assert printed == [{"PL_DISABLE_FORK": "1"}, ["--space", "x"], "__main__"]


def test_the_dashboard_way_starts_ray_in_rays_own_order(forked_workers, tmp_path):
    """There the driver's dashboard_beside_raylet is Ray's order (no context of its own); the script runs as
    __main__ with its arguments."""
    printed = driven_through(DASHBOARD_FIRST, tmp_path, [
        "import json, sys", "import sweeps.cluster.connect as connect",
        "print(json.dumps([type(connect.dashboard_beside_raylet(8265)).__name__, sys.argv[1:], __name__]))"])
    assert printed == ["nullcontext", ["--space", "x"], "__main__"]
