"""The SSIM and MS-SSIM loss terms are computed in float32 also inside a mixed-precision step (``train.amp``)."""

import pytest
import torch

from restore_core.losses import WeightedLoss


@pytest.mark.parametrize("term", ["ssim", "ms_ssim"])
def test_a_structural_term_is_the_same_under_bfloat16_autocast(term):
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 176, 176, generator=generator)
    noise = 0.01 * torch.randn(target.shape, generator=generator)  # near convergence, where bf16 cancels most
    loss = WeightedLoss({term: 1.0})

    def value_and_grad(autocast: bool) -> tuple[float, torch.Tensor]:
        pred = (target + noise).requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):  # what train.amp=bf16 does on CUDA
            value, _ = loss(pred, target)
        value.backward()
        return float(value.detach()), pred.grad

    (full, full_grad), (mixed, mixed_grad) = value_and_grad(False), value_and_grad(True)
    assert mixed == pytest.approx(full, rel=1e-5)
    assert torch.nn.functional.cosine_similarity(mixed_grad.flatten(), full_grad.flatten(), dim=0) > 0.9999
