"""The tasks: one package per task (``text``, ``tagger``, ``forecaster``, ``sequence``) over the
shared contract (:mod:`~lstmkit.tasks.base`, :mod:`~lstmkit.tasks.classification`), and the
registry that names them (:mod:`~lstmkit.tasks.registry`, re-exported here)."""

from lstmkit.tasks.registry import TASKS, Demo, Task, all_demos, get_demo, get_hook, get_task_class

__all__ = ["TASKS", "Demo", "Task", "all_demos", "get_demo", "get_hook", "get_task_class"]
