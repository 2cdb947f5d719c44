"""The typed sections of a trial config: what ``restore_core.schema.validate_config`` builds from the plain dict,
and what tasks, the schedule and the loop read. Plain data, with no registry behind it, so that every task module
can import it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from restore_core.config import check_range
from restore_core.errors import ConfigError
from restore_core.run_files import DEGRADE_TOLERANCE


@dataclass(frozen=True)
class OptimConfig:
    """Adam with a piecewise schedule over the fraction of training done.

    ``schedule: step`` multiplies the rate by ``gamma`` at each milestone (fractions of ``train.steps``), as SID's
    1e-4 -> 1e-5 at epoch 2000 of 4000 (``milestones: [0.5]``). ``schedule: linear`` keeps it constant until
    ``decay_start`` and then decays it linearly to 0, as pix2pix does. ``lr_d`` is the discriminator's rate in GAN
    tasks (defaults to ``lr``).
    """

    name: Literal["adam"] = "adam"
    lr: float = 1e-4
    lr_d: float | None = None
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 0.0
    schedule: Literal["step", "linear"] = "step"
    milestones: list[float] = field(default_factory=list)
    gamma: float = 0.1
    decay_start: float = 0.5

    def validate(self) -> None:
        check_range("optim.lr", self.lr, gt=0)
        if self.lr_d is not None:
            check_range("optim.lr_d", self.lr_d, gt=0, note="(or null: the rate of optim.lr)")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ConfigError(f"optim.betas must be two numbers in [0, 1); got {self.betas}")
        check_range("optim.weight_decay", self.weight_decay, ge=0)
        if any(not 0 < m < 1 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ConfigError(
                f"optim.milestones must be increasing fractions of training in (0, 1); got {self.milestones}"
            )
        check_range("optim.gamma", self.gamma, gt=0, note="(the factor of the rate at each milestone)")
        check_range("optim.decay_start", self.decay_start, ge=0, lt=1)


@dataclass(frozen=True)
class TrainConfig:
    """How long to train, how often to evaluate, where and with which numeric precision.

    ``steps`` counts optimizer steps (one batch each); evaluation, reporting and checkpointing happen every
    ``eval_every`` steps and at the end. ``collapse_tolerance``: a trial stops as "collapsed" when its outputs for
    different validation inputs differ by less than this fraction of how much the targets differ.
    ``degrade_tolerance``: per metric kind (``psnr``, ``ssim``, ...), how far a trial's last validation value of the
    space's metric may end below its peak before the analysis flags the trial ``degraded`` (1 dB PSNR, 0.05 for the
    metrics in [0, 1]; why, in docs/analysis.md; a kind given replaces its default only). A flag, not a stop: the
    trial trains on.

    Step options, off by default because on a 2-core CPU neither paid off across the models (docs/PERFORMANCE.md,
    ``benchmarks/step_options.py``); they are meant for GPUs. ``channels_last`` stores every module's weights
    channels-last (NHWC), the layout GPU convolutions prefer; ``compile`` compiles every module in place with
    ``nn.Module.compile`` (a trial's first steps pay 20-35 s of compilation on that CPU; checkpoints are unchanged).
    The model's cost (params, MACs, latency) is measured before they apply.

    ``extra_metrics`` names registered metrics (``restore_core.register_metric``) computed on every evaluation's
    outputs against its targets and reported as ``val/<name>``, beside the task's own.
    """

    seed: int = 0
    steps: int = 1000
    batch_size: int = 1
    eval_every: int = 100
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: Literal["none", "bf16", "fp16"] = "none"
    threads: int | None = None
    log_images: int = 4
    collapse_tolerance: float = 1e-3
    degrade_tolerance: dict[str, float] = field(default_factory=lambda: dict(DEGRADE_TOLERANCE))
    cost_size: int = 256
    fault: Literal["none", "raise", "nan", "oom", "collapse", "hang", "degrade"] = "none"
    fault_step: int = 0
    channels_last: bool = False
    compile: bool = False
    extra_metrics: list[str] = field(default_factory=list)  # registered metrics added to every evaluation

    def __post_init__(self) -> None:
        # a kind the config names replaces its default; the other kinds keep theirs
        object.__setattr__(self, "degrade_tolerance", {**DEGRADE_TOLERANCE, **self.degrade_tolerance})

    def validate(self) -> None:
        check_range("train.seed", self.seed, ge=0)
        for name in ("steps", "batch_size", "eval_every", "cost_size"):
            check_range(f"train.{name}", getattr(self, name), gt=0)
        if self.threads is not None:
            check_range("train.threads", self.threads, gt=0, note="(or null: torch's default)")
        check_range("train.log_images", self.log_images, ge=0)
        check_range("train.collapse_tolerance", self.collapse_tolerance, ge=0, lt=1,
                    note="(a fraction of the targets' spread; 0 switches collapse stopping off)")
        check_range("train.fault_step", self.fault_step, ge=0)
        for kind, tolerance in self.degrade_tolerance.items():
            check_range(f"train.degrade_tolerance.{kind}", tolerance, ge=0, note="(in the metric's units)")


@dataclass(frozen=True)
class Config:
    """A validated trial config. ``raw`` is the plain dict it came from (never mutated)."""

    task: Any
    data: Any
    model: dict
    loss: dict[str, float]
    optim: OptimConfig
    train: TrainConfig
    raw: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def task_name(self) -> str:
        return self.raw["task"]["name"]
