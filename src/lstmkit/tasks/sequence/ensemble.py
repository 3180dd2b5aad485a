"""A sequence model's seed ensemble: class probabilities averaged (per sequence or per step), or, for
per-step values, the values averaged.

``forward`` returns what one :class:`SequenceNet` returns: log-probabilities
``log (1/N) sum_k softmax(z_k)`` where a member returns logits ``(B, C)`` or ``(B, T, C)`` (0 at
padded steps, as a member's), the mean value ``(B, T)`` for step values; the first member's
attention. Validation reads the same combination in training units (:meth:`_raw`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lstmkit.nn.ensemble import Ensemble, mean_log_probs
from lstmkit.nn.pooling import lengths_to_mask
from lstmkit.tasks.sequence.network import SequenceNet


class SequenceEnsemble(Ensemble):
    """Members' :class:`SequenceNet`; ``forward`` and validation as one network's."""

    export_by = "mean"  # the graphs output probabilities (or values): their mean is the ensemble's
    validation_output = SequenceNet.validation_output
    _loss = SequenceNet._loss

    def _combine(self, outputs: list[Tensor], lengths: Tensor) -> Tensor:
        if self.mode == "step_value":
            return torch.stack(outputs).mean(0)
        combined = mean_log_probs(outputs)
        if self.mode == "step_label":  # padded steps stay 0, as a member's
            combined = combined * lengths_to_mask(lengths, combined.size(1)).unsqueeze(2).to(combined.device)
        return combined

    def forward(self, x: Tensor, lengths: Tensor, return_attention: bool = False):
        """``x (B, T, F)``, ``lengths (B,)`` -> the members combined, shaped as :meth:`SequenceNet.forward`."""
        outputs = [member(x, lengths, return_attention=True) for member in self.members]
        out = self._combine([o for o, _ in outputs], lengths)
        return (out, outputs[0][1]) if return_attention else out

    def _raw(self, batch: dict) -> Tensor:
        """Training-scale outputs of the ensemble: log mean probabilities, or mean standardised values."""
        return self._combine([member._raw(batch) for member in self.members], batch["lengths"])
