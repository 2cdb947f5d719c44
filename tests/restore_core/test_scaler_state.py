"""A checkpoint holds the fp16 gradient scalers' state, and a resume restores it (the loss scale goes on)."""

import os
import shutil

import torch

import search_spaces
from restore_core.config import set_path
from restore_core.loop import CHECKPOINT_FILE, _load_checkpoint, _report
from restore_core.schema import validate_config
from restore_core.tasks.registry import get_task


def smoke_task():
    config = set_path(search_spaces.get_space("lsid_lr").base_config("smoke"), "train.amp", "fp16")
    cfg = validate_config(config)
    task_cls = get_task(cfg.task_name)
    return task_cls(cfg, task_cls.prepare_data(cfg), torch.device("cpu"))


def test_a_checkpoint_keeps_the_loss_scale(tmp_path):
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=7)
    scaler.scale(torch.tensor(1.0))  # a scaler that has scaled holds its state
    saved = smoke_task()
    saved.load_scaler_state({"main": scaler.state_dict()})

    def keep(metrics, folder):  # what Ray does with the reported folder: keep a copy
        shutil.copytree(folder, tmp_path / "checkpoint")

    _report(keep, saved, 4, {}, {"step": 4})
    resumed = smoke_task()
    assert resumed.scaler_state() == {}
    step, *_ = _load_checkpoint(resumed, os.path.join(tmp_path / "checkpoint", CHECKPOINT_FILE), torch.device("cpu"))
    state = resumed.scaler_state()["main"]
    assert step == 4 and (state["scale"], state["growth_interval"]) == (1024.0, 7)
