"""The test evaluation of a run: each trial's checkpoint selected on validation, evaluated once on the test split.

Ray kept, in every trial folder, the checkpoint of the trial's best validation evaluation beside its latest one
(``CheckpointConfig(num_to_keep=1, checkpoint_score_attribute=<metric>)``). When the trial has ended (completed,
stopped by the scheduler, or paused when the sweep ended), :func:`evaluate_run_on_test` evaluates the selected one
on the test split and writes ``test.json`` into the trial folder (``restore_core.run_files``): the test metrics, the
selected step, and the first test image's input, output and target; for a trial that fell from its peak
(``degraded``), also the last checkpoint's output on that image, for the report to show beside it.

The sweep runs it when the tuner returns (and when a ``--resume`` returns), ``python -m analysis`` before it reads
the run. ``test.json`` is written atomically once the evaluation is done, so a trial evaluated on test is never
evaluated again, and one a killed driver did not finish is evaluated by the next resume or analysis. A trial that
crashed or diverged is not evaluated (the tables do not count it); nor is one whose reports name no checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import torch

from analysis.load import (
    error_line,
    load_space,
    lower_is_better,
    manifest_value,
    read_manifest,
    read_results,
    read_status,
    read_trial,
    trial_dirs,
    trial_status,
)
from restore_core.evaluate import evaluate_checkpoint, first_image_crops
from restore_core.loop import prepare_shared_data
from restore_core.run_files import degradation, encode_png, is_tested, read_test, select_report, write_test
from restore_core.schema import data_key, validate_config
from restore_core.tasks import get_task

NOT_EVALUATED = ("error", "nan")  # the statuses whose trials the tables do not count


@dataclass
class HeldOutEvaluations:
    """What one pass evaluated: the trial folders evaluated now, those left out with the reason, and the seconds."""

    evaluated: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    side_by_side: int = 1  # evaluations at a time

    def describe(self) -> str:
        said = f"evaluated {len(self.evaluated)} trial(s) on the test split in {self.seconds:.1f} s"
        said += f" ({self.side_by_side} at a time)" if self.side_by_side > 1 else ""
        return said + "".join(f"; {os.path.basename(d)}: {why}" for d, why in self.skipped.items())


def evaluate_run_on_test(run_dir: str, shared: Mapping | None = None, device=None,
                         log: Callable[[str], None] | None = None, folders: Mapping[str, str] | None = None,
                         eval_sets: dict | None = None) -> HeldOutEvaluations:
    """Evaluate on test every trial of ``run_dir`` whose selected checkpoint has no ``test.json`` yet.

    On CPU the checkpoints are evaluated side by side, in as many threads as the machine's cores hold trials of
    ``train.threads`` torch threads each, where every trial's task says it can be (``Task.evaluated_side_by_side``;
    one at a time otherwise, and on a GPU): the trials have ended, and their cores are free.

    Args:
        run_dir: ``runs/<space>/<name>`` on this machine's filesystem.
        shared: prepared data by data key (the sweep's, so that the driver prepares nothing twice); other data is
            prepared here once per data config.
        device: where to evaluate (default: this machine's GPU where it has one, else its CPU, whatever device the
            trials trained on: the driver or the machine analysing a copy may have none).
        log: called with a line when something was evaluated or left out (default: stderr).
        folders: only these trial folders of the run, each with the folder its records (``params.json``, the
            reports, ``status.json``) are read from: a sweep's driver, evaluating a trial as it ends, reads them
            from Ray's staging copy, which its run folder receives later (default: every trial folder, read there).
        eval_sets: the tasks' evaluation sets by config (``restore_core.evaluate.load_checkpoint_task``), kept by
            a caller that evaluates a run's trials in several passes; a new dict by default.
    """
    log = log or (lambda line: print(line, file=sys.stderr))
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    manifest = read_manifest(run_dir)
    space = load_space(manifest)
    metric, mode = manifest_value(manifest, space, "metric"), manifest_value(manifest, space, "mode")
    lower = lower_is_better(metric, mode)
    done = HeldOutEvaluations()
    start = time.perf_counter()
    jobs = _jobs(run_dir, space, manifest, metric, lower, dict(shared or {}), done, folders)
    cores = len(os.sched_getaffinity(0))
    threads = max((job.threads or cores for job in jobs), default=1)
    side_by_side = device.type == "cpu" and all(job.side_by_side for job in jobs)
    workers = done.side_by_side = max(1, min(len(jobs), cores // threads)) if side_by_side else 1
    eval_sets = {} if eval_sets is None else eval_sets  # built once per data and config, not per checkpoint
    with torch_threads(threads), ThreadPoolExecutor(workers, thread_name_prefix="test-evaluation") as pool:
        futures = [pool.submit(_evaluate, job, metric, lower, device, eval_sets) for job in jobs]
        try:
            for job, future in zip(jobs, futures):
                reason = future.result()
                if reason is None:
                    done.evaluated.append(job.folder)
                else:
                    done.skipped[job.folder] = reason
        except BaseException:  # Ctrl-C: the evaluations under way finish (and are kept), the others do not start
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    done.seconds = time.perf_counter() - start
    if done.evaluated or done.skipped:
        log(done.describe())
    return done


@dataclass
class _Job:
    """One trial's test evaluation, its data prepared."""

    folder: str
    config: dict
    reports: list[dict]
    selected: dict
    data: Any
    threads: int | None
    degrade_tolerance: float
    side_by_side: bool  # the task's evaluated_side_by_side


def _jobs(run_dir: str, space, manifest: dict, metric: str, lower: bool, cache: dict,
          done: HeldOutEvaluations, folders: Mapping[str, str] | None = None) -> list[_Job]:
    """The trials to evaluate, in order, with their data prepared (once per data config); those that cannot be are
    put in ``done.skipped``."""
    jobs = []
    for folder, records in (folders or {folder: folder for folder in trial_dirs(run_dir)}).items():
        _, config = read_trial(space, manifest, records)
        reports = read_results(records)
        status, _ = trial_status(reports, read_status(records), error_line(records))
        selected = select_report(reports, metric, lower)
        if status in NOT_EVALUATED or selected is None or is_tested(read_test(folder), selected):
            continue
        checkpoint = selected.get("checkpoint_dir_name")
        if not checkpoint:  # a run written without checkpoints (or by hand): nothing to evaluate
            continue
        if not os.path.isdir(os.path.join(folder, checkpoint)):
            done.skipped[folder] = f"the checkpoint of step {selected.get('step')} ({checkpoint}) is gone"
            continue
        try:
            cfg = validate_config(config)
            key = data_key(cfg)
            if key not in cache:
                cache[key] = prepare_shared_data(config)
        except Exception as error:  # noqa: BLE001 - see _evaluate
            done.skipped[folder] = _not_evaluated(error)
            continue
        jobs.append(_Job(folder, config, reports, selected, cache[key], cfg.train.threads,
                         cfg.train.degrade_tolerance, get_task(cfg.task_name).evaluated_side_by_side))
    return jobs


def _evaluate(job: _Job, metric: str, lower: bool, device: torch.device, eval_sets: dict) -> str | None:
    """Evaluate one trial's selected checkpoint (and, for a degraded trial, its last) and write its ``test.json``;
    None, or why it was not evaluated."""
    checkpoint = job.selected["checkpoint_dir_name"]
    try:
        result = evaluate_checkpoint(job.config, os.path.join(job.folder, checkpoint), "test", job.data, device,
                                     eval_sets)
        record = {
            "step": int(job.selected.get("step", result.step)), "checkpoint": checkpoint, "metric": metric,
            "value": job.selected.get(metric), "metrics": _numbers(result.evaluation.metrics),
            "images": {name: encode_png(crop) for name, crop in first_image_crops(result.evaluation).items()},
            "tables": result.evaluation.tables, "seconds": round(result.seconds, 3),
            "device": result.device,
        }
        fell = degradation(job.reports, metric, lower, job.degrade_tolerance)
        last = job.reports[-1].get("checkpoint_dir_name")
        if fell is not None and last and last != checkpoint and os.path.isdir(os.path.join(job.folder, last)):
            later = evaluate_checkpoint(job.config, os.path.join(job.folder, last), "test", job.data, device,
                                        eval_sets)
            record["last"] = {"step": int(job.reports[-1].get("step", later.step)), "checkpoint": last,
                              "images": {name: encode_png(crop)
                                         for name, crop in first_image_crops(later.evaluation).items()}}
    except Exception as error:  # noqa: BLE001 - one trial that cannot be evaluated (its data.root missing on the
        # machine analysing a copy, a user's task without a test split) must not cost the others theirs
        return _not_evaluated(error)
    write_test(job.folder, record)
    return None


def _not_evaluated(error: Exception) -> str:
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"not evaluated on test: {reason}"


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """torch's CPU threads set to ``count`` (a trial's ``train.threads``; None: left as they are) while the block runs.

    A checkpoint is evaluated with the threads its trial trained with: torch's default, a thread per core, waits on
    itself beside other work (a quick SID U-Net's test evaluation took 3-8 times as long with 2 threads as with 1 at
    a load of 3-4 on 2 cores, ``benchmarks/trial_cost.py --timeline``)."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _numbers(metrics: Mapping) -> dict:
    """The metrics a trial's reports would hold: numbers and strings (e.g. which pretrained weights it used)."""
    return {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
            for k, v in metrics.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
