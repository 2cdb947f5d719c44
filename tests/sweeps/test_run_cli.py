"""Bad input to ``sweeps/run.py``, each through the real command line in its own process: one line on stderr that
names the problem and what is accepted, exit code 2, no traceback, and the disk left as it was (an existing run
directory untouched, no new one). Data errors come from the driver, before Ray starts.

The commands run in one fixture, each in a process forked from one that has imported the driver
(tests/sweeps/cli_forks.py), so that each pays neither Python's nor torch's start-up; one of them also runs in a
fresh interpreter, which must print the same."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import ROOT, free_port
from tests.sweeps.cli_forks import run_forked

DRIVER = os.path.join(ROOT, "tests", "sweeps", "spaces.py")  # sweeps/run.py plus the test spaces
SMOKE = ["--space", "lsid_lr", "--profile", "smoke"]


def sid(root: str) -> list[str]:
    return [*SMOKE, "--set", "data.source=sid", "--set", f"data.root={root}"]


CASES = {
    "unknown space": (["--space", "lsid_lrr"], "unknown space 'lsid_lrr' (did you mean 'lsid_lr'?); known: "),
    "unknown --set key": ([*SMOKE, "--set", "train.stepz=3"],
                          "unknown config key 'train.stepz'; known in 'train': amp, batch_size, "),
    "ill-typed --set": ([*SMOKE, "--set", "train.steps=many"], "config key 'train.steps' must be int, got 'many'"),
    "unknown model": ([*SMOKE, "--set", "model.name=sid_unt"],
                      "unknown model 'sid_unt' (did you mean 'sid_unet'?); known: "),
    "unknown loss": ([*SMOKE, "--set", "loss.l2=1"], "unknown loss term 'loss.l2'; known: l1, ms_ssim, mse, ssim"),
    "unknown search": ([*SMOKE, "--search", "bayes"],
                       "argument --search: invalid choice: 'bayes' (choose from 'grid', 'random', 'optuna', 'gp')"),
    "zero seeds": ([*SMOKE, "--seeds", "0"], "--seeds must be a whole number >= 1; got 0"),
    "gpus not a number": ([*SMOKE, "--gpus-per-trial", "half"],
                          "argument --gpus-per-trial: expected auto or a number >= 0 (0.25 packs four trials on one "
                          "GPU); got 'half'"),
    "negative samples": ([*SMOKE, "--search", "random", "--num-samples", "-3"],
                         "--num-samples must be a whole number >= 1; got -3"),
    "missing data folder": (sid("{tmp}/nowhere"), "SID data folder '{tmp}/nowhere' does not exist"),
    "empty data folder": (sid("{tmp}/empty"), "SID list file '{tmp}/empty/Sony_train_list.txt' is missing"),
    "unpaired raw files": (sid("{tmp}/unpaired"),
                           "{tmp}/unpaired/Sony_train_list.txt, line 1: file '{tmp}/unpaired/Sony/long/00001_00_10s"
                           ".ARW' does not exist"),
    "corrupt raw file": (sid("{tmp}/corrupt_raw"),
                         "cannot read raw file '{tmp}/corrupt_raw/Sony/short/00001_00_0.1s.ARW"),
    "unpaired image names": (["--space", "ops_desmoke", "--set", "data.root={tmp}/unpaired_png"],
                             "1 input image(s) in '{tmp}/unpaired_png' have no namesake in 'target/': c"),
    "corrupt image": (["--space", "ops_desmoke", "--set", "data.root={tmp}/corrupt_png"],
                      "image file '{tmp}/corrupt_png/input/b.png' is truncated (the PNG data stops before its IEND "
                      "chunk)"),
    "image smaller than the patch": (["--space", "ops_tcfl", "--set", "data.root={tmp}/small"],
                                     "in '{tmp}/small/noisy/scene1' is 16x16 (HxW), smaller than the patch 32"),
    "resume of a missing run": (["--resume", "--name", "nothing"], "--resume: no run named 'nothing' under {tmp}/runs"),
    "resume into another space": (["--resume", "--space", "ops_resume", "--name", "existing"],
                                  "--resume: run 'existing' belongs to space lsid_lr, not 'ops_resume'"),
    "resume with other settings": (["--resume", "--name", "existing", "--set", "train.steps=9"],
                                   "--resume continues run 'existing' with the settings it started with; --set "
                                   "differs"),
    "existing run directory": ([*SMOKE, "--name", "existing"], "run directory {tmp}/runs/lsid_lr/existing already "
                               "exists; pass --resume to continue it or another --name"),
    "unreachable cluster": ([*SMOKE, "--address", "127.0.0.1:1"], "cannot reach the Ray cluster at 127.0.0.1:1: "),
    "dashboard port in use": ([*SMOKE, "--dashboard-port", "{busy}"],
                              "port {busy} on 127.0.0.1 is in use (another Ray dashboard?); pass --dashboard-port"),
    "unwritable storage": ([*SMOKE, "--storage", "{tmp}/a-file/runs"],
                           "storage path {tmp}/a-file/runs is not writable: {tmp}/a-file is a file, not a folder"),
    # no folder can be made in /proc, not even by root, for whom os.access says yes to everything
    "storage that takes no folder": ([*SMOKE, "--storage", "/proc/runs"],
                                     "storage path /proc/runs is not writable: cannot create a folder in /proc ("),
}
if not torch.cuda.is_available():
    CASES["cuda without a GPU"] = ([*SMOKE, "--set", "train.device=cuda"],
                                   "train.device=cuda in the base config, but this machine has no GPU that torch can "
                                   "use; set train.device=auto (a GPU where there is one) or cpu, or pass --address")

# The same checks on the command line, run in this process (they fail before anything heavy happens).
IN_PROCESS = {
    "--set without =": ([*SMOKE, "--set", "train.steps"], "--set expects KEY=VALUE with a dotted config key"),
    "zero steps": ([*SMOKE, "--set", "train.steps=0"], "train.steps must be > 0; got 0"),
    "zero cpus": ([*SMOKE, "--cpus-per-trial", "0"], "--cpus-per-trial must be a number > 0; got 0"),
    "negative failures": ([*SMOKE, "--max-failures", "-1"], "--max-failures must be a whole number >= 0; got -1"),
    "zero timeout": ([*SMOKE, "--trial-timeout", "0"], "--trial-timeout must be a number of seconds > 0; got 0"),
    "negative gpus": ([*SMOKE, "--gpus-per-trial", "-1"], "--gpus-per-trial must be auto or a number >= 0"),
    "split gpus above one": ([*SMOKE, "--gpus-per-trial", "1.5"],
                             "--gpus-per-trial above 1 must be a whole number of GPUs"),
    "retry without resume": ([*SMOKE, "--retry-failed"], "--retry-failed only applies with --resume"),
    "name with a slash": ([*SMOKE, "--name", "a/b"], "--name must be a plain folder name without '/'; got 'a/b'"),
    "no space": (["--profile", "smoke"], "--space is required; known: "),
    "section replaced by a number": ([*SMOKE, "--set", "train=5"], "config section 'train' must be a mapping, got 5"),
}


def _png(path: Path, side: int, value: int = 128) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((side, side, 3), value, np.uint8))


def _make_data(tmp: Path) -> None:
    (tmp / "empty").mkdir()
    for name in ("unpaired", "corrupt_raw"):
        (tmp / name / "Sony" / "short").mkdir(parents=True)
        (tmp / name / "Sony" / "long").mkdir()
        for split, scene in (("train", "00001"), ("val", "20001"), ("test", "10001")):  # SID's lists share no scene
            line = f"./Sony/short/{scene}_00_0.1s.ARW ./Sony/long/{scene}_00_10s.ARW ISO200 F8\n"
            (tmp / name / f"Sony_{split}_list.txt").write_text(line)
            (tmp / name / "Sony" / "short" / f"{scene}_00_0.1s.ARW").write_bytes(b"not a raw file" * 10)
            if name == "corrupt_raw":
                (tmp / name / "Sony" / "long" / f"{scene}_00_10s.ARW").write_bytes(b"\x00" * 100)
    for stem in ("a", "b", "c"):
        _png(tmp / "unpaired_png" / "input" / f"{stem}.png", 8)
        _png(tmp / "corrupt_png" / "input" / f"{stem}.png", 8)
        _png(tmp / "corrupt_png" / "target" / f"{stem}.png", 8)
    for stem in ("a", "b", "d"):
        _png(tmp / "unpaired_png" / "target" / f"{stem}.png", 8)
    (tmp / "corrupt_png" / "input" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    for path in ("noisy/scene1/1.png", "noisy/scene1/2.png", "clean/1.png", "val/noisy/a.png", "val/noisy/b.png",
                 "val/clean/a.png", "val/clean/b.png"):
        _png(tmp / "small" / path, 16)
    (tmp / "a-file").write_text("a file where a folder should be")
    existing = tmp / "runs" / "lsid_lr" / "existing"
    existing.mkdir(parents=True)
    manifest = {"space": "lsid_lr", "options": {"space": "lsid_lr", "profile": "smoke", "sets": {}}}
    (existing / "manifest.json").write_text(json.dumps(manifest))
    (existing / "results.csv").write_text("trial_id,status\nx,completed\n")


def _snapshot(tmp: Path) -> dict[str, str]:
    return {str(p.relative_to(tmp)): hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(tmp.rglob("*"))}


def _fill(text: str, tmp: Path, busy: int) -> str:
    return text.replace("{tmp}", str(tmp)).replace("{busy}", str(busy))


FRESH = "unknown space"  # the case also run in a fresh interpreter: the forked runs must print what it prints


def _command(args: list[str], tmp: Path, busy: int) -> list[str]:
    args = [_fill(a, tmp, busy) for a in args]
    return args if "--storage" in args else [*args, "--storage", str(tmp / "runs")]


def _run(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, DRIVER, *args], cwd=tmp, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "RAY_ADDRESS": ""})


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad-input")
    out = tmp_path_factory.mktemp("bad-input-outputs")
    _make_data(tmp)
    before = _snapshot(tmp)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))  # a port something listens on, for the dashboard
        busy.listen()
        port = busy.getsockname()[1]
        commands = {name: _command(args, tmp, port) for name, (args, _) in CASES.items()}
        results = run_forked(DRIVER, commands, str(tmp), str(out), env={**os.environ, "RAY_ADDRESS": ""})
        fresh = _run(commands[FRESH], tmp)
    return tmp, port, before, _snapshot(tmp), results, fresh


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_with_exit_code_2(cli_results, case):
    tmp, port, _, _, results, _ = cli_results
    proc = results[case]
    expected = _fill(CASES[case][1], tmp, port)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-2000:]
    assert proc.stderr.startswith("error: ") and expected in proc.stderr
    assert "Ray dashboard" not in proc.stdout  # it failed before Ray started


def test_bad_input_leaves_the_disk_as_it_was(cli_results):
    _, _, before, after, _, _ = cli_results
    assert after == before


def test_a_fresh_interpreter_prints_what_the_forked_one_prints(cli_results):
    _, _, _, _, results, fresh = cli_results
    forked = results[FRESH]
    assert (fresh.returncode, fresh.stdout, fresh.stderr) == (forked.returncode, forked.stdout, forked.stderr)
    assert fresh.returncode == 2 and fresh.stderr.startswith("error: unknown space 'lsid_lrr'")


@pytest.mark.parametrize("case", list(IN_PROCESS))
def test_bad_options_in_process(case, tmp_path, capsys):
    from sweeps.run import main

    args, expected = IN_PROCESS[case]
    assert main([*args, "--storage", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


# --dry-run makes every check of the real run that reads no data and starts nothing, and writes nothing.
DRY_RUN = [
    pytest.param([*SMOKE, "--name", "existing"],
                 "run directory {tmp}/lsid_lr/existing already exists; pass --resume to continue it",
                 id="existing run directory"),
    pytest.param([*SMOKE, "--name", "x", "--storage", "/proc/runs"],
                 "storage path /proc/runs is not writable: cannot create a folder in /proc (",
                 id="storage that takes no folder"),
    pytest.param(["--resume", "--name", "nothing"], "--resume: no run named 'nothing' under {tmp}; ",
                 id="resume of a missing run"),
    pytest.param(["--resume", "--space", "lsid_lr", "--name", "nothing"],
                 "--resume: no run 'nothing' of space 'lsid_lr' under {tmp}/lsid_lr", id="resume of a missing run "
                 "of a space"),
    pytest.param([*SMOKE, "--set", "train.device=cuda"],
                 "train.device=cuda in the base config, but this machine has no GPU", id="cuda without a GPU",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")),
    pytest.param(sid("{tmp}/nowhere"), "SID data folder '{tmp}/nowhere' does not exist", id="missing SID folder"),
    pytest.param(["--space", "desmoke_dark_channel", "--profile", "smoke", "--set", "data.source=folders", "--set",
                  "data.root={tmp}/nowhere"], "data folder '{tmp}/nowhere' does not exist; expected 'input/' and "
                 "'target/' inside", id="missing desmoke folder"),
    pytest.param(["--space", "tcfl_tv_sigma", "--profile", "smoke", "--set", "data.source=folders", "--set",
                  "data.root={tmp}"], "data folder '{tmp}/noisy' does not exist; expected noisy/<scene>/", id="TCFL "
                 "folder without noisy/"),
    pytest.param(["--space", "unet_perceptual", "--profile", "smoke", "--set", "data.source=folders", "--set",
                  "data.root={tmp}"], "class 'normal' folder '{tmp}/normal' does not exist", id="anomaly folder "
                 "without normal/"),
]


@pytest.mark.parametrize("args, expected", DRY_RUN)
def test_the_dry_run_refuses_what_the_run_refuses(args, expected, tmp_path, monkeypatch, capsys):
    from sweeps.run import main

    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # the checks of a local Ray
    (tmp_path / "lsid_lr" / "existing").mkdir(parents=True)
    (tmp_path / "lsid_lr" / "existing" / "manifest.json").write_text("{}")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    storage = [] if "--storage" in args else ["--storage", str(tmp_path)]
    assert main([*args, *storage, "--dashboard-port", str(free_port()), "--dry-run"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: " + expected.replace("{tmp}", str(tmp_path)))
    assert len(captured.err.strip().splitlines()) == 1 and captured.out == ""
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_a_dry_run_writes_nothing(tmp_path, capsys):
    from sweeps.run import main

    storage = tmp_path / "runs"
    assert main([*SMOKE, "--storage", str(storage), "--dashboard-port", str(free_port()), "--dry-run"]) == 0
    assert "\n10 trials:\n" in capsys.readouterr().out
    assert os.listdir(tmp_path) == []  # the storage was probed, and the probe removed
