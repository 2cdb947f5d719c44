"""``sweeps/submit.py``: send a sweep to a Ray cluster (Jobs API), to SLURM (a batch script) or to Kubernetes (a
KubeRay RayJob). The ``sweeps/run.py`` arguments follow ``--`` and are checked here first.

Each launch target is a module with one small interface: ``NAME`` (its route on the command line), ``HELP``,
``add_arguments(parser)`` for its own options and ``launch(args, run_args) -> exit code``, which checks them and
the sweeps/run.py arguments (``sweeps.launch.common.check_run_args``) before it warns, writes or sends anything.
A new target is a module like these and one entry in :data:`TARGETS`.
"""

from __future__ import annotations

import argparse
import sys

from restore_core.cli import DefaultsHelpFormatter, UserFacingParser, run_user_facing
from sweeps.launch import jobs, kuberay, slurm

TARGETS = {target.NAME: target for target in (jobs, slurm, kuberay)}


def build_parser() -> argparse.ArgumentParser:
    parser = UserFacingParser(prog="sweeps/submit.py", description=__doc__.split("\n\n")[0],
                              formatter_class=DefaultsHelpFormatter)
    routes = parser.add_subparsers(dest="route", required=True, metavar="{" + ",".join(TARGETS) + "}",
                                   parser_class=UserFacingParser)
    for name, target in TARGETS.items():
        target.add_arguments(routes.add_parser(name, help=target.HELP, formatter_class=DefaultsHelpFormatter))
    return parser


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """(submit.py's own arguments, the sweeps/run.py arguments after ``--``)."""
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1:]


def main(argv: list[str]) -> int:
    """Each target checks its own options and the sweeps/run.py arguments before it warns, writes or sends anything,
    so that bad input gets its one error line and nothing else."""
    own, run_args = split_argv(argv)
    args = build_parser().parse_args(own)
    return TARGETS[args.route].launch(args, run_args)


def run_main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    return run_user_facing(lambda: main(argv))
