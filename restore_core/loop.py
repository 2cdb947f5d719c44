"""The one training loop, shared by every task. It does not depend on Ray: reporting and checkpoint storage are
passed in, so the same function runs a Ray Tune trial, a test, a benchmark or a user's debugging session."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from restore_core.cost import trial_cost
from restore_core.heap import keep_freed_memory
from restore_core.metrics import extra_metrics
from restore_core.run_files import STAGED_CHECKPOINT_PREFIX
from restore_core.schedule import lr_factor
from restore_core.schema import Config, data_key, validate_config
from restore_core.step_options import apply_step_options
from restore_core.tasks import get_task
from restore_core.tasks.base import Evaluation, Task
from restore_core.tb_log import TensorBoardLog
from restore_core.timeline import mark

# report(metrics, checkpoint_dir): checkpoint_dir holds this evaluation's checkpoint (or is None); the reporter
# must copy what it keeps before returning, the loop deletes the folder afterwards.
Reporter = Callable[[dict[str, Any], "str | None"], None]
CHECKPOINT_FILE = "state.pt"


@dataclass
class TrainResult:
    """What a finished (or stopped) trial leaves: the last report, every report, and why it ended."""

    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = "completed"


@dataclass
class SharedData:
    """Prepared data tagged with the data config it was built from; a trial whose data config differs builds its own."""

    key: str
    data: Any


def prepare_shared_data(config: Mapping) -> SharedData:
    cfg = validate_config(config)
    return SharedData(data_key(cfg), get_task(cfg.task_name).prepare_data(cfg))


def pick_device(cfg: Config) -> torch.device:
    if cfg.train.device == "cuda" or (cfg.train.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def train(
    config: Mapping,
    *,
    data: SharedData | None = None,
    report: Reporter | None = None,
    resume_from: str | None = None,
    report_resumed: bool = False,
    recorded_up_to: int = 0,
    logdir: str | None = None,
) -> TrainResult:
    """Train one config to the end, or until it produces NaN/inf or collapses.

    Args:
        config: the plain nested config dict (never mutated).
        data: data prepared once by :func:`prepare_shared_data`; built here when missing or for another data config.
        report: called at every evaluation with the metrics and a checkpoint folder.
        resume_from: a checkpoint folder written by an earlier run of this loop; training continues exactly.
        report_resumed: the report of ``resume_from`` never reached the run's records (the process that received
            the reports was killed after the checkpoint was kept, before it recorded the report): report it again,
            with the same metrics and state, before training on, so that the trial's reports have no gap. Every
            checkpoint carries the reports made up to it: those after ``recorded_up_to`` (the step of the last
            report the records hold) are made again first, without a checkpoint.
        recorded_up_to: with ``report_resumed``, the last step whose report the run's records hold (0: none).
        logdir: where TensorBoard event files (scalars and image grids) go; nothing is written when None.
    """
    # 1) validate and set up the process: threads, heap, seed, device
    mark("train")
    cfg = validate_config(config)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    keep_freed_memory()
    device = pick_device(cfg)
    task_cls = get_task(cfg.task_name)
    if data is None or data.key != data_key(cfg):
        data = SharedData(data_key(cfg), task_cls.prepare_data(cfg))
    torch.manual_seed(cfg.train.seed)
    mark("data")
    task: Task = task_cls(cfg, data.data, device)
    mark("build")
    base_lrs = {name: [g["lr"] for g in opt.param_groups] for name, opt in task.optimizers.items()}

    # 2) resume, or measure the model's cost once; then the opt-in step options (the cost is the eager model's,
    # and measuring it on a compiled module would compile it once more for the cost input's shape)
    start_step, cost, resumed, reports, again = 0, {}, None, [], []
    if resume_from:
        start_step, cost, resumed, reports = _load_checkpoint(task, os.path.join(resume_from, CHECKPOINT_FILE),
                                                              device)
        if report_resumed and resumed is not None:
            again = [earlier for earlier in reports[:-1] if earlier.get("step", 0) > recorded_up_to] + [resumed]
            for earlier in again[:-1]:  # reports the records lack from before the checkpoint's own
                if report is not None:
                    report(dict(earlier), None)
            _report(report, task, start_step, cost, resumed, reports)  # before the step options change the modules
    if not cost:
        cost = trial_cost(task.modules[task.main_model], task.cost_input(cfg.train.cost_size))
    mark("cost")
    apply_step_options(task.modules, cfg.train)
    writer = TensorBoardLog(logdir) if logdir is not None else None
    mark("writer")
    # the writer's threads and open event file must not outlive a trial that raises or times out: a reused Ray
    # worker would keep them running
    try:
        # 3) train, evaluating every eval_every steps and at the end
        history: list[dict[str, Any]] = again  # every report this call makes
        loss_sums: dict[str, torch.Tensor] = {}
        finite = torch.ones((), dtype=torch.bool, device=device)
        data_seconds = step_seconds = 0.0
        steps_since_eval = 0
        metrics: dict[str, Any] = dict(history[-1]) if history else {}
        stop_reason = "completed"
        for step in range(start_step + 1, cfg.train.steps + 1):
            _set_lr(task, base_lrs, lr_factor(cfg.optim, step - 1, cfg.train.steps))
            torch.manual_seed(cfg.train.seed * 1_000_003 + step)  # dropout etc. replay exactly after a resume
            t0 = time.perf_counter()
            batch = task.sample_batch(np.random.default_rng([cfg.train.seed, step]))
            t1 = time.perf_counter()
            _inject_fault(cfg, step, "before")
            if cfg.train.fault == "degrade" and step == max(cfg.train.fault_step, 1):
                _reinitialise(task)
            losses = task.train_step(batch)
            if step == start_step + 1:
                mark("first step", step=step)
            if cfg.train.fault == "nan" and step >= cfg.train.fault_step:
                losses["loss"] = losses["loss"] * float("nan")
            step_seconds += time.perf_counter() - t0
            data_seconds += t1 - t0
            steps_since_eval += 1
            for name, value in losses.items():
                loss_sums[name] = loss_sums.get(name, 0) + value
            finite &= torch.isfinite(losses["loss"])
            check_now = step % 10 == 0 or step % cfg.train.eval_every == 0 or step == cfg.train.steps
            if check_now and not bool(finite):  # one host sync every 10 steps, not every step
                stop_reason = "nan"
            if stop_reason == "nan" or step % cfg.train.eval_every == 0 or step == cfg.train.steps:
                mark("evaluate", step=step)
                evaluation = task.evaluate()
                # the user's registered metrics (train.extra_metrics) on the same outputs
                evaluation.metrics.update(extra_metrics(cfg.train.extra_metrics, evaluation.outputs,
                                                        evaluation.targets))
                if cfg.train.fault == "collapse" and step >= cfg.train.fault_step and evaluation.outputs is not None:
                    evaluation.outputs = torch.zeros_like(evaluation.outputs)
                if stop_reason != "nan" and is_collapsed(evaluation, cfg.train.collapse_tolerance):
                    stop_reason = "collapsed"
                done = stop_reason != "completed" or step == cfg.train.steps
                metrics = {
                    "step": step,
                    "progress": step / cfg.train.steps,
                    "lr": task.optimizers[next(iter(task.optimizers))].param_groups[0]["lr"],
                    **{f"train/{k}": (v / steps_since_eval).item() for k, v in loss_sums.items()},
                    **_finite_or_nan(evaluation.metrics, stop_reason == "nan"),
                    **cost,
                    "time/step_ms": 1000 * step_seconds / steps_since_eval,
                    "time/data_share": data_seconds / max(step_seconds, 1e-12),
                    "stop_reason": stop_reason if done else "running",
                }
                history.append(metrics)
                reports.append(metrics)
                mark("tensorboard", step=step)
                if writer is not None:  # written by its own thread while the trial goes on
                    writer.log(step, metrics, evaluation.images)
                mark("checkpoint", step=step)
                _report(report, task, step, cost, metrics, reports)
                mark("reported", step=step)
                loss_sums, steps_since_eval, data_seconds, step_seconds = {}, 0, 0.0, 0.0
                if done:
                    break
    finally:
        if writer is not None:
            writer.close()
    mark("trained")
    return TrainResult(metrics, history, metrics.get("stop_reason", stop_reason))


def is_collapsed(evaluation: Evaluation, tolerance: float) -> bool:
    """True when the outputs for different inputs are (nearly) the same tensor.

    Compares how much the outputs vary across the evaluation batch with how much the targets do; it reuses the
    evaluation batch already computed, so it costs two reductions.
    """
    outputs, targets = evaluation.outputs, evaluation.targets
    if outputs is None or targets is None or outputs.shape[0] < 2:
        return False
    spread = outputs.float().std(dim=0).mean()
    scale = targets.float().std(dim=0).mean().clamp(min=1e-8)
    return bool(spread < tolerance * scale)


def _set_lr(task: Task, base_lrs: dict[str, list[float]], factor: float) -> None:
    for name, optimizer in task.optimizers.items():
        for group, base in zip(optimizer.param_groups, base_lrs[name]):
            group["lr"] = base * factor


def _finite_or_nan(metrics: dict[str, float], diverged: bool) -> dict[str, float]:
    """A diverged model's metrics are NaN, never the numbers of a broken forward pass that happen to be finite."""
    if not diverged:
        return dict(metrics)
    return {k: (v if "/ref_" in k else math.nan) for k, v in metrics.items()}


def _inject_fault(cfg: Config, step: int, when: str) -> None:
    """Deliberate faults (``train.fault``) so that the platform's fault handling can be tested on real sweeps."""
    fault = cfg.train.fault
    if fault in ("none", "nan", "collapse") or step != max(cfg.train.fault_step, 1):
        return
    if fault == "raise":
        raise RuntimeError(f"injected fault at step {step} (train.fault=raise)")
    if fault == "oom":
        raise torch.OutOfMemoryError(f"injected out-of-memory at step {step} (train.fault=oom)")
    if fault == "hang":
        while True:
            time.sleep(1)


def _reinitialise(task: Task) -> None:
    """``train.fault=degrade``: the weights start over once (seeded by the step, so a resumed trial replays it), as
    a trial that blows up and trains on from a far worse point; its validation values fall below their peak."""
    for module in task.modules.values():
        for layer in module.modules():
            if hasattr(layer, "reset_parameters"):
                layer.reset_parameters()


def _report(report: Reporter | None, task: Task, step: int, cost: dict, metrics: dict,
            reports: list[dict] | None = None) -> None:
    """Save the state with ``metrics`` and ``reports`` (every report of the trial up to this one) and report it."""
    if report is None:
        return
    state = {
        "step": step,
        "cost": cost,
        "modules": {k: m.state_dict() for k, m in task.modules.items()},
        "optimizers": {k: o.state_dict() for k, o in task.optimizers.items()},
        "extra": task.extra_state(),
        "scalers": task.scaler_state(),
        "metrics": metrics,  # reported again by a resume that finds this report missing from the run's records
        "reports": list(reports or [metrics]),  # and those before it that the records lack
    }
    folder = _save_staged(state)
    try:
        mark("saved", step=step)
        report(metrics, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _save_staged(state: dict) -> str:
    """``state`` saved whole in a new folder of the system's temporary folder (the reporter copies or links it into
    the run's storage; staged outside the run, a full run disk fails that copy, where the sweep reports it, and not
    the trial); the folder."""
    folder = tempfile.mkdtemp(prefix=STAGED_CHECKPOINT_PREFIX)
    try:
        tmp = os.path.join(folder, CHECKPOINT_FILE + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, os.path.join(folder, CHECKPOINT_FILE))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def _load_checkpoint(task: Task, path: str, device: torch.device) -> tuple[int, dict, dict | None, list[dict]]:
    """Load the state at ``path`` into ``task``; returns its step, the model's cost, the metrics reported with it
    (None: a checkpoint saved without them) and the trial's reports up to it (its own last; only its own, or none,
    from a checkpoint saved without them)."""
    state = torch.load(path, map_location=device, weights_only=False)
    for name, module in task.modules.items():
        module.load_state_dict(state["modules"][name])
    for name, optimizer in task.optimizers.items():
        optimizer.load_state_dict(state["optimizers"][name])
    task.load_extra_state(state.get("extra", {}))
    task.load_scaler_state(state.get("scalers", {}))
    metrics = dict(state["metrics"]) if isinstance(state.get("metrics"), dict) else None
    reports = [dict(r) for r in state.get("reports") or [] if isinstance(r, dict)]
    if metrics is not None and (not reports or reports[-1].get("step") != metrics.get("step")):
        reports = [metrics]  # saved without its earlier reports
    return int(state["step"]), dict(state.get("cost", {})), metrics, reports if metrics is not None else []
