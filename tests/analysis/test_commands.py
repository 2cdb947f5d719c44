"""The commands the analysis writes (more seeds, one configuration again) keep the study's options and drop what
belonged to the one run: its name, its seeds, its dashboard port."""

from __future__ import annotations

import shlex

from analysis.reproduce import rerun_command
from analysis.verdict import seeds_command

MANIFEST = {"space": "lsid_lr", "command": "python sweeps/run.py --space lsid_lr --name seeds3 --seeds 3 "
                                           "--dashboard-port 8299 --set train.steps=150 --dashboard-port=8300"}


def test_more_seeds_keeps_the_study_and_drops_the_runs_name_seeds_and_port():
    words = shlex.split(seeds_command(MANIFEST, 6))
    assert words == ["python", "sweeps/run.py", "--space", "lsid_lr", "--set", "train.steps=150", "--seeds", "6"]


def test_one_configuration_again_drops_the_runs_port_too():
    words = shlex.split(rerun_command(MANIFEST, "runs/x/reproduce/a.json", 2))
    assert words == ["python", "sweeps/run.py", "--space", "lsid_lr", "--set", "train.steps=150",
                     "--config", "runs/x/reproduce/a.json", "--seeds", "2", "--scheduler", "fifo"]
