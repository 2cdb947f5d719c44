"""A trial's TensorBoard file, written beside its training rather than in its way.

At every evaluation a trial writes its scalars and a row of images per kind (inputs, outputs, targets), each row
encoded as PNG: tens of milliseconds that the next training step used to wait for (``benchmarks/trial_cost.py``
measures them). :class:`TensorBoardLog` hands each evaluation to one thread of its own, which writes the evaluations
in order and flushes after each, so TensorBoard shows a running trial's curves as before. Closing it waits for what
is queued; a write that failed (a full disk) is raised in the trial at its next evaluation or when it closes.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch

from restore_core.tb_images import add_image_row


class TensorBoardLog:
    """The scalars and image rows of a trial's evaluations, written to ``logdir`` by a thread of their own."""

    def __init__(self, logdir: str):
        from torch.utils.tensorboard import SummaryWriter  # lazy: it imports TensorBoard, heavy, only with a logdir

        self._writer = SummaryWriter(logdir)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="tensorboard-log")
        self._queued: list[Future] = []

    def log(self, step: int, metrics: dict[str, Any], images: dict[str, torch.Tensor | None]) -> None:
        """Queue one evaluation: its numeric metrics as scalars (not ``step``, nor the model's cost, measured once:
        a flat curve says nothing) and each non-empty ``(N, C, H, W)`` batch of images as one row."""
        self._raise_failed(wait=False)
        scalars = {key: value for key, value in metrics.items() if isinstance(value, (int, float))
                   and not isinstance(value, bool) and key != "step" and not key.startswith("cost/")}
        rows = {name: batch.detach() for name, batch in images.items() if batch is not None and len(batch)}
        self._queued.append(self._thread.submit(self._write, step, scalars, rows))

    def close(self) -> None:
        """Wait for the queued evaluations, close the file and the thread; raises a write's error."""
        try:
            self._thread.shutdown(wait=True)
            self._raise_failed(wait=True)
        finally:
            self._writer.close()

    def _write(self, step: int, scalars: dict[str, float], rows: dict[str, torch.Tensor]) -> None:
        for key, value in scalars.items():
            self._writer.add_scalar(key, value, step)
        for name, batch in rows.items():
            add_image_row(self._writer, f"images/{name}", batch, step)  # one row; a single channel stays gray
        self._writer.flush()

    def _raise_failed(self, wait: bool) -> None:
        while self._queued and (wait or self._queued[0].done()):
            self._queued.pop(0).result()
