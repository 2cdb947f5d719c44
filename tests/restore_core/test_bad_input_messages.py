"""Bad input whose message must name the real problem: photo names the dry run checks without loading a photo,
``--set`` keys with a look-alike letter or a malformed dotted path, a data root that is a file, and a folder where an
image file belongs. Every case runs ``sweeps/run.py --dry-run`` in this process (nothing trains, nothing is written)
or the function that checks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from restore_core.config import set_path
from restore_core.errors import ConfigError, UnknownNameError, non_ascii, unknown_name
from restore_core.schema import validate_config
from search_spaces import get_space
from sweeps.run import main
from tests.conftest import free_port

COLOUR = "astronaut, coffee, chelsea, rocket, motorcycle, immunohistochemistry"
GRAY = "camera, retina, moon, coins, brick, grass"


@pytest.fixture
def dry_run(tmp_path):
    """``sweeps/run.py --dry-run`` with its storage in a temporary folder; returns the exit code."""
    return lambda *args: main([*args, "--dry-run", "--dashboard-port", str(free_port()),
                               "--storage", str(tmp_path / "runs")])


def refused(capsys, dry_run, *args: str) -> str:
    """Run ``sweeps/run.py --dry-run``; it must exit 2 with exactly one ``error:`` line on stderr. The message."""
    assert dry_run(*args) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert out == ""
    return err[len("error: "):-1]


# -- 1) data.photos: names looked up, nothing loaded ----------------------------------------------------------------

@pytest.mark.parametrize(
    "space, photos, message",
    [
        ("lsid_lr", '["nope.png"]', "unknown colour photo 'nope.png' in data.photos; known: astronaut, chelsea, "),
        ("lsid_lr", "[]", f"data.photos is empty; known colour photos: {COLOUR}"),
        ("lsid_lr", '["camera"]', "data.photos: 'camera' is a grayscale photo and this task needs colour ones; "
                                  f"known colour photos: {COLOUR}"),
        ("desmoke_dark_channel", '["moon"]', "data.photos: 'moon' is a grayscale photo and this task needs colour "
                                             "ones"),
        ("desmoke_dark_channel", "[]", f"data.photos is empty; known colour photos: {COLOUR}"),
        ("tcfl_tv_sigma", '["astronaut"]', "data.photos: 'astronaut' is a colour photo and this task needs grayscale "
                                           f"ones; known grayscale photos: {GRAY}"),
        ("tcfl_tv_sigma", '["nope"]', "unknown grayscale photo 'nope' in data.photos; known: brick, camera, "),
        ("unet_perceptual", '["nope"]', "unknown photo 'nope' in data.photos; known: astronaut, brick, camera, "),
        ("unet_perceptual", "[]", f"data.photos is empty; known photos: {COLOUR}, {GRAY}"),
        ("unet_perceptual", '["coffee", "rocket", "coffee"]',
         "data.photos names 'coffee' twice; name each photo once (twice would put its tiles in two splits)"),
        ("lsid_lr", '["astronaut", "cofee"]',
         "unknown colour photo 'cofee' in data.photos (did you mean 'coffee'?); known: "),
    ],
)
def test_the_dry_run_checks_the_photo_names(space, photos, message, capsys, dry_run):
    line = refused(capsys, dry_run, "--space", space, "--profile", "smoke", "--set", f"data.photos={photos}")
    assert line.startswith(message), line


def test_good_photo_lists_pass_the_dry_run(capsys, dry_run):
    for space, photos in (("lsid_lr", '["rocket"]'), ("tcfl_tv_sigma", '["retina", "moon"]')):
        assert dry_run("--space", space, "--profile", "smoke", "--set", f"data.photos={photos}") == 0
    assert capsys.readouterr().err == ""


def test_photos_are_not_checked_where_the_data_comes_from_files(tmp_path):
    """``data.photos`` means nothing with ``data.source=sid``; its (default) value is not judged there."""
    config = set_path(get_space("lsid_lr").base_config("smoke"), "data.source", "sid")
    config = set_path(set_path(config, "data.root", str(tmp_path)), "data.photos", [])
    assert validate_config(config).data.photos == []


# -- 2) --set keys: look-alike letters, malformed dotted paths ------------------------------------------------------

@pytest.mark.parametrize(
    "item, message",
    [
        ("tr\u0430in.steps=5", "config key 'tr\u0430in.steps' has the non-ASCII character '\u0430' (U+0430 CYRILLIC "
                               "SMALL LETTER A) at position 3; config keys are plain ASCII: type it again"),
        ("train.st\u0435ps=5", "config key 'train.st\u0435ps' has the non-ASCII character '\u0435' (U+0435 CYRILLIC "
                               "SMALL LETTER IE) at position 9"),
        ("train.\u00a0steps=5", "config key 'train.\u00a0steps' has the non-ASCII character '\\xa0' (U+00A0 NO-BREAK "
                                "SPACE) at position 7"),
        ("train.steps.x=5", "config key 'train.steps.x' does not exist: 'train.steps' holds a value (int), not keys; "
                            "set 'train.steps' itself"),
        ("data.max_pairs.a.b=5", "config key 'data.max_pairs.a.b' does not exist: 'data.max_pairs' holds a value "
                                 "(int or null), not keys"),
        ("model.width.x=2", "config key 'model.width.x' does not exist: 'model.width' holds a value (float), not keys"),
        ("train..steps=5", "config key 'train..steps' has an empty name between dots; expected names joined by single "
                           "dots, e.g. train.steps"),
        ("train.steps.=5", "config key 'train.steps.' has an empty name between dots"),
        (".train.steps=5", "config key '.train.steps' has an empty name between dots"),
    ],
)
def test_a_malformed_set_key_names_the_real_problem(item, message, capsys, dry_run):
    line = refused(capsys, dry_run, "--space", "lsid_lr", "--profile", "smoke", "--set", item)
    assert line.startswith(message), line


def test_a_mapping_is_still_accepted_where_the_config_takes_one(capsys, dry_run):
    assert dry_run("--space", "tcfl_tv_sigma", "--profile", "smoke", "--set", "task.discriminator.ndf=8") == 0
    assert capsys.readouterr().err == ""


def test_a_look_alike_letter_in_a_config_file_key_is_pointed_at():
    config = get_space("lsid_lr").base_config("smoke")
    config["data"] = {**config["data"], "n_tr\u0430in": 3}
    with pytest.raises(ConfigError, match="^unknown config key 'data.n_tr\u0430in' \\(it has the non-ASCII character "
                                          "'\u0430' \\(U\\+0430 CYRILLIC SMALL LETTER A\\) at position 5\\); known in "
                                          "'data': "):
        validate_config(config)


def test_unknown_names_point_at_a_look_alike_letter():
    error = unknown_name("model", "s\u0456d_unet", ["sid_unet", "unet"])
    assert isinstance(error, UnknownNameError)
    assert str(error) == ("unknown model 's\u0456d_unet' (it has the non-ASCII character '\u0456' (U+0456 CYRILLIC "
                          "SMALL LETTER BYELORUSSIAN-UKRAINIAN I) at position 2; did you mean 'sid_unet'?); known: "
                          "sid_unet, unet")
    assert non_ascii("sid_unet") is None


# -- 3) a data root that exists but is a file, a folder named like an image ------------------------------------------

@pytest.mark.parametrize(
    "space, source, message",
    [
        ("lsid_lr", "sid", "SID data folder '{root}' is a file, not a folder; expected the folder holding "
                           "Sony_train_list.txt and Sony/"),
        ("desmoke_dark_channel", "folders", "data folder '{root}' is a file, not a folder; expected 'input/' and "
                                            "'target/' inside"),
        ("unet_perceptual", "folders", "data folder '{root}' is a file, not a folder; expected sub-folders normal, "
                                       "anomalous"),
        ("tcfl_tv_sigma", "folders", "data folder '{root}' is a file, not a folder; expected noisy/<scene>/, clean/ "
                                     "and val/ in '{root}'"),
    ],
)
def test_a_data_root_that_is_a_file_is_not_called_missing(space, source, message, tmp_path, capsys, dry_run):
    root = tmp_path / "data.zip"
    root.write_bytes(b"PK")
    line = refused(capsys, dry_run, "--space", space, "--profile", "smoke", "--set", f"data.source={source}", "--set",
                   f"data.root={root}")
    assert line == message.format(root=root)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.zip"]


def test_a_data_root_under_a_file_names_the_file(tmp_path, capsys, dry_run):
    (tmp_path / "data.zip").write_bytes(b"PK")
    root = tmp_path / "data.zip" / "sid"
    line = refused(capsys, dry_run, "--space", "lsid_lr", "--profile", "smoke", "--set", "data.source=sid", "--set",
                   f"data.root={root}")
    assert line.startswith(f"SID data folder '{root}' does not exist ('{tmp_path / 'data.zip'}' is a file, not a "
                           "folder); expected the folder holding Sony_train_list.txt")


def test_a_folder_named_like_an_image_is_not_called_unpaired(tmp_path, capsys, dry_run):
    root = tmp_path / "pairs"
    for name in ("input/01.png", "input/02.png", "input/03.png", "target/01.png", "target/02.png"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(root / name), np.zeros((8, 8, 3), np.uint8))
    (root / "target" / "03.png").mkdir()
    line = refused(capsys, dry_run, "--space", "desmoke_dark_channel", "--profile", "smoke", "--set",
                   "data.source=folders", "--set", f"data.root={root}")
    assert line == (f"'{root / 'target' / '03.png'}' in the target folder is a folder, not a file; expected an image "
                    "file (move or rename it)")
