#!/usr/bin/env python
"""The bare loop that ``overhead.py`` measures a sweep against: the sweep's trials trained by the core alone, as a
researcher's own script would train them, started as a process of its own. Like ``sweeps/run.py`` it pays the
interpreter's start and the imports of torch and the core, then prepares the data once and trains the configs
``--concurrency`` at a time in forked processes (one torch thread each, at ``--niceness``: the niceness Ray gives the
sweep's workers). It prints one JSON line: the trials' steps and its own seconds from its first line to its end.

    python benchmarks/bare_loop.py --configs configs.json --concurrency 1
    python benchmarks/bare_loop.py --configs configs.json --concurrency 2 --test-on val/psnr   # + the test evaluation

``--configs`` is a JSON list of resolved trial configs (``overhead.py`` writes the sweep's). With ``--test-on`` each
trial keeps the checkpoint of its best validation evaluation by that metric (``--lower-is-better`` for a loss) and
evaluates it on test when it ends, as the sweep does. With ``RESTORE_TIMELINE`` set it marks ``bare: imported``
after its imports and ``bare: data`` after the data, besides the loop's marks of each trial.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from multiprocessing import get_context  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from restore_core import cli  # noqa: E402
from restore_core.errors import UserError  # noqa: E402
from restore_core.evaluate import evaluate_checkpoint  # noqa: E402
from restore_core.loop import prepare_shared_data, train  # noqa: E402
from restore_core.run_files import select_report  # noqa: E402
from restore_core.timeline import mark  # noqa: E402

_SHARED = None  # the prepared data, inherited by the forked workers
_TESTED_ON = None  # (metric, lower is better): each trial's best checkpoint evaluated on test at its end


def train_keeping_best(config: dict, shared, folder: str, metric: str, lower: bool) -> list[dict]:
    """Train one trial through the loop, keeping the checkpoint of its best validation evaluation in
    ``folder/best`` (as Ray keeps it, with the sweep's selection rule); returns its reports."""
    reports: list[dict] = []

    def keep_best(metrics: dict, checkpoint: str | None) -> None:
        reports.append(dict(metrics))
        if checkpoint and select_report(reports, metric, lower) is reports[-1]:
            shutil.rmtree(os.path.join(folder, "best"), ignore_errors=True)
            shutil.copytree(checkpoint, os.path.join(folder, "best"))

    train(config, data=shared, report=keep_best)
    return reports


def _run(config: dict) -> int:
    import torch

    torch.set_num_threads(1)
    mark("bare trial")
    if _TESTED_ON is None:
        return train(config, data=_SHARED).metrics["step"]
    folder = tempfile.mkdtemp(prefix="bare-trial-")
    try:
        reports = train_keeping_best(config, _SHARED, folder, *_TESTED_ON)
        mark("bare test evaluation")
        evaluate_checkpoint(config, os.path.join(folder, "best"), "test", _SHARED)
        mark("bare tested")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return reports[-1]["step"]


def train_all(configs: list[dict], concurrency: int, niceness: int = 0,
              tested_on: tuple[str, bool] | None = None) -> list[int]:
    """Prepare the data once and train ``configs`` ``concurrency`` at a time in forked processes; returns the
    steps each trained."""
    global _SHARED, _TESTED_ON
    _SHARED = prepare_shared_data(configs[0])
    mark("bare: data")
    _TESTED_ON = tested_on
    with ProcessPoolExecutor(concurrency, mp_context=get_context("fork"), initializer=os.nice,
                             initargs=(niceness,)) as pool:
        return list(pool.map(_run, configs))


def read_configs(path: str) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as handle:
            configs = json.load(handle)
    except (OSError, ValueError) as err:
        raise UserError(f"--configs {path}: {err}; expected a JSON list of trial configs (overhead.py writes "
                        "one)") from None
    if not isinstance(configs, list) or not configs or not all(isinstance(c, dict) for c in configs):
        raise UserError(f"--configs {path}: expected a non-empty JSON list of trial configs (objects)")
    return configs


def build_parser() -> argparse.ArgumentParser:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("--configs", required=True, help="a JSON list of resolved trial configs")
    parser.add_argument("--concurrency", type=cli.whole_number(1), default=1, help="trials at once")
    parser.add_argument("--niceness", type=cli.whole_number(0), default=15,
                        help="the trials' processes run at this niceness (Ray's workers: 15)")
    parser.add_argument("--test-on", default=None,
                        help="keep each trial's best checkpoint by this validation metric and evaluate it on test")
    parser.add_argument("--lower-is-better", action="store_true", help="the --test-on metric is a loss")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> int:
        configs = read_configs(args.configs)
        mark("bare: imported")
        tested_on = (args.test_on, args.lower_is_better) if args.test_on else None
        steps = train_all(configs, args.concurrency, args.niceness, tested_on)
        print(json.dumps({"trials": len(steps), "steps": steps, "seconds": time.perf_counter() - STARTED}))
        return 0

    return cli.run_user_facing(run, interrupted="interrupted")


if __name__ == "__main__":
    sys.exit(main())
