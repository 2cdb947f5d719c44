"""A search space of your own, swept by ``--space FILE.py:NAME`` (nothing to register: the sweep finds ``WIDTH`` in
this file, registers it under its name and records where it came from for --resume and python -m analysis).

    python sweeps/run.py --import examples/plugins/tiny_net.py --space examples/plugins/tiny_space.py:WIDTH

It sweeps the width of ``tiny_net`` (examples/plugins/tiny_net.py) on the low-light task's synthetic raw data, with
the L1 + Charbonnier loss and the MAE metric that file also registers.
"""

from search_spaces import Pair, Param, SearchSpace

BASE = {
    "task": {"name": "lowlight"},
    "data": {"source": "synthetic", "tile": 64, "patch": 32, "n_train": 4, "n_val": 2, "n_test": 2},
    "model": {"name": "tiny_net", "width": 8},
    "loss": {"l1": 1.0, "charbonnier": 0.5},
    "optim": {"lr": 1e-3},
    "train": {"steps": 60, "batch_size": 2, "eval_every": 20, "cost_size": 64, "extra_metrics": ["mae"]},
}

WIDTH = SearchSpace(
    name="tiny_width",
    description="tiny_net's hidden width on synthetic low-light raw (an example of a space of your own)",
    reproduces="nothing: an example",
    base=BASE,
    params=(Param("model.width", kind="int", grid=(4, 16), low=2, high=32, short="width"),),
    scientific=("model.width",),
    nuisance=("train.seed",),
    fixed=("data", "loss", "optim", "train.steps"),
    metric="val/psnr",
    mode="max",
    profiles={"smoke": {"train": {"steps": 4, "eval_every": 2, "batch_size": 1}}},
    pairs=(Pair("width=16", "width=4", kind="width"),),
    baseline="width=4",
)
