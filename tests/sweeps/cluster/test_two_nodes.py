"""A sweep on a real two-node Ray cluster on this machine (a head and a worker started with ``ray start``, token
authentication on, a storage folder both see), and the worker node lost while a trial trains on it: with
``--max-failures 1`` the trial goes on from its last checkpoint on the head; without retries it is recorded failed
with the reason "node lost", and ``--resume --retry-failed`` finishes it."""

from __future__ import annotations

import glob
import json
import os
import time

import pandas as pd
import pytest

from tests.conftest import ROOT
from tests.sweeps.cluster.ray_nodes import Cluster, RayNode
from tests.sweeps.driver_forks import ForkedDriver, start_driver
from tests.sweeps.trial_reports import lives, reports

pytestmark = pytest.mark.slow
SPACE_ROWS = ["n1", "n2", "n3", "n4"]
EVAL_EVERY, STEPS = 8, 48  # tests/sweeps/spaces.py's ops_nodes


@pytest.fixture(scope="module")
def two_nodes(forked_workers, tmp_path_factory):
    """A head with one CPU and a worker with one CPU (and the ``worker_node`` resource), so that two trials at a time
    run one on each node. Yields the cluster with ``worker`` and ``worker_id``; a test that kills the worker starts
    another with :func:`fresh_worker`."""
    cluster = Cluster(str(tmp_path_factory.mktemp("cluster")))
    try:
        cluster.start_head(cpus=1)
        cluster.worker, cluster.worker_id = cluster.start_worker(cpus=1)
        yield cluster
    finally:
        cluster.stop()


def fresh_worker(cluster: Cluster) -> None:
    """Replace a worker node that a test killed by a new one (a new node id)."""
    alive = {n["node_id"] for n in cluster.node_list() if n["state"] == "ALIVE"}
    if cluster.worker_id not in alive or cluster.worker.process.poll() is not None:
        cluster.worker.stop()
        cluster.nodes.remove(cluster.worker)
        cluster.worker, cluster.worker_id = cluster.start_worker(cpus=1)



def sweep(cluster: Cluster, storage, name: str, *extra: str, log: str | None = None) -> ForkedDriver:
    """The driver of the sweep ``name`` on the cluster (with its token), its output in ``log`` (default
    ``<name>.log``) in ``storage``."""
    return start_driver(["--storage", str(storage), "--name", name, "--address", cluster.address, "--verbose", "1",
                         *extra], str(storage / (log or f"{name}.log")), env=cluster.env(PYTHONPATH=ROOT))


def kill_worker_mid_trial(cluster: Cluster, worker: RayNode, run_dir: str, proc: ForkedDriver,
                          reported: int, limit: float = 600) -> tuple[str, int]:
    """SIGKILL the worker node's processes once a trial on it has ``reported`` reports (its checkpoints) and has not
    ended; returns that trial's folder and the step of its last report then."""
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None:
        for trial_dir in sorted(glob.glob(os.path.join(run_dir, "*", "params.json"))):
            trial_dir = os.path.dirname(trial_dir)
            done = reports(trial_dir)
            if len(done) >= reported and done[-1]["node_id"] == cluster.worker_id and done[-1]["step"] < STEPS:
                worker.kill_machine()
                return trial_dir, done[-1]["step"]
        time.sleep(0.05)
    raise AssertionError(f"no trial reported {reported} times on the worker node (driver exit code {proc.poll()})")


def sweep_losing_the_worker(cluster: Cluster, storage, name: str, reported: int, *extra: str) -> tuple[str, int]:
    """Run the ops_nodes sweep, two trials at a time, on ``cluster``, kill its worker node once a trial there has
    ``reported`` reports, and wait for the sweep to end (exit code 0); returns what
    :func:`kill_worker_mid_trial` does."""
    proc = sweep(cluster, storage, name, "--space", "ops_nodes", "--profile", "smoke", "--max-concurrent", "2", *extra)
    try:
        killed = kill_worker_mid_trial(cluster, cluster.worker, str(storage / "ops_nodes" / name), proc, reported)
        assert proc.wait(timeout=600) == 0, (storage / f"{name}.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    return killed



def test_a_sweep_uses_both_nodes_and_survives_losing_one(two_nodes, tmp_path):
    run_dir = str(tmp_path / "ops_nodes" / "two")
    killed, step = sweep_losing_the_worker(two_nodes, tmp_path, "two", 2, "--max-failures", "1")
    head = two_nodes.head_id()
    results = pd.read_csv(os.path.join(run_dir, "results.csv")).set_index("trial_id")
    # every trial accounted for, once, trained to the end; each row names the node of its last report
    assert sorted(results["label"]) == SPACE_ROWS and (results["status"] == "completed").all()
    assert (results["steps"] == STEPS).all() and set(results["node_id"]) <= {head, two_nodes.worker_id}
    every_node = {r["node_id"] for trial in results.index for r in reports(os.path.join(run_dir, trial))}
    assert every_node == {head, two_nodes.worker_id}  # trials ran on both nodes
    # the trial on the lost node went on from its last checkpoint on the head, not from the start
    first, *later = lives(killed)
    assert {r["node_id"] for r in first} == {two_nodes.worker_id} and first[-1]["step"] >= step
    assert later and all(r["node_id"] == head for life in later for r in life)
    assert later[0][0]["step"] > EVAL_EVERY and [r["step"] for r in later[-1]][-1] == STEPS
    assert results.loc[os.path.basename(killed), "node_id"] == head
    with open(os.path.join(killed, "retried-errors.txt"), encoding="utf-8") as handle:
        assert "actor" in handle.read()  # Ray's error of the lost attempt, kept out of the trial's own end


def test_a_trial_whose_node_is_lost_is_recorded_and_retry_failed_finishes_it(two_nodes, tmp_path):
    fresh_worker(two_nodes)
    run_dir = str(tmp_path / "ops_nodes" / "lost")
    killed, _ = sweep_losing_the_worker(two_nodes, tmp_path, "lost", 1)
    name = os.path.basename(killed)
    results = pd.read_csv(os.path.join(run_dir, "results.csv")).set_index("trial_id")
    assert sorted(results["label"]) == SPACE_ROWS
    assert results.loc[name, ["status", "reason", "node_id"]].tolist() == ["error", "node lost", two_nodes.worker_id]
    assert (results.drop(index=name)["status"] == "completed").all()
    with open(os.path.join(killed, "status.json"), encoding="utf-8") as handle:
        assert json.load(handle) == {"status": "error", "error": "node lost"}
    checkpointed = reports(killed)[-1]["step"]

    resume = sweep(two_nodes, tmp_path, "lost", "--resume", "--retry-failed", log="lost-resume.log")
    assert resume.wait(timeout=600) == 0, (tmp_path / "lost-resume.log").read_text()[-3000:]
    results = pd.read_csv(os.path.join(run_dir, "results.csv")).set_index("trial_id")
    assert (results["status"] == "completed").all() and (results["steps"] == STEPS).all()
    first, *later = lives(killed)
    assert later and later[0][0]["step"] == checkpointed + EVAL_EVERY  # from its last checkpoint
    assert {r["node_id"] for life in later for r in life} <= {two_nodes.head_id(), two_nodes.worker_id}
    with open(os.path.join(killed, "retried-errors.txt"), encoding="utf-8") as handle:
        assert handle.read().strip()  # the lost attempt's error, kept
