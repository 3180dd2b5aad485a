r"""The sequence classifier's hooks for explanations: gates over a sequence's steps, and integrated
gradients from an output back to the steps and features.

Symbols: T steps of the sequence explained, F features per step, C labels.

* :func:`run_with_states` (``SequenceClassifier.run_with_states``): the recurrent stack's gate
  activations and states at each step (reference engine, trained weights), steps named
  ``1 .. T``; for ``model.architecture=lstm_fcn`` those of its recurrent branch (the convolution
  branch has no gates).
* :func:`attribution_spec` (``SequenceClassifier.attribution_spec``):

  - **step vectors** ``(1, T, F)``: the sequence's *scaled* features (``scaler.json``), what the
    recurrent layers read;
  - **baseline**: all zeros in scaled units, i.e. every feature at its training mean (without
    ``data.scale``: the raw value 0);
  - **outputs** by mode, from the whole network (both branches of an ``lstm_fcn`` model):

    ============  ======================================  ==========================================
    mode          outputs (K)                             default target
    ============  ======================================  ==========================================
    sequence      the C labels' probabilities             the predicted label
    step labels   ``step t: label`` for every step and    the predicted label at the last step
                  label (T * C probabilities)
    step values   ``step t`` (T values, target units)     the last step
    ============  ======================================  ==========================================

  Attributions are per step (summed over its features) and, as ``feature_attributions``, per
  step and feature: ``sum_{t,f} A_{t,f} = F_k(x) - F_k(x')``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from lstmkit.explain.gates import states_record

__all__ = ["attribution_spec", "output_names", "run_with_states"]


def _scaled(clf, x) -> Tensor:
    """One sequence ``(T, F)`` (raw units) -> ``(1, T, F)`` float32, scaled as the network reads it."""
    (x,) = clf.coerce([x])[0]
    return torch.as_tensor(clf._scaled([np.asarray(x, dtype=np.float32)])[0]).unsqueeze(0)


def _feature_names(clf, n: int) -> list[str]:
    """``data.feature_columns`` when the model was given them, else ``feature 1 .. feature F``."""
    columns = clf.config_.data.feature_columns
    return list(columns) if columns and len(columns) == n else [f"feature {j}" for j in range(1, n + 1)]


def output_names(clf, steps: int) -> list[str]:
    """The K outputs' names for a sequence of ``steps`` steps, in the order ``forward`` gives them."""
    mode = clf._mode
    if mode == "sequence":
        return [str(n) for n in clf.labels_.names()]
    if mode == "step_label":
        return [f"step {t}: {label}" for t in range(1, steps + 1) for label in clf.labels_.names()]
    return [f"step {t}" for t in range(1, steps + 1)]


@torch.inference_mode()
def run_with_states(clf, X) -> list[dict]:
    """Per sequence: ``steps`` (``"1" .. "T"``), ``gates`` (per layer and direction, LSTM
    ``i, f, g, o, c`` or GRU ``r, z, n``, each ``(T, H)``) and ``outputs`` (the last layer's
    states ``(T, D*H)``), from the reference engine with the trained weights."""
    clf._check_fitted()
    net = clf.network_.cpu().eval()
    records = []
    for x in (X if isinstance(X, list) else [X]):
        inputs = _scaled(clf, x)  # (1, T, F)
        outputs, _, gates = net.rnn(inputs, return_gates=True)
        steps = [str(t) for t in range(1, inputs.size(1) + 1)]
        records.append({"steps": steps, **states_record(outputs, gates)})
    return records


def attribution_spec(clf, x, target: int | None = None):
    """What integrated gradients needs for one sequence (see the module docstring)."""
    from lstmkit.explain.attributions import AttributionSpec

    clf._check_fitted()
    net = clf.network_.cpu().eval()
    inputs = _scaled(clf, x)  # (1, T, F)
    T, mode = inputs.size(1), clf._mode
    lengths = torch.tensor([T])

    def forward(z: Tensor) -> Tensor:
        """``z (N, T, F)`` scaled -> ``(N, K)``: probabilities (per step, flattened) or values."""
        out = net(z, lengths.expand(z.size(0)))  # (N, C) | (N, T, C) logits, or (N, T) values
        if mode == "step_value":
            return out
        return torch.softmax(out, dim=-1).flatten(1)

    names = output_names(clf, T)
    if target is None and mode != "sequence":
        with torch.no_grad():
            last = forward(inputs)[0]
        C = len(clf.labels_.names()) if mode == "step_label" else 1
        target = (T - 1) * C + (int(last[(T - 1) * C:].argmax()) if mode == "step_label" else 0)
    scaled = clf.scaler_ is not None
    return AttributionSpec(
        steps=[str(t) for t in range(1, T + 1)],
        inputs=inputs,
        baseline=torch.zeros_like(inputs),
        baseline_name=("the training mean: every feature at its mean over the training steps (0 after scaling)"
                       if scaled else "zero: every feature 0 (the model does not scale its features)"),
        forward=forward,
        output_names=names,
        target=target,
        value_name="value" if mode == "step_value" else "probability",
        features=_feature_names(clf, inputs.size(2)),
        outputs_label="its outputs",
        step_kind="time",
    )
