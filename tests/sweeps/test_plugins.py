"""Users' own code, end to end: the example plugins (examples/plugins) copied to a folder outside the project and
off sys.path, then swept, resumed and analysed by sweeps/run.py and python -m analysis in their own processes.

- a model of one's own with an existing task, in a space of one's own (``--space FILE.py:NAME``), with one's own loss
  and metric; its trials fail while a flag file exists, so that ``--resume --retry-failed`` must load the plugins
  again in the driver and in Ray's workers from the manifest alone;
- a task of one's own with data of one's own (.npy pairs);
- the entry-point group, bad plugin input, changed and missing plugin files, registries refusing a name twice.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from restore_core.errors import UserError
from restore_core.plugins import ENTRY_POINT_GROUP, file_sha256, load_plugins, reload_plugins
from restore_core.schema import validate_config
from restore_core.tasks import get_task as get_task_class
from sweeps.run import main
from tests.conftest import ROOT, free_port
from tests.registries import registries_restored_after_the_file  # noqa: F401 (this file's plugins end with it)
from tests.worker_forks import python_command

EXAMPLES = os.path.join(ROOT, "examples", "plugins")
FLAKY = '''"""A model that fails while the file FLAG exists (a test's plugin)."""

import os

from tiny_net import TinyNet  # a file beside this one: a plugin's folder is importable

from restore_core import register_model

FLAG = {flag!r}  # in the file itself: the workers of the test session's Ray do not see the test's environment


@register_model("flaky_net")
class FlakyNet(TinyNet):
    def forward(self, x):
        if self.training and os.path.exists(FLAG):
            raise RuntimeError("flaky_net fails while its flag file exists")
        return super().forward(x)
'''


def plugin_folder(tmp_path) -> str:
    folder = tmp_path / "my plugins"  # a space in the path, and no __init__.py: a folder, not a package
    folder.mkdir()
    for name in ("tiny_net.py", "tiny_space.py", "npy_denoise.py"):
        shutil.copy(os.path.join(EXAMPLES, name), folder / name)
    (folder / "flaky.py").write_text(FLAKY.format(flag=str(tmp_path / "fail")))
    return str(folder)


def run(args: list[str], cwd, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """A command of the project in its own process, from ``cwd``, with only the project on its Python path (forked
    with torch imported: tests/worker_forks.py)."""
    environment = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    done = subprocess.run([*python_command(), *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=timeout)
    return done


def session_ray(ray_session) -> list[str]:
    """The driver's arguments that run its sweep on the test session's Ray: the driver stays a process of its own
    (it loads the plugins itself), and its trials' workers are new processes that load them from the manifest."""
    return ["--address", ray_session.get_runtime_context().gcs_address]


def statuses(run_dir: str) -> list[str]:
    found = []
    for name in sorted(os.listdir(run_dir)):
        path = os.path.join(run_dir, name, "status.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                found.append(json.load(handle)["status"])
    return found


def results(run_dir: str) -> list[dict[str, str]]:
    with open(os.path.join(run_dir, "results.csv"), encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_a_users_model_loss_metric_and_space_sweep_resume_and_analysis(ray_session, tmp_path):
    folder = plugin_folder(tmp_path)
    storage, flag = tmp_path / "runs", tmp_path / "fail"
    flag.write_text("while this file exists, flaky_net fails")
    run_py = os.path.join(ROOT, "sweeps", "run.py")
    common = ["--storage", str(storage), "--name", "r", "--no-analysis", "--verbose", "0", *session_ray(ray_session)]
    done = run([run_py, "--import", f"{folder}/tiny_net.py", "--import", f"{folder}/flaky.py",
                "--space", f"{folder}/tiny_space.py:WIDTH", "--profile", "smoke", "--set", "model.name=flaky_net",
                *common], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = str(storage / "tiny_width" / "r")
    assert statuses(run_dir) == ["error", "error"]  # both trials failed in Ray's workers, as the plugin made them
    with open(os.path.join(run_dir, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    assert manifest["space"] == "tiny_width" and manifest["space_ref"] == f"{folder}/tiny_space.py:WIDTH"
    assert [(p["kind"], p["name"], p["path"]) for p in manifest["plugins"]] == [
        ("file", "tiny_net", f"{folder}/tiny_net.py"), ("file", "flaky", f"{folder}/flaky.py"),
        ("file", "tiny_space", f"{folder}/tiny_space.py")]
    assert all(p["sha256"] == file_sha256(p["path"]) for p in manifest["plugins"])

    flag.unlink()  # the resume names no plugin: the manifest does, for the driver and every worker
    done = run([run_py, "--resume", "--retry-failed", *common], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert statuses(run_dir) == ["terminated", "terminated"]

    done = run(["-m", "analysis", run_dir], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {row["label"]: row for row in results(run_dir)}
    assert sorted(rows) == ["width=16", "width=4"] and {r["status"] for r in rows.values()} == {"completed"}
    for row in rows.values():  # the user's metric, computed on every evaluation, and the user's loss term
        assert 0 < float(row["best/val/mae"]) < 1 and float(row["last/train/loss_charbonnier"]) > 0
    assert float(rows["width=16"]["cost/params"]) > float(rows["width=4"]["cost/params"]) > 0
    with open(os.path.join(run_dir, "table.md"), encoding="utf-8") as handle:
        table = handle.read()
    assert "| width=16 |" in table and "| width=4 |" in table and "baseline configuration: width=4" in table


@pytest.mark.slow
def test_a_users_task_with_its_own_data(ray_session, tmp_path):
    folder = plugin_folder(tmp_path)
    data = tmp_path / "pairs"
    rng = np.random.default_rng(0)
    for side in ("noisy", "clean"):
        (data / side).mkdir(parents=True)
    for i in range(5):
        clean = rng.random((24, 24)).astype(np.float32)
        np.save(data / "clean" / f"img{i}.npy", clean)
        np.save(data / "noisy" / f"img{i}.npy", np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1))
    storage = tmp_path / "runs"
    done = run([os.path.join(ROOT, "sweeps", "run.py"), "--import", f"{folder}/tiny_net.py",
                "--space", f"{folder}/npy_denoise.py:DENOISE", "--profile", "smoke", "--set", f"data.root={data}",
                "--storage", str(storage), "--name", "d", "--verbose", "0", *session_ray(ray_session)],
               tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = results(str(storage / "npy_denoise_lr" / "d"))
    assert sorted(r["label"] for r in rows) == ["lr=0.001", "lr=0.01"]
    for row in rows:
        assert row["status"] == "completed" and row["steps"] == "4"
        # the reference: the noisy inputs' PSNR against the clean images (noise of sigma 0.1, clipped: about 20 dB)
        assert 19 < float(row["best/val/ref_psnr"]) < 22 and 0 < float(row["best/val/mae"]) < 1
        # the chosen checkpoint evaluated once on the task's test split, with the user's metric there too
        assert 19 < float(row["test/ref_psnr"]) < 22 and 0 < float(row["test/mae"]) < 1
        assert math.isfinite(float(row["test/psnr"]))


def test_a_data_source_of_ones_own_for_an_existing_task(tmp_path):
    from restore_core.loop import train
    from restore_core.tasks.desmoke import DesmokeTask
    from search_spaces import get_space

    shutil.copy(os.path.join(EXAMPLES, "npz_smoke.py"), tmp_path / "npz_smoke.py")
    load_plugins([str(tmp_path / "npz_smoke.py")], with_entry_points=False)
    rng = np.random.default_rng(0)
    path = tmp_path / "smoke.npz"
    np.savez(path, smoky=(rng.random((4, 256, 256, 3)) * 255).astype(np.uint8), clean=rng.random((4, 256, 256, 3)))
    config = get_space("desmoke_dark_channel").base_config(
        "smoke", {"task.name": "desmoke_npz", "data": {}, "data.path": str(path), "data.tile": 256})
    splits = get_task_class("desmoke_npz").prepare_data(validate_config(config))
    assert {split: len(pairs.smoky) for split, pairs in splits.items()} == {"train": 1, "val": 2, "test": 1}
    result = train(config)  # the desmoking task's own networks, losses and metrics, on the file's pairs
    assert result.stop_reason == "completed" and math.isfinite(result.metrics["val/psnr"])
    assert -1 <= result.metrics["val/uqi"] <= 1  # one of the task's own metrics
    np.savez(path, smoky=np.zeros((4, 256, 256, 3)))
    with pytest.raises(UserError, match=f"^{path} has no array 'clean'; it holds smoky$"):
        get_task_class("desmoke_npz").check_data(validate_config(config))
    assert issubclass(get_task_class("desmoke_npz"), DesmokeTask)


def test_a_plugin_that_is_not_there_or_defines_no_such_space_is_one_line(tmp_path, capsys):
    folder = plugin_folder(tmp_path)
    dry = ["--profile", "smoke", "--dry-run", "--storage", str(tmp_path / "runs"), "--dashboard-port", str(free_port())]
    for argv, expected in [
        (["--import", f"{tmp_path}/nope.py", "--space", "lsid_lr"],
         f"error: --import {tmp_path}/nope.py: no such file"),
        (["--import", "no_such_module_here", "--space", "lsid_lr"],
         "error: --import no_such_module_here: no module named 'no_such_module_here' on the Python path"),
        (["--space", f"{folder}/tiny_space.py:NOPE"],
         f"error: --space {folder}/tiny_space.py:NOPE: {folder}/tiny_space.py defines no SearchSpace named NOPE; it "
         "defines WIDTH"),
    ]:
        assert main([*argv, *dry]) == 2
        err = capsys.readouterr().err
        assert err.startswith(expected) and err.count("\n") == 1, err
    assert not (tmp_path / "runs").exists()


def test_reloading_names_a_changed_or_missing_plugin(tmp_path, capsys, monkeypatch):
    module = tmp_path / "reloaded_plugin.py"
    module.write_text("VALUE = 1\n")
    (record,) = load_plugins([str(module)], with_entry_points=False)
    assert record == {"kind": "file", "name": "reloaded_plugin", "path": str(module),
                      "sha256": file_sha256(str(module))}
    module.write_text("VALUE = 2\n")
    reload_plugins([record], "runs/x/manifest.json")
    assert capsys.readouterr().err == (f"warning: runs/x/manifest.json: the plugin {module} changed since the run "
                                       "recorded it (its trials ran the code as it was then); it is loaded as it is "
                                       "now\n")
    module.unlink()
    monkeypatch.delitem(sys.modules, "reloaded_plugin")  # as in a new process: nothing imported yet
    gone = f"^runs/x/manifest.json: the run loads the plugin file {module}, which is gone"
    with pytest.raises(UserError, match=gone):
        reload_plugins([record], "runs/x/manifest.json")
    with pytest.raises(UserError, match="plugin record 'x' is not one the sweep writes"):
        reload_plugins(["x"], "runs/x/manifest.json")


def test_an_installed_packages_entry_point_is_loaded(forked_workers, tmp_path):
    package = tmp_path / "site" / "entry_point_models"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from torch import nn\nfrom restore_core import register_model\n\n"
        "@register_model('entry_point_net')\nclass EntryPointNet(nn.Conv2d):\n"
        "    def __init__(self):\n        super().__init__(4, 12, 1)\n")
    info = tmp_path / "site" / "entry_point_models-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: entry-point-models\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nmodels = entry_point_models\n")
    # its own process, as pip installs it: the package on the path with its metadata (this one's registries stay)
    code = ("import json\nfrom restore_core import list_models\nfrom restore_core.plugins import load_plugins, "
            "reload_plugins\nrecords = [r for r in load_plugins() if r['kind'] == 'entry_point']\n"
            "reload_plugins(records, 'manifest.json')\n"
            "print(json.dumps([records, 'entry_point_net' in list_models()]))")
    done = run(["-c", code], tmp_path, {"PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path / 'site'}"})
    assert done.returncode == 0, done.stderr[-3000:]
    records, registered = json.loads(done.stdout)
    assert records == [{"kind": "entry_point", "name": "models", "path": str(package / "__init__.py"),
                        "sha256": file_sha256(str(package / "__init__.py")), "value": "entry_point_models"}]
    assert registered  # loaded again as a resume does: the same registration, nothing refused


def test_a_name_registered_twice_is_refused_naming_both():
    from torch import nn

    from restore_core import register_model

    with pytest.raises(UserError, match="^model 'sid_unet' is registered twice: by restore_core.models.sid_unet and "
                                        "by tests.sweeps.test_plugins; give yours another name$"):
        @register_model("sid_unet")
        class Mine(nn.Module):
            pass
