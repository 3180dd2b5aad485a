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

That is what runs in PyTorch (and what :func:`torch.jit.trace` records). The *ONNX graph* does
not copy those gathers: each layer is written as ONE native ``LSTM`` / ``GRU`` / ``RNN`` node
(both directions in one node, ``direction="bidirectional"``) fed the batch's lengths as its
``sequence_lens`` input, which the ONNX operator defines exactly as above (the reverse
direction starts at each sequence's own last step; ``Y_h`` is each direction's final state).
:class:`_NativeLayer` is the bridge: an autograd function whose ``forward`` is the index
arithmetic and whose ``symbolic`` is the native node, with the weights reordered to ONNX's gate
order (LSTM ``i o f c`` from PyTorch's ``i f g o``; GRU ``z r h`` from ``r z n``, with
``linear_before_reset=1``, PyTorch's GRU). onnxruntime runs (and int8-quantises, as
``DynamicQuantizeLSTM``) that one node much faster than the gathers around two one-way nodes.

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


def _direction(x: Tensor, mode: str, weights: list[Tensor]) -> Tensor:
    """One layer and direction over ``x (B, T, I_l)`` from a zero state -> ``(B, T, H)``;
    ``weights``: ``[w_ih, w_hh(, b_ih, b_hh)]`` in PyTorch's layout."""
    h0 = x.new_zeros(1, x.size(0), weights[1].size(1))  # (1, B, H)
    bias = len(weights) == 4
    if mode == "LSTM":
        out, _, _ = torch._VF.lstm(x, (h0, h0), weights, bias, 1, 0.0, False, False, True)
        return out
    kernel = {"GRU": torch._VF.gru, "RNN_TANH": torch._VF.rnn_tanh, "RNN_RELU": torch._VF.rnn_relu}[mode]
    out, _ = kernel(x, h0, weights, bias, 1, 0.0, False, False, True)
    return out


def _layer(x: Tensor, lengths: Tensor, mode: str, directions: list[list[Tensor]]) -> tuple[Tensor, Tensor]:
    """One layer, all directions, by index arithmetic: ``x (B, T, I_l)`` (zero at padding),
    ``directions``: each direction's PyTorch-layout weights -> ``output (B, T, D*H)`` (not yet
    zeroed at padding), ``h_n (D, B, H)``."""
    T, H = x.size(1), directions[0][1].size(1)
    last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, H)  # (B, 1, H)
    outs, finals = [], []
    for direction, weights in enumerate(directions):
        if direction == 0:
            out = _direction(x, mode, weights)  # (B, T, H)
            finals.append(out.gather(1, last).squeeze(1))  # h at lengths - 1: (B, H)
        else:
            reverse = reverse_within_lengths(lengths, T)  # (B, T)
            out = _gather_steps(_direction(_gather_steps(x, reverse), mode, weights), reverse)
            finals.append(out[:, 0])  # the backward direction ends at step 0
        outs.append(out)
    return torch.cat(outs, dim=-1), torch.stack(finals)


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


    def _onnx_weights(self, layer: int) -> tuple[Tensor, Tensor, Tensor]:
        """The layer's weights in ONNX's layout: ``W (D, G*H, I_l)``, ``R (D, G*H, H)``,
        ``B (D, 2*G*H)`` (input then recurrent biases), gate blocks in ONNX's order."""
        rnn = self.rnn
        order = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}.get(rnn.mode, [0])  # PyTorch's blocks, ONNX order

        def reorder(w: Tensor) -> Tensor:
            return torch.cat([w.chunk(len(order))[k] for k in order]) if len(order) > 1 else w

        W, R, B = [], [], []
        for direction in range(rnn.num_directions):
            w_ih, w_hh, *biases = rnn._weights(layer, direction)
            W.append(reorder(w_ih))
            R.append(reorder(w_hh))
            rows = w_ih.size(0)
            b_ih, b_hh = biases if biases else (w_ih.new_zeros(rows), w_ih.new_zeros(rows))
            B.append(torch.cat([reorder(b_ih), reorder(b_hh)]))
        return torch.stack(W), torch.stack(R), torch.stack(B)

    def forward(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        rnn = self.rnn
        if not rnn.batch_first:
            x = x.transpose(0, 1)
        lengths = lengths.to(torch.long)
        layer_input, finals = x, []
        for layer in range(rnn.num_layers):
            torch_weights = [w for d in range(rnn.num_directions) for w in rnn._weights(layer, d)]
            layer_input, h_n = _NativeLayer.apply(layer_input, lengths, *self._onnx_weights(layer), rnn.mode,
                                                  rnn.num_directions, *torch_weights)  # (B, T, D*H)
            finals.append(h_n)  # (D, B, H)
        output = layer_input if rnn.batch_first else layer_input.transpose(0, 1)
        return output, torch.cat(finals)  # (L*D, B, H)


class _NativeLayer(torch.autograd.Function):
    """One recurrent layer: index arithmetic in PyTorch, one native node in ONNX (module docstring).

    ``apply(x (B, T, I_l), lengths (B,), W, R, B, mode, D, *weights)`` -> ``output (B, T, D*H)``
    (zero at padded steps), ``h_n (D, B, H)``. The native node reads no padded input and writes
    zeros past each length itself (onnxruntime does; the parity tests hold it to it), so the
    graph needs no masking around it. ``W``/``R``/``B`` (ONNX's layout) are read by :meth:`symbolic`, ``weights``
    (each direction's ``w_ih, w_hh(, b_ih, b_hh)``, PyTorch's layout) by :meth:`forward`."""

    @staticmethod
    def forward(ctx, x, lengths, W, R, B, mode, D, *weights):  # ONNX's names for the inputs
        per_direction = len(weights) // D
        valid = steps_mask(lengths, x.size(1)).unsqueeze(-1)  # (B, T, 1)
        out, h_n = _layer(x.masked_fill(~valid, 0.0),  # what padding holds never matters
                          lengths, mode, [list(weights[d * per_direction:(d + 1) * per_direction]) for d in range(D)])
        return out.masked_fill(~valid, 0.0), h_n  # zero at padded steps, as the native node gives

    @staticmethod
    def symbolic(g, x, lengths, W, R, B, mode, D, *weights):
        H = weights[1].type().sizes()[1]
        attributes = {"hidden_size_i": H, "direction_s": "bidirectional" if D == 2 else "forward"}
        if mode == "GRU":
            attributes["linear_before_reset_i"] = 1  # PyTorch's GRU: r * (W_hn h + b_hn)
        elif mode in ("RNN_TANH", "RNN_RELU"):
            attributes["activations_s"] = ["Tanh" if mode == "RNN_TANH" else "Relu"] * D
        node = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
        steps_first = g.op("Transpose", x, perm_i=[1, 0, 2])  # (T, B, I_l)
        sequence_lens = g.op("Cast", lengths, to_i=6)  # int32, as the operator wants
        outputs = g.op(node, steps_first, W, R, B, sequence_lens, outputs=3 if node == "LSTM" else 2,
                       **attributes)
        y, y_h = outputs[0], outputs[1]  # (T, D, B, H), (D, B, H)
        y = g.op("Transpose", y, perm_i=[2, 0, 1, 3])  # (B, T, D, H)
        shape = g.op("Constant", value_t=torch.tensor([0, 0, -1], dtype=torch.long))
        return g.op("Reshape", y, shape), y_h  # (B, T, D*H), (D, B, H)
