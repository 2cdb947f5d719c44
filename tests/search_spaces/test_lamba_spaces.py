"""The lamba_loss and lamba_rdb spaces: the study's rows, valid configs for every row and profile, the declared
pairs, Lamba's recipe in the paper profile, and a smoke sweep through Ray Tune."""

import numpy as np
import pytest

from analysis import load_run
from restore_core import train
from restore_core.cost import count_parameters
from restore_core.models import create_model
from restore_core.schema import validate_config
from search_spaces import get_space
from sweeps.driver.domains import sampled_param_space
from sweeps.run import main

LOSS = get_space("lamba_loss")
RDB = get_space("lamba_rdb")
OFFICIAL = "L1 + 0.2·(1−MS-SSIM)"


def configs(space, profile: str, tmp_path) -> dict[str, dict]:
    overrides = {"data.root": str(tmp_path)} if profile in ("paper", "reproduction") else {}  # real SID data
    base = space.base_config(profile, overrides)
    return {space.label(trial): space.resolve(base, trial) for trial in space.grid_trials(seeds=1)}


def test_loss_rows_are_the_five_losses_of_the_study(tmp_path):
    losses = {label: config["loss"] for label, config in configs(LOSS, "quick", tmp_path).items()}
    assert losses == {
        "L1": {"l1": 1.0, "ssim": 0.0, "ms_ssim": 0.0},
        "1−SSIM": {"l1": 0.0, "ssim": 1.0, "ms_ssim": 0.0},
        "1−MS-SSIM": {"l1": 0.0, "ssim": 0.0, "ms_ssim": 1.0},
        OFFICIAL: {"l1": 1.0, "ssim": 0.0, "ms_ssim": 0.2},
        "0.8·L1 + 0.2·(1−MS-SSIM)": {"l1": 0.8, "ssim": 0.0, "ms_ssim": 0.2},
    }
    assert LOSS.baseline == OFFICIAL and LOSS.base["loss"] == losses[OFFICIAL]
    assert [p.label for p in LOSS.pairs] == [f"{row} − {OFFICIAL}" for row in losses if row != OFFICIAL]


def test_rdb_rows_are_both_block_kinds_times_two_three_four_blocks(tmp_path):
    models = {label: config["model"] for label, config in configs(RDB, "quick", tmp_path).items()}
    assert models == {
        f"{n} × {name}": {"name": "lamba_rt", "rdb": kind, "n_rdb": n}
        for kind, name in (("star", "RDB*"), ("plain", "plain RDB")) for n in (3, 2, 4)
    }
    assert RDB.baseline == "3 × RDB*" and count_parameters(create_model(**models["3 × RDB*"])) == 784_768
    # Both kinds have the same parameters; the blocks change the count.
    params = {label: count_parameters(create_model(**model)) for label, model in models.items()}
    assert params["3 × plain RDB"] == params["3 × RDB*"] and params["2 × RDB*"] < 784_768 < params["4 × RDB*"]
    assert {(p.a, p.b) for p in RDB.pairs} >= {("3 × RDB*", "3 × plain RDB"), ("2 × RDB*", "3 × RDB*"),
                                              ("4 × RDB*", "3 × RDB*")}
    assert RDB.base["loss"] == LOSS.base["loss"] == {"l1": 1.0, "ssim": 0.0, "ms_ssim": 0.2}  # the official loss


@pytest.mark.parametrize("space", [LOSS, RDB], ids=lambda s: s.name)
@pytest.mark.parametrize("profile", ["smoke", "quick", "paper", "reproduction"])
def test_every_row_of_every_profile_is_a_valid_config(space, profile, tmp_path):
    resolved = configs(space, profile, tmp_path)
    assert len(resolved) == len(space.rows)
    for label, config in resolved.items():
        cfg = validate_config(config)
        assert cfg.task.input == "bayer" and cfg.model["name"] == "lamba_rt"
        assert cfg.data.patch >= 161 and cfg.data.patch % 32 == 0, label  # MS-SSIM's five scales, lamba's 32
    assert set(space.reported) <= set(resolved) and space.baseline in resolved
    assert all(pair.a in resolved and pair.b in resolved for pair in space.pairs)


def test_paper_profile_is_lambas_recipe(tmp_path):
    cfg = validate_config(configs(LOSS, "paper", tmp_path)[OFFICIAL])
    assert (cfg.optim.lr, cfg.optim.milestones, cfg.optim.gamma) == (1e-4, [0.5], 0.1)
    assert (cfg.train.batch_size, cfg.train.steps, cfg.data.patch) == (8, 1_000_000, 512)
    assert cfg.data.source == "sid"  # train, val and test lists: the published numbers are test-set numbers
    assert LOSS.reported[OFFICIAL] == {"val/psnr": 28.66, "val/ssim": 0.790}


def test_reproduction_profile_is_the_reproductions_recipe(tmp_path):
    """500k iterations with the rate stepped at 250k, the first 557 training and 294 test pairs, run_test's metrics."""
    for space in (LOSS, RDB):
        cfg = validate_config(configs(space, "reproduction", tmp_path)[space.baseline])
        assert (cfg.train.steps, cfg.optim.milestones, cfg.optim.gamma, cfg.optim.lr) == (500_000, [0.5], 0.1, 1e-4)
        assert (cfg.data.max_pairs, cfg.data.max_test_pairs) == (557, 294)  # the first 294 pairs of the test list
        assert cfg.task.metric_convention == "skimage_uint8"
        assert (cfg.data.n_train, cfg.data.n_val, cfg.data.n_test) == (None, None, None)


def test_continuous_forms():
    assert set(sampled_param_space(LOSS)) == {"loss.ms_ssim"}
    trial = {"loss.ms_ssim": 0.35, "__trial_index__": 1}
    config = LOSS.resolve(LOSS.base_config("smoke"), trial)
    assert config["loss"] == {"l1": 1.0, "ssim": 0.0, "ms_ssim": 0.35} and config["train"]["seed"] == 1
    assert LOSS.label(trial) == "w_ms_ssim=0.35"
    assert set(sampled_param_space(RDB)) == {"row"}  # the six variants as a categorical


SMOKE_KEYS = ("train/loss", "train/loss_ms_ssim", "val/psnr", "val/ssim")


@pytest.fixture(scope="module")
def loss_run(ray_session, tmp_path_factory):
    """The lamba_loss smoke grid swept once through Ray Tune (5 trials); the tests below assert on its trials."""
    storage = tmp_path_factory.mktemp("lamba")
    assert main(["--space", "lamba_loss", "--profile", "smoke", "--storage", str(storage), "--name", "grid",
                 "--verbose", "0"]) == 0
    return load_run(str(storage / "lamba_loss" / "grid"))


def test_smoke_trial_of_the_rdb_baseline_trains():
    result = train(RDB.resolve(RDB.base_config("smoke"), {"row": RDB.baseline, "seed": 0}))
    assert result.stop_reason == "completed" and result.metrics["step"] == 2
    assert all(np.isfinite(result.metrics[k]) for k in SMOKE_KEYS)


def test_smoke_trial_of_the_loss_baseline_trains(loss_run):
    """lamba_loss's baseline row, seed 0, as the sweep trained it: to the end, its losses and metrics finite."""
    trial = loss_run[loss_run["label"] == LOSS.baseline]
    assert len(trial) == 1 and trial.iloc[0]["seed"] == 0
    trial = trial.iloc[0]
    assert trial["status"] == "completed" and trial["reason"] == "trained to the end" and trial["last/step"] == 2
    assert all(np.isfinite(trial[f"last/{k}"]) for k in SMOKE_KEYS)


def test_loss_sweep_end_to_end(loss_run):
    frame = loss_run
    assert len(frame) == 5 and set(frame["label"]) == {row.label for row in LOSS.rows}
    assert (frame["status"] == "completed").all() and (frame["best/val/psnr"] > 0).all()
    assert (frame["last/cost/params"] == 784_768).all()
