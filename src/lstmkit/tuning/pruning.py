"""Stopping hopeless trials early: a Lightning callback that reports each epoch's validation
metric to Optuna and ends the trial when the study's pruner says so.

Optuna ships a ``PyTorchLightningPruningCallback`` (in optuna-integration), but it has broken
across Lightning releases (the import path, ``on_validation_end`` vs ``on_fit_end``, DDP support)
and it reads ``trainer.callback_metrics``, which holds Lightning's last logged value of a name.
This one is small and reads the epoch's metrics where lstmkit's trainer keeps them
(``pl_module.epoch_metrics``, :mod:`lstmkit.training.train`, the same numbers as a run's
``logs/metrics.csv``); ``tests/test_tune.py`` checks it prunes against the pinned Lightning.

Steps are 1-based epochs: ``trial.report(value, epoch)`` after each epoch's validation. The
pruners (:func:`make_pruner`):

``median``   Optuna's ``MedianPruner``: after ``startup`` trials, stop a trial whose value at an
             epoch is worse than the median of the earlier trials' values at that epoch.
``halving``  Optuna's ``SuccessiveHalvingPruner`` (asynchronous successive halving): at epochs 1,
             3, 9, ... keep the best third of the trials that reached that epoch.
``none``     never prune.
"""

from __future__ import annotations

import math

import optuna
from lightning.pytorch.callbacks import Callback

PRUNERS = ("median", "halving", "none")


def make_pruner(name: str, startup_trials: int = 5, warmup_epochs: int = 1) -> optuna.pruners.BasePruner:
    """The pruner called ``name`` (see the module docstring); ``median`` prunes nothing in the first
    ``startup_trials`` trials, nor in a trial's first ``warmup_epochs`` epochs."""
    if name == "median":  # steps are 1-based epochs; Optuna prunes from step == n_warmup_steps
        return optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=warmup_epochs + 1)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"unknown pruner {name!r}; one of: {', '.join(PRUNERS)}")


class PruneTrial(Callback):
    """After each epoch's validation: report ``val_<metric>`` to ``trial``; raise
    :class:`optuna.TrialPruned` when the pruner stops it.

    The exception leaves ``trainer.fit`` (Lightning tears the run down and re-raises it) and
    :meth:`lstmkit.tasks.base.Estimator.fit`; :func:`lstmkit.tuning.study.tune` records the trial
    as pruned. ``pruned_epoch`` says where it stopped.
    """

    def __init__(self, trial: optuna.Trial, metric: str):
        self.trial, self.metric = trial, metric
        self.pruned_epoch: int | None = None

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        metrics = getattr(pl_module, "epoch_metrics", None) or {}
        if self.metric not in metrics:
            raise KeyError(f"the tuned metric {self.metric!r} is not among the validation metrics {sorted(metrics)}")
        value = float(metrics[self.metric])
        epoch = trainer.current_epoch + 1
        if math.isfinite(value):  # a NaN would poison the median of later trials
            self.trial.report(value, epoch)
        if not math.isfinite(value) or self.trial.should_prune():
            self.pruned_epoch = epoch
            raise optuna.TrialPruned(f"pruned after epoch {epoch} (val_{self.metric}={value:.4g})")
