"""A manifest value, a trial folder or an output name that the sweep would not have left: one line naming the file,
the key and what is accepted, exit code 2, and every file of the run directory as it was (none rewritten, none
removed). Manifests from before a key was recorded still load, with the space's value."""

from __future__ import annotations

import json
import os

import pytest

import analysis
from analysis.__main__ import main as cli
from sweeps.driver.report import print_summary
from tests.analysis.test_corrupt_runs import BASE, STALE, one_error_line, report, trials


def snapshot(run_dir: str) -> dict[str, bytes]:
    """Every file of the run directory (trial folders included), by relative path, as bytes."""
    files = {}
    for folder, _, names in os.walk(run_dir):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, run_dir)] = handle.read()
    return files


def edit_manifest(run_dir: str, **values) -> str:
    """Set (or, with None as the value of a key ending in "_", delete) keys of the run's manifest.json."""
    path = os.path.join(run_dir, "manifest.json")
    with open(path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    for key, value in values.items():
        if key.endswith("_"):
            del manifest[key[:-1]]
        else:
            manifest[key] = value
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle)
    return path


def base_config(**sections) -> dict:
    """The run's base config (lsid_lr, smoke) with ``sections`` merged in, one level deep."""
    import search_spaces

    config = search_spaces.get_space("lsid_lr").base_config("smoke")
    for section, value in sections.items():
        config[section] = {**config[section], **value} if isinstance(value, dict) else value
    return config


PAIR = '{"a": label, "b": label, "kind": name} ("kind" optional), as the space declares its pairs'
BAD_VALUES = {  # manifest key -> (value, the message after "error: <manifest.json>: ")
    "pairs-of-lists": ("pairs", [["a"]], f'pairs[0] is ["a"]; expected a list of pairs {PAIR}'),
    "pairs-not-a-list": ("pairs", "1e-3", f'pairs is "1e-3"; expected a list of pairs {PAIR}'),
    "pair-label-number": ("pairs", [{"a": "1e-3", "b": BASE}, {"a": "1e-3", "b": 5}],
                          f'pairs[1] is {{"a": "1e-3", "b": 5}}; expected a list of pairs {PAIR}'),
    "pair-unknown-key": ("pairs", [{"a": "1e-3", "c": BASE}],
                         f'pairs[0] is {{"a": "1e-3", "c": "{BASE}"}}; expected a list of pairs {PAIR}'),
    "metric-not-reported": ("metric", "val/nope",
                            'metric is "val/nope", which no trial reports; the trials report cost/params, val/psnr, '
                            "val/ssim"),
    "metric-number": ("metric", 5, 'metric is 5; expected the name of a metric the trials report, such as "val/psnr"'),
    "mode": ("mode", "up", 'mode is "up"; expected "max" or "min"'),
    "baseline-number": ("baseline", 5, "baseline is 5; expected a configuration label (a string) or null"),
    "search-number": ("search", 5, "search is 5; expected one of grid, random, optuna, gp"),
    "search-unknown": ("search", "bayes", 'search is "bayes"; expected one of grid, random, optuna, gp'),
    "scientific": ("scientific", "optim.lr", 'scientific is "optim.lr"; expected a list of config keys (strings)'),
    "git": ("git", "abc", 'git is "abc"; expected an object {"commit": ..., "dirty": ...} or null'),
    "config-type": ("base_config", base_config(train={"steps": "x"}),
                    "base_config: config key 'train.steps' must be int, got 'x'"),
    "config-range": ("base_config", base_config(optim={"lr": -1}),
                     "base_config: optim.lr must be a finite number > 0; got -1.0"),
    "config-unknown-key": ("base_config", base_config(train={"stepz": 4}),
                           "base_config: unknown config key 'train.stepz'; known in 'train': "),
    "config-section-number": ("base_config", base_config(train=5),
                              "base_config: config section 'train' must be a mapping, got 5"),
    "config-unknown-section": ("base_config", {**base_config(), "trian": {}},
                               "base_config: unknown config section 'trian' (did you mean 'train'?); known: data, "
                               "loss, model, optim, task, train"),
    "config-unknown-model": ("base_config", base_config(model={"name": "sid_unt"}),
                             "base_config: unknown model 'sid_unt' (did you mean 'sid_unet'?); known: "),
    "config-model-option": ("base_config", base_config(model={"widht": 0.5}),
                            "base_config: unknown option 'model.widht' for model 'sid_unet'; known: "),
    "config-loss-weight": ("base_config", base_config(loss={"l1": "x"}),
                           "base_config: loss weight 'loss.l1' must be a finite number >= 0, got 'x'"),
    "config-unknown-task": ("base_config", base_config(task={"name": "nope"}),
                            "base_config: unknown task 'nope'; known: anomaly, desmoke, lowlight, tcfl"),
}


@pytest.mark.parametrize("case", BAD_VALUES)
def test_a_bad_manifest_value_is_one_line_and_nothing_is_rewritten(analysed, capsys, case):
    key, value, message = BAD_VALUES[case]
    path = edit_manifest(analysed, **{key: value})
    before = snapshot(analysed)
    capsys.readouterr()
    assert cli([analysed]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: {path}: {message}"), line
    assert snapshot(analysed) == before  # vs_baseline.* too, which a baseline of 5 used to remove


def test_a_sampled_value_of_the_wrong_type_names_the_params_file(analysed, capsys):
    path = os.path.join(analysed, "1e-3-0", "params.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"row": "1e-3", "seed": 0, "optim.lr": "fast"}, handle)
    before = snapshot(analysed)
    capsys.readouterr()
    assert cli([analysed]) == 2
    assert one_error_line(capsys) == f"error: {path}: config key 'optim.lr' must be float, got 'fast'"
    assert snapshot(analysed) == before


def test_a_manifest_without_the_optional_keys_takes_the_space_values(make_run, capsys):
    run_dir = make_run(trials())
    edit_manifest(run_dir, metric_=None, mode_=None, baseline_=None, pairs_=None, search_=None, scientific_=None)
    assert cli([run_dir]) == 0
    result = analysis.analyse(run_dir)
    assert (result.metric, result.mode, result.baseline) == ("val/psnr", "max", BASE)
    edit_manifest(run_dir, baseline=None, git=None, pairs=[{"a": "1e-3", "b": BASE}])  # null: the space's baseline
    assert cli([run_dir]) == 0
    assert analysis.analyse(run_dir).baseline == BASE
    assert os.path.exists(os.path.join(run_dir, "pairs.md"))


def test_a_grid_run_without_a_recorded_search_is_read_as_its_space_s_grid(make_run, capsys):
    """lsid_lr searches a grid by default: its rows set optim.lr (1e-3, the best here, is the top of the searched
    range), which only a sampled search would flag as a range to widen."""
    run_dir = make_run(trials(), search="random")
    assert cli([run_dir]) == 0
    assert list(analysis.analyse(run_dir).boundary["param"]) == ["optim.lr"]
    assert "widen the range" in open(os.path.join(run_dir, "table.md"), encoding="utf-8").read()
    edit_manifest(run_dir, search_=None, metric_=None, mode_=None)
    assert cli([run_dir]) == 0
    assert analysis.analyse(run_dir).boundary.empty and not os.path.exists(os.path.join(run_dir, "boundary.csv"))
    assert "widen" not in open(os.path.join(run_dir, "table.md"), encoding="utf-8").read()
    assert "<th>profile / search / scheduler</th><td>smoke / grid / fifo</td>" in open(
        os.path.join(run_dir, "report.html"), encoding="utf-8").read()
    capsys.readouterr()
    print_summary(run_dir)  # what the driver prints at the end of a sweep
    assert ("best trial: 1e-3 (seed 1): val/psnr = 32.0000 at step 4 (validation; not evaluated on test)"
            in capsys.readouterr().out)


def test_a_metric_is_only_checked_against_reports_that_exist(make_run, capsys):
    never_reported = [{"id": "1e-3-0", "params": {"row": "1e-3", "seed": 0}, "results": None}]
    assert cli([make_run(never_reported, metric="val/nope")]) == 0
    without_psnr = [{**t, "results": [{k: v for k, v in r.items() if k != "val/psnr"} for r in t["results"]]}
                    for t in trials()]
    run_dir = make_run(without_psnr)
    path = edit_manifest(run_dir, metric_=None)
    capsys.readouterr()
    assert cli([run_dir]) == 2
    assert one_error_line(capsys) == (f'error: {path} records no metric, and its space\'s ("val/psnr") is not one the '
                                      'trials report; add "metric": one of cost/params, val/ssim')


@pytest.mark.parametrize("left", [("result.json", "status.json"), ("result.json",)])
def test_a_trial_folder_with_reports_but_no_params_is_refused(analysed, capsys, left):
    folder = os.path.join(analysed, f"{BASE[:4]}-0")  # the baseline's trial: dropping it removed vs_baseline.*
    for name in os.listdir(folder):
        if name not in left:
            os.unlink(os.path.join(folder, name))
    before = snapshot(analysed)
    capsys.readouterr()
    assert cli([analysed]) == 2
    assert one_error_line(capsys) == (
        f"error: {folder} has result.json but no params.json; a trial's params.json is the JSON object of its "
        "sampled values, as Ray writes it (restore it, or move the folder out of the run directory to leave the "
        "trial out)")
    assert snapshot(analysed) == before


def test_a_trial_that_never_started_is_left_out(analysed, capsys):
    """What Ray leaves when a trial's actor cannot be created: the folder, error.txt, and the sweep's status.json."""
    folder = os.path.join(analysed, "1e-3-1")
    for name in os.listdir(folder):
        os.unlink(os.path.join(folder, name))
    with open(os.path.join(folder, "error.txt"), "w", encoding="utf-8") as handle:
        handle.write("Failure # 1\nRayActorError: The actor died unexpectedly before finishing this task.\n")
    with open(os.path.join(folder, "status.json"), "w", encoding="utf-8") as handle:
        json.dump({"status": "error", "error": "RayActorError"}, handle)
    assert cli([analysed]) == 0
    assert sorted(analysis.load_run(analysed)["trial_id"]) == sorted(t["id"] for t in trials() if t["id"] != "1e-3-1")


def test_a_folder_that_is_no_trial_is_left_alone(analysed):
    os.makedirs(os.path.join(analysed, "notes", "checkpoint_000000"))
    with open(os.path.join(analysed, "notes", "readme.txt"), "w", encoding="utf-8") as handle:
        handle.write("not a trial")
    assert cli([analysed]) == 0
    assert len(analysis.load_run(analysed)) == len(trials())


@pytest.mark.parametrize("name", ["results.csv", "table.md", "report.html"])
def test_an_output_name_taken_by_a_folder_writes_nothing(analysed, capsys, name):
    path = os.path.join(analysed, name)
    os.unlink(path)
    os.makedirs(os.path.join(path, "inside"))
    before = snapshot(analysed)
    capsys.readouterr()
    assert cli([analysed]) == 2
    assert one_error_line(capsys) == (f"error: {path} is a folder, where the analysis writes its {name} file; move "
                                      "or rename the folder (nothing was written)")
    after = snapshot(analysed)
    assert after == before and after["results.csv" if name != "results.csv" else "curves.csv"].endswith(STALE)


@pytest.mark.parametrize("text, message", [
    (b'{"space": "lsid\nlr"}', "is not valid JSON (Invalid control character at line 1)"),
    (b'{"space": "lsid_lr', "is not valid JSON (Unterminated string starting at line 1)"),
])
def test_invalid_json_names_its_line_once(analysed, capsys, text, message):
    path = os.path.join(analysed, "manifest.json")
    with open(path, "wb") as handle:
        handle.write(text)
    before = snapshot(analysed)
    capsys.readouterr()
    assert cli([analysed]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: {path} {message}; a run's manifest.json is ") and " at at " not in line
    assert snapshot(analysed) == before


def test_reports_that_name_the_metric_keep_working(make_run):
    """The check of the metric against the reports reads the reports as the tables do: a cut line is skipped."""
    run_dir = make_run([{"id": "1e-3-0", "params": {"row": "1e-3", "seed": 0}, "status": "terminated",
                         "results": [report(2, 30.0), report(4, 31.0, "completed")]}], metric="val/ssim")
    assert analysis.analyse(run_dir).metric == "val/ssim"
