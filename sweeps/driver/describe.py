"""What ``--dry-run`` prints about a plan: the trials or the ranges sampled, ASHA's rungs, the time-out, the base
config, and on a resume which trials remain."""

from __future__ import annotations

import json
import math
import os

from sweeps.driver.domains import describe_domain, sampled_param_space
from sweeps.ledger.resume import describe_remaining, read_manifest
from sweeps.settings.plan import AshaPlan, SweepPlan


def describe_plan(plan: SweepPlan) -> str:
    """The ``--dry-run`` listing: the trials (or the ranges the searcher samples) and the base config."""
    lines = [
        f"space {plan.space.name}: {plan.space.description}",
        f"profile {plan.settings.profile}, search {plan.search}, scheduler {plan.scheduler}, "
        + ("objectives " + ", ".join(map(str, plan.objectives)) + " (a Pareto front; ASHA and checkpoints on the first)"
           if len(plan.objectives) > 1 else f"metric {plan.metric} ({plan.mode})"),
        f"run directory: {plan.run_dir}",
    ]
    if plan.asha:
        lines.append(describe_asha(plan.asha, plan.base["train"].get("eval_every", 1)))
    if plan.settings.resume:
        lines.extend(describe_remaining(plan))
    elif plan.trials:
        lines.append(f"{len(plan.trials)} trials:")
        for i, trial in enumerate(plan.trials):
            lines.append(f"  {i + 1:3d}. {plan.space.label(trial)}  (seed {trial.get('seed', 0)})")
    else:
        lines.append(f"{plan.num_samples} trials proposed by {plan.search} (search seed {plan.settings.search_seed}) "
                     "from:")
        for key, domain in sampled_param_space(plan.space).items():
            lines.append(f"  {key}: {describe_domain(domain)}")
    timeout = describe_trial_timeout(plan)
    if timeout:
        lines.append(timeout)
    lines.append("base config: " + json.dumps(plan.base, sort_keys=True))
    return "\n".join(lines)


def describe_trial_timeout(plan: SweepPlan) -> str | None:
    """``--trial-timeout`` in words for ``--dry-run``; on a resume, also whether it is the limit the run recorded or
    a new one, which the resume records for the resumes after it (None: a new run without a limit)."""
    limit = plan.settings.trial_timeout
    said = "none" if limit is None else f"{limit:g} s per attempt"
    if not plan.settings.resume:
        return None if limit is None else f"trial time-out: {said}"
    recorded = read_manifest(os.path.join(plan.run_dir, "manifest.json")).get("trial_timeout_s")
    if limit == recorded:
        return f"trial time-out: {said}, as the run recorded"
    was = "none" if recorded is None else f"{recorded:g} s"
    return f"trial time-out: {said} (the run had {was}); the resume records it in manifest.json for later resumes too"


def asha_rungs(grace: int, max_t: int, reduction: float) -> list[int]:
    """The steps at which Ray's ASHA judges trials: grace · reduction^k for k < log(max_t / grace) / log(reduction)
    + 1 (its bracket's milestones)."""
    count = int(math.log(max_t / grace) / math.log(reduction) + 1)
    return [int(grace * reduction**k) for k in range(count)]


def judged_steps(grace: int, max_t: int, reduction: float, eval_every: int) -> list[int]:
    """The steps at which a trial that trains to the end is judged at ASHA's rungs. Ray records a trial at a rung
    from its first report at or after the rung's milestone, one rung per report (the highest it has not been recorded
    at), and judges none at ``max_t``; trials report every ``eval_every`` steps and at the end. With a whole-number
    reduction these are the milestones below ``max_t``; otherwise a rung moves to the next evaluation, or is skipped
    when a later one takes that report."""
    count = int(math.log(max_t / grace) / math.log(reduction) + 1)
    milestones = sorted((grace * reduction**k for k in range(count)), reverse=True)
    recorded: set[float] = set()
    judged = []
    for step in range(eval_every, max_t, eval_every):
        milestone = next((m for m in milestones if step >= m and m not in recorded), None)
        if milestone is not None:
            recorded.add(milestone)
            judged.append(step)
    return judged


def describe_asha(asha: AshaPlan, eval_every: int) -> str:
    """ASHA's settings in words, for ``--dry-run``."""
    max_t = asha.max_t
    rungs = asha_rungs(asha.grace_period, max_t, asha.reduction_factor)
    judged = judged_steps(asha.grace_period, max_t, asha.reduction_factor, eval_every)
    if not judged:  # the grace period is the whole training: every trial ends before a rung could stop it
        return f"ASHA stops nothing: its first rung is the last step ({max_t}); lower --asha-grace or train longer"
    recheck = "; one let on stops once later trials at its rung outrank it" if asha.recheck else ""
    quorum, noise = asha.quorum, asha.noise
    wait = (f"; one let on from a rung with fewer than {quorum} trials recorded waits there while others can start"
            if quorum > 1 else "")
    if noise is not None:
        sigma = "the noise measured as it runs" if noise == "auto" else f"{2 ** 0.5 * noise:.3g} (√2 × noise {noise:g})"
        wait = (f"; between rungs a trial stops once its best value trails another's at the same step by more than "
                f"{sigma}, and trials are kept in step")
    missing, last = len(rungs) - len(judged), ""
    if missing and float(asha.reduction_factor).is_integer():  # its last milestone is the last step
        last = " (its rung at the last step only ranks)"
    elif missing:  # rungs that no evaluation of their own reaches before the last step
        last = f" (of its {len(rungs)} rungs, {missing} {'is' if missing == 1 else 'are'} judged at no evaluation)"
    return (f"ASHA judges trials at steps {', '.join(map(str, judged))} of {max_t}{last} and lets the best "
            f"1/{asha.reduction_factor:g} at each go on{recheck}{wait}")
