"""``python -m analysis RUN_DIR [--baseline LABEL] [--format md,csv,tex,html] [--optuna]``: (re)write a run's tables
and report (and with ``--optuna``, the run as an Optuna study that ``optuna-dashboard`` opens); RUN_DIR may be a URI
of object storage (``s3://bucket/runs/<space>/<name>``). Bad input (not a run directory, a corrupt file in it, an
unknown baseline label or format) is one line on stderr, exit code 2, and leaves the files already written as they
were."""

from __future__ import annotations

import argparse
import os
import sys

from analysis.compare import run_names, write_comparison
from analysis.optuna_study import export_study
from analysis.outputs import FORMATS, output_names, write_outputs
from analysis.remote import is_uri, local_run
from restore_core.cli import UserFacingParser, run_user_facing


def build_parser() -> argparse.ArgumentParser:
    parser = UserFacingParser(prog="python -m analysis",
                              description="Write the tables (Markdown, CSV, LaTeX) and report.html of a sweep's "
                                          "run directory.")
    parser.add_argument("run_dir", help="the run directory, runs/<space>/<name>, or its URI (s3://bucket/runs/<space>/"
                        "<name>)")
    parser.add_argument("--baseline", help="configuration label to compare every other one with "
                        "(default: the space's baseline)")
    parser.add_argument("--format", default=",".join(FORMATS),
                        help=f"comma-separated outputs to write, of {', '.join(FORMATS)} (default: all)")
    parser.add_argument("--plotlyjs", choices=("inline", "directory"), default="inline",
                        help="plotly.js inside report.html (works offline on its own), or one plotly.min.js beside "
                             "it in the run directory (default: inline)")
    parser.add_argument("--optuna", action="store_true",
                        help="also write the run's trials as an Optuna study, RUN_DIR/optuna-results.journal "
                             "(open it with optuna-dashboard)")
    return parser


def build_compare_parser() -> argparse.ArgumentParser:
    parser = UserFacingParser(prog="python -m analysis compare",
                              description="One table and report over several runs of one space, configurations "
                                          "matched by label.")
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="the runs, the first the reference")
    parser.add_argument("--out", help="folder for compare.md, compare.csv and compare.html (default: "
                                      "compare-<run>-vs-<run> beside the first run)")
    return parser


def compare_main(argv: list[str]) -> int:
    args = build_compare_parser().parse_args(argv)

    def run() -> int:
        out = args.out or os.path.join(os.path.dirname(os.path.normpath(args.run_dirs[0])),
                                       "compare-" + "-vs-".join(n.replace(os.sep, "_")
                                                                for n in run_names(args.run_dirs)))
        for path in write_comparison(args.run_dirs, out):
            print(path)
        return 0

    return run_user_facing(run, interrupted="interrupted; the files already written are as they were")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["compare"]:
        return compare_main(argv[1:])
    args = build_parser().parse_args(argv)

    def run() -> int:
        formats = tuple(f.strip() for f in args.format.split(",") if f.strip())
        # a run in object storage (s3://...) is read from there, and its files written back there; its checkpoints
        # are not fetched, so its test evaluation needs a copy of the run
        with local_run(args.run_dir, write_back=True, events=True) as run_dir:
            write_outputs(run_dir, baseline=args.baseline, formats=formats, evaluate=not is_uri(args.run_dir),
                          plotlyjs=args.plotlyjs)
            # what this analysis wrote: of the names its formats may write, it removed those it did not write
            written = sorted(f for f in output_names(formats) if os.path.isfile(os.path.join(run_dir, f)))
            # files of the formats not asked for are left as they were: say so, as they may now be out of date
            kept = sorted(f for f in output_names(FORMATS) - output_names(formats)
                          if os.path.isfile(os.path.join(run_dir, f)))
            if args.optuna:
                study = os.path.join(args.run_dir, os.path.relpath(export_study(run_dir), run_dir))
        print(f"{args.run_dir}: " + ", ".join(written))
        if kept:
            print(f"left from an earlier analysis (not rewritten): {', '.join(kept)}")
        if args.optuna:
            print(f"optuna study: {study} (optuna-dashboard opens it)")
        return 0

    return run_user_facing(run, interrupted="interrupted; the files already written are as they were")


if __name__ == "__main__":
    sys.exit(main())
