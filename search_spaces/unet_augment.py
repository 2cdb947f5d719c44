"""Artefact augmentation of the spill-detection U-Net (seed 004, section "Зашумление во время обучения")."""

from restore_core.config import deep_merge
from search_spaces import unet_perceptual
from search_spaces.parts import Param
from search_spaces.space import SearchSpace

# λ and backbone fixed at the study's best test F1 at the best-F1 threshold (VGG16, λ = 0.3: F1 0.291); override
# with --set loss.mse=... loss.perceptual=... task.perceptual_backbone=... to follow another sweep's best.
BASE = deep_merge(unet_perceptual.BASE, {
    "task": {"perceptual_backbone": "vgg16"},
    "loss": unet_perceptual.LOSS_BY_LAMBDA["0.3"],
})

SHARES = {"0": 0.0, "1/3": 1 / 3, "1": 1.0}

SPACE = SearchSpace(
    name="unet_augment",
    description="Spill detection by U-Net reconstruction error: share of each batch with white circles and blobs drawn",
    reproduces="seed 004 (U-Net with MSE + perceptual loss for spill detection), section on artefact augmentation",
    base=BASE,
    metric="val/f1",  # chosen on validation; test/f1 is what the tables report
    mode="max",
    params=(Param("task.augment_share", kind="choice", grid=tuple(SHARES), choices=SHARES, short="share"),),
    scientific=("task.augment_share",),
    nuisance=("train.seed",),
    fixed=("model", "data", "loss", "task.perceptual_backbone", "task.perceptual_weights", "task.score", "optim",
           "train"),
    search="grid",
    scheduler="fifo",
    profiles=unet_perceptual.SPACE.profiles,
    baseline="share=0",
    # The study augmented a third of each batch (its λ is not stated); it announced the whole batch without results.
    reported={"share=1/3": unet_perceptual.comparable(unet_perceptual.study_rows(unet_perceptual.study_table(
        (0.9151, 119, 545, 3120, 10, 0.9225, 0.8513), (0.8631, 121, 561, 3104, 8, 0.9380, 0.8469),
        (0.6411, 129, 769, 2896, 0, 1.0, 0.7902), (0.7521, 127, 617, 3048, 2, 0.9845, 0.8317),
    )))},
    study_metrics=unet_perceptual.STUDY_METRICS,
    reading="The target of an augmented input stays the clean image, so the U-Net learns to remove artefacts; the "
    "test anomalies also include streaks, which the augmentation never draws.",
)
