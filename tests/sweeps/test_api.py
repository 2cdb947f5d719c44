"""``sweeps.run_sweep`` from a script: a space object of the script's own, run in this process on the session's Ray;
it returns the run directory and Ray Tune's ResultGrid, and records where to find the space again."""

from __future__ import annotations

import json
import math
import os

import pytest
from ray import tune

import sweeps
from restore_core.config import deep_merge
from restore_core.errors import UserError
from search_spaces import Row, SearchSpace, lsid_lr
from sweeps.settings.options import SweepOptions
from tests.conftest import free_port

API_SPACE = SearchSpace(
    name="api_two_rates",
    description="two learning rates of a small SID U-Net, from a script",
    reproduces="nothing (a test of sweeps.run_sweep)",
    base=deep_merge(deep_merge(lsid_lr.BASE, lsid_lr.SMOKE), {"train": {"threads": 1, "cost_size": 32}}),
    rows=(Row("1e-3", {"optim": {"lr": 1e-3}}), Row("1e-4", {"optim": {"lr": 1e-4}})),
)


def test_run_sweep_returns_the_run_directory_and_the_result_grid(ray_session, tmp_path):
    run_dir, results = sweeps.run_sweep(API_SPACE, profile="smoke", storage=str(tmp_path), name="api", verbose=0,
                                        dashboard_port=free_port(), max_concurrent=2)
    assert run_dir == str(tmp_path / "api_two_rates" / "api")
    assert isinstance(results, tune.ResultGrid) and len(results) == 2 and not results.errors
    best = results.get_best_result()
    assert best.metrics["step"] == 4 and math.isfinite(best.metrics["val/psnr"])
    assert {r.metrics["label"] for r in results} == {"1e-3", "1e-4"}
    assert os.path.isfile(os.path.join(run_dir, "table.md"))  # analysed, as sweeps/run.py does
    with open(os.path.join(run_dir, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    assert manifest["space_ref"] == f"{__name__}:API_SPACE" and manifest["options"]["profile"] == "smoke"


def test_run_sweep_refuses_what_the_command_line_refuses():
    with pytest.raises(UserError, match="^run_sweep\\(\\) has no option 'profil'; known: "):
        sweeps.run_sweep("lsid_lr", profil="smoke")
    with pytest.raises(UserError, match="^unknown space 'lsid_l' \\(did you mean 'lsid_lr'\\?\\)"):
        sweeps.run_sweep("lsid_l", profile="smoke")
    with pytest.raises(UserError, match="^--seeds must be a whole number >= 1; got 0"):
        sweeps.run_sweep("lsid_lr", seeds=0)


def test_the_dry_run_lists_without_running(tmp_path):
    listing = sweeps.dry_run(SweepOptions(space="lsid_lr", profile="smoke", storage=str(tmp_path),
                                          dashboard_port=free_port()))
    assert "10 trials:" in listing and not os.listdir(tmp_path)
