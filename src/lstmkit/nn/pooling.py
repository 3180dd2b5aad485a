"""Pooling a padded batch of sequences into one vector per sequence.

Symbols
-------
=====  =========================================
``B``  batch size
``T``  padded sequence length
``D``  feature size (e.g. ``2H`` for a bidirectional LSTM)
``A``  attention size
=====  =========================================

Every function takes ``x (B, T, D)``, a right-padded batch, and ``lengths (B,)`` (integers,
``1 <= lengths[b] <= T``). Steps ``t >= lengths[b]`` are padding: they may hold anything, and no
result depends on them. For a sequence ``x_1..x_L`` of length ``L``:

- ``last``:  ``x_L``; with ``bidirectional=True`` the forward half ``x_L[:D/2]`` and the backward
  half ``x_1[D/2:]`` (each direction's final state: the backward LSTM ends at step 1).
- ``mean``:  ``(1/L) sum_t x_t``.
- ``max``:   ``max_t x_t``, feature by feature.
- ``attention`` (additive, Bahdanau-style)::

      u_t = v^T tanh(W x_t + b)                  # a score per step
      a_t = exp(u_t) / sum_{s<=L} exp(u_s)       # masked softmax: a_t = 0 for t > L
      pooled = sum_t a_t x_t

- ``max_mean``: ``[max ; mean]``, size ``2D``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

METHODS = ("last", "mean", "max", "attention", "max_mean")


def lengths_to_mask(lengths: Tensor, max_len: int) -> Tensor:
    """``(B, max_len)`` bool mask, ``True`` at ``t < lengths[b]`` (real steps)."""
    steps = torch.arange(max_len, device=lengths.device)  # (T,)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)


def _check(x: Tensor, lengths: Tensor) -> Tensor:
    """Validate ``x (B, T, D)`` and ``lengths (B,)``; return ``lengths`` as long on ``x.device``."""
    if x.dim() != 3:
        raise ValueError(f"x must have 3 dimensions (B, T, D), got shape {tuple(x.shape)}")
    if not isinstance(lengths, Tensor):
        raise ValueError(f"lengths must be a tensor, got {type(lengths).__name__}")
    if lengths.shape != (x.size(0),):
        raise ValueError(f"lengths must have shape (B,) = ({x.size(0)},), got {tuple(lengths.shape)}")
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must be an integer tensor, got {lengths.dtype}")
    lengths = lengths.to(device=x.device, dtype=torch.long)
    if lengths.numel() and (lengths.min() < 1 or lengths.max() > x.size(1)):
        raise ValueError(
            f"lengths must be between 1 and T = {x.size(1)}, got min {int(lengths.min())}, max {int(lengths.max())}"
        )
    return lengths


def _zero_padding(x: Tensor, mask: Tensor) -> Tensor:
    """``x`` with padded steps set to 0 (``where``, not multiply: garbage may be inf or NaN)."""
    return x.masked_fill(~mask.unsqueeze(2), 0.0)


def last_pool(x: Tensor, lengths: Tensor, bidirectional: bool = False) -> Tensor:
    """``(B, D)``: the state at each sequence's last real step.

    With ``bidirectional=True`` the first ``D/2`` features come from step ``lengths - 1``
    (forward direction) and the last ``D/2`` from step 0 (backward direction).
    """
    lengths = _check(x, lengths)
    if bidirectional and x.size(2) % 2:
        raise ValueError(f"x: bidirectional last pooling needs an even feature size, got {x.size(2)}")
    return masked_last(x, lengths, bidirectional)


def mean_pool(x: Tensor, lengths: Tensor) -> Tensor:
    """``(B, D)``: the mean over each sequence's real steps."""
    lengths = _check(x, lengths)
    return masked_mean(x, lengths, lengths_to_mask(lengths, x.size(1)))


def max_pool(x: Tensor, lengths: Tensor) -> Tensor:
    """``(B, D)``: the feature-wise maximum over each sequence's real steps."""
    lengths = _check(x, lengths)
    return masked_max(x, lengths_to_mask(lengths, x.size(1)))


# The unchecked versions: lengths already long, on x's device; mask (B, T) from lengths_to_mask.


def masked_last(x: Tensor, lengths: Tensor, bidirectional: bool) -> Tensor:
    rows = torch.arange(x.size(0), device=x.device)
    last = x[rows, lengths - 1]  # (B, D)
    if not bidirectional:
        return last
    half = x.size(2) // 2
    return torch.cat([last[:, :half], x[:, 0, half:]], dim=1)  # (B, D/2) + (B, D/2) -> (B, D)


def masked_mean(x: Tensor, lengths: Tensor, mask: Tensor) -> Tensor:
    total = _zero_padding(x, mask).sum(dim=1)  # (B, D)
    return total / lengths.unsqueeze(1).to(x.dtype)


def masked_max(x: Tensor, mask: Tensor) -> Tensor:
    return x.masked_fill(~mask.unsqueeze(2), float("-inf")).amax(dim=1)  # (B, D)


class AttentionPooling(nn.Module):
    """Additive attention pooling: ``u_t = v^T tanh(W x_t + b)``, masked softmax, weighted sum.

    Args:
        input_size: ``D``.
        attention_size: ``A``, the size of ``W x_t + b``.

    Forward:
        x ``(B, T, D)``, lengths ``(B,)`` -> ``(pooled (B, D), weights (B, T))``; the weights
        are exactly 0 at padded steps and sum to 1 over each sequence.
    """

    def __init__(self, input_size: int, attention_size: int = 128) -> None:
        super().__init__()
        self.input_size = input_size
        self.attention_size = attention_size
        self.proj = nn.Linear(input_size, attention_size)  # W, b
        self.score = nn.Linear(attention_size, 1, bias=False)  # v

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        lengths = _check(x, lengths)
        if x.size(2) != self.input_size:
            raise ValueError(f"x: expected feature size {self.input_size}, got {x.size(2)}")
        return self._pool(x, lengths_to_mask(lengths, x.size(1)))

    def _pool(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        x = _zero_padding(x, mask)
        u = self.score(torch.tanh(self.proj(x))).squeeze(2)  # (B, T, A) -> (B, T)
        weights = torch.softmax(u.masked_fill(~mask, float("-inf")), dim=1)  # (B, T), 0 at padding
        pooled = torch.bmm(weights.unsqueeze(1), x).squeeze(1)  # (B, 1, T) @ (B, T, D) -> (B, D)
        return pooled, weights


class Pooling(nn.Module):
    """One module for every pooling method, so a model can take the method from its config.

    Args:
        method: one of ``last``, ``mean``, ``max``, ``attention``, ``max_mean``.
        input_size: ``D``, the feature size of ``x``.
        bidirectional: ``x`` is a bidirectional RNN's output (``[forward ; backward]``); only
            ``last`` uses it.
        attention_size: ``A`` for ``attention``.

    Attributes:
        output_size: ``D``, or ``2D`` for ``max_mean``.

    Forward:
        x ``(B, T, D)``, lengths ``(B,)`` -> ``(pooled (B, output_size), weights)`` with
        ``weights (B, T)`` for ``attention`` and ``None`` otherwise.
    """

    def __init__(self, method: str, input_size: int, bidirectional: bool = False, attention_size: int = 128) -> None:
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if bidirectional and method == "last" and input_size % 2:
            raise ValueError(f"input_size must be even for bidirectional last pooling, got {input_size}")
        self.method = method
        self.input_size = input_size
        self.bidirectional = bidirectional
        self.output_size = 2 * input_size if method == "max_mean" else input_size
        self.attention = AttentionPooling(input_size, attention_size) if method == "attention" else None

    def extra_repr(self) -> str:
        return f"method={self.method!r}, input_size={self.input_size}, output_size={self.output_size}"

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        lengths = _check(x, lengths)
        if x.size(2) != self.input_size:
            raise ValueError(f"x: expected feature size {self.input_size}, got {x.size(2)}")
        if self.method == "last":
            return masked_last(x, lengths, self.bidirectional), None
        mask = lengths_to_mask(lengths, x.size(1))  # (B, T)
        if self.method == "mean":
            return masked_mean(x, lengths, mask), None
        if self.method == "max":
            return masked_max(x, mask), None
        if self.method == "max_mean":
            return torch.cat([masked_max(x, mask), masked_mean(x, lengths, mask)], dim=1), None  # (B, 2D)
        return self.attention._pool(x, mask)
