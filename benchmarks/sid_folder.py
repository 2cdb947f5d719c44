#!/usr/bin/env python
"""Write a folder in the layout of the Learning-to-See-in-the-Dark Sony set, with real raw files, for benchmarks
that need a dataset of realistic size without the download (SID: Chen et al., CVPR 2018,
github.com/cchen156/Learning-to-See-in-the-Dark).

    python benchmarks/sid_folder.py OUT --pairs 8 --height 1424 --width 2128

``OUT`` gets ``Sony/short``, ``Sony/long`` and ``Sony_{train,val,test}_list.txt``, the layout that
``data.source=sid`` reads (restore_core/data/sid_raw.py). Each pair is one scene: an embedded photo
(restore_core/data/photos.py; the six colour photos in turn, flipped on later rounds so no two scenes are equal)
resized to the frame, taken to linear light, mosaicked RGGB and exposed twice with Poisson-Gaussian noise
(restore_core/data/lowlight.py): the long exposure at full signal (10 s) and a short one at 1/100, 1/250 or 1/300 of
it (0.1 s, 0.04 s, 0.033 s, SID's three ratios; 10/0.033 is capped at 300 by the loader). The files are 16-bit
uncompressed RGGB DNGs with the Sony black (512) and white (16383) levels, written with pidng (in the ``test``
extras) exactly as the SID tests write them, so rawpy reads the counts back bit-exactly.

The val and test lists hold a few pairs of small frames (``--eval-height``×``--eval-width``): every trial evaluates
whole frames and keeps its own model inputs for them, so small ones keep evaluation out of a memory measurement
of the training data. 1424×2128 is half the Sony α7S II frame in each side; the low-light task keeps a pair as
float32 Bayer plus float32 sRGB ground truth, 16 bytes a pixel after cropping to multiples of 64 (1408×2112:
45.4 MiB a pair).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from pidng.core import RAW2DNG
from pidng.defs import CFAPattern, DNGVersion, PhotometricInterpretation
from pidng.dng import DNGTags, Tag

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from restore_core import cli  # noqa: E402
from restore_core.data.lowlight import BLACK_LEVEL, WHITE_LEVEL, simulate_short_exposure  # noqa: E402
from restore_core.data.photos import COLOUR_PHOTOS, load_photo  # noqa: E402
from restore_core.errors import ConfigError  # noqa: E402

IDENTITY_MATRIX = [[1, 1], [0, 1], [0, 1], [0, 1], [1, 1], [0, 1], [0, 1], [0, 1], [1, 1]]  # rationals
LONG_EXPOSURE = "10s"
SHORT_EXPOSURES = ("0.1s", "0.04s", "0.033s")  # ratios 100, 250 and 300 (capped), as in the Sony set
FIRST_ID = {"train": 0, "test": 10000, "val": 20000}  # SID numbers its scenes 0xxxx, 1xxxx and 2xxxx by split
SCENE_OFFSET = {"train": 0, "val": 1, "test": 2}  # val and test start at other photos than train


def write_dng(path: Path, counts: np.ndarray, black: int = BLACK_LEVEL, white: int = WHITE_LEVEL) -> None:
    """A 16-bit uncompressed RGGB DNG with the given black and white levels (default: the Sony ones). The identity
    ColorMatrix1 and neutral AsShotNeutral give rawpy a camera white balance of [1, 1, 1] (see
    tests/restore_core/data/test_sid_raw.py)."""
    tags = DNGTags()
    for tag, value in [
        (Tag.ImageWidth, counts.shape[1]), (Tag.ImageLength, counts.shape[0]),
        (Tag.TileWidth, counts.shape[1]), (Tag.TileLength, counts.shape[0]),  # pidng writes one tile
        (Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array),
        (Tag.SamplesPerPixel, 1), (Tag.BitsPerSample, 16), (Tag.CFARepeatPatternDim, [2, 2]),
        (Tag.CFAPattern, CFAPattern.RGGB), (Tag.BlackLevel, black), (Tag.WhiteLevel, white),
        (Tag.ColorMatrix1, IDENTITY_MATRIX), (Tag.AsShotNeutral, [[1, 1], [1, 1], [1, 1]]),
        (Tag.Make, "Benchmark"), (Tag.Model, "RGGB"), (Tag.DNGVersion, DNGVersion.V1_4),
        (Tag.DNGBackwardVersion, DNGVersion.V1_2),
    ]:
        tags.set(tag, value)
    writer = RAW2DNG()
    writer.options(tags, path=str(path.parent), compress=False)
    writer.convert(counts.astype(np.uint16), filename=path.name)


def scene(index: int, height: int, width: int) -> np.ndarray:
    """``(height, width, 3)`` sRGB in [0, 1]: colour photo ``index mod 6`` resized, flipped by the round."""
    photo = load_photo(COLOUR_PHOTOS[index % len(COLOUR_PHOTOS)])
    round_ = index // len(COLOUR_PHOTOS)
    if round_ % 2:
        photo = photo[:, ::-1]
    if round_ // 2 % 2:
        photo = photo[::-1]
    return cv2.resize(np.ascontiguousarray(photo), (width, height), interpolation=cv2.INTER_LINEAR).clip(0, 1)


def write_split(root: Path, split: str, pairs: int, height: int, width: int, rng: np.random.Generator) -> None:
    lines = []
    for index in range(pairs):
        scene_id = f"{FIRST_ID[split] + index + 1:05d}"
        short_time = SHORT_EXPOSURES[index % len(SHORT_EXPOSURES)]
        ratio = float(LONG_EXPOSURE[:-1]) / float(short_time[:-1])
        srgb = scene(SCENE_OFFSET[split] + index, height, width)
        short, long = f"Sony/short/{scene_id}_00_{short_time}.dng", f"Sony/long/{scene_id}_00_{LONG_EXPOSURE}.dng"
        write_dng(root / long, simulate_short_exposure(srgb, rng, 1.0))
        write_dng(root / short, simulate_short_exposure(srgb, rng, ratio))
        lines.append(f"./{short} ./{long} ISO200 F8")
    (root / f"Sony_{split}_list.txt").write_text("\n".join(lines) + "\n")


def write_sid_folder(
    root: str | Path,
    pairs: int,
    height: int = 1424,
    width: int = 2128,
    eval_pairs: int = 2,
    eval_height: int = 256,
    eval_width: int = 384,
    seed: int = 0,
) -> Path:
    """Write a SID-layout folder of real DNG raws under ``root`` (created if missing).

    Args:
        root: the folder to fill (``data.root`` of ``data.source=sid``).
        pairs: training pairs (one scene and one short exposure each).
        height: training frame height in pixels (even).
        width: training frame width in pixels (even).
        eval_pairs: pairs in each of the val and test lists.
        eval_height: val/test frame height (even).
        eval_width: val/test frame width (even).
        seed: noise seed; the same arguments write the same files.

    Returns:
        ``root`` as a Path.
    """
    if min(pairs, eval_pairs) < 1:
        raise ValueError(f"pairs and eval_pairs must be at least 1; got {pairs}, {eval_pairs}")
    if any(size % 2 for size in (height, width, eval_height, eval_width)):
        raise ValueError(f"frame sides must be even (RGGB cells); got {height}x{width}, {eval_height}x{eval_width}")
    root = Path(root)
    (root / "Sony" / "short").mkdir(parents=True, exist_ok=True)
    (root / "Sony" / "long").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    write_split(root, "train", pairs, height, width, rng)
    for split in ("val", "test"):
        write_split(root, split, eval_pairs, eval_height, eval_width, rng)
    return root


def frame_side(text: str) -> int:
    """An argparse ``type``: an even number of pixels (whole RGGB cells), at least 2."""
    value = cli.whole_number(2)(text)
    if value % 2:
        raise argparse.ArgumentTypeError(f"must be even (whole 2×2 RGGB cells); got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("out", help="folder to write (created if missing)")
    parser.add_argument("--pairs", type=cli.whole_number(1), default=8, help="training pairs")
    parser.add_argument("--height", type=frame_side, default=1424, help="training frame height (even)")
    parser.add_argument("--width", type=frame_side, default=2128, help="training frame width (even)")
    parser.add_argument("--eval-pairs", type=cli.whole_number(1), default=2,
                        help="pairs in each of the val and test lists")
    parser.add_argument("--eval-height", type=frame_side, default=256, help="val/test frame height (even)")
    parser.add_argument("--eval-width", type=frame_side, default=384, help="val/test frame width (even)")
    parser.add_argument("--seed", type=cli.whole_number(0), default=0, help="noise seed")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_user_facing(lambda: write(args), interrupted="interrupted")


def write(args: argparse.Namespace) -> None:
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise ConfigError(f"{args.out} is a file; expected a folder to write the SID layout into (created if missing)")
    try:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create the folder {args.out}: {error.strerror or error}") from error
    root = write_sid_folder(args.out, args.pairs, args.height, args.width, args.eval_pairs, args.eval_height,
                            args.eval_width, args.seed)
    size = sum(path.stat().st_size for path in root.rglob("*.dng"))
    print(f"{root}: {args.pairs} training pairs of {args.height}x{args.width}, {args.eval_pairs} val and test pairs "
          f"of {args.eval_height}x{args.eval_width}; {size / (1 << 20):.0f} MB of DNG files")


if __name__ == "__main__":
    sys.exit(main())
