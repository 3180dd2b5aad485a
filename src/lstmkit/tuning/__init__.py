"""Tuning a task's settings with Optuna: ``lstmkit tune`` and :func:`lstmkit.tune` (docs/tuning.md).

``space``: search spaces (the tasks' defaults, YAML files); ``pruning``: the Lightning callback
that stops hopeless trials; ``study``: the study, its storage and its trials; ``report``:
``trials.csv``, ``best.yaml``, the plots and the line per trial.
"""

from lstmkit.tuning.space import default_space, read_space
from lstmkit.tuning.study import TuneResult, tune

__all__ = ["tune", "TuneResult", "default_space", "read_space"]
