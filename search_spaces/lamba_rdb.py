"""RDB study of the "Restoring Extremely Dark Images in Real Time" reproduction (seed 002, Table 2 "RDB blocks").

The reproduction replaced the RDB* blocks of the network's 1/32 branch by canonical RDBs and changed their number
from 3 to 2 and 4. Here the grid is both block kinds × 2, 3 and 4 blocks, all trained with the official loss.
"""

from restore_core.models.lamba_rt import variant_label
from search_spaces.lamba_loss import BASE, PAPER, REPORTED, REPRODUCTION, SMOKE, STUDY_METRICS
from search_spaces.parts import Pair, Row
from search_spaces.space import SearchSpace

BASELINE = variant_label("star", 3)
ROWS = tuple(
    Row(variant_label(kind, n), {"model": {"rdb": kind, "n_rdb": n}}) for kind in ("star", "plain") for n in (3, 2, 4)
)

PAIRS = (
    Pair(BASELINE, variant_label("plain", 3), "RDB* vs RDB"),
    Pair(variant_label("star", 2), variant_label("plain", 2), "RDB* vs RDB"),
    Pair(variant_label("star", 4), variant_label("plain", 4), "RDB* vs RDB"),
    Pair(variant_label("star", 2), BASELINE, "blocks vs 3"),
    Pair(variant_label("star", 4), BASELINE, "blocks vs 3"),
)

SPACE = SearchSpace(
    name="lamba_rdb",
    description="Lamba & Mitra's network with RDB* or plain RDB blocks, 2, 3 or 4 of them",
    reproduces="seed 002 (Restoring Extremely Dark Images in Real Time, reproduced), Table 2 'RDB blocks'",
    base=BASE,  # the official loss, the quick/smoke/paper settings of the loss study
    metric="val/psnr",
    mode="max",
    rows=ROWS,
    scientific=("model.rdb", "model.n_rdb"),
    nuisance=("train.seed",),
    fixed=("loss", "data.patch", "train.batch_size", "train.steps", "optim"),
    search="grid",
    scheduler="fifo",
    profiles={"smoke": SMOKE, "paper": PAPER, "reproduction": REPRODUCTION},
    pairs=PAIRS,
    baseline=BASELINE,
    # Lamba & Mitra's paper number for their network (3 × RDB*); the reproduction's table has no numbers in its text.
    reported={BASELINE: REPORTED["L1 + 0.2·(1−MS-SSIM)"]},
    study_metrics=STUDY_METRICS,
    reading="Grid search runs the six variants; Optuna/random search sample them as a categorical. The reproduction "
    "saw small differences between 2, 3 and 4 RDB* and between RDB* and RDB.",
)
