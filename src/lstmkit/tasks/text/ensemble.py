"""A text classifier's seed ensemble: the members' LSTM-branch class probabilities averaged.

The LSTM branch of the ensemble returns ``log (1/N) sum_k softmax(z_k)`` ``(B, C)`` (log-probabilities
are logits), and the rest of the network reads it as one network's: the n-gram branch (fitted once,
the same in every member) is mixed in at one weight (:meth:`TextClassifierNet.fuse`, tuned on the
ensemble's validation log-loss after training), validation scores the ensemble.
"""

from __future__ import annotations

from torch import Tensor

from lstmkit.nn.ensemble import Ensemble, mean_log_probs
from lstmkit.tasks.text.network import TextClassifierNet


class TextEnsemble(Ensemble):
    """Members' :class:`TextClassifierNet`; ``forward`` and validation as one network's."""

    forward = TextClassifierNet.forward
    validation_output = TextClassifierNet.validation_output

    def lstm_branch(self, ids: Tensor, lengths: Tensor, fold: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Log of the members' mean LSTM-branch probabilities ``(B, C)``, and the first member's
        attention weights ``(B, T)`` (or None)."""
        outputs = [member.lstm_branch(ids, lengths, fold) for member in self.members]
        return mean_log_probs([logits for logits, _ in outputs]), outputs[0][1]
