"""Real "Learning to See in the Dark" Sony data (Chen et al., CVPR 2018), read with rawpy.

Layout of the download (cchen156/Learning-to-See-in-the-Dark), ``root`` being the folder that holds it::

    root/Sony_train_list.txt   root/Sony_val_list.txt   root/Sony_test_list.txt
    root/Sony/short/00001_00_0.04s.ARW ...   root/Sony/long/00001_00_10s.ARW ...

A scene is named by the first five digits of its file names (``00001``; test scenes are ``1xxxx``, validation
scenes ``2xxxx``). Each list line pairs a short exposure with its long-exposure ground truth:
``./Sony/short/00001_00_0.04s.ARW ./Sony/long/00001_00_10s.ARW ISO200 F8``. The exposure times come from the file
names and the amplification ratio is ``min(gt_exposure / in_exposure, 300)`` as in train_Sony.py. The raw is
normalised with the Sony black level 512 and white level 16383 and packed to four channels R, G, B, G exactly as
``pack_raw``; the ground truth is ``rawpy.postprocess(use_camera_wb=True, half_size=False, no_auto_bright=True,
output_bps=16) / 65535``. Every problem with the data raises ``DataError`` naming the file or folder.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import rawpy

from restore_core.data.libraw import decode_raw
from restore_core.data.paths import file_problem, folder_problem
from restore_core.data.sid_scenes import SidEntry, scene_id, select_entries
from restore_core.errors import DataError, unknown_name

SONY_BLACK = 512  # black level of the Sony α7S II raws, hard-coded in train_Sony.py
SONY_WHITE = 16383  # 14-bit white level, hard-coded in train_Sony.py
MAX_RATIO = 300.0  # train_Sony.py caps the amplification here
SPLITS = ("train", "val", "test")
# The README asks to leave these test scenes out of quantitative results: the pairs are misaligned.
MISALIGNED_TEST_IDS = ("10034", "10045", "10172")
LIST_LINE_EXAMPLE = "./Sony/short/00001_00_0.04s.ARW ./Sony/long/00001_00_10s.ARW ISO200 F8"
_EXPOSURE = re.compile(r"_(\d+(?:\.\d+)?)s$")  # "00001_00_0.04s" -> 0.04 (train_Sony.py slices in_fn[9:-5])


def exposure_from_name(path: Path) -> float:
    """Exposure time in seconds from a SID file name (``00001_00_0.04s.ARW`` -> 0.04).

    Raises:
        DataError: if the name does not end in ``_<seconds>s.<ext>``.
    """
    match = _EXPOSURE.search(Path(path).stem)
    if not match or float(match.group(1)) <= 0:
        raise DataError(
            f"cannot read the exposure time from file name '{Path(path).name}'; expected e.g. 00001_00_0.04s.ARW"
        )
    return float(match.group(1))


def read_sid_list(root: str | Path, split: str, exclude_misaligned: bool = True) -> list[SidEntry]:
    """Parse ``Sony_<split>_list.txt`` under ``root`` into entries whose files all exist.

    Args:
        root: folder holding the list files and the ``Sony/`` folder.
        split: ``"train"``, ``"val"`` or ``"test"``.
        exclude_misaligned: drop the scenes the SID README calls misaligned (10034, 10045, 10172; test split).

    Returns:
        The entries in file order (one per line; a scene appears once per short exposure).

    Raises:
        UnknownNameError: for an unknown split.
        DataError: missing root folder or list file, a malformed line, a file name without an exposure time,
            or a line that names a missing file.
    """
    if split not in SPLITS:
        raise unknown_name("SID split", split, SPLITS)
    root = Path(root)
    problem = folder_problem(root)
    if problem:
        raise DataError(
            f"SID data folder '{root}' {problem}; expected the folder holding Sony_{split}_list.txt and Sony/"
        )
    list_file = root / f"Sony_{split}_list.txt"
    problem = file_problem(list_file)
    if problem:
        problem = "is missing" if problem == "does not exist" else problem
        raise DataError(f"SID list file '{list_file}' {problem}; expected lines like '{LIST_LINE_EXAMPLE}'")
    try:
        text = list_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:  # e.g. saved as UTF-16 by a Windows editor
        raise DataError(
            f"SID list file '{list_file}' is not UTF-8 text (byte {error.start} is 0x{error.object[error.start]:02x}); "
            f"expected plain text lines like '{LIST_LINE_EXAMPLE}'"
        ) from error
    except OSError as error:
        raise DataError(f"cannot read SID list file '{list_file}': {error.strerror or error}") from error
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2:
            raise DataError(
                f"{list_file}, line {number}: expected '<short raw> <long raw> [ISO] [F-number]', got '{line.strip()}'"
            )
        short_path, long_path = root / fields[0], root / fields[1]
        if exclude_misaligned and short_path.name.startswith(MISALIGNED_TEST_IDS):
            continue
        for path in (short_path, long_path):
            problem = file_problem(path)
            if problem:
                raise DataError(f"{list_file}, line {number}: file '{path}' {problem}")
        ratio = min(exposure_from_name(long_path) / exposure_from_name(short_path), MAX_RATIO)
        entries.append(SidEntry(short_path, long_path, ratio, *fields[2:4]))
    return entries


def check_disjoint_lists(root: str | Path, splits: tuple[str, ...] = SPLITS) -> None:
    """SID's train, val and test lists name disjoint scenes: a scene in two of them would let a trial train (or choose
    its checkpoint) on a scene it is then tested on. Only the lists are read.

    Raises:
        DataError: a scene named by two lists (the first such scene and the two list files), or any error of
            :func:`read_sid_list`.
    """
    seen: dict[str, str] = {}
    for split in splits:
        for scene in dict.fromkeys(scene_id(entry.short_path) for entry in read_sid_list(root, split)):
            if scene in seen:
                first, second = (Path(root) / f"Sony_{name}_list.txt" for name in (seen[scene], split))
                raise DataError(f"SID scene {scene} is in both '{first}' and '{second}'; the {seen[scene]} and {split} "
                                "splits must not share a scene (remove it from one list)")
            seen[scene] = split


def normalize_raw(raw_visible: np.ndarray, black: float = SONY_BLACK, white: float = SONY_WHITE) -> np.ndarray:
    """``max(raw − black, 0) / (white − black)`` as float32, the first line of train_Sony.py's ``pack_raw``."""
    return (np.maximum(raw_visible.astype(np.float32) - black, 0) / (white - black)).astype(np.float32)


def pack_raw(raw_visible: np.ndarray, black: float = SONY_BLACK, white: float = SONY_WHITE) -> np.ndarray:
    """train_Sony.py's ``pack_raw``: subtract the black level, normalise, pack to ``H/2×W/2×4`` (channels last).

    Args:
        raw_visible: ``H×W`` integer Bayer data as rawpy's ``raw_image_visible`` (RGGB, H and W even).
        black: black level.
        white: white level.

    Returns:
        float32 array ``H/2×W/2×4``, in [0, 1] for data up to the white level.
    """
    if raw_visible.ndim != 2 or raw_visible.shape[0] % 2 or raw_visible.shape[1] % 2:
        raise ValueError(f"pack_raw expects an H×W mosaic with even sides, got shape {raw_visible.shape}")
    im = normalize_raw(raw_visible, black, white)
    # (H/2, W/2, 4): the 2×2 cell's pixels (0,0), (0,1), (1,1), (1,0), i.e. R, G, B, G for RGGB. Lamba's
    # ``downshuffle`` and nn.PixelUnshuffle use (0,0), (0,1), (1,0), (1,1); lowlight.pack_bayer is the channels-first
    # equivalent of this order.
    return np.stack([im[0::2, 0::2], im[0::2, 1::2], im[1::2, 1::2], im[1::2, 0::2]], axis=2)


def _cfa_pattern(raw: rawpy.RawPy) -> str:
    """The 2×2 colour pattern as letters in reading order, e.g. "RGGB" (LibRaw calls the second green G too)."""
    description = raw.color_desc.decode()
    return "".join(description[index] for index in raw.raw_pattern.flatten())


def read_raw_bayer(
    path: str | Path, black: float | None = SONY_BLACK, white: float | None = SONY_WHITE
) -> tuple[np.ndarray, str]:
    """Read a raw file's visible Bayer data, normalised to [0, 1] after the black level.

    Args:
        path: any raw format LibRaw reads (Sony ARW, DNG, ...).
        black: black level; ``None`` takes the mean of the file's per-channel black levels.
        white: white level; ``None`` takes the file's.

    Returns:
        ``(bayer, pattern)``: the ``H×W`` float32 mosaic and its 2×2 colour pattern, e.g. ``"RGGB"``.

    Raises:
        DataError: if the file is missing, unreadable or not a Bayer raw.
    """

    def read(raw: rawpy.RawPy) -> tuple[np.ndarray, str, float, float]:
        visible = raw.raw_image_visible.copy()  # a view into LibRaw's buffer, freed on close
        pattern = _cfa_pattern(raw) if raw.raw_pattern is not None else ""
        return (visible, pattern, float(np.mean(raw.black_level_per_channel)) if black is None else black,
                float(raw.white_level) if white is None else white)

    path = Path(path)
    visible, pattern, black, white = decode_raw(path, read)
    if visible.ndim != 2 or len(pattern) != 4:
        raise DataError(f"raw file '{path}' is not a Bayer mosaic (shape {visible.shape}, pattern '{pattern}')")
    return normalize_raw(visible, black, white), pattern


def read_ground_truth(path: str | Path) -> np.ndarray:
    """Develop a long exposure as the SID ground truth: camera white balance, no auto-brightening, 16 bit.

    Returns:
        ``H×W×3`` float32 sRGB in [0, 1].

    Raises:
        DataError: if the file is missing or unreadable.
    """
    path = Path(path)
    rgb = decode_raw(path, lambda raw: raw.postprocess(use_camera_wb=True, half_size=False, no_auto_bright=True,
                                                    output_bps=16))
    return (rgb.astype(np.float32) / 65535.0).astype(np.float32)


def load_sid_pairs(
    root: str | Path, split: str, max_pairs: int | None = None, exclude_misaligned: bool = True,
    scenes: list[str] | None = None, n_scenes: int | None = None,
) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """Load the pairs of a SID split into memory: only those :func:`select_entries` keeps (about
    :func:`memory_bytes` of them).

    Args:
        root: folder holding ``Sony_<split>_list.txt`` and ``Sony/``.
        split: ``"train"``, ``"val"`` or ``"test"``.
        max_pairs: keep only the first pairs (after the scene selection; the full Sony set needs tens of GB).
        exclude_misaligned: see ``read_sid_list``.
        scenes: the scene ids to keep (:func:`scene_ids`), None for all.
        n_scenes: keep the first scenes only.

    Returns:
        ``(bayer_short, ratio, gt)`` per list line: the short exposure's ``H×W`` float32 Bayer in [0, 1] (black
        level 512 removed, not yet amplified), the ratio, and the ``H×W×3`` float32 ground truth in [0, 1]. Lines
        sharing a long exposure share one ground-truth array.

    Raises:
        DataError: for any problem with the folder, the list or a file, or when no pair is left.
    """
    if max_pairs is not None and max_pairs < 1:
        raise DataError(f"max_pairs must be at least 1, got {max_pairs}")
    list_file = Path(root) / f"Sony_{split}_list.txt"
    entries = select_entries(read_sid_list(root, split, exclude_misaligned), list_file, scenes, n_scenes, max_pairs)
    ground_truths: dict[Path, np.ndarray] = {}
    pairs = []
    for entry in entries:
        bayer, pattern = read_raw_bayer(entry.short_path)
        if pattern != "RGGB":
            raise DataError(
                f"raw file '{entry.short_path}' has colour pattern {pattern}; the SID Sony loader expects RGGB"
            )
        if entry.long_path not in ground_truths:
            ground_truths[entry.long_path] = read_ground_truth(entry.long_path)
        gt = ground_truths[entry.long_path]
        if gt.shape[:2] != bayer.shape:
            raise DataError(
                f"'{entry.short_path}' is {bayer.shape[0]}x{bayer.shape[1]} but its ground truth '{entry.long_path}' "
                f"develops to {gt.shape[0]}x{gt.shape[1]}"
            )
        pairs.append((bayer, entry.ratio, gt))
    return pairs
