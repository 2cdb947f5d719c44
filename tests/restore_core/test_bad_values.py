"""Bad values in a config fail validation with one line that names the key and the accepted values: model options,
non-finite or out-of-range numbers, sizes the model cannot take, an empty loss, a data root that nothing reads, and
``--set`` keys that every trial of the space sets again. Nothing here trains."""

from __future__ import annotations

import dataclasses
import math
import types
import typing

import pytest

from restore_core.config import set_path
from restore_core.errors import ConfigError
from restore_core.models import MODELS, create_model, list_models, model_options
from restore_core.schema import OptimConfig, TrainConfig, validate_config
from restore_core.tasks import get_task, list_tasks
from search_spaces import get_space
from sweeps.run import main

# A cheap space per task, and its smoke-profile base config.
SPACE_OF_TASK = {"lowlight": "lsid_lr", "desmoke": "desmoke_dark_channel", "tcfl": "tcfl_tv_sigma",
                 "anomaly": "unet_perceptual"}


def smoke(space: str) -> dict:
    return get_space(space).base_config("smoke")


def fails_with(config: dict, message: str) -> str:
    """Validate ``config``; it must raise :class:`ConfigError` with one line that starts with ``message``."""
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    text = str(error.value)
    assert text.startswith(message), text
    assert "\n" not in text
    return text


def cli_error(capsys, *args: str) -> str:
    """Run ``sweeps/run.py`` in this process with ``--dry-run``; it must exit 2 with one ``error:`` line."""
    assert main([*args, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err[len("error: "):-1]


# -- 1) model option values ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "space, key, value, message",
    [
        ("lsid_lr", "model.width", -1, "model.width must be a finite number > 0 for model 'sid_unet'; got -1"),
        ("lsid_lr", "model.width", math.nan, "model.width must be a finite number > 0 for model 'sid_unet'; got nan"),
        ("lsid_lr", "model.width", "abc", "config key 'model.width' must be float, got 'abc'"),
        ("lsid_lr", "model.levels", [9],
         "model.levels must be distinct values from 1, 2, 3, 4 for model 'sid_unet'; got [9]"),
        ("lsid_lr", "model.convs_per_block", 4, "model.convs_per_block must be 1, 2 or 3 for model 'sid_unet'; got 4"),
        ("lamba_loss", "model.n_rdb", 0, "model.n_rdb must be one of 2, 3, 4 for model 'lamba_rt'; got 0"),
        ("lamba_loss", "model.n_rdb", "two", "config key 'model.n_rdb' must be int, got 'two'"),
        ("lamba_loss", "model.rdb", "nope", "model.rdb must be one of star, plain for model 'lamba_rt'; got 'nope'"),
        ("desmoke_dark_channel", "model.ngf", 0, "model.ngf must be >= 1 for model 'pix2pix_unet'; got 0"),
        ("desmoke_dark_channel", "model.variant", "nope",
         "model.variant must be one of full, small for model 'pix2pix_unet'; got 'nope'"),
        ("desmoke_dark_channel", "model.init", "nope",
         "model.init must be one of normal, xavier for model 'pix2pix_unet'; got 'nope'"),
        ("desmoke_dark_channel", "model.dropout", 1.5,
         "model.dropout must be in [0, 1) (0 switches the dropouts off) for model 'pix2pix_unet'; got 1.5"),
        ("tcfl_tv_sigma", "model.depth", 0, "model.depth must be >= 2 (at least 2 convs) for model 'dncnn'; got 0"),
        ("tcfl_tv_sigma", "task.discriminator.ndf", 0,
         "task.discriminator.ndf must be >= 1 for model 'patchgan_in'; got 0"),
        ("tcfl_tv_sigma", "task.discriminator.ndf", "wide", "config key 'task.discriminator.ndf' must be int"),
        ("tcfl_tv_sigma", "task.discriminator.depth", 3, "unknown option 'task.discriminator.depth' for model "
                                                         "'patchgan_in'; known: in_channels, ndf, init"),
        ("unet_perceptual", "model.depth", 0, "model.depth must be >= 1 for model 'unet'; got 0"),
    ],
)
def test_bad_model_options_name_the_key(space, key, value, message):
    fails_with(set_path(smoke(space), key, value), message)


def _bad_values(hint) -> list:
    """Values of the right type that no model takes for an option of type ``hint`` (a string for the wrong type)."""
    if hint is bool:
        return ["yes"]
    if hint is int:
        return [-1, "abc"]
    if hint is float:
        return [math.nan, math.inf, -1.0, "abc"]
    if hint is str:
        return ["nope", 5]
    if typing.get_origin(hint) is list:
        return [[-1], ["a"]]
    raise AssertionError(f"no bad values for options of type {hint}")


@pytest.mark.parametrize(
    "name, option, value",
    [(name, option, value) for name in list_models() for option in model_options(name)
     for value in _bad_values(typing.get_type_hints(MODELS.get(name))[option])],
)
def test_every_model_option_refuses_a_bad_value_naming_it(name, option, value):
    with pytest.raises(ConfigError) as error:
        create_model(name, **{option: value})
    assert f"model.{option}" in str(error.value) and "\n" not in str(error.value)


def test_a_bad_model_option_stops_the_cli_with_one_line(capsys):
    message = cli_error(capsys, "--space", "lsid_lr", "--profile", "smoke", "--set", "model.width=-1")
    assert message == "model.width must be a finite number > 0 for model 'sid_unet'; got -1"


# -- 2) every float is finite, every number in its range ----------------------------------------------------------

def _float_fields(section: str, cls: type) -> list[tuple[str, object]]:
    """``(dotted key, bad value)`` for every float field of a config dataclass (NaN and infinity each)."""
    out = []
    for f in dataclasses.fields(cls):
        hint = typing.get_type_hints(cls)[f.name]
        options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        for option in options:
            for bad in (math.nan, math.inf):
                if option is float:
                    out.append((f"{section}.{f.name}", bad))
                elif typing.get_origin(option) is list and typing.get_args(option) == (float,):
                    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else []
                    out.append((f"{section}.{f.name}", [bad, *default[1:]] if default else [bad]))
    return out


FLOAT_FIELDS = [("lsid_lr", key, bad) for key, bad in _float_fields("optim", OptimConfig) + _float_fields(
    "train", TrainConfig)] + [
    (SPACE_OF_TASK[task], key, bad)
    for task in list_tasks()
    for section, cls in (("task", get_task(task).Options), ("data", get_task(task).DataOptions))
    for key, bad in _float_fields(section, cls)
]


def test_the_float_fields_are_all_covered():
    keys = {key for _, key, _ in FLOAT_FIELDS}
    assert {"optim.lr", "optim.lr_d", "optim.betas", "optim.gamma", "optim.weight_decay", "optim.milestones",
            "optim.decay_start", "train.collapse_tolerance", "data.ratio_min", "data.gain", "data.read_noise",
            "data.speckle", "task.lambda_l1", "task.clip", "task.augment_share", "data.spill_size"} <= keys
    assert set(SPACE_OF_TASK) == set(list_tasks())


@pytest.mark.parametrize("space, key, value", FLOAT_FIELDS)
def test_no_float_in_the_config_may_be_nan_or_infinite(space, key, value):
    text = fails_with(set_path(smoke(space), key, value), key)
    assert text.endswith(("nan", "inf", "nan]", "inf]")) or "; got [nan" in text or "; got [inf" in text, text


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("optim.lr", math.nan, "optim.lr must be a finite number > 0; got nan"),
        ("optim.lr", math.inf, "optim.lr must be a finite number > 0; got inf"),
        ("optim.lr_d", -1, "optim.lr_d must be a finite number > 0 (or null: the rate of optim.lr); got -1.0"),
        ("optim.gamma", -1, "optim.gamma must be a finite number > 0 (the factor of the rate at each milestone); "
                            "got -1.0"),
        ("optim.weight_decay", -1, "optim.weight_decay must be a finite number >= 0; got -1.0"),
        ("optim.decay_start", math.nan, "optim.decay_start must be in [0, 1); got nan"),
        ("loss.l1", math.nan, "loss weight 'loss.l1' must be a finite number >= 0, got nan"),
        ("loss.l1", math.inf, "loss weight 'loss.l1' must be a finite number >= 0, got inf"),
        ("train.fault_step", -3, "train.fault_step must be >= 0; got -3"),
        ("train.seed", -1, "train.seed must be >= 0; got -1"),
        ("train.collapse_tolerance", -1, "train.collapse_tolerance must be in [0, 1) (a fraction of the targets' "
                                         "spread; 0 switches collapse stopping off); got -1.0"),
        ("train.threads", 0, "train.threads must be > 0 (or null: torch's default); got 0"),
        ("data.patch", -64, "data.patch must be > 0; got -64"),
        ("data.seed", -1, "data.seed must be >= 0; got -1"),
        ("data.ratio_max", math.inf, "data.ratio_max must be a finite number >= 100 (data.ratio_min); got inf"),
        ("data.gain", 0, "data.gain must be a finite number > 0 (sensor counts per photo-electron); got 0.0"),
    ],
)
def test_numbers_out_of_range_state_the_range(key, value, message):
    fails_with(set_path(smoke("lsid_lr"), key, value), message)


def test_negative_numbers_of_the_other_tasks():
    fails_with(set_path(smoke("tcfl_tv_sigma"), "loss.separation", -1),
               "loss weight 'loss.separation' must be a finite number >= 0")
    fails_with(set_path(smoke("tcfl_tv_sigma"), "data.gaussian", -0.1), "data.gaussian must be a finite number >= 0")
    fails_with(set_path(smoke("desmoke_dark_channel"), "task.lambda_l1", -1), "task.lambda_l1 must be a finite "
                                                                              "number >= 0")
    fails_with(set_path(smoke("unet_perceptual"), "data.spill_size", [0.1, 2.0]), "data.spill_size must be [low, "
                                                                                   "high] with 0 < low <= high <= 1")


def test_a_nan_stops_the_cli_with_one_line(capsys):
    # lamba_loss's rows set the loss weights but not the rate, so the rate given here is the one that would run
    assert cli_error(capsys, "--space", "lamba_loss", "--profile", "smoke", "--set", "optim.lr=NaN") == (
        "optim.lr must be a finite number > 0; got nan")
    assert cli_error(capsys, "--space", "lsid_lr", "--profile", "smoke", "--set", "train.collapse_tolerance=-1") == (
        "train.collapse_tolerance must be in [0, 1) (a fraction of the targets' spread; 0 switches collapse stopping "
        "off); got -1.0")


# -- 3) the discriminator's rate names itself ----------------------------------------------------------------------

def test_a_bad_discriminator_rate_names_lr_d_and_its_value(capsys):
    message = cli_error(capsys, "--space", "lsid_lr", "--profile", "smoke", "--set", "optim.lr_d=-1")
    assert message.startswith("optim.lr_d must be a finite number > 0") and message.endswith("got -1.0")


# -- 4) what every trial would fail on fails at validation ----------------------------------------------------------

@pytest.mark.parametrize(
    "space, size, message",
    [
        ("lsid_lr", 7, "train.cost_size (7) must be a multiple of 32 for model 'sid_unet'"),
        ("lamba_loss", 48, "train.cost_size (48) must be a multiple of 32 for model 'lamba_rt'"),
        ("unet_perceptual", 30, "train.cost_size (30) must be a multiple of 4 for model 'unet'"),
        ("desmoke_dark_channel", 64, "train.cost_size (64) must be a multiple of 256 for model 'pix2pix_unet'"),
    ],
)
def test_a_cost_size_the_model_cannot_take(space, size, message):
    fails_with(set_path(smoke(space), "train.cost_size", size), message)


def test_tasks_that_train_on_the_loss_section_need_a_term():
    for space, terms in (("lsid_lr", "l1, ms_ssim, mse, ssim"), ("unet_perceptual", "l1, mse, perceptual")):
        message = f"the loss needs a term with a weight > 0 (known: {terms}); got loss"
        zero = {term: 0 for term in smoke(space)["loss"]}
        fails_with({**smoke(space), "loss": zero}, f"{message} {zero}")
        fails_with({**smoke(space), "loss": {}}, f"{message} {{}}")
    # the GAN tasks train with losses of their own: desmoking takes no loss terms, TCFL's TV term is optional
    assert validate_config(smoke("desmoke_dark_channel")).loss == {}
    assert validate_config({**smoke("tcfl_tv_sigma"), "loss": {}}).loss == {}


def test_an_empty_loss_stops_the_cli_with_one_line(capsys):
    for given in ("loss={}", "loss.l1=0"):
        message = cli_error(capsys, "--space", "lsid_lr", "--profile", "smoke", "--set", given)
        assert message.startswith("the loss needs a term with a weight > 0 (known: l1, ms_ssim, mse, ssim)")
    assert cli_error(capsys, "--space", "lsid_lr", "--profile", "smoke", "--set", "train.cost_size=7") == (
        "train.cost_size (7) must be a multiple of 32 for model 'sid_unet'")


# -- a data root that nothing would read ---------------------------------------------------------------------------

@pytest.mark.parametrize("task, reading, readers", [("lowlight", "sid", "sid or pairs"), ("desmoke", "folders", None),
                                                    ("tcfl", "folders", None), ("anomaly", "folders", None)])
def test_a_data_root_with_a_source_that_reads_no_files_is_refused(task, reading, readers):
    config = smoke(SPACE_OF_TASK[task])
    assert config["data"].get("source", "synthetic") == "synthetic"
    readers = readers or reading  # the sources that read data.root
    fails_with(set_path(config, "data.root", "/nonexistent"),
               f"data.root is read only with data.source={readers}; data.source=synthetic reads no files "
               f"(set data.source={readers}, or leave data.root out)")
    reads = validate_config(set_path(set_path(config, "data.root", "/somewhere"), "data.source", reading))
    assert reads.data.root == "/somewhere"


# -- 5) --set keys that every trial sets again ---------------------------------------------------------------------

def test_a_key_every_row_sets_is_refused(capsys):
    assert cli_error(capsys, "--space", "lsid_lr", "--profile", "smoke", "--set", "optim.lr=0.5") == (
        "--set optim.lr: space 'lsid_lr' sets this key in every trial (each of its rows sets it), so the value would "
        "have no effect; leave it out, or choose a space that does not sweep it")
    assert cli_error(capsys, "--space", "lsid_lr", "--profile", "smoke", "--search", "optuna", "--set",
                     "optim.lr=0.5").startswith("--set optim.lr: space 'lsid_lr' sets this key in every trial (optuna")
    assert cli_error(capsys, "--space", "lsid_lr", "--profile", "smoke", "--set", "train.seed=3").startswith(
        "--set train.seed: space 'lsid_lr' sets this key in every trial")
    # inside a mapping too
    message = cli_error(capsys, "--space", "lsid_lr", "--profile", "smoke", "--set", 'optim={"gamma": 0.3, "lr": 1}')
    assert message.startswith("--set optim.lr: space 'lsid_lr' sets this key in every trial")
    message = cli_error(capsys, "--space", "lamba_rdb", "--profile", "smoke", "--set", "model.n_rdb=2")
    assert message.startswith("--set model.n_rdb: space 'lamba_rdb' sets this key in every trial (each of its rows")


def test_the_readme_examples_still_run(capsys):
    assert main(["--space", "lsid_lr", "--set", "train.steps=600", "--set", "optim.gamma=0.3", "--dry-run"]) == 0
    assert capsys.readouterr().err == ""
    space = get_space("lsid_lr")  # the paper profile reads the data.root given (the folder is checked before Ray)
    assert validate_config(space.base_config("paper", {"data.root": "/data/SID"}, search="grid")).data.root == (
        "/data/SID")


def test_what_each_search_sets_in_every_trial():
    desmoke, lamba_loss, lsid_lr = get_space("desmoke_dark_channel"), get_space("lamba_loss"), get_space("lsid_lr")
    # grid runs both generators; Optuna samples only the dark channel, so the variant given is the one it runs
    with pytest.raises(ConfigError, match=r"--set model.variant: .*\(each of its rows sets it\)"):
        desmoke.base_config("smoke", {"model.variant": "small"}, search="grid")
    assert desmoke.base_config("smoke", {"model.variant": "small"}, search="optuna")["model"]["variant"] == "small"
    # without the search, only the keys that every search sets are refused
    assert desmoke.base_config("smoke", {"model.variant": "small"})["model"]["variant"] == "small"
    with pytest.raises(ConfigError, match="--set task.dark_channel: "):
        desmoke.base_config("smoke", {"task.dark_channel": "none"})
    # a grid trial sets its own seed
    with pytest.raises(ConfigError, match=r"--set train.seed: .*leave it out, or use --seeds$"):
        lsid_lr.base_config("smoke", {"train.seed": 3}, search="grid")
    assert lsid_lr.base_config("smoke", {"train.seed": 3}, search="optuna")["train"]["seed"] == 3
    # every row of the loss study names every weight; its sampled search only the MS-SSIM one
    assert set(lamba_loss.swept_keys("grid")) == {"loss.l1", "loss.ssim", "loss.ms_ssim", "train.seed"}
    assert set(lamba_loss.swept_keys("random")) == {"loss.ms_ssim"}
    # a mapping parameter sets its leaves
    assert set(get_space("unet_perceptual").swept_keys(None)) == {"loss.mse", "loss.perceptual",
                                                                  "task.perceptual_backbone"}


def test_a_key_only_some_rows_set_is_kept_where_they_do_not():
    space = get_space("lsid_ablation")
    base = space.base_config("smoke", {"model.levels": [1, 2]}, search="grid")
    levels = {row.label: validate_config(space.resolve(base, {"row": row.label})).model.get("levels")
              for row in space.rows}
    assert levels["default"] == [1, 2] and levels["3 · no middle"] == [1, 2]  # rows that do not set levels
    assert levels["7 · no levels 2-4"] == [1]  # a row that does


def test_an_empty_mapping_replaces_what_is_there():
    space = get_space("lsid_lr")
    assert space.base_config("smoke", {"loss": {}})["loss"] == {}
    assert space.base_config("smoke", {"loss": {"mse": 1}})["loss"] == {"l1": 1.0, "mse": 1}  # others merge
