"""Real raw files for the SID tests: 16-bit uncompressed RGGB DNGs written with pidng, which rawpy reads back
bit-exactly (the tag set is explained in tests/restore_core/data/test_sid_raw.py)."""

from pathlib import Path

import numpy as np
from pidng.core import RAW2DNG
from pidng.defs import CFAPattern, DNGVersion, PhotometricInterpretation
from pidng.dng import DNGTags, Tag

BLACK, WHITE = 512, 16383  # the Sony α7S II levels that the SID loader assumes
IDENTITY_MATRIX = [[1, 1], [0, 1], [0, 1], [0, 1], [1, 1], [0, 1], [0, 1], [0, 1], [1, 1]]  # rationals


def write_dng(path: Path, counts: np.ndarray) -> None:
    """Write ``counts`` (``H×W`` raw values) as a 16-bit RGGB Bayer DNG with black level 512 and white level 16383."""
    tags = DNGTags()
    for tag, value in [
        (Tag.ImageWidth, counts.shape[1]), (Tag.ImageLength, counts.shape[0]),
        (Tag.TileWidth, counts.shape[1]), (Tag.TileLength, counts.shape[0]),  # pidng writes the data as one tile
        (Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array),
        (Tag.SamplesPerPixel, 1), (Tag.BitsPerSample, 16), (Tag.CFARepeatPatternDim, [2, 2]),
        (Tag.CFAPattern, CFAPattern.RGGB), (Tag.BlackLevel, BLACK), (Tag.WhiteLevel, WHITE),
        (Tag.ColorMatrix1, IDENTITY_MATRIX), (Tag.AsShotNeutral, [[1, 1], [1, 1], [1, 1]]),
        (Tag.Make, "Test"), (Tag.Model, "RGGB"), (Tag.DNGVersion, DNGVersion.V1_4),
        (Tag.DNGBackwardVersion, DNGVersion.V1_2),
    ]:
        tags.set(tag, value)
    writer = RAW2DNG()
    writer.options(tags, path=str(path.parent), compress=False)
    writer.convert(counts.astype(np.uint16), filename=path.name)
