"""A tagger's seed ensemble: the members combined, decoded under the tag scheme's constraints.

Two decoding rules (``model.ensemble_decoding``), both under the scheme's allowed moves:

``marginals`` (the default, as the contract says). Each member gives ``p_k(y_t = j | sentence)``
``(B, T, K)``: its CRF's marginals by forward-backward (:meth:`lstmkit.nn.CRF.marginals`) or its
softmax. The ensemble's emissions are ``log (1/N) sum_k p_k`` and it decodes them as the softmax
decoder does: the best path of summed log-marginals among the paths the scheme allows (a CRF with
zero, frozen scores and the members' allowed-transition constraints), so an ensemble never outputs
``O I-PER`` where its members could not. Its confidence is read from the averaged marginals (the
estimator's softmax-decoder path).

``scores``: the members' mean CRF scores. Member ``k`` scores a tag path ``y`` as
``s_k(y) = start_k[y_1] + sum_t e_k[t, y_t] + sum_t trans_k[y_{t-1}, y_t] + end_k[y_L]`` and gives it
``p_k(y) = exp(s_k(y)) / Z_k`` (a softmax member: its log-probabilities and zero tables). The ensemble
decodes the path of largest ``(1/N) sum_k log p_k(y)``, the geometric mean of the members' path
probabilities (a product of experts); the ``Z_k`` do not depend on ``y``, so that is the Viterbi path
of one CRF whose emissions and tables are the members' means. Decoding whole paths keeps what each
member's transitions know; averaged marginals pick each token's most likely tag, which drops
entities whose tokens no member is sure of on its own (measured in docs/benchmarks.md). The
ensemble is then a CRF: its confidence is that CRF's (forward-backward, restricted probabilities).

Export (:mod:`lstmkit.tasks.tagger.export`) writes one graph of every member's emissions
``(N, B, T, K)``; the same combination, forward-backward included, is done when decoding, in numpy
(:mod:`lstmkit.export.marginals`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lstmkit.nn.crf import CRF
from lstmkit.nn.ensemble import Ensemble
from lstmkit.tasks.tagger.network import TaggerNet

RULES = ("marginals", "scores")
"""``model.ensemble_decoding``'s choices (see the module docstring)."""

TABLES = ("start_transitions", "transitions", "end_transitions")

FLOOR = 1e-12
"""Smallest mean marginal kept before the log (a tag no member gives any probability); an exported
ensemble's sidecar carries it (``ensemble.floor``)."""


class TaggerEnsemble(Ensemble):
    """Members' :class:`TaggerNet`; their marginals (or CRF scores) averaged and decoded under the constraints."""

    export_by = "network"  # one graph of the members' emissions; they are combined when decoding
    decoder = "softmax"
    mask = TaggerNet.__dict__["mask"]
    loss = TaggerNet.loss
    decode = TaggerNet.decode
    validation_output = TaggerNet.validation_output

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__(members)
        first = members[0]
        self.rule = first.ensemble_decoding  # one of RULES (the config checks it)
        self.decoder = "crf" if self.rule == "scores" else "softmax"
        self.crf = CRF(first.crf.num_tags, batch_first=True, constraints=first.crf.constraints)
        for name in TABLES:
            nn.init.zeros_(getattr(self.crf, name))
        self.crf.requires_grad_(False)
        self.pool_tables()

    def pool_tables(self) -> None:
        """``scores``: set the ensemble's CRF tables to the members' means (``marginals``: they stay zero).
        Done once, when the ensemble is made of trained members; a model folder saves the pooled
        tables (``crf.*``) with the members' weights, so loading restores them as they were."""
        if self.rule != "scores":
            return
        with torch.no_grad():
            for name in TABLES:
                getattr(self.crf, name).copy_(torch.stack([getattr(m.crf, name) for m in self.members]).mean(0))

    def emissions(self, batch: dict) -> Tensor:
        """``(B, T, K)``: ``marginals``: ``log (1/N) sum_k p_k(y_t | sentence)``, the members' mean
        marginals, logged; ``scores``: ``(1/N) sum_k e_k``, the members' mean emission scores (decoded
        with the members' mean tables)."""
        if self.rule == "scores":
            return torch.stack([member.emissions(batch) for member in self.members]).mean(0)
        mask = self.mask(batch)
        marginals = []
        for member in self.members:
            scores = member.emissions(batch)  # (B, T, K)
            marginals.append(member.crf.marginals(scores, mask) if member.decoder == "crf" else scores.exp())
        return torch.stack(marginals).mean(0).clamp_min(FLOOR).log()
