"""What a trial writes to TensorBoard besides its curves and images (restore_core's loop writes those): the
HParams plugin's summaries, so that the HParams tab lists every trial with its values and metrics, and the config
and the model's cost as text. The cost is measured once per trial, so it is an hparam and text, not a flat curve.

A trial's folder, and so its run name in TensorBoard, reads ``<trial id>-<label>-seed<seed>`` (:func:`folder_name`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from restore_core.config import flatten
from search_spaces.space import ROW_KEY, SEED_KEY, TRIAL_INDEX_KEY

COST_KEYS = ("cost/params", "cost/macs", "cost/latency_ms")
MAX_LABEL = 80  # characters of the label in a folder name (a file name holds 255 bytes)
UNSAFE = re.compile(r"[\s/\\:*?\"<>|]+")  # path separators, whitespace and what Windows and shells trip on


def folder_name(space: Any, trial_id: str, config: Mapping[str, Any]) -> str:
    """A trial's folder name: Ray's trial id (unique, and what the run's files call the trial) then the label and
    seed, so that TensorBoard's run list reads ``a1b2c_00003-1e-3-seed0`` rather than ``a1b2c_00003``."""
    label = UNSAFE.sub("_", space.label(config)).strip("_")[:MAX_LABEL]
    seed = config.get(SEED_KEY, config.get(TRIAL_INDEX_KEY, 0))
    return f"{trial_id}-{label}-seed{seed}"


def hparams(space: Any, sampled: Mapping[str, Any], config: Mapping[str, Any], label: str) -> dict[str, Any]:
    """The trial's hparams: its label and seed, the sampled values and every scientific parameter of the space
    (read from the trial's config, a whole section as its JSON text), as the numbers, strings and booleans TensorBoard
    takes."""
    values: dict[str, Any] = {"label": label, "seed": config.get("train", {}).get("seed", 0)}
    for key, value in sampled.items():
        if not key.startswith("__") and key not in (SEED_KEY, ROW_KEY):
            values[key] = value
    if ROW_KEY in sampled:
        values["row"] = sampled[ROW_KEY]
    flat = flatten(config)
    for key in space.scientific:
        section = config.get(key) if "." not in key else None
        values[key] = section if section is not None else flat.get(key)
    return {key: _hparam_value(value) for key, value in values.items()}


def _hparam_value(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, sort_keys=True)


def metric_names(space: Any, reported: Mapping[str, Any]) -> list[str]:
    """The metrics the HParams tab shows per trial: the space's metric, then every validation and test metric the
    trial reports (no classical baselines: they do not depend on the trial)."""
    found = [key for key, value in reported.items() if key.startswith(("val/", "test/")) and "/baseline/" not in key
             and isinstance(value, (int, float)) and not isinstance(value, bool)]
    return list(dict.fromkeys([space.metric, *sorted(found)]))


class TrialSummaries:
    """Writes a trial's HParams and text summaries into its TensorBoard folder beside the loop's event file."""

    def __init__(self, logdir: str, space: Any, sampled: Mapping[str, Any], config: Mapping[str, Any], label: str):
        self.logdir, self.space, self.sampled, self.config, self.label = logdir, space, sampled, config, label
        self._writer = None

    def record(self, metrics: Mapping[str, Any]) -> None:
        """At the trial's first report (when its metrics and cost are known): the hparams, the config and the cost."""
        if self._writer is not None:
            return
        from torch.utils.tensorboard import SummaryWriter  # deferred: TensorBoard's writer, only in a trial
        from torch.utils.tensorboard.summary import hparams as hparams_summaries  # deferred: as above

        self._writer = SummaryWriter(self.logdir)
        values = hparams(self.space, self.sampled, self.config, self.label)
        cost = {key: metrics[key] for key in COST_KEYS if isinstance(metrics.get(key), (int, float))}
        values.update(cost)
        experiment, start, _ = hparams_summaries(values, {name: 0.0 for name in metric_names(self.space, metrics)})
        self._writer.file_writer.add_summary(experiment)
        self._writer.file_writer.add_summary(start)
        text = json.dumps(self.config, indent=2, sort_keys=True)
        self._writer.add_text("config", "    " + text.replace("\n", "\n    "), 0)  # a Markdown code block
        if cost:
            header = " | ".join(key.removeprefix("cost/") for key in cost)
            row = " | ".join(f"{value:,.6g}" for value in cost.values())
            self._writer.add_text("cost", f"| {header} |\n| {' | '.join('---' for _ in cost)} |\n| {row} |", 0)
        self._writer.flush()

    def close(self, succeeded: bool) -> None:
        """The session's end (success, or failure for a trial that raised), and the file closed."""
        if self._writer is None:
            return
        from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata  # deferred: TensorBoard
        from tensorboard.plugins.hparams import metadata  # deferred: TensorBoard
        from tensorboard.plugins.hparams.api_pb2 import Status  # deferred: TensorBoard
        from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData, SessionEndInfo  # deferred

        status = Status.Value("STATUS_SUCCESS" if succeeded else "STATUS_FAILURE")
        content = HParamsPluginData(session_end_info=SessionEndInfo(status=status),
                                    version=metadata.PLUGIN_DATA_VERSION)
        plugin = SummaryMetadata.PluginData(plugin_name=metadata.PLUGIN_NAME, content=content.SerializeToString())
        end = Summary(value=[Summary.Value(tag=metadata.SESSION_END_INFO_TAG,
                                           metadata=SummaryMetadata(plugin_data=plugin))])
        self._writer.file_writer.add_summary(end)
        self._writer.close()
        self._writer = None
