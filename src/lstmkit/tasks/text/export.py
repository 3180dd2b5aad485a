"""The text classifier's hooks for ONNX export and explanations.

* :func:`export_spec` -> :class:`~lstmkit.tasks.base.ExportSpec` (``TextClassifier.export_module``):
  the whole network as one graph, ``ids (B, T) int64, lengths (B,) int64 -> probabilities (B, C)``,
  the n-gram lexicon and the TF-IDF n-gram branch included (their hashing is tensor arithmetic
  on the token ids). Tokenising stays outside: the sidecar (``extra``) carries the labels, the
  tokenizer settings and the vocabulary, so ids can be made without lstmkit.
* :func:`attribution_spec` -> :class:`lstmkit.explain.attributions.AttributionSpec`
  (``TextClassifier.attribution_spec``): per token, the vector the recurrent layers read and the
  n-gram branch's share of the logits, and a differentiable function from them to the class
  probabilities, for integrated gradients.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lstmkit.export.ngrams import ExportableNgramTfidf
from lstmkit.export.rnn import ExportableRecurrent, steps_mask
from lstmkit.nn.ensemble import mean_log_probs, members_of
from lstmkit.nn.pooling import masked_last, masked_max, masked_mean
from lstmkit.tasks.base import ExportSpec
from lstmkit.tasks.charlm.export import ExportableCharLM


def pool(pooling: nn.Module, states: Tensor, lengths: Tensor) -> Tensor:
    """:class:`lstmkit.nn.pooling.Pooling` without its input checks (they branch on the data):
    ``states (B, T, D)``, ``lengths (B,)`` -> ``(B, P)``."""
    mask = steps_mask(lengths, states.size(1))  # (B, T)
    if pooling.method == "last":
        return masked_last(states, lengths, pooling.bidirectional)
    if pooling.method == "mean":
        return masked_mean(states, lengths, mask)
    if pooling.method == "max":
        return masked_max(states, mask)
    if pooling.method == "max_mean":
        return torch.cat([masked_max(states, mask), masked_mean(states, lengths, mask)], dim=1)
    return pooling.attention._pool(states, mask)[0]


class TextClassifierGraph(nn.Module):
    """``ids (B, T) int64, lengths (B,) int64 -> probabilities (B, C)``: ``predict_proba`` as a graph.

    Shares the trained network's weights; the same numbers as
    :class:`~lstmkit.tasks.text.network.TextClassifierNet` in eval mode, for any batch and length.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net.eval()
        self.members = members_of(net)  # an ensemble's LSTM branches: their probabilities are averaged
        self.rnns = nn.ModuleList(ExportableRecurrent(member.rnn) for member in self.members)
        # model.char_lm (every member has one, or none): each member's language model through exportable LSTMs
        self.char_lms = nn.ModuleList(ExportableCharLM(member.char_lm) for member in self.members
                                      if member.char_lm is not None)
        self.ngrams = ExportableNgramTfidf(net.ngrams) if net.ngrams is not None else None

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        net, branches = self.net, []
        for k, (member, rnn) in enumerate(zip(self.members, self.rnns)):
            lm_states = self.char_lms[k].text_states if len(self.char_lms) else None
            states, _ = rnn(member.rnn_inputs(ids, lengths, char_lm_states=lm_states), lengths)  # (B, T, D*H)
            branches.append(member.classifier(pool(member.pooling, states, lengths)))  # (B, C)
        logits = branches[0] if len(branches) == 1 else mean_log_probs(branches)  # as TextEnsemble.lstm_branch
        if self.ngrams is not None:
            logits = net.fuse(logits, self.ngrams(ids, lengths))
        return torch.softmax(logits, dim=-1)


def export_spec(clf) -> ExportSpec:
    """The :class:`ExportSpec` of a fitted :class:`~lstmkit.tasks.text.TextClassifier`."""
    clf._check_fitted()
    net = clf.network_.cpu().eval()
    examples = ["a first example text", "a second, longer example text to pad the others", "short"]
    ids = clf.encode(examples)
    lengths = torch.tensor([max(1, len(s)) for s in ids])
    padded = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
    for row, s in enumerate(ids):
        padded[row, : len(s)] = torch.tensor(s or [clf.vocab_.UNK_ID])
    data = clf.config_.data
    return ExportSpec(
        module=TextClassifierGraph(net),
        example_inputs=(padded, lengths),
        input_names=["ids", "lengths"],
        output_names=["probabilities"],
        dynamic_axes={"ids": {0: "batch", 1: "steps"}, "lengths": {0: "batch"}, "probabilities": {0: "batch"}},
        extra={
            "labels": clf.labels_.labels,
            "inputs": {"ids": "token ids (batch, steps) int64, right-padded with 0 (<pad>); unknown tokens 1 (<unk>)",
                       "lengths": "true lengths (batch,) int64, 1 <= lengths <= steps"},
            "outputs": {"probabilities": "class probabilities (batch, classes) float32, in the order of labels"},
            "tokenizer": clf.tokenizer_.to_config(),
            "max_length": data.max_length,
            "vocab": list(clf.vocab_.tokens),
        },
        network_output=torch.log,  # the network returns logits; log-probabilities differ by a constant
    )


def attribution_spec(clf, text: str, target: int | None = None):
    """What integrated gradients needs for one text (see :mod:`lstmkit.explain.attributions`).

    The inputs ``(1, T, F + C)`` are, per token, the vector the recurrent layers read (embedding,
    and the lexicon's log-ratios when the model has them: F) and, with the TF-IDF n-gram branch,
    the part of that branch's logits owed to the n-grams starting at the token (C: an exact
    split, :meth:`~lstmkit.export.ngrams.ExportableNgramTfidf.per_step`), so both branches are
    attributed to tokens. The baseline is all zeros. ``forward`` gives the class probabilities.
    """
    from lstmkit.explain.attributions import AttributionSpec

    clf._check_fitted()
    net = clf.network_.cpu().eval()
    (text,) = clf.coerce([text])[0]
    tokens = clf.tokenizer_(text)[: clf.config_.data.max_length]
    ids = torch.tensor([clf.vocab_.encode(tokens) or [clf.vocab_.UNK_ID]])  # (1, T)
    lengths = torch.tensor([ids.size(1)])
    with torch.no_grad():
        inputs = net.rnn_inputs(ids, lengths)  # (1, T, F)
        if net.ngrams is not None:
            inputs = torch.cat([inputs, ExportableNgramTfidf(net.ngrams).per_step(ids, lengths)], dim=-1)
    width = net.rnn.input_size  # F

    def forward(x: Tensor) -> Tensor:
        """``x (N, T, F + C)`` -> class probabilities ``(N, C)`` (N: the integration points)."""
        n = x.size(0)
        states, _ = net.rnn(x[..., :width], lengths=lengths.expand(n))
        pooled, _ = net.pooling(states, lengths.expand(n))
        logits = net.classifier(pooled)  # (N, C)
        if net.ngrams is not None:
            logits = net.fuse(logits, x[..., width:].sum(1) + net.ngrams.bias)
        return torch.softmax(logits, dim=-1)

    return AttributionSpec(
        steps=tokens or [clf.vocab_.UNK],
        inputs=inputs,
        baseline=torch.zeros_like(inputs),
        baseline_name="zero: every token's embedding, lexicon features and n-gram branch share set to 0",
        forward=forward,
        output_names=clf.labels_.names(),
        target=target,
    )
