"""The argument parser of ``sweeps/run.py``: the command line parsed once into :class:`SweepOptions`.

Every option defaults to "not given" here; the defaults are :data:`~sweeps.settings.options.DEFAULTS` or the space's,
decided by :func:`~sweeps.settings.resolve.resolve_settings`, and the help quotes them from there.
"""

from __future__ import annotations

import argparse

from restore_core.cli import DefaultsHelpFormatter, UserFacingParser
from restore_core.config import parse_value
from restore_core.errors import UserError
from search_spaces.space import PROFILES, SCHEDULERS, SEARCHES
from sweeps.settings.options import DEFAULTS, MIN_NUM_SAMPLES, SweepOptions


def build_parser() -> argparse.ArgumentParser:
    parser = UserFacingParser(
        prog="sweeps/run.py",
        description="Run a Ray Tune sweep of a search space and write its tables and report.",
        formatter_class=DefaultsHelpFormatter,
        # no abbreviations: a submission checks the options it decides itself (--address, --storage) by their name
        allow_abbrev=False,
    )
    parser.add_argument("--space", help="the search space to sweep: a name (see --list), FILE.py:NAME or module:NAME "
                        "(a SearchSpace in your own code)")
    parser.add_argument("--import", dest="plugins", action="append", default=[], metavar="MODULE_OR_FILE",
                        help="import your own module or .py file first (it registers models, tasks, losses, metrics, "
                        "spaces), in the driver and in every worker; recorded for --resume and analysis (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the spaces with their descriptions and exit")
    parser.add_argument("--profile", choices=PROFILES,
                        help=f"smoke: seconds per trial; quick: minutes on a laptop CPU; paper: the published recipe; "
                        f"reproduction: the seed study's own recipe (spaces that declare it) (default: "
                        f"{DEFAULTS['profile']})")
    parser.add_argument("--search", choices=SEARCHES, help="search algorithm (default: the space's)")
    parser.add_argument("--scheduler", choices=SCHEDULERS, help="trial scheduler (default: the space's)")
    parser.add_argument("--asha-grace", type=float, metavar="FRACTION",
                        help="ASHA's first rung as a fraction of training (default: the space's; 1/4, lsid_lr: 1/12)")
    parser.add_argument("--asha-reduction", type=float, metavar="N",
                        help="ASHA keeps the best 1/N of the trials at each rung (default: the space's; 3, lsid_lr: 6)")
    parser.add_argument("--asha-recheck", action=argparse.BooleanOptionalAction,
                        help="judge a trial ASHA let on again as later trials reach its rung, and stop it once they "
                        "outrank it (default: the space's; off, lsid_lr: on)")
    parser.add_argument("--asha-quorum", type=int, metavar="N",
                        help="a trial ASHA lets on from a rung with fewer than N trials recorded waits (paused) while "
                        "other trials can start, and goes on once N are recorded and it still ranks (default: the "
                        "space's; 1)")
    parser.add_argument("--asha-noise", type=noise_option, metavar="SIGMA",
                        help="race the trials ASHA lets on: one stops once its best value trails another's at the "
                        "same step by more than the metric's noise (SIGMA: one evaluation's, as benchmarks/"
                        "asha_replay.py measures it over a FIFO run; auto: measured as the sweep runs; 0: no race); "
                        "trials are kept in step (default: the space's; none, lsid_lr: 0.18)")
    parser.add_argument("--num-samples", type=int,
                        help=f"configurations proposed by random/optuna/gp search (default: the space's rows, at "
                        f"least {MIN_NUM_SAMPLES}; not with grid search)")
    parser.add_argument("--seeds", type=int,
                        help=f"repeat each configuration with this many seeds (default: {DEFAULTS['seeds']})")
    parser.add_argument("--search-seed", type=int,
                        help=f"seed of the configurations random/optuna/gp search proposes (default: "
                        f"{DEFAULTS['search_seed']}; not with grid search)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set train.steps=500 (repeatable)")
    parser.add_argument("--cpus-per-trial", type=float,
                        help=f"CPUs (and torch threads) per trial (default: {DEFAULTS['cpus_per_trial']:g})")
    parser.add_argument("--gpus-per-trial", type=gpu_share,
                        help="GPUs per trial: auto (default) measures a probe trial on a GPU where the nodes have "
                        "one and shares a GPU among as many trials as its memory and time allow (up to 8), else 0; "
                        "0 runs the trials on CPU; without any GPU they run on CPU whatever is asked")
    parser.add_argument("--max-concurrent", type=int, help="at most this many trials at once (default: no limit)")
    parser.add_argument("--max-failures", type=int,
                        help=f"retry a failed trial this many times, from its last checkpoint (default: "
                        f"{DEFAULTS['max_failures']})")
    parser.add_argument("--trial-timeout", type=float, metavar="SECONDS",
                        help="stop a trial attempt that runs longer than this (also one that hangs); recorded as an "
                        "error with the reason")
    parser.add_argument("--fresh-workers", action="store_true",
                        help="start every trial in a new worker process (isolation for code that leaks state, at "
                        "a few seconds per trial); default: a finished trial's worker takes the next trial")
    parser.add_argument("--name", help="run name (default: <profile>-<search>-<scheduler>-<time>)")
    parser.add_argument("--storage", help=f"where run directories go: <storage>/<space>/<name> (default: "
                        f"{DEFAULTS['storage']})")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run --name after its driver died or was stopped (Ctrl-C, SIGTERM): ended "
                        "trials are kept, the others go on from their last checkpoint")
    parser.add_argument("--retry-failed", action="store_true", help="with --resume: run failed trials again too")
    parser.add_argument("--address", help="Ray cluster to run on, e.g. 10.0.0.5:6379 or auto (default: RAY_ADDRESS "
                        "if set, else start a local Ray)")
    parser.add_argument("--dashboard-port", type=int,
                        help=f"port of the local Ray dashboard (default: {DEFAULTS['dashboard_port']})")
    parser.add_argument("--dashboard-host",
                        help=f"interface of the local dashboard; anything but loopback exposes it to the network "
                        f"(default: {DEFAULTS['dashboard_host']})")
    parser.add_argument("--dry-run", action="store_true", help="print the trials that would run, then exit")
    parser.add_argument("--no-analysis", action="store_true", help="skip writing the tables and report at the end")
    parser.add_argument("--mlflow", metavar="URI",
                        help="log every trial to this MLflow tracking server, one experiment per run "
                             "(pip install 'restore-sweeps[mlflow]')")
    parser.add_argument("--objective", action="append", metavar="METRIC:DIRECTION",
                        help="what the sweep optimises, e.g. val/psnr:max (default: the space's metric); given again "
                        "(--objective cost/latency_ms:min), a multi-objective search: Optuna's sampler on all of them, "
                        "ASHA and checkpoint selection on the first, and the Pareto-optimal rows marked in the tables "
                        "and report")
    parser.add_argument("--config", metavar="FILE",
                        help="run only the configuration this file names (reproduce/<label>.json or best.json of an "
                             "analysed run), with --seeds seeds: the rerun of one cell of a run's table")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2),
                        help=f"0 quiet, 1 progress table, 2 logs (default: {DEFAULTS['verbose']})")
    return parser


def parse_sets(items: list[str]) -> dict:
    sets = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set expects KEY=VALUE with a dotted config key, e.g. train.steps=500; got '{item}'")
        sets[key.strip()] = parse_value(value)
    return sets


def gpu_share(text: str) -> float | None:
    """``--gpus-per-trial``: ``auto`` (None, resolved against the GPUs there are) or a number."""
    if text.strip().lower() == "auto":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a number >= 0 (0.25 packs four trials on one GPU); "
                                         f"got '{text}'") from None


def noise_option(text: str) -> float | str:
    """``--asha-noise``: ``auto`` or a number (its range is checked with the other options)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a number >= 0 (the noise of one evaluation; 0: no race); "
                                         f"got '{text}'") from None


def options_from_args(args: argparse.Namespace) -> SweepOptions:
    """The parsed command line as :class:`SweepOptions` (None where an option was not given)."""
    return SweepOptions(
        space=args.space, profile=args.profile, search=args.search, scheduler=args.scheduler,
        num_samples=args.num_samples, seeds=args.seeds, search_seed=args.search_seed, sets=parse_sets(args.set),
        cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial, max_concurrent=args.max_concurrent,
        asha_grace=args.asha_grace, asha_reduction=args.asha_reduction, asha_recheck=args.asha_recheck,
        asha_quorum=args.asha_quorum, asha_noise=args.asha_noise, name=args.name, storage=args.storage,
        dry_run=args.dry_run,
        resume=args.resume, retry_failed=args.retry_failed, max_failures=args.max_failures,
        trial_timeout=args.trial_timeout, fresh_workers=args.fresh_workers, address=args.address,
        dashboard_port=args.dashboard_port, dashboard_host=args.dashboard_host, analyze=not args.no_analysis,
        verbose=args.verbose, mlflow=args.mlflow, config=args.config,
        objectives=tuple(args.objective) if args.objective else None, plugins=tuple(args.plugins),
    )
