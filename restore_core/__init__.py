"""restore_core: models, losses, metrics, data, tasks and the one training loop.

Public API::

    from restore_core import create_model, list_models, train
"""

from restore_core import losses, tasks  # noqa: F401  (register the loss terms and tasks)
from restore_core.errors import ConfigError, DataError, UnknownNameError, UserError
from restore_core.loop import TrainResult, prepare_shared_data, train
from restore_core.models import create_model, list_models
from restore_core.schema import validate_config
from restore_core.tasks import list_tasks

__all__ = [
    "ConfigError",
    "DataError",
    "TrainResult",
    "UnknownNameError",
    "UserError",
    "create_model",
    "list_models",
    "list_tasks",
    "prepare_shared_data",
    "train",
    "validate_config",
]
