"""Dark channel on/off × generator size of the desmoking study (seed 000: Salazar-Colores et al., IEEE Access 2020,
as reproduced by karolprzyb/DL4H-Desmoking-Laparoscopy-Surgery-Images)."""

from search_spaces.parts import Pair, Param, Row
from search_spaces.space import SearchSpace

# The two generators: pix2pix's unet_256 (8 down-samplings) and the reproduction's "small" one without layers 6, 7,
# 10 and 11 (6 down-samplings). The task derives model.in_channels from task.dark_channel (3 or 4).
ROWS = (
    Row("full", {"model": {"variant": "full"}}),
    Row("small", {"model": {"variant": "small"}}),
)
DARK = Param("task.dark_channel", kind="choice", grid=("none", "min", "patch15"), short="dark")

# What the study asked: does the dark channel help, for each generator; and does the smaller generator cost quality.
PAIRS = tuple(
    Pair(f"{size}, dark={mode}", f"{size}, dark=none", kind="dark channel")
    for size in ("full", "small") for mode in ("min", "patch15")
) + tuple(Pair(f"small, dark={mode}", f"full, dark={mode}", kind="generator size") for mode in DARK.grid)

# The reproduction's best row (its README table, Cholec80 with synthetic smoke, 60 epochs): the full generator without
# the dark channel. Its other rows are not legible in the sources consulted, so they are left out. Compared only with
# runs of the reproduction profile, which follows its recipe and its UQI; on its test videos (21-22) as it reported.
REPORTED = {"full, dark=none": {"val/psnr": 25.85, "val/ssim": 0.7769, "val/uqi": 0.6844, "val/fsimc": 0.8998}}

# Quick: the study's recipe (pix2pix: Adam 2e-4, β1 0.5, λ_L1 100, vanilla GAN, 70×70 PatchGAN, constant then
# linear decay) on synthetic smoke over 256×256 tiles of the embedded photos. 256 because unet_256 needs sides that
# are multiples of 2^8; the widths are an eighth of the paper's (ngf = ndf = 8 instead of 64: 54× fewer MACs) and
# the batch is 1 so that the 18 trials of three seeds fit in about 15 minutes on two CPU cores. The photos give 15
# such tiles: 9 to train on, 3 to choose the checkpoint on, 3 held out for the test evaluation.
BASE = {
    "task": {"name": "desmoke", "dark_channel": "min", "gan_loss": "vanilla", "lambda_l1": 100.0, "ndf": 8},
    "data": {"source": "synthetic", "tile": 256, "n_train": 9, "n_val": 3, "n_test": 3, "smoke_per_tile": 4,
             "seed": 0},
    "model": {"name": "pix2pix_unet", "variant": "full", "ngf": 8, "init": "xavier"},
    "loss": {},
    "optim": {"lr": 2e-4, "betas": [0.5, 0.999], "schedule": "linear", "decay_start": 0.5},
    "train": {"steps": 1500, "batch_size": 1, "eval_every": 250, "cost_size": 256, "log_images": 4},
}

# Smoke: a whole trial in a few seconds (unet_256 still needs 256 pixels, so the widths shrink instead).
SMOKE = {
    "task": {"ndf": 2, "d_layers": 2},
    "data": {"n_train": 2, "n_val": 2, "n_test": 2, "smoke_per_tile": 1},
    "model": {"ngf": 2},
    "train": {"steps": 2, "eval_every": 1, "log_images": 2},
}

# The official training command: unet_256, ngf = ndf = 64, batch 16, 50 epochs at 2e-4 then 5 of linear decay
# (decay from 50/55 of training), images resized to 256, xavier init, on users' real pairs (data.root). The paper
# does not give its training-set size: the steps below are 55 epochs of 10,000 pairs; set train.steps to
# 55·⌈N/16⌉ for N pairs of your own.
PAPER_TRAIN_PAIRS = 10_000
PAPER_STEPS_PER_EPOCH = -(-PAPER_TRAIN_PAIRS // 16)
PAPER = {
    "task": {"ndf": 64},
    "data": {"source": "folders", "tile": 256, "n_val": 500, "n_test": 500},  # a test/ folder replaces the 500
    "model": {"ngf": 64},
    "optim": {"decay_start": 50 / 55},
    "train": {"steps": 55 * PAPER_STEPS_PER_EPOCH, "batch_size": 16, "eval_every": PAPER_STEPS_PER_EPOCH},
}

# The DL4H reproduction's recipe (karolprzyb/DL4H-Desmoking-Laparoscopy-Surgery-Images, train_and_run.ipynb, gan.py,
# synth_data_source.py), beside the official pix2pix one above: an unconditional 3-channel discriminator, L1 as the GAN
# criterion with its D labels swapped (fake 1, real 0), Adam 2e-4 (0.5, 0.999) at a constant rate, batch 8, 60 epochs
# of 27,464 batches (its Cholec80 frames), evaluated every 1718 batches; frames resized to 512 and randomly rotated,
# crop-resized to 256 and flipped, the dark channel computed on the whole frame first (its dcp_alternative); UQI as its
# patched torchmetrics computed it. Its generator is pix2pix's (full, or small without layers 6, 7, 10, 11).
DL4H_STEPS_PER_EPOCH = 27_464
REPRODUCTION = {
    "task": {"ndf": 64, "conditional_d": False, "gan_loss": "l1", "swap_d_labels": True, "augment": "dl4h",
             "dark_channel_before_transforms": True, "uqi": "gaussian11"},
    "data": {"source": "folders", "tile": 512, "patch": 256, "n_val": 500, "n_test": 500},
    "model": {"ngf": 64},
    "optim": {"schedule": "step", "milestones": []},
    "train": {"steps": 60 * DL4H_STEPS_PER_EPOCH, "batch_size": 8, "eval_every": 1718},
}

STUDY_METRICS = (
    "The paper reports PSNR and SSIM (no metric code, values not found). The DL4H reproduction (its 25.85 / 0.7769 / "
    "0.6844 / 0.8998): PSNR on [-1, 1] images with range 2 (the same as range 1 on [0, 1]); its own SSIM, 11x11 "
    "Gaussian sigma 1.5 without padding, C1 = (0.01*2)^2; UQI by torchmetrics patched (11x11 Gaussian, clamp, "
    "nanmean); FSIMc by piq; per batch of 8, averaged over batches. Here: PSNR range 1 on [0, 1], torchmetrics SSIM "
    "(11x11 Gaussian, 5-pixel reflect padding), UQI with Wang's 8x8 window (task.uqi=gaussian11, the reproduction "
    "profile, is the reproduction's), FSIMc by piq 0.8.0; per image, averaged over images.")

SPACE = SearchSpace(
    name="desmoke_dark_channel",
    description="pix2pix desmoking: dark channel none/min/patch15 × full/small U-Net (embedded dark channel study)",
    reproduces="seed 000 (Desmoking laparoscopy images with an embedded dark channel, DL4H reproduction table)",
    base=BASE,
    metric="val/psnr",
    mode="max",
    rows=ROWS,
    params=(DARK,),
    scientific=("task.dark_channel", "model.variant"),
    nuisance=("train.seed",),
    fixed=("task.gan_loss", "task.lambda_l1", "model.ngf", "task.ndf", "optim", "train.steps", "train.batch_size",
           "data.tile"),
    search="grid",
    scheduler="fifo",
    profiles={"smoke": SMOKE, "paper": PAPER, "reproduction": REPRODUCTION},
    pairs=PAIRS,
    baseline="full, dark=none",
    reported=REPORTED,
    reported_profiles=("reproduction",),
    study_metrics=STUDY_METRICS,
    reading="Grid search runs both generators with each dark channel; Optuna/random search sample the dark channel "
    "for the base (full) generator. In quick, ngf = ndf = 8 (the paper's 64 costs 54× the MACs), batch 1 and 1500 "
    "steps: a CPU-sized version of the study, not its scale.",
)
