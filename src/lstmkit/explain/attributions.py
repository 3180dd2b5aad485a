r"""Integrated gradients over the steps of one input (Captum's :class:`~captum.attr.IntegratedGradients`).

A task says what to differentiate through an :class:`AttributionSpec` (its estimator's
``attribution_spec(x, target=None)`` hook): the per-step vectors the recurrent layers read,
``inputs (1, T, F)``, a ``baseline`` of the same shape, and ``forward``, a differentiable
function ``(N, T, F) -> (N, K)`` from such vectors to K named outputs (class probabilities for
a classifier; one score per entity for a tagger; one per forecast value for a forecaster).

For the output ``k`` explained, integrated gradients is

.. math::

    A_{t,j} = (x_{t,j} - x'_{t,j}) \int_0^1 \frac{\partial F_k(x' + \alpha (x - x'))}{\partial x_{t,j}}\, d\alpha

(Gauss-Legendre quadrature with ``n_steps`` points), and a step's attribution is
``a_t = sum_j A_{t,j}``. *Completeness*: ``sum_t a_t = F_k(x) - F_k(x')`` up to the quadrature
error, which :func:`integrated_gradients` reports as ``delta``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ["AttributionSpec", "integrated_gradients"]


@dataclass
class AttributionSpec:
    """What integrated gradients needs from a task for one input (see the module docstring)."""

    steps: list[str]
    """A label per step: the tokens of a text, the time offsets of a lookback window."""
    inputs: Tensor
    """``(1, T, F)``: each step's vector as the recurrent layers read it."""
    baseline: Tensor
    """``(1, T, F)``: the reference input (integrated gradients starts there)."""
    baseline_name: str
    """The baseline in words (``explain --json`` prints it as ``baseline``)."""
    forward: Callable[[Tensor], Tensor]
    """``(N, T, F) -> (N, K)``: the outputs as a differentiable function of the step vectors."""
    output_names: list[str]
    """The K outputs' names (class labels, entities, forecast steps)."""
    target: int | None = None
    """The output explained by default; None: the largest at ``inputs`` (the predicted class)."""
    value_name: str = "probability"
    """What the outputs are, as the key under which ``explain`` puts the default output's value
    (a classifier's ``probability``, a forecaster's ``forecast``)."""
    features: list[str] | None = None
    """Names of the F features of a step (a forecaster's columns). Given, the attributions are also
    kept per feature (``feature_attributions``, T x F), not only summed over each step."""
    aliases: dict[str, int] = field(default_factory=dict)
    """Other names ``--target`` may use for an output (an entity's text alone)."""
    outputs_label: str = "its outputs"
    """How an error that lists the output names calls them ("the entities found in this text")."""
    step_kind: str = "token"
    """``"token"`` (words, characters: drawn in the picture's cells) or ``"time"`` (a window's
    rows: drawn as thinned tick labels)."""

    def __post_init__(self) -> None:
        if self.inputs.shape != self.baseline.shape or self.inputs.dim() != 3 or self.inputs.size(0) != 1:
            raise ValueError(f"inputs and baseline must both be (1, T, F); got {tuple(self.inputs.shape)} and "
                             f"{tuple(self.baseline.shape)}")
        if len(self.steps) != self.inputs.size(1):
            raise ValueError(f"{len(self.steps)} step labels for {self.inputs.size(1)} steps")
        if self.features is not None and len(self.features) != self.inputs.size(2):
            raise ValueError(f"{len(self.features)} feature names for {self.inputs.size(2)} features")


def integrated_gradients(spec: AttributionSpec, target: int | None = None, n_steps: int = 64) -> dict:
    """Integrated gradients of output ``target`` (default: ``spec.target``, else the argmax).

    Returns ``attributions`` (T floats, one per step), ``target`` (index) and ``target_name``,
    ``output`` = ``F_k(x)``, ``baseline_output`` = ``F_k(x')`` and ``delta`` =
    ``sum(attributions) - (output - baseline_output)`` (the completeness error); with
    ``spec.features``, also ``feature_attributions``: ``A`` itself, T lists of F floats.
    """
    from captum.attr import IntegratedGradients

    with torch.no_grad():
        outputs = spec.forward(spec.inputs)  # (1, K)
        baseline_outputs = spec.forward(spec.baseline)
    if target is None:
        target = spec.target if spec.target is not None else int(outputs[0].argmax())
    if not 0 <= target < outputs.size(1):
        raise ValueError(f"target {target} out of range: the model has {outputs.size(1)} outputs")
    ig = IntegratedGradients(spec.forward)
    with torch.enable_grad():
        attributions = ig.attribute(spec.inputs, baselines=spec.baseline, target=target, n_steps=n_steps,
                                    method="gausslegendre")  # (1, T, F)
    per_step = attributions.detach().double().sum(-1)[0]  # (T,)
    output, start = float(outputs[0, target]), float(baseline_outputs[0, target])
    result = {"attributions": per_step.tolist(), "target": target, "target_name": spec.output_names[target],
              "output": output, "baseline_output": start, "delta": float(per_step.sum()) - (output - start)}
    if spec.features is not None:
        result["feature_attributions"] = attributions.detach().double()[0].tolist()  # (T, F)
    return result
