"""Tasks. Every task module is imported here explicitly, so importing the package registers them all."""

from restore_core.tasks import anomaly, desmoke, lowlight, tcfl  # noqa: F401  (each registers itself)
from restore_core.tasks.base import Evaluation, Task, check_data_root
from restore_core.tasks.registry import TASKS, get_task, list_tasks, register_task

__all__ = ["TASKS", "Evaluation", "Task", "check_data_root", "get_task", "list_tasks", "register_task"]
