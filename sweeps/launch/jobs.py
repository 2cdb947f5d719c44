"""Submit a sweep to a running Ray cluster through the Ray Jobs API, with Ray's token authentication.

The project folder goes up as the job's working directory (``runtime_env.working_dir``; ``.gitignore``d paths such
as ``.venv`` and ``runs`` stay behind), the job runs ``python sweeps/run.py <the same arguments>`` on the head node,
where Ray sets ``RAY_ADDRESS`` so the sweep runs on the cluster, and its log is followed until it ends. The user's
plugin files go up too (``runtime_env.py_modules``, each as a package of its module's name): the job imports them by
name, its driver and workers inherit the job's runtime env, and the run's manifest records them as this machine's
files (``sweeps.cluster.code``), so that ``python -m analysis`` here loads them.

A Jobs API runs whatever it is sent, so a cluster reached over the network must check Ray's token: submission to
an address that is not loopback is refused without a token, or when the cluster does not ask for one, unless
``--insecure`` is given. A loopback address (an SSH tunnel to the head, ``ssh -L 8265:127.0.0.1:8265 head``) is
the recommended way in.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
from ray.exceptions import AuthenticationError
from ray.job_submission import JobSubmissionClient

from restore_core.errors import UserError
from restore_core.plugins import module_name_of_file
from sweeps.cluster.code import submitted_env
from sweeps.cluster.security import read_auth_token
from sweeps.cluster.storage import storage_warnings
from sweeps.launch.common import PROJECT_ROOT, RunArgs, check_run_args, require_cluster_storage
from sweeps.launch.dashboard import check_access, dashboard_url, not_ray
from sweeps.ray_private import UPLOAD_LOGGERS

EXCLUDES = [".git", ".venv", "runs", "**/__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache", "slurm-logs"]
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
SUBMISSIONS = 2  # a job whose runtime environment lost a package before it started is submitted once more
LOST_PACKAGE = "Failed to download runtime_env file package"  # Ray's words for it (runtime_env/packaging.py)
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_env(items: list[str]) -> dict[str, str]:
    """``--env NAME=VALUE`` items as a dict; the value is the text after the first ``=``, verbatim.

    Raises:
        UserError: an item without ``=`` or with a name that is not an environment variable's.
    """
    env = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--env expects NAME=VALUE, e.g. --env WANDB_MODE=offline; got '{item}' (no '=')")
        if not ENV_NAME.fullmatch(name):
            raise UserError(f"--env {item}: '{name}' is not a variable name; give NAME=VALUE with NAME of letters, "
                            "digits and '_', not starting with a digit, e.g. --env WANDB_MODE=offline")
        env[name] = value
    return env


def runtime_env(extra_pip: list[str], env: dict[str, str], working_dir: str = PROJECT_ROOT,
                py_modules: list[str] | None = None) -> dict[str, Any]:
    """The job's runtime environment: the project as its working directory, and the user's plugin files and packages
    (``py_modules``: importable by name in the driver and in every worker of the job)."""
    runtime: dict[str, Any] = {
        "working_dir": working_dir,
        "excludes": list(EXCLUDES),
        "env_vars": {"PYTHONUNBUFFERED": "1", "OPENCV_LOG_LEVEL": "OFF", **env},
    }
    if py_modules:
        runtime["py_modules"] = list(py_modules)
    if extra_pip:
        runtime["pip"] = list(extra_pip)
    return runtime


def as_package(path: str, staging: str) -> str:
    """A plugin file as the Jobs API uploads it (folders only): a package named like the file's module, whose
    ``__init__.py`` is the file, in ``staging``; a folder as it is. ``import <module>`` finds it on the cluster."""
    if os.path.isdir(path):
        return path
    package = os.path.join(staging, module_name_of_file(path))
    os.makedirs(package)
    shutil.copyfile(path, os.path.join(package, "__init__.py"))
    return package


def submit(
    address: str,
    run: RunArgs,
    *,
    insecure: bool = False,
    follow: bool = True,
    pip: list[str] | None = None,
    env: dict[str, str] | None = None,
    python: str = "python",
    out: Callable[[str], None] = print,
    warnings: list[str] | None = None,
) -> int:
    """Submit the sweep as a Ray job; with ``follow``, print its log until it ends and return its exit status.
    ``warnings`` (about the run's storage) go to stderr once the cluster has answered, so that an address that
    fails gets its one error line alone."""
    url = dashboard_url(address)
    token = read_auth_token()
    check_access(url, token, insecure)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for variable in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS"):  # Ray's client would prefer them to --address
        os.environ.pop(variable, None)
    for name in UPLOAD_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)  # one line per uploaded file otherwise
    client = None
    for attempt in range(SUBMISSIONS):
        try:
            if client is None:
                client = connect(url, headers)
                for warning in warnings or []:
                    print(f"warning: {warning}", file=sys.stderr)
            job_id, sent = _submit_run(client, run, python, pip or [], env or {})
        except AuthenticationError:
            raise UserError(f"the cluster at {url} refused the token (wrong or missing): use the head's token in "
                            "RAY_AUTH_TOKEN or ~/.ray/auth_token") from None
        except ConnectionError as err:
            raise UserError(f"cannot reach the Ray dashboard at {url}: {err}") from None
        except RuntimeError as err:
            raise UserError(f"the Jobs API at {url} refused the job: {str(err).strip()}") from None
        out(f"submitted job {job_id} to {url}: {sent.command(python)}")
        out(f"  logs: ray job logs -f {job_id} --address {url}    stop: ray job stop {job_id} --address {url}")
        if not follow:
            return 0
        try:
            asyncio.run(_follow(client, job_id))
        except KeyboardInterrupt:
            out(f"stopped following; job {job_id} keeps running (ray job stop {job_id} --address {url})")
            return 130
        code, info = final_status(client, job_id, out)
        if not lost_package(info) or attempt == SUBMISSIONS - 1:
            return code
        out("the cluster had lost a package of the job's runtime environment before the job started (nothing ran): "
            "submitting it again")
    raise AssertionError("unreachable")


def _submit_run(client, run: RunArgs, python: str, pip: list[str], env: dict[str, str]) -> tuple[str, RunArgs]:
    """Submit ``run`` with the user's plugin files, which go up with the job and are imported there by name; returns
    the job's id and the run as sent."""
    with tempfile.TemporaryDirectory(prefix="restore-plugins-") as staging:
        shipped = [as_package(path, staging) for path in run.uploads()]
        sent = run.with_plugin_files_at(module_name_of_file)
        # the job's driver records them as this machine's files (an analysis here finds them)
        job_env = {**submitted_env(sent.plugins), **env}
        return _submit_when_ready(client, sent, python, runtime_env(pip, job_env, py_modules=shipped)), sent


def lost_package(info) -> bool:
    """Whether the job failed before its driver started because the cluster no longer held a package of its runtime
    environment. Ray deletes a package once no job refers to it, and a submission that found it still there (and so
    did not upload it again) can lose it that way; submitted again, the package is uploaded anew."""
    error = str(getattr(info, "error_type", None) or "").split(".")[-1]
    return error == "RUNTIME_ENV_SETUP_FAILURE" and LOST_PACKAGE in (getattr(info, "message", None) or "")


def connect(url: str, headers: dict[str, str]):
    """Ray's Jobs API client for ``url``; it asks the dashboard for its version first.

    Raises:
        UserError: what answers is not a Ray dashboard (a 404 to /api/version, or an answer without a Ray
            version), or it answers with an HTTP error.
    """
    try:
        return JobSubmissionClient(url, headers=headers)
    except RuntimeError as err:
        if "returned 404" not in str(err):  # a Ray too old for the Jobs API: the caller's message says so
            raise
        raise not_ray(url, "it answered 404 to /api/version") from None
    except requests.HTTPError as err:
        raise UserError(f"the Ray dashboard at {url} answered {err.response.status_code} {err.response.reason}") \
            from None
    except (ValueError, KeyError):  # /api/version answered, but without JSON or without ray_version in it
        raise not_ray(url, "its answer to /api/version names no ray_version") from None


def _submit_when_ready(client, run: RunArgs, python: str, runtime: dict[str, Any], wait: float = 90.0) -> str:
    """Submit, retrying while a freshly started head has no job agent yet (Ray answers 500 until it has)."""
    deadline = time.time() + wait
    while True:
        try:
            return client.submit_job(
                entrypoint=run.command(python),
                submission_id=f"restore-{run.space or 'resume'}-{run.name}-{uuid.uuid4().hex[:6]}".replace("_", "-"),
                runtime_env=runtime,
                metadata={"space": str(run.space), "run": run.name, "storage": run.storage},
            )
        except RuntimeError as err:
            if "No available agent" not in str(err) or time.time() > deadline:
                raise
            time.sleep(2)


async def _follow(client, job_id: str) -> None:
    async for lines in client.tail_job_logs(job_id):
        sys.stdout.write(lines)
        sys.stdout.flush()


def final_status(client, job_id: str, out: Callable[[str], None], wait: float = 30.0) -> tuple[int, Any]:
    """Print the job's final status; return its driver's exit code (0 when it succeeded) and Ray's job info."""
    deadline = time.time() + wait
    info = client.get_job_info(job_id)
    while str(info.status).split(".")[-1] not in TERMINAL and time.time() < deadline:
        time.sleep(0.5)
        info = client.get_job_info(job_id)
    status = str(info.status).split(".")[-1]
    out(f"job {job_id} {status}" + (f": {info.message}" if info.message and status != "SUCCEEDED" else ""))
    if status == "SUCCEEDED":
        return 0, info
    code = getattr(info, "driver_exit_code", None)
    return (code if isinstance(code, int) and code > 0 else 1), info


# -- the launch target's interface (sweeps.launch.cli) ---------------------------------------------------------------
NAME = "ray"
HELP = "submit to a running Ray cluster through the Jobs API"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The route's own options (before ``--``)."""
    parser.add_argument("--address", required=True,
                        help="the head's dashboard, e.g. http://127.0.0.1:8265 (an SSH tunnel) or http://head:8265")
    parser.add_argument("--insecure", action="store_true",
                        help="submit to a non-loopback address even without token authentication")
    parser.add_argument("--no-follow", action="store_true", help="return after submitting instead of following the log")
    parser.add_argument("--pip", action="append", default=[], metavar="PACKAGE",
                        help="extra pip package for the job's runtime environment (repeatable)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment variable for the job; the value is taken verbatim (repeatable)")
    parser.add_argument("--python", default="python", help="the Python that runs sweeps/run.py on the head")


def launch(args: argparse.Namespace, run_args: list[str]) -> int:
    """Check the route's options and the sweeps/run.py arguments, then submit (or write) the sweep."""
    url = dashboard_url(args.address)
    env = parse_env(args.env)
    run = check_run_args(run_args)
    require_cluster_storage(run, "a Ray job")
    # said once the cluster answers: an address that fails is the one line
    warnings = storage_warnings(run.storage, None if "://" not in run.storage else 1)
    return submit(url, run, insecure=args.insecure, follow=not args.no_follow, pip=args.pip, env=env,
                  python=args.python, warnings=warnings)
