"""Models. Every model module is imported here explicitly, so importing the package registers them all."""

from restore_core.models import dncnn, lamba_rt, patchgan, pix2pix, sid_unet, unet  # noqa: F401
from restore_core.models.inference import inference_model
from restore_core.models.registry import (
    MODELS,
    ModelOptionError,
    check_model_kwargs,
    create_model,
    list_models,
    model_options,
    register_model,
)

__all__ = ["MODELS", "ModelOptionError", "check_model_kwargs", "create_model", "inference_model", "list_models",
           "model_options", "register_model"]
