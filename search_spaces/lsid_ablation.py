"""Layer ablations of the SID U-Net (seed 001, "Ablation study" tables), as data.

The study's figure of the ten networks is not in its text; this is the reading that fits all of its tables:

| label | network |
| --- | --- |
| default | all nine conv pairs (levels 1-4 encoder, the 512-channel middle pair, levels 4-1 decoder) |
| 1 | every pair reduced to a single conv |
| 2 | every pair extended to three convs |
| 3 | default without the middle pair |
| 9 | default without level 4 (conv4 and conv6 pairs), middle pair kept |
| 4 | 9 without the middle pair |
| 8 | 9 without level 3 as well (conv3 and conv7 pairs) |
| 5 | 8 without the middle pair |
| 7 | 8 without level 2 as well (conv2 and conv8 pairs) |
| 6 | 7 without the middle pair |
| 10 | one 1×1 conv from the packed input to the 12 output channels (interpretation: the study says "1 layer") |
| 10b | the other reading of 10: one 3×3 conv (SID's kernel everywhere else); not the study's row, no reported numbers |

Removing a level removes its encoder pair, its decoder twin and the pooling/deconv between them; removing the
middle pair feeds the last pooled encoder features straight into the first deconv. Channel counts adapt.
Network 10 is read as the 1×1 conv by default because it is what removing every pair leaves of SID's network (its
output layer); the study's numbers are attached to that row and its pairs name it.
"""

from restore_core.models.sid_unet import ABLATIONS
from search_spaces.lsid_lr import BASE, SMOKE, STUDY_METRICS
from search_spaces.parts import Pair, Row
from search_spaces.space import SearchSpace

NAMES = {
    "default": "default",
    "1": "1 · 1 conv/pair",
    "2": "2 · 3 convs/pair",
    "3": "3 · no middle",
    "9": "9 · no level 4",
    "4": "4 · no level 4, no middle",
    "8": "8 · no levels 3-4",
    "5": "5 · no levels 3-4, no middle",
    "7": "7 · no levels 2-4",
    "6": "6 · no levels 2-4, no middle",
    "10": "10 · single conv",
    "10b": "10b · single 3×3 conv",
}

# PSNR / SSIM of the study's ablation table (10 train / 10 test Sony images, the original 4000-epoch recipe).
REPORTED = {
    "default": (30.43, 0.83), "1": (30.08, 0.79), "2": (30.06, 0.80), "3": (30.09, 0.77), "4": (30.04, 0.79),
    "5": (29.79, 0.73), "6": (29.53, 0.67), "7": (29.90, 0.73), "8": (30.00, 0.78), "9": (30.18, 0.79),
    "10": (28.20, 0.39),
}

# The study's "difference" table: each step removes (or, for 2, adds) layers; a − b.
STEPS = [("default", "1"), ("2", "default"), ("default", "3"), ("3", "4"), ("4", "5"), ("5", "6"), ("6", "10"),
         ("default", "9"), ("9", "8"), ("8", "7")]
# Its "without/with" table for the middle pair g_conv5: with − without.
MIDDLE = [("default", "3"), ("9", "4"), ("8", "5"), ("7", "6")]

SPACE = SearchSpace(
    name="lsid_ablation",
    description="SID U-Net layer ablations: conv pairs removed or extended (Learning to See in the Dark)",
    reproduces="seed 001 (Learning to See in the Dark, reproduced), 'Ablation study' tables",
    base={**BASE, "train": {**BASE["train"], "steps": 400, "eval_every": 100}},
    metric="val/psnr",
    mode="max",
    rows=tuple(Row(NAMES[key], {"model": {"name": "sid_unet", **ABLATIONS[key]}}) for key in NAMES),
    scientific=("model",),
    nuisance=("train.seed",),
    fixed=("optim.lr", "optim.milestones", "loss", "data", "train.steps", "train.batch_size"),
    search="grid",
    scheduler="fifo",
    # paper: SID's recipe on the study's amount of data, the first 10 training and 10 test scenes; the study's own
    # choice (half indoor, half outdoor, by id) is --set data.scenes_train=[...] data.scenes_test=[...]
    profiles={"smoke": SMOKE, "paper": {"data": {"source": "sid", "patch": 1024, "tile": 1024, "n_train": 10,
                                                 "n_val": 10, "n_test": 10},
                                        "train": {"steps": 4000 * 10, "batch_size": 1, "eval_every": 10 * 100}}},
    pairs=tuple(Pair(NAMES[a], NAMES[b], "step") for a, b in STEPS)
    + tuple(Pair(NAMES[a], NAMES[b], "middle pair (with − without)") for a, b in MIDDLE),
    baseline="default",
    reported={NAMES[k]: {"val/psnr": p, "val/ssim": s} for k, (p, s) in REPORTED.items()},
    reading=__doc__,
    study_metrics=STUDY_METRICS,
)
