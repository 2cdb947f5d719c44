"""A sweep of the user's own code submitted to a cluster: its plugin files as absolute paths on SLURM's shared
filesystem (a real sweep on this machine's SLURM, submitted from another folder with Ray driven by ``--python``
alone) and in a ConfigMap mounted on every KubeRay pod. Through a Ray job (runtime_env's py_modules) they go in
test_submit.py, beside the other tests of its token-checked Ray head."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from analysis import load_run
from restore_core.plugins import file_sha256
from sweeps.cluster.code import SUBMITTED
from sweeps.launch.cli import run_main
from sweeps.launch.slurm import scontrol_beside_sbatch, submit_script
from sweeps.launch.slurm_wait import exit_status, wait_for_job
from tests.conftest import ROOT
from tests.registries import registries_restored_after_the_file  # noqa: F401 (its --import parts end with it)
from tests.sweeps.submission import BIN, clean_env, copy_plugins, outward_address, slurm_ready
from tests.worker_forks import python_command


def test_the_sbatch_script_names_plugin_files_by_their_absolute_path(tmp_path, capsys, monkeypatch):
    folder = copy_plugins(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert run_main(["slurm", "--print", "--", "--import", "mine/tiny_net.py", "--space",
                     "mine/tiny_space.py:WIDTH", "--profile", "smoke", "--storage", "/shared/runs", "--name", "s"]) == 0
    script = capsys.readouterr().out
    assert (f"sweeps/run.py --import {folder}/tiny_net.py --space {folder}/tiny_space.py:WIDTH --profile smoke "
            "--storage /shared/runs --name s --address") in script


@pytest.mark.skipif(not slurm_ready() and not os.environ.get("REQUIRE_SLURM"),
                    reason="no SLURM here (bash .ci/slurm-setup.sh starts a one-node one)")
def test_a_sweep_of_plugins_submitted_to_slurm(forked_workers, tmp_path):
    assert slurm_ready(), "REQUIRE_SLURM is set but sinfo shows no up and idle node (bash .ci/slurm-setup.sh)"
    folder = copy_plugins(tmp_path)
    # from another folder (sbatch must still run from the project root), with neither `python` nor `ray` of this
    # virtual environment on PATH: --python alone names the Python that runs Ray and the sweep (the session's
    # executable whose commands are forked, tests/worker_forks.py: the job's Ray nodes and driver too)
    env = clean_env(PYTHONPATH=ROOT)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if os.path.abspath(p) != BIN)
    proc = subprocess.run([*python_command(), os.path.join(ROOT, "sweeps", "submit.py"), "slurm", "--nodes", "1",
                           "--cpus-per-node", "2", "--time", "00:15:00", "--wait", "--log-dir", str(tmp_path / "logs"),
                           "--python", python_command()[0], "--setup", "true", "--", "--import", "mine/tiny_net.py",
                           "--space", "mine/tiny_space.py:WIDTH", "--profile", "smoke", "--storage",
                           str(tmp_path / "runs"), "--name", "s1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540)
    logs = list((tmp_path / "logs").glob("*.out"))
    log = logs[0].read_text() if logs else ""
    assert proc.returncode == 0, proc.stdout + proc.stderr + log[-3000:]
    assert "SLURM job" in proc.stdout and "ended with exit code 0" in proc.stdout
    assert "ray cluster: 1 of 1 nodes" in log and "best trial: " in log
    [head] = [line.split()[-1] for line in log.splitlines() if line.startswith("ray head: ")]
    if outward_address():  # the address the other nodes reach, not a loopback one
        assert not head.startswith("127."), head
    run_dir = tmp_path / "runs" / "tiny_width" / "s1"
    recorded = json.loads((run_dir / "manifest.json").read_text())["plugins"]
    assert recorded == [{"kind": "file", "name": name, "path": f"{folder}/{name}.py",
                         "sha256": file_sha256(f"{folder}/{name}.py")} for name in ("tiny_net", "tiny_space")]
    frame = load_run(str(run_dir))
    assert sorted(frame["label"]) == ["width=16", "width=4"] and frame["status"].tolist() == ["completed"] * 2


@pytest.mark.skipif(not slurm_ready() and not os.environ.get("REQUIRE_SLURM"),
                    reason="no SLURM here (bash .ci/slurm-setup.sh starts a one-node one)")
def test_the_wait_for_a_slurm_job_ends_with_it_and_gives_its_exit_status(tmp_path, capsys):
    """Two one-second jobs on this machine's SLURM, waited for as ``--wait`` waits: each wait shows the job's states
    and ends with the job's exit status (how soon after the job: benchmarks/slurm_wait.py)."""
    assert slurm_ready(), "REQUIRE_SLURM is set but sinfo shows no up and idle node (bash .ci/slurm-setup.sh)"
    for status in (0, 3):
        script = tmp_path / f"exit{status}.sbatch"
        script.write_text(f"#!/bin/bash\n#SBATCH --output={tmp_path}/%j.out\n#SBATCH --cpus-per-task=1\n"
                          f"sleep 1\nexit {status}\n")
        job_id = submit_script(str(script), str(tmp_path / "logs"))
        assert wait_for_job(scontrol_beside_sbatch(), job_id, poll=0.5) == status
        lines = capsys.readouterr().out.splitlines()
        assert lines[-1] == f"SLURM job {job_id}: {'COMPLETED' if status == 0 else 'FAILED'}" + (
            "" if status == 0 else " (NonZeroExitCode)"), lines


def test_a_jobs_exit_status_is_the_shells():
    assert exit_status({"JobState": "COMPLETED", "ExitCode": "0:0"}) == 0
    assert exit_status({"JobState": "FAILED", "ExitCode": "3:0"}) == 3
    assert exit_status({"JobState": "CANCELLED", "ExitCode": "0:15"}) == 143  # 128 + SIGTERM
    assert exit_status({"JobState": "TIMEOUT", "ExitCode": "0:0"}) == 1


def test_the_kuberay_manifest_carries_plugin_files_in_a_config_map(tmp_path, capsys):
    folder = copy_plugins(tmp_path)
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
