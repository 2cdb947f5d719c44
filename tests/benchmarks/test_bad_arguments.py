"""Every benchmark refuses bad arguments before it measures anything: one line on stderr that starts with
``error: `` and names the problem, exit code 2, nothing on stdout. No benchmark runs here."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import tempfile

import pytest
import torch

from restore_core.errors import DataError
from tests.conftest import ROOT
from tests.worker_forks import python_command


@functools.cache
def benchmark(name: str):
    """The script ``benchmarks/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", os.path.join(ROOT, "benchmarks", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def refused(name: str, argv: list[str], capsys) -> str:
    """Run the benchmark's ``main`` on ``argv``; assert exit code 2, one ``error:`` line, no output. The line."""
    try:
        code = benchmark(name).main(argv)
    except SystemExit as exit_:  # the argument parser exits itself
        code = exit_.code
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def write_run(folder, scheduler: str, steps: dict[str, list[int]] | None = None, base: dict | None = None,
              profile: str = "quick", seeds: dict[str, int] | None = None):
    """A run folder of lsid_lr as ``analysis`` reads it: manifest (``base``: its base config, default the
    profile's) and, per trial, params.json and result.json with val/psnr at the given steps (trial name -> steps;
    a trial whose last step is the base config's ``train.steps`` completed; ``seeds``: trial name -> seed, 0 for
    the others)."""
    import search_spaces

    space = search_spaces.get_space("lsid_lr")
    folder.mkdir(parents=True)
    manifest = {"space": "lsid_lr", "base_config": base or space.base_config(profile), "search": "grid",
                "scheduler": scheduler, "metric": "val/psnr", "mode": "max", "profile": profile}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    for index, (trial, trial_steps) in enumerate((steps or {}).items()):
        (folder / trial).mkdir()
        (folder / trial / "params.json").write_text(json.dumps({"row": space.rows[index].label,
                                                                      "seed": (seeds or {}).get(trial, 0)}))
        reports = [{"step": s, "val/psnr": 20.0 + index + s / 100} for s in trial_steps]
        if trial_steps and trial_steps[-1] == manifest["base_config"]["train"]["steps"]:
            reports[-1]["stop_reason"] = "completed"
        (folder / trial / "result.json").write_text("".join(json.dumps(r) + "\n" for r in reports))
    return folder


BAD = [
    ("bare_loop", ["--configs", "/nonexistent"], ["--configs /nonexistent", "expected a JSON list of trial configs"]),
    ("bare_loop", ["--configs", "c.json", "--concurrency", "0"], ["--concurrency", "whole number >= 1"]),
    ("asha_replay", ["/nonexistent"], ["/nonexistent", "not a run directory"]),
    ("asha_replay", ["run", "--reduction", "1"], ["--reduction", "must be a number > 1", "got 1"]),
    ("asha_replay", ["run", "--grace", "0"], ["--grace", "in (0, 1]"]),
    ("asha_replay", ["run", "--concurrency", "0"], ["--concurrency", "whole number >= 1"]),
    ("asha_replay", ["run", "--quorum", "0"], ["--quorum", "whole number >= 1"]),
    ("asha_replay", ["run", "--noise", "much"], ["--noise", "expected off, auto, measured or a number >= 0", "'much'"]),
    ("early_stopping", ["--asha-grace", "5"], ["--asha-grace", "in (0, 1]", "got 5"]),
    ("early_stopping", ["--num-samples", "0"], ["--num-samples", "whole number >= 1"]),
    ("early_stopping", ["--steps", "0"], ["--steps", "whole number >= 1", "got 0"]),
    ("early_stopping", ["--grid-run", "/nonexistent"], ["/nonexistent", "not a run directory"]),
    ("overhead", ["--steps", "0"], ["--steps", "whole number >= 1"]),
    ("overhead", ["--extra", "--asha-grace", "3"], ["the overhead sweep", "--asha-grace must be a fraction"]),
    ("overhead", ["--extra", "--bogus"], ["the overhead sweep", "sweeps/run.py has no argument --bogus"]),
    ("overhead", ["--extra", "--scheduler", "asha"], ["--extra --scheduler asha", "--search grid --scheduler asha",
                                                      "measured on the grid with FIFO"]),
    ("large_sweep", ["--trials", "0,100"], ["--trials 0,100", "whole numbers >= 1", "e.g. 100,250,500"]),
    ("large_sweep", ["--trials", "many"], ["--trials many", "comma-separated whole numbers"]),
    ("large_sweep", ["--max-concurrent", "0"], ["--max-concurrent", "whole number >= 1", "got 0"]),
    ("large_sweep", ["--storage", "/nonexistent/x", "--trials", "2", "--extra"], ["unrecognized arguments: --extra"]),
    ("trial_cost", ["--repeats", "0"], ["--repeats", "whole number >= 1", "got 0"]),
    ("trial_cost", ["--run", "/nonexistent"], ["--run /nonexistent", "no trial folder with TensorBoard events",
                                              "overhead.py --storage"]),
    ("memory", ["--steps", "1"], ["--steps", "whole number >= 2", "got 1"]),
    ("memory", ["--concurrency", "0"], ["--concurrency", "whole number >= 1"]),
    ("memory", ["--train-tiles", "500"], ["500 tiles", "give only 80"]),
    ("memory", ["--sid-pairs", "1", "--sid-height", "101"], ["--sid-height", "even", "101x2128"]),
    ("model_cost", ["--threads", "0"], ["--threads", "whole number >= 1", "got 0"]),
    ("model_cost", ["--size", "100"], ["--size", "multiple of 256", "got 100"]),
    ("model_cost_lamba_vs_sid", ["--threads", "0"], ["--threads", "whole number >= 1"]),
    ("model_cost_lamba_vs_sid", ["--size", "abc"], ["--size", "HxW", "'abc'"]),
    ("model_cost_lamba_vs_sid", ["--size", "1024x"], ["--size", "expected HxW or one side", "got '1024x'"]),
    ("model_cost_lamba_vs_sid", ["--size", "1000"], ["--size", "multiples of 32; got '1000'"]),
    ("throughput", ["--threads", "0"], ["--threads", "whole number >= 1"]),
    ("throughput", ["--spaces", "nope"], ["unknown space 'nope'", "known:", "lsid_lr"]),
    ("step_options", ["--threads", "0"], ["--threads", "whole number >= 1"]),
    ("step_options", ["--rounds", "0"], ["--rounds", "whole number >= 1"]),
    ("step_options", ["--spaces", "lsid_lr", "nope"], ["unknown space 'nope'", "known:"]),
    ("step_options", ["--jsonl", "/nonexistent/rows.jsonl"], ["--jsonl", "folder does not exist"]),
    ("step_options", ["--spaces", "lsid_lr", "--jsonl", "tmp"], ["--jsonl tmp: is a folder", "e.g. tmp/rows.jsonl"]),
    ("sid_folder", ["out", "--pairs", "-1"], ["--pairs", "whole number >= 1", "got -1"]),
    ("sid_folder", ["out", "--height", "101"], ["--height", "even", "101"]),
    ("sid_folder", ["out", "--eval-width", "0"], ["--eval-width", "whole number >= 2"]),
    ("held_out", ["--space", "nope"], ["unknown space 'nope'", "known:", "lsid_lr"]),
    ("held_out", ["--row", "1e-9"], ["--row '1e-9' is not a row of space 'lsid_lr'", "its rows:"]),
    ("held_out", ["--steps", "0"], ["--steps", "whole number >= 1", "got 0"]),
    ("process_cpu", [], ["give the command to measure after --"]),
    ("process_cpu", ["--interval", "0", "--", "true"], ["--interval", "a number in (0, 10]", "got 0"]),
    ("process_cpu", ["--json", "/nonexistent/cpu.json", "--", "true"], ["--json /nonexistent/cpu.json",
                                                                        "folder does not exist"]),
    ("process_cpu", ["--", "/nonexistent/command"], ["cannot run '/nonexistent/command'"]),
    ("worker_start", ["--rounds", "0"], ["--rounds", "whole number >= 1", "got 0"]),
    ("worker_start", ["--trials", "1"], ["--trials", "whole number >= 2", "got 1"]),
    ("worker_start", ["--compare", "gpu"], ["--compare", "invalid choice: 'gpu'", "'dashboard', 'tune-env'"]),
    ("heap", ["--space", "nope"], ["unknown space 'nope'", "known:", "lsid_lr"]),
    ("heap", ["--steps", "0"], ["--steps", "whole number >= 1", "got 0"]),
    ("heap", ["--rounds", "0"], ["--rounds", "whole number >= 1", "got 0"]),
    ("slurm_wait", ["--rounds", "0"], ["--rounds", "whole number >= 1", "got 0"]),
    ("slurm_wait", ["--seconds", "3", "-1"], ["--seconds", "whole number >= 1", "got -1"]),
    ("gpu_check", ["--bogus"], ["unrecognized arguments: --bogus"]),
    ("gpu_check", ["--out", "/nonexistent"], ["--out", "not a folder"]),
    ("gpu_check", ["--checks", "speed"], ["--checks", "invalid choice: 'speed'", "'probe', 'packing'"]),
]
if not torch.cuda.is_available():
    BAD += [("step_options", ["--device", "cuda"], ["--device cuda", "CUDA GPU"]),
            ("gpu_check", [], ["no CUDA GPU"])]


@pytest.mark.parametrize(("name", "argv", "words"), BAD, ids=[f"{n} {' '.join(a)}" for n, a, _ in BAD])
def test_a_bad_argument_is_one_line_and_exit_code_2(name, argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # sid_folder's "out" would be written here, were it not refused
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where temporary storage would go
    line = refused(name, argv, capsys)
    for word in words:
        assert word in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"] and list(scratch.iterdir()) == []


def test_heap_refuses_an_environment_that_sets_the_heap_for_both_processes(capsys, monkeypatch):
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1048576")
    line = refused("heap", ["--rounds", "1"], capsys)
    assert "the environment sets glibc's malloc thresholds" in line and "unset them" in line


def test_asha_replay_refuses_a_run_made_with_asha(tmp_path, capsys):
    run = write_run(tmp_path / "asha-run", "asha", {"t0": [100, 200], "t1": [100]})
    line = refused("asha_replay", [str(run)], capsys)
    assert "--scheduler asha" in line and "needs a finished run with --scheduler fifo" in line


def test_asha_replay_refuses_a_fifo_run_whose_trials_did_not_all_finish(tmp_path, capsys):
    run = write_run(tmp_path / "fifo-run", "fifo", {"t0": [100, 200], "t1": [100], "t2": [100, 200]})
    line = refused("asha_replay", [str(run)], capsys)
    assert "1 trial(s) stopped before step 200 (t1)" in line and "every trial trained to the end" in line


def test_asha_replay_replays_the_finished_seeds_of_a_run_whose_later_seed_did_not_finish(tmp_path, capsys):
    run = write_run(tmp_path / "fifo-run", "fifo", {"t0": [100, 200], "t1": [100, 200], "t2": [100]}, seeds={"t2": 1})
    assert "1 trial(s) stopped before step 200 (t2)" in refused("asha_replay", [str(run)], capsys)
    code = benchmark("asha_replay").main([str(run), "--seeds", "1", "--grace", "0.5", "--reduction", "2",
                                          "--orders", "2"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert out.splitlines()[0] == f"{run}: 2 trials, 200 steps, metric val/psnr (max)"
    assert [line[:6] for line in out.splitlines()[-1:]] == ["| 0 | "]


def test_asha_replay_replays_a_finished_fifo_run(tmp_path, capsys):
    run = write_run(tmp_path / "fifo-run", "fifo", {f"t{i}": [100, 200] for i in range(3)})
    code = benchmark("asha_replay").main([str(run), "--grace", "0.5", "--reduction", "2", "--orders", "2"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert out.splitlines()[0] == f"{run}: 3 trials, 200 steps, metric val/psnr (max)"
    assert out.splitlines()[-1].startswith("| 0 | 100 | 2 |")


def test_early_stopping_refuses_a_grid_run_that_is_not_fifo_and_leaves_no_temporary_folder(tmp_path, capsys,
                                                                                         monkeypatch):
    run = write_run(tmp_path / "asha-run", "asha")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the benchmark's temporary storage goes
    line = refused("early_stopping", ["--grid-run", str(run)], capsys)
    assert "--search grid --scheduler asha" in line and "expected a finished run of lsid_lr" in line
    assert list(scratch.iterdir()) == []


def test_early_stopping_refuses_a_grid_run_made_with_other_steps_or_profile(tmp_path, capsys, monkeypatch):
    import search_spaces

    space = search_spaces.get_space("lsid_lr")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the benchmark's temporary storage goes
    short = write_run(tmp_path / "short", "fifo", base=space.base_config("quick", {"train.steps": 600,
                                                                                  "train.threads": 1}))
    line = refused("early_stopping", ["--grid-run", str(short)], capsys)
    assert line == (f"error: --grid-run {short} was made with train.steps 600 (here 1200); its steps and best value "
                    "are no reference for these sweeps: expected a FIFO grid run of lsid_lr with the quick profile "
                    "and the same --steps")
    smoke = write_run(tmp_path / "smoke", "fifo", base=space.base_config("smoke", {"train.threads": 1}),
                      profile="smoke")
    line = refused("early_stopping", ["--grid-run", str(smoke)], capsys)
    assert line.startswith(f"error: --grid-run {smoke} was made with profile smoke: data.n_test 2 (here not set); "
                           "data.n_train 2 (here 10); ")
    assert "; ...; its steps and best value are no reference" in line
    assert list(scratch.iterdir()) == []


def test_early_stopping_reuses_a_grid_run_made_with_the_same_settings(tmp_path):
    import search_spaces

    module = benchmark("early_stopping")
    base = search_spaces.get_space("lsid_lr").base_config("quick", {"train.steps": 600, "train.threads": 1})
    run = write_run(tmp_path / "grid", "fifo", {f"t{i}": [300, 600] for i in range(10)}, base=base)
    argv = module.sweep_argv("asha", ["--search", "grid", "--scheduler", "asha"],
                             ["train.threads=1", "train.steps=600"], str(tmp_path / "storage"))
    (plan,) = module.check_sweeps([("asha", argv)])
    row = module.reused_grid(str(run), 1, plan)
    assert row["trials"] == 10 and row["steps"] == 6000
    with pytest.raises(DataError, match=r"was made with train\.steps 600 \(here 1200\);"):
        module.reused_grid(str(run), 1, module.check_sweeps([("asha", argv[:-2])])[0])


def test_early_stopping_checks_every_setups_sweep_and_names_the_one_refused(tmp_path):
    from restore_core.errors import UserError

    module = benchmark("early_stopping")
    good = module.sweep_argv("grid FIFO", ["--search", "grid", "--scheduler", "fifo"], [], str(tmp_path))
    late = module.sweep_argv("late one", ["--search", "grid", "--scheduler", "asha", "--asha-grace", "5"], [],
                             str(tmp_path))
    module.check_sweeps([("grid FIFO", good)])
    with pytest.raises(UserError, match=r"^the late one sweep: --asha-grace must be .*\(0, 1\]; got 5$"):
        module.check_sweeps([("grid FIFO", good), ("late one", late)])
    assert list(tmp_path.iterdir()) == []  # checked, nothing written


def test_the_bare_loop_trains_the_configs_that_extra_gives_the_sweep(tmp_path):
    module = benchmark("overhead")
    args = module.build_parser().parse_args(["--steps", "3", "--extra", "--set", "train.batch_size=2", "--seeds", "1"])
    sweeps, configs = module.plan_paths(args, str(tmp_path))
    assert [name for _, name, _, _ in sweeps] == ["overhead"] and "train.batch_size=2" in sweeps[0][2]
    assert len(configs) == 10  # the grid's rows, one seed
    assert all(c["train"]["batch_size"] == 2 and c["train"]["steps"] == 3 for c in configs)
    assert list(tmp_path.iterdir()) == []  # checked, nothing written


def test_a_relative_storage_reaches_the_sweeps_as_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the sweeps run in the repository; the benchmark reads their runs from here
    given = []

    def work(storage: str) -> int:
        given.append(storage)
        return 0

    assert benchmark("sweep_runs").in_storage("runs/bench", "unused-", work) == 0
    assert given == [str(tmp_path / "runs" / "bench")]


def test_sid_folder_refuses_a_file_as_its_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    line = refused("sid_folder", [str(tmp_path / "file"), "--pairs", "1"], capsys)
    assert "is a file; expected a folder" in line


def test_step_options_refuses_a_jsonl_file_under_a_file_before_measuring(tmp_path, capsys):
    (tmp_path / "rows").write_text("kept\n")
    line = refused("step_options", ["--spaces", "lsid_lr", "--jsonl", str(tmp_path / "rows" / "x.jsonl")], capsys)
    assert line == (f"error: --jsonl {tmp_path / 'rows' / 'x.jsonl'}: '{tmp_path / 'rows'}' is a file, not a folder; "
                    "expected a file to append rows to, in an existing folder")
    assert (tmp_path / "rows").read_text() == "kept\n"


@pytest.mark.parametrize(("name", "argv"), [("gpu_check", ["--bogus"]), ("asha_replay", ["/nonexistent"])])
def test_the_script_itself_exits_with_code_2_and_one_line(forked_workers, name, argv):
    done = subprocess.run([*python_command(), os.path.join(ROOT, "benchmarks", f"{name}.py"), *argv],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("error: "), done.stderr


@pytest.mark.parametrize(("name", "run_name"), [("early_stopping", "grid-fifo"), ("overhead", "overhead")])
def test_a_kept_run_is_never_overwritten(name, run_name, tmp_path, capsys):
    (tmp_path / "lsid_lr" / run_name).mkdir(parents=True)
    line = refused(name, ["--storage", str(tmp_path), "--steps", "2"], capsys)
    assert f"{tmp_path / 'lsid_lr' / run_name} already exists; pass another --storage" in line


def test_every_benchmarks_help_names_its_defaults(capsys):
    """``--help`` keeps the docstring's lines and says each option's default, a list as it would be typed."""
    names = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "benchmarks")) if f.endswith(".py"))
    scripts = [name for name in names if hasattr(benchmark(name), "main")]  # not the modules they share
    assert len(scripts) >= 10
    for name in scripts:
        with pytest.raises(SystemExit) as exit_:
            benchmark(name).main(["--help"])
        assert exit_.value.code == 0
        text = capsys.readouterr().out
        assert text.count("(default") >= 1, name
        assert "['" not in text, name
    with pytest.raises(SystemExit):
        benchmark("early_stopping").main(["--help"])
    assert "(default: asha asha-\n" in capsys.readouterr().out  # argparse wraps the list; not "['asha', ...]"


@pytest.mark.parametrize("text", ["[]", "{\"model\": {}}", "[1, 2]", "[{\"model\"}"])
def test_the_bare_loop_refuses_configs_that_are_no_list_of_configs(text, tmp_path, capsys):
    (tmp_path / "c.json").write_text(text)
    line = refused("bare_loop", ["--configs", str(tmp_path / "c.json")], capsys)
    assert line.startswith(f"error: --configs {tmp_path / 'c.json'}: ") and "JSON list of trial configs" in line
