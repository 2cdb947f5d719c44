"""``--mlflow URI``: every trial of the sweep as an MLflow run, in one experiment per sweep (``<space>/<run name>``),
logged from the driver as Ray Tune reports: the trial's complete config as params, every numeric metric at every
evaluation (by training step), and tags for the space, label, seed, trial id and run directory.

MLflow is an extra (``pip install 'restore-sweeps[mlflow]'``, the client only); without it, ``--mlflow`` stops with
one line naming it before anything runs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import os
import time
import urllib.error
import urllib.request
from typing import Any

from ray.tune import Callback

from restore_core.config import flatten
from restore_core.errors import UserError

EXTRA = "mlflow"
TRIAL_TAG = "restore.trial_id"
MAX_PARAM_LENGTH = 6000  # MLflow's limit on a param value
PARAM_BATCH, METRIC_BATCH = 100, 1000  # what MLflow's log_batch takes at once


def require_mlflow(uri: str) -> None:
    """Refuse ``--mlflow URI`` before anything runs: MLflow not installed (naming the extra), or an HTTP tracking
    server that does not answer (MLflow's client would retry for minutes inside the sweep)."""
    if importlib.util.find_spec("mlflow") is None:
        raise UserError(f"--mlflow needs MLflow's client, which is not installed; "
                        f"pip install 'restore-sweeps[{EXTRA}]'")
    if uri.startswith(("http://", "https://")):
        try:
            urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=10).close()
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise UserError(f"--mlflow {uri}: no MLflow tracking server answers there ({reason}); start one "
                            f"(mlflow server --backend-store-uri sqlite:///mlflow.db) or give its URL") from None


class MlflowTrialLogger(Callback):
    """A Ray Tune callback in the driver that logs each trial as one MLflow run (a resumed trial goes on in the run
    it had, found by its trial id tag)."""

    def __init__(self, uri: str, experiment: str, space: Any, base: dict, run_dir: str):
        self.uri, self.experiment, self.space, self.base, self.run_dir = uri, experiment, space, base, run_dir
        self._client = None
        self._experiment_id: str | None = None
        self._runs: dict[str, str] = {}  # Ray trial id -> MLflow run id

    def setup(self, **info) -> None:
        from mlflow.tracking import MlflowClient  # optional: the mlflow extra, needed with --mlflow only

        self._client = MlflowClient(tracking_uri=self.uri)
        found = self._client.get_experiment_by_name(self.experiment)
        self._experiment_id = (found.experiment_id if found is not None else
                               self._client.create_experiment(self.experiment, tags={"space": self.space.name,
                                                                                    "run_dir": self.run_dir}))
        print(f"MLflow: experiment {self.experiment!r} (id {self._experiment_id}) at {self.uri}")

    def _run_id(self, trial) -> str:
        if trial.trial_id in self._runs:
            return self._runs[trial.trial_id]
        folder = os.path.basename(trial.local_path.rstrip("/"))  # what the run's files call the trial
        earlier = self._client.search_runs([self._experiment_id], f"tags.`{TRIAL_TAG}` = '{folder}'", max_results=1)
        if earlier:  # a resumed sweep: the trial goes on in its run
            self._runs[trial.trial_id] = earlier[0].info.run_id
            return self._runs[trial.trial_id]
        label = self.space.label(trial.config)
        resolved = self.space.resolve(self.base, trial.config)
        seed = resolved.get("train", {}).get("seed", 0)
        tags = {"space": self.space.name, "label": label, "seed": str(seed), "run_dir": self.run_dir,
                TRIAL_TAG: folder}
        run = self._client.create_run(self._experiment_id, run_name=f"{label} seed {seed}", tags=tags)
        run_id = run.info.run_id
        self._runs[trial.trial_id] = run_id
        from mlflow.entities import Param  # optional: the mlflow extra

        config = flatten(resolved)
        params = [Param(key, _param_text(value)) for key, value in sorted(config.items())]
        for start in range(0, len(params), PARAM_BATCH):
            self._client.log_batch(run_id, params=params[start:start + PARAM_BATCH])
        return run_id

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self._run_id(trial)

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        from mlflow.entities import Metric  # optional: the mlflow extra

        run_id = self._run_id(trial)
        step = int(result.get("step", iteration))
        now = int(time.time() * 1000)
        metrics = [Metric(key, float(value), now, step) for key, value in sorted(result.items())
                   if _is_logged_metric(key, value)]
        for start in range(0, len(metrics), METRIC_BATCH):
            self._client.log_batch(run_id, metrics=metrics[start:start + METRIC_BATCH])

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self._end(trial, "FINISHED")

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self._end(trial, "FAILED")

    def _end(self, trial, status: str) -> None:
        # MLflow's client prints two lines with the run's URL here, which would break into Ray's progress table
        with contextlib.redirect_stdout(io.StringIO()):
            self._client.set_terminated(self._run_id(trial), status)


def _is_logged_metric(key: str, value: Any) -> bool:
    """The trial's own numbers (``val/psnr``, ``train/loss``, ``cost/macs``, ``lr``...), not Ray's bookkeeping. NaN
    and inf are left out: MLflow's REST API carries them as JSON, which has neither (the trial's status says why it
    stopped)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return "/" in key or key in ("lr", "progress")


def _param_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:MAX_PARAM_LENGTH]


def mlflow_callbacks(plan, uri: str | None) -> list:
    """The sweep's MLflow callback, or none without ``--mlflow``."""
    if not uri:
        return []
    experiment = f"{plan.space.name}/{plan.settings.name}"
    return [MlflowTrialLogger(uri, experiment, plan.space, plan.base, plan.run_dir)]

