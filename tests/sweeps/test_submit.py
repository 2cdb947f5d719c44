"""``sweeps/submit.py`` against real schedulers: Ray heads started here (one with token authentication, one without
on the outward address; their own ports and temp dirs, stopped after), this machine's SLURM when there is one, and a
KubeRay manifest read back as YAML."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

from analysis import load_run
from restore_core.errors import UserError
from sweeps.launch.cli import run_main
from sweeps.launch.dashboard import authentication_mode, check_access
from tests.conftest import ROOT, free_port
from tests.sweeps.cli_forks import run_forked

BIN = os.path.dirname(sys.executable)
SWEEP = ["--space", "lsid_lr", "--profile", "smoke", "--search", "random", "--num-samples", "1", "--scheduler", "fifo"]


def _env(**extra: str) -> dict[str, str]:
    """This environment without Ray's address and token settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "RAY_AUTH", "RAY_API_SERVER"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # `python` and `ray` of this virtual environment
    return {**env, **extra}


def outward_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # a UDP connect sends nothing; it picks the outward interface
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@contextlib.contextmanager
def ray_head(folder, mode: str, host: str = "127.0.0.1", token: str | None = None):
    """``ray start --head`` with ``RAY_AUTH_MODE=mode``, its dashboard on ``host``, one declared GPU and its own
    ports and temp dir; yields (dashboard url, GCS address) once the dashboard answers, stops the node after."""
    port, dashboard = free_port(), free_port()
    temp_dir = f"/tmp/rt-{secrets.token_hex(3)}"  # short: Ray's Unix sockets live under it
    command = [os.path.join(BIN, "ray"), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
               "--port", str(port), "--dashboard-host", host, "--dashboard-port", str(dashboard),
               "--dashboard-agent-listen-port", str(free_port()), "--dashboard-agent-grpc-port", str(free_port()),
               "--metrics-export-port", str(free_port()), "--runtime-env-agent-port", str(free_port()),
               "--ray-client-server-port", str(free_port()), "--num-cpus", "2", "--num-gpus", "1",
               "--temp-dir", temp_dir, "--disable-usage-stats"]
    env = _env(RAY_AUTH_MODE=mode, **({"RAY_AUTH_TOKEN": token} if token else {}))
    log = open(folder / "head.log", "w")  # noqa: SIM115 (closed below)
    head = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{host}:{dashboard}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        deadline = time.time() + 120
        while True:
            try:
                request = urllib.request.Request(f"{url}/api/version", headers=headers)
                with urllib.request.urlopen(request, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert head.poll() is None and time.time() < deadline, "the Ray head did not start"
            time.sleep(0.5)
        yield url, f"127.0.0.1:{port}"
    finally:
        head.terminate()  # `ray start --block` stops every process of its node on SIGTERM
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def token_head(tmp_path_factory):
    """A Ray head on loopback with RAY_AUTH_MODE=token; yields (url, gcs, token)."""
    token = secrets.token_hex(16)
    with ray_head(tmp_path_factory.mktemp("head"), "token", token=token) as (url, gcs):
        yield url, gcs, token


def test_the_heads_report_their_authentication_mode(token_head):
    assert authentication_mode(token_head[0]) == "token"


def test_a_sweep_submitted_through_the_jobs_api_runs_on_the_cluster(token_head, tmp_path):
    url, _, token = token_head
    proc = subprocess.run([sys.executable, "sweeps/submit.py", "ray", "--address", url, "--", *SWEEP, "--storage",
                           str(tmp_path), "--name", "job1"], cwd=ROOT, env=_env(RAY_AUTH_TOKEN=token),
                          capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "submitted job restore-lsid-lr-job1-" in out
    assert "Ray dashboard: http://127.0.0.1:" in out  # the job's driver found the cluster through RAY_ADDRESS
    assert "best trial: " in out and out.rstrip().endswith("SUCCEEDED")  # the log was followed to the end
    assert "each node would keep its own trials" in proc.stderr  # /tmp is node-local: a warning, not an error
    frame = load_run(str(tmp_path / "lsid_lr" / "job1"))
    assert len(frame) == 1 and frame["status"].tolist() == ["completed"]
    from ray.job_submission import JobSubmissionClient

    job_id = out.split("submitted job ")[1].split()[0]
    info = JobSubmissionClient(url, headers={"Authorization": f"Bearer {token}"}).get_job_info(job_id)
    assert info.runtime_env["working_dir"].startswith("gcs://_ray_pkg_")  # the project went up with the job
    assert info.entrypoint.startswith("python sweeps/run.py --space lsid_lr --profile smoke")


def test_a_wrong_token_is_refused(token_head, tmp_path, monkeypatch, capsys):
    url, _, _ = token_head
    monkeypatch.setenv("RAY_AUTH_TOKEN", "not-the-token")
    assert run_main(["ray", "--address", url, "--", *SWEEP, "--storage", str(tmp_path)]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the warning about node-local storage
    assert last.startswith(f"error: the cluster at {url} refused the token (wrong or missing)")


ABOVE_EVERY_NODE = {"--gpus-per-trial": "2", "--cpus-per-trial": "3"}


@pytest.fixture(scope="module")
def above_every_node(token_head, tmp_path_factory):
    """``sweeps/run.py`` against the token head with each request of ``ABOVE_EVERY_NODE``, each in a process of its
    own forked from one that imported the driver (tests/sweeps/cli_forks.py); yields the head's GCS address, each
    request's storage folder and its finished process."""
    _, gcs, token = token_head
    storage = {flag: str(tmp_path_factory.mktemp("storage")) for flag in ABOVE_EVERY_NODE}
    commands = {flag: [*SWEEP, flag, value, "--address", gcs, "--storage", storage[flag], "--name", "g"]
                for flag, value in ABOVE_EVERY_NODE.items()}
    return gcs, storage, run_forked(os.path.join(ROOT, "sweeps", "run.py"), commands, ROOT,
                                    str(tmp_path_factory.mktemp("out")), env=_env(RAY_AUTH_TOKEN=token))


@pytest.mark.parametrize("flag, message", [
    ("--gpus-per-trial", "--gpus-per-trial 2 is more than the 1 GPU(s) on any node of the cluster at {gcs}; use a "
                          "value in (0, 1] (0.25 packs four trials on one GPU)"),
    ("--cpus-per-trial", "--cpus-per-trial 3 is more than the 2 CPUs on any node of the cluster at {gcs}; use a "
                          "value in (0, 2]"),
])
def test_a_request_above_every_node_is_refused_with_nothing_written(above_every_node, flag, message):
    gcs, storage, refused = above_every_node
    proc = refused[flag]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == "error: " + message.format(gcs=gcs)
    assert "Traceback" not in proc.stderr and os.listdir(storage[flag]) == []


def test_submitting_over_the_network_needs_a_token(token_head, tmp_path, monkeypatch, capsys):
    outward = outward_address()
    if outward is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    for name in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ray/auth_token either
    port = token_head[0].rsplit(":", 1)[1]
    address = f"http://{outward}:{port}"
    started = time.perf_counter()
    assert run_main(["ray", "--address", address, "--", *SWEEP, "--storage", str(tmp_path)]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"error: refusing to submit to {outward}, which is not loopback, without token "
                           "authentication") and time.perf_counter() - started < 10
    # --insecure lifts the refusal; the head's dashboard listens on loopback only, so nothing answers there
    assert run_main(["ray", "--address", address, "--insecure", "--", *SWEEP, "--storage", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        f"error: cannot reach the Ray dashboard at {address}")


def test_a_cluster_without_token_checks_is_refused_even_with_a_token(tmp_path):
    outward = outward_address()
    if outward is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with ray_head(tmp_path, "disabled", host=outward) as (url, _):
        assert authentication_mode(url) == "disabled"
        with pytest.raises(UserError, match=f"the cluster at {outward} does not check tokens"):
            check_access(url, "a-token", insecure=False)
        check_access(url, "a-token", insecure=True)  # the user's explicit choice
        check_access(f"http://127.0.0.1:{url.rsplit(':', 1)[1]}", None, insecure=False)  # loopback: a tunnel


@pytest.mark.parametrize("args, message", [
    (["ray", "--address", "http://127.0.0.1:1", "--", *SWEEP, "--address", "auto"],
     "--address is decided by the submission"),
    (["ray", "--address", "http://127.0.0.1:1", "--", *SWEEP, "--storage", "runs"], "--storage runs is relative"),
    (["ray", "--address", "http://127.0.0.1:1"], "give the sweeps/run.py arguments after '--'"),
    (["slurm", "--nodes", "0", "--print", "--", *SWEEP], "--nodes and --cpus-per-node must be >= 1"),
    (["kuberay", "--image", "x", "--", "--space", "lsid_lrr"], "unknown space 'lsid_lrr' (did you mean 'lsid_lr'?)"),
])
def test_bad_submissions_fail_before_sending_anything(args, message, capsys):
    assert run_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_the_kuberay_manifest(tmp_path, capsys):
    out = tmp_path / "rayjob.yaml"
    assert run_main(["kuberay", "--image", "registry.example/restore:1", "--workers", "3", "--gpus-per-worker", "1",
                     "--cpus-per-worker", "8", "--storage-claim", "runs-rwx", "--namespace", "ml", "-o", str(out),
                     "--", "--space", "lsid_lr", "--seeds", "3", "--gpus-per-trial", "0.25", "--name", "k1"]) == 0
    job = yaml.safe_load(out.read_text())
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    labels = {"app.kubernetes.io/name": "restore-sweeps", "restore-sweeps/space": "lsid-lr"}
    name = job["metadata"].pop("name")
    assert job["metadata"] == {"namespace": "ml", "labels": labels}
    assert re.fullmatch(r"restore-lsid-lr-k1-[0-9a-f]{5}", name)
    spec = job["spec"]
    assert spec["entrypoint"] == ("python /app/sweeps/run.py --space lsid_lr --seeds 3 --gpus-per-trial 0.25 "
                                  "--name k1 --storage /runs")
    assert spec["shutdownAfterJobFinishes"] is True and spec["submissionMode"] == "K8sJobMode"
    cluster = spec["rayClusterSpec"]
    import ray

    assert cluster["rayVersion"] == ray.__version__ and cluster["authOptions"] == {"mode": "token"}
    head = cluster["headGroupSpec"]["template"]["spec"]
    assert cluster["headGroupSpec"]["rayStartParams"] == {"num-cpus": "0"}
    [workers] = cluster["workerGroupSpecs"]
    assert workers["replicas"] == workers["minReplicas"] == workers["maxReplicas"] == 3
    [container] = workers["template"]["spec"]["containers"]
    assert container["image"] == "registry.example/restore:1"
    assert container["resources"]["limits"] == {"cpu": "8", "memory": "16Gi", "nvidia.com/gpu": "1"}
    for pod in (head, workers["template"]["spec"]):
        assert pod["volumes"] == [{"name": "runs", "persistentVolumeClaim": {"claimName": "runs-rwx"}}]
        assert pod["containers"][0]["volumeMounts"] == [{"name": "runs", "mountPath": "/runs"}]
    assert "kubectl apply -f" in capsys.readouterr().err


def test_the_sbatch_script_is_valid_bash_for_many_nodes(capsys):
    assert run_main(["slurm", "--print", "--nodes", "4", "--gpus-per-node", "8", "--cpus-per-node", "64",
                     "--partition", "gpu", "--time", "12:00:00", "--setup", "module load cuda", "--",
                     *SWEEP, "--storage", "/shared/runs", "--name", "s4"]) == 0
    script = capsys.readouterr().out
    assert "#SBATCH --nodes=4\n" in script and "#SBATCH --gpus-per-node=8\n" in script
    assert "#SBATCH --partition=gpu\n" in script and "module load cuda\n" in script
    assert "export RAY_AUTH_MODE=token" in script and "--dashboard-host=127.0.0.1" in script
    assert 'sweeps/run.py --space lsid_lr --profile smoke' in script and '--address "$head_ip:$port"' in script
    # nothing of this machine's paths: the project root on the cluster is wherever sbatch runs
    assert ROOT not in script and 'cd "$SLURM_SUBMIT_DIR"' in script
    assert "#SBATCH --output=slurm-logs/%x-%j.out\n" in script and "#SBATCH --signal=B:TERM@120\n" in script
    # Ray from --python, not whichever `ray` is on PATH
    assert "python -m ray.scripts.scripts start --head --block" in script
    assert "python -m ray.scripts.scripts start --block --address" in script
    assert not [line for line in script.splitlines() if line.split()[:1] == ["ray"]]
    assert "hostname -I" in script
    syntax = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert syntax.returncode == 0, syntax.stderr


def test_an_absolute_log_dir_stays_absolute_in_the_sbatch_script(capsys):
    assert run_main(["slurm", "--print", "--log-dir", "/shared/slurm-logs", "--", *SWEEP, "--storage", "/shared/r",
                     "--name", "a"]) == 0
    script = capsys.readouterr().out
    assert "#SBATCH --output=/shared/slurm-logs/%x-%j.out\n" in script
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0


def test_the_sbatch_script_fails_the_job_when_nodes_are_missing(token_head, capsys):
    """The script's wait step, run as the script runs it against a real one-node Ray head, asked for two nodes."""
    assert run_main(["slurm", "--print", "--nodes", "2", "--", *SWEEP, "--storage", "/shared/r", "--name", "w"]) == 0
    script = capsys.readouterr().out
    wait = script.split("<<'WAIT'\n", 1)[1].split("\nWAIT\n", 1)[0]
    assert '"${#nodes[@]}" 300 <<\'WAIT\'' in script
    proc = subprocess.run([sys.executable, "-", token_head[1], "2", "3"], input=wait, text=True, capture_output=True,
                          env=_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token_head[2]), timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ray cluster: 1 of 2 nodes" in proc.stdout
    assert f"error: only 1 of 2 nodes joined the Ray head at {token_head[1]} within 3 s" in proc.stderr


def _slurm_ready() -> bool:
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return False
    state = subprocess.run(["sinfo", "-h", "-o", "%a %T"], capture_output=True, text=True)
    return state.returncode == 0 and any(line.startswith("up") and ("idle" in line or "mix" in line)
                                         for line in state.stdout.splitlines())


@pytest.mark.skipif(not _slurm_ready() and not os.environ.get("REQUIRE_SLURM"),
                    reason="no SLURM here (bash .ci/slurm-setup.sh starts a one-node one)")
def test_the_sbatch_script_runs_a_sweep_on_slurm(tmp_path):
    assert _slurm_ready(), "REQUIRE_SLURM is set but sinfo shows no up and idle node (bash .ci/slurm-setup.sh)"
    # from another folder (sbatch must still run from the project root), with neither `python` nor `ray` of this
    # virtual environment on PATH: --python alone names the Python that runs Ray and the sweep
    env = _env()
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if os.path.abspath(p) != BIN)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "sweeps", "submit.py"), "slurm", "--nodes", "1",
                           "--cpus-per-node", "2", "--time", "00:15:00", "--wait", "--log-dir", str(tmp_path / "logs"),
                           "--python", sys.executable, "--setup", "true", "--", *SWEEP,
                           "--storage", str(tmp_path / "runs"), "--name", "s1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540)
    logs = list((tmp_path / "logs").glob("*.out"))
    log = logs[0].read_text() if logs else ""
    assert proc.returncode == 0, proc.stdout + proc.stderr + log[-3000:]
    assert "SLURM job" in proc.stdout and "ended with exit code 0" in proc.stdout
    assert "ray cluster: 1 of 1 nodes" in log and "best trial: " in log
    [head] = [line.split()[-1] for line in log.splitlines() if line.startswith("ray head: ")]
    if outward_address():  # the address the other nodes reach, not a loopback one
        assert not head.startswith("127."), head
    frame = load_run(str(tmp_path / "runs" / "lsid_lr" / "s1"))
    assert frame["status"].tolist() == ["completed"]
