"""The verdict that opens the tables, the report and the sweep's summary: the best configuration, the runner-up,
their paired difference with its 95 % confidence interval and Holm-corrected p-value, and whether the data can tell
them apart, or, with one seed, that it cannot and how to add seeds."""

from __future__ import annotations

import shlex

import numpy as np
import pandas as pd

from analysis.format import fmt_estimate, fmt_number, fmt_p
from analysis.rows import Row, ranked
from analysis.stats import paired_difference

ALPHA = 0.05
SEEDS_TO_ADD = 3
# options that name one run, continue one or pick a port for it: not part of the command that runs the study again
RUN_ONLY = {"--name": True, "--seeds": True, "--resume": False, "--retry-failed": False, "--dry-run": False,
             "--dashboard-port": True}


def command_without(manifest: dict, dropped: dict[str, bool]) -> list[str]:
    """The words of the run's recorded command without the options in ``dropped`` (True: the option takes a value,
    which goes too); ``python sweeps/run.py --space S`` for a run that recorded none."""
    words = shlex.split(str(manifest.get("command") or ""))
    if len(words) < 2 or not words[1].endswith("run.py"):
        words = ["python", "sweeps/run.py", "--space", str(manifest.get("space"))]
    kept, skip = [], False
    for word in words:
        if skip:
            skip = False
            continue
        option = word.split("=", 1)[0]
        if option in dropped:
            skip = dropped[option] and "=" not in word
            continue
        kept.append(word)
    return kept


def seeds_command(manifest: dict, seeds: int | None = SEEDS_TO_ADD, scheduler: str | None = None) -> str:
    """The run's command with ``--seeds N`` (and ``--scheduler``, when given), without its ``--name`` and
    ``--resume``: a new run with more seeds."""
    dropped = {**RUN_ONLY, **({"--scheduler": True} if scheduler else {})}
    if seeds is None:
        dropped.pop("--seeds")
    kept = command_without(manifest, dropped)
    extra = (["--scheduler", scheduler] if scheduler else []) + (["--seeds", str(seeds)] if seeds else [])
    return shlex.join([*kept, *extra])


def verdict_pair(rows: list[Row]) -> tuple[Row, Row] | None:
    """The best and the runner-up of the ranked rows (None: fewer than two ranked)."""
    top = ranked(rows)
    return (top[0], top[1]) if len(top) >= 2 else None


def verdict_difference(frame: pd.DataFrame, rows: list[Row], column: str) -> dict | None:
    """The paired difference best − runner-up of ``column`` (seeds both have, equal steps), or None."""
    pair = verdict_pair(rows)
    if pair is None:
        return None
    return paired_difference(frame, pair[0].label, pair[1].label, column)


def write_verdict(rows: list[Row], column: str, difference: dict | None, p_holm: float, family: int,
                  manifest: dict, unit: str = "") -> str:
    """One paragraph: what the run can and cannot say about its best configuration.

    Args:
        rows: the rows (:func:`analysis.rows.build_rows`).
        column: the reported column (``test/psnr``; ``best/val/psnr`` where the run has no test evaluation).
        difference: :func:`verdict_difference`'s result.
        p_holm: its p-value corrected with Holm's method over the ``family`` comparisons the analysis shows.
        family: how many comparisons that correction covered.
        manifest: the run's manifest (its command, for the one that adds seeds).
        unit: the metric's unit, e.g. `` dB``.
    """
    name = column.removeprefix("best/").replace("/", " ")
    unranked = [r for r in rows if r.rank is None and not r.counted.empty]
    aside = (f" {len(unranked)} row{'s' if len(unranked) != 1 else ''} that did not train to the end "
             f"{'are' if len(unranked) != 1 else 'is'} not ranked: a value reached at step S speaks for step S only."
             if unranked else "")
    top = ranked(rows)
    if not any(np.isfinite(row.estimate(column).mean) for row in rows):
        return "Verdict: no trial has reported a value yet; there is nothing to compare."
    if not top:
        return ("Verdict: no configuration trained to the end (every trial stopped early, failed or is unfinished), "
                "so none is ranked; the rows are grouped by how far their trials went." + aside)

    def cell(row: Row) -> str:
        est = row.estimate(column)
        return f"{name} {fmt_estimate(est.mean, est.ci, est.n, inline=True)}"

    best = top[0]
    if len(top) == 1:
        said = f"Verdict: only {best.label} trained to the end ({cell(best)}); no other configuration has the same "
        if not unranked:
            return f"{said}steps to rank it against."
        stopped = f"the {len(unranked)} other row{'s' if len(unranked) != 1 else ''} stopped earlier"
        if best.estimate(column).n <= 1:
            advice = ("One seed per configuration could not tell them apart either. To compare them, train every one "
                      f"to the end with seeds: {seeds_command(manifest, scheduler='fifo')}.")
        else:
            advice = f"To compare them, train every one to the end: {seeds_command(manifest, None, 'fifo')}."
        return f"{said}steps ({stopped}: a value reached at step S speaks for step S only). {advice}"
    runner = top[1]
    head = f"Verdict: best {best.label} ({cell(best)}); runner-up {runner.label} ({cell(runner)})."
    if difference is None or difference["n"] < 2:
        gap = best.estimate(column).mean - runner.estimate(column).mean
        n_best, n_runner = best.estimate(column).n, runner.estimate(column).n
        seeds = "One seed each" if max(n_best, n_runner) <= 1 else "Fewer than two seeds in common"
        return (f"{head} {seeds}: this run cannot tell them apart, since their difference of {fmt_number(gap)}{unit} "
                f"has no seed-to-seed spread to be judged against. Add seeds: {seeds_command(manifest)}." + aside)
    interval = fmt_estimate(difference["mean"], difference["ci"], difference["n"]).rsplit(" (n=", 1)[0]
    said = (f"Paired over {difference['n']} seeds, best − runner-up = {interval}{unit} (95 % CI), p = "
            f"{fmt_p(p_holm)} (Holm-corrected over the {family} comparison{'s' if family != 1 else ''} shown; "
            f"{fmt_p(difference['p'])} uncorrected)")
    if np.isfinite(p_holm) and p_holm < ALPHA:
        judgement = f": the data tell them apart (p < {ALPHA:g})."
    else:
        more = seeds_command(manifest, max(SEEDS_TO_ADD, 2 * difference["n"]))
        judgement = (f": the data cannot tell them apart (p ≥ {ALPHA:g}); more seeds narrow the interval: {more}.")
    return f"{head} {said}{judgement}" + aside
