"""Bad sweep and submission options: ``sweeps/run.py --dry-run`` refuses what the sweep itself would refuse, and
``sweeps/submit.py`` what the cluster could never run, each with one ``error:`` line, exit code 2 and nothing
written. Nothing here starts Ray or submits a job (dry runs, ``slurm --print``, ``kuberay -o`` under tmp_path, and
small HTTP servers on loopback that are not Ray)."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import subprocess
import threading

import pytest
import torch

from restore_core.errors import UserError
from search_spaces import get_space
from sweeps.cluster.connect import check_cpus, local_cpus
from sweeps.cluster.security import port_is_free
from sweeps.launch.cli import run_main
from sweeps.launch.dashboard import authentication_mode, dashboard_url
from sweeps.run import main
from sweeps.settings.options import SweepOptions, storage_location
from sweeps.settings.resolve import resolve_settings
from tests.conftest import ROOT, free_port
from tests.sweeps.cli_forks import run_forked
from tests.worker_forks import python_command

SMOKE = ["--space", "lsid_lr", "--profile", "smoke"]


def dry_run(tmp_path, *args: str) -> list[str]:
    """``sweeps/run.py --dry-run`` in this process with storage under ``tmp_path``; the sweep's own arguments last."""
    return [*SMOKE, "--dry-run", "--dashboard-port", str(free_port()), "--storage", str(tmp_path / "runs"), *args]


def run_fails(capsys, argv: list[str], *words: str) -> str:
    """``sweeps/run.py`` must exit 2 with exactly one stderr line, ``error: ...`` holding ``words``."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def submit_fails(capsys, argv: list[str], *words: str) -> str:
    """``sweeps/submit.py`` must exit 2 with one stderr line, ``error: ...`` holding ``words``, and no output."""
    assert run_main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    for word in words:
        assert word in lines[0], lines[0]
    assert captured.out == ""
    return lines[0]


# -- sweeps/run.py --dry-run ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("seconds", ["inf", "1e10", "9.3e9"])
def test_a_trial_timeout_beyond_what_a_watchdog_can_wait_is_refused(seconds, tmp_path, capsys):
    run_fails(capsys, dry_run(tmp_path, "--trial-timeout", seconds),
              "--trial-timeout must be a number of seconds in (0, 9.2e9] (leave it out for no limit); got ")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("value", ["-0.2", "nan"])
def test_a_noise_the_race_cannot_use_is_refused(value, tmp_path, capsys):
    run_fails(capsys, dry_run(tmp_path, "--asha-noise", value), "--asha-noise must be auto or a number >= 0",
              f"got {value}")
    assert not (tmp_path / "runs").exists()
    with pytest.raises(SystemExit) as exited:  # the parser's own refusal
        main(dry_run(tmp_path, "--asha-noise", "loud"))
    assert exited.value.code == 2
    assert "argument --asha-noise: expected auto or a number >= 0" in capsys.readouterr().err


def test_the_noise_and_a_quorum_are_not_given_together(tmp_path, capsys):
    run_fails(capsys, dry_run(tmp_path, "--asha-noise", "auto", "--asha-quorum", "4"),
              "--asha-noise and --asha-quorum both keep early arrivals from running ahead of the others; give one")
    assert main(dry_run(tmp_path, "--asha-noise", "0", "--asha-quorum", "4")) == 0  # no race: the quorum


def test_the_longest_trial_timeout_is_accepted():
    SweepOptions(space="lsid_lr", trial_timeout=9.2e9).check()


def test_a_cpu_request_larger_than_this_machine_is_refused(tmp_path, capsys):
    cpus = local_cpus()
    run_fails(capsys, dry_run(tmp_path, "--cpus-per-trial", f"{cpus + 1:g}"),
              f"--cpus-per-trial {cpus + 1:g} is more than the {cpus:g} CPUs on this machine; use a value in "
              f"(0, {cpus:g}]")
    assert not (tmp_path / "runs").exists()


def test_the_cpus_ray_would_see_are_those_of_ray_override_resources(forked_workers):
    # its own process: in this one the session's Ray may run already, and then its CPUs are the ones that count
    code = "from sweeps.cluster.connect import local_cpus; print(local_cpus())"
    env = {**os.environ, "RAY_OVERRIDE_RESOURCES": json.dumps({"CPU": 1}), "PYTHONPATH": ROOT}
    done = subprocess.run([*python_command(), "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1.0"


@pytest.mark.parametrize("wanted, there, ok", [(2, 2, True), (0.5, 1, True), (4, 0, True), (3, 2, False)])
def test_a_cpu_request_larger_than_any_node_is_refused(wanted, there, ok):
    if ok:  # a node without CPUs (a head that runs no trials) is not judged
        check_cpus(wanted, there, "on any node")
    else:
        with pytest.raises(UserError, match=r"^--cpus-per-trial 3 is more than the 2 CPUs on any node; use a value "
                                            r"in \(0, 2\]$"):
            check_cpus(wanted, there, "on any node")


@pytest.mark.parametrize("address", ["nope", "head:port", "10.0.0.5:99999", ":6379"])
def test_an_address_ray_cannot_take_is_refused_by_the_dry_run(address, tmp_path, capsys):
    run_fails(capsys, dry_run(tmp_path, "--address", address),
              f"--address {address}: expected host:port of the Ray head with a port in 1..65535")


def test_a_ray_address_variable_ray_cannot_take_is_refused_by_the_dry_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "nope")
    run_fails(capsys, dry_run(tmp_path), "RAY_ADDRESS=nope: expected host:port")


@pytest.mark.parametrize("address", ["http://127.0.0.1:8265", "https://head:8265"])
def test_a_dashboard_address_is_named_as_one(address, tmp_path, capsys, monkeypatch):
    run_fails(capsys, dry_run(tmp_path, "--address", address),
              f"--address {address} is the dashboard's (Jobs API) address, not the Ray head's; give host:port")
    monkeypatch.setenv("RAY_ADDRESS", address)  # what Ray's Jobs CLI asks users to export
    run_fails(capsys, dry_run(tmp_path), f"RAY_ADDRESS={address} is the dashboard's (Jobs API) address")


@pytest.mark.parametrize("address", ["auto", "10.0.0.5:6379", "ray://head:10001", "[::1]:6379"])
def test_addresses_ray_takes_pass_the_options_check(address):
    SweepOptions(space="lsid_lr", address=address).check()


HOSTS = ["not a host", "192.0.2.1", "[::1]"]


@pytest.fixture(scope="module")
def dashboard_host_runs(tmp_path_factory):
    """Each host's dry run in its own process (a Ray already running in this one, the session's, would be reused, and
    its dashboard with it), forked from one that has imported the driver; storage under ``<tmp>/<host's index>``."""
    tmp = tmp_path_factory.mktemp("dashboard-host")
    commands = {host: dry_run(tmp / str(number), "--dashboard-host", host) for number, host in enumerate(HOSTS)}
    return tmp, run_forked(os.path.join(ROOT, "sweeps", "run.py"), commands, ROOT, str(tmp_path_factory.mktemp("out")))


@pytest.mark.parametrize("host", HOSTS)
def test_a_dashboard_host_that_is_no_address_of_this_machine(host, dashboard_host_runs):
    tmp_path, results = dashboard_host_runs
    tmp_path = tmp_path / str(HOSTS.index(host))
    done = results[host]
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --dashboard-host {host!r} is not an address of this "
                                                   "machine; "), done.stderr
    assert "127.0.0.1 (default)" in lines[0] and "0.0.0.0" in lines[0] and "in use" not in lines[0]
    assert not (tmp_path / "runs").exists()


def test_port_is_free_tells_a_bad_host_from_a_port_in_use():
    with pytest.raises(UserError, match="is not an address of this machine"):
        port_is_free("not a host", free_port())
    assert port_is_free("127.0.0.1", free_port())


@pytest.mark.parametrize("storage, words", [
    ("", ["--storage is empty; give a folder (default: runs) or a URI of s3://"]),
    ("foo://x", ["--storage foo://x: unknown storage scheme 'foo'; give a folder", "s3://", "gs://", "file:///"]),
    ("file://runs", ["--storage file://runs: a file:// URI names an absolute path", "file:///shared/runs"]),
    ("file://localhost/tmp/runs", ["a file:// URI names an absolute path"]),
])
def test_storage_nothing_can_open_is_refused(storage, words, tmp_path, capsys):
    run_fails(capsys, [*dry_run(tmp_path), "--storage", storage], *words)


def test_a_file_uri_is_the_local_path_it_names(tmp_path, capsys):
    assert main([*dry_run(tmp_path), "--storage", f"file://{tmp_path}/a%20b", "--name", "n"]) == 0
    assert f"run directory: {tmp_path}/a b/lsid_lr/n\n" in capsys.readouterr().out
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("storage, location", [("runs", "runs"), ("s3://bucket/runs", "s3://bucket/runs"),
                                               ("file:///shared/runs", "/shared/runs"),
                                               ("local:///shared/runs", "/shared/runs"),
                                               ("gs://b/r", "gs://b/r")])
def test_storage_locations(storage, location):
    assert storage_location(storage) == location
    settings = resolve_settings(SweepOptions(storage=storage), get_space("lsid_lr"))
    assert settings.storage == location and settings.remote_storage == ("://" in location)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the notice is for a machine without a GPU")
def test_the_dry_run_prints_the_notice_the_sweep_prints_without_a_gpu(tmp_path, capsys):
    assert main(dry_run(tmp_path, "--gpus-per-trial", "2")) == 0
    captured = capsys.readouterr()
    assert captured.err == "notice: no GPU on this machine; --gpus-per-trial 2 ignored, trials run on CPU\n"
    assert "run directory: " in captured.out


# -- sweeps/submit.py ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["slurm", "--print", "--cpus-per-node", "2", "--", *SMOKE, "--cpus-per-trial", "4"],
     ["--cpus-per-trial 4 is more than the 2 CPUs on each node of the job (--cpus-per-node 2); use a value in (0, 2]"]),
    (["slurm", "--print", "--gpus-per-node", "1", "--", *SMOKE, "--gpus-per-trial", "2"],
     ["--gpus-per-trial 2 is more than the 1 GPU(s) on each node of the job (--gpus-per-node 1); use a value in "
      "(0, 1]"]),
    (["kuberay", "--image", "x", "-o", "{tmp}/rayjob.yaml", "--cpus-per-worker", "2", "--", *SMOKE,
      "--cpus-per-trial", "3"],
     ["--cpus-per-trial 3 is more than the 2 CPUs on each worker pod (--cpus-per-worker 2); use a value in (0, 2]"]),
    (["kuberay", "--image", "x", "-o", "{tmp}/rayjob.yaml", "--gpus-per-worker", "1", "--", *SMOKE,
      "--gpus-per-trial", "2"],
     ["--gpus-per-trial 2 is more than the 1 GPU(s) on each worker pod (--gpus-per-worker 1)"]),
])
def test_a_trial_larger_than_every_node_of_the_submission_is_refused(argv, words, tmp_path, capsys):
    submit_fails(capsys, [arg.replace("{tmp}", str(tmp_path)) for arg in argv], *words)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("argv", [
    ["slurm", "--print", "--cpus-per-node", "2", "--", *SMOKE, "--cpus-per-trial", "2", "--storage", "/shared/r"],
    ["slurm", "--print", "--gpus-per-node", "0", "--", *SMOKE, "--gpus-per-trial", "2", "--storage", "/shared/r"],
    ["kuberay", "--image", "x", "--gpus-per-worker", "2", "--storage-claim", "runs", "--", *SMOKE,
     "--gpus-per-trial", "2"],
])
def test_trials_that_fit_a_node_are_submitted(argv, capsys):
    assert run_main(argv) == 0
    assert capsys.readouterr().err == ""


def test_a_broken_ipv6_address_is_one_line(tmp_path, capsys):
    submit_fails(capsys, ["ray", "--address", "http://[::1", "--", *SMOKE, "--storage", str(tmp_path)],
                 "--address http://[::1: give the dashboard's HTTP address as http://HOST:PORT")
    with pytest.raises(UserError):
        dashboard_url("[::1")


def test_an_address_where_nothing_answers_is_one_line_without_the_storage_warning(tmp_path, capsys):
    # storage under /tmp is node-local: its warning would come first if it were said before connecting
    port = free_port()
    submit_fails(capsys, ["ray", "--address", f"http://127.0.0.1:{port}", "--", *SMOKE, "--storage", str(tmp_path)],
                 f"cannot reach the Ray dashboard at http://127.0.0.1:{port}")


@contextlib.contextmanager
def http_server(answers: dict[str, tuple[int, bytes]]):
    """An HTTP server on loopback that answers GET ``path`` with ``answers[path]`` (404 for other paths); yields its
    URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            status, body = answers.get(self.path.split("?")[0], (404, b"not found"))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("answers, words", [
    ({}, ["is not a Ray dashboard (it answered 404 Not Found to /api/authentication_mode and /api/version)"]),
    ({"/api/authentication_mode": (200, b"<html>hello</html>")},
     ["is not a Ray dashboard (its answer to /api/authentication_mode is not JSON)"]),
    ({"/api/version": (200, b'{"version": "1"}')}, ["is not a Ray dashboard (its answer to /api/version names no "
                                                    "ray_version)"]),
])
def test_a_server_that_is_not_ray_is_not_taken_for_a_cluster_without_tokens(answers, words):
    with http_server(answers) as url:
        with pytest.raises(UserError) as err:
            authentication_mode(url, timeout=5)
    message = str(err.value)
    assert message.startswith(f"the server at {url} ") and "does not check tokens" not in message
    for word in words:
        assert word in message


def test_a_ray_from_before_token_authentication_is_told_by_its_version():
    with http_server({"/api/version": (200, b'{"ray_version": "2.9.0", "version": "4"}')}) as url:
        assert authentication_mode(url, timeout=5) == "disabled"
    with http_server({"/api/authentication_mode": (200, b'{"authentication_mode": "token"}')}) as url:
        assert authentication_mode(url, timeout=5) == "token"


@pytest.mark.parametrize("answers", [{}, {"/api/version": (200, b"<html>hello</html>")}])
def test_submitting_to_a_server_that_is_not_ray_is_one_line(answers, tmp_path, capsys):
    with http_server(answers) as url:
        submit_fails(capsys, ["ray", "--address", url, "--", *SMOKE, "--storage", str(tmp_path)],
                     f"the server at {url} is not a Ray dashboard")
