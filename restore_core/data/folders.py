"""Users' own image folders: paired ``input/`` + ``target/`` (desmoking, denoising) and class folders (anomaly task).

Images are decoded with OpenCV (8- or 16-bit PNG, JPEG, BMP, TIFF, WebP) into float32 RGB (or gray) in [0, 1].
Every problem raises ``DataError`` with one line that names the folder or file and says what was expected.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from restore_core.data.paths import file_problem, folder_problem
from restore_core.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_SHOWN = 5  # how many offending names an error message lists
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8\xff"  # start of image, then the first marker's 0xFF


class ImagePair(NamedTuple):
    """A degraded image and its clean target, matched by file stem."""

    name: str
    input: np.ndarray
    target: np.ndarray


def load_image(path: str | Path, gray: bool = False) -> np.ndarray:
    """Read an image file into float32 in [0, 1].

    The bytes are read whole and decoded by ``cv2.imdecode`` (the same decoders as ``cv2.imread``, which cannot
    open non-ASCII paths on Windows). OpenCV returns None for a corrupt file; that becomes a ``DataError``. PNG and
    JPEG files are checked for completeness first: libpng prints its own line for a truncated PNG or a damaged
    chunk (to the C library's stderr, which OpenCV's log level does not reach), and OpenCV 4 decodes a truncated
    JPEG into an image whose missing part is grey.

    Args:
        path: image file.
        gray: return ``H×W`` luminance instead of ``H×W×3`` RGB.

    Returns:
        ``H×W×3`` RGB or ``H×W`` gray float32 in [0, 1] (8-bit data divided by 255, 16-bit by 65535). An alpha
        channel is dropped; a gray file read as colour has three equal channels.

    Raises:
        DataError: missing, unreadable or corrupt file, or an unsupported pixel type.
    """
    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise DataError(f"image file '{path}' {problem}")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read image file '{path}': {error.strerror or error}") from error
    problem = _png_problem(data) if data.startswith(_PNG_SIGNATURE) else None
    problem = _jpeg_problem(data) if data.startswith(_JPEG_SOI) else problem
    if problem:
        raise DataError(f"image file '{path}' is {problem}; expected a complete, intact file (copy it again)")
    flags = cv2.IMREAD_ANYDEPTH | (cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags) if data else None
    except cv2.error:  # most decoders return None for bad data, a few raise
        image = None
    if image is None:
        raise DataError(f"image file '{path}' is corrupt or not an image OpenCV can decode")
    if image.dtype == np.uint8:
        scaled = image.astype(np.float32) / 255.0
    elif image.dtype == np.uint16:
        scaled = image.astype(np.float32) / 65535.0
    else:
        raise DataError(f"image file '{path}' has {image.dtype} pixels; expected 8- or 16-bit integers")
    return scaled if gray else cv2.cvtColor(scaled, cv2.COLOR_BGR2RGB)


def _png_problem(data: bytes) -> str | None:
    """What makes a PNG file unreadable by its structure, or None: the chunks (length, type, data, CRC) must lead to
    the IEND chunk, and the critical ones (IHDR, PLTE, IDAT, IEND; upper-case first letter) must match their CRC,
    as libpng requires. Ancillary chunks' CRCs are libpng's to judge: it skips a damaged one."""
    view = memoryview(data)
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if not kind.isalpha() or (pos == len(_PNG_SIGNATURE) and kind != b"IHDR"):
            return f"corrupt (no PNG {'IHDR ' if pos == len(_PNG_SIGNATURE) else ''}chunk at byte {pos})"
        end = pos + 12 + length
        if end > len(data):
            break
        name = kind.decode("ascii")
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if name[:1].isupper() and zlib.crc32(view[pos + 4:end - 4]) != crc:
            return f"corrupt (its PNG chunk {name} at byte {pos} fails its CRC check)"
        if kind == b"IEND":
            return None
        pos = end
    return "truncated (the PNG data stops before its IEND chunk)"


def _jpeg_problem(data: bytes) -> str | None:
    """Why a JPEG file is incomplete (it stops before its end-of-image marker), or None. The header segments are
    walked by their lengths up to the first scan (an Exif thumbnail has its own end marker); after it, 0xFF 0xD9 can
    only be the end marker, since the scan data stuffs every 0xFF with a 0x00."""
    pos = len(_JPEG_SOI) - 1
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None  # not the layout this walk knows: the decoder judges it
        marker = data[pos + 1]
        if marker == 0xFF:  # a fill byte before a marker
            pos += 1
        elif marker == 0xD9:  # end of image before any scan
            return None
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a segment
            pos += 2
        else:
            (length,) = struct.unpack_from(">H", data, pos + 2)
            if marker == 0xDA:  # start of scan
                return None if data.find(b"\xff\xd9", pos + 2 + length) >= 0 else (
                    "truncated (the JPEG data stops before its end-of-image marker)")
            pos += 2 + length
    return "truncated (the JPEG data stops before its first scan)"


def _images_by_stem(folder: Path, what: str) -> dict[str, Path]:
    """Image files of a folder keyed by stem; errors for a missing folder, no images, two files with one stem or an
    image name that is no file (a folder named ``03.png`` would otherwise leave its namesake unpaired)."""
    problem = folder_problem(folder)
    if problem:
        raise DataError(f"{what} folder '{folder}' {problem}")
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        problem = file_problem(path)
        if problem:
            raise DataError(f"'{path}' in the {what} folder {problem}; expected an image file (move or rename it)")
        if path.stem in files:
            raise DataError(
                f"{what} folder '{folder}' has two images named '{path.stem}': {files[path.stem].name}, {path.name}"
            )
        files[path.stem] = path
    if not files:
        raise DataError(
            f"{what} folder '{folder}' has no images; expected files ending in {', '.join(IMAGE_EXTENSIONS)}"
        )
    return files


def _some(names: Iterable[str]) -> str:
    names = sorted(names)
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


def list_paired_folders(
    root: str | Path, input_dir: str = "input", target_dir: str = "target"
) -> dict[str, tuple[Path, Path]]:
    """The image pairs of ``root/<input_dir>/`` and ``root/<target_dir>/`` by file stem, sorted, without reading them.

    Raises:
        DataError: missing or empty folder, or names present on one side only (a few are listed).
    """
    root = Path(root)
    problem = folder_problem(root)
    if problem:
        raise DataError(f"data folder '{root}' {problem}; expected '{input_dir}/' and '{target_dir}/' inside")
    inputs = _images_by_stem(root / input_dir, "input")
    targets = _images_by_stem(root / target_dir, "target")
    for side, mine, other, other_dir in (
        ("input", inputs, targets, target_dir),
        ("target", targets, inputs, input_dir),
    ):
        lonely = mine.keys() - other.keys()
        if lonely:
            raise DataError(
                f"{len(lonely)} {side} image(s) in '{root}' have no namesake in '{other_dir}/': {_some(lonely)}"
            )
    return {name: (inputs[name], targets[name]) for name in sorted(inputs)}


def load_paired_folders(
    root: str | Path, input_dir: str = "input", target_dir: str = "target", gray: bool = False
) -> list[ImagePair]:
    """Load ``root/<input_dir>/X.*`` with ``root/<target_dir>/X.*``, paired by file stem, sorted by name.

    Args:
        root: dataset folder.
        input_dir: sub-folder of degraded images.
        target_dir: sub-folder of clean images.
        gray: read grayscale (``H×W``) instead of RGB (``H×W×3``).

    Raises:
        DataError: missing or empty folder, names present on one side only (a few are listed), an unreadable file,
            or a pair whose two images differ in size.
    """
    pairs = []
    for name, (input_path, target_path) in list_paired_folders(root, input_dir, target_dir).items():
        degraded, clean = load_image(input_path, gray), load_image(target_path, gray)
        if degraded.shape != clean.shape:
            raise DataError(f"'{input_path}' is {_size(degraded)} but its target '{target_path}' is {_size(clean)}")
        pairs.append(ImagePair(name, degraded, clean))
    return pairs


def load_class_folders(
    root: str | Path, classes: Sequence[str] = ("normal", "anomalous"), gray: bool = False
) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Load one sub-folder per class, e.g. ``normal/`` and ``anomalous/`` for the anomaly task.

    Returns:
        ``{class: [(file stem, image), ...]}`` with images sorted by name, in the order of ``classes``.

    Raises:
        DataError: missing root or class folder, a class folder without images, an unreadable file.
    """
    return {label: [(name, load_image(path, gray)) for name, path in files.items()]
            for label, files in list_class_folders(root, classes).items()}


def list_class_folders(root: str | Path, classes: Sequence[str]) -> dict[str, dict[str, Path]]:
    """The image files of each class sub-folder by file stem, sorted, without reading them.

    Raises:
        DataError: missing root or class folder, or a class folder without images.
    """
    root = Path(root)
    problem = folder_problem(root)
    if problem:
        raise DataError(f"data folder '{root}' {problem}; expected sub-folders {', '.join(classes)}")
    listed = {}
    for label in classes:
        files = _images_by_stem(root / label, f"class '{label}'")
        listed[label] = {name: files[name] for name in sorted(files)}
    return listed


def _size(image: np.ndarray) -> str:
    return f"{image.shape[0]}x{image.shape[1]}"


def check_min_size(images: Iterable[tuple[str, np.ndarray]], patch: int, where: str) -> None:
    """Fail if an image is smaller than the training patch on either side.

    Args:
        images: ``(name, image)`` pairs (a ``dict.items()`` works).
        patch: side of the square patch, in pixels.
        where: where the images come from, for the message (a folder, "the val split", ...).

    Raises:
        DataError: ``image X in <where> is 40x60 (HxW), smaller than the patch 64``, for the first such image.
    """
    for name, image in images:
        if image.shape[0] < patch or image.shape[1] < patch:
            raise DataError(f"image {name} in {where} is {_size(image)} (HxW), smaller than the patch {patch}")
