"""The test evaluation of a trial as soon as it has ended, beside the trials that are still running.

Without it every trial's selected checkpoint is evaluated on test after the last trial
(:func:`analysis.evaluate_test.evaluate_run_on_test`), and the sweep's end waits for all of them. With it, the driver
evaluates each trial that Ray Tune reports complete (finished, or stopped by the scheduler) in one thread of its
own, one trial at a time, with the trial's torch threads, while the other trials train; after the trials only what
is left is evaluated (the last trial, a paused one, one whose early evaluation could not be made). The records are
the same: ``test.json`` is written once per trial, atomically, and the pass after the trials skips a trial that has
one.

It runs where the driver evaluates on its CPU and the run is on this machine's filesystem: a driver with a GPU
evaluates on it after the trials (the trials share that GPU's memory until then), and a run on object storage is
evaluated when a local copy is analysed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import torch
from ray.tune import Callback

from analysis.evaluate_test import HeldOutEvaluations, evaluate_run_on_test


class EvaluateAsTrialsEnd(Callback):
    """Evaluates each completed trial's selected checkpoint on test in a thread of the driver (see the module)."""

    def __init__(self, run_dir: str, shared: Mapping):
        self.run_dir = run_dir
        self.shared = shared
        self.eval_sets: dict = {}  # the tasks' evaluation sets, shared with the pass after the trials
        self.done = HeldOutEvaluations()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="test-evaluation")

    def __getstate__(self) -> dict:
        # Ray Tune saves the run's callbacks with the run (tuner.pkl): not the prepared data, threads or results. The
        # copy a --resume restores does nothing; the resumed run's trials are evaluated after them.
        return {"run_dir": self.run_dir}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, shared=None, eval_sets={}, done=HeldOutEvaluations(), _lock=threading.Lock(),
                             _pool=None)

    def on_trial_complete(self, iteration: int, trials: list, trial, **info) -> None:
        if self._pool is not None:
            # its records are in Ray's staging copy, which the run folder receives at Ray's next sync; its
            # checkpoints are in the run folder already, and its test.json is written there
            folder = os.path.join(self.run_dir, trial.storage.trial_dir_name)
            self._pool.submit(self._evaluate, folder, trial.local_path or folder)

    def _evaluate(self, folder: str, records: str) -> None:
        start = time.perf_counter()
        # a trial left out here (its checkpoint not there yet, a full disk) is the pass after the trials' to say
        done = evaluate_run_on_test(self.run_dir, self.shared, torch.device("cpu"), log=lambda line: None,
                                    folders={folder: records}, eval_sets=self.eval_sets)
        with self._lock:
            self.done.evaluated += done.evaluated
            self.done.seconds += time.perf_counter() - start

    def finish(self, cancel: bool = False) -> HeldOutEvaluations:
        """Wait for the evaluation under way (and, unless ``cancel``, those queued); what was evaluated."""
        # a failed evaluation is not raised here: the pass after the trials evaluates that trial again, and says why
        # where it cannot
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
        return self.done

    def describe(self) -> str:
        return (f"evaluated {len(self.done.evaluated)} trial(s) on the test split as they ended "
                f"({self.done.seconds:.1f} s beside the trials)")


def early_test_evaluation(run_dir: str, shared: Mapping, remote_storage: bool) -> EvaluateAsTrialsEnd | None:
    """The callback where the driver evaluates on its CPU and the run is on this machine (see the module)."""
    if remote_storage or torch.cuda.is_available():
        return None
    return EvaluateAsTrialsEnd(run_dir, shared)
