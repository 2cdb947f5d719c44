"""The Ray dashboard of a sweep (answers while trials run, on loopback only, behind the token) and GPU checks.

The dashboard tests run one sweep in its own process with no ``--address``: it starts its own Ray (in its own
temporary folder, with its own dashboard port), as a user's first sweep on a workstation does, and must stop it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import psutil
import pytest

from restore_core.errors import UserError
from search_spaces import get_space
from sweeps.cluster.connect import check_local_start, fit_gpus
from sweeps.cluster.security import read_auth_token
from sweeps.settings.options import AUTO_GPU_SHARE, SweepOptions
from sweeps.settings.resolve import RunSettings, resolve_settings
from tests.conftest import ROOT, free_port
from tests.sweeps.conftest import dashboard_request
from tests.sweeps.submission import outward_address

START_LIMIT = 120  # seconds until the driver prints the dashboard (Ray starts in about 6 on a quiet machine)
SWEEP_LIMIT = 300  # seconds for the whole sweep of one smoke trial (about 15)


@dataclass
class LocalSweep:
    port: int
    returncode: int
    stdout: str
    stderr: str
    token: str | None
    no_token: int  # HTTP status of /api/version asked without a token
    wrong_token: int
    outward: str | None  # this machine's non-loopback address, if any
    outward_error: BaseException | None  # what connecting to <outward>:<port> raised (None: it connected)
    answers: list[tuple[int, dict, bool]] = field(default_factory=list)  # (status, body, the trial still running)
    ray_processes: list[str] = field(default_factory=list)  # the driver's descendants seen while it ran
    left_over: list[str] = field(default_factory=list)  # those still alive a while after the driver ended


def _watch_output(stream, lines: list[str], dashboard_seen: threading.Event) -> None:
    for line in stream:
        lines.append(line)
        if line.startswith("Ray dashboard: "):
            dashboard_seen.set()


def _connect_error(host: str, port: int) -> BaseException | None:
    try:
        with socket.create_connection((host, port), timeout=5):
            return None
    except OSError as err:
        return err


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory) -> LocalSweep:
    port = free_port()
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE")}
    env["RAY_TMPDIR"] = ray_tmp
    storage = tmp_path_factory.mktemp("local")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "sweeps", "run.py"), "--space", "lsid_lr", "--profile", "smoke",
         "--search", "random", "--num-samples", "1", "--scheduler", "fifo", "--dashboard-port", str(port),
         "--storage", str(storage), "--name", "local", "--no-analysis"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err, seen = [], [], threading.Event()
    readers = [threading.Thread(target=_watch_output, args=(proc.stdout, out, seen), daemon=True),
               threading.Thread(target=_watch_output, args=(proc.stderr, err, threading.Event()), daemon=True)]
    for reader in readers:
        reader.start()
    ray_processes: dict[psutil.Process, str] = {}  # process (pid and start time): its name
    driver = psutil.Process(proc.pid)

    def note_ray_processes() -> None:
        try:
            for child in driver.children(recursive=True):
                if child not in ray_processes:
                    ray_processes[child] = f"{child.pid} {child.name()}"
        except psutil.Error:  # the driver or that child has just ended
            pass

    url = f"http://127.0.0.1:{port}"
    token = no_token = wrong_token = None
    outward = outward_error = None
    answers: list[tuple[int, dict, bool]] = []
    try:
        if not seen.wait(START_LIMIT) or proc.poll() is not None:
            proc.kill()
            proc.wait(timeout=30)
            pytest.fail(f"the sweep did not print its dashboard (exit code {proc.returncode}):\n"
                        + "".join(out)[-2000:] + "".join(err)[-2000:])
        note_ray_processes()
        token = read_auth_token()  # the token Ray made or found when it started: the one `ray get-auth-token` prints
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # the checks that must be made while this Ray is up, first and quickly (a smoke trial takes seconds)
        no_token = dashboard_request(f"{url}/api/version", {})[0]
        wrong_token = dashboard_request(f"{url}/api/version", {"Authorization": "Bearer wrong"})[0]
        outward = outward_address()
        if outward is not None:
            outward_error = _connect_error(outward, port)
        while proc.poll() is None:
            note_ray_processes()
            # the trial runs until its status.json is written; then the driver ends and stops its Ray
            running = not glob.glob(os.path.join(storage, "lsid_lr", "local", "*", "status.json"))
            try:
                status, body = dashboard_request(f"{url}/api/version", headers, timeout=2)
            except OSError:
                status, body = 0, {}
            answers.append((status, body, running))
            time.sleep(0.3)
        proc.wait(timeout=SWEEP_LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for reader in readers:
            reader.join(timeout=10)
        # Ray stops its processes when the driver that started it exits; give them a moment
        deadline = time.time() + 15
        while time.time() < deadline and any(p.is_running() for p in ray_processes):
            time.sleep(0.2)
        left_over = [p for p in ray_processes if p.is_running()]
        for process in left_over:  # do not leave them to the rest of the test run
            try:
                process.kill()
            except psutil.Error:
                pass
        shutil.rmtree(ray_tmp, ignore_errors=True)
    return LocalSweep(port, proc.returncode, "".join(out), "".join(err), token, no_token, wrong_token, outward,
                      outward_error, answers, sorted(ray_processes.values()),
                      [ray_processes[p] for p in left_over])


def test_a_local_sweep_prints_its_dashboard_on_loopback_and_ends_well(local_sweep):
    assert local_sweep.returncode == 0, local_sweep.stderr[-3000:]
    printed = [line for line in local_sweep.stdout.splitlines() if line.startswith("Ray dashboard: ")]
    assert printed == [f"Ray dashboard: http://127.0.0.1:{local_sweep.port} (token login: `ray get-auth-token`)"]
    assert "warning: the Ray dashboard listens on" not in local_sweep.stderr  # loopback needs no warning


def test_the_dashboard_answers_while_the_sweep_runs(local_sweep):
    import ray

    during = [(status, body) for status, body, running in local_sweep.answers if running]
    assert len(during) >= 3, local_sweep.answers  # polled every 0.3 s through a trial of several seconds
    assert all(status == 200 for status, _ in during), [(status, running) for status, _, running in
                                                        local_sweep.answers]
    assert all(body["ray_version"] == ray.__version__ for _, body in during)


def test_the_dashboard_checks_the_token(local_sweep):
    assert local_sweep.token, "Ray's token authentication is off for a local Ray (on by default since 2.52)"
    assert local_sweep.no_token == 401
    assert local_sweep.wrong_token == 403


def test_the_dashboard_listens_on_loopback_only(local_sweep):
    if local_sweep.outward is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    assert isinstance(local_sweep.outward_error, ConnectionRefusedError), local_sweep.outward_error


def test_the_sweep_stops_the_ray_it_started(local_sweep):
    names = {description.split(" ", 1)[1] for description in local_sweep.ray_processes}
    assert {"raylet", "gcs_server"} <= names, local_sweep.ray_processes
    assert local_sweep.left_over == [], f"Ray processes still running after the sweep: {local_sweep.left_over}"


def test_a_sweep_on_a_running_ray_prints_its_dashboard_and_keeps_it_up(fault_sweep, ray_session):
    """With Ray already running (the session's), the sweep uses it: it prints that Ray's dashboard, which answers
    throughout a sweep whose worker is killed."""
    poll = fault_sweep.dashboard
    during = [(status, body) for t, status, body in poll.answers if fault_sweep.started < t < fault_sweep.ended]
    assert len(during) >= 10  # polled every half second through a sweep of more than five seconds
    assert all(status == 200 for status, _ in during)
    assert all(body["ray_version"] == ray_session.__version__ for _, body in during)
    printed = [line for line in fault_sweep.output.splitlines() if line.startswith("Ray dashboard: ")]
    assert printed and printed[0].split()[2] == poll.url


def test_without_a_gpu_the_sweep_runs_on_cpu_with_a_notice(capsys):
    assert fit_gpus(0.25, 0.0, "on this machine") == 0.0
    assert capsys.readouterr().err == ("notice: no GPU on this machine; --gpus-per-trial 0.25 ignored, trials run "
                                       "on CPU\n")


@pytest.mark.parametrize("wanted, there, ok", [(0.25, 1, True), (1, 1, True), (2, 8, True), (2, 1, False),
                                               (0.5, 0.0, True)])
def test_a_gpu_request_larger_than_any_node_is_refused(wanted, there, ok):
    if ok:
        assert fit_gpus(wanted, there, "on any node") == (wanted if there else 0.0)
    else:
        with pytest.raises(UserError, match=r"--gpus-per-trial 2 is more than the 1 GPU\(s\) on any node"):
            fit_gpus(wanted, there, "on any node")


@pytest.mark.parametrize("gpus_per_node, share", [(0.0, 0.0), (1.0, AUTO_GPU_SHARE), (8.0, AUTO_GPU_SHARE)])
def test_auto_takes_a_quarter_gpu_where_there_is_one_and_none_without(capsys, gpus_per_node, share):
    """The default (``auto``): four trials to a GPU in the checks where the nodes have one, until the probe trial
    decides at the start (one notice says so; tests/sweeps/cluster/test_gpu_share.py); silently CPU without."""
    assert SweepOptions(space="lsid_lr").gpus_per_trial is None
    assert fit_gpus(None, gpus_per_node, "on any node") == share
    err = capsys.readouterr().err
    assert err == ("" if not share else "GPU on any node: a probe trial measures how many trials share one when the "
                   "sweep starts (--gpus-per-trial sets the share; 0 runs the trials on CPU)\n")


def _settings(**options) -> RunSettings:
    return resolve_settings(SweepOptions(dashboard_port=free_port(), **options), get_space("lsid_lr"))


def test_the_local_checks_keep_the_gpu_request_for_the_manifest(capsys, monkeypatch):
    """The GPU request is fitted to the machine once Ray starts, after the manifest recorded it: a resume that
    repeats ``--gpus-per-trial`` then matches the run's own setting."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    settings = _settings(gpus_per_trial=0.25)
    assert check_local_start(settings, settings.gpus_per_trial) == 0.25 and capsys.readouterr().err == ""
    assert settings.record()["gpus_per_trial"] == 0.25


def test_the_local_checks_decide_auto_against_this_machine(capsys, monkeypatch):
    """``auto`` is decided against this machine's GPUs before anything is written; the manifest records the setting
    (auto: null, decided again by a resume on whatever machine it runs) and the share the trials ran with."""
    import torch

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    settings = _settings()
    assert check_local_start(settings, settings.gpus_per_trial) == (AUTO_GPU_SHARE if torch.cuda.is_available()
                                                                    else 0.0)
    assert settings.record()["gpus_per_trial"] is None
    if not torch.cuda.is_available():
        assert capsys.readouterr().err == ""  # no GPU, nothing asked for: no notice
