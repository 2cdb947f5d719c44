"""The Ray private APIs the project uses (every one in ``sweeps/ray_private/``), called against the installed Ray.

Ray is pinned in pyproject.toml to the versions these ran on. A newer Ray that changes one of them fails here with
a message naming the function of ``sweeps/ray_private/`` to update, before a sweep stumbles on it. (An S3 run's
storage, against a real S3-compatible server: test_ray_private_s3.py.)
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import re
import shutil
import tempfile
import threading

import optuna
import pytest
import ray
from packaging.requirements import Requirement
from ray import tune
from ray.tune.execution.tune_controller import TuneController
from ray.tune.experiment import Trial
from ray.tune.logger import JsonLoggerCallback
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import BasicVariantGenerator, Repeater, SearchGenerator
from ray.tune.search.optuna import OptunaSearch

from restore_core.loop import CHECKPOINT_FILE
from sweeps import ray_private
from sweeps.cluster.atomic_fs import is_local_filesystem
from sweeps.ledger.recover import put_back_deleted_checkpoints, unreported_checkpoints
from tests.conftest import ROOT


def ray_requirement() -> Requirement:
    """Ray's line among the dependencies in pyproject.toml."""
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as handle:
        return Requirement(re.search(r'^\s*"(ray\[[^"]*)",', handle.read(), re.MULTILINE).group(1))


@contextlib.contextmanager
def private_api(function: str):
    """Fail naming ``function`` of ``sweeps/ray_private/`` when what it uses of Ray raises or answers otherwise."""
    try:
        yield
    except Exception as err:  # noqa: BLE001 - any change of a private API shows as some exception
        pytest.fail(f"Ray {ray.__version__} changed a private API that sweeps.ray_private.{function} uses "
                    f"({type(err).__name__}: {err}); the project is tested on ray {ray_requirement().specifier}: "
                    f"update {function} for this Ray, then the pin in pyproject.toml")


def test_ray_is_pinned_to_a_closed_range_holding_the_installed_version():
    specifier = ray_requirement().specifier
    assert any(spec.operator == "<" for spec in specifier), f"ray{specifier} has no upper bound"
    assert specifier.contains(ray.__version__), (
        f"Ray {ray.__version__} is installed, but the project is tested on ray{specifier}: sweeps/ray_private/ uses "
        "Ray's private APIs, which a newer Ray may change; run tests/sweeps/test_ray_private.py on it, then widen "
        "the pin in pyproject.toml and .ci/constraints.txt")


def test_the_cluster_queries(monkeypatch):
    with private_api("cpus_ray_would_count"):
        assert ray_private.cpus_ray_would_count() >= 1
    with private_api("reread_auth_mode"):
        ray_private.reread_auth_mode()
    with private_api("job_runtime_env"):  # as Ray's job supervisor hands it to the job's driver
        monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR", raising=False)
        assert ray_private.job_runtime_env() is None
        job = {"working_dir": "gcs://_ray_pkg_1.zip", "py_modules": ["gcs://_ray_pkg_2.zip"]}
        monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", json.dumps({"runtime_env": job, "metadata": {}}))
        assert ray_private.job_runtime_env() == job


def test_the_queries_of_a_running_ray(ray_session):
    with private_api("token_auth_enabled"):
        assert ray_private.token_auth_enabled() in (True, False)
    with private_api("dashboard_url"):
        url = ray_private.dashboard_url()
        assert url and url.startswith("http://127.0.0.1:")
    with private_api("connected_through_client"):
        assert ray_private.connected_through_client() is False


def test_the_dashboard_started_beside_the_raylet_is_rays_own(ray_session):
    """The session's Ray started as a sweep's local Ray does: the dashboard's process is the node's, its address in
    the GCS, and it answers; the thread that started it stays (the dashboard dies with it)."""
    import urllib.error
    import urllib.request

    from ray._private import worker

    node = worker._global_node
    with private_api("dashboard_beside_raylet"):
        (process,) = node.all_processes["dashboard"]
        assert process.process.poll() is None
        url = ray_session.experimental.internal_kv._internal_kv_get(b"webui:url", namespace="dashboard").decode()
        assert url == node.webui_url == ray_private.dashboard_url().removeprefix("http://")
        try:
            answer = urllib.request.urlopen(f"http://{url}/api/version", timeout=10).status
        except urllib.error.HTTPError as err:  # token authentication: the dashboard answered
            answer = err.code
        assert answer in (200, 401)
    assert [t.name for t in threading.enumerate() if t.name == "ray-dashboard-start"] == ["ray-dashboard-start"]
    assert ray_private.dashboard_beside_raylet(None).__class__ is contextlib.nullcontext


def test_ashas_bookkeeping():
    sched = ASHAScheduler(time_attr="step", metric="psnr", mode="min", grace_period=1, max_t=9, reduction_factor=3)
    trials = {name: Trial("run_trial", trial_id=name, stub=True) for name in ("a", "b", "c")}
    for trial in trials.values():
        sched.on_trial_add(None, trial)
    with private_api("asha_signed_report"):  # mode min: negated, so that higher is better
        assert ray_private.asha_signed_report(sched, {"step": 3, "psnr": 2.0}) == (3, -2.0)
        assert ray_private.asha_signed_report(sched, {"step": 3}) is None
    with private_api("asha_record"):
        ray_private.asha_record(sched, trials["a"], {"step": 1, "psnr": 3.0})
        ray_private.asha_record(sched, trials["b"], {"step": 3, "psnr": 1.0})
        ray_private.asha_record(sched, trials["c"], {"step": 3})  # no metric: nothing recorded
    with private_api("asha_bracket"):
        bracket = ray_private.asha_bracket(sched, "a")
        assert bracket is ray_private.asha_bracket(sched, "b") and ray_private.asha_bracket(sched, "z") is None
    with private_api("asha_rungs"):
        # highest milestone first; values signed so that higher is better (mode min: negated); b's report at step 3
        # is recorded at rung 3 only, as Ray records one rung per report
        assert ray_private.asha_rungs(bracket) == [(9, {}), (3, {"b": -1.0}), (1, {"a": -3.0})]
    with private_api("asha_cutoff"):
        assert ray_private.asha_cutoff(bracket, {"a": -3.0, "b": -1.0}) == pytest.approx(-1.0 - 2.0 / 3)
        assert ray_private.asha_cutoff(bracket, {}) is None
    with private_api("asha_count_stop"):
        before = ray_private.asha_stopped(sched)
        ray_private.asha_count_stop(sched)
        assert ray_private.asha_stopped(sched) == before + 1


def _trainable(config):
    folder = ray_private.worker_trial_dir(is_local_filesystem(ray_private.worker_storage_filesystem()))
    with open(os.path.join(folder, "canary.txt"), "w", encoding="utf-8") as handle:
        handle.write(f"x={config['x']}")
    if config["x"] == 2:  # checkpoints of an earlier life of the trial (the snapshot it restarts from knows none)
        for name in ("checkpoint_000000", "checkpoint_000004"):
            os.makedirs(os.path.join(folder, name))
            with open(os.path.join(folder, name, "earlier.txt"), "w", encoding="utf-8") as handle:
                handle.write(name)
    ray_private.worker_checkpoints_after_existing()
    with tempfile.TemporaryDirectory() as checkpoint:
        tune.report({"step": 1, "trial_dir": folder,
                     "local": is_local_filesystem(ray_private.worker_storage_filesystem()),
                     "canary": ray_private.worker_storage_file("canary.txt"),
                     "nothing": ray_private.worker_storage_file("no-such-file"),
                     "folder_name": ray_private.worker_trial_folder_name()},
                    checkpoint=tune.Checkpoint.from_directory(checkpoint))


@pytest.fixture(scope="module")
def canary_run(ray_session, tmp_path_factory):
    """One real run of two trials, each writing a file into its folder and reporting once with a checkpoint, read by
    every test of a trial's or the snapshot's API (one Ray worker for all). Its result files are written as the
    driver writes them."""
    storage = tmp_path_factory.mktemp("canary")
    run_config = tune.RunConfig(name="canary", storage_path=str(storage), verbose=0, callbacks=[JsonLoggerCallback()])
    results = tune.Tuner(_trainable, param_space={"x": tune.grid_search([1, 2])}, run_config=run_config).fit()
    assert not results.errors
    return results, storage / "canary"


def test_a_trials_storage_and_the_experiment_snapshot(canary_run):
    results, run_dir = canary_run
    with private_api("worker_trial_dir"):  # under the storage path, as it is a filesystem of this machine
        folders = sorted(os.path.relpath(r.metrics["trial_dir"], run_dir) for r in results)
        assert len(folders) == 2 and all(not f.startswith("..") and (run_dir / f).is_dir() for f in folders)
    with private_api("worker_storage_filesystem"):
        assert all(r.metrics["local"] is True for r in results)
    with private_api("worker_storage_file"):
        assert sorted(r.metrics["canary"] for r in results) == [b"x=1", b"x=2"]
        assert all(r.metrics["nothing"] is None for r in results)
    with private_api("experiment_trial_states"):
        states = ray_private.experiment_trial_states(str(run_dir))
        assert sorted(states) == folders and {status for status, _ in states.values()} == {"TERMINATED"}
    with private_api("worker_trial_folder_name"):  # the snapshot's name of each trial's folder
        assert sorted(r.metrics["folder_name"] for r in results) == folders
    with private_api("worker_checkpoints_after_existing"):  # named after the trial's folders, which stay as they were
        named = {r.metrics["canary"]: r.metrics["checkpoint_dir_name"] for r in results}
        assert named == {b"x=1": "checkpoint_000000", b"x=2": "checkpoint_000005"}
        (earlier,) = [r.metrics["trial_dir"] for r in results if r.metrics["canary"] == b"x=2"]
        assert [open(os.path.join(earlier, name, "earlier.txt")).read() for name in (
            "checkpoint_000000", "checkpoint_000004")] == ["checkpoint_000000", "checkpoint_000004"]
    with private_api("staging_dirs"):
        staging = ray_private.staging_dirs(states)
        assert sorted(staging) == folders and all(isinstance(path, str) and path for path in staging.values())
    with private_api("outside_the_staging_upload"):  # the folder above Ray's driver staging folder, not uploaded
        from ray.train._internal.storage import StorageContext

        driver_staging = StorageContext(str(run_dir.parent), "canary").experiment_driver_staging_path
        assert ray_private.outside_the_staging_upload(os.path.join(driver_staging, "x.json")) == os.path.dirname(
            driver_staging)
        for path in staging.values():
            assert ray_private.outside_the_staging_upload(os.path.join(path, "status.json")) == os.path.dirname(
                os.path.dirname(path))
        assert ray_private.outside_the_staging_upload(str(run_dir / folders[0] / "status.json")) is None
    trial = Trial.from_json_state(next(iter(states.values()))[1], stub=True)
    with private_api("trial_storage_filesystem"):
        assert is_local_filesystem(ray_private.trial_storage_filesystem(trial)) is True
    with private_api("read_trial_file"):
        assert ray_private.read_trial_file(trial, "canary.txt") in (b"x=1", b"x=2")
        assert ray_private.read_trial_file(trial, "no-such-file") is None


def test_the_experiments_saves_and_the_credentials_kept_from_trials(canary_run):
    run_dir = str(canary_run[1])
    [snapshot] = [n for n in os.listdir(run_dir) if n.startswith(ray_private.SNAPSHOT)]
    with private_api("snapshot_session"):
        session = ray_private.snapshot_session(snapshot)
        assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d", session)
        assert ray_private.snapshot_session(f"{ray_private.CALLBACK_STATES}{session}.pkl") is None
    with private_api("snapshot_files"):  # the newest save: Ray's snapshot and the searcher's state beside it
        files = ray_private.snapshot_files(run_dir)
        assert snapshot in files and len(files) >= 2
        assert {ray_private.snapshot_session(name) for name in files} == {session}
    with private_api("newest_callback_states"):
        assert isinstance(ray_private.newest_callback_states(run_dir), dict)
    with private_api("keep_credentials_out_of_trials"):
        from ray.tune.execution import class_cache

        assert ray_private.CREDENTIAL_VARIABLES <= set(class_cache.ENV_VARS_TO_PROPAGATE) or not (
            ray_private.CREDENTIAL_VARIABLES & set(class_cache.ENV_VARS_TO_PROPAGATE))  # as Ray has it, or removed
        ray_private.keep_credentials_out_of_trials()
        assert not ray_private.CREDENTIAL_VARIABLES & set(class_cache.ENV_VARS_TO_PROPAGATE)
        assert "RAY_CHDIR_TO_TRIAL_DIR" in class_cache.ENV_VARS_TO_PROPAGATE  # the rest of what Ray passes on is kept


class _Probe:
    def runtime_env(self) -> dict:
        return dict(ray.get_runtime_context().runtime_env)


def test_a_trial_worker_has_the_jobs_runtime_env(ray_session):
    """Ray Tune's own variables for every trainable (PL_DISABLE_FORK) are dropped, so a trial's actor has the job's
    runtime env (none here) and its worker starts without Ray's setup_worker.py step; what Ray Tune passes on from the
    driver's environment stays."""
    from ray.tune.execution import class_cache

    with private_api("trials_without_tune_env"):
        assert ray_private.TUNE_TRAINABLE_ENV == {"PL_DISABLE_FORK": "1"}  # as this Ray has it
        ray_private.trials_without_tune_env()
        assert class_cache.DEFAULT_ENV_VARS == {}
        assert "RAY_CHDIR_TO_TRIAL_DIR" in class_cache.ENV_VARS_TO_PROPAGATE
        actor = class_cache._ActorClassCache().get(_Probe).options(num_cpus=0).remote()
        try:
            assert ray.get(actor.runtime_env.remote(), timeout=120) == dict(ray.get_runtime_context().runtime_env)
        finally:
            ray.kill(actor)


def test_the_checkpoint_a_snapshot_restores(canary_run):
    results, run_dir = canary_run
    with private_api("snapshot_checkpoints"):
        checkpoints = ray_private.snapshot_checkpoints(str(run_dir))
        assert checkpoints == {r.metrics["folder_name"]: str(run_dir / r.metrics["folder_name"] / _checkpoint_of(r))
                               for r in results}
        assert all(os.path.isdir(path) for path in checkpoints.values())


def _checkpoint_of(result) -> str:
    """The checkpoint a canary trial reported: checkpoint_000000, and for x=2 (whose folder held two earlier ones
    when it started) checkpoint_000005."""
    return {b"x=1": "checkpoint_000000", b"x=2": "checkpoint_000005"}[result.metrics["canary"]]


def test_a_snapshot_checkpoint_without_its_report_is_found_for_the_resume(canary_run, tmp_path):
    """In object storage Ray's snapshot can reach the bucket before the result file that records the checkpoint's
    report; a resume finds such a checkpoint from the records and Ray's snapshot, and names it."""
    run_dir = tmp_path / "copy"
    shutil.copytree(canary_run[1], run_dir)
    assert unreported_checkpoints(str(run_dir)) == {}  # every report recorded
    named = {r.metrics["folder_name"]: _checkpoint_of(r) for r in canary_run[0]}
    folders = sorted(named, key=named.get)  # x=1's first: its checkpoint is checkpoint_000000
    (run_dir / folders[0] / "result.json").write_text("")  # the bucket's copy from before the report
    # with the step of the last report the records hold (none: 0), after which the trial reports again
    assert unreported_checkpoints(str(run_dir)) == {folders[0]: ("checkpoint_000000", 0)}
    (run_dir / folders[1] / "result.json").unlink()  # or none yet
    assert unreported_checkpoints(str(run_dir)) == {folders[0]: ("checkpoint_000000", 0),
                                                    folders[1]: ("checkpoint_000005", 0)}
    # a checkpoint put back as a copy of another (put_back_deleted_remote) is recorded when that other's report is
    (run_dir / folders[0] / "result.json").write_text('{"step": 4, "checkpoint_dir_name": "checkpoint_000001"}\n')
    assert unreported_checkpoints(str(run_dir))[folders[0]] == ("checkpoint_000000", 4)
    assert folders[0] not in unreported_checkpoints(str(run_dir), {folders[0]: "checkpoint_000001"})


def test_a_moved_runs_deleted_checkpoint_is_put_back_where_the_run_is(canary_run, tmp_path):
    """A run copied elsewhere keeps, in Ray's snapshot, the paths of where it was written; a checkpoint the snapshot
    restores a trial from but Ray deleted (a newer one kept) is put back in the copy, not looked for at the first
    place."""
    run_dir = tmp_path / "copy"
    shutil.copytree(canary_run[1], run_dir)
    folder = sorted(params.parent.name for params in run_dir.glob("*/params.json"))[0]
    (run_dir / folder / "checkpoint_000000").rename(run_dir / folder / "checkpoint_000001")
    (run_dir / folder / "checkpoint_000001" / CHECKPOINT_FILE).write_bytes(b"state")  # whole, as the loop writes it
    assert put_back_deleted_checkpoints(str(run_dir)) == [str(run_dir / folder / "checkpoint_000000")]
    assert sorted(os.listdir(run_dir / folder / "checkpoint_000000")) == \
        sorted(os.listdir(run_dir / folder / "checkpoint_000001"))
    assert put_back_deleted_checkpoints(str(run_dir)) == []


def test_the_optuna_searcher_and_the_repeater():
    space = {"lr": tune.uniform(0.1, 1.0)}
    searcher = OptunaSearch(space=space, metric="psnr", mode="max", sampler=optuna.samplers.RandomSampler(seed=0))
    with private_api("optuna_running_trial"):
        assert searcher.suggest("a") is not None
        running = ray_private.optuna_running_trial(searcher, "a")
        assert isinstance(running, optuna.Trial) and ray_private.optuna_running_trial(searcher, "z") is None
        running.report(1.5, 10)  # what sweeps.driver.optuna_live reports at a trial's step
        searcher.on_trial_complete("a", {"psnr": 2.0})
        assert ray_private.optuna_running_trial(searcher, "a") is None
        assert running.study.trials[0].intermediate_values == {10: 1.5}
    repeater = Repeater(OptunaSearch(space=space, metric="psnr", mode="max"), repeat=2, set_index=True)
    with private_api("repeater_first_of_group"):
        assert repeater.suggest("b") is not None and repeater.suggest("c") is not None
        assert ray_private.repeater_first_of_group(repeater, "b") is True
        assert ray_private.repeater_first_of_group(repeater, "c") is False
        assert ray_private.repeater_first_of_group(repeater, "z") is False


def _noop_trainable(config):
    return None


@pytest.mark.parametrize("search", ["grid", "optuna"])
def test_a_resumed_search_makes_its_trials_to_come_where_the_run_is(search, tmp_path):
    """A search algorithm saved by a run written under ``first``, restored as Ray Tune's resume of a copy under
    ``moved`` restores it: once its specs are moved with the run, the trials it creates are written there (as Ray
    restores it, under ``first``)."""
    config = {"x": tune.grid_search([1, 2, 3])} if search == "grid" else {"x": tune.uniform(0.0, 1.0)}

    def experiment(where: str) -> tune.Experiment:
        return tune.Experiment("run", run=_noop_trainable, config=config, num_samples=1 if search == "grid" else 3,
                               storage_path=str(tmp_path / where))

    def search_alg(where: str, saved: str | None = None):
        """A new run's search algorithm, or (``saved``) one of a resumed run: set up, then restored (as tune.run)."""
        made = BasicVariantGenerator() if search == "grid" else SearchGenerator(
            OptunaSearch(metric="psnr", mode="max", sampler=optuna.samplers.RandomSampler(seed=0)))
        made.set_search_properties("psnr", "max", config)
        made.add_configurations([experiment(where)])
        if saved:
            made.restore_from_dir(saved)
        return made

    def written_under(trial: Trial) -> str:
        return os.path.relpath(trial.storage.experiment_fs_path, tmp_path).split(os.sep)[0]

    saved = search_alg("first")
    assert written_under(saved.next_trial()) == "first"
    os.makedirs(tmp_path / "saved")
    saved.save_to_dir(str(tmp_path / "saved"), "0")  # what Ray saves of it, and restores in the resumed run
    with private_api("move_search_specs"):
        as_ray_restores = search_alg("moved", str(tmp_path / "saved"))
        assert written_under(as_ray_restores.next_trial()) == "first"
        restored = search_alg("moved", str(tmp_path / "saved"))
        here = experiment("moved").spec["storage"]  # the resumed run's (TuneController._storage)
        assert ray_private.move_search_specs(restored, here) >= 1
        assert [written_under(restored.next_trial()) for _ in range(2)] == ["moved", "moved"]
        assert ray_private.move_search_specs(restored, here) == 0  # already there
    with private_api("new_trials_where_the_run_is"):
        ray_private.new_trials_where_the_run_is()
        assert TuneController.resume.__module__ == "sweeps.ray_private.experiment"
        assert list(inspect.signature(ray_private.experiment._RESUME).parameters) == ["self", "resume_config"]
