"""A sweep in object storage end to end, against a real S3-compatible server on loopback (moto, in its own process):
``--storage s3://bucket/runs`` writes everything there; a driver killed mid-trial resumes with ``--resume`` straight
from the bucket; ``python -m analysis s3://...`` rewrites the tables there. Credentials come from the usual AWS
variables only, and appear in no file of the run, no log of the driver and no log of Ray."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time

import pandas as pd
import pytest

from analysis.remote import local_run
from restore_core.errors import DataError
from sweeps.ledger.recover import restore_snapshot
from sweeps.ray_private import CALLBACK_STATES, SNAPSHOT, snapshot_checkpoints
from tests.conftest import ROOT, free_port
from tests.sweeps.cluster.s3_server import S3Server, environment, moto_s3
from tests.sweeps.driver_forks import ForkedDriver, run_driver, start_driver
from tests.sweeps.ledger.test_crash import EVAL_EVERY, STEPS, SWEEP, TRIALS
from tests.worker_forks import python_command

pytestmark = pytest.mark.slow
# `python -m analysis` in a process that knows the test spaces (registered as a plugin's would be)
ANALYSIS = ["-c", "import sys; from tests.sweeps import spaces; spaces.register(); "
            "from analysis.__main__ import main; sys.exit(main())"]


def test_a_sweep_in_a_bucket_resumes_and_is_analysed_from_there(forked_workers, tmp_path, monkeypatch):
    """The driver killed once Ray's newest whole save is in the bucket, its result files cut, and the run resumed from
    there; the killed run copied first to a second bucket without the save's bundle (its callback states, uploaded
    last), as a kill during Ray's first upload leaves a bucket: the trials' result files there have nothing to take
    their cut reports back from, and each restored checkpoint's carried reports make them again. Both resume to the
    same records; the analysis and the leak checks run on the first."""
    ray_tmp = f"/tmp/rs-{secrets.token_hex(3)}"  # the drivers' own Rays (short: Ray's sockets live under it)
    try:
        with moto_s3(str(tmp_path / "moto.log")) as s3:
            env = environment(s3, PYTHONPATH=ROOT, RAY_TMPDIR=ray_tmp)
            storage = f"s3://{s3.bucket}/runs"
            run_uri, run_key = f"{storage}/ops_crash/s3", "runs/ops_crash/s3"
            own_ray = ["--dashboard-port", str(free_port()), "--verbose", "0"]  # its workers see the AWS variables
            log = tmp_path / "driver.log"
            driver = start_driver([*SWEEP, "--storage", storage, "--name", "s3", *own_ray], str(log), env=env)
            try:
                killed = kill_mid_trial(s3, run_key, driver)
            finally:
                if driver.poll() is None:
                    driver.kill()
            assert "results.csv" not in killed and any(name.endswith("/result.json") for name in killed)
            cut = copy_without_bundle(s3, run_key, f"{s3.bucket}-cut")
            outputs, results = {}, {}
            for bucket in (s3, cut):
                # the killed trial's at least: its checkpoint is in Ray's save (kill_mid_trial); the resume takes the
                # result files back from the save (or makes the reports again from the checkpoints), puts the moved
                # checkpoint back, and reports what no record holds again
                assert lag_the_result_files(bucket, f"s3://{bucket.bucket}/{run_key}", run_key, monkeypatch)
                resumed = run_driver(["--resume", "--name", "s3", "--storage", f"s3://{bucket.bucket}/runs",
                                      *own_ray], str(tmp_path), timeout=900, env=env)
                outputs[bucket.bucket], results[bucket.bucket] = resumed, check_resumed(bucket, run_key, resumed)

            resumed = outputs[s3.bucket]
            assert "best trial:" in resumed.stdout and f"run directory: {run_uri}" in resumed.stdout
            table = s3.read(f"{run_key}/table.md")
            assert all(f"| {label} |".encode() in table for label in results[s3.bucket]["label"])
            s3.filesystem().delete_file(f"{s3.bucket}/{run_key}/table.md")
            analysed = subprocess.run([*python_command(), *ANALYSIS, run_uri], cwd=ROOT, env=env,
                                      capture_output=True, text=True, timeout=600)
            assert analysed.returncode == 0, analysed.stderr[-3000:]
            assert analysed.stdout.startswith(f"{run_uri}: ") and "table.md" in analysed.stdout
            assert s3.read(f"{run_key}/table.md") == table  # the same table, written back to the bucket
            missing = subprocess.run([*python_command(), *ANALYSIS, f"{storage}/ops_crash/nothing"], cwd=ROOT,
                                     env=env, capture_output=True, text=True, timeout=600)
            assert missing.returncode == 2 and missing.stderr.startswith(
                f"error: {storage}/ops_crash/nothing is not a run directory (no manifest.json)")

            secrets_ = [s3.access_key.encode(), s3.secret_key.encode()]
            logs = {"driver": log.read_bytes(), "analysis": (analysed.stdout + analysed.stderr).encode()}
            for name, output in outputs.items():
                logs[f"resume in {name}"] = (output.stdout + output.stderr).encode()
            for bucket in (s3, cut):
                logs.update({f"s3://{bucket.bucket}/{name}": bucket.read(f"{run_key}/{name}")
                             for name in bucket.files(run_key)})
            for folder, _, names in os.walk(ray_tmp):  # every log and file of the drivers' Ray sessions
                for name in names:
                    path = os.path.join(folder, name)
                    if os.path.isfile(path) and not os.path.islink(path):
                        with open(path, "rb") as handle:
                            logs[path] = handle.read()
            assert len(logs) > 50 and any("raylet" in name for name in logs)
            leaked = [name for name, data in logs.items() if any(secret in data for secret in secrets_)]
            assert leaked == []
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


def copy_without_bundle(s3: S3Server, run_key: str, bucket: str) -> S3Server:
    """The run at ``run_key`` copied, object by object, to the same key in a new ``bucket`` of the same server, less
    the bundles of Ray's save; returns that bucket's :class:`S3Server`."""
    copy = dataclasses.replace(s3, bucket=bucket)
    filesystem = s3.filesystem()
    filesystem.create_dir(bucket)
    names = s3.files(run_key)
    bundles = [name for name in names if name.startswith(CALLBACK_STATES)]
    assert bundles  # the save was whole
    for name in set(names) - set(bundles):
        filesystem.copy_file(f"{s3.bucket}/{run_key}/{name}", f"{bucket}/{run_key}/{name}")
    assert set(copy.files(run_key)) == set(names) - set(bundles)
    return copy


def check_resumed(s3: S3Server, run_key: str, resumed: subprocess.CompletedProcess) -> pd.DataFrame:
    """The resumed run in ``s3`` ended with every trial completed, its files in the bucket, and every report of each
    trial in its result file, the killed run's first (step 2) and each restart's after it; returns its results."""
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    files = s3.files(run_key)
    assert {"manifest.json", "results.csv", "table.md", "report.html"} <= set(files)
    results = pd.read_csv(io.BytesIO(s3.read(f"{run_key}/results.csv")))
    assert len(results) == TRIALS and (results["status"] == "completed").all()
    for trial in results["trial_id"]:  # each trial's files and checkpoint are in the bucket
        assert {"params.json", "result.json", "status.json"} <= {n.split("/")[-1] for n in files
                                                                  if n.startswith(f"{trial}/")}
        assert any(n.startswith(f"{trial}/checkpoint_") for n in files)
        assert any(n.startswith(f"{trial}/events.out.tfevents.") for n in files)
        reports = [json.loads(line) for line in s3.read(f"{run_key}/{trial}/result.json").splitlines()]
        restarts = [r["step"] for r in reports if r["iterations_since_restore"] == 1]
        lives = [(r["step"], r["iterations_since_restore"]) for r in reports]
        assert restarts[0] == 2 and all(step > 2 for step in restarts[1:]), (s3.bucket, trial, lives, resumed.stderr)
        # no report lost: what the lagging result file lacked came back from Ray's save, or was made again
        assert {r["step"] for r in reports} == set(range(EVAL_EVERY, STEPS + 1, EVAL_EVERY))
    return results


def kill_mid_trial(s3, run_key: str, driver: ForkedDriver, limit: float = 600) -> dict[str, int]:
    """SIGKILL the driver once a trial's report is in the bucket, that trial has not ended, and both Ray's newest whole
    save in the bucket (the one a resume restores, with its bundle) and the loose save files there hold a checkpoint of
    it; returns the run's objects then. (Ray uploads a save's files side by side: the bundle can be in while the loose
    snapshot is still an earlier save's, one without the checkpoint, and the copy without the bundle is made of the
    loose files.)"""
    deadline, read, saved = time.time() + limit, None, set()
    while driver.poll() is None and time.time() < deadline:
        files = s3.files(run_key)
        save = {name: size for name, size in files.items() if name.startswith((SNAPSHOT, CALLBACK_STATES))}
        if save != read:  # Ray's save changed (or was read while it was replaced): read it again
            read = save
            with tempfile.TemporaryDirectory() as folder:  # the run's own files, read as the resume reads them
                for name in save:
                    with open(os.path.join(folder, name), "wb") as handle:
                        handle.write(s3.read(f"{run_key}/{name}"))
                try:
                    loose = snapshot_checkpoints(folder)  # the loose files as they are, without the bundle
                    # a whole save has its bundle, the callback states Ray uploads last (before the first is in,
                    # the bucket holds loose files only: the copy without the bundle makes that state on purpose)
                    whole = restore_snapshot(folder) is not None
                    # the trials whose checkpoint both hold
                    saved = set(snapshot_checkpoints(folder)) & set(loose) if whole else set()
                except DataError:  # read while Ray replaced it: the next poll reads it whole
                    read, saved = None, set()
        for name in files:
            trial = name.rsplit("/", 1)[0]
            if (name.endswith("/result.json") and f"{trial}/status.json" not in files and trial in saved
                    and s3.read(f"{run_key}/{name}").strip()):
                driver.kill()
                driver.wait(timeout=60)
                return files
        time.sleep(0.05)
    raise AssertionError(f"no trial reported in the bucket (driver exit code {driver.poll()})")


def lag_the_result_files(s3, run_uri: str, run_key: str, monkeypatch) -> set[str]:
    """Make the bucket as a driver killed between two uploads leaves it: Ray's snapshot holds a trial's checkpoint
    while the trial's result file there lacks its report. Cuts each unfinished trial's result file in the bucket
    before the report of the checkpoint that the resume will restore it from; returns the trials whose result file
    lacks that report (cut here, or never uploaded). The first such trial's checkpoint is moved to a newer name too,
    as Ray deletes a checkpoint it no longer keeps: the resume must put it back before Ray restores the trial.
    (Ray's save in the bucket also holds each result file as it was then: the resume takes the cut lines back.)"""
    for variable, value in s3.env().items():
        monkeypatch.setenv(variable, value)
    with local_run(run_uri) as records:  # what the resume reads: the newest whole save put in place
        restore_snapshot(records)
        checkpoints = snapshot_checkpoints(records)
    files, gaps = s3.files(run_key), set()
    for trial, path in checkpoints.items():
        if f"{trial}/status.json" in files:
            continue
        name = os.path.basename(path)
        key = f"{run_key}/{trial}/result.json"
        lines = s3.read(key).decode().splitlines(keepends=True) if f"{trial}/result.json" in files else []
        named = [i for i, line in enumerate(lines) if json.loads(line).get("checkpoint_dir_name") == name]
        if named:
            with s3.filesystem().open_output_stream(f"{s3.bucket}/{key}") as stream:
                stream.write("".join(lines[:named[0]]).encode())
        if not gaps:  # and as Ray leaves a checkpoint it deleted when a newer one arrived (here a copy of it)
            newer = "checkpoint_000099"
            for relative in [n for n in files if n.startswith(f"{trial}/{name}/")]:
                s3.filesystem().move(f"{s3.bucket}/{run_key}/{relative}",
                                     f"{s3.bucket}/{run_key}/{trial}/{newer}/{relative.split('/', 2)[2]}")
        gaps.add(trial)
    return gaps
