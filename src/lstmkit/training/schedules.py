"""The optimizer and the learning-rate schedule of ``train.*``, built from torch's own classes.

With lr the peak learning rate (``train.lr``), S the optimizer steps of the whole run
(epochs x steps per epoch), E the steps per epoch, W = round(warmup_epochs x E) the warmup steps
and s the 0-based step, the learning rate of step s is lr x f(s)::

    warmup (s < W)   (s + 1) / W                         LinearLR(1/W -> 1 over W - 1 steps)
    none             1                                    (nothing, or the warmup alone)
    cosine           (1 + cos(pi p)) / 2, p = (s-W)/(S-W)  SequentialLR(warmup, CosineAnnealingLR)
    linear           1 - p                                SequentialLR(warmup, LinearLR(1 -> 0))
    step             gamma ** (s // (step_size x E))      ChainedScheduler(warmup, StepLR): decays
                                                          at epochs step_size, 2 step_size, ...
                                                          counted from the start, warmup or not
    onecycle         OneCycleLR(max_lr=lr, total_steps=S, pct_start=W/S, or 0.3 when W = 0)
                     cosine up from lr/25, then down to lr/25e4; momentum is not cycled
    plateau          ReduceLROnPlateau(factor=gamma, patience=plateau_patience) after each
                     epoch on the monitored validation metric, after the LinearLR warmup

All are per-step schedulers (Lightning ``interval="step"``) except ReduceLROnPlateau (per epoch).
Their ``state_dict`` holds their whole configuration (T_max, total_steps, milestones), so a
resumed run continues the schedule it started with, whatever ``train.epochs`` says now
(see :func:`lstmkit.training.train.fit` for training a finished run longer).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.optim import lr_scheduler as sched

from lstmkit.training.config import TrainConfig

ENDING_SCHEDULES = ("cosine", "linear", "onecycle")
"""Schedules laid out over a fixed number of steps S, which end (near 0 for all three)."""


def build_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer named by ``cfg.optimizer`` at learning rate ``cfg.lr``."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum,
                                   weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}")


@dataclass
class Schedule:
    """The schedulers of one run, as Lightning's ``lr_scheduler`` config dicts."""

    schedulers: list[dict]
    """``{"scheduler": ..., "interval": "step" | "epoch", ["monitor": ...]}``, in stepping order."""
    total_steps: int
    """S, the steps the schedule was laid out over."""
    steps_per_epoch: int
    """E."""


def warmup_steps(cfg: TrainConfig, steps_per_epoch: int) -> int:
    """W = round(warmup_epochs x E)."""
    return round(cfg.warmup_epochs * steps_per_epoch)


def _warmup(optimizer, w: int) -> sched.LinearLR:
    """Factor (s + 1) / W for s < W, then 1 (for W = 1: 1 throughout)."""
    return sched.LinearLR(optimizer, start_factor=1 / w, end_factor=1.0, total_iters=max(1, w - 1))


def build_schedule(optimizer, cfg: TrainConfig, total_steps: int, steps_per_epoch: int,
                   monitor: str, mode: str) -> Schedule:
    """The schedulers for ``cfg.scheduler`` and ``cfg.warmup_epochs`` over S = ``total_steps``.

    ``monitor`` (a logged name such as ``val_loss``) and ``mode`` ("min"/"max") drive plateau.
    """
    s, e = max(1, total_steps), max(1, steps_per_epoch)
    w = min(warmup_steps(cfg, e), s)
    after = max(1, s - w)  # steps of the decay after the warmup

    def per_step(main):
        if w and main is not None:
            main = sched.SequentialLR(optimizer, [_warmup(optimizer, w), main], milestones=[w])
        elif w:
            main = _warmup(optimizer, w)
        return [] if main is None else [{"scheduler": main, "interval": "step"}]

    name = cfg.scheduler
    if name == "none":
        schedulers = per_step(None)
    elif name == "cosine":
        schedulers = per_step(sched.CosineAnnealingLR(optimizer, T_max=after))
    elif name == "linear":
        schedulers = per_step(sched.LinearLR(optimizer, start_factor=1.0, end_factor=0.0,
                                             total_iters=after))
    elif name == "step":
        decay = sched.StepLR(optimizer, step_size=cfg.step_size * e, gamma=cfg.gamma)
        main = sched.ChainedScheduler([_warmup(optimizer, w), decay]) if w else decay
        schedulers = [{"scheduler": main, "interval": "step"}]
    elif name == "onecycle":
        schedulers = [{"scheduler": sched.OneCycleLR(
            optimizer, max_lr=cfg.lr, total_steps=s, pct_start=w / s if w else 0.3,
            anneal_strategy="cos", cycle_momentum=False, div_factor=25.0, final_div_factor=1e4),
            "interval": "step"}]
    elif name == "plateau":
        plateau = sched.ReduceLROnPlateau(optimizer, mode=mode, factor=cfg.gamma,
                                          patience=cfg.plateau_patience)
        schedulers = [*per_step(None), {"scheduler": plateau, "interval": "epoch", "monitor": monitor}]
    else:
        raise ValueError(f"unknown scheduler {name!r}")
    return Schedule(schedulers, total_steps=s, steps_per_epoch=e)
