"""The test evaluation of a run's selected checkpoints, on real checkpoints the loop wrote: the checkpoint chosen on
validation is the one evaluated, its output is the image the report shows (a degraded trial's last output beside
it), a trial is evaluated once, and one a killed driver left unevaluated is evaluated by the next pass."""

from __future__ import annotations

import os
import shutil

import numpy as np

from analysis import load_run
from analysis.evaluate_test import evaluate_run_on_test
from restore_core.config import set_path
from restore_core.evaluate import evaluate_checkpoint, first_image_crops
from restore_core.loop import train
from restore_core.run_files import decode_png, read_test
from search_spaces import get_space

SPACE = get_space("lsid_lr")


def trained_trial(tmp_path, row: str) -> tuple[dict, list[dict], dict[str, str]]:
    """Train one smoke trial of ``row`` (4 steps, evaluated at 2 and 4) outside Ray, keeping each evaluation's
    checkpoint as Ray names it; returns the config, the reports and the checkpoint folders."""
    config = SPACE.resolve(SPACE.base_config("smoke"), {"row": row, "seed": 0})
    config["optim"]["lr"] = 1e-2  # the two checkpoints then differ visibly
    reports, folders = [], {}

    def keep(metrics, folder):
        name = f"checkpoint_{len(reports):06d}"
        folders[name] = shutil.copytree(folder, tmp_path / "kept" / row / name)
        reports.append({**metrics, "checkpoint_dir_name": name})

    train(config, report=keep)
    return config, reports, folders


def test_the_checkpoint_selected_on_validation_is_evaluated_once(make_run, tmp_path):
    config, reports, folders = trained_trial(tmp_path, "1e-3")
    # the validation values decide the selection: the peak at step 2, a fall of 10 dB by step 4 (degraded)
    reports[0]["val/psnr"], reports[1]["val/psnr"] = 30.0, 20.0
    _, other, other_folders = trained_trial(tmp_path, "1e-4")
    run_dir = make_run([
        {"id": "peaked", "params": {"row": "1e-3", "seed": 0}, "results": reports, "status": "terminated"},
        {"id": "steady", "params": {"row": "1e-4", "seed": 0}, "results": other, "status": "terminated"},
        {"id": "diverged", "params": {"row": "1e-5", "seed": 0}, "status": "terminated",
         "results": [{**other[0], "stop_reason": "nan"}]},
        # paused at its first evaluation when the sweep ended (no end of its own): evaluated from what it reached
        {"id": "paused", "params": {"row": "1e-4", "seed": 1}, "results": other[:1]},
    ], base_config=set_path(SPACE.base_config("smoke"), "train.threads", 1))  # a sweep's: a thread per trial's CPU
    for trial, kept in (("peaked", folders), ("steady", other_folders), ("diverged", other_folders),
                        ("paused", other_folders)):
        for name, folder in kept.items():
            shutil.copytree(folder, os.path.join(run_dir, trial, name))
    lines = []
    done = evaluate_run_on_test(run_dir, log=lines.append)
    assert sorted(os.path.basename(d) for d in done.evaluated) == ["paused", "peaked", "steady"]  # not the diverged
    # side by side on the cores (one torch thread a trial), and each as it would be alone (compared below)
    assert done.side_by_side == min(3, len(os.sched_getaffinity(0)))
    assert len(lines) == 1 and lines[0].startswith("evaluated 3 trial(s) on the test split in ")
    assert (read_test(os.path.join(run_dir, "paused"))["step"], read_test(os.path.join(run_dir, "paused"))[
        "checkpoint"]) == (2, "checkpoint_000000")
    record = read_test(os.path.join(run_dir, "peaked"))
    assert (record["step"], record["checkpoint"], record["metric"], record["value"]) == (
        2, "checkpoint_000000", "val/psnr", 30.0)
    selected = evaluate_checkpoint(config, folders["checkpoint_000000"], "test")
    last = evaluate_checkpoint(config, folders["checkpoint_000001"], "test")
    assert record["metrics"]["test/psnr"] == selected.evaluation.metrics["test/psnr"]
    assert record["metrics"]["test/psnr"] != last.evaluation.metrics["test/psnr"]
    # the report's images are the selected checkpoint's output on the first test image; the last one's beside it
    shown, later = decode_png(record["images"]["output"]), decode_png(record["last"]["images"]["output"])
    assert np.array_equal(shown, first_image_crops(selected.evaluation)["output"])
    assert np.array_equal(later, first_image_crops(last.evaluation)["output"]) and not np.array_equal(shown, later)
    assert record["last"]["step"] == 4 and "last" not in read_test(os.path.join(run_dir, "steady"))
    frame = load_run(run_dir).set_index("trial_id")
    assert frame.loc["peaked", "test/step"] == 2 and frame.loc["peaked", "degraded"]
    assert (frame.loc["paused", "status"], frame.loc["paused", "test/step"]) == ("unfinished", 2)
    # never twice; a trial whose test.json a killed driver never wrote is evaluated by the next pass
    assert evaluate_run_on_test(run_dir, log=lines.append).evaluated == [] and len(lines) == 1
    os.unlink(os.path.join(run_dir, "steady", "test.json"))
    assert [os.path.basename(d) for d in evaluate_run_on_test(run_dir, log=lines.append).evaluated] == ["steady"]


def test_a_checkpoint_that_is_gone_is_said_and_not_evaluated(make_run, tmp_path):
    _, reports, _ = trained_trial(tmp_path, "1e-3")
    run_dir = make_run([{"id": "lost", "params": {"row": "1e-3", "seed": 0}, "results": reports,
                         "status": "terminated"}])
    lines = []
    done = evaluate_run_on_test(run_dir, log=lines.append)
    best = max(reports, key=lambda r: r["val/psnr"])
    assert done.evaluated == [] and list(done.skipped.values()) == [
        f"the checkpoint of step {best['step']} ({best['checkpoint_dir_name']}) is gone"]
    assert lines[0].endswith(f"lost: the checkpoint of step {best['step']} ({best['checkpoint_dir_name']}) is gone")


def test_a_checkpoint_is_evaluated_with_its_trials_threads_and_torchs_are_restored():
    import torch

    from analysis.evaluate_test import torch_threads

    before = torch.get_num_threads()
    other = 3 if before != 3 else 2
    with torch_threads(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    with torch_threads(None):  # train.threads left to torch's default: the threads as they are
        assert torch.get_num_threads() == before
    try:
        with torch_threads(other):
            raise KeyError("an evaluation that fails")
    except KeyError:
        pass
    assert torch.get_num_threads() == before


def test_a_runs_checkpoints_share_the_evaluation_sets_built_once(tmp_path):
    import torch

    from restore_core.evaluate import load_checkpoint_task

    config, _, folders = trained_trial(tmp_path, "1e-3")
    first, second = (folders[name] for name in sorted(folders))
    alone = evaluate_checkpoint(config, second, "test").evaluation.metrics
    eval_sets: dict = {}
    task, _ = load_checkpoint_task(config, first, eval_sets=eval_sets)
    task.evaluate("test")
    built = task.eval_sets["test"]
    shared = evaluate_checkpoint(config, second, "test", eval_sets=eval_sets).evaluation.metrics
    later, _ = load_checkpoint_task(config, second, eval_sets=eval_sets)
    assert later.eval_sets["test"] is built  # the inputs and references of the first checkpoint's task, not rebuilt
    assert shared == alone  # the same metrics, references included, as a checkpoint evaluated on its own
    assert shared["test/ref_psnr"] == alone["test/ref_psnr"] and "test/ref_psnr" in built["metrics"]
    # another model section, task section, data or device builds its own
    from restore_core.evaluate import eval_sets_key
    from restore_core.schema import data_key, validate_config

    key, cpu = data_key(validate_config(config)), torch.device("cpu")
    assert next(iter(eval_sets)) == eval_sets_key(config, key, cpu) and len(eval_sets) == 1
    other_model = {**config, "model": {**config["model"], "width": 0.25}}
    other_task = {**config, "task": {**config["task"], "input": "bayer"}}
    assert len({eval_sets_key(config, key, cpu), eval_sets_key(other_model, key, cpu),
                eval_sets_key(other_task, key, cpu), eval_sets_key(config, "other", cpu),
                eval_sets_key(config, key, torch.device("meta"))}) == 5
