#!/usr/bin/env python
"""The fixed cost of one trial, part by part: what a sweep's trial pays besides its training steps, measured side by
side in one process on an lsid_lr trial (quick profile, 150 steps by default), and, from a FIFO run that
``overhead.py --storage`` kept, the time between one trial's end and the next trial's start on the same worker.

    python benchmarks/trial_cost.py                                  # the parts, 150-step trials
    python benchmarks/trial_cost.py --run runs/bench/lsid_lr/overhead # also the hand-over measured in that run
    python benchmarks/trial_cost.py --timeline t.jsonl   # instead: each part of each trial of a run with a timeline

The parts: the data hand-over (the shared data the driver put in Ray's object store, fetched by a Ray worker as
``tune.with_parameters`` does at every trial's start), Ray's own cost of ending one trial and starting the next on a
reused worker (empty trials, one after another), the model build (the task: model, optimizer, validation
tensors), the model's cost (parameters, MACs and inference latency, reported with every result: measured, and as a
later trial of the same architecture in the same worker pays it: parameters and MACs counted once), the checkpoints
(one at every evaluation: the state saved by the loop, then put into the run's storage through its filesystem as
Ray does, and the previous one removed: copied from the system's temporary folder, as before, or linked from the
trial's folder, as now), the memory released between trials (a full garbage collection, with the worker's imports
in its reach, as before, and frozen, as now), and the result files (the trial's TensorBoard writer: scalars and
image grids at every evaluation). The bare loop of ``overhead.py`` pays the model build and its cost too; the rest
is the platform's.
With ``--run``, the gap between trials on one worker comes from the wall times in their TensorBoard event files
(a trial's first event is written when its loop opens the writer, after the model build and cost; its last when
the trial closes its HParams session, after its last report): it holds the end of one trial (its memory
released), Ray's start of the next, its setup, data, model build and cost.

``--timeline FILE`` reads what a run with ``RESTORE_TIMELINE`` set marked (``overhead.py --timeline``) instead of
measuring: each part of every trial, the median over the trials of each path (``benchmarks/timeline.py``).
"""

from __future__ import annotations

import argparse
import gc
import glob
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import pyarrow.fs  # noqa: E402
import torch  # noqa: E402

from benchmarks.sweep_runs import check_sweep_argv  # noqa: E402
from benchmarks.timeline import table as timeline_table  # noqa: E402
from restore_core import cli  # noqa: E402
from restore_core.cost import model_cost  # noqa: E402
from restore_core.cost import trial_cost as counted_cost  # noqa: E402
from restore_core.errors import DataError  # noqa: E402
from restore_core.loop import _report, prepare_shared_data  # noqa: E402
from restore_core.schema import validate_config  # noqa: E402
from restore_core.tasks import get_task  # noqa: E402
from restore_core.tb_log import TensorBoardLog  # noqa: E402
from sweeps.cluster.atomic_fs import atomic_local_filesystem  # noqa: E402

# How a checkpoint reaches the run: copied from the local filesystem (as Ray does by default), or handed over on the
# run's own filesystem, which links it where the temporary folder is on the run's device (as the trainable does)
HANDOVERS = {"copied": False, "linked": True}


def trial_config(steps: int) -> dict:
    """The first trial of the lsid_lr grid (quick profile, one torch thread), cut to ``steps``."""
    with tempfile.TemporaryDirectory(prefix="trial-cost-") as storage:
        argv = ["--space", "lsid_lr", "--search", "grid", "--scheduler", "fifo", "--storage", storage, "--name", "cost",
                "--set", "train.threads=1", "--set", f"train.steps={steps}"]
        plan = check_sweep_argv("trial cost", argv)
    return plan.space.resolve(plan.base, plan.trials[0])


def timed(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def _empty_trial(config: dict) -> None:
    from ray import tune

    tune.report({"step": 1})


def empty_trials_seconds(trials: int, storage: str, name: str) -> float:
    """Wall seconds per trial of ``trials`` trials that only report once, one at a time on one reused worker: Ray's
    own cost of ending one trial and starting the next."""
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback

    tuner = tune.Tuner(_empty_trial, param_space={"index": tune.grid_search(list(range(trials)))},
                       tune_config=tune.TuneConfig(reuse_actors=True, max_concurrent_trials=1),
                       run_config=tune.RunConfig(name=name, storage_path=storage, verbose=0,
                                                 callbacks=[JsonLoggerCallback()]))
    seconds, results = timed(tuner.fit)
    assert not results.errors
    return seconds / trials


def ray_parts(shared, repeats: int, trials: int) -> list[tuple[str, float, str]]:
    """The parts measured on a local Ray (one CPU): the data hand-over (median of ``repeats``), and the wall time per
    trial of empty trials on one reused worker."""
    import ray

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        ref = ray.put(shared)

        @ray.remote(num_cpus=1)
        def fetch(refs: list) -> float:
            start = time.perf_counter()
            ray.get(refs[0])
            return time.perf_counter() - start

        ray.get(fetch.remote([ref]))  # the worker process started, off the clock
        rows = [("data hand-over (object store to worker)",
                 statistics.median(ray.get(fetch.remote([ref])) for _ in range(repeats)), "platform")]
        with tempfile.TemporaryDirectory(prefix="trial-cost-") as storage:
            empty_trials_seconds(2, storage, "warm-up")  # Ray's first trial starts its machinery, off the clock
            rows.append((f"an empty trial on a reused worker, start to end (Ray alone; {trials} trials)",
                         empty_trials_seconds(trials, storage, "empty"), "platform"))
        return rows
    finally:
        ray.shutdown()


def checkpoint_seconds(task, storage: str, linked: bool) -> float:
    """One evaluation's checkpoint: saved by the loop into the system's temporary folder, put into ``storage``
    through the run's filesystem as Ray persists it (``linked``: handed over on that filesystem, so that it links
    where the temporary folder is on the run's device, as the trainable does; else from the local one, a copy), the
    previous one removed (``num_to_keep=1``)."""
    from ray.train._internal.storage import _pyarrow_fs_copy_files

    run_filesystem = atomic_local_filesystem()
    source = run_filesystem if linked else pyarrow.fs.LocalFileSystem()

    def persist(metrics, folder):
        target = os.path.join(storage, f"checkpoint_{time.perf_counter_ns()}")
        os.makedirs(target)
        _pyarrow_fs_copy_files(folder, target, source_filesystem=source, destination_filesystem=run_filesystem)
        for old in glob.glob(os.path.join(storage, "checkpoint_*")):
            if old != target:
                shutil.rmtree(old)

    return timed(lambda: _report(persist, task, 100, {}, {}))[0]


def collection_seconds(repeats: int) -> tuple[float, float]:
    """A full garbage collection in this process (torch, Ray and TensorBoard imported, a task built): the median
    of ``repeats`` with every object in the collector's reach, and with what is alive now frozen first, as a
    worker's first trial does (``sweeps.driver.trainable``). The objects are unfrozen again afterwards."""
    before = statistics.median(timed(gc.collect)[0] for _ in range(repeats))
    gc.freeze()
    try:
        after = statistics.median(timed(gc.collect)[0] for _ in range(repeats))
    finally:
        gc.unfreeze()
    return before, after


def result_files_seconds(task, logdir: str, evaluations: int) -> tuple[float, float]:
    """The trial's TensorBoard log: opened, one evaluation's scalars and images per evaluation, closed. Returns the
    seconds of all of it, and of the part the trial waits for (the log's thread writes the evaluations)."""
    evaluation = task.evaluate()
    metrics = {"step": 100, **evaluation.metrics, "time/step_ms": 1.0}
    waited = 0.0

    def write():
        nonlocal waited
        start = time.perf_counter()
        writer = TensorBoardLog(logdir)
        for step in range(evaluations):
            writer.log(step, metrics, evaluation.images)
        waited = time.perf_counter() - start
        writer.close()

    return timed(write)[0], waited


def measure_once(cfg, shared, work: str, evaluations: int) -> dict[str, float]:
    """One trial's model build, model cost, checkpoints (copied and linked) and result files, in seconds."""
    task_cls = get_task(cfg.task_name)
    seconds = {}
    seconds["build"], task = timed(lambda: task_cls(cfg, shared.data, torch.device("cpu")))
    model, example = task.modules[task.main_model], task.cost_input(cfg.train.cost_size)
    seconds["cost"] = timed(lambda: model_cost(model, example))[0]
    counted_cost(model, example)  # the first trial of this architecture in the process measures it
    seconds["cost, later trials"] = timed(lambda: counted_cost(model, example))[0]
    for where, linked in HANDOVERS.items():
        seconds[where] = evaluations * checkpoint_seconds(task, os.path.join(work, "run"), linked)
    seconds["results"], seconds["results, waited"] = result_files_seconds(task, tempfile.mkdtemp(dir=work),
                                                                          evaluations)
    return seconds


def step_seconds(cfg, shared, steps: int) -> float:
    """Seconds of one training step (the mean of ``steps``), to give the parts a scale."""
    task = get_task(cfg.task_name)(cfg, shared.data, torch.device("cpu"))
    return timed(lambda: [task.train_step(task.sample_batch(np.random.default_rng([0, step])))
                          for step in range(steps)])[0] / steps


def parts(args: argparse.Namespace) -> list[tuple[str, float, str]]:
    config = trial_config(args.steps)
    cfg = validate_config(config)
    torch.set_num_threads(1)
    evaluations = -(-cfg.train.steps // cfg.train.eval_every)
    shared = prepare_shared_data(config)
    rows = ray_parts(shared, args.repeats, args.empty_trials)
    work = tempfile.mkdtemp(prefix="trial-cost-")  # the run's storage, on the temporary folder's device
    try:
        measured = [measure_once(cfg, shared, work, evaluations) for _ in range(args.repeats)]
        step = step_seconds(cfg, shared, args.probe_steps)
        collected = collection_seconds(args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def median(key: str) -> float:
        return statistics.median(m[key] for m in measured)

    rows += [("model build (task: model, optimizer, validation tensors)", median("build"), "both"),
             ("model cost (params, MACs, latency), measured", median("cost"), "both"),
             ("model cost, a later trial of the architecture in the worker", median("cost, later trials"), "both")]
    rows += [(f"checkpoints ({evaluations}, {where} into the run)", median(where), "platform") for where in HANDOVERS]
    rows += [("memory released between trials (full collection), imports in reach", collected[0], "platform"),
             ("the same, the worker's imports frozen", collected[1], "platform")]
    rows += [(f"result files (TensorBoard, {evaluations} evaluations), written", median("results"), "platform"),
             ("the same, the part the trial waits for (the rest in the log's thread)", median("results, waited"),
              "platform"),
             (f"for scale: {cfg.train.steps} training steps", step * cfg.train.steps, "both")]
    return rows


def handover(run_dir: str) -> tuple[int, float, float] | None:
    """From a run's TensorBoard event files: the gaps between one trial's last event and the next trial's first on
    the same worker process (pid in the file names). A trial's folder holds two files (the loop's curves and images,
    the trial's HParams and text): its span runs from the first event of either to the last. Returns (gaps, median,
    mean) seconds; None without two trials on one worker."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    times = defaultdict(list)  # (pid, trial folder) -> wall times
    for path in glob.glob(os.path.join(run_dir, "*", "events.out.tfevents.*")):
        times[path.rsplit(".", 2)[-2], os.path.dirname(path)] += [e.wall_time for e in EventFileLoader(path).Load()]
    spans = defaultdict(list)  # pid -> [(first, last)]
    for (pid, _), found in times.items():
        if found:
            spans[pid].append((min(found), max(found)))
    gaps = [b[0] - a[1] for runs in spans.values() for a, b in zip(sorted(runs), sorted(runs)[1:])]
    if not gaps:
        return None
    return len(gaps), statistics.median(gaps), statistics.mean(gaps)


def build_parser() -> argparse.ArgumentParser:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("--steps", type=cli.whole_number(1), default=150, help="train.steps of the trial")
    parser.add_argument("--repeats", type=cli.whole_number(1), default=5, help="measurements of each part (median)")
    parser.add_argument("--probe-steps", type=cli.whole_number(1), default=10,
                        help="training steps timed to give the parts a scale")
    parser.add_argument("--empty-trials", type=cli.whole_number(1), default=8,
                        help="empty trials run one after another for Ray's own cost between trials")
    parser.add_argument("--run", help="a FIFO run kept by overhead.py --storage: the hand-over between its trials")
    parser.add_argument("--timeline", help="print the parts of the trials this timeline file marked, instead of "
                        "measuring them (overhead.py --timeline writes one)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> int:
        if args.timeline:
            print(timeline_table(args.timeline))
            return 0
        if args.run and not glob.glob(os.path.join(args.run, "*", "events.out.tfevents.*")):
            raise DataError(f"--run {args.run}: no trial folder with TensorBoard events there; expected a run kept "
                            "by benchmarks/overhead.py --storage (<storage>/lsid_lr/overhead)")
        print("| part of a trial | seconds per trial | paid by |\n|---|---:|---|")
        for name, seconds, who in parts(args):
            print(f"| {name} | {seconds:.3f} | {who} |")
        gaps = handover(args.run) if args.run else None
        if gaps:
            print(f"| between trials on one worker ({gaps[0]} gaps), median / mean | {gaps[1]:.3f} / {gaps[2]:.3f} "
                  "| last checkpoint, Ray, data, model build and cost |")
        return 0

    return cli.run_user_facing(run, interrupted="interrupted")


if __name__ == "__main__":
    sys.exit(main())
