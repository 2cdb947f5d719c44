"""Run directories for the analysis tests: hand-written ones with known numbers (the real smoke sweep they also read,
``smoke_run``, is in tests/conftest.py: the search-space tests assert on the same run)."""

from __future__ import annotations

import json
import os
import shutil

import pytest


def _write(path: str, data) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        if isinstance(data, list):  # result.json: one JSON object per line, as Ray writes it
            handle.write("".join(json.dumps(row) + "\n" for row in data))
        else:
            json.dump(data, handle)


def write_run(run_dir: str, trials: list[dict], **manifest) -> str:
    """A run directory of the ``lsid_lr`` space (smoke profile) at ``run_dir`` whose trials are ``{"id", "params",
    "results", "status" (None: no status.json), "error", "test" (test.json, optional)}``."""
    import search_spaces

    space = search_spaces.get_space("lsid_lr")
    _write(os.path.join(run_dir, "manifest.json"), {
        "space": "lsid_lr", "metric": "val/psnr", "mode": "max", "search": "grid", "scheduler": "fifo",
        "profile": "smoke", "baseline": space.baseline, "pairs": [], "trials_planned": len(trials),
        "scientific": list(space.scientific), "base_config": space.base_config("smoke"), **manifest})
    for trial in trials:
        folder = os.path.join(run_dir, trial["id"])
        _write(os.path.join(folder, "params.json"), trial["params"])
        if trial.get("results") is not None:
            _write(os.path.join(folder, "result.json"), trial["results"])
        if trial.get("status"):
            _write(os.path.join(folder, "status.json"), {"status": trial["status"], "error": trial.get("error")})
        if trial.get("test") is not None:
            _write(os.path.join(folder, "test.json"), trial["test"])
        if trial.get("error"):
            with open(os.path.join(folder, "error.txt"), "w", encoding="utf-8") as handle:
                handle.write("Traceback (most recent call last):\n  ...\n" + trial["error"] + "\n")
    return run_dir


def handmade(folder) -> str:
    """Where a hand-made run directory goes under ``folder`` (a pathlib path)."""
    return str(folder / "lsid_lr" / "handmade")


@pytest.fixture
def make_run(tmp_path):
    """``make_run(trials, **manifest)``: :func:`write_run` in the test's own folder."""

    def build(trials: list[dict], **manifest) -> str:
        return write_run(handmade(tmp_path), trials, **manifest)

    return build


@pytest.fixture(scope="module")
def analysed_once(tmp_path_factory) -> str:
    """test_corrupt_runs' run analysed once for the module (with its baseline, so vs_baseline.* exist), every output
    then marked as earlier."""
    import analysis
    from tests.analysis.test_corrupt_runs import mark_stale, trials

    run_dir = write_run(handmade(tmp_path_factory.mktemp("analysed")), trials())
    analysis.write_outputs(run_dir)
    names = mark_stale(run_dir)
    assert {"table.md", "vs_baseline.md", "vs_baseline.csv", "vs_baseline.tex", "report.html"} <= set(names)
    return run_dir


@pytest.fixture
def analysed(analysed_once, tmp_path) -> str:
    """The analysed run, copied for the test (each edits or breaks its files)."""
    return shutil.copytree(analysed_once, handmade(tmp_path))
