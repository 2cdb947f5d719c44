"""restore_core: models, losses, metrics, data, tasks and the one training loop.

Public API::

    from restore_core import create_model, list_models, train
    from restore_core import register_model, register_task, register_loss, register_metric  # your own parts
"""

from restore_core import losses, tasks  # noqa: F401  (register the loss terms and tasks)
from restore_core.errors import ConfigError, DataError, UnknownNameError, UserError
from restore_core.loop import TrainResult, prepare_shared_data, train
from restore_core.losses import register_loss
from restore_core.metrics import list_metrics, register_metric
from restore_core.models import create_model, list_models, register_model
from restore_core.schema import validate_config
from restore_core.sections import Config
from restore_core.tasks import Evaluation, Task, list_tasks, register_task

__all__ = [
    "Config",
    "ConfigError",
    "DataError",
    "Evaluation",
    "Task",
    "TrainResult",
    "UnknownNameError",
    "UserError",
    "create_model",
    "list_metrics",
    "list_models",
    "list_tasks",
    "prepare_shared_data",
    "register_loss",
    "register_metric",
    "register_model",
    "register_task",
    "train",
    "validate_config",
]
