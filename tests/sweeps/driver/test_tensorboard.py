"""What TensorBoard shows of a real sweep (the fault sweep of tests/sweeps/conftest.py), read with TensorBoard's own
loaders: run names with label and seed, the HParams plugin's experiment, session start and end per trial, the
config and the model's cost as text."""

from __future__ import annotations

import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
from tensorboard.plugins.hparams import api_pb2, metadata
from tensorboard.util import tensor_util

from analysis import load_run
from search_spaces import get_space


def _events(run_dir: str, trial_id: str) -> EventAccumulator:
    events = EventAccumulator(f"{run_dir}/{trial_id}", size_guidance={"tensors": 0, "scalars": 0})
    events.Reload()
    return events


def _value(value) -> object:
    kind = value.WhichOneof("kind")
    return getattr(value, kind)


def test_tensorboard_runs_are_named_by_trial_label_and_seed(fault_sweep):
    frame = load_run(fault_sweep.run_dir)
    multiplexer = EventMultiplexer().AddRunsFromDirectory(fault_sweep.run_dir)
    multiplexer.Reload()
    runs = set(multiplexer.Runs())
    for _, trial in frame.iterrows():
        if trial["status"] == "error" and trial["steps"] == 0:
            continue  # never reported: no event file
        assert trial["trial_id"].endswith(f"-{trial['label']}-seed0")
        assert trial["trial_id"] in runs


def test_every_trial_has_its_hparams_and_session_in_the_hparams_plugin(fault_sweep):
    frame = load_run(fault_sweep.run_dir).set_index("label")
    space = get_space("ops_faults")
    for label, status in (("ok", api_pb2.STATUS_SUCCESS), ("raise", api_pb2.STATUS_FAILURE)):
        content = _events(fault_sweep.run_dir, frame.loc[label, "trial_id"]).PluginTagToContent(metadata.PLUGIN_NAME)
        experiment = metadata.parse_experiment_plugin_data(content[metadata.EXPERIMENT_TAG])
        assert {h.name for h in experiment.hparam_infos} == {"label", "seed", "row", "cost/params", "cost/macs",
                                                             "cost/latency_ms"}
        metrics = [m.name.tag for m in experiment.metric_infos]
        assert metrics[0] == space.metric and {"val/ssim", "val/delta_psnr"} <= set(metrics)
        start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
        values = {key: _value(value) for key, value in start.hparams.items()}
        assert values["label"] == values["row"] == label and values["seed"] == 0
        assert values["cost/params"] == frame.loc[label, "cost/params"] > 0
        end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
        assert end.status == status


def test_the_config_and_cost_are_text_summaries_and_cost_is_no_curve(fault_sweep):
    frame = load_run(fault_sweep.run_dir).set_index("label")
    events = _events(fault_sweep.run_dir, frame.loc["ok", "trial_id"])
    assert not [tag for tag in events.Tags()["scalars"] if tag.startswith("cost/")]
    (config,) = events.Tensors("config/text_summary")
    text = tensor_util.make_ndarray(config.tensor_proto).item().decode()
    logged = json.loads("\n".join(line[4:] for line in text.splitlines()))  # a Markdown code block
    assert logged["model"]["name"] == "sid_unet" and logged["train"]["fault"] == "none"
    assert logged["train"]["steps"] == frame.loc["ok", "steps"]
    (cost,) = events.Tensors("cost/text_summary")
    table = tensor_util.make_ndarray(cost.tensor_proto).item().decode().splitlines()
    assert table[0] == "| params | macs | latency_ms |"
    assert float(table[2].split("|")[1].replace(",", "")) == pytest.approx(frame.loc["ok", "cost/params"])
