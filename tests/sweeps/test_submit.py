"""``sweeps/submit.py`` against real Ray heads started here (one with token authentication that every Jobs API test
shares, one without on the outward address; their own ports and temp dirs, stopped after), the sbatch script read
back as text and a KubeRay manifest read back as YAML. A sweep on this machine's SLURM is in test_submit_plugins.py.

One job carries the checks of a submitted sweep: it sweeps the user's own plugin files, so that the same job shows
the project and those files uploaded, the log followed to SUCCEEDED and the run recorded as a local sweep would."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time

import pytest
import yaml

from analysis import load_run
from restore_core.errors import UserError
from restore_core.plugins import file_sha256
from sweeps.launch.cli import run_main
from sweeps.launch.dashboard import authentication_mode, check_access
from tests.conftest import ROOT, free_port
from tests.registries import registries_restored_after_the_file  # noqa: F401 (its --import parts end with it)
from tests.sweeps.cli_forks import run_forked
from tests.sweeps.submission import clean_env, copy_plugins, outward_address, ray_head
from tests.worker_forks import python_command

SWEEP = ["--space", "lsid_lr", "--profile", "smoke", "--search", "random", "--num-samples", "1", "--scheduler", "fifo"]


@pytest.fixture(scope="module")
def token_head(forked_workers, tmp_path_factory):
    """A Ray head on loopback with RAY_AUTH_MODE=token (its jobs' workers forked: tests/worker_forks.py); yields
    (url, gcs, token)."""
    token = secrets.token_hex(16)
    with ray_head(tmp_path_factory.mktemp("head"), "token", token=token) as (url, gcs):
        yield url, gcs, token


def test_the_heads_report_their_authentication_mode(token_head):
    assert authentication_mode(token_head[0]) == "token"


def test_a_sweep_of_plugins_submitted_through_the_jobs_api_runs_on_the_cluster(token_head, tmp_path):
    url, _, token = token_head
    folder = copy_plugins(tmp_path)
    submit = [*python_command(), os.path.join(ROOT, "sweeps", "submit.py"), "ray", "--address", url, "--"]
    env = clean_env(RAY_AUTH_TOKEN=token, PYTHONPATH=ROOT)
    (tmp_path / "runs").mkdir()  # there, so that its filesystem is checked (one that does not exist is not)
    proc = subprocess.run([*submit, "--import", "mine/tiny_net.py", "--space", "mine/tiny_space.py:WIDTH", "--profile",
                           "smoke", "--storage", str(tmp_path / "runs"), "--name", "p1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    command = "python sweeps/run.py --import tiny_net --space tiny_space:WIDTH --profile smoke"
    assert "submitted job restore-tiny-width-p1-" in out and command in out
    assert folder not in out  # nothing of this machine's paths in the job's command
    assert "Ray dashboard: http://127.0.0.1:" in out  # the job's driver found the cluster through RAY_ADDRESS
    assert "best trial: " in out and out.rstrip().endswith("SUCCEEDED")  # the log was followed to the end
    assert "each node would keep its own trials" in proc.stderr  # /tmp is node-local: a warning, not an error
    run_dir = tmp_path / "runs" / "tiny_width" / "p1"
    # the job imported its copies by name; the run records the files they were sent from, as a local sweep would
    recorded = json.loads((run_dir / "manifest.json").read_text())["plugins"]
    assert recorded == [{"kind": "file", "name": name, "path": f"{folder}/{name}.py",
                         "sha256": file_sha256(f"{folder}/{name}.py")} for name in ("tiny_net", "tiny_space")]
    frame = load_run(str(run_dir))  # loads them here from those files
    assert sorted(frame["label"]) == ["width=16", "width=4"] and frame["status"].tolist() == ["completed"] * 2
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(url, headers={"Authorization": f"Bearer {token}"})
    info = client.get_job_info(out.split("submitted job ")[1].split()[0])
    assert info.runtime_env["working_dir"].startswith("gcs://_ray_pkg_")  # the project went up with the job
    assert info.entrypoint.startswith(command)
    assert len(info.runtime_env["py_modules"]) == 2  # the two files, uploaded with the job
    assert all(uri.startswith("gcs://_ray_pkg_") for uri in info.runtime_env["py_modules"])

    # a resume needs no --import where this machine reads the run's manifest: the files it records go up again
    resumed = subprocess.run([*submit, "--resume", "--name", "p1", "--storage", str(tmp_path / "runs")],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    info = client.get_job_info(resumed.stdout.split("submitted job ")[1].split()[0])
    assert info.entrypoint.startswith("python sweeps/run.py --resume --name p1") and "--import" not in info.entrypoint
    assert len(info.runtime_env["py_modules"]) == 2
    # a RayJob of the resume takes them in its ConfigMap, and its command loads them from there
    manifest = tmp_path / "resume.yaml"
    assert run_main(["kuberay", "--image", "x", "-o", str(manifest), "--", "--resume", "--name", "p1", "--storage",
                     str(tmp_path / "runs")]) == 0
    config_map, job = yaml.safe_load_all(manifest.read_text())
    assert sorted(config_map["data"]) == ["tiny_net.py", "tiny_space.py"]
    assert job["spec"]["entrypoint"].endswith("--import=/plugins/tiny_net.py --import=/plugins/tiny_space.py")
    # a node where the files are elsewhere (a pod's /plugins): given again, they stand in for the recorded ones
    os.rename(folder, tmp_path / "pods")
    try:
        dry = subprocess.run([*python_command(), os.path.join(ROOT, "sweeps", "run.py"), "--resume", "--dry-run",
                              "--name", "p1", "--storage", str(tmp_path / "runs"), "--import", "pods/tiny_net.py",
                              "--import", "pods/tiny_space.py", "--dashboard-port", str(free_port())], cwd=tmp_path,
                             env=clean_env(PYTHONPATH=ROOT), capture_output=True, text=True, timeout=300)
    finally:
        os.rename(tmp_path / "pods", folder)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]


def test_a_job_whose_runtime_environment_lost_its_package_is_told_from_a_failed_one(token_head):
    """``lost_package``, on a real head: a job whose working_dir package the cluster does not hold fails before its
    driver starts (Ray's RUNTIME_ENV_SETUP_FAILURE, as when Ray deleted the package after the submission found it),
    and is submitted again; a job whose command fails is not."""
    from ray.job_submission import JobSubmissionClient

    from sweeps.launch.jobs import final_status, lost_package

    url, _, token = token_head
    client = JobSubmissionClient(url, headers={"Authorization": f"Bearer {token}"})
    lost = client.submit_job(entrypoint="python -c 'print(1)'",
                             runtime_env={"working_dir": f"gcs://_ray_pkg_{secrets.token_hex(8)}.zip"})
    failed = client.submit_job(entrypoint="python -c 'import sys; sys.exit(3)'")
    lines: list[str] = []
    code, info = final_status(client, lost, lines.append, wait=120)
    assert code == 1 and lines[-1].startswith(f"job {lost} FAILED") and lost_package(info)
    code, info = final_status(client, failed, lines.append, wait=120)
    assert code == 3 and lines[-1].startswith(f"job {failed} FAILED") and not lost_package(info)


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
                                    str(tmp_path_factory.mktemp("out")), env=clean_env(RAY_AUTH_TOKEN=token))


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
    proc = subprocess.run([*python_command(), "-", token_head[1], "2", "3"], input=wait, text=True, capture_output=True,
                          env=clean_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token_head[2]), timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ray cluster: 1 of 2 nodes" in proc.stdout
    assert f"error: only 1 of 2 nodes joined the Ray head at {token_head[1]} within 3 s" in proc.stderr
