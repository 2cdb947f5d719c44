"""Losses. Every loss module is imported here explicitly, so importing the package registers them all."""

from restore_core.losses import perceptual, pixel, separation  # noqa: F401
from restore_core.losses.pixel import MS_SSIM_MIN_SIZE
from restore_core.losses.registry import LOSSES, WeightedLoss, check_loss_weights, register_loss

__all__ = ["LOSSES", "MS_SSIM_MIN_SIZE", "WeightedLoss", "check_loss_weights", "register_loss"]
