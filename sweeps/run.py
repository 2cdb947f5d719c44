#!/usr/bin/env python
"""Run a Ray Tune sweep of a named search space.

    python sweeps/run.py --space lsid_lr                      # the quick profile on the embedded photos
    python sweeps/run.py --list                               # the spaces
    python sweeps/run.py --space lsid_lr --profile smoke --dry-run
    python sweeps/run.py --resume --name quick-3seeds          # continue a run whose driver died
"""

from __future__ import annotations

import os
import sys

# The project root first; this folder off the path, so that its sub-packages (cluster, settings, ...) cannot
# shadow a top-level module of the same name.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(_HERE)] + [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
# OpenCV logs its own lines for a corrupt image; the DataError that follows already names the file.
os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")

from restore_core.cli import exit_without_teardown, run_user_facing  # noqa: E402
from restore_core.plugins import load_plugins  # noqa: E402
from restore_core.timeline import mark  # noqa: E402
from search_spaces import get_space, list_spaces  # noqa: E402
from sweeps.api import dry_run, sweep  # noqa: E402
from sweeps.cli import build_parser, options_from_args  # noqa: E402
from sweeps.driver.report import print_summary  # noqa: E402


def main(argv: list[str] | None = None, own_process: bool = False) -> int:
    """``sweeps/run.py``'s command line. ``own_process``: the process ends with the sweep (the script, not a caller
    of ``main``), so a local Ray it starts is stopped as soon as the trials end, beside the test evaluation."""
    mark("driver: imported")
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)

    def run() -> int:
        if args.list:
            load_plugins(args.plugins)  # the user's spaces too
            for name in list_spaces():
                print(f"{name:24s} {get_space(name).description}")
            return 0
        options = options_from_args(args)
        if options.dry_run:  # every check of the real run that reads no data and starts nothing
            print(dry_run(options))
            return 0
        run_dir, _ = sweep(options, argv, stop_own_ray=own_process)
        if options.analyze:
            print_summary(run_dir)
        return 0

    return run_user_facing(run)


if __name__ == "__main__":
    exit_without_teardown(main(own_process=True))
