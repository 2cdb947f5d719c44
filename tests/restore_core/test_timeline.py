"""The timeline of a trial's parts (RESTORE_TIMELINE) and the checkpoint staging folder of the training loop."""

from __future__ import annotations

import json
import os
import tempfile

from benchmarks.timeline import PARTS, trials
from restore_core.loop import train
from restore_core.run_files import STAGED_CHECKPOINT_PREFIX
from restore_core.timeline import ENV, mark


def test_marks_are_written_only_when_the_timeline_is_on(tmp_path, monkeypatch):
    path = tmp_path / "timeline.jsonl"
    monkeypatch.delenv(ENV, raising=False)
    mark("off")
    assert not path.exists()
    monkeypatch.setenv(ENV, str(path))
    mark("on", step=3)
    (line,) = path.read_text().splitlines()
    record = json.loads(line)
    assert (record["event"], record["step"], record["pid"]) == ("on", 3, os.getpid())


def test_a_trial_marks_its_parts_in_order_and_the_reader_adds_them_up(config, shared, tmp_path, monkeypatch):
    path = tmp_path / "timeline.jsonl"
    monkeypatch.setenv(ENV, str(path))
    staging = tmp_path / "temporary"
    staging.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(staging))  # the system's temporary folder, for this test
    staged = []

    def report(metrics, folder):
        staged.append(folder)
        assert os.path.isfile(os.path.join(folder, "state.pt"))

    mark("bare trial")
    train(config, data=shared, report=report)
    events = [json.loads(line)["event"] for line in path.read_text().splitlines()]
    each_evaluation = ["evaluate", "tensorboard", "checkpoint", "saved", "reported"]
    assert events == ["bare trial", "train", "data", "build", "cost", "writer", "first step", *each_evaluation,
                      *each_evaluation, "trained"]  # the smoke trial: 4 steps, an evaluation every 2
    # each checkpoint was staged in the system's temporary folder, under a name no reader of a run looks at, and
    # removed once reported
    assert [os.path.dirname(f) for f in staged] == [str(staging)] * 2
    assert not [name for name in os.listdir(staging) if name.startswith(STAGED_CHECKPOINT_PREFIX)]
    assert all(os.path.basename(f).startswith(STAGED_CHECKPOINT_PREFIX) and not os.path.exists(f) for f in staged)

    found, handovers = trials([json.loads(line) for line in path.read_text().splitlines()])
    (parts,) = found["bare"]
    assert "sweep" not in found and handovers == []
    named = [name for name, _, _ in PARTS]
    working = ["model build", "model cost (parameters, MACs, latency)", "training steps", "validation evaluations",
               "checkpoints saved"]
    assert all(parts[name] > 0 for name in working) and min(parts.values()) >= 0  # what works takes time ...
    assert abs(sum(parts[name] for name in named) - parts["whole trial"]) < 1e-6  # ... and they add up to it


def test_the_table_adds_the_parts_a_sweep_pays_once(tmp_path):
    """The driver's marks, from its command line read to Ray stopped beside the test evaluation."""
    from benchmarks.timeline import table

    events = [("driver: imported", 0.0), ("driver: checked", 0.5), ("driver: data", 1.5), ("driver: ray", 6.0),
              ("driver: fit", 6.25), ("trial", 9.0), ("train", 9.5), ("data", 9.5), ("build", 10.0), ("cost", 10.5),
              ("writer", 10.5), ("first step", 11.0), ("trained", 20.0), ("released", 20.0),
              ("driver: test evaluation", 21.0), ("driver: ray stopped", 22.5), ("driver: tested", 26.0)]
    path = tmp_path / "timeline.jsonl"
    path.write_text("".join(json.dumps({"t": t, "pid": 2 if e.startswith("driver") else 3, "event": e}) + "\n"
                            for e, t in events))
    cells = [[cell.strip() for cell in line.split("|")[1:-1]] for line in table(str(path)).splitlines()]
    once = {row[0][len("once per sweep: "):]: float(row[1]) for row in cells if row[0].startswith("once per sweep")}
    assert once == {"the plan and its checks (the configs validated)": 0.5, "the data prepared": 1.0,
                    "Ray and its dashboard started": 4.5, "run folder, manifest, Tuner": 0.25,
                    "the first worker started (Python, Ray, torch, the trainable)": 2.75,
                    "the sweep's test evaluation of every trial, after them (driver)": 5.0,
                    "Ray stopped, beside the test evaluation (from its start)": 1.5}
