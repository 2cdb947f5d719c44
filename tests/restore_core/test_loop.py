import math
import os
import threading
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from restore_core.config import set_path
from restore_core.loop import CHECKPOINT_FILE, train
from restore_core.models import create_model
from restore_core.schema import validate_config


def test_reports_every_evaluation_with_metrics_cost_and_reference(config, shared):
    reports = []
    result = train(config, data=shared, report=lambda m, folder: reports.append(dict(m)))
    assert [r["step"] for r in reports] == [2, 4]
    last = result.metrics
    assert last["stop_reason"] == "completed" and reports[0]["stop_reason"] == "running"
    for key in ("val/psnr", "val/ssim", "val/ref_psnr", "val/ref_ssim", "train/loss", "cost/params", "cost/macs"):
        assert math.isfinite(last[key]), key
    assert last["val/delta_psnr"] == pytest.approx(last["val/psnr"] - last["val/ref_psnr"])
    assert 5 < last["val/ref_psnr"] < 40
    model = create_model(**validate_config(config, cross_field=False).model)
    assert last["cost/params"] == sum(p.numel() for p in model.parameters()) > 0
    assert last["lr"] == pytest.approx(1e-5)  # 1e-4 then ×0.1 at half of training


def test_same_seed_same_result_other_seed_differs(config, shared):
    a = train(config, data=shared).metrics["val/psnr"]
    b = train(config, data=shared).metrics["val/psnr"]
    c = train(set_path(config, "train.seed", 1), data=shared).metrics["val/psnr"]
    assert a == b and a != c


def test_checkpoint_resumes_exactly(config, shared, tmp_path):
    """Training 4 steps at once equals training 2, checkpointing, and resuming for 2 more."""
    saved = {}

    def keep(metrics, folder):
        if metrics["step"] == 2:
            (tmp_path / "ckpt").mkdir()
            with open(f"{folder}/{CHECKPOINT_FILE}", "rb") as handle:
                (tmp_path / "ckpt" / CHECKPOINT_FILE).write_bytes(handle.read())
        saved[metrics["step"]] = metrics

    straight = train(config, data=shared, report=keep)
    resumed = train(config, data=shared, resume_from=str(tmp_path / "ckpt"))
    assert resumed.history[0]["step"] == 4
    assert resumed.metrics["val/psnr"] == straight.metrics["val/psnr"]
    assert resumed.metrics["train/loss"] == straight.metrics["train/loss"]
    state = torch.load(tmp_path / "ckpt" / CHECKPOINT_FILE, weights_only=False)
    assert state["step"] == 2 and set(state["optimizers"]) == {"model"} and state["cost"]["cost/params"] > 0


def train_keeping_checkpoint(config, shared, step: int, folder: Path) -> dict[int, dict]:
    """Train ``config`` straight through, keeping a copy of the checkpoint of ``step`` in ``folder``; returns every
    report by step."""
    straight: dict[int, dict] = {}

    def keep(metrics, checkpoint):
        if metrics["step"] == step:
            folder.mkdir()
            (folder / CHECKPOINT_FILE).write_bytes(Path(checkpoint, CHECKPOINT_FILE).read_bytes())
        straight[metrics["step"]] = metrics

    train(config, data=shared, report=keep)
    return straight


def test_a_resume_whose_report_went_missing_reports_it_again_first(config, shared, tmp_path):
    """``report_resumed``: the checkpoint's own report (kept in its state) comes first, with its state, then the
    reports go on; without it a resume reports only what it trains."""
    straight = train_keeping_checkpoint(config, shared, 2, tmp_path / "ckpt")
    reported: list[tuple[dict, dict | None]] = []

    def record(metrics, folder):
        state = torch.load(os.path.join(folder, CHECKPOINT_FILE), weights_only=False) if folder else None
        reported.append((metrics, state))

    resumed = train(config, data=shared, report=record, resume_from=str(tmp_path / "ckpt"), report_resumed=True)
    assert [m["step"] for m, _ in reported] == [2, 4] and [m["step"] for m in resumed.history] == [2, 4]
    assert reported[0][0] == straight[2] and reported[1][0]["val/psnr"] == straight[4]["val/psnr"]
    saved = torch.load(tmp_path / "ckpt" / CHECKPOINT_FILE, weights_only=False)
    again = reported[0][1]
    assert again["step"] == 2 and again["metrics"] == straight[2]
    for name, tensor in saved["modules"]["model"].items():
        assert torch.equal(again["modules"]["model"][name], tensor), name
    reported.clear()
    train(config, data=shared, report=record, resume_from=str(tmp_path / "ckpt"))
    assert [m["step"] for m, _ in reported] == [4]


def test_a_checkpoint_carries_the_reports_before_it_and_a_resume_makes_those_the_records_lack(config, shared,
                                                                                              tmp_path):
    """Each checkpoint carries every report of the trial up to it; a resume with ``report_resumed`` makes again those
    after ``recorded_up_to`` (without a checkpoint), then the checkpoint's own (with its state), then trains on."""
    config = set_path(config, "train.steps", 6)
    straight = train_keeping_checkpoint(config, shared, 4, tmp_path / "ckpt")
    carried = torch.load(tmp_path / "ckpt" / CHECKPOINT_FILE, weights_only=False)["reports"]
    assert carried == [straight[2], straight[4]]
    for recorded_up_to, again in ((0, [2, 4]), (2, [4]), (4, [4])):
        reported: list[tuple[dict, bool]] = []
        saved: list[list[dict]] = []

        def record(metrics, folder, reported=reported, saved=saved):
            reported.append((metrics, folder is not None))
            if folder:
                saved.append(torch.load(os.path.join(folder, CHECKPOINT_FILE), weights_only=False)["reports"])

        resumed = train(config, data=shared, report=record, resume_from=str(tmp_path / "ckpt"), report_resumed=True,
                        recorded_up_to=recorded_up_to)
        assert [(m["step"], with_state) for m, with_state in reported] == \
            [(step, step == 4) for step in again] + [(6, True)], recorded_up_to
        assert [m for m, _ in reported[:len(again)]] == [straight[step] for step in again]
        assert [m["step"] for m in resumed.history] == [*again, 6]
        # the new checkpoints carry the whole trial's reports, the earlier ones included
        assert [[r["step"] for r in reports] for reports in saved] == [[2, 4], [2, 4, 6]]


def test_nan_loss_stops_the_trial_and_says_so(config, shared):
    result = train(set_path(set_path(config, "train.fault", "nan"), "train.steps", 20), data=shared)
    assert result.stop_reason == "nan"
    assert result.metrics["step"] < 20 and math.isnan(result.metrics["val/psnr"])
    assert math.isfinite(result.metrics["val/ref_psnr"])


def test_collapsed_outputs_stop_the_trial(config, shared):
    result = train(set_path(config, "train.fault", "collapse"), data=shared)
    assert result.stop_reason == "collapsed" and result.metrics["step"] == 2


def test_a_raising_trial_raises(config, shared):
    with pytest.raises(RuntimeError, match="injected fault"):
        train(set_path(config, "train.fault", "raise"), data=shared)


def _event_writer_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate()
            if type(t).__module__.startswith("tensorboard.") or t.name.startswith("tensorboard-log")}


def _open_files() -> set[str]:
    return {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")}


@pytest.mark.parametrize("fault", ["raise", "oom"])
def test_a_failing_trial_closes_its_tensorboard_writer(fault, config, shared, tmp_path):
    """A trial that fails after its first evaluation leaves no writer thread, no open event file, and the events of
    that evaluation readable (a reused Ray worker would otherwise pile up threads and files)."""
    before = _event_writer_threads()
    failing = set_path(set_path(config, "train.fault", fault), "train.fault_step", 3)
    with pytest.raises(RuntimeError, match="injected"):
        train(failing, data=shared, logdir=str(tmp_path))
    assert _event_writer_threads() - before == set()
    (events,) = tmp_path.glob("events.out.tfevents.*")
    assert str(events.resolve()) not in _open_files()
    accumulator = EventAccumulator(str(tmp_path))
    accumulator.Reload()
    assert [s.step for s in accumulator.Scalars("val/psnr")] == [2]
