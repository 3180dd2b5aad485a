r"""Recurrent layers in a form ONNX export can follow: exact on padded batches, any batch and length.

:mod:`lstmkit.nn`'s fused engine looks at a batch's lengths in Python (is anything padded? what is
the shortest length?) to pick its calls, so tracing it would freeze the one batch it was traced
with. :class:`ExportableRecurrent` runs the *same parameters* (``torch.nn.LSTM``'s names and
layout) with no Python decision on the data, only on the layer's configuration:

* each layer and direction is one single-layer, one-direction call of PyTorch's kernel
  (``torch._VF.lstm`` / ``gru`` / ``rnn_tanh`` / ``rnn_relu``), which the exporter writes as one
  ONNX ``LSTM`` / ``GRU`` / ``RNN`` node with a dynamic batch and sequence length;
* padding is handled by index arithmetic, exactly: the forward direction reads the right-padded
  batch as it is (a step only depends on the steps before it, so the valid steps are exact, and
  the padded ones are zeroed after); the backward direction reads each sequence *reversed
  within its own length*, gathered by the index ``rev[b, t] = lengths[b] - 1 - t`` for
  ``t < lengths[b]`` (else ``t``: padding stays put), runs forward, and is gathered back with
  the same index (it is its own inverse). No gate is saturated and no value depends on what
  the padding holds, so any runtime gives the reference results, whatever its ``sigmoid``;
* between layers the output is zeroed at padded steps, as the reference engine does.

Shapes (batch first): ``x (B, T, I)``, ``lengths (B,)`` int64 with ``1 <= lengths <= T`` ->
``output (B, T, D*H)`` (zero at padded steps) and ``h_n (L*D, B, H)`` (each sequence's
final hidden state per layer and direction: the forward one at ``lengths - 1``, the backward
one at step 0), as :class:`lstmkit.nn.LSTM` returns them. The LSTM's ``c_n`` is not returned
(nothing lstmkit exports reads it). Inference only: no dropout, zero initial state.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["ExportableRecurrent", "reverse_within_lengths", "steps_mask"]


def steps_mask(lengths: Tensor, steps: int) -> Tensor:
    """``(B, T)`` bool, True at each sequence's valid steps ``t < lengths[b]``."""
    return torch.arange(steps, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def reverse_within_lengths(lengths: Tensor, steps: int) -> Tensor:
    """``(B, T)`` long index reversing each sequence within its length; padding stays put.

    ``idx[b, t] = lengths[b] - 1 - t`` for ``t < lengths[b]``, else ``t``; its own inverse.
    """
    t = torch.arange(steps, device=lengths.device).unsqueeze(0)  # (1, T)
    flipped = lengths.unsqueeze(1) - 1 - t  # (B, T)
    return torch.where(flipped >= 0, flipped, t.expand_as(flipped))


def _gather_steps(x: Tensor, index: Tensor) -> Tensor:
    """``x (B, T, F)`` gathered along time by ``index (B, T)``."""
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.size(-1)))


class ExportableRecurrent(nn.Module):
    """An :class:`lstmkit.nn.LSTM` / ``GRU`` / ``RNN`` (sharing its parameters) for ONNX export.

    ``forward(x (B, T, I), lengths (B,)) -> (output (B, T, D*H), h_n (L*D, B, H))``; see the
    module docstring. Equal to the wrapped layer's ``(output, h_n)`` on any padded batch.
    """

    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        if getattr(rnn, "mode", None) not in ("LSTM", "GRU", "RNN_TANH", "RNN_RELU"):
            raise TypeError(f"expected an lstmkit.nn LSTM, GRU or RNN; got {type(rnn).__name__}")
        self.rnn = rnn

    def _direction(self, x: Tensor, layer: int, direction: int) -> Tensor:
        """One layer and direction over ``x (B, T, I_l)`` from a zero state -> ``(B, T, H)``."""
        rnn = self.rnn
        weights = rnn._weights(layer, direction)
        h0 = x.new_zeros(1, x.size(0), rnn.hidden_size)  # (1, B, H)
        if rnn.mode == "LSTM":
            out, _, _ = torch._VF.lstm(x, (h0, h0), weights, rnn.bias, 1, 0.0, False, False, True)
            return out
        kernel = {"GRU": torch._VF.gru, "RNN_TANH": torch._VF.rnn_tanh, "RNN_RELU": torch._VF.rnn_relu}[rnn.mode]
        out, _ = kernel(x, h0, weights, rnn.bias, 1, 0.0, False, False, True)
        return out

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        rnn = self.rnn
        if not rnn.batch_first:
            x = x.transpose(0, 1)
        T = x.size(1)
        lengths = lengths.to(torch.long)
        valid = steps_mask(lengths, T).unsqueeze(-1)  # (B, T, 1)
        reverse = reverse_within_lengths(lengths, T)  # (B, T)
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, rnn.hidden_size)  # (B, 1, H)
        layer_input = x.masked_fill(~valid, 0.0)  # what padding holds never matters
        finals = []
        for layer in range(rnn.num_layers):
            outs = []
            for direction in range(rnn.num_directions):
                if direction == 0:
                    out = self._direction(layer_input, layer, 0)  # (B, T, H)
                    finals.append(out.gather(1, last).squeeze(1))  # h at lengths - 1: (B, H)
                else:
                    out = _gather_steps(self._direction(_gather_steps(layer_input, reverse), layer, 1), reverse)
                    finals.append(out[:, 0])  # the backward direction ends at step 0
                outs.append(out)
            layer_input = torch.cat(outs, dim=-1).masked_fill(~valid, 0.0)  # (B, T, D*H)
        output = layer_input if rnn.batch_first else layer_input.transpose(0, 1)
        return output, torch.stack(finals)  # (L*D, B, H)
