"""The Ray Tune function trainable: resolve the trial's config from its space, then run the one training loop."""

from __future__ import annotations

import gc
from typing import Any

from ray import tune

from restore_core.loop import SharedData, train


def run_trial(config: dict[str, Any], *, space_name: str, base: dict, shared: SharedData | None = None) -> None:
    """One trial. ``config`` holds only the sampled values (row, parameters, seed); ``base`` and ``shared`` come
    through ``tune.with_parameters`` (the object store), never through the search space."""
    import search_spaces

    space = search_spaces.get_space(space_name)
    trial_config = space.resolve(base, config)
    label = space.label(config)
    logdir = tune.get_context().get_trial_dir()

    def report(metrics: dict[str, Any], folder: str | None) -> None:
        checkpoint = tune.Checkpoint.from_directory(folder) if folder else None
        tune.report({**metrics, "label": label}, checkpoint=checkpoint)

    checkpoint = tune.get_checkpoint()
    try:
        if checkpoint is None:
            train(trial_config, data=shared, report=report, logdir=logdir)
        else:
            with checkpoint.as_directory() as folder:
                train(trial_config, data=shared, report=report, resume_from=folder, logdir=logdir)
    finally:
        _release_memory()


def _release_memory() -> None:
    """Free what the trial held before the worker takes the next one (GPU memory above all)."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
