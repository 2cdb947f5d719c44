"""The driver's test evaluation as trials end: what Ray Tune saves of it with a run, and where it runs. The fault
sweep (tests/sweeps/driver/test_trainable.py) checks it in a real sweep."""

from __future__ import annotations

import pickle

import numpy as np
import torch

from restore_core.loop import SharedData
from sweeps.driver.early_test import EvaluateAsTrialsEnd, early_test_evaluation


def test_the_copy_saved_with_a_run_holds_no_data_and_evaluates_nothing(tmp_path):
    shared = {"key": SharedData("key", np.zeros((64, 64, 64), np.float32))}
    early = EvaluateAsTrialsEnd(str(tmp_path), shared)
    saved = pickle.dumps(early)
    assert len(saved) < 1000  # the run's tuner.pkl: not the prepared data, no thread
    restored = pickle.loads(saved)
    assert (restored.run_dir, restored.shared) == (str(tmp_path), None)

    assert restored.finish().evaluated == [] and early.finish().evaluated == []


def test_it_runs_where_the_driver_evaluates_on_its_cpu_and_the_run_is_on_this_machine(tmp_path):
    assert early_test_evaluation(str(tmp_path), {}, remote_storage=True) is None
    local = early_test_evaluation(str(tmp_path), {}, remote_storage=False)
    assert (local is None) == torch.cuda.is_available()
    if local is not None:
        local.finish()
