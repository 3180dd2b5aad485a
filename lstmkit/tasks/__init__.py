"""The task registry: a task name from the CLI or a model folder's config.json -> its estimator class.

A new task plugs in by adding a module under ``lstmkit/tasks/`` and one line here.
"""

from __future__ import annotations

import importlib

from lstmkit.errors import LstmkitError

TASKS: dict[str, str] = {
    "text-classifier": "lstmkit.tasks.text:TextClassifier",
}


def get_task_class(name: str):
    """The estimator class registered as ``name`` (imported on first use)."""
    if name not in TASKS:
        raise LstmkitError(f"unknown task {name!r}; valid tasks: {', '.join(sorted(TASKS))}")
    module_name, _, attr = TASKS[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)
