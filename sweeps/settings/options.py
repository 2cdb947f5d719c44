"""What the user asked for, parsed once into an immutable :class:`SweepOptions` and checked before anything runs.

A value left None was not given. :func:`~sweeps.settings.resolve.resolve_settings` fills it in, from the run's
manifest on a resume, else from the space (search, scheduler, ASHA's settings, the number of samples) or from
:data:`DEFAULTS`, the one place every other default lives.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from restore_core.errors import UserError
from search_spaces.space import SCHEDULERS, SEARCHES
from sweeps.settings.objectives import parse_objectives

# What defines a run's trials. A resumed run takes these from its manifest, never from the new command line.
RECORDED = ("space", "profile", "search", "scheduler", "num_samples", "seeds", "search_seed", "sets",
            "cpus_per_trial", "gpus_per_trial", "asha_grace", "asha_reduction", "asha_recheck", "asha_quorum",
            "asha_noise", "config", "objectives")
KEPT_BY_RAY = ("max_concurrent", "max_failures")  # restored by Ray with the experiment: a resume cannot change them
ASHA_OPTIONS = ("asha_grace", "asha_reduction", "asha_recheck", "asha_quorum", "asha_noise")  # the space's unless given
# The defaults that are not the space's. None: a default that stays "not set" (no limit, auto, the next free name).
DEFAULTS: dict[str, Any] = {
    "profile": "quick",
    "seeds": 1,
    "search_seed": 0,  # of random/optuna/gp search (grid search proposes nothing)
    "cpus_per_trial": 1.0,
    "gpus_per_trial": None,  # auto: AUTO_GPU_SHARE where the nodes have a GPU, else 0
    "max_concurrent": None,
    "max_failures": 0,
    "trial_timeout": None,
    "storage": "runs",
    "dashboard_port": 8265,
    "dashboard_host": "127.0.0.1",
    "verbose": 1,
}
MIN_NUM_SAMPLES = 8  # configurations random/optuna/gp search proposes by default: the study's rows, at least this
# A trial's watchdog waits on threading.Event, which refuses more than threading.TIMEOUT_MAX (about 9.22e9 s).
MAX_TRIAL_TIMEOUT = 9.2e9
# The GPU share of --gpus-per-trial auto where a node has a GPU, in the checks before Ray starts and in a dry run:
# four trials to a GPU, which on an H200 ran quick-profile lsid_lr trials at about twice the trials per hour of one
# at a time (docs/PERFORMANCE.md, "GPU"). The sweep replaces it with the share a probe trial measures
# (sweeps/cluster/gpu_share.py).
AUTO_GPU_SHARE = 0.25

# URI schemes of the filesystems Ray's storage opens (through pyarrow.fs.FileSystem.from_uri); file:// and local://
# name a path of this machine, which is how Ray reads them too.
REMOTE_SCHEMES = ("s3", "gs", "gcs", "abfs", "abfss", "hdfs", "viewfs")
LOCAL_SCHEMES = ("file", "local")
URI_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


@dataclass(frozen=True)
class SweepOptions:
    """The options of a sweep as the user gave them (``sweeps/run.py``'s or :func:`sweeps.run_sweep`'s); None: not
    given. Nothing changes them once parsed."""

    space: str | None = None  # a registered name, FILE.py:NAME or module:NAME
    profile: str | None = None
    search: str | None = None
    scheduler: str | None = None
    num_samples: int | None = None
    seeds: int | None = None
    search_seed: int | None = None
    sets: dict[str, Any] = field(default_factory=dict)  # --set values by dotted key
    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None  # None: auto
    max_concurrent: int | None = None
    asha_grace: float | None = None
    asha_reduction: float | None = None
    asha_recheck: bool | None = None
    asha_quorum: int | None = None
    asha_noise: float | Literal["auto"] | None = None  # the race's σ (0: no race), "auto": measured as it runs
    name: str | None = None
    storage: str | None = None
    dry_run: bool = False
    resume: bool = False
    retry_failed: bool = False
    max_failures: int | None = None
    trial_timeout: float | None = None  # seconds of wall time per trial attempt
    fresh_workers: bool = False  # a new worker process per trial instead of reusing a finished trial's
    address: str | None = None
    dashboard_port: int | None = None
    dashboard_host: str | None = None
    analyze: bool = True
    verbose: int | None = None
    mlflow: str | None = None  # tracking URI every trial is logged to; None: no MLflow
    config: str | None = None  # a file naming the one configuration to run (reproduce/<label>.json); None: search
    objectives: tuple[str, ...] | None = None  # --objective METRIC:DIRECTION, in order; None: the space's metric
    plugins: tuple[str, ...] = ()  # --import: modules and .py files that register models, tasks, losses, spaces

    def value(self, key: str) -> Any:
        """The option as given, else its default from :data:`DEFAULTS` (options without one: as given)."""
        given = getattr(self, key)
        return DEFAULTS.get(key) if given is None else given

    def given(self) -> dict[str, Any]:
        """The options that define the run's trials (or that Ray keeps with the run) which were given: on a resume,
        each must be what the run recorded."""
        given = {key: getattr(self, key) for key in (*RECORDED, *KEPT_BY_RAY)
                 if key != "sets" and getattr(self, key) is not None}
        if self.sets:
            given["sets"] = dict(self.sets)
        return given

    def check(self) -> None:
        """Raise :class:`UserError` for values no sweep can run with (each value alone; the space and the run's
        manifest are checked against by :func:`~sweeps.settings.resolve.resolve_settings`)."""
        if self.search is not None and self.search not in SEARCHES:
            raise UserError(f"unknown search algorithm '{self.search}'; known: {', '.join(SEARCHES)}")
        if self.scheduler is not None and self.scheduler not in SCHEDULERS:
            raise UserError(f"unknown scheduler '{self.scheduler}'; known: {', '.join(SCHEDULERS)}")
        for name in ("seeds", "num_samples", "max_concurrent"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"--{name.replace('_', '-')} must be a whole number >= 1; got {value}")
        if self.search_seed is not None and self.search_seed < 0:
            raise UserError(f"--search-seed must be a whole number >= 0; got {self.search_seed}")
        cpus = self.value("cpus_per_trial")
        if not cpus > 0 or math.isinf(cpus):
            raise UserError(f"--cpus-per-trial must be a number > 0; got {cpus:g}")
        check_gpu_share(self.gpus_per_trial)
        if self.asha_grace is not None and not 0 < self.asha_grace <= 1:
            raise UserError(f"--asha-grace must be a fraction of training in (0, 1]; got {self.asha_grace:g}")
        if self.asha_reduction is not None and not 1 < self.asha_reduction < math.inf:
            raise UserError(f"--asha-reduction must be a number > 1 (3 keeps the best third); "
                            f"got {self.asha_reduction:g}")
        if self.asha_noise is not None and self.asha_noise != "auto" and not 0 <= self.asha_noise < math.inf:
            raise UserError(f"--asha-noise must be auto or a number >= 0 (the noise of one evaluation of the space's "
                            f"metric; 0: no race); got {self.asha_noise:g}")
        if self.asha_noise not in (None, 0) and self.asha_quorum not in (None, 1):
            raise UserError("--asha-noise and --asha-quorum both keep early arrivals from running ahead of the "
                            "others; give one of them")
        if self.asha_quorum is not None and self.asha_quorum < 1:
            raise UserError(f"--asha-quorum must be a whole number >= 1 (1: a trial never waits); "
                            f"got {self.asha_quorum}")
        if self.value("max_failures") < 0:
            raise UserError(f"--max-failures must be a whole number >= 0; got {self.max_failures}")
        check_trial_timeout(self.trial_timeout)
        parse_objectives(self.objectives)
        if not 0 < self.value("dashboard_port") < 65536:
            raise UserError(f"--dashboard-port must be a TCP port in 1..65535; got {self.dashboard_port}")
        if self.address:
            check_address(self.address, f"--address {self.address}")
        storage_location(self.value("storage"))
        if self.resume and not self.name:
            raise UserError("--resume needs --name, the run to continue (the folders under <storage>/<space>/)")
        if self.retry_failed and not self.resume:
            raise UserError("--retry-failed only applies with --resume (it reruns the failed trials of a run)")
        if self.name is not None and (not self.name or "/" in self.name or self.name in (".", "..")):
            raise UserError(f"--name must be a plain folder name without '/'; got '{self.name}'")


def check_gpu_share(share: float | None) -> None:
    """``--gpus-per-trial``: None (auto), or a number >= 0, whole above 1 (Ray shares only single GPUs)."""
    if share is None:
        return
    if not share >= 0 or math.isinf(share):
        raise UserError(f"--gpus-per-trial must be auto or a number >= 0 (0.25 packs four trials on one GPU); "
                        f"got {share:g}")
    if share > 1 and not float(share).is_integer():
        raise UserError(f"--gpus-per-trial above 1 must be a whole number of GPUs (Ray shares only single GPUs); "
                        f"got {share:g}")


def check_trial_timeout(seconds: float | None) -> None:
    if seconds is not None and not seconds > 0:
        raise UserError(f"--trial-timeout must be a number of seconds > 0; got {seconds:g}")
    if seconds is not None and seconds > MAX_TRIAL_TIMEOUT:
        raise UserError(f"--trial-timeout must be a number of seconds in (0, 9.2e9] (leave it out for no limit); "
                        f"got {seconds:g}")


def check_address(address: str, label: str) -> None:
    """Refuse a Ray address that ``ray.init`` cannot take: ``auto``, ``ray://head:10001`` (Ray Client) or
    ``host:port``. A dashboard's ``http(s)://`` address (what Ray's Jobs CLI takes in ``RAY_ADDRESS``) is named as such.

    Args:
        address: the address.
        label: how the user gave it, for the message (``--address X`` or ``RAY_ADDRESS=X``).
    """
    if address == "auto" or address.startswith("ray://"):
        return
    if "://" in address:
        scheme = address.split("://", 1)[0]
        what = "the dashboard's (Jobs API) address" if scheme in ("http", "https") else f"a {scheme}:// address"
        raise UserError(f"{label} is {what}, not the Ray head's; give host:port of the head (e.g. 10.0.0.5:6379), "
                        "ray://head:10001 or auto, or submit the sweep through the dashboard with sweeps/submit.py ray")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"{label}: expected host:port of the Ray head with a port in 1..65535, e.g. 10.0.0.5:6379, "
                        "or auto")


def storage_location(storage: str) -> str:
    """``--storage`` as the sweep uses it: a path, or a URI of a filesystem Ray opens; ``file:///p`` becomes ``/p``.

    Raises:
        UserError: an empty value, a scheme Ray's storage cannot open, a ``file://`` URI that names no absolute
            path (pyarrow refuses ``file://runs`` and ``file://host/p``), or a URI with credentials or options in it
            (they belong in the environment, never on the command line).
    """
    schemes = ", ".join(s + "://" for s in REMOTE_SCHEMES)
    accepted = f"a folder (default: {DEFAULTS['storage']}) or a URI of {schemes} or file:///<absolute path>"
    if not storage.strip():
        raise UserError(f"--storage is empty; give {accepted}")
    if "://" not in storage:
        return storage
    match = URI_SCHEME.match(storage)
    scheme = match.group(1) if match else storage.split("://", 1)[0]
    if scheme in LOCAL_SCHEMES:
        parts = urlsplit(storage)
        if parts.netloc or not parts.path.startswith("/"):
            raise UserError(f"--storage {storage}: a {scheme}:// URI names an absolute path of this machine, as in "
                            f"{scheme}:///shared/runs; give that, or the plain path")
        return unquote(parts.path)
    if scheme not in REMOTE_SCHEMES:
        raise UserError(f"--storage {storage}: unknown storage scheme '{scheme}'; give {accepted}")
    parts = urlsplit(storage)
    if parts.query or parts.password or parts.username:
        # it would be recorded in the manifest and printed: credentials and settings go where pyarrow finds them
        shown = f"{scheme}://{parts.hostname or ''}{parts.path}"
        raise UserError(f"--storage {shown}: give the URI without credentials or ?options; credentials come from "
                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or a profile (AWS_PROFILE), an S3-compatible "
                        "server from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, the region from AWS_DEFAULT_REGION")
    return storage
