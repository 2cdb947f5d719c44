"""Generator-only TCFL with the N_A/N_B separation term (seed 003, the reproduction's "可以只用一个生成器嘛": can one
generator do without the discriminator?)."""

import dataclasses

from restore_core.config import deep_merge
from search_spaces import tcfl_tv_sigma
from search_spaces.parts import Pair, Param
from search_spaces.space import SearchSpace

# The reproduction's grid (its README table of six images); 0 adds the run without the term, the degenerate case its
# README derives (G(x) = A for every x zeroes the identity loss as A → 0), which collapse detection should stop.
SIGMAS = (0, 0.1, 0.5, 1, 2.5, 5, 10)
SIGMA = Param("loss.separation", kind="uniform", grid=SIGMAS, low=0.0, high=10.0, short="sigma")

# tcfl_tv_sigma's recipe without the discriminator and without TV: the loss is λ·(identity + σ·(exp(−L1(n_A, n_B))
# − 1)). No D also makes a quick trial about a third cheaper (six DnCNN passes, no PatchGAN calls).
BASE = deep_merge(tcfl_tv_sigma.BASE, {"task": {"gan_mode": "none"}, "loss": {"tv": 0.0, "separation": 0.0}})

_SPACE = SearchSpace(
    name="tcfl_separation",
    description="Generator-only TCFL (no discriminator): weight σ of the N_A/N_B separation term",
    reproduces="seed 003 (TCFL reproduction), its single-generator study: σ·(exp(−L1(N_A, N_B)) − 1) for σ in "
    "{0.1, 0.5, 1, 2.5, 5, 10}, trainers.py line 56",
    base=BASE,
    metric="val/psnr",
    mode="max",
    params=(SIGMA,),
    scientific=("loss.separation",),
    nuisance=("train.seed", "data.seed"),
    fixed=("model", "task.gan_mode", "task.identity_weight", "loss.tv", "optim", "data.patch", "train.batch_size",
           "train.steps"),
    search="grid",
    scheduler="fifo",
    profiles={name: tcfl_tv_sigma.SPACE.profiles[name] for name in ("smoke", "paper")},
    study_metrics="The reproduction showed this study as images only, without numbers. " + tcfl_tv_sigma.STUDY_METRICS,
    reading="No discriminator is built. σ = 0 is the degenerate generator-only run (expected to collapse); the "
    "reproduction saw σ < 1 behave like its runs with a discriminator and σ > 1 pull the two noise maps too far apart.",
)


def label(sigma: float) -> str:
    """The label of the trial with separation weight ``sigma``."""
    return _SPACE.label({SIGMA.key: sigma})


SPACE = dataclasses.replace(
    _SPACE,
    pairs=tuple(Pair(label(sigma), label(0), kind="separation σ vs none") for sigma in SIGMAS if sigma),
    baseline=label(0),
)
