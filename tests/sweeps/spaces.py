"""Small search spaces for the operations tests: smoke-sized low-light trials whose rows inject faults, run
slowly or quickly. Run as a script, it registers them and runs ``sweeps/run.py`` with the given arguments (a real
driver process that a test can kill)."""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from restore_core.config import deep_merge  # noqa: E402
from search_spaces import SPACES, Param, Row, SearchSpace, lsid_lr, register_space  # noqa: E402

BASE = deep_merge(deep_merge(lsid_lr.BASE, lsid_lr.SMOKE),
                  {"train": {"threads": 1, "cost_size": 32, "fault": "none", "fault_step": 0}})
# width 0.5 at 32x32: about 25 ms a step on one thread, so 120 steps take seconds and report ten times
SLOW = {"model": {"width": 0.5}, "train": {"steps": 120, "eval_every": 12}}
# the fault sweep's slow trial, killed once it has reported step 12: half as long, so that its retry's 48 steps stay
# well inside the sweep's --trial-timeout (tests/sweeps/conftest.py)
FAULT_SLOW = deep_merge(SLOW, {"train": {"steps": 60}})


def fault(kind: str, step: int) -> dict:
    return {"train": {"fault": kind, "fault_step": step}}


FAULTS = SearchSpace(
    name="ops_faults",
    description="operations test: one trial per injected fault, a slow one and a healthy one",
    reproduces="nothing (tests of the sweep platform)",
    base=BASE,
    rows=(
        Row("hang", fault("hang", 3)),
        Row("slow", FAULT_SLOW),
        Row("raise", fault("raise", 3)),
        Row("oom", fault("oom", 3)),
        Row("nan", fault("nan", 1)),
        Row("collapse", fault("collapse", 1)),
        Row("ok", {}),
    ),
    search="grid",
    scheduler="fifo",
)

RESUME = SearchSpace(
    name="ops_resume",
    description="operations test: two quick trials, then a slow one",
    reproduces="nothing (tests of the sweep platform)",
    base=BASE,
    rows=(Row("quick-a", {}), Row("quick-b", {}), Row("slow", SLOW)),
    search="grid",
    scheduler="fifo",
)

# 48 steps in six reports, a few seconds a trial: long enough that a node dies while a trial trains on it
STEADY = {"model": {"width": 0.5}, "train": {"steps": 48, "eval_every": 8}}
NODES = SearchSpace(
    name="ops_nodes",
    description="operations test: four steady trials for a cluster of two nodes, one of which dies",
    reproduces="nothing (tests of the sweep platform)",
    base=BASE,
    rows=tuple(Row(f"n{i}", STEADY) for i in range(1, 5)),
    search="grid",
    scheduler="fifo",
)

# the smallest trials that still have checkpoints to lose: 12 steps, a checkpoint at every second one
CRASH = SearchSpace(
    name="ops_crash",
    description="operations test: four short trials with six checkpoints each, for a driver killed again and again",
    reproduces="nothing (tests of the sweep platform)",
    base=deep_merge(BASE, {"train": {"steps": 12, "eval_every": 2}}),
    rows=tuple(Row(f"c{i}", {"optim": {"lr": 10.0 ** -i}}) for i in range(2, 6)),
    search="grid",
    scheduler="fifo",
)

# a trial whose best validation evaluation is at step 12 and whose last is far below it: its weights start over at
# step 13 (train.fault=degrade) and 24 steps do not bring it back (about 11.9 dB at step 12, 8.8 at step 24)
PEAK = SearchSpace(
    name="ops_peak",
    description="operations test: one trial that peaks at step 12 and falls, for a driver or worker killed after",
    reproduces="nothing (tests of the sweep platform)",
    base=deep_merge(BASE, {"optim": {"lr": 1e-2, "milestones": []},
                           "train": {"steps": 24, "eval_every": 2, **fault("degrade", 13)["train"]}}),
    rows=(Row("peak", {}),),
    search="grid",
    scheduler="fifo",
)
PEAK_STEP, FAULT_STEP = 12, 13


# Two widths of the network (so its parameters and MACs differ) and a learning rate: configurations that trade PSNR
# for cost, for the multi-objective sweeps (--objective val/psnr:max --objective cost/params:min)
PARETO = SearchSpace(
    name="ops_pareto",
    description="operations test: network width and learning rate, for PSNR against cost",
    reproduces="nothing (tests of the sweep platform)",
    base=deep_merge(BASE, {"train": {"steps": 4, "eval_every": 2}}),
    params=(Param("model.width", kind="choice", choices=(0.125, 0.25), grid=(0.125, 0.25), short="width"),
            Param("optim.lr", kind="loguniform", low=1e-4, high=1e-2, grid=(1e-3,), short="lr")),
    scientific=("model.width",),
    search="optuna",
    scheduler="fifo",
)


# Spaces over users' image folders, for the data errors of the command line (they never train).
DESMOKE_FOLDERS = SearchSpace(
    name="ops_desmoke",
    description="operations test: desmoking pairs from a folder",
    reproduces="nothing (tests of the sweep platform)",
    base={"task": {"name": "desmoke"}, "data": {"source": "folders", "root": "/data/smoke", "tile": 256, "n_val": 2},
          "model": {"name": "pix2pix_unet"}, "loss": {}, "train": {"steps": 2, "eval_every": 1}},
)
TCFL_FOLDERS = SearchSpace(
    name="ops_tcfl",
    description="operations test: OCT triplets from a folder",
    reproduces="nothing (tests of the sweep platform)",
    base={"task": {"name": "tcfl"}, "data": {"source": "folders", "root": "/data/oct", "patch": 32},
          "model": {"name": "dncnn"}, "loss": {}, "train": {"steps": 2, "eval_every": 1}},
)


def register() -> None:
    for space in (FAULTS, RESUME, NODES, CRASH, PEAK, PARETO, DESMOKE_FOLDERS, TCFL_FOLDERS):
        if space.name not in SPACES:
            register_space(space)


if __name__ == "__main__":
    register()
    from sweeps.run import main

    sys.exit(main(sys.argv[1:], own_process=True))  # as sweeps/run.py's own __main__ runs it
