"""The Ray dashboard of a sweep (answers while trials run, on loopback only, behind the token) and GPU checks."""

from __future__ import annotations

import socket

import pytest

from restore_core.errors import UserError
from restore_core.sweep.cluster import check_local_start, fit_gpus
from restore_core.sweep.options import SweepOptions
from restore_core.sweep.security import host_of
from tests.conftest import free_port
from tests.restore_core.sweep.conftest import dashboard_request


def test_the_dashboard_answers_while_the_sweep_runs(fault_sweep, ray_session):
    poll = fault_sweep.dashboard
    during = [(status, body) for t, status, body in poll.answers if fault_sweep.started < t < fault_sweep.ended]
    assert len(during) >= 10  # polled every half second through a sweep of more than five seconds
    assert all(status == 200 for status, _ in during)
    assert all(body["ray_version"] == ray_session.__version__ for _, body in during)
    # the driver printed where the dashboard is: on loopback
    printed = [line for line in fault_sweep.output.splitlines() if line.startswith("Ray dashboard: ")]
    assert printed and printed[0].split()[2] == poll.url
    assert host_of(poll.url) == "127.0.0.1"


def _outward_address() -> str | None:
    """This machine's address on its default route (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_the_dashboard_listens_on_loopback_only_and_checks_the_token(fault_sweep):
    poll = fault_sweep.dashboard
    port = int(poll.url.rsplit(":", 1)[1])
    outward = _outward_address()
    if outward is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.settimeout(5)
        sock.connect((outward, port))
    assert poll.headers, "Ray's token authentication is off for the local cluster (on by default since 2.52)"
    assert dashboard_request(f"{poll.url}/api/version", {})[0] == 401
    assert dashboard_request(f"{poll.url}/api/version", {"Authorization": "Bearer wrong"})[0] == 403


def test_without_a_gpu_the_sweep_runs_on_cpu_with_a_notice(capsys):
    options = SweepOptions(space="lsid_lr", gpus_per_trial=0.25)
    fit_gpus(options, 0.0, "on this machine")
    assert options.gpus_per_trial == 0.0
    assert capsys.readouterr().err == ("notice: no GPU on this machine; --gpus-per-trial 0.25 ignored, trials run "
                                       "on CPU\n")


@pytest.mark.parametrize("wanted, there, ok", [(0.25, 1, True), (1, 1, True), (2, 8, True), (2, 1, False),
                                               (0.5, 0.0, True)])
def test_a_gpu_request_larger_than_any_node_is_refused(wanted, there, ok):
    options = SweepOptions(space="lsid_lr", gpus_per_trial=wanted)
    if ok:
        fit_gpus(options, there, "on any node")
        assert options.gpus_per_trial == (wanted if there else 0.0)
    else:
        with pytest.raises(UserError, match=r"--gpus-per-trial 2 is more than the 1 GPU\(s\) on any node"):
            fit_gpus(options, there, "on any node")


def test_the_local_checks_keep_the_gpu_request_for_the_manifest(capsys, monkeypatch):
    """The GPU request is fitted to the machine once Ray starts, after the manifest recorded it: a resume that
    repeats ``--gpus-per-trial`` then matches the run's own setting."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    options = SweepOptions(space="lsid_lr", gpus_per_trial=0.25, dashboard_port=free_port())
    check_local_start(options)
    assert options.gpus_per_trial == 0.25 and capsys.readouterr().err == ""
