"""The argument parser of ``sweeps/run.py`` and the translation of user errors into one line and exit code 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from restore_core.config import parse_value
from restore_core.errors import UserError
from restore_core.sweep.options import SCHEDULERS, SEARCHES, SweepOptions


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit code 2, like every other bad input
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sweeps/run.py",
        description="Run a Ray Tune sweep of a named search space and write its tables and report.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--space", help="the search space to sweep (see --list)")
    parser.add_argument("--list", action="store_true", help="list the spaces with their descriptions and exit")
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"),
                        help="smoke: seconds per trial; quick: minutes on a laptop CPU; paper: the published recipe")
    parser.add_argument("--search", choices=SEARCHES, help="search algorithm (default: the space's)")
    parser.add_argument("--scheduler", choices=SCHEDULERS, help="trial scheduler (default: the space's)")
    parser.add_argument("--num-samples", type=int, help="configurations proposed by random/optuna search")
    parser.add_argument("--seeds", type=int, default=1, help="repeat each configuration with this many seeds")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.steps=500 (repeatable)")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs (and torch threads) per trial")
    parser.add_argument("--gpus-per-trial", type=float, default=0.0, help="GPUs per trial; 0.25 packs four on one GPU")
    parser.add_argument("--max-concurrent", type=int, help="at most this many trials at once")
    parser.add_argument("--max-failures", type=int, default=0, help="retry a failed trial this many times")
    parser.add_argument("--name", help="run name (default: <profile>-<search>-<scheduler>-<time>)")
    parser.add_argument("--storage", default="runs", help="where run directories go: <storage>/<space>/<name>")
    parser.add_argument("--resume", action="store_true", help="continue the run --name after its driver died")
    parser.add_argument("--address", help="Ray cluster to run on (default: start a local Ray)")
    parser.add_argument("--dashboard-port", type=int, default=8265, help="port of the local Ray dashboard")
    parser.add_argument("--dashboard-host", default="127.0.0.1",
                        help="interface of the local dashboard; anything but loopback exposes it to the network")
    parser.add_argument("--dry-run", action="store_true", help="print the trials that would run, then exit")
    parser.add_argument("--no-analysis", action="store_true", help="skip writing the tables and report at the end")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="0 quiet, 1 progress table, 2 logs")
    return parser


def parse_sets(items: list[str]) -> dict:
    sets = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set expects KEY=VALUE with a dotted config key, e.g. train.steps=500; got '{item}'")
        sets[key.strip()] = parse_value(value)
    return sets


def options_from_args(args: argparse.Namespace) -> SweepOptions:
    return SweepOptions(
        space=args.space,
        profile=args.profile,
        search=args.search,
        scheduler=args.scheduler,
        num_samples=args.num_samples,
        seeds=args.seeds,
        sets=parse_sets(args.set),
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        max_concurrent=args.max_concurrent,
        name=args.name,
        storage=args.storage,
        dry_run=args.dry_run,
        resume=args.resume,
        max_failures=args.max_failures,
        address=args.address,
        dashboard_port=args.dashboard_port,
        dashboard_host=args.dashboard_host,
        analyze=not args.no_analysis,
        verbose=args.verbose,
    )


def run_user_facing(main: Callable[[], int]) -> int:
    """Run ``main``; bad input becomes one line on stderr and exit code 2, with no traceback."""
    try:
        return main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; continue with --resume --name <run>", file=sys.stderr)
        return 130
