"""Tasks. Every task module is imported here explicitly, so importing the package registers them all."""

from restore_core.tasks import anomaly  # noqa: E402,F401  (registers itself)
from restore_core.tasks import desmoke  # noqa: E402,F401  (registers itself)
from restore_core.tasks import lowlight  # noqa: E402,F401  (registers itself)
from restore_core.tasks import tcfl  # noqa: E402,F401  (registers itself)
from restore_core.tasks.registry import TASKS, get_task, list_tasks, register_task

__all__ = ["TASKS", "get_task", "list_tasks", "register_task"]
