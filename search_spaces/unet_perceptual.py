"""MSE factor λ and feature network of the spill-detection U-Net (seed 004, tables "MSE_FACTOR" and "VGG16")."""

from search_spaces.parts import Param
from search_spaces.space import SearchSpace

# The study's five AlexNet runs were configured with mse_factor 0, 0.3, 0.6, 0.8 and 0.10 (the last one named
# UNET_MSE_FACTOR_10); 1, pure MSE, is a control the study did not run.
LAMBDAS = ("0", "0.1", "0.3", "0.6", "0.8", "1")
# λ sets both weights of λ·MSE + (1 − λ)·perceptual; λ = 1 switches the perceptual term off (weight 0).
LOSS_BY_LAMBDA = {lam: {"mse": float(lam), "perceptual": round(1 - float(lam), 6)} for lam in LAMBDAS}
RULES = ("best_f1", "tpr95", "tnr95", "mean")


def study_rows(rows: dict[str, tuple]) -> dict[str, float]:
    """The study's four threshold rows of one experiment as flat metrics, plus its best-F1 test F1.

    Args:
        rows: rule -> (threshold, TP, FP, TN, FN, TPR, TNR), as printed in the study.
    """
    out: dict[str, float] = {}
    for rule, (threshold, tp, fp, tn, fn, tpr, tnr) in rows.items():
        f1 = 2 * tp / (2 * tp + fp + fn)
        out.update({f"test/{rule}/threshold": threshold, f"test/{rule}/tp": tp, f"test/{rule}/fp": fp,
                    f"test/{rule}/tn": tn, f"test/{rule}/fn": fn, f"test/{rule}/tpr": tpr, f"test/{rule}/tnr": tnr,
                    f"test/{rule}/f1": round(f1, 4)})
    out["test/f1"] = out["test/best_f1/f1"]
    return out


def comparable(metrics: dict[str, float]) -> dict[str, float]:
    """The study's numbers that mean the same on another test set: F1 and the rates (its counts and thresholds
    depend on its 3794 test images and its score scale, and stay in ``REPORTED``)."""
    return {k: v for k, v in metrics.items() if k == "test/f1" or k.endswith(("/tpr", "/tnr", "/f1"))}


def study_table(*values: tuple) -> dict[str, tuple]:
    """The rows of one experiment in the order of ``RULES``."""
    return dict(zip(RULES, values))


# The study's test set: 3665 normal and 129 anomalous images ("proliv"). Its last AlexNet experiment is named
# UNET_MSE_FACTOR_10 but configured with mse_factor 0.10 (its config line), so its rows belong to λ = 0.1; λ = 1 has
# no reported numbers.
# The study's tables, label: (threshold, TP, FP, TN, FN, TPR, TNR) for best F1, TPR 95, TNR 95 and their mean.
REPORTED = {
    "λ=0, backbone=alexnet": study_table(
        (1.3541, 126, 618, 3047, 3, 0.9767, 0.8314), (1.5132, 124, 554, 3111, 5, 0.9612, 0.8488),
        (0.7251, 129, 1653, 2012, 0, 1.0, 0.5490), (1.1191, 129, 837, 2828, 0, 1.0, 0.7716)),
    "λ=0.3, backbone=alexnet": study_table(
        (1.5502, 128, 647, 3018, 1, 0.9922, 0.8235), (1.6062, 128, 615, 3050, 1, 0.9922, 0.8322),
        (1.0891, 129, 1257, 2408, 0, 1.0, 0.6570), (1.3476, 129, 812, 2853, 0, 1.0, 0.7784)),
    "λ=0.6, backbone=alexnet": study_table(
        (1.7432, 128, 647, 3018, 1, 0.9922, 0.8235), (1.8962, 122, 594, 3071, 7, 0.9457, 0.8379),
        (1.3671, 129, 1025, 2640, 0, 1.0, 0.7203), (1.6317, 129, 700, 2965, 0, 1.0, 0.8090)),
    "λ=0.8, backbone=alexnet": study_table(
        (1.6372, 126, 729, 2936, 3, 0.9767, 0.8011), (1.7282, 121, 674, 2991, 8, 0.9380, 0.8161),
        (1.4851, 129, 942, 2723, 0, 1.0, 0.7430), (1.6067, 126, 750, 2915, 3, 0.9767, 0.7954)),
    "λ=0.1, backbone=alexnet": study_table(
        (1.5012, 129, 630, 3035, 0, 1.0, 0.8281), (1.7832, 122, 503, 3162, 7, 0.9457, 0.8628),
        (0.8841, 129, 1510, 2155, 0, 1.0, 0.5880), (1.3336, 129, 762, 2903, 0, 1.0, 0.7921)),
    "λ=0, backbone=vgg16": study_table(
        (0.3280, 127, 812, 2853, 2, 0.9845, 0.7784), (0.3330, 126, 788, 2877, 3, 0.9767, 0.7850),
        (0.2360, 129, 1381, 2284, 0, 1.0, 0.6232), (0.2845, 129, 1023, 2642, 0, 1.0, 0.7209)),
    "λ=0.3, backbone=vgg16": study_table(
        (0.7401, 128, 623, 3042, 1, 0.9922, 0.8300), (0.7771, 124, 602, 3063, 5, 0.9612, 0.8357),
        (0.6391, 129, 794, 2871, 0, 1.0, 0.7834), (0.7081, 128, 668, 2997, 1, 0.9922, 0.8177)),
    "λ=0.6, backbone=vgg16": study_table(
        (1.0701, 127, 641, 3024, 2, 0.9845, 0.8251), (1.0951, 123, 629, 3036, 6, 0.9535, 0.8284),
        (0.9951, 129, 727, 2938, 0, 1.0, 0.8016), (1.0451, 127, 665, 3000, 2, 0.9845, 0.8186)),
}

# quick: the default, sized for a 2-core CPU (10 trials, 2 at a time, 1 thread each: about 8 minutes on an idle
# machine; one step of batch 8 takes about 0.12 s with MSE or AlexNet features and 0.56 s with VGG16's, hence 64×64
# tiles). Pretrained weights cannot be downloaded here, so the feature networks are random (one fixed draw, the same in
# every trial); with torchvision's files in $TORCH_HOME/hub/checkpoints, --set task.perceptual_weights=imagenet uses
# them. The study trained its λ runs without augmentation. On the embedded photos a U-Net so trained copies the spills
# (test ROC AUC 0.57 after 400 steps at λ = 1, 0.67 with larger spills), which leaves nothing for λ to change; with a
# third of each batch augmented, as in the study's later run, it removes them (AUC 0.84), so quick trains that way.
# The paper profile and --set task.augment_share=0 run the study's setting.
BASE = {
    "task": {"name": "anomaly", "score": "mse", "augment_share": 1 / 3, "perceptual_backbone": "alexnet",
             "perceptual_weights": "random", "perceptual_norm": "none"},
    "data": {"source": "synthetic", "tile": 64, "patch": 64, "n_train": 160, "n_val_normal": 40, "n_val_anomalous": 20,
             "n_test_normal": 60, "n_test_anomalous": 30},
    "model": {"name": "unet", "depth": 3, "width": 16},
    "loss": {"mse": 0.8, "perceptual": 0.2},
    "optim": {"lr": 1e-3, "milestones": [0.8], "gamma": 0.1},
    # One evaluation, at the end, as the study evaluated its trained models once; its checkpoint is then evaluated on
    # test, with thresholds chosen on validation.
    "train": {"steps": 300, "batch_size": 8, "eval_every": 300, "cost_size": 64},
}

# Seconds per trial on one thread. A higher rate gets BatchNorm's running statistics past their initial values
# within the two steps before the first evaluation (otherwise the eval-mode outputs look collapsed).
SMOKE = {
    "data": {"tile": 32, "patch": 32, "n_train": 4, "n_val_normal": 3, "n_val_anomalous": 3, "n_test_normal": 3,
             "n_test_anomalous": 3},
    "model": {"depth": 2, "width": 8},
    "optim": {"lr": 1e-2, "milestones": []},
    "train": {"steps": 4, "batch_size": 2, "eval_every": 2, "cost_size": 32, "log_images": 2},
}

# The study's dataset statistics (its README, "Предобработка данных"), the images normalised with them as its
# transforms.Normalize(mean, std) does.
STUDY_MEAN = [0.42343804240226746, 0.5342181324958801, 0.4620889723300934]
STUDY_STD = [0.04519784078001976, 0.05054565891623497, 0.046623989939689636]

# The study's recipe on real data (normal/ and anomalous/ under data.root) with ImageNet features, its normalisation
# and anomaly scores from the training loss (its thresholds change with the backbone at λ = 0, which a pixel MSE would
# not do). The study names neither its image size nor its schedule; these are the classic U-Net (depth 4, width 64)
# at 256×256, batch 16.
PAPER = {
    "task": {"perceptual_weights": "imagenet", "augment_share": 0.0, "input_mean": STUDY_MEAN, "input_std": STUDY_STD,
             "score": "loss"},
    "data": {"source": "folders", "tile": 256, "patch": 256, "n_val_normal": 400, "n_test_normal": 3665,
             "n_val_anomalous": 100},
    "model": {"depth": 4, "width": 64},
    "optim": {"lr": 1e-4, "milestones": []},
    "train": {"steps": 20000, "batch_size": 16, "eval_every": 20000, "cost_size": 256},
}

STUDY_METRICS = ("Detection counts only: thresholds chosen on validation (best F1, TPR 95 %, TNR 95 %, their mean), "
                 "TP/FP/TN/FN/TPR/TNR on its 3665 normal + 129 anomalous test images; its score scale is its own "
                 "(thresholds near 1.5 suggest the training loss on normalised images). Here the same rules and "
                 "counts; val/psnr (the reconstruction of normal tiles, data range 1, float) has no counterpart.")

SPACE = SearchSpace(
    name="unet_perceptual",
    description="Spill detection by U-Net reconstruction error: MSE factor λ × AlexNet/VGG16 perceptual loss",
    reproduces="seed 004 (U-Net with MSE + perceptual loss for spill detection), tables 'MSE_FACTOR' and 'VGG16'",
    base=BASE,
    metric="val/f1",  # chosen on validation; test/f1 is what the tables report
    mode="max",
    params=(
        Param("loss", kind="choice", grid=LAMBDAS, choices=LOSS_BY_LAMBDA, short="λ"),
        Param("task.perceptual_backbone", kind="choice", grid=("alexnet", "vgg16"), short="backbone"),
    ),
    scientific=("loss", "task.perceptual_backbone"),
    nuisance=("train.seed",),
    fixed=("model", "data", "task.perceptual_weights", "task.score", "task.augment_share", "optim", "train"),
    search="grid",
    scheduler="fifo",
    profiles={"smoke": SMOKE, "paper": PAPER},
    baseline="λ=1, backbone=alexnet",
    reported={label: comparable(study_rows(rows)) for label, rows in REPORTED.items()},
    study_metrics=STUDY_METRICS,
    reading="λ = 1 has no perceptual term, so its two backbone rows train the same model with the same seed (identical "
    "results when task.score is mse or loss; with score=mse+perceptual the backbone still scores). The study's "
    "reported rows are λ = 0, 0.1, 0.3, 0.6, 0.8 (AlexNet) and 0, 0.3, 0.6 (VGG16); λ = 1 is a pure-MSE control it "
    "did not run. Thresholds are chosen on validation and applied to test; test/f1 is the test F1 at the best-F1 "
    "threshold.",
)
