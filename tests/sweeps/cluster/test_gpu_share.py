"""``--gpus-per-trial auto`` on a GPU: the share from a probe trial's footprint, tested here with faked probes (the
real probe needs a GPU: ``benchmarks/gpu_check.py --checks probe`` measures it)."""

from __future__ import annotations

import pytest
import torch

import search_spaces
from restore_core.footprint import TrialFootprint, measure_footprint
from restore_core.loop import prepare_shared_data
from restore_core.schema import data_key, validate_config
from sweeps.cluster.gpu_share import MAX_TRIALS_PER_GPU, GpuShare, auto_gpu_share, probe_config, trials_per_gpu

GIB = 2**30
H200 = 143_771 * 2**20  # the memory torch reports for an H200

# Footprints as a probe on an H200 would report them (stand-ins: no GPU here). A quick lsid_lr trial steps in about 9
# ms (measured, docs/PERFORMANCE.md), launching kernels over 32×32 maps that keep the GPU busy about a ninth of it;
# a paper-size pix2pix trial (54 M + 2.8 M parameters, batch 16 of 256², 1.5 TFLOP a step) computes for nearly all
# of its step, and its activations and Adam's state take a few GiB.
SID_QUICK = TrialFootprint(peak_bytes=int(0.6 * GIB), step_ms=9.3, busy_ms=1.0, params=7_760_748)
PIX2PIX_PAPER = TrialFootprint(peak_bytes=6 * GIB, step_ms=55.0, busy_ms=52.0, params=54_413_955 + 2_768_705)


def test_a_quick_sid_trial_shares_a_gpu_eight_ways():
    share = trials_per_gpu(SID_QUICK, H200)
    assert share == GpuShare(trials=8, by_memory=101, by_time=9)  # 0.9 × 140.4 GiB / (1.25 × 0.6 + 0.5)
    assert share.share == 0.125


def test_a_paper_size_pix2pix_trial_gets_a_gpu_of_its_own():
    share = trials_per_gpu(PIX2PIX_PAPER, H200)
    assert share == GpuShare(trials=1, by_memory=15, by_time=1)  # memory would hold 15; its time is the GPU's
    assert share.share == 1.0


@pytest.mark.parametrize("footprint, gpu_bytes, trials, share", [
    (TrialFootprint(40 * GIB, 20.0, 2.0, 10**8), H200, 2, 0.5),  # memory-bound: 0.9 × 140 GiB / (1.25 × 40 + 0.5)
    (TrialFootprint(200 * GIB, 20.0, 2.0, 10**9), H200, 1, 1.0),  # more than a GPU holds: one to a GPU, never 0
    (TrialFootprint(GIB, 21.0, 3.0, 10**6), H200, 7, 0.1428),  # Ray keeps 4 decimals; 7 × 0.1428 fits in one
    (TrialFootprint(GIB, 9.0, 3.0, 10**6), H200, 3, 0.3333),
    (TrialFootprint(GIB, 9.0, 0.0, 10**6), H200, MAX_TRIALS_PER_GPU, 0.125),  # no kernel time measured: the cap
    (TrialFootprint(2 * GIB, 9.0, 0.5, 10**6), 16 * GIB, 4, 0.25),  # a 16 GiB GPU: 0.9 × 16 / 3 = 4.8
])
def test_the_share_is_one_over_what_memory_and_time_allow(footprint, gpu_bytes, trials, share):
    result = trials_per_gpu(footprint, gpu_bytes)
    assert (result.trials, result.share) == (trials, share)
    assert result.share * result.trials <= 1


def test_the_probe_takes_the_sweep_s_largest_model():
    space = search_spaces.get_space("desmoke_dark_channel")
    base = space.base_config("paper", {"data.source": "synthetic", "data.n_val": 2})
    configs = [base] + [space.resolve(base, {"row": row.label, "task.dark_channel": "none", "seed": 0})
                        for row in reversed(space.rows)]  # small first
    chosen = probe_config(configs)
    assert chosen["model"]["variant"] == "full" and chosen["model"]["ngf"] == 64
    with torch.device("meta"):
        from restore_core.models import create_model

        assert sum(p.numel() for p in create_model(**chosen["model"]).parameters()) == 54_413_955
    # the same model: the larger batch, then the larger patch
    lsid = search_spaces.get_space("lsid_lr")
    quick = lsid.base_config("quick")
    bigger = lsid.base_config("quick", {"train.batch_size": 8})
    assert probe_config([quick, bigger, quick]) is bigger


def test_auto_probes_the_largest_config_on_its_data_and_says_what_it_chose(capsys):
    space = search_spaces.get_space("lsid_lr")
    small = space.base_config("smoke")
    large = space.base_config("smoke", {"model.width": 0.25})
    shared = {data_key(validate_config(small)): prepare_shared_data(small)}
    probed = []

    def probe(config, data):
        probed.append((config, data))
        return SID_QUICK, H200

    assert auto_gpu_share([small, large], shared, probe=probe) == 0.125
    assert len(probed) == 1 and probed[0][0] is large and probed[0][1] is shared[data_key(validate_config(large))]
    assert capsys.readouterr().err == (
        "GPU: a probe trial (7.8 M parameters) peaked at 0.60 GiB and kept the GPU busy 1.0 of its 9.3 ms step: 8 "
        "trial(s) to a GPU (by the most; --gpus-per-trial 0.125; pass a number to choose another)\n")
    assert auto_gpu_share([small], shared, probe=lambda config, data: (PIX2PIX_PAPER, H200)) == 1.0
    assert "1 trial(s) to a GPU (by time; --gpus-per-trial 1;" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal where torch sees no GPU")
def test_the_probe_refuses_to_measure_without_a_gpu():
    config = search_spaces.get_space("lsid_lr").base_config("smoke")
    with pytest.raises(RuntimeError, match="measures a GPU; torch sees none here"):
        measure_footprint(config)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a node that declares a GPU torch cannot see")
def test_a_declared_gpu_torch_cannot_see_falls_back_to_the_fixed_share(capsys):
    """A Ray node started with --num-gpus on a CPU build of torch: the probe task (run here, where torch sees no GPU)
    measures nothing, and the sweep takes the fixed share with a warning instead of failing."""
    from sweeps.cluster.gpu_share import _measure_here
    from sweeps.settings.options import AUTO_GPU_SHARE

    space = search_spaces.get_space("lsid_lr")
    config = space.base_config("smoke")
    shared = {data_key(validate_config(config)): prepare_shared_data(config)}
    assert _measure_here(config, None) is None
    assert auto_gpu_share([config], shared, probe=_measure_here) == AUTO_GPU_SHARE
    assert "torch on its node sees none" in capsys.readouterr().err
