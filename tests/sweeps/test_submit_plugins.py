"""A sweep of the user's own code submitted to a cluster: its plugin files go along with a Ray job (runtime_env's
py_modules, imported there by name and recorded as the files they were sent from), as absolute paths on SLURM's
shared filesystem (a real sweep on this machine's SLURM), and in a ConfigMap mounted on every KubeRay pod."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from analysis import load_run
from restore_core.plugins import file_sha256
from sweeps.cluster.code import SUBMITTED
from sweeps.launch.cli import run_main
from tests.conftest import ROOT, free_port
from tests.registries import registries_restored_after_the_file  # noqa: F401 (its --import parts end with it)
from tests.sweeps.test_submit import _env, _slurm_ready, token_head  # noqa: F401  (the module's Ray head, token checked)

EXAMPLES = os.path.join(ROOT, "examples", "plugins")


def plugins(tmp_path) -> str:
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("tiny_net.py", "tiny_space.py"):
        shutil.copy(os.path.join(EXAMPLES, name), folder / name)
    return str(folder)


@pytest.mark.slow
def test_a_sweep_of_plugins_submitted_through_the_jobs_api(token_head, tmp_path):  # noqa: F811
    url, _, token = token_head
    folder = plugins(tmp_path)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "sweeps", "submit.py"), "ray", "--address", url, "--",
                           "--import", "mine/tiny_net.py", "--space", "mine/tiny_space.py:WIDTH", "--profile", "smoke",
                           "--storage", str(tmp_path / "runs"), "--name", "p1"],
                          cwd=tmp_path, env=_env(RAY_AUTH_TOKEN=token, PYTHONPATH=ROOT), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "python sweeps/run.py --import tiny_net --space tiny_space:WIDTH --profile smoke" in proc.stdout
    run_dir = tmp_path / "runs" / "tiny_width" / "p1"
    # the job imported its copies by name; the run records the files they were sent from, as a local sweep would
    recorded = json.loads((run_dir / "manifest.json").read_text())["plugins"]
    assert recorded == [{"kind": "file", "name": name, "path": f"{folder}/{name}.py",
                         "sha256": file_sha256(f"{folder}/{name}.py")} for name in ("tiny_net", "tiny_space")]
    frame = load_run(str(run_dir))  # loads them here from those files
    assert sorted(frame["label"]) == ["width=16", "width=4"] and set(frame["status"]) == {"completed"}
    from ray.job_submission import JobSubmissionClient

    job_id = proc.stdout.split("submitted job ")[1].split()[0]
    info = JobSubmissionClient(url, headers={"Authorization": f"Bearer {token}"}).get_job_info(job_id)
    assert len(info.runtime_env["py_modules"]) == 2  # the two files, uploaded with the job
    assert all(uri.startswith("gcs://_ray_pkg_") for uri in info.runtime_env["py_modules"])
    assert folder not in proc.stdout  # nothing of this machine's paths in the job's command

    # a resume needs no --import where this machine reads the run's manifest: the files it records go up again
    resumed = subprocess.run([sys.executable, os.path.join(ROOT, "sweeps", "submit.py"), "ray", "--address", url,
                              "--", "--resume", "--name", "p1", "--storage", str(tmp_path / "runs")],
                             cwd=tmp_path, env=_env(RAY_AUTH_TOKEN=token, PYTHONPATH=ROOT), capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    job_id = resumed.stdout.split("submitted job ")[1].split()[0]
    info = JobSubmissionClient(url, headers={"Authorization": f"Bearer {token}"}).get_job_info(job_id)
    assert info.entrypoint.startswith("python sweeps/run.py --resume --name p1") and "--import" not in info.entrypoint
    assert len(info.runtime_env["py_modules"]) == 2
    # a RayJob of the resume takes them in its ConfigMap, and its command loads them from there
    out = tmp_path / "resume.yaml"
    assert run_main(["kuberay", "--image", "x", "-o", str(out), "--", "--resume", "--name", "p1", "--storage",
                     str(tmp_path / "runs")]) == 0
    config_map, job = yaml.safe_load_all(out.read_text())
    assert sorted(config_map["data"]) == ["tiny_net.py", "tiny_space.py"]
    assert job["spec"]["entrypoint"].endswith("--import=/plugins/tiny_net.py --import=/plugins/tiny_space.py")
    # a node where the files are elsewhere (a pod's /plugins): given again, they stand in for the recorded ones
    os.rename(folder, tmp_path / "pods")
    try:
        dry = subprocess.run([sys.executable, os.path.join(ROOT, "sweeps", "run.py"), "--resume", "--dry-run",
                              "--name", "p1", "--storage", str(tmp_path / "runs"), "--import", "pods/tiny_net.py",
                              "--import", "pods/tiny_space.py", "--dashboard-port", str(free_port())], cwd=tmp_path,
                             env=_env(PYTHONPATH=ROOT),
                             capture_output=True, text=True, timeout=300)
    finally:
        os.rename(tmp_path / "pods", folder)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]


def test_the_sbatch_script_names_plugin_files_by_their_absolute_path(tmp_path, capsys, monkeypatch):
    folder = plugins(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert run_main(["slurm", "--print", "--", "--import", "mine/tiny_net.py", "--space",
                     "mine/tiny_space.py:WIDTH", "--profile", "smoke", "--storage", "/shared/runs", "--name", "s"]) == 0
    script = capsys.readouterr().out
    assert (f"sweeps/run.py --import {folder}/tiny_net.py --space {folder}/tiny_space.py:WIDTH --profile smoke "
            "--storage /shared/runs --name s --address") in script


@pytest.mark.slow
@pytest.mark.skipif(not _slurm_ready() and not os.environ.get("REQUIRE_SLURM"),
                    reason="no SLURM here (bash .ci/slurm-setup.sh starts a one-node one)")
def test_a_sweep_of_plugins_submitted_to_slurm(tmp_path):
    assert _slurm_ready(), "REQUIRE_SLURM is set but sinfo shows no up and idle node (bash .ci/slurm-setup.sh)"
    folder = plugins(tmp_path)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "sweeps", "submit.py"), "slurm", "--nodes", "1",
                           "--cpus-per-node", "2", "--time", "00:15:00", "--wait", "--log-dir", str(tmp_path / "logs"),
                           "--python", sys.executable, "--setup", "true", "--", "--import", "mine/tiny_net.py",
                           "--space", "mine/tiny_space.py:WIDTH", "--profile", "smoke", "--storage",
                           str(tmp_path / "runs"), "--name", "s1"],
                          cwd=tmp_path, env=_env(PYTHONPATH=ROOT), capture_output=True, text=True, timeout=540)
    logs = list((tmp_path / "logs").glob("*.out"))
    log = logs[0].read_text() if logs else ""
    assert proc.returncode == 0, proc.stdout + proc.stderr + log[-3000:]
    assert "ended with exit code 0" in proc.stdout and "best trial: " in log
    run_dir = tmp_path / "runs" / "tiny_width" / "s1"
    recorded = json.loads((run_dir / "manifest.json").read_text())["plugins"]
    assert recorded == [{"kind": "file", "name": name, "path": f"{folder}/{name}.py",
                         "sha256": file_sha256(f"{folder}/{name}.py")} for name in ("tiny_net", "tiny_space")]
    frame = load_run(str(run_dir))
    assert sorted(frame["label"]) == ["width=16", "width=4"] and set(frame["status"]) == {"completed"}


def test_the_kuberay_manifest_carries_plugin_files_in_a_config_map(tmp_path, capsys):
    folder = plugins(tmp_path)
    out = tmp_path / "rayjob.yaml"
    assert run_main(["kuberay", "--image", "registry.example/restore:1", "--namespace", "ml", "-o", str(out), "--",
                     f"--import={folder}/tiny_net.py", "--space", f"{folder}/tiny_space.py:WIDTH", "--profile",
                     "smoke", "--name", "k"]) == 0
    config_map, job = yaml.safe_load_all(out.read_text())
    assert (config_map["kind"], job["kind"]) == ("ConfigMap", "RayJob")
    assert config_map["metadata"] == {"name": f"{job['metadata']['name']}-plugins", "namespace": "ml",
                                      "labels": {"app.kubernetes.io/name": "restore-sweeps"}}
    for name in ("tiny_net.py", "tiny_space.py"):
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            assert config_map["data"][name] == handle.read()
    assert job["spec"]["entrypoint"] == ("python /app/sweeps/run.py --import=/plugins/tiny_net.py --space "
                                         "/plugins/tiny_space.py:WIDTH --profile smoke --name k")
    # the job's driver records the files as this machine has them, so that an analysis here loads them (a file this
    # process imported before from another folder, with the same code, is named by that folder)
    env_vars = yaml.safe_load(job["spec"]["runtimeEnvYAML"])["env_vars"]
    sent = json.loads(env_vars.pop(SUBMITTED))
    assert env_vars == {"PYTHONUNBUFFERED": "1", "OPENCV_LOG_LEVEL": "OFF"}
    assert [(r["kind"], r["name"], r["sha256"]) for r in sent] == [
        ("file", name, file_sha256(f"{folder}/{name}.py")) for name in ("tiny_net", "tiny_space")]
    assert all(os.path.isabs(r["path"]) and file_sha256(r["path"]) == r["sha256"] for r in sent)
    cluster = job["spec"]["rayClusterSpec"]
    for pod in (cluster["headGroupSpec"]["template"]["spec"], cluster["workerGroupSpecs"][0]["template"]["spec"]):
        assert pod["volumes"] == [{"name": "plugins", "configMap": {"name": config_map["metadata"]["name"]}}]
        assert pod["containers"][0]["volumeMounts"] == [{"name": "plugins", "mountPath": "/plugins",
                                                         "readOnly": True}]
    capsys.readouterr()
