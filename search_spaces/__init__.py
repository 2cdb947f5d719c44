"""Named search spaces, one small declarative file each. Each module is imported and registered explicitly."""

from search_spaces import desmoke_dark_channel  # noqa: I001
from search_spaces import tcfl_tv_sigma  # noqa: I001
from search_spaces import tcfl_separation  # noqa: I001
from search_spaces import lamba_loss, lamba_rdb, lsid_ablation, lsid_lr, unet_augment, unet_perceptual
from search_spaces.registry import SPACES, find_space, get_space, list_spaces, register_space
from search_spaces.parts import Pair, Param, Row
from search_spaces.space import SearchSpace

for _module in (desmoke_dark_channel, lsid_lr, lsid_ablation, lamba_loss, lamba_rdb, unet_perceptual, unet_augment,
                tcfl_tv_sigma, tcfl_separation):
    register_space(_module.SPACE)

__all__ = ["SPACES", "Pair", "Param", "Row", "SearchSpace", "find_space", "get_space", "list_spaces", "register_space"]
