"""A sweep in object storage end to end, against a real S3-compatible server on loopback (moto, in its own process):
``--storage s3://bucket/runs`` writes everything there; a driver killed mid-trial resumes with ``--resume`` straight
from the bucket; ``python -m analysis s3://...`` rewrites the tables there. Credentials come from the usual AWS
variables only, and appear in no file of the run, no log of the driver and no log of Ray."""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.conftest import ROOT, free_port
from tests.sweeps.cluster.s3_server import environment, moto_s3
from tests.sweeps.driver_forks import ForkedDriver, run_driver, start_driver
from tests.sweeps.ledger.test_crash import SWEEP, TRIALS

pytestmark = pytest.mark.slow
# `python -m analysis` in a process that knows the test spaces (registered as a plugin's would be)
ANALYSIS = [sys.executable, "-c", "import sys; from tests.sweeps import spaces; spaces.register(); "
            "from analysis.__main__ import main; sys.exit(main())"]


def test_a_sweep_in_a_bucket_resumes_and_is_analysed_from_there(tmp_path):
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

            resumed = run_driver(["--resume", "--name", "s3", "--storage", storage, *own_ray], str(tmp_path),
                                 timeout=900, env=env)
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
                assert restarts[0] == 2 and all(step > 2 for step in restarts[1:])  # never from the start again
            assert "best trial:" in resumed.stdout and f"run directory: {run_uri}" in resumed.stdout

            table = s3.read(f"{run_key}/table.md")
            assert all(f"| {label} |".encode() in table for label in results["label"])
            s3.filesystem().delete_file(f"{s3.bucket}/{run_key}/table.md")
            analysed = subprocess.run([*ANALYSIS, run_uri], cwd=ROOT, env=env,
                                      capture_output=True, text=True, timeout=600)
            assert analysed.returncode == 0, analysed.stderr[-3000:]
            assert analysed.stdout.startswith(f"{run_uri}: ") and "table.md" in analysed.stdout
            assert s3.read(f"{run_key}/table.md") == table  # the same table, written back to the bucket
            missing = subprocess.run([*ANALYSIS, f"{storage}/ops_crash/nothing"], cwd=ROOT,
                                     env=env, capture_output=True, text=True, timeout=600)
            assert missing.returncode == 2 and missing.stderr.startswith(
                f"error: {storage}/ops_crash/nothing is not a run directory (no manifest.json)")

            secrets_ = [s3.access_key.encode(), s3.secret_key.encode()]
            logs = {"driver": log.read_bytes(), "resume": (resumed.stdout + resumed.stderr).encode(),
                    "analysis": (analysed.stdout + analysed.stderr).encode()}
            logs.update({f"s3://{name}": s3.read(f"{run_key}/{name}") for name in s3.files(run_key)})
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


def kill_mid_trial(s3, run_key: str, driver: ForkedDriver, limit: float = 600) -> dict[str, int]:
    """SIGKILL the driver once a trial's report is in the bucket and that trial has not ended; returns the run's
    objects then."""
    deadline = time.time() + limit
    while driver.poll() is None and time.time() < deadline:
        files = s3.files(run_key)
        for name in files:
            trial = name.rsplit("/", 1)[0]
            if (name.endswith("/result.json") and f"{trial}/status.json" not in files
                    and s3.read(f"{run_key}/{name}").strip()):
                driver.kill()
                driver.wait(timeout=60)
                return files
        time.sleep(0.05)
    raise AssertionError(f"no trial reported in the bucket (driver exit code {driver.poll()})")
