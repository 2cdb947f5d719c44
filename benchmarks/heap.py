#!/usr/bin/env python
"""A training process's heap kept (``restore_core/heap.py``, the default) against glibc's defaults
(``RESTORE_HEAP=system``), side by side in one run.

Each round starts two fresh interpreters at the same time, one torch thread each (on two cores, a core each), one
with each heap setting. Each prepares the data and trains ``--trials`` trials of the space's quick profile (first
row of its grid, ``--steps`` steps, TensorBoard off) through the training loop, one after the other, as a reused
trial worker does, and reports per trial its wall seconds, its minor page faults and system CPU seconds, and the
process's peak resident memory at its end. The table gives each setting's median over rounds, the first trial (the
process's first, with the data preparation's memory in its heap) apart from the later ones, and the ratio kept /
system of the two trials that ran beside each other (median over rounds, the range in brackets: below 1 is faster).

    python benchmarks/heap.py                                   # lsid_lr, 150 steps, 2 trials a process, 2 rounds
    python benchmarks/heap.py --space lamba_loss --steps 100 --trials 3 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import search_spaces  # noqa: E402
from restore_core import cli  # noqa: E402
from restore_core.config import set_path  # noqa: E402
from restore_core.errors import UserError  # noqa: E402
from restore_core.heap import ENV, user_set_heap  # noqa: E402

SETTINGS = ("keep", "system")


def trial_config(space_name: str, steps: int) -> dict:
    """The space's quick profile, first trial of its grid, ``steps`` steps on one thread, without TensorBoard."""
    space = search_spaces.get_space(space_name)
    config = space.resolve(space.base_config("quick"), space.grid_trials(1)[0])
    for path, value in (("train.steps", steps), ("train.threads", 1), ("train.device", "cpu")):
        config = set_path(config, path, value)
    return config


def train_trials(config: dict, trials: int) -> dict:
    """In this process: the data prepared once, then ``trials`` trials of ``config``; each trial's seconds, minor
    page faults and system CPU seconds, and the process's peak resident memory (MiB)."""
    from restore_core.heap import keep_freed_memory
    from restore_core.loop import prepare_shared_data, train

    shared = prepare_shared_data(config)
    rows = []
    for _ in range(trials):
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        train(config, data=shared)
        seconds, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
        rows.append({"seconds": seconds, "faults": after.ru_minflt - before.ru_minflt,
                     "system_s": after.ru_stime - before.ru_stime})
    return {"kept": keep_freed_memory(), "trials": rows,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def one_round(args: argparse.Namespace) -> dict[str, dict]:
    """Both settings' processes, started together; what each reported."""
    argv = [sys.executable, os.path.abspath(__file__), "--space", args.space, "--steps", str(args.steps),
            "--trials", str(args.trials), "--child"]
    processes = {setting: subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                           env={**os.environ, ENV: setting}) for setting in SETTINGS}
    found = {}
    for setting, process in processes.items():
        out, _ = process.communicate()
        if process.returncode:
            raise RuntimeError(f"the {setting} process failed (exit status {process.returncode}; its output is "
                               "above)")
        found[setting] = json.loads(out.strip().splitlines()[-1])
    if found["keep"]["kept"] is not True or found["system"]["kept"] is not False:
        raise RuntimeError(f"the heap settings did not take: {found['keep']['kept']}, {found['system']['kept']}")
    return found


def table(rounds: list[dict[str, dict]]) -> list[str]:
    """The Markdown rows: each setting's first and later trials (medians over rounds) and the ratios."""
    lines = ["| heap | trial | seconds | minor page faults | system CPU (s) | peak memory (MiB) | kept / system |",
             "|---|---|---:|---:|---:|---:|---|"]
    for which, pick in (("first", slice(0, 1)), ("later", slice(1, None))):
        if not rounds[0]["keep"]["trials"][pick]:
            continue
        ratios = [statistics.median(k["seconds"] for k in r["keep"]["trials"][pick])
                  / statistics.median(s["seconds"] for s in r["system"]["trials"][pick]) for r in rounds]
        for setting in SETTINGS:
            trials = [t for r in rounds for t in r[setting]["trials"][pick]]
            peak = statistics.median(r[setting]["peak_mib"] for r in rounds)
            ratio = (f"**{statistics.median(ratios):.3f}** [{min(ratios):.3f}, {max(ratios):.3f}]"
                     if setting == "keep" else "")
            lines.append(f"| {setting} | {which} | {statistics.median(t['seconds'] for t in trials):.2f} | "
                         f"{statistics.median(t['faults'] for t in trials):,.0f} | "
                         f"{statistics.median(t['system_s'] for t in trials):.2f} | {peak:.0f} | {ratio} |")
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("--space", default="lsid_lr", help="the search space whose quick trial is trained")
    parser.add_argument("--steps", type=cli.whole_number(1), default=150, help="training steps a trial")
    parser.add_argument("--trials", type=cli.whole_number(1), default=2, help="trials a process, one after another")
    parser.add_argument("--rounds", type=cli.whole_number(1), default=2, help="rounds of the two processes")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> int:
        config = trial_config(args.space, args.steps)
        if args.child:
            print(json.dumps(train_trials(config, args.trials)))
            return 0
        if user_set_heap():
            raise UserError("the environment sets glibc's malloc thresholds (MALLOC_*_ or glibc.malloc tunables), "
                            "which both processes would inherit; unset them to compare the two heap settings")
        print(json.dumps({"space": args.space, "steps": args.steps, "trials": args.trials, "rounds": args.rounds}))
        rounds = []
        for n in range(args.rounds):
            rounds.append(one_round(args))
            print(f"round {n + 1}/{args.rounds}: kept {[round(t['seconds'], 1) for t in rounds[-1]['keep']['trials']]}"
                  f" s, system {[round(t['seconds'], 1) for t in rounds[-1]['system']['trials']]} s", flush=True)
        print("\n".join(table(rounds)))
        return 0

    return cli.run_user_facing(run, interrupted="interrupted")


if __name__ == "__main__":
    sys.exit(main())
