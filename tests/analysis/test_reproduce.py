"""best.json and the one command that reruns a cell of the table: run from its recorded command, the cell's
trials come out bit-identical on CPU (smoke profile), on the same data fingerprint."""

from __future__ import annotations

import json
import os
import shlex

import pytest

import sweeps.run
from analysis import load_run
from analysis.load import read_manifest
from search_spaces import get_space


def _json(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def test_best_json_holds_the_selected_configuration_its_config_seed_and_provenance(smoke_run):
    best = _json(os.path.join(smoke_run, "best.json"))
    manifest = read_manifest(smoke_run)
    frame = load_run(smoke_run)
    trials = frame[frame["label"] == best["label"]]
    assert sorted(trials["seed"]) == best["seeds"] == [0, 1]
    with open(os.path.join(smoke_run, "table.md"), encoding="utf-8") as handle:
        table = handle.read()
    first_row = next(line for line in table.splitlines() if line.startswith("| 1 |"))
    assert f"| {best['label']} |" in first_row  # rank 1 of the table
    trial = trials[trials["seed"] == best["seed"]].iloc[0]
    assert best["trial_id"] == trial["trial_id"] and best["trial_value"] == trial[best["value_column"]]
    assert best["trial_value"] == max(trials[best["value_column"]])  # the better seed of the two
    space = get_space("lsid_lr")
    assert best["config"] == space.resolve(manifest["base_config"], {**best["params"], "seed": best["seed"]})
    assert best["config"]["optim"]["lr"] == trial["param/optim.lr"]
    assert best["commit"] == manifest["git"]["commit"]
    assert best["data_fingerprint"] == manifest["data_fingerprint"] and best["data_fingerprint"].startswith("sha256:")


def test_reproduce_md_gives_every_row_its_command(smoke_run):
    with open(os.path.join(smoke_run, "reproduce.md"), encoding="utf-8") as handle:
        text = handle.read()
    for label in set(load_run(smoke_run)["label"]):
        line = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
        assert "--config" in line and "--seeds 2 --scheduler fifo`" in line


def test_the_recorded_command_reruns_the_cell_bit_identically(smoke_run, tmp_path):
    best = _json(os.path.join(smoke_run, "best.json"))
    words = shlex.split(best["command"])
    assert words[:2] == ["python", "sweeps/run.py"] and "--search" not in words and "--num-samples" not in words
    code = sweeps.run.main([*words[2:], "--storage", str(tmp_path), "--name", "rerun", "--verbose", "0"])
    assert code == 0
    rerun_dir = str(tmp_path / "lsid_lr" / "rerun")
    original = load_run(smoke_run)
    original = original[original["label"] == best["label"]].set_index("seed")
    again = load_run(rerun_dir).set_index("seed")
    assert sorted(again.index) == [0, 1] and set(again["label"]) == {best["label"]}
    columns = [c for c in original.columns if c.startswith(("best/val/", "last/val/", "last/train/", "test/"))]
    assert "best/val/psnr" in columns and "last/train/loss" in columns
    for seed in (0, 1):
        for column in columns:  # bit-identical: the same floats, not approximately
            assert again.loc[seed, column] == original.loc[seed, column] or (
                again.loc[seed, column] != again.loc[seed, column] and original.loc[seed, column] !=
                original.loc[seed, column]), column
    assert read_manifest(rerun_dir)["data_fingerprint"] == best["data_fingerprint"]
    rerun_best = _json(os.path.join(rerun_dir, "best.json"))
    assert rerun_best["label"] == best["label"] and rerun_best["mean"] == best["mean"]


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ({"space": "lamba_rdb", "params": {}}, "is a configuration of space \"lamba_rdb\", not 'lsid_lr'"),
    ({"space": "lsid_lr", "params": {"optim.wd": 1}}, "\"optim.wd\" is not a parameter of space 'lsid_lr'"),
    ({"space": "lsid_lr", "params": {"row": "1e-9"}}, "unknown row '1e-9' of space 'lsid_lr'"),
])
def test_a_bad_config_file_is_one_line_and_exit_code_2(tmp_path, capsys, content, message):
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(json.dumps(content))
    code = sweeps.run.main(["--space", "lsid_lr", "--profile", "smoke", "--config", str(path), "--storage",
                            str(tmp_path / "runs"), "--dry-run"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0] and err[0].startswith(f"error: --config {path}")
    assert not (tmp_path / "runs").exists()
