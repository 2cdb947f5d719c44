"""TCFL data: disjoint noisy scenes / clean images / validation tiles, deterministic noise, and the folder layout."""

import cv2
import numpy as np
import pytest

from restore_core.data.oct_triplets import load_triplet_folders, synthetic_triplets
from restore_core.data.photos import split_tiles
from restore_core.errors import DataError

PHOTOS = ("camera", "retina", "moon")


def make(seed=0, repeats=3):
    return synthetic_triplets(PHOTOS, 32, n_scenes=4, repeats=repeats, n_clean=5, n_val=3, speckle=0.25,
                              gaussian=0.05, seed=seed, n_test=2)


def test_synthetic_shapes_and_range():
    data = make()
    assert [scene.shape for scene in data.noisy] == [(3, 32, 32)] * 4
    assert len(data.clean) == 5 and data.clean[0].shape == (32, 32)
    assert data.val_noisy.shape == data.val_clean.shape == (3, 32, 32)
    assert data.test_noisy.shape == data.test_clean.shape == (2, 32, 32)
    for array in (*data.noisy, *data.clean, data.val_noisy, data.val_clean, data.test_noisy, data.test_clean):
        assert array.dtype == np.float32 and array.min() >= 0 and array.max() <= 1
    assert data.describe() == ("4 noisy scenes (3 acquisitions each), 5 clean images, 3 validation pairs of 32x32, "
                               "2 test pairs of 32x32")


def test_noisy_scenes_clean_images_validation_and_test_come_from_disjoint_tiles():
    tiles = split_tiles(PHOTOS, 32, {"val": 3, "noisy": 4, "clean": 5, "test": 2})
    data = make()
    # The clean training images are exactly the "clean" tiles, none of which is a scene, validation or test tile.
    assert all(np.array_equal(a, b) for a, b in zip(data.clean, tiles["clean"]))
    others = [*tiles["noisy"], *tiles["val"], *tiles["test"]]
    assert not any(np.array_equal(c, o) for c in data.clean for o in others)
    # Each scene's acquisitions are noisy versions of its own tile: far closer to it than to any clean image.
    for scene, tile in zip(data.noisy, tiles["noisy"]):
        own = np.abs(scene - tile).mean()
        assert all(own < np.abs(scene - c).mean() for c in data.clean)
    assert np.array_equal(data.val_clean, np.stack(tiles["val"]))
    assert np.array_equal(data.test_clean, np.stack(tiles["test"]))


def test_acquisitions_differ_and_noise_is_deterministic_from_the_seed():
    first, again, other = make(seed=0), make(seed=0), make(seed=1)
    scene = first.noisy[0]
    assert not np.array_equal(scene[0], scene[1])  # two independent noise draws of one scene
    assert all(np.array_equal(a, b) for a, b in zip(first.noisy, again.noisy))
    assert np.array_equal(first.val_noisy, again.val_noisy)
    assert not np.array_equal(first.val_noisy, other.val_noisy)
    assert all(np.array_equal(a, b) for a, b in zip(first.clean, other.clean))  # clean images never depend on it
    # Speckle is multiplicative: the noise is larger on bright pixels than on dark ones.
    clean = first.val_clean
    error = np.abs(first.val_noisy - clean)
    bright = clean > np.median(clean)
    assert error[bright].mean() > 1.2 * error[~bright].mean()


def write(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.round(image * 255).astype(np.uint8))


def layout(root, scene_sizes=((2, 40),), val=2, size=40, test=2):
    rng = np.random.default_rng(0)
    for s, (count, side) in enumerate(scene_sizes):
        for i in range(count):
            write(root / "noisy" / f"scene{s}" / f"{i}.png", rng.random((side, side)))
    write(root / "clean" / "c0.png", rng.random((size, size)))
    for folder, count in (("val", val), ("test", test)):
        for i in range(count):
            write(root / folder / "noisy" / f"{folder[0]}{i}.png", rng.random((size + i, size)))
            write(root / folder / "clean" / f"{folder[0]}{i}.png", rng.random((size + i, size)))


def test_folders_load_scenes_clean_and_cropped_validation_pairs(tmp_path):
    layout(tmp_path, scene_sizes=((2, 40), (3, 48)))
    data = load_triplet_folders(tmp_path, patch=32)
    assert [s.shape for s in data.noisy] == [(2, 40, 40), (3, 48, 48)]
    assert data.clean[0].shape == (40, 40)
    assert data.val_noisy.shape == data.val_clean.shape == (2, 40, 40)  # cropped to the smallest pair
    written = cv2.imread(str(tmp_path / "val" / "noisy" / "v0.png"), cv2.IMREAD_GRAYSCALE) / 255
    assert np.allclose(data.val_noisy[0], written)
    assert data.test_noisy.shape == (2, 40, 40) and data.names["test"] == ["test/t0", "test/t1"]


def test_without_a_test_folder_the_last_validation_pairs_are_the_test_split(tmp_path):
    layout(tmp_path, val=5, test=0)
    data = load_triplet_folders(tmp_path, patch=32, n_test=2)
    assert (data.names["val"], data.names["test"]) == (["val/v0", "val/v1", "val/v2"], ["val/v3", "val/v4"])
    with pytest.raises(DataError, match=r"has 5 validation pairs; without a test/ folder the last data.n_test=4"):
        load_triplet_folders(tmp_path, patch=32, n_test=4)


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda r: __import__("shutil").rmtree(r / "noisy"), r"noisy' does not exist; expected noisy/<scene>/"),
        (lambda r: (r / "noisy" / "scene0" / "1.png").unlink(), "has 1 image; TCFL needs at least 2"),
        (lambda r: write(r / "noisy" / "scene0" / "2.png", np.zeros((36, 40))), "differ in size: 36x40, 40x40"),
        (lambda r: write(r / "clean" / "small.png", np.zeros((20, 40))), "small in .*clean' is 20x40"),
        (lambda r: (r / "val" / "clean" / "v1.png").unlink(), "have no namesake in 'clean/': v1"),
        (lambda r: __import__("shutil").rmtree(r / "clean"), "class 'clean' folder .* does not exist"),
    ],
)
def test_folder_problems_are_one_line_data_errors(tmp_path, breakage, message):
    layout(tmp_path)
    breakage(tmp_path)
    with pytest.raises(DataError, match=message) as error:
        load_triplet_folders(tmp_path, patch=32)
    assert "\n" not in str(error.value)
