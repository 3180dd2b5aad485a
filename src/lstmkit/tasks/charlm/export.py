"""A character language model's states in a form ONNX export can follow.

:meth:`lstmkit.tasks.charlm.network.CharLMNet.text_states` runs each direction's LSTM through
:mod:`lstmkit.nn`'s engine, which branches in Python on the batch's lengths; traced, that would
freeze the one batch it saw. :class:`ExportableCharLM` runs the same weights through
:class:`~lstmkit.export.rnn.ExportableRecurrent` (exact on padded batches, any batch size and
length): the tagger's and the text classifier's ONNX graphs read their language model through it.
"""

from __future__ import annotations

from torch import Tensor, nn

from lstmkit.export.rnn import ExportableRecurrent
from lstmkit.tasks.charlm.network import DIRECTIONS


class ExportableCharLM(nn.Module):
    """The forward and backward language models of a :class:`~lstmkit.tasks.charlm.network.CharLMNet`
    (sharing its weights), each as character embedding + exportable LSTM."""

    def __init__(self, lm: nn.Module) -> None:
        super().__init__()
        self.lm = lm
        self.rnns = nn.ModuleList(ExportableRecurrent(lm.direction(name).rnn) for name in DIRECTIONS)

    def text_states(self, name: str, ids: Tensor, lengths: Tensor) -> Tensor:
        """As ``CharLMNet.text_states``: ``ids (B, S)`` (each text after ``"\\n"``), ``lengths (B,)``
        -> the last layer's states ``(B, S, H)``, zero at padding."""
        states, _ = self.rnns[DIRECTIONS.index(name)](self.lm.direction(name).embedding(ids), lengths)
        return states
