"""Explanations of a text classifier (``lstmkit explain``): the gates and states of each step, and
what integrated gradients needs (:func:`~lstmkit.tasks.text.export.attribution_spec`, which shares
the export's tensor-only network). The task registry names this module."""

from __future__ import annotations

import torch

from lstmkit.explain.gates import states_record
from lstmkit.tasks.text.export import attribution_spec

__all__ = ["attribution_spec", "run_with_states"]


@torch.inference_mode()
def run_with_states(estimator, texts) -> list[dict]:
    """Per text: ``tokens`` (as read, cut to ``data.max_length``), ``gates`` — for each recurrent
    layer and direction (``"l0"``, ``"l0_reverse"``, ...) the activations by name (LSTM ``i, f,
    g, o, c``; GRU ``r, z, n``), each ``(T, H)`` — and ``outputs``, the last layer's states
    ``(T, D*H)``; computed by the reference engine with the trained weights (the same numbers
    as the fused engine's)."""
    estimator._check_fitted()
    texts = estimator.coerce(texts)[0]
    net = estimator.network_.eval()
    max_length = estimator.config_.data.max_length
    records = []
    for text in texts:
        tokens = estimator.tokenizer_(text)[:max_length]
        ids = torch.tensor([estimator.vocab_.encode(tokens) or [estimator.vocab_.UNK_ID]])
        lengths = torch.tensor([ids.size(1)])
        outputs, _, gates = net.rnn(net.rnn_inputs(ids, lengths), lengths=lengths, return_gates=True)
        records.append({"tokens": tokens, **states_record(outputs, gates)})
    return records
