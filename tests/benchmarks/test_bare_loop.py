"""The bare loop of ``benchmarks/overhead.py`` as the script it is: two smoke trials, each keeping its best
checkpoint and evaluating it on test, trained from a process of its own that marks its imports and data on the
timeline as the benchmark reads them."""

from __future__ import annotations

import json
import os
import subprocess

from benchmarks.timeline import read_marks, trials
from search_spaces import get_space
from tests.conftest import ROOT
from tests.worker_forks import python_command


def test_the_bare_loop_trains_each_config_and_marks_its_start(forked_workers, tmp_path):
    space = get_space("lsid_lr")
    base = space.base_config("smoke")
    configs = [space.resolve(base, trial) for trial in space.grid_trials()[:2]]
    (tmp_path / "configs.json").write_text(json.dumps(configs))
    timeline = tmp_path / "t.jsonl"
    done = subprocess.run([*python_command(), os.path.join(ROOT, "benchmarks", "bare_loop.py"), "--configs",
                           str(tmp_path / "configs.json"), "--concurrency", "2", "--test-on", "val/psnr"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "RESTORE_TIMELINE": str(timeline)})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["trials"] == 2 and result["steps"] == [base["train"]["steps"]] * 2 and result["seconds"] > 0
    marks = read_marks(str(timeline))
    events = [m["event"] for m in marks]
    assert events.index("bare: imported") < events.index("bare: data") < events.index("bare trial")
    assert events.count("bare test evaluation") == events.count("bare tested") == 2
    found, _ = trials(marks)
    assert len(found["bare"]) == 2 and "sweep" not in found
