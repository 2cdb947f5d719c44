"""One real sweep with injected faults, shared by the tests of the trainable, the dashboard and TensorBoard.

While it runs, one thread polls the Ray dashboard and another kills the worker process of the slow trial once it
has reported (a preempted or OOM-killed worker), which ``--max-failures 1`` must retry from the checkpoint.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import pytest

from tests.sweeps import spaces
from tests.sweeps.trial_reports import kill_worker

# seconds; the hung trial waits it out twice (it is retried), so it sets the sweep's length. A smoke trial takes about
# 1, the slow one (tests/sweeps/spaces.py: FAULT_SLOW) about 3: with four busy loops beside the test on the development
# machine's two cores, the slow trial's longer attempt (its retry) reported its last step 2.7 s after its start;
# 10 leaves over 3 times that
TRIAL_TIMEOUT = 10


@dataclass
class DashboardPoll:
    url: str
    headers: dict[str, str]
    answers: list[tuple[float, int, dict]] = field(default_factory=list)  # (time, HTTP status, JSON body)


@dataclass
class FaultSweep:
    run_dir: str
    output: str
    started: float
    ended: float
    dashboard: DashboardPoll
    killed_pid: int | None


def dashboard_request(url: str, headers: dict[str, str], timeout: float = 5.0) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            return response.status, json.loads(body) if body.startswith(b"{") else {}
    except urllib.error.HTTPError as err:
        return err.code, {}


def auth_headers() -> dict[str, str]:
    """The bearer token of the session's Ray when it checks tokens (Ray 2.60 turns them on for local clusters)."""
    from sweeps.cluster.security import read_auth_token
    from sweeps.ray_private import token_auth_enabled

    token = read_auth_token() if token_auth_enabled() else None
    return {"Authorization": f"Bearer {token}"} if token else {}


def _poll_dashboard(poll: DashboardPoll, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            status, body = dashboard_request(f"{poll.url}/api/version", poll.headers, timeout=2)
        except OSError:
            status, body = 0, {}
        poll.answers.append((time.time(), status, body))
        stop.wait(0.5)


@pytest.fixture(scope="session")
def fault_sweep(ray_session, tmp_path_factory) -> FaultSweep:
    from sweeps.ray_private import dashboard_url
    from sweeps.run import main

    spaces.register()
    storage = tmp_path_factory.mktemp("faults")
    run_dir = os.path.join(storage, "ops_faults", "faults")
    poll = DashboardPoll(dashboard_url(), auth_headers())
    stop, killed = threading.Event(), []
    threads = [threading.Thread(target=_poll_dashboard, args=(poll, stop), daemon=True),
               threading.Thread(target=kill_worker, args=(run_dir, "slow", 1, stop, killed), daemon=True)]
    for thread in threads:
        thread.start()
    output = io.StringIO()
    started = time.time()
    try:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            code = main(["--space", "ops_faults", "--profile", "smoke", "--storage", str(storage), "--name", "faults",
                         "--trial-timeout", str(TRIAL_TIMEOUT), "--max-failures", "1", "--no-analysis",
                         "--cpus-per-trial", "0.5",  # two at a time on the 1-CPU session Ray: the hung one waits
                         "--verbose", "1"])
    finally:
        ended = time.time()
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    assert code == 0, output.getvalue()[-3000:]
    return FaultSweep(run_dir, output.getvalue(), started, ended, poll, killed[0] if killed else None)
