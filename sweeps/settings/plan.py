"""What a sweep will run, built once from its settings and space: the base config, the grid's trials (each config
validated), ASHA's rungs in steps, and how many trials Ray Tune is asked for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from restore_core.heap import heap_choice
from restore_core.schema import validate_config
from search_spaces.space import SearchSpace
from sweeps.settings.objectives import Objective, parse_objectives
from sweeps.settings.one_config import one_config_trials, read_one_config
from sweeps.settings.resolve import RunSettings


@dataclass(frozen=True)
class AshaPlan:
    """ASHA's settings in steps (see :mod:`sweeps.driver.asha`): judged every ``reduction_factor`` from
    ``grace_period`` to ``max_t``; a grace period is a whole number of evaluations, as rungs are judged when a trial
    reports."""

    max_t: int
    grace_period: int
    reduction_factor: float
    recheck: bool
    quorum: int
    noise: float | str | None = None  # the race's noise of one evaluation, "auto" or None: no race (driver/race.py)

    def kwargs(self) -> dict[str, Any]:
        """The scheduler's keyword arguments (also what the manifest records)."""
        return {"max_t": self.max_t, "grace_period": self.grace_period, "reduction_factor": self.reduction_factor,
                "recheck": self.recheck, "quorum": self.quorum, "noise": self.noise}


@dataclass(frozen=True)
class SweepPlan:
    """A sweep ready to run: its settings, its space, the validated base config and the grid's trials."""

    settings: RunSettings
    space: SearchSpace
    base: dict
    trials: tuple[dict[str, Any], ...]  # the grid's trials; for sampled searches, none (the searcher proposes them)
    num_samples: int  # Ray Tune's: 1 for a grid (its trials are the grid's), else configurations × seeds
    asha: AshaPlan | None  # None: FIFO

    @property
    def search(self) -> str:
        return self.settings.search

    @property
    def scheduler(self) -> str:
        return self.settings.scheduler

    @property
    def run_dir(self) -> str:
        return self.settings.run_dir

    @property
    def objectives(self) -> list[Objective]:
        """What the sweep optimises, in order (``--objective``), else the space's metric and mode."""
        return parse_objectives(self.settings.objectives) or [Objective(self.space.metric, self.space.mode)]

    @property
    def metric(self) -> str:
        """The run's metric: the first objective, which ASHA stops trials on and which selects checkpoints."""
        return self.objectives[0].metric

    @property
    def mode(self) -> str:
        return self.objectives[0].mode

    def configs(self) -> list[dict]:
        """The configs known before the sweep runs: the base config and every grid trial's."""
        return [self.base] + [self.space.resolve(self.base, trial) for trial in self.trials]

    def cpu_only(self) -> bool:
        """Whether every known config trains on the CPU (``train.device=cpu``): then ``auto`` takes no GPU."""
        return all(config["train"].get("device") == "cpu" for config in self.configs())

    def asks_for_cuda(self) -> str | None:
        """Which known config sets ``train.device=cuda`` (the base config, or a grid trial by its label)."""
        if self.base["train"].get("device") == "cuda":
            return "the base config"
        for trial in self.trials:
            if self.space.resolve(self.base, trial)["train"].get("device") == "cuda":
                return f"trial '{self.space.label(trial)}'"
        return None


def build_plan(settings: RunSettings, space: SearchSpace) -> SweepPlan:
    """The plan of ``settings``: the profile and ``--set`` values applied to the space's base config, every config
    known in advance validated (bad input stops here, before anything starts).

    Raises:
        UserError: a config that is not valid, naming the key, or a ``RESTORE_HEAP`` that is not a heap setting.
    """
    heap_choice()  # every trial process reads it
    base = space.base_config(settings.profile, settings.sets, search=settings.search, seeds=settings.seeds)
    train = base.setdefault("train", {})
    if isinstance(train, dict) and "threads" not in train:  # a train that is no section fails validation next
        train["threads"] = max(1, int(settings.cpus_per_trial))
    validate_config(base)
    trials: tuple[dict[str, Any], ...] = ()
    num_samples = 1
    if settings.config:
        trials = tuple(one_config_trials(read_one_config(settings.config, space), settings.seeds))
        for trial in trials:
            validate_config(space.resolve(base, trial))
    elif settings.search == "grid":
        trials = tuple(space.grid_trials(settings.seeds))
        for trial in trials:
            validate_config(space.resolve(base, trial))
    else:
        num_samples = settings.num_samples * settings.seeds
    asha = asha_plan(settings, base) if settings.scheduler == "asha" else None
    return SweepPlan(settings, space, base, trials, num_samples, asha)


def asha_plan(settings: RunSettings, base: dict) -> AshaPlan:
    """ASHA's rungs in steps from ``--asha-grace`` (a fraction of training) and the other ASHA settings."""
    steps = base["train"].get("steps", 1)
    eval_every = base["train"].get("eval_every", 1)
    grace = max(eval_every, round(steps * settings.asha_grace / eval_every) * eval_every)
    noise = None if settings.asha_noise == 0 else settings.asha_noise
    # the race keeps trials in step: no trial waits for a quorum at a rung
    quorum = 1 if noise is not None else settings.asha_quorum
    return AshaPlan(max_t=steps, grace_period=min(grace, steps), reduction_factor=settings.asha_reduction,
                    recheck=settings.asha_recheck, quorum=quorum, noise=noise)
