"""The manifest records the metric definitions a run's trials compute (its PSNR/SSIM convention and UQI as
configured) and how the seed study computed its own numbers."""

import pytest

import search_spaces
from sweeps.driver.runner import plan_sweep
from sweeps.settings.manifest import build_manifest
from sweeps.settings.options import SweepOptions


@pytest.mark.parametrize("space", search_spaces.list_spaces())
def test_every_space_records_the_studys_convention(space):
    manifest = build_manifest(plan_sweep(SweepOptions(space=space, profile="smoke")), [])
    assert len(manifest["study_metric_convention"]) > 80
    definitions = manifest["metric_definitions"]
    assert definitions["psnr_ssim_convention"] == "float" and "data range 1.0" in definitions["psnr"]
    assert "11x11 Gaussian window" in definitions["ssim"]


def test_the_run_s_own_convention_follows_its_config():
    lamba = plan_sweep(SweepOptions(space="lamba_loss", profile="smoke",
                                    sets={"task.metric_convention": "skimage_uint8"}))
    definitions = build_manifest(lamba, [])["metric_definitions"]
    assert definitions["psnr_ssim_convention"] == "skimage_uint8"
    assert "uint8" in definitions["psnr"] and "7x7 uniform window" in definitions["ssim"]
    desmoke = plan_sweep(SweepOptions(space="desmoke_dark_channel", profile="smoke", sets={"task.uqi": "gaussian11"}))
    manifest = build_manifest(desmoke, [])
    assert "11x11 Gaussian" in manifest["metric_definitions"]["uqi"]
    assert "0.6844" in manifest["study_metric_convention"]
