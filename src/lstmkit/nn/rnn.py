r"""Recurrent layers written from their gate equations: :class:`LSTM`, :class:`GRU`, :class:`RNN`.

They take the same constructor arguments as ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` and own parameters
with the same names and shapes (``weight_ih_l0``, ``weight_hh_l0_reverse``, ...; LSTM gate order
i, f, g, o; GRU gate order r, z, n), so ``ours.load_state_dict(torch_lstm.state_dict())`` works both
ways. On top of ``torch.nn``'s interface they add:

* ``lengths``: the true lengths of a right-padded batch. Results are then *exact*: they equal what
  ``torch.nn.LSTM`` returns on a ``PackedSequence`` of the same batch — outputs at padded positions
  are zero, ``h_n``/``c_n`` hold each sequence's state at its own last step, and the reverse
  direction of a bidirectional layer starts at each sequence's true end.
* two engines, equal to 1e-5 in float32 (forward and gradients):

  - ``engine="fused"`` (default) runs the same weights through PyTorch's fused kernel (oneDNN on
    CPU, cuDNN on CUDA). It never feeds a ``PackedSequence`` to the kernel (on CPU that falls back
    to a slow native loop, pytorch/pytorch#149194); padding is handled exactly by the *freeze
    column* described below.
    At inference on the CPU, batches of at most 16 sequences run right-aligned on step counts
    bucketed to multiples of 16, one fused call per layer, so that oneDNN's cached kernels are
    reused (``_RecurrentBase._forward_fused_right_aligned``).
  - ``engine="reference"``: a plain loop over the equations, which can also return every step's
    gate activations (``return_gates=True``) for explanation and teaching.

* ``init="orthogonal"``: orthogonal recurrent weights, Xavier-uniform input weights and an LSTM
  forget-gate bias of 1 — a remedy for vanishing/exploding gradients at the start of training.

Symbols
-------
======  =====================================================
T       sequence length (longest in the batch)
B       batch size
I       ``input_size``
H       ``hidden_size``
L       ``num_layers``
D       2 if ``bidirectional`` else 1
G       gates per cell: 4 (LSTM), 3 (GRU), 1 (RNN)
======  =====================================================

Equations (one step, one direction; ``σ`` is the logistic sigmoid, ``⊙`` the element-wise product)
------------------------------------------------------------------------------------------------
LSTM::

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)        input gate
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)        forget gate
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)     candidate cell
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)        output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                       cell state (long-term memory)
    h_t = o_t ⊙ tanh(c_t)                                 hidden state / output

GRU::

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

RNN::

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      (or relu)

Layer ``l > 0`` takes the previous layer's output (size ``D * H``) as its input, with dropout
between layers when training.

Inputs: ``input, hx=None, lengths=None, return_gates=False``
    * ``input``: ``(T, B, I)``, or ``(B, T, I)`` with ``batch_first=True``.
    * ``hx``: initial state ``(L * D, B, H)`` (LSTM: a tuple ``(h_0, c_0)`` of two such); zeros if
      ``None``. Always ``(L * D, B, H)``, whatever ``batch_first`` says.
    * ``lengths``: ``(B,)`` integer tensor, ``1 <= lengths[b] <= T``; ``None`` means every
      sequence fills all ``T`` steps.
    * ``return_gates``: also return every step's activations (computed by the reference loop).

Outputs: ``output, h_n`` (LSTM: ``output, (h_n, c_n)``), plus ``gates`` when ``return_gates``
    * ``output``: ``(T, B, D * H)`` (``(B, T, D * H)`` with ``batch_first``): the last layer's
      ``h_t`` for every step, both directions concatenated; zero at padded steps.
    * ``h_n``, ``c_n``: ``(L * D, B, H)``, each sequence's final state for each layer and
      direction (for the reverse direction that is its state after reading step 0). Note: for
      bidirectional layers ``h_n`` is *not* ``output[-1]``.
    * ``gates``: ``{"l0": {...}, "l0_reverse": {...}, ...}``; each holds ``(T, B, H)`` tensors
      (``(B, T, H)`` with ``batch_first``), zero at padded steps: ``i, f, g, o, c`` for the LSTM,
      ``r, z, n`` for the GRU, ``h`` for the RNN.

The freeze column (how the fused engine stays exact on padded batches)
---------------------------------------------------------------------
The fused kernel knows nothing of lengths: it keeps stepping through the padding. Each layer's
input therefore gets one extra feature, ``p_t = 1`` at padded steps and ``0`` elsewhere, with a
constant weight column of ``+F`` on the forget gate (GRU: update gate) and ``-F`` on the input gate
(``F = 1e4``). At valid steps ``p_t = 0`` adds exactly nothing. At padded steps the gates saturate
*exactly* in floating point, ``f = σ(F + ...) = 1`` and ``i = σ(-F + ...) = 0``, so
``c_t = 1 ⊙ c_{t-1} + 0 ⊙ g_t = c_{t-1}``: the cell state is frozen at each sequence's last step
and the kernel's final ``c`` *is* ``c_n`` (GRU: ``z = 1`` freezes ``h``). Saturated gates have zero
derivative, so gradients are exact too. ``h_n`` of the forward direction is read from ``output``
at ``lengths - 1``. For the reverse direction, the kernel starts at step ``T - 1``, inside the
padding; with a zero initial state the frozen ``c`` stays 0 and ``h = o ⊙ tanh(0) = 0`` until the
true end. To keep the extra column (and its copies) off most of the work, each layer runs as
three calls: the common prefix ``[0, min(lengths))``, which holds no padding, through the plain
fused kernel in both directions, and only the ragged tail with the freeze column (see
``_fused_split``). With a user-given LSTM ``hx`` (or for the plain RNN, whose tanh cannot be
frozen) the reverse direction instead runs forward over each sequence reversed within its own
length.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["LSTM", "GRU", "RNN"]

# Pre-activation added at padded steps; large enough to saturate σ exactly in float32/16.
_FREEZE = 1.0e4

_ENGINES = ("fused", "reference")
_INITS = ("default", "orthogonal")


def _lengths_mask(lengths: Tensor, max_len: int) -> Tensor:
    """``(B,)`` lengths -> ``(T, B)`` bool mask, True at valid steps."""
    steps = torch.arange(max_len, device=lengths.device).unsqueeze(1)  # (T, 1)
    return steps < lengths.unsqueeze(0)  # (T, B)


def _reverse_index(lengths: Tensor, max_len: int) -> Tensor:
    """``(T, B)`` index that reverses each sequence within its own length (padding stays put).

    ``idx[t, b] = lengths[b] - 1 - t`` for ``t < lengths[b]``, else ``t``. It is its own inverse.
    """
    steps = torch.arange(max_len, device=lengths.device).unsqueeze(1)  # (T, 1)
    flipped = lengths.unsqueeze(0) - 1 - steps  # (T, B)
    return torch.where(flipped >= 0, flipped, steps.expand_as(flipped))


def _zero_padded(out: Tensor, valid: Tensor) -> Tensor:
    """``out * valid``; in place when no gradient is recorded (inference), saving a copy."""
    if torch.is_grad_enabled() and out.requires_grad:
        return out * valid
    return out.mul_(valid)


def _time_gather(x: Tensor, index: Tensor) -> Tensor:
    """``x (T, B, F)`` gathered along time by ``index (T', B)`` -> ``(T', B, F)``."""
    return x.gather(0, index.unsqueeze(-1).expand(-1, -1, x.size(-1)))


STEP_BUCKET = 16
"""On the CPU at inference, the kernel sees step counts in multiples of this
(:meth:`_RecurrentBase._forward_fused_right_aligned`)."""
ALIGNED_MAX_BATCH = 16
"""... for batches of at most this many sequences. A kernel rebuild is a large share of a small
batch's call; a large batch pays it once for many sequences, and bucketing its steps slowed it
(measurements: docs/benchmarks.md, "Serving", right-aligned bucketed steps)."""


class _RecurrentBase(nn.Module):
    """Shared parameters, validation and engines of :class:`LSTM`, :class:`GRU`, :class:`RNN`."""

    mode: str = ""  # "LSTM", "GRU", "RNN_TANH", "RNN_RELU"
    num_gates: int = 1
    # Which gate rows the freeze column pushes to +F / -F (slices in units of H), or None.
    freeze_open: int | None = None
    freeze_shut: int | None = None

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        engine: str = "fused",
        init: str = "default",
    ) -> None:
        super().__init__()
        if not (isinstance(input_size, int) and input_size > 0):
            raise ValueError(f"input_size must be a positive int, got {input_size!r}")
        if not (isinstance(hidden_size, int) and hidden_size > 0):
            raise ValueError(f"hidden_size must be a positive int, got {hidden_size!r}")
        if not (isinstance(num_layers, int) and num_layers > 0):
            raise ValueError(f"num_layers must be a positive int, got {num_layers!r}")
        if not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if engine not in _ENGINES:
            raise ValueError(f"engine must be one of {', '.join(_ENGINES)}; got {engine!r}")
        if init not in _INITS:
            raise ValueError(f"init must be one of {', '.join(_INITS)}; got {init!r}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.engine = engine
        self.init = init

        gate_size = self.num_gates * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for direction in range(self.num_directions):
                sfx = self._suffix(layer, direction)
                # Registered in nn.LSTM's order so state_dicts line up key by key.
                self.register_parameter(f"weight_ih{sfx}", nn.Parameter(torch.empty(gate_size, layer_input)))
                self.register_parameter(f"weight_hh{sfx}", nn.Parameter(torch.empty(gate_size, hidden_size)))
                if bias:
                    self.register_parameter(f"bias_ih{sfx}", nn.Parameter(torch.empty(gate_size)))
                    self.register_parameter(f"bias_hh{sfx}", nn.Parameter(torch.empty(gate_size)))
        self.reset_parameters()

    # ------------------------------------------------------------------ parameters
    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @staticmethod
    def _suffix(layer: int, direction: int) -> str:
        return f"_l{layer}" + ("_reverse" if direction == 1 else "")

    def _weights(self, layer: int, direction: int) -> list[Tensor]:
        """``[w_ih (GH, I_l), w_hh (GH, H), b_ih (GH,), b_hh (GH,)]`` (no biases if ``bias=False``)."""
        sfx = self._suffix(layer, direction)
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
        return [getattr(self, name + sfx) for name in names]

    def reset_parameters(self) -> None:
        """``init="default"``: U(-1/√H, 1/√H) like ``torch.nn``; ``"orthogonal"``: see module doc."""
        H = self.hidden_size
        if self.init == "default":
            bound = 1.0 / math.sqrt(H)
            for weight in self.parameters():
                nn.init.uniform_(weight, -bound, bound)
            return
        with torch.no_grad():
            for layer in range(self.num_layers):
                for direction in range(self.num_directions):
                    w_ih, w_hh, *biases = self._weights(layer, direction)
                    for gate in range(self.num_gates):  # each gate's block on its own
                        rows = slice(gate * H, (gate + 1) * H)
                        nn.init.xavier_uniform_(w_ih[rows])
                        nn.init.orthogonal_(w_hh[rows])
                    for b in biases:
                        b.zero_()
                    if biases and self.mode == "LSTM":
                        biases[0][H : 2 * H] = 1.0  # forget gate: remember by default

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s + f", engine={self.engine!r}, init={self.init!r}"

    # ------------------------------------------------------------------ validation
    def _check_inputs(self, input: Tensor, hx, lengths: Tensor | None) -> tuple[Tensor | None, Tensor | None]:
        """Validate shapes; return ``(lengths on input's device as long, or None; mask (T, B) or None)``."""
        if not isinstance(input, Tensor) or input.dim() != 3:
            layout = "(B, T, input_size)" if self.batch_first else "(T, B, input_size)"
            got = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(f"input must be a 3-D tensor {layout}; got shape {got}")
        if input.size(-1) != self.input_size:
            raise ValueError(
                f"input: last dimension must equal input_size={self.input_size}; got {input.size(-1)}"
            )
        T, B = (input.size(1), input.size(0)) if self.batch_first else (input.size(0), input.size(1))
        if T == 0 or B == 0:
            raise ValueError(f"input: needs at least one step and one sequence; got shape {tuple(input.shape)}")
        expected = (self.num_layers * self.num_directions, B, self.hidden_size)
        states = hx if isinstance(hx, tuple) else (hx,)
        if hx is not None:
            if (self.mode == "LSTM") != isinstance(hx, tuple) or len(states) != (2 if self.mode == "LSTM" else 1):
                kind = "a tuple (h_0, c_0)" if self.mode == "LSTM" else "a single tensor h_0"
                raise ValueError(f"hx must be {kind}")
            for name, state in zip(("h_0", "c_0"), states):
                if tuple(state.shape) != expected:
                    raise ValueError(f"hx: {name} must have shape {expected}; got {tuple(state.shape)}")
        if lengths is None:
            return None, None
        if not isinstance(lengths, Tensor):
            lengths = torch.as_tensor(lengths)
        if lengths.dim() != 1 or lengths.numel() != B:
            raise ValueError(f"lengths must be a 1-D tensor of {B} lengths; got shape {tuple(lengths.shape)}")
        if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
            raise ValueError(f"lengths must hold integers; got dtype {lengths.dtype}")
        lo, hi = int(lengths.min()), int(lengths.max())
        if lo < 1:
            raise ValueError(f"lengths must be >= 1; got a length of {lo}")
        if hi > T:
            raise ValueError(f"lengths must be <= the sequence length T={T}; got a length of {hi}")
        lengths = lengths.to(device=input.device, dtype=torch.long)
        if lo == T:  # nothing is padded: the plain path is exact and cheaper
            return None, None
        return lengths, _lengths_mask(lengths, T)

    # ------------------------------------------------------------------ forward
    def forward(self, input: Tensor, hx=None, lengths: Tensor | None = None, return_gates: bool = False):
        lengths, mask = self._check_inputs(input, hx, lengths)
        x = input.transpose(0, 1) if self.batch_first else input  # (T, B, I): time-major inside
        T, B = x.shape[:2]
        shape = (self.num_layers * self.num_directions, B, self.hidden_size)
        if hx is None:
            zeros = x.new_zeros(shape)
            states = (zeros, zeros) if self.mode == "LSTM" else (zeros,)
        else:
            states = hx if isinstance(hx, tuple) else (hx,)

        if return_gates or self.engine == "reference":
            output, finals, gates = self._forward_reference(x, states, lengths, mask, return_gates)
        elif self._runs_right_aligned(x, hx):
            output, finals = self._forward_fused_right_aligned(x, states, lengths)
            gates = None
        elif lengths is None:
            output, finals = self._forward_fused_full(x, states)
            gates = None
        else:
            output, finals = self._forward_fused_padded(x, states, lengths, mask, zero_init=hx is None)
            gates = None

        if self.batch_first:
            output = output.transpose(0, 1)
            if gates is not None:
                gates = {k: {n: t.transpose(0, 1) for n, t in g.items()} for k, g in gates.items()}
        hidden = finals if self.mode == "LSTM" else finals[0]
        return (output, hidden, gates) if return_gates else (output, hidden)

    # -- fused engine ----------------------------------------------------------
    def _kernel(self, x: Tensor, states: tuple[Tensor, ...], weights: list[Tensor], num_layers: int,
                bidirectional: bool, dropout: float) -> tuple[Tensor, tuple[Tensor, ...]]:
        """One call of PyTorch's fused kernel on time-major ``x (T, B, ·)``."""
        train = self.training and dropout > 0
        if self.mode == "LSTM":
            out, h, c = torch._VF.lstm(x, states, weights, self.bias, num_layers, dropout, train, bidirectional, False)
            return out, (h, c)
        fn = {"GRU": torch._VF.gru, "RNN_TANH": torch._VF.rnn_tanh, "RNN_RELU": torch._VF.rnn_relu}[self.mode]
        out, h = fn(x, states[0], weights, self.bias, num_layers, dropout, train, bidirectional, False)
        return out, (h,)

    def _forward_fused_full(self, x: Tensor, states: tuple[Tensor, ...]):
        """No padding: every layer and direction in one fused call."""
        weights = [w for layer in range(self.num_layers) for d in range(self.num_directions)
                   for w in self._weights(layer, d)]
        return self._kernel(x, states, weights, self.num_layers, self.bidirectional, self.dropout)

    def _runs_right_aligned(self, x: Tensor, hx) -> bool:
        """Whether this call runs :meth:`_forward_fused_right_aligned`: inference on the CPU on at
        most ``ALIGNED_MAX_BATCH`` sequences, in a layer whose frozen steps pass the initial state
        unchanged (a GRU from any state, an LSTM from the zero state; the plain RNN has no freeze
        column)."""
        return (not self.training and x.device.type == "cpu" and x.size(1) <= ALIGNED_MAX_BATCH
                and self.freeze_open is not None and (hx is None or self.mode == "GRU"))

    def _forward_fused_right_aligned(self, x: Tensor, states, lengths: Tensor | None):
        """Inference in ONE fused call per layer, on few distinct shapes: every sequence is moved
        right so that all end at the last step, with frozen steps in front, and the steps are
        padded up to a multiple of ``STEP_BUCKET``. ``x (T, B, I)`` -> ``output (T, B, D*H)``
        (zero past each length) and the final states, each ``(L*D, B, H)``.

        With ``S`` = T rounded up to a multiple of ``STEP_BUCKET`` (T itself below one bucket) and
        ``k_b = S - length_b`` frozen steps in front of sequence ``b`` (its step ``t`` at aligned
        step ``t + k_b``):

        * forward direction: the frozen steps keep the state (an LSTM's ``c`` stays 0 and so
          ``h = o * tanh(0) = 0``; a GRU's ``h`` is kept), then the sequence runs to step ``S - 1``:
          ``h_n``, ``c_n`` are the kernel's own;
        * reverse direction: starts at each sequence's true end (step ``S - 1``), so no padding
          comes first; after its step 0 it crosses the frozen steps (``c`` kept, an LSTM's ``h``
          moves), so its ``h_n`` is read from the output at aligned step ``k_b``.

        Why: oneDNN builds a kernel ("primitive") per input shape, a few ms each, and keeps the
        last ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` (64 under ``lstmkit serve`` and the command line,
        :func:`lstmkit.training.threads.tune_process`: each holds memory).
        Single texts of 400 lengths met 400 shapes (a rebuild at every call, or with a large
        cache a serving process that grew for hours); now 40 (the 15 lengths below one bucket,
        then one per 16 steps), and a small padded batch takes one call per layer instead of the
        three of :meth:`_fused_split`. ``benchmarks/small_batches.py`` measures it on the sentiment
        model (one review at a time, micro-batches, length-sorted batches): the numbers are in
        docs/benchmarks.md ("Serving"), kept there so that they are updated with the benchmark.
        """
        H, D = self.hidden_size, self.num_directions
        T, B = x.shape[:2]
        steps = T if T < STEP_BUCKET else -(-T // STEP_BUCKET) * STEP_BUCKET  # S (short inputs: their own T)
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long, device=x.device)
        shift = steps - lengths  # (B,): k_b, the frozen steps in front of each sequence
        aligned = torch.arange(steps, device=x.device).unsqueeze(1)  # (S, 1)
        source = (aligned - shift).clamp(min=0)  # (S, B): a valid step of x (padding is never read)
        frozen = (aligned < shift).unsqueeze(-1).to(x.dtype)  # (S, B, 1): the freeze feature p_t
        first = shift.view(1, B, 1).expand(1, B, H)  # (1, B, H): aligned step of each sequence's step 0
        finals: list[list[Tensor]] = [[] for _ in states]
        layer_input = _time_gather(x, source)  # (S, B, I)
        for layer in range(self.num_layers):
            rows = slice(layer * D, (layer + 1) * D)
            weights = [w for d in range(D) for w in self._frozen_weights(layer, d)]
            out, fin = self._kernel(torch.cat([layer_input, frozen], dim=-1), tuple(s[rows] for s in states),
                                    weights, 1, D == 2, 0.0)  # out (S, B, D*H)
            fin = list(fin)
            if D == 2 and self.mode != "GRU":
                fin[0] = torch.cat([fin[0][:1], out[..., H:].gather(0, first)], dim=0)
            for acc, f in zip(finals, fin):
                acc.append(f)
            layer_input = out
        back = (torch.arange(T, device=x.device).unsqueeze(1) + shift).clamp(max=steps - 1)  # (T, B)
        valid = _lengths_mask(lengths, T).unsqueeze(-1).to(x.dtype)  # (T, B, 1)
        output = _zero_padded(_time_gather(layer_input, back), valid)  # (T, B, D*H)
        return output, tuple(torch.cat(acc, dim=0) for acc in finals)

    def _frozen_weights(self, layer: int, direction: int) -> list[Tensor]:
        """The layer's weights with the freeze column appended to ``w_ih``: ``(GH, I_l + 1)``."""
        w_ih, *rest = self._weights(layer, direction)
        H = self.hidden_size
        column = w_ih.new_zeros(w_ih.size(0), 1)  # (GH, 1)
        column[self.freeze_open * H : (self.freeze_open + 1) * H] = _FREEZE
        if self.freeze_shut is not None:
            column[self.freeze_shut * H : (self.freeze_shut + 1) * H] = -_FREEZE
        return [torch.cat([w_ih, column], dim=1), *rest]

    def _forward_fused_padded(self, x: Tensor, states, lengths: Tensor, mask: Tensor, zero_init: bool):
        """Exact results on a right-padded batch: three fused calls per layer (:meth:`_fused_split`),
        or, when the reverse direction cannot cross padding unchanged, one per direction."""
        T, B = x.shape[:2]
        H, D = self.hidden_size, self.num_directions
        valid = mask.unsqueeze(-1).to(x.dtype)  # (T, B, 1)
        padded = 1.0 - valid  # (T, B, 1): the freeze feature p_t
        last = (lengths - 1).view(1, B, 1).expand(1, B, H)  # (1, B, H) gather index
        can_freeze = self.freeze_open is not None
        # The split is exact when the reverse direction can cross the padding unchanged.
        split = can_freeze and (not self.bidirectional or zero_init or self.mode == "GRU")
        reverse_index = None if split else _reverse_index(lengths, T)
        prefix = int(lengths.min())  # steps [0, prefix) hold no padding in any sequence
        finals: list[list[Tensor]] = [[] for _ in states]
        # Padding values must never matter: zero them (the split path only has padding in its tail).
        layer_input = x if split else x.masked_fill(~mask.unsqueeze(-1), 0.0)  # (T, B, I)
        for layer in range(self.num_layers):
            rows = slice(layer * D, (layer + 1) * D)
            layer_states = tuple(s[rows] for s in states)  # each (D, B, H)
            if split:
                out, fin = self._fused_split(layer, layer_input, padded, valid, layer_states, last, prefix)
            else:
                out, fin = self._fused_by_direction(layer, layer_input, padded, valid, layer_states,
                                                    reverse_index, last, can_freeze)
            for acc, f in zip(finals, fin):
                acc.append(f)
            if layer < self.num_layers - 1 and self.dropout > 0 and self.training:
                out = F.dropout(out, self.dropout, True)
            layer_input = out
        return layer_input, tuple(torch.cat(acc, dim=0) for acc in finals)

    def _fused_split(self, layer, layer_input, padded, valid, layer_states, last, prefix: int):
        """One layer as: plain fused call on the common prefix, freeze column only on the ragged tail.

        With m = ``prefix`` (the shortest length), steps ``[0, m)`` are valid in every sequence,
        so they need no freeze column. Order of the calls (reverse direction first, as it
        reads the tail before the prefix)::

            reverse, tail [m, T) read backwards with the freeze column   -> state at step m
            both directions, prefix [0, m), plain kernel (reverse starts from that state)
            forward, tail [m, T) with the freeze column, from the prefix's forward state
        """
        H, D = self.hidden_size, self.num_directions
        tail_valid = valid[prefix:]  # (T-m, B, 1)
        tail_input = layer_input[prefix:].masked_fill(tail_valid == 0, 0.0)  # (T-m, B, I_l)
        tail = torch.cat([tail_input, padded[prefix:]], dim=-1)  # (T-m, B, I_l + 1)
        start = list(layer_states)  # each (D, B, H)
        out_tail_rev = None
        if D == 2:  # the reverse direction's tail, read from T-1 down to m (zero/GRU state survives padding)
            rev_states = tuple(s[1:2] for s in layer_states)
            out_tail_rev, rev_end = self._kernel(tail.flip(0), rev_states, self._frozen_weights(layer, 1), 1,
                                                 False, 0.0)
            out_tail_rev = out_tail_rev.flip(0)  # (T-m, B, H)
            start = [torch.cat([s[:1], r], dim=0) for s, r in zip(layer_states, rev_end)]
        weights = [w for d in range(D) for w in self._weights(layer, d)]
        out_prefix, prefix_end = self._kernel(layer_input[:prefix], tuple(start), weights, 1, D == 2, 0.0)
        fwd_states = tuple(s[:1] for s in prefix_end)  # forward direction's state after step m-1
        out_tail_fwd, fwd_end = self._kernel(tail, fwd_states, self._frozen_weights(layer, 0), 1, False, 0.0)
        out_tail = out_tail_fwd if D == 1 else torch.cat([out_tail_fwd, out_tail_rev], dim=-1)
        out = torch.cat([out_prefix, out_tail * tail_valid], dim=0)  # (T, B, D*H)
        fin = [torch.cat([f, p[1:]], dim=0) if D == 2 else f for f, p in zip(fwd_end, prefix_end)]
        if self.mode != "GRU":  # the LSTM's h keeps moving in the padding: read it at length-1
            fin[0] = torch.cat([out[..., :H].gather(0, last), fin[0][1:]], dim=0)
        return out, fin

    def _fused_by_direction(self, layer, layer_input, padded, valid, layer_states, reverse_index, last, can_freeze):
        """Each direction on its own call; the reverse one reads each sequence reversed within its length."""
        outs, fins = [], [[] for _ in layer_states]
        for d in range(self.num_directions):
            x_d = layer_input if d == 0 else _time_gather(layer_input, reverse_index)
            state_d = tuple(s[d : d + 1] for s in layer_states)  # each (1, B, H)
            if can_freeze:
                weights = self._frozen_weights(layer, d)
                x_d = torch.cat([x_d, padded], dim=-1)
            else:
                weights = self._weights(layer, d)
            out, fin = self._kernel(x_d, state_d, weights, 1, False, 0.0)
            out = _zero_padded(out, valid)  # (T, B, H)
            fin = list(fin)
            fin[0] = out.gather(0, last)  # h at each sequence's last step
            outs.append(out if d == 0 else _time_gather(out, reverse_index))
            for acc, f in zip(fins, fin):
                acc.append(f)
        return torch.cat(outs, dim=-1), tuple(torch.cat(acc, dim=0) for acc in fins)

    # -- reference engine ------------------------------------------------------
    def _cell(self, x_proj: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor, b_hh: Tensor | None):
        """One step from the equations. ``x_proj (B, GH)`` is ``W_ih x_t + b_ih``. Returns
        ``(h', c', activations dict)``."""
        raise NotImplementedError

    def _forward_reference(self, x: Tensor, states, lengths, mask, return_gates: bool):
        T, B = x.shape[:2]
        D = self.num_directions
        if mask is None:
            mask = torch.ones(T, B, dtype=torch.bool, device=x.device)
        step_mask = mask.unsqueeze(-1)  # (T, B, 1)
        finals: list[list[Tensor]] = [[] for _ in states]
        gates: dict[str, dict[str, Tensor]] = {}
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                w_ih, w_hh, *biases = self._weights(layer, d)
                b_ih, b_hh = biases if biases else (None, None)
                x_proj = F.linear(layer_input, w_ih, b_ih)  # (T, B, GH): all input projections at once
                idx = layer * D + d
                h = states[0][idx]
                c = states[1][idx] if self.mode == "LSTM" else None
                out_steps: list[Tensor | None] = [None] * T
                acts: dict[str, list[Tensor | None]] = {}
                for t in (range(T - 1, -1, -1) if d == 1 else range(T)):
                    h_new, c_new, act = self._cell(x_proj[t], h, c, w_hh, b_hh)
                    m = step_mask[t]  # (B, 1): padded steps leave the state untouched
                    h = torch.where(m, h_new, h)
                    if c is not None:
                        c = torch.where(m, c_new, c)
                    out_steps[t] = h_new * m
                    if return_gates:
                        for name, value in act.items():
                            acts.setdefault(name, [None] * T)[t] = value * m
                outs.append(torch.stack(out_steps))  # (T, B, H)
                finals[0].append(h)
                if c is not None:
                    finals[1].append(c)
                if return_gates:
                    gates[f"l{layer}" + ("_reverse" if d == 1 else "")] = {
                        name: torch.stack(v) for name, v in acts.items()
                    }
            out = torch.cat(outs, dim=-1)  # (T, B, D*H)
            if layer < self.num_layers - 1 and self.dropout > 0 and self.training:
                out = F.dropout(out, self.dropout, True)
            layer_input = out
        hidden = tuple(torch.stack(acc) for acc in finals)  # each (L*D, B, H)
        return layer_input, hidden, (gates if return_gates else None)


class LSTM(_RecurrentBase):
    """Long short-term memory layer(s), ``torch.nn.LSTM``-compatible (gate order i, f, g, o).

    See the module docstring for the equations, the shapes and the engines.
    """

    mode = "LSTM"
    num_gates = 4
    freeze_open = 1  # forget gate -> 1
    freeze_shut = 0  # input gate -> 0

    def _cell(self, x_proj, h, c, w_hh, b_hh):
        gates = x_proj + F.linear(h, w_hh, b_hh)  # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=-1)  # each (B, H)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c_new = f * c + i * g
        h_new = o * torch.tanh(c_new)
        return h_new, c_new, {"i": i, "f": f, "g": g, "o": o, "c": c_new}


class GRU(_RecurrentBase):
    """Gated recurrent unit layer(s), ``torch.nn.GRU``-compatible (gate order r, z, n)."""

    mode = "GRU"
    num_gates = 3
    freeze_open = 1  # update gate -> 1 keeps h
    freeze_shut = None

    def _cell(self, x_proj, h, c, w_hh, b_hh):
        x_r, x_z, x_n = x_proj.chunk(3, dim=-1)  # each (B, H)
        h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h_new = (1 - z) * n + z * h
        return h_new, None, {"r": r, "z": z, "n": n}


class RNN(_RecurrentBase):
    """Elman RNN layer(s), ``torch.nn.RNN``-compatible: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    ``nonlinearity="relu"`` uses ReLU instead of tanh.
    """

    num_gates = 1
    freeze_open = None  # tanh cannot be frozen: padded batches go direction by direction

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 engine: str = "fused", init: str = "default") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, engine, init)

    def _cell(self, x_proj, h, c, w_hh, b_hh):
        pre = x_proj + F.linear(h, w_hh, b_hh)  # (B, H)
        h_new = torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)
        return h_new, None, {"h": h_new}
