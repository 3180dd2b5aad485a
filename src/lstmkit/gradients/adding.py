r"""The adding problem (Hochreiter & Schmidhuber, 1997): a long-range task for recurrent cells.

Each sequence has T steps of two features: a value drawn uniformly from [0, 1], and a marker
that is 1 at exactly two steps — one in the first half, one in the second — and 0 elsewhere.
The target is the sum of the two marked values. The first marker can lie up to T - 1 steps before
the end, where the answer is read, so the cell must carry one number across up to T steps.

Predicting 1 (the mean) everywhere has a mean squared error of 1/6; a prediction counts as
*correct* when it is within :data:`TOLERANCE` of the target (chance: about 5%).

Shapes: ``x (B, T, 2)`` float32, ``y (B,)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

TOLERANCE = 0.04
"""A prediction within this of the target counts as correct (the usual threshold)."""


def adding_batch(batch: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``batch`` sequences of ``length`` steps (``length >= 2``): ``x (B, T, 2)``, ``y (B,)``."""
    if length < 2:
        raise ValueError(f"length must be >= 2; got {length}")
    values = torch.rand(batch, length, generator=generator)  # (B, T)
    half = length // 2
    first = torch.randint(0, half, (batch,), generator=generator)  # (B,)
    second = torch.randint(half, length, (batch,), generator=generator)
    markers = torch.zeros(batch, length)
    rows = torch.arange(batch)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = torch.stack([values, markers], dim=-1)  # (B, T, 2)
    return x, (values * markers).sum(1)


def accuracy(prediction: Tensor, target: Tensor) -> float:
    """Share of predictions within :data:`TOLERANCE` of the target."""
    return float(((prediction - target).abs() < TOLERANCE).float().mean())
