"""Everything a sweep needs to know from the command line, checked before anything runs."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from restore_core.errors import UserError

SEARCHES = ("grid", "random", "optuna")
SCHEDULERS = ("fifo", "asha")


@dataclass
class SweepOptions:
    space: str
    profile: str = "quick"
    search: str | None = None  # None: the space's default
    scheduler: str | None = None
    num_samples: int | None = None
    seeds: int = 1
    sets: dict[str, Any] = field(default_factory=dict)
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent: int | None = None
    name: str | None = None
    storage: str = "runs"
    dry_run: bool = False
    resume: bool = False
    max_failures: int = 0
    address: str | None = None
    dashboard_port: int = 8265
    dashboard_host: str = "127.0.0.1"
    analyze: bool = True
    verbose: int = 1

    def check(self) -> None:
        """Raise :class:`UserError` for values no sweep can run with."""
        if self.search is not None and self.search not in SEARCHES:
            raise UserError(f"unknown search algorithm '{self.search}'; known: {', '.join(SEARCHES)}")
        if self.scheduler is not None and self.scheduler not in SCHEDULERS:
            raise UserError(f"unknown scheduler '{self.scheduler}'; known: {', '.join(SCHEDULERS)}")
        for name in ("seeds", "num_samples", "max_concurrent"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"--{name.replace('_', '-')} must be a whole number >= 1; got {value}")
        if self.cpus_per_trial <= 0:
            raise UserError(f"--cpus-per-trial must be > 0; got {self.cpus_per_trial}")
        if self.gpus_per_trial < 0:
            raise UserError(f"--gpus-per-trial must be >= 0 (fractions pack trials on one GPU); got {self.gpus_per_trial}")
        if self.max_failures < 0:
            raise UserError(f"--max-failures must be >= 0; got {self.max_failures}")
        if self.resume and not self.name:
            raise UserError("--resume needs --name, the run to continue (see the folders under runs/<space>/)")

    def run_name(self, search: str, scheduler: str) -> str:
        if self.name is None:
            self.name = f"{self.profile}-{search}-{scheduler}-{time.strftime('%Y%m%d-%H%M%S')}"
        return self.name

    def space_dir(self) -> str:
        if "://" in self.storage:
            return f"{self.storage.rstrip('/')}/{self.space}"
        return os.path.abspath(os.path.join(self.storage, self.space))
