"""TV weight σ and GAN criterion of TCFL (seed 003, the reproduction's σ study: "果然也有 Deep Image Prior")."""

import dataclasses

from search_spaces.parts import Pair, Param
from search_spaces.space import SearchSpace

# The σ grid is the one the reproduction's README shows for its single-generator separation study (its TV weight
# was "set by hand", 人为调整, without a published grid); 0 adds the official recipe's "no TV term".
SIGMAS = (0, 0.1, 0.5, 1, 2.5, 5, 10)
# The GAN arms, each a set of task keys merged over the base: the official LSGAN, WGAN with the official weights, and
# WGAN with the reproduction's recipe (README "与原文不一样的地方": loss_identity × 25, frozen BN, D clipped at 1e-3).
# Its other differences are sizes and rates (128² crops, batch 24, 600 epochs, G 2e-4 / D 2e-5): the reproduction
# profile below.
GANS = {
    "lsgan": {"gan_mode": "lsgan"},
    "wgan": {"gan_mode": "wgan"},
    "wgan-repro": {"gan_mode": "wgan", "identity_weight": 25.0, "freeze_bn": True, "clip": 1e-3},
}
GAN_MODES = tuple(GANS)
GAN_MODE = Param("task", kind="choice", grid=GAN_MODES, choices=GANS, short="gan")
SIGMA = Param("loss.tv", kind="uniform", grid=SIGMAS, low=0.0, high=10.0, short="sigma")

# The official recipe (gengmufeng/TCFL-OCT code/train.py): DnCNN-10 noise generator, TCFL PatchGAN, LSGAN, λ = 6,
# fakes weighted 0.1 in the discriminator, Adam 2e-5 with betas (0.5, 0.999), batch 2, no TV term (σ = 0).
# The quick profile keeps the models and loss weights and shortens training: 64×64 crops of 96×96 tiles of the
# embedded grayscale photos, batch 1, and a 25× higher rate (5e-4) so that 160 steps reach the early phase the
# reproduction describes (with σ > 1 the generator first fits a clean-looking image). One trial takes ~105 s on
# one idle thread, so the 14-trial grid runs in ~13 minutes with two trials in parallel on two cores.
BASE = {
    "task": {"name": "tcfl", "gan_mode": "lsgan", "identity_weight": 6.0, "fake_weight": 0.1, "freeze_bn": False,
             "clip": 1e-3, "discriminator": {"name": "patchgan_in"}},
    "data": {"source": "synthetic", "tile": 96, "patch": 64, "n_scenes": 24, "repeats": 2, "n_clean": 24,
             "n_val": 8, "speckle": 0.25, "gaussian": 0.05},
    "model": {"name": "dncnn", "depth": 10, "features": 64},
    "loss": {"tv": 0.0},
    "optim": {"lr": 5e-4, "betas": [0.5, 0.999]},
    "train": {"steps": 160, "batch_size": 1, "eval_every": 40, "cost_size": 128},
}

SMOKE = {
    "data": {"tile": 32, "patch": 32, "n_scenes": 2, "n_clean": 2, "n_val": 2, "n_test": 2},
    "model": {"depth": 4, "features": 8},
    "task": {"discriminator": {"name": "patchgan_in", "ndf": 8}},
    # An untrained DnCNN with TCFL's N(0, 0.02) init emits almost the same (near-zero) noise map for every input in
    # eval mode: evaluated after 2 steps it counts as collapsed. After 8 steps its outputs differ (see the tests).
    "train": {"steps": 16, "eval_every": 8, "cost_size": 32, "log_images": 2},
}

# The paper's recipe on real OCT data (PKU37 layout as data.source=folders): full 640×640 B-scans, batch 2,
# lr 2e-5, 100 epochs of the 1850 noisy images (925 triplets of two per epoch, counted in steps of batch 2).
PAPER = {
    "data": {"source": "folders", "patch": 640},
    "optim": {"lr": 2e-5},
    "train": {"steps": 100 * 925 // 2, "batch_size": 2, "eval_every": 925, "cost_size": 640},
}

# The reproduction's sizes and rates (jkhu29/tcfl README and config.py): 128×128 crops, batch 24, 600 epochs, G at its
# config's 2e-4 and D set by hand to 2e-5, on the same folders; with the gan=wgan-repro arm this is its whole recipe.
REPRO_STEPS_PER_EPOCH = -(-925 // 24)
REPRODUCTION = {
    "data": {"source": "folders", "patch": 128},
    "optim": {"lr": 2e-4, "lr_d": 2e-5},
    "train": {"steps": 600 * REPRO_STEPS_PER_EPOCH, "batch_size": 24, "eval_every": 10 * REPRO_STEPS_PER_EPOCH,
              "cost_size": 128},
}

STUDY_METRICS = (
    "The reproduction (its DUKE17 numbers): PSNR with the peak R = max(img1.max(), img2.max()), not 1; SSIM by skimage "
    "on float grayscale without data_range (its author notes the SSIM differs from the paper's for that reason); "
    "GCMSE as here; EPI_V with the reference in the numerator. The paper: PSNR, SSIM, EPI, GCMSE, definitions not "
    "found. Here: grayscale in [0, 1], PSNR data range 1, torchmetrics SSIM 11x11 Gaussian, EPI_V with the denoised "
    "image in the numerator.")

_SPACE = SearchSpace(
    name="tcfl_tv_sigma",
    description="TCFL TV-loss weight σ × LSGAN / WGAN / WGAN with the reproduction's recipe on OCT-like speckle",
    reproduces="seed 003 (TCFL reproduction): the TV term σ it set by hand inside loss_identity ('Deep Image Prior' "
    "for σ > 1 under LSGAN) and its WGAN recipe; BM3D and NLM baselines",
    base=BASE,
    metric="val/psnr",
    mode="max",
    params=(GAN_MODE, SIGMA),
    scientific=("loss.tv", "task.gan_mode", "task.identity_weight", "task.freeze_bn"),
    nuisance=("train.seed", "data.seed"),
    fixed=("model", "task.discriminator", "task.fake_weight", "optim", "data.patch", "train.batch_size",
           "train.steps"),
    search="grid",
    scheduler="fifo",
    profiles={"smoke": SMOKE, "paper": PAPER, "reproduction": REPRODUCTION},
    study_metrics=STUDY_METRICS,
    reading="Each σ is compared with σ = 0 in the same GAN arm, and the reproduction's WGAN recipe with the official "
    "weights under WGAN at each σ; the baseline/bm3d and baseline/nlm rows are the classical denoisers on the same "
    "validation images (blind noise level).",
)


def label(gan_mode: str, sigma: float) -> str:
    """The label the space gives the trial with this GAN mode and σ (its own label rule, so that the pairs and the
    baseline name the trials' labels)."""
    return _SPACE.label({GAN_MODE.key: gan_mode, SIGMA.key: sigma})


PAIRS = tuple(
    Pair(label(mode, sigma), label(mode, 0), kind=f"TV σ vs none ({mode})")
    for mode in GAN_MODES for sigma in SIGMAS if sigma != 0
) + tuple(Pair(label("wgan-repro", sigma), label("wgan", sigma), kind="reproduction recipe vs official (wgan)")
          for sigma in SIGMAS)

SPACE = dataclasses.replace(_SPACE, pairs=PAIRS, baseline=label("lsgan", 0))
