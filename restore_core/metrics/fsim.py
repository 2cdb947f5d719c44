"""FSIMc (Zhang, Zhang, Mou, Zhang, "FSIM: A Feature Similarity Index for Image Quality Assessment", IEEE TIP 20(8),
2011), computed by piq (photosynthesis-team/piq, ``piq/fsim.py``), the implementation the DL4H desmoking reproduction
reported its FSIMc with.

piq cannot be imported whole here: its package ``__init__`` imports its FID and perceptual modules, which import
torchvision, and torchvision does not import beside torch's CPU build (nor may it be installed: it breaks torchmetrics
here). ``piq.fsim`` itself needs only torch and piq's own ``utils`` and ``functional`` subpackages, so it is imported
from the installed piq without running ``piq/__init__.py``. piq is installed without its dependencies
(``pip install --no-deps piq==0.8.0``; ``.ci/setup`` does it). No copy of its code is kept here.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable

import torch

from restore_core.errors import UserError

PIQ_VERSION = "0.8.0"  # the version tested against (tests/restore_core/metrics/test_fsim.py)
INSTALL = f"pip install --no-deps piq=={PIQ_VERSION}"


def piq_fsim() -> Callable[..., torch.Tensor]:
    """piq's ``fsim`` function, imported without piq's package ``__init__`` where the whole package does not import.

    Raises:
        UserError: piq is not installed (the message says how to install it without torchvision).
    """
    loaded = sys.modules.get("piq.fsim")
    if loaded is not None:
        return loaded.fsim
    spec = importlib.util.find_spec("piq")
    if spec is None:
        raise UserError(f"FSIMc needs the piq package: {INSTALL} (without its dependencies: torchvision is not "
                        "needed for FSIM and must not be installed beside torch's CPU build)")
    if "piq" not in sys.modules:
        # The package object without running its __init__ (which imports torchvision); submodules import from its
        # __path__ as usual. Nothing else here imports piq, and the whole package could not be imported anyway.
        sys.modules["piq"] = importlib.util.module_from_spec(spec)
    return importlib.import_module("piq.fsim").fsim


def fsimc(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """FSIMc per image: phase congruency and gradient similarity on luminance, plus the I and Q chrominance
    similarity (YIQ), with piq's defaults (4 scales, 4 orientations, the MATLAB FeatureSIM.m constants; images scaled
    to 0-255 and average-pooled by ``round(min(H, W) / 256)`` first, as FeatureSIM.m does).

    Args:
        pred: Restored images, (N, 3, H, W), RGB in [0, 1] (values outside are clamped: piq refuses them).
        target: Reference images, same shape.

    Returns:
        FSIMc per image, shape (N,), float32; 1 for identical images, usually in [0, 1]. Higher is better.
    """
    if pred.shape != target.shape or pred.ndim != 4 or pred.shape[1] != 3:
        raise ValueError(f"FSIMc takes two (N, 3, H, W) RGB tensors of the same shape, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
    fsim = piq_fsim()
    with torch.autocast(pred.device.type, enabled=False):
        return fsim(pred.detach().float().clamp(0, 1), target.detach().float().clamp(0, 1), reduction="none",
                    data_range=1.0, chromatic=True)
