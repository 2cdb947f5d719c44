"""The low-light task's check that a model takes the input layout ``task.input`` asks for and returns the sRGB
image, made before a sweep starts."""

from __future__ import annotations

import re

import torch

from restore_core.errors import ConfigError

# The input layouts of ``task.input``: (channels, shape, what it is).
INPUT_LAYOUTS = {"packed": (4, "(B, 4, H/2, W/2) packed raw"), "bayer": (1, "(B, 1, H, W) Bayer plane")}
# torch's message when a conv layer gets another number of channels than it was built for
_CONV_CHANNELS = re.compile(r"expected input\[([\d, ]+)\] to have (\d+) channels, but got \d+ channels instead")


def _example_input(task_input: str, size: int) -> torch.Tensor:
    if task_input == "packed":
        return torch.zeros(1, 4, size // 2, size // 2)
    return torch.zeros(1, 1, size, size)


def _forward_shape(model: torch.nn.Module, example: torch.Tensor) -> tuple[int, ...]:
    with torch.no_grad():
        return tuple(model.eval()(example).shape)


def check_model_takes_input(model: torch.nn.Module, name: str, task_input: str, multiple: int) -> None:
    """One forward on the smallest valid input, so that a model/input mismatch fails before a sweep starts.

    ``packed`` feeds ``(B, 4, H/2, W/2)`` and ``bayer`` ``(B, 1, H, W)``; either way the model must return the
    ``(B, 3, H, W)`` sRGB image. A forward that fails is a config error only when the input layout is what the model
    refuses: the other layout runs, or the model's first layer wants another number of channels than either layout
    has. Any other failure is a fault of the model and keeps its traceback.
    """
    size = multiple
    example = _example_input(task_input, size)
    channels, shape = INPUT_LAYOUTS[task_input]
    other = "bayer" if task_input == "packed" else "packed"
    try:
        out_shape = _forward_shape(model, example)
    except (RuntimeError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        refused = f"model '{name}' does not take task.input={task_input} ({shape})"
        wanted = _CONV_CHANNELS.search(str(error))
        if wanted and wanted.group(1) == ", ".join(map(str, example.shape)):  # the first layer refused the input
            wanted_channels = int(wanted.group(2))
            if wanted_channels == INPUT_LAYOUTS[other][0]:
                raise ConfigError(f"{refused}; try task.input={other} ({reason})") from None
            raise ConfigError(
                f"{refused}: its first layer takes {wanted_channels} channels, not {INPUT_LAYOUTS['packed'][0]} "
                f"(packed) or {INPUT_LAYOUTS['bayer'][0]} (bayer); set the model's input channels or choose another"
                f" model"
            ) from None
        try:
            _forward_shape(model, _example_input(other, size))
        except (RuntimeError, ValueError):
            raise error from None  # neither layout runs: a fault of the model, not of the config
        raise ConfigError(f"{refused}; try task.input={other} ({reason})") from None
    if out_shape != (1, 3, size, size):
        raise ConfigError(
            f"model '{name}' with task.input={task_input} returns shape {out_shape} for a {size}×{size} image; "
            f"the task needs (B, 3, {size}, {size}) sRGB"
        )
