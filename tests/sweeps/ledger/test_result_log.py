"""A restarted trial's ``result.json`` and ``progress.csv``: its earlier reports carried whole into the staging folder
Ray appends to and uploads, a failed read tried again, and one that keeps failing stopping the sweep before the
run's copy could be overwritten (sweeps/ledger/result_log.py). Real Ray trials, real files, a real S3 server."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pyarrow.fs
import pytest
from ray.train._internal.session import _TrainingResult
from ray.train._internal.storage import StorageContext
from ray.tune import Checkpoint
from ray.tune.experiment import Trial

from sweeps.cluster.atomic_fs import atomic_local_filesystem
from sweeps.ledger.result_log import ProgressCsvLogger, RecordsUnreadable, ResultJsonLogger, read_records
from tests.sweeps.cluster.s3_server import moto_s3

REPORTS = "".join(json.dumps({"step": step, "psnr": 20.0 + step}) + "\n" for step in (2, 4, 6))


def trial_with_checkpoint(tmp_path, name: str, checkpoint: bool = True) -> Trial:
    """A trial of a run under ``tmp_path/runs`` (written through the sweep's own filesystem), as Ray restores it:
    its folder there holds three reports, its staging folder nothing yet, and its latest checkpoint (unless not
    ``checkpoint``) is known."""
    storage = StorageContext(storage_path=str(tmp_path / "runs"), experiment_dir_name="exp", trial_dir_name=name,
                             storage_filesystem=atomic_local_filesystem())
    trial = Trial("run_trial", trial_id=name, stub=True, storage=storage)
    trial.relative_logdir = name  # its folder's name, as a restored trial knows it
    os.makedirs(trial.path)
    os.makedirs(trial.local_path)  # the staging folder, as Ray makes it before the trial starts
    with open(os.path.join(trial.path, "result.json"), "w") as handle:
        handle.write(REPORTS)
    if checkpoint:
        folder = os.path.join(trial.path, "checkpoint_000002")
        os.makedirs(folder)
        trial.on_checkpoint(_TrainingResult(checkpoint=Checkpoint(folder), metrics={"step": 6}))
    return trial


def staged(trial: Trial) -> str:
    with open(os.path.join(trial.local_path, "result.json")) as handle:
        return handle.read()


def test_a_restarted_trial_appends_to_its_earlier_reports(ray_session, tmp_path):
    resumed = trial_with_checkpoint(tmp_path, "resumed")  # a resume: nothing staged yet
    logger = ResultJsonLogger()
    logger.log_trial_start(resumed)
    logger.log_trial_result(0, resumed, {"step": 8, "psnr": 28.0})
    logger.log_trial_end(resumed)
    assert [json.loads(line)["step"] for line in staged(resumed).splitlines()] == [2, 4, 6, 8]

    fresh = trial_with_checkpoint(tmp_path, "fresh", checkpoint=False)  # starts from nothing: no history of its own
    logger.log_trial_start(fresh)
    assert staged(fresh) == ""

    # a retry in the same driver: the staged file is ahead of the run's copy (an upload behind it) and stays whole
    retried = trial_with_checkpoint(tmp_path, "retried")
    ahead = REPORTS + json.dumps({"step": 8, "psnr": 28.0}) + "\n"
    with open(os.path.join(retried.local_path, "result.json"), "w") as handle:
        handle.write(ahead)
    logger.log_trial_start(retried)
    assert staged(retried) == ahead

    csv = ProgressCsvLogger()  # progress.csv alike: its rows go on below the earlier ones, without a second header
    with open(os.path.join(resumed.path, "progress.csv"), "w") as handle:
        handle.write("step,psnr\n2,22.0\n")
    csv.log_trial_result(0, resumed, {"step": 8, "psnr": 28.0})
    csv.log_trial_end(resumed)
    with open(os.path.join(resumed.local_path, "progress.csv")) as handle:
        assert handle.read().splitlines() == ["step,psnr", "2,22.0", "8,28.0"]


def test_records_that_cannot_be_read_stop_the_restart_before_anything_is_staged(ray_session, tmp_path):
    trial = trial_with_checkpoint(tmp_path, "broken")
    os.remove(os.path.join(trial.path, "result.json"))
    os.makedirs(os.path.join(trial.path, "result.json"))  # a folder where the file was: every read fails
    started = time.monotonic()
    with pytest.raises(RecordsUnreadable) as raised:
        read_records(trial.storage.storage_filesystem, f"{trial.path}/result.json", "trial broken", tries=3)
    assert time.monotonic() - started >= 1.5  # it waited 0.5 s, then 1 s, between the three reads
    message = str(raised.value)
    assert message.startswith(f"cannot read {trial.path}/result.json, the records of trial broken, to carry them")
    assert "(3 tries; last: " in message and message.endswith("run the same command with --resume once the "
                                                              "storage answers")
    assert "\n" not in message
    assert read_records(trial.storage.storage_filesystem, f"{trial.path}/nothing.json", "trial broken") is None


@pytest.mark.slow
def test_a_read_from_object_storage_outlasts_a_pause_of_the_server(tmp_path):
    with moto_s3(str(tmp_path / "moto.log")) as s3:
        key = f"{s3.bucket}/runs/exp/t/result.json"
        with s3.filesystem().open_output_stream(key) as stream:
            stream.write(REPORTS.encode())
        # each request gives up after half a second, without the client's own retries: the reads here retry
        impatient = pyarrow.fs.S3FileSystem(
            access_key=s3.access_key, secret_key=s3.secret_key, region="us-east-1", endpoint_override=s3.endpoint,
            request_timeout=0.5, connect_timeout=0.5, retry_strategy=pyarrow.fs.AwsStandardS3RetryStrategy(1))
        assert read_records(impatient, f"{s3.bucket}/runs/exp/t/missing.json", "t") is None
        os.kill(s3.pid, signal.SIGSTOP)  # the server stops answering (its socket still accepts connections)
        resume = threading.Timer(4.0, os.kill, (s3.pid, signal.SIGCONT))
        resume.start()
        try:
            with pytest.raises(RecordsUnreadable, match=f"cannot read s3://{key}, the records of t, .*2 tries"):
                read_records(impatient, key, "t", tries=2)  # 0.5 s, a wait of 0.5 s, 0.5 s: all while paused
            assert read_records(impatient, key, "t") == REPORTS.encode()  # the next tries reach it once it answers
        finally:
            resume.join()
            os.kill(s3.pid, signal.SIGCONT)
