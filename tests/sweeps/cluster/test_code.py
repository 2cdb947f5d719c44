"""The user's code on a cluster: what a submission takes along, how a Ray job's driver records it and which runtime
env its ``ray.init`` passes, and a cluster's copy of a plugin file loaded by name where the file itself is not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from restore_core.errors import UserError
from restore_core.plugins import file_sha256, load_plugins
from sweeps.cluster.code import SUBMITTED, as_submitted, driver_runtime_env, submitted_env
from tests.conftest import ROOT
from tests.worker_forks import python_command

JOB_CONFIG = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # where Ray's job supervisor hands the job's runtime env to its driver
JOB_MODULES = ["gcs://_ray_pkg_0f1e61953f787e17.zip"]


def plugin(folder, name: str, text: str = "VALUE = 1\n") -> dict:
    """A plugin file ``name``.py in ``folder`` and its record, as restore_core.plugins writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(text)
    return {"kind": "file", "name": name, "path": str(path), "sha256": file_sha256(str(path))}


def job_copy(record: dict, folder) -> dict:
    """The record a job's driver makes of its copy of a plugin file (a package of the module's name)."""
    package = folder / record["name"]
    package.mkdir(parents=True)
    with open(record["path"], encoding="utf-8") as handle:
        (package / "__init__.py").write_text(handle.read())
    path = str(package / "__init__.py")
    return {"kind": "module", "name": record["name"], "path": path, "sha256": file_sha256(path)}


def test_a_submission_names_the_files_it_takes_along(tmp_path):
    mine = plugin(tmp_path / "mine", "tiny_mine")
    in_project = {"kind": "module", "name": "examples", "path": os.path.join(ROOT, "examples", "x.py"), "sha256": ""}
    installed = {"kind": "entry_point", "name": "models", "path": str(tmp_path / "site.py"), "sha256": ""}
    assert submitted_env([mine, in_project, installed]) == {SUBMITTED: json.dumps([mine])}
    assert submitted_env([in_project, installed]) == {}


def test_a_jobs_driver_records_its_copies_as_the_files_they_were_sent_from(tmp_path, monkeypatch):
    mine = plugin(tmp_path / "laptop", "tiny_mine")
    other = plugin(tmp_path / "laptop", "tiny_other")
    copy = job_copy(mine, tmp_path / "job")
    other_copy = job_copy({**other, "path": plugin(tmp_path / "edited", "tiny_other", "VALUE = 2\n")["path"]},
                          tmp_path / "job")  # not the code that was sent
    monkeypatch.delenv(SUBMITTED, raising=False)
    assert as_submitted([copy, other_copy]) == (copy, other_copy)  # not a job: as loaded
    monkeypatch.setenv(SUBMITTED, json.dumps([mine, other]))
    assert as_submitted([copy, other_copy, mine]) == (mine, other_copy)  # once each; a changed copy as it is
    monkeypatch.setenv(SUBMITTED, "[1")
    with pytest.raises(UserError, match=f"^{SUBMITTED} must be a JSON list of plugin records"):
        as_submitted([copy])


def test_the_drivers_runtime_env_outside_and_inside_a_job(tmp_path, monkeypatch):
    mine = plugin(tmp_path / "laptop", "tiny_mine")
    shared = plugin(tmp_path / "shared", "tiny_shared")  # recorded by a resumed run, not taken along by the job
    monkeypatch.delenv(JOB_CONFIG, raising=False)
    monkeypatch.delenv(SUBMITTED, raising=False)
    assert driver_runtime_env([mine]) == ({"py_modules": [mine["path"]]}, False)
    assert driver_runtime_env([]) == (None, False)
    monkeypatch.setenv(SUBMITTED, json.dumps([mine]))
    job = {"working_dir": "gcs://_ray_pkg_65337bfd9c94ee93.zip", "py_modules": JOB_MODULES}
    monkeypatch.setenv(JOB_CONFIG, json.dumps({"runtime_env": job, "metadata": {}}))
    assert driver_runtime_env([mine]) == (None, False)  # the job's runtime env is the driver's: nothing to merge
    assert driver_runtime_env([mine, shared]) == ({"py_modules": [*JOB_MODULES, shared["path"]]}, True)
    monkeypatch.setenv(JOB_CONFIG, json.dumps({"runtime_env": {"working_dir": job["working_dir"]}}))
    assert driver_runtime_env([shared]) == ({"py_modules": [shared["path"]]}, False)


def test_a_jobs_driver_uploads_the_plugin_files_it_found_on_its_node(tmp_path, monkeypatch):
    # a RayJob on KubeRay: the files come in a ConfigMap mounted on every pod, the job has no py_modules of its own
    mine = plugin(tmp_path / "laptop", "tiny_mounted")
    mounted = plugin(tmp_path / "plugins", "tiny_mounted")
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        assert load_plugins([mounted["path"]], with_entry_points=False) == [mounted]  # --import=/plugins/...
        monkeypatch.setenv(SUBMITTED, json.dumps([mine]))
        monkeypatch.setenv(JOB_CONFIG, json.dumps({"runtime_env": {"env_vars": {SUBMITTED: json.dumps([mine])}}}))
        recorded = as_submitted([mounted])
        assert recorded == (mine,)  # the manifest names the file on the submitting machine
        assert driver_runtime_env(recorded) == ({"py_modules": [mounted["path"]]}, False)  # the workers get the copy
    finally:
        sys.modules.pop("tiny_mounted", None)


def test_a_clusters_copy_of_a_plugin_file_loads_by_name_where_the_file_is_not(forked_workers, tmp_path):
    record = plugin(tmp_path / "laptop", "tiny_sent", "VALUE = 7\n")
    copy = job_copy(record, tmp_path / "job")
    os.unlink(record["path"])  # a node of the cluster: the file as recorded is not there, its copy is on the path
    code = ("import json, sys\nfrom restore_core.plugins import reload_plugins\n"
            "reload_plugins([json.loads(sys.argv[1])], 'manifest.json')\nimport tiny_sent\nprint(tiny_sent.VALUE)")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path / 'job'}"}
    done = subprocess.run([*python_command(), "-c", code, json.dumps(record)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == "7\n" and done.stderr == ""  # the same code: no warning of a change
    assert copy["sha256"] == record["sha256"]


def test_a_space_in_a_file_recorded_elsewhere_is_found_in_its_loaded_copy(forked_workers, tmp_path):
    # a RayJob's manifest names the space by the pod's /plugins path; an analysis here has loaded this machine's file
    pods = tmp_path / "mine"
    pods.mkdir()
    shutil.copy(os.path.join(ROOT, "examples", "plugins", "tiny_space.py"), pods / "tiny_space.py")
    code = ("import sys\nfrom restore_core.plugins import load_plugins\nfrom search_spaces import find_space\n"
            "load_plugins(['mine/tiny_space.py'], with_entry_points=False)\n"
            "space, ref, record = find_space('/plugins/tiny_space.py:WIDTH')\nprint(space.name, ref, record['path'])")
    done = subprocess.run([*python_command(), "-c", code], cwd=tmp_path, env={**os.environ, "PYTHONPATH": ROOT},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == f"tiny_width /plugins/tiny_space.py:WIDTH {pods / 'tiny_space.py'}\n"
