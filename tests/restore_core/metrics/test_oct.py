import math

import numpy as np
import pytest
import torch

from restore_core.metrics import epi, gcmse


def _step(low: float, high: float, rows: int = 6, cols: int = 4, edge_row: int = 3) -> torch.Tensor:
    """(1, 1, rows, cols) image: `low` above `edge_row`, `high` from it down (a horizontal step edge)."""
    image = torch.full((1, 1, rows, cols), low, dtype=torch.float64)
    image[..., edge_row:, :] = high
    return image


def test_epi_identical_is_one():
    image = torch.rand(2, 1, 10, 10, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(epi(image, image), torch.ones(2, dtype=torch.float64))


def test_epi_of_halved_step_edge_is_one_half():
    # Reference: one jump of 0.8 per column; denoised: the same edge with half the height (0.4).
    value = epi(_step(0.3, 0.7), _step(0.1, 0.9))
    assert value.shape == (1,)
    assert value.item() == pytest.approx(0.5, abs=1e-12)


def test_epi_is_vertical_only():
    # A vertical edge (change along columns) has no vertical variation: the reference must carry row changes.
    reference = _step(0.0, 1.0)
    denoised = reference.clone()
    denoised[..., :, 2:] += 0.1  # horizontal change only, every column still has the same 1.0 jump
    assert epi(denoised, reference).item() == pytest.approx(1.0, abs=1e-12)


def test_epi_leaves_out_first_row_difference_like_the_reproduction():
    # An edge between rows 0 and 1 is invisible to calc_epi's slices; one between rows 1 and 2 is counted.
    reference = _step(0.0, 1.0, edge_row=2) + _step(0.0, 1.0, edge_row=1)  # rows: 0, 1, 2, 2, ...
    denoised = _step(0.0, 1.0, edge_row=2) * 2  # rows: 0, 0, 2, 2, ...
    # Counted differences (rows 1->2 onward): reference 1 per column, denoised 2 per column.
    assert epi(denoised, reference).item() == pytest.approx(2.0, abs=1e-12)


def test_epi_flat_reference():
    flat = torch.full((1, 1, 5, 5), 0.5)
    assert epi(flat, flat).item() == 1.0
    assert math.isinf(epi(_step(0.0, 1.0, rows=5, cols=5), flat).item())


def test_gcmse_identical_is_zero():
    image = torch.rand(2, 1, 10, 10, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(gcmse(image, image), torch.zeros(2, dtype=torch.float64))


@pytest.mark.parametrize(("option", "conduction_across_edge"), [(1, math.exp(-4.0)), (2, 1.0 / 5.0)])
def test_gcmse_of_offset_on_two_by_two_step(option, conduction_across_edge):
    # ref = [[0, 0], [1, 1]]: every pixel has exactly one neighbour across the edge (|g| = 1, (g/κ)² = 4),
    # c = exp(-4) (option 1) or 1/(1+4) (option 2); its other 3 directions are flat or border (c = 1).
    # So G = 1 - (3 + c)/4 = (1 - c)/4 everywhere, and with a constant error e on 4 pixels:
    # GCMSE = Σ(G e)² · 4 / ΣG = G · 4 e² = (1 - c) e².
    ref = torch.tensor([[[[0.0, 0.0], [1.0, 1.0]]]], dtype=torch.float64)
    work = ref + 0.1
    expected = (1 - conduction_across_edge) * 0.01
    assert gcmse(torch.cat([ref, ref]), torch.cat([work, ref]), option=option).numpy() == pytest.approx(
        [expected, 0.0], abs=1e-15
    )


def test_gcmse_flat_reference_is_zero():
    flat = torch.full((1, 1, 6, 6), 0.5)
    assert gcmse(flat, flat + 0.2).item() == 0.0


def test_gcmse_weighs_errors_on_edges_more_than_in_flat_regions():
    ref = _step(0.0, 1.0, rows=8, cols=8, edge_row=4)
    on_edge = ref.clone()
    on_edge[..., 3:5, :] += 0.1  # the two rows beside the edge
    in_flat = ref.clone()
    in_flat[..., 0:2, :] += 0.1  # two rows far from it (same MSE)
    assert gcmse(ref, in_flat).item() == 0.0
    assert gcmse(ref, on_edge).item() > 0.0


def test_gcmse_matches_loop_over_pixels():
    rng = np.random.default_rng(0)
    ref = rng.random((7, 9))
    work = np.clip(ref + 0.1 * rng.standard_normal(ref.shape), 0, 1)
    kappa = 0.5
    weights = np.zeros_like(ref)
    for i in range(7):
        for j in range(9):
            conductions = []
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                ii, jj = i + di, j + dj
                inside = 0 <= ii < 7 and 0 <= jj < 9
                conductions.append(math.exp(-(((ref[ii, jj] - ref[i, j]) / kappa) ** 2)) if inside else 1.0)
            weights[i, j] = 1 - sum(conductions) / 4
    expected = ((weights * (ref - work)) ** 2).sum() * ref.size / weights.sum()
    value = gcmse(torch.from_numpy(ref)[None, None], torch.from_numpy(work)[None, None], kappa=kappa)
    assert value.item() == pytest.approx(expected, rel=1e-12)


def test_bad_option_rejected():
    with pytest.raises(ValueError, match="option"):
        gcmse(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4), option=3)
