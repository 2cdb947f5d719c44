"""The task registry."""

from __future__ import annotations

from restore_core.registry import Registry

TASKS: Registry = Registry("task")
register_task = TASKS.register


def get_task(name: str):
    return TASKS.get(name)


def list_tasks() -> list[str]:
    return TASKS.names()
