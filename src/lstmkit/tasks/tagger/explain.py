r"""The tagger's hooks for explanations: gates per token, and integrated gradients toward one entity.

Symbols: T tokens of the sentence, F the width of a token's vector, K tags, E outputs (entities).

* :func:`run_with_states` (``Tagger.run_with_states``): per sentence, the reference engine's gate
  activations and states with the trained weights, one step per token.
* :func:`attribution_spec` (``Tagger.attribution_spec``): what integrated gradients differentiates.

**Step vectors** ``(1, T, F)``: what the recurrent layers read at each token, the concatenation
of the token's embedding, its bigram embedding, its four dictionary bits and its character
features (those the model has; :class:`~lstmkit.tasks.tagger.network.TaggerNet`, dropout off).
The **baseline** is all zeros (every part of every token's vector set to 0), as for the text
classifier.

**Outputs: one per predicted entity.** The model decodes the sentence (as ``predict`` does) and
each entity it finds, tokens ``s..e-1`` with the decoded tags ``y_s..y_{e-1}``, is one output,
named ``TYPE text [start:end]`` (``PER 张三 [0:2]``; character offsets for raw text, token offsets
for a token list, as in ``predict`` records). Its value, a function of the step vectors ``x``:

.. math::

    F_{entity}(x) = \frac{1}{e - s} \sum_{t=s}^{e-1} p(y_t \mid x)

the mean over the entity's tokens of the probability of its tag there: with the CRF decoder the
CRF's *marginal* probability (forward-backward, :meth:`lstmkit.nn.CRF.marginals`: summed over
every tag sequence, not only the decoded one); with the softmax decoder the token's softmax
probability. It lies in (0, 1) and is the ``probability`` of the ``explain`` record.

Word segmentation (BMES) has one output per predicted word (``word 北京 [0:2]``); plain labels
(part of speech) one per token (``NN 北京 [0:1]``). A BIO/BIOES sentence in which the model finds
no entity has one output per token, for its predicted tag (``O 张 [0:1]``): explaining why a
token was *not* tagged as part of an entity.

**Default target**: the first entity (or word) in the text; with one output per token, the token
whose tag is least probable (the one the model was closest to tagging otherwise). ``--target``
picks another by its name, by its text alone (``张三``) or ``TYPE text`` when those are unique in
the sentence, or by its index.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lstmkit.data.tagschemes import entities
from lstmkit.explain.gates import states_record

__all__ = ["attribution_spec", "run_with_states", "step_inputs", "tag_probabilities"]


def _sentence(tagger, x) -> tuple[list[str], list[tuple[int, int]] | None, dict]:
    """One input -> ``(tokens, character offsets or None, the network's batch of one sentence)``."""
    (x,) = tagger.coerce([x])[0]
    ((tokens, offsets),) = tagger._tokens([x])
    return tokens, offsets, tagger._collate([tagger._encode(tokens)])


def step_inputs(net, batch: dict) -> Tensor:
    """``(B, T, F)``: each token's vector as the recurrent layers read it (dropout off)."""
    return net.step_inputs(batch)


def _part_names(net) -> list[str]:
    names = ["embedding"]
    names += ["bigram embedding"] if net.bigrams is not None else []
    names += ["dictionary bits"] if net.uses_dictionary else []
    names += ["character features"] if net.chars is not None else []
    names += ["language model states"] if net.char_lm is not None else []
    return names


def tag_probabilities(net, x: Tensor) -> Tensor:
    """``x (N, T, F)`` step vectors of one sentence (N copies along an integration path) ->
    ``(N, T, K)`` tag probabilities per token: CRF marginals, or the softmax decoder's softmax."""
    n, steps = x.shape[:2]
    lengths = torch.full((n,), steps, dtype=torch.long)
    states, _ = net.rnn(x, lengths=lengths)  # (N, T, D*H)
    scores = net.emit(states)  # (N, T, K)
    if net.decoder == "softmax":
        return torch.softmax(scores, dim=-1)
    return net.crf.marginals(scores)  # batch_first CRF: (N, T, K)


@torch.inference_mode()
def run_with_states(tagger, X) -> list[dict]:
    """Per sentence: ``tokens``, ``gates`` (per layer and direction, LSTM ``i, f, g, o, c`` or GRU
    ``r, z, n``, each ``(T, H)``) and ``outputs`` (the last layer's states ``(T, D*H)``), from the
    reference engine with the trained weights."""
    tagger._check_fitted()
    net = tagger.network_.cpu().eval()
    records = []
    for x in tagger.coerce(X)[0]:
        tokens, _, batch = _sentence(tagger, x)
        outputs, _, gates = net.rnn(step_inputs(net, batch), lengths=batch["lengths"], return_gates=True)
        records.append({"tokens": tokens, **states_record(outputs, gates)})
    return records


def _spans(tagger, x, tokens, offsets, path: list[int]) -> tuple[list[tuple[str, int, int]], list[str], str]:
    """The outputs' token spans ``(type, s, e)``, their names, and what they are, in words."""
    tags = tagger._from_model_scheme([tagger.tags_[i] for i in path])
    spans = entities(tags, tagger.scheme_)
    kind = "the words found in this text" if tagger.scheme_ == "BMES" else "the entities found in this text"
    if tagger.scheme_ is None or not spans:  # plain labels, or no entity: one output per token
        spans, kind = entities(tags, None), "its tokens' tags"
    joiner = "" if tagger.token_level_ == "char" else " "
    names = []
    for kind_of, s, e in spans:
        if offsets is not None:
            start, end = offsets[s][0], offsets[e - 1][1]
            names.append(f"{kind_of} {x[start:end]} [{start}:{end}]")
        else:
            names.append(f"{kind_of} {joiner.join(tokens[s:e])} [{s}:{e}]")
    return spans, names, kind


def attribution_spec(tagger, x, target: int | None = None):
    """What integrated gradients needs for one sentence (see the module docstring)."""
    from lstmkit.explain.attributions import AttributionSpec

    tagger._check_fitted()
    net = tagger.network_.cpu().eval()
    (x,) = tagger.coerce([x])[0]
    tokens, offsets, batch = _sentence(tagger, x)
    with torch.no_grad():
        inputs = step_inputs(net, batch)  # (1, T, F)
        (path,) = net.decode(net.emissions(batch), batch)  # the model-scheme tag ids predict decodes
    spans, names, kind = _spans(tagger, x, tokens, offsets, path)
    # weights (E, T, K): 1 / (e - s) at each span token's decoded tag, so outputs = <probabilities, weights>
    weights = torch.zeros(len(spans), len(tokens), len(tagger.tags_))
    for o, (_, s, e) in enumerate(spans):
        for t in range(s, e):
            weights[o, t, path[t]] = 1.0 / (e - s)

    def forward(z: Tensor) -> Tensor:
        """``z (N, T, F)`` -> ``(N, E)``: each output's mean tag probability over its tokens."""
        return torch.einsum("ntk,otk->no", tag_probabilities(net, z), weights)

    per_token = kind == "its tokens' tags"
    if target is None:
        if per_token:
            with torch.no_grad():
                target = int(forward(inputs)[0].argmin())
        else:
            target = 0
    aliases: dict[str, int] = {}
    for o, name in enumerate(names):
        typed_text = name.rsplit(" [", 1)[0]
        for alias in (typed_text, typed_text.split(" ", 1)[1]):
            aliases[alias] = o if alias not in aliases else -1  # -1: not unique
    return AttributionSpec(
        steps=tokens,
        inputs=inputs,
        baseline=torch.zeros_like(inputs),
        baseline_name=f"zero: every token's {', '.join(_part_names(net))} set to 0",
        forward=forward,
        output_names=names,
        target=target,
        aliases={alias: o for alias, o in aliases.items() if o >= 0},
        outputs_label=kind,
        step_kind="token",
    )
