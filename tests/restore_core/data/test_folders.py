"""Users' image folders: pairing by stem, class folders, decoding, and the errors for bad data (real PNG files)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from restore_core.data.folders import check_min_size, load_class_folders, load_image, load_paired_folders
from restore_core.errors import DataError


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Write float RGB in [0, 1] (or gray) as an 8-bit PNG; OpenCV wants BGR."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.round(rgb * 255).astype(np.uint8)
    assert cv2.imwrite(str(path), pixels[..., ::-1] if pixels.ndim == 3 else pixels)


def colour_image(seed: int, height: int = 24, width: int = 32) -> np.ndarray:
    return np.round(np.random.default_rng(seed).random((height, width, 3)) * 255) / 255


@pytest.fixture
def paired(tmp_path):
    for index, name in enumerate(["b", "a", "c"]):
        write_png(tmp_path / "input" / f"{name}.png", colour_image(index))
        write_png(tmp_path / "target" / f"{name}.png", colour_image(10 + index))
    (tmp_path / "input" / "notes.txt").write_text("not an image")  # ignored
    return tmp_path


def test_load_image_rgb_order_range_and_gray(tmp_path):
    rgb = np.zeros((4, 6, 3))
    rgb[..., 0] = 1.0  # pure red
    rgb[0, 0] = [0.2, 0.4, 0.6]
    write_png(tmp_path / "red.png", rgb)
    image = load_image(tmp_path / "red.png")
    assert image.shape == (4, 6, 3) and image.dtype == np.float32
    np.testing.assert_array_equal(image[1, 1], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(image[0, 0], [51 / 255, 102 / 255, 153 / 255])
    gray = load_image(tmp_path / "red.png", gray=True)
    assert gray.shape == (4, 6) and gray[1, 1] == pytest.approx(76 / 255)  # OpenCV's luma of pure red: 0.299 * 255


def test_load_image_16_bit(tmp_path):
    pixels = np.full((3, 5), 65535, np.uint16)
    pixels[0, 0] = 32768
    cv2.imwrite(str(tmp_path / "deep.png"), pixels)
    image = load_image(tmp_path / "deep.png", gray=True)
    assert image[0, 0] == pytest.approx(32768 / 65535) and image[1, 1] == 1.0
    assert load_image(tmp_path / "deep.png").shape == (3, 5, 3)


def test_pairs_by_stem_sorted(paired):
    pairs = load_paired_folders(paired)
    assert [pair.name for pair in pairs] == ["a", "b", "c"]
    name, degraded, clean = pairs[0]
    np.testing.assert_allclose(degraded, colour_image(1), atol=1e-6)
    np.testing.assert_allclose(clean, colour_image(11), atol=1e-6)
    assert degraded.dtype == np.float32


def test_pairs_across_extensions_and_custom_folder_names(tmp_path):
    write_png(tmp_path / "smoky" / "x.png", colour_image(0))
    (tmp_path / "clean").mkdir()
    assert cv2.imwrite(str(tmp_path / "clean" / "x.bmp"), np.zeros((24, 32, 3), np.uint8))
    pairs = load_paired_folders(tmp_path, input_dir="smoky", target_dir="clean", gray=True)
    assert len(pairs) == 1 and pairs[0].input.shape == (24, 32) and pairs[0].target.max() == 0


def test_unpaired_names_are_listed(paired):
    for name in ["d", "e", "f", "g", "h", "i"]:
        write_png(paired / "input" / f"{name}.png", colour_image(0))
    with pytest.raises(
        DataError, match=r"6 input image\(s\) in .* have no namesake in 'target/': d, e, f, g, h and 1 more"
    ):
        load_paired_folders(paired)


def test_target_without_input(paired):
    write_png(paired / "target" / "z.png", colour_image(0))
    with pytest.raises(DataError, match=r"1 target image\(s\) .* no namesake in 'input/': z$"):
        load_paired_folders(paired)


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(DataError, match="data folder .*nothing' does not exist"):
        load_paired_folders(tmp_path / "nothing")
    (tmp_path / "input").mkdir()
    with pytest.raises(DataError, match="input folder .*input' has no images"):
        load_paired_folders(tmp_path)
    write_png(tmp_path / "input" / "a.png", colour_image(0))
    with pytest.raises(DataError, match="target folder .*target' does not exist"):
        load_paired_folders(tmp_path)


def test_corrupt_png_is_named(paired):
    (paired / "target" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    with pytest.raises(DataError, match=r"image file .*target/b.png' is corrupt"):
        load_paired_folders(paired)


@pytest.mark.parametrize("keep", [200, -2], ids=["half", "all but the last bytes"])
def test_truncated_png_is_named_and_libpng_stays_quiet(paired, capfd, keep):
    path = paired / "input" / "a.png"
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(DataError, match=r"image file .*input/a.png' is truncated \(the PNG data stops before its "
                       r"IEND chunk\); expected a complete, intact file"):
        load_paired_folders(paired)
    assert capfd.readouterr().err == ""  # libpng writes to the C library's stderr (file descriptor 2)


def test_png_with_a_damaged_critical_chunk_is_named_and_libpng_stays_quiet(tmp_path, capfd):
    write_png(tmp_path / "a.png", colour_image(0))
    data = bytearray((tmp_path / "a.png").read_bytes())
    data[60] ^= 0xFF  # inside the IDAT chunk, after the 33 bytes of signature and IHDR
    (tmp_path / "a.png").write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"a.png' is corrupt \(its PNG chunk IDAT at byte 33 fails its CRC check\)"):
        load_image(tmp_path / "a.png")
    assert capfd.readouterr().err == ""


def test_truncated_jpeg_is_named(tmp_path, capfd):
    # OpenCV 4 decodes a truncated JPEG into an image whose missing rows are grey
    ok, encoded = cv2.imencode(".jpg", np.round(colour_image(0, 64, 64) * 255).astype(np.uint8))
    assert ok  # noise: the scan data is most of the file
    for keep in (len(encoded) // 2, len(encoded) - 2):
        (tmp_path / "a.jpg").write_bytes(encoded.tobytes()[:keep])
        with pytest.raises(DataError, match=r"a.jpg' is truncated \(the JPEG data stops before its end-of-image "
                           r"marker\)"):
            load_image(tmp_path / "a.jpg")
    assert capfd.readouterr().err == ""


def test_complete_files_with_trailing_bytes_or_progressive_scans_still_load(tmp_path):
    from PIL import Image

    image = colour_image(3, 64, 48)
    write_png(tmp_path / "a.png", image)
    (tmp_path / "a.png").write_bytes((tmp_path / "a.png").read_bytes() + b"trailing")
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), image.astype(np.float32))
    smooth = np.stack([*np.meshgrid(np.linspace(0, 1, 48), np.linspace(0, 1, 64)), np.full((64, 48), 0.5)], axis=2)
    Image.fromarray(np.round(smooth * 255).astype(np.uint8)).save(tmp_path / "p.jpg", progressive=True, quality=95)
    (tmp_path / "p.jpg").write_bytes((tmp_path / "p.jpg").read_bytes() + b"\0\0")
    assert np.abs(load_image(tmp_path / "p.jpg") - smooth).max() < 0.05


def test_empty_file_and_missing_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match="empty.png' is corrupt"):
        load_image(tmp_path / "empty.png")
    with pytest.raises(DataError, match="gone.png' does not exist"):
        load_image(tmp_path / "gone.png")


def test_same_stem_twice_is_ambiguous(paired):
    write_png(paired / "input" / "a.jpg", colour_image(0))
    with pytest.raises(DataError, match="two images named 'a': a.jpg, a.png"):
        load_paired_folders(paired)


def test_pair_of_different_sizes(paired):
    write_png(paired / "target" / "c.png", colour_image(0, 20, 32))
    with pytest.raises(DataError, match=r"input/c.png' is 24x32 but its target .*target/c.png' is 20x32"):
        load_paired_folders(paired)


def test_class_folders(tmp_path):
    write_png(tmp_path / "normal" / "n1.png", colour_image(0))
    write_png(tmp_path / "normal" / "n0.png", colour_image(1))
    write_png(tmp_path / "anomalous" / "s0.png", colour_image(2))
    loaded = load_class_folders(tmp_path)
    assert list(loaded) == ["normal", "anomalous"]
    assert [name for name, _ in loaded["normal"]] == ["n0", "n1"]
    np.testing.assert_allclose(loaded["anomalous"][0][1], colour_image(2), atol=1e-6)
    (tmp_path / "anomalous" / "s0.png").unlink()
    with pytest.raises(DataError, match="class 'anomalous' folder .*anomalous' has no images"):
        load_class_folders(tmp_path)
    with pytest.raises(DataError, match="class 'spill' folder .*spill' does not exist"):
        load_class_folders(tmp_path, ("normal", "spill"))


def test_too_small_image(tmp_path):
    write_png(tmp_path / "input" / "tiny.png", colour_image(0, 40, 60))
    write_png(tmp_path / "target" / "tiny.png", colour_image(1, 40, 60))
    pairs = load_paired_folders(tmp_path)
    check_min_size([(p.name, p.input) for p in pairs], 40, "input/")  # exactly the patch is fine
    with pytest.raises(DataError, match=r"image tiny in input/ is 40x60 \(HxW\), smaller than the patch 64"):
        check_min_size([(p.name, p.input) for p in pairs], 64, "input/")
    with pytest.raises(DataError, match="is 40x60"):
        check_min_size({"tiny": np.zeros((40, 60))}.items(), 50, "a dict")


def test_a_folder_or_a_dangling_link_where_an_image_belongs_is_named(paired, tmp_path):
    (paired / "gone.png").mkdir()
    with pytest.raises(DataError, match=r"^image file .*gone.png' is a folder, not a file$"):
        load_image(paired / "gone.png")
    (paired / "normal").mkdir()
    write_png(paired / "normal" / "a.png", colour_image(0))
    (paired / "normal" / "b.png").symlink_to(tmp_path / "elsewhere.png")
    with pytest.raises(DataError, match=r"^'.*normal/b.png' in the class 'normal' folder is a link to "
                                        r"'.*elsewhere.png', which does not exist; expected an image file \(move or "
                                        r"rename it\)$"):
        load_class_folders(paired, ("normal",))


def test_a_file_where_a_folder_belongs_is_not_called_missing(paired):
    (paired / "normal").write_text("")
    with pytest.raises(DataError, match=r"^class 'normal' folder .*normal' is a file, not a folder$"):
        load_class_folders(paired, ("normal",))
    with pytest.raises(DataError, match=r"^data folder .*input/a.png' is a file, not a folder; expected 'input/' and"):
        load_paired_folders(paired / "input" / "a.png")
