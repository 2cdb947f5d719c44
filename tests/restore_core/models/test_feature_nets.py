"""AlexNet / VGG16 feature networks: torchvision's layout and keys, tapped shapes, and ImageNet weight loading from
the torch hub cache (a torchvision-layout checkpoint written here, since weights are never downloaded)."""

import hashlib
import os

import pytest
import torch
from torch import nn

from restore_core.errors import UserError
from restore_core.models import feature_nets
from restore_core.models.feature_nets import IMAGENET_MEAN, FeatureNet, build_feature_net, weights_file

FEATURE_KEYS = {
    "alexnet": [0, 3, 6, 8, 10],
    "vgg16": [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28],
}
# torchvision's classifier heads: key -> weight shape (each also has a bias).
CLASSIFIERS = {
    "alexnet": {"classifier.1": (4096, 256 * 6 * 6), "classifier.4": (4096, 4096), "classifier.6": (1000, 4096)},
    "vgg16": {"classifier.0": (4096, 512 * 7 * 7), "classifier.3": (4096, 4096), "classifier.6": (1000, 4096)},
}
FULL_PARAMS = {"alexnet": 61_100_840, "vgg16": 138_357_544}  # torchvision's num_params


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def torchvision_state_dict(backbone: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A full torchvision state dict: random ``features.*`` and classifier tensors of the real shapes.

    The classifier tensors are expanded views of one value, so the saved file stays small (torch.save keeps views).
    """
    gen = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(v.shape, generator=gen) for k, v in FeatureNet(backbone).state_dict().items()}
    for key, shape in CLASSIFIERS[backbone].items():
        state[f"{key}.weight"] = torch.full((1, 1), 0.01).expand(shape)
        state[f"{key}.bias"] = torch.zeros(1).expand(shape[0])
    return state


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def save_checkpoint(torch_home, backbone: str, state: dict) -> str:
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / weights_file(backbone)
    # vgg16-397923af.pth predates torch's zip format; write it the old way, and AlexNet's the new way.
    torch.save(state, path, _use_new_zipfile_serialization=backbone != "vgg16")
    return str(path)


@pytest.mark.parametrize("backbone, params", [("alexnet", 2_469_696), ("vgg16", 14_714_688)])
def test_parameter_counts_and_torchvision_keys(backbone, params):
    net = FeatureNet(backbone)
    assert n_params(net) == params
    expected = [f"features.{i}.{p}" for i in FEATURE_KEYS[backbone] for p in ("weight", "bias")]
    assert list(net.state_dict()) == expected  # normalisation constants are not saved


def test_official_file_names():
    assert weights_file("alexnet") == "alexnet-owt-7be5be79.pth"
    assert weights_file("vgg16") == "vgg16-397923af.pth"


@pytest.mark.parametrize(
    "backbone, taps, shapes",
    [
        ("alexnet", None, {"relu1": (64, 15, 15), "relu2": (192, 7, 7), "relu3": (384, 3, 3), "relu4": (256, 3, 3),
                           "relu5": (256, 3, 3)}),
        ("vgg16", None, {"relu1_2": (64, 64, 64), "relu2_2": (128, 32, 32), "relu3_3": (256, 16, 16),
                         "relu4_3": (512, 8, 8)}),
        ("vgg16", ("relu5_3", "relu2_2"), {"relu2_2": (128, 32, 32), "relu5_3": (512, 4, 4)}),
    ],
)  # fmt: skip
def test_tapped_feature_shapes_at_64x64(backbone, taps, shapes):
    features = FeatureNet(backbone, taps)(torch.rand(2, 3, 64, 64))
    assert list(features) == list(shapes)  # shallow to deep
    assert {k: tuple(v.shape[1:]) for k, v in features.items()} == shapes
    assert all(v.shape[0] == 2 and (v >= 0).all() for v in features.values())


def test_input_is_normalised_with_the_imagenet_statistics():
    # An image of the ImageNet mean becomes 0 after normalisation, so the first conv outputs its bias.
    net = FeatureNet("alexnet", ("relu1",))
    image = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1).expand(1, 3, 64, 64)
    relu1 = net(image)["relu1"]
    expected = torch.relu(net.features[0].bias).view(1, 64, 1, 1).expand_as(relu1)
    torch.testing.assert_close(relu1, expected)


def test_bad_inputs_and_names_raise():
    with pytest.raises(ValueError, match="relu1_2, relu2_2"):
        FeatureNet("vgg16", ("relu3",))
    with pytest.raises(ValueError, match="RGB"):
        FeatureNet("alexnet")(torch.rand(1, 1, 64, 64))
    with pytest.raises(UserError, match="alexnet, vgg16"):
        build_feature_net("resnet50", "random")
    with pytest.raises(UserError, match="imagenet, random"):
        build_feature_net("vgg16", "places365")


def test_random_weights_say_so():
    net, description = build_feature_net("alexnet", "random")
    assert description == "random init (no pretrained weights)"
    assert isinstance(net, FeatureNet)


@pytest.mark.parametrize("backbone", ["alexnet", "vgg16"])
def test_torchvision_checkpoint_loads_from_the_hub_cache(torch_home, backbone):
    state = torchvision_state_dict(backbone)
    assert sum(v.numel() for v in state.values()) == FULL_PARAMS[backbone]  # a complete torchvision checkpoint
    save_checkpoint(torch_home, backbone, state)
    net, description = build_feature_net(backbone, "imagenet", verify_hash=False)
    assert description == f"imagenet ({weights_file(backbone)})"
    loaded = net.state_dict()
    assert set(loaded) == {k for k in state if k.startswith("features.")}
    for key, value in loaded.items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)


def test_missing_weights_raise_naming_the_file_and_the_folder(torch_home):
    folder = os.path.join(str(torch_home), "hub", "checkpoints")
    with pytest.raises(UserError) as info:
        build_feature_net("vgg16", "imagenet")
    message = str(info.value)
    assert "vgg16-397923af.pth" in message and folder in message and "\n" not in message
    assert not os.path.exists(os.path.join(folder, "vgg16-397923af.pth"))  # nothing was downloaded


def test_a_file_whose_hash_does_not_match_its_name_is_refused(torch_home):
    save_checkpoint(torch_home, "alexnet", torchvision_state_dict("alexnet"))
    with pytest.raises(UserError, match="sha256 does not start with 7be5be79"):
        build_feature_net("alexnet", "imagenet")


def test_a_file_whose_hash_matches_its_name_passes_the_check(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save({"x": torch.ones(3)}, path)
    name = f"weights-{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}.pth"
    feature_nets._check_hash(str(path), name)  # no error


def test_a_checkpoint_with_another_layout_is_refused(torch_home):
    state = torchvision_state_dict("alexnet")
    del state["features.10.bias"]
    save_checkpoint(torch_home, "alexnet", state)
    with pytest.raises(UserError, match=r"torchvision's alexnet layout: .*features\.10\.bias"):
        build_feature_net("alexnet", "imagenet", verify_hash=False)


def test_features_pass_gradients_to_the_input():
    image = torch.rand(1, 3, 64, 64, requires_grad=True)
    sum(f.mean() for f in FeatureNet("vgg16")(image).values()).backward()
    assert image.grad is not None and torch.isfinite(image.grad).all() and image.grad.abs().sum() > 0
