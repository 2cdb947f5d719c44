"""The SID Sony loader on real DNG files: written with pidng into a SID-shaped folder, read back through rawpy.

pidng 4.0.9 + rawpy 0.28 (LibRaw 0.22) round-trip an uncompressed 16-bit CFA DNG bit-exactly with this minimal tag
set: ImageWidth/ImageLength, TileWidth/TileLength (pidng always writes the data as one tile, so these must equal
the image size), PhotometricInterpretation = Color_Filter_Array, SamplesPerPixel 1, BitsPerSample 16,
CFARepeatPatternDim [2, 2], CFAPattern RGGB, BlackLevel, WhiteLevel. LibRaw then reports raw_pattern [[0, 1], [3, 2]]
with color_desc "RGBG", black_level_per_channel [512] * 4 and white_level 16383. Without ColorMatrix1 and
AsShotNeutral the file still reads and develops, but the camera white balance is [0, 1, 0, 0]; with an identity
ColorMatrix1 and AsShotNeutral [1, 1, 1] it is [1, 1, 1, 0], so both are written here. rawpy raises
LibRawFileUnsupportedError for garbage bytes and LibRawIOError for empty or truncated files.
"""

import numpy as np
import pytest

from restore_core.data.sid_raw import (
    load_sid_pairs,
    pack_raw,
    read_ground_truth,
    read_raw_bayer,
    read_sid_list,
)
from restore_core.errors import DataError, UnknownNameError
from tests.restore_core.sid_files import BLACK, WHITE, write_dng

HEIGHT, WIDTH = 64, 96


def mosaic(seed: int, level: float) -> np.ndarray:
    """Raw counts around ``level`` of the range above black, with some pixels below black and one at white."""
    rng = np.random.default_rng(seed)
    counts = BLACK + level * (WHITE - BLACK) * (0.5 + rng.random((HEIGHT, WIDTH)))
    counts = np.clip(counts, 0, WHITE).astype(np.uint16)
    counts[0, 0], counts[0, 1], counts[1, 1], counts[1, 0] = WHITE, 100, BLACK, BLACK + 15871 // 2
    return counts


LIST = """./Sony/short/00001_00_0.1s.dng ./Sony/long/00001_00_10s.dng ISO200 F8
./Sony/short/00001_01_0.03s.dng ./Sony/long/00001_00_10s.dng ISO200 F8

./Sony/short/00002_00_0.1s.dng ./Sony/long/00002_00_10s.dng ISO400 F5.6
"""


@pytest.fixture
def sid_root(tmp_path):
    """A SID-shaped folder with three pairs (two sharing a ground truth) in the test list."""
    (tmp_path / "Sony" / "short").mkdir(parents=True)
    (tmp_path / "Sony" / "long").mkdir()
    raws = {
        "Sony/short/00001_00_0.1s.dng": mosaic(1, 0.01),
        "Sony/short/00001_01_0.03s.dng": mosaic(2, 0.003),
        "Sony/short/00002_00_0.1s.dng": mosaic(3, 0.01),
        "Sony/long/00001_00_10s.dng": mosaic(4, 0.5),
        "Sony/long/00002_00_10s.dng": mosaic(5, 0.1),
    }
    for name, counts in raws.items():
        write_dng(tmp_path / name, counts)
    (tmp_path / "Sony_test_list.txt").write_text(LIST)
    return tmp_path, raws


def test_pairs_shapes_ranges_and_ratios(sid_root):
    root, _ = sid_root
    pairs = load_sid_pairs(root, "test")
    assert [ratio for _, ratio, _ in pairs] == [pytest.approx(100.0), 300.0, pytest.approx(100.0)]  # 10/0.03 capped
    for bayer, _, gt in pairs:
        assert bayer.shape == (HEIGHT, WIDTH) and bayer.dtype == np.float32
        assert gt.shape == (HEIGHT, WIDTH, 3) and gt.dtype == np.float32
        assert 0 <= bayer.min() and bayer.max() <= 1 and 0 <= gt.min() and gt.max() <= 1
    assert pairs[0][2] is pairs[1][2]  # one ground truth per long exposure
    assert pairs[0][2].mean() > pairs[2][2].mean() > 0.01  # the brighter long raw develops brighter


def test_bayer_is_the_written_counts_minus_black_over_the_range(sid_root):
    root, raws = sid_root
    bayer = load_sid_pairs(root, "test", max_pairs=1)[0][0]
    written = raws["Sony/short/00001_00_0.1s.dng"]
    expected = np.maximum(written.astype(np.float32) - 512, 0) / np.float32(16383 - 512)
    np.testing.assert_array_equal(bayer, expected)
    # The hand-set first cell: white, below black, black, half way.
    assert (bayer[0, 0], bayer[0, 1], bayer[1, 1]) == (1.0, 0.0, 0.0)
    assert bayer[1, 0] == pytest.approx((15871 // 2) / 15871)


def test_pack_raw_channels_are_r_g_b_g(sid_root):
    root, raws = sid_root
    written = raws["Sony/long/00002_00_10s.dng"]
    packed = pack_raw(written)
    assert packed.shape == (HEIGHT // 2, WIDTH // 2, 4) and packed.dtype == np.float32
    np.testing.assert_array_equal(packed[0, 0], np.array([1.0, 0.0, 0.0, (15871 // 2) / 15871], np.float32))
    # Each channel is one position of the 2×2 cell, in the order R (0,0), G (0,1), B (1,1), G (1,0), and equals
    # both the normalised written counts and what rawpy read back from the file.
    read_back, _ = read_raw_bayer(root / "Sony/long/00002_00_10s.dng")
    for channel, (row, col) in enumerate([(0, 0), (0, 1), (1, 1), (1, 0)]):
        expected = np.maximum(written[row::2, col::2].astype(np.float32) - 512, 0) / np.float32(15871)
        np.testing.assert_array_equal(packed[..., channel], expected)
        np.testing.assert_array_equal(packed[..., channel], read_back[row::2, col::2])


def test_read_raw_bayer_reports_the_pattern_and_can_take_levels_from_the_file(sid_root):
    root, _ = sid_root
    path = root / "Sony/short/00002_00_0.1s.dng"
    fixed, pattern = read_raw_bayer(path)
    from_file, _ = read_raw_bayer(path, black=None, white=None)
    assert pattern == "RGGB"
    np.testing.assert_array_equal(fixed, from_file)  # the file holds the Sony levels the loader assumes
    # A file with other levels (a 12-bit camera: black 1024, white 4095) is read with its own levels only when asked.
    counts = np.random.default_rng(6).integers(0, 4096, (HEIGHT, WIDTH)).astype(np.uint16)
    counts[0, 0], counts[0, 1] = 1024, 4095
    write_dng(root / "other_levels.dng", counts, black=1024, white=4095)
    from_file, pattern = read_raw_bayer(root / "other_levels.dng", black=None, white=None)
    expected = np.maximum(counts.astype(np.float32) - 1024, 0) / np.float32(4095 - 1024)
    assert pattern == "RGGB" and (from_file[0, 0], from_file[0, 1]) == (0.0, 1.0)
    np.testing.assert_array_equal(from_file, expected)
    fixed, _ = read_raw_bayer(root / "other_levels.dng")
    np.testing.assert_array_equal(fixed, np.maximum(counts.astype(np.float32) - BLACK, 0) / np.float32(WHITE - BLACK))
    assert not np.allclose(from_file, fixed)


def test_list_entries(sid_root):
    root, _ = sid_root
    entries = read_sid_list(root, "test")
    assert [e.short_path.name for e in entries] == ["00001_00_0.1s.dng", "00001_01_0.03s.dng", "00002_00_0.1s.dng"]
    assert entries[2].iso == "ISO400" and entries[2].aperture == "F5.6"


def test_misaligned_test_scenes_are_skipped_by_default(sid_root):
    root, _ = sid_root
    with (root / "Sony_test_list.txt").open("a") as listing:
        listing.write("./Sony/short/10034_00_0.1s.ARW ./Sony/long/10034_00_10s.ARW ISO200 F8\n")
    assert len(read_sid_list(root, "test")) == 3
    with pytest.raises(DataError, match="10034_00_0.1s.ARW' does not exist"):
        read_sid_list(root, "test", exclude_misaligned=False)


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match="SID data folder .*nowhere' does not exist"):
        load_sid_pairs(tmp_path / "nowhere", "train")


def test_missing_list_file(sid_root):
    root, _ = sid_root
    with pytest.raises(DataError, match="Sony_val_list.txt' is missing"):
        load_sid_pairs(root, "val")


def test_unknown_split(sid_root):
    with pytest.raises(UnknownNameError, match="known: test, train, val"):
        load_sid_pairs(sid_root[0], "tset")


def test_entry_pointing_at_a_missing_file(sid_root):
    root, _ = sid_root
    (root / "Sony/long/00002_00_10s.dng").unlink()
    with pytest.raises(DataError, match=r"Sony_test_list.txt, line 4: file .*00002_00_10s.dng' does not exist"):
        load_sid_pairs(root, "test")


def test_corrupt_raw(sid_root):
    root, _ = sid_root
    (root / "Sony/short/00001_00_0.1s.dng").write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(DataError, match=r"cannot read raw file .*00001_00_0.1s.dng': not a raw file LibRaw can "
                                        r"decode \(LibRaw: Unsupported file format or not RAW file\); expected a "
                                        r"complete camera raw file such as Sony .ARW or .DNG"):
        load_sid_pairs(root, "test")


@pytest.mark.parametrize("read", [read_ground_truth, read_raw_bayer])
def test_a_truncated_raw_names_libraws_cause_and_prints_nothing_else(sid_root, read, capfd):
    root, _ = sid_root
    path = root / "Sony/long/00001_00_10s.dng"
    path.write_bytes(path.read_bytes()[:4000])
    with pytest.raises(DataError, match=r"cannot read raw file .*00001_00_10s.dng': not a raw file LibRaw can decode "
                                        r"\(LibRaw: Unexpected end of file\); expected a complete camera raw file"):
        read(path)
    assert capfd.readouterr() == ("", "")  # LibRaw's own line went into the message


def test_an_empty_raw_file(sid_root):
    path = sid_root[0] / "Sony/short/00001_00_0.1s.dng"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"dng': not a raw file LibRaw can decode \(the file is empty\)"):
        read_raw_bayer(path)


def test_a_folder_named_like_a_raw_file_is_not_called_missing(sid_root):
    root, _ = sid_root
    path = root / "Sony/long/00002_00_10s.dng"
    path.unlink()
    path.mkdir()
    with pytest.raises(DataError, match=r"Sony_test_list.txt, line 4: file .*00002_00_10s.dng' is a folder, not a "
                                        r"file$"):
        read_sid_list(root, "test")
    with pytest.raises(DataError, match=r"^raw file .*00002_00_10s.dng' is a folder, not a file$"):
        read_ground_truth(path)


def test_a_file_as_the_data_folder_or_a_folder_as_the_list(sid_root, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match=r"^SID data folder .*file' is a file, not a folder; expected the folder "):
        read_sid_list(tmp_path / "file", "train")
    with pytest.raises(DataError, match=r"^SID data folder .*file/sub' does not exist \('.*file' is a file, not a "
                                        r"folder\)"):
        read_sid_list(tmp_path / "file" / "sub", "train")
    root, _ = sid_root
    (root / "Sony_val_list.txt").mkdir()
    with pytest.raises(DataError, match=r"^SID list file .*Sony_val_list.txt' is a folder, not a file; expected lines"):
        read_sid_list(root, "val")


def test_no_pairs(sid_root):
    root, _ = sid_root
    (root / "Sony_train_list.txt").write_text("\n")
    with pytest.raises(DataError, match="no pairs in .*Sony_train_list.txt"):
        load_sid_pairs(root, "train")


def test_bad_line_and_bad_exposure_name(sid_root):
    root, _ = sid_root
    (root / "Sony_train_list.txt").write_text("./Sony/short/00001_00_0.1s.dng\n")
    with pytest.raises(DataError, match="Sony_train_list.txt, line 1: expected '<short raw> <long raw>"):
        read_sid_list(root, "train")
    (root / "Sony/long/scene.dng").write_bytes(b"")
    (root / "Sony_train_list.txt").write_text("./Sony/short/00001_00_0.1s.dng ./Sony/long/scene.dng\n")
    with pytest.raises(DataError, match="exposure time from file name 'scene.dng'"):
        read_sid_list(root, "train")


def test_list_file_that_is_not_utf8_is_named(sid_root):
    root, _ = sid_root
    (root / "Sony_train_list.txt").write_bytes(LIST.encode("utf-16"))  # \xff\xfe: a Windows editor's UTF-16
    with pytest.raises(DataError, match=r"SID list file .*Sony_train_list.txt' is not UTF-8 text \(byte 0 is 0xff\); "
                       r"expected plain text lines like '\./Sony/short/"):
        read_sid_list(root, "train")
