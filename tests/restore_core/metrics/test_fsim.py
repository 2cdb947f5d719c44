"""FSIMc from piq, imported without piq's package __init__ (which needs torchvision): 1 for identical images, the
same values as piq's own fsim on a photo (on its 0-255 scale and on the DL4H reproduction's [−1, 1] images), falling
as the distortion grows."""

import sys

import pytest
import torch
from skimage import data

from restore_core.metrics import fsimc
from restore_core.metrics.fsim import PIQ_VERSION, piq_fsim


def photo(name="astronaut", size=256):
    image = torch.from_numpy(getattr(data, name)()[:size, :size] / 255.0).float()
    return image.permute(2, 0, 1)[None]  # (1, 3, H, W)


def test_identical_images_score_one():
    for name in ("astronaut", "coffee", "chelsea"):
        x = photo(name)
        assert fsimc(x, x).item() == pytest.approx(1.0, abs=1e-6)
    flat = torch.full((2, 3, 64, 64), 0.5)
    torch.testing.assert_close(fsimc(flat, flat), torch.ones(2))


def test_agrees_with_piq_on_a_photo():
    import importlib.metadata

    assert importlib.metadata.version("piq") == PIQ_VERSION
    reference = photo()
    noise = torch.Generator().manual_seed(0)
    distorted = (reference + 0.08 * torch.randn(reference.shape, generator=noise)).clamp(0, 1)
    blurred = torch.nn.functional.avg_pool2d(reference, 5, stride=1, padding=2, count_include_pad=False)
    ours = fsimc(torch.cat([distorted, blurred]), torch.cat([reference, reference]))
    fsim = sys.modules["piq.fsim"].fsim  # piq's own module, as loaded
    assert fsim is piq_fsim()
    on_255 = fsim(torch.cat([distorted, blurred]) * 255, torch.cat([reference, reference]) * 255, data_range=255,
                  chromatic=True, reduction="none")
    # the reproduction's call: images in [−1, 1] shifted by +1, data range 2 (DL4H losses.FSIMcpiq)
    dl4h = fsim(distorted * 2, reference * 2, data_range=2.0, chromatic=True)
    torch.testing.assert_close(ours, on_255, rtol=1e-5, atol=1e-6)
    assert ours[0].item() == pytest.approx(dl4h.item(), rel=1e-5)
    assert 0.5 < ours[0].item() < 0.95 and 0.5 < ours[1].item() < 0.99


def test_falls_as_noise_grows_and_checks_its_input():
    reference = photo("coffee")
    noise = torch.randn(reference.shape, generator=torch.Generator().manual_seed(1))
    scores = [fsimc((reference + s * noise).clamp(0, 1), reference).item() for s in (0.02, 0.05, 0.1, 0.2)]
    assert scores == sorted(scores, reverse=True) and scores[0] < 1
    with pytest.raises(ValueError, match="RGB"):
        fsimc(reference[:, :1], reference[:, :1])
