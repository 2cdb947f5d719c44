"""Each model's inference path: a copy for evaluation-only use (no gradients, eval mode) that computes what the
model computes, as fast as the CPU allows. Model cost latencies are measured on it."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from restore_core.models.folding import fold_weight_norm
from restore_core.models.lamba_rt import LambaRT
from restore_core.models.lamba_rt_inference import LambaRTInference

# A model class → the builder of its own inference path; any other model gets its weight norm (if any) folded.
INFERENCE_PATHS: dict[type[nn.Module], Callable[[nn.Module], nn.Module]] = {LambaRT: LambaRTInference}


def inference_model(model: nn.Module) -> nn.Module:
    """A copy of ``model`` for inference: its class's path in :data:`INFERENCE_PATHS` (the real-time network's
    rewrite), else ``model`` with every weight norm folded; in eval mode, without gradients. ``model`` is left as
    it was."""
    for cls, build in INFERENCE_PATHS.items():
        if isinstance(model, cls):
            return build(model)
    return fold_weight_norm(model)
