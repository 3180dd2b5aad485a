"""A tagger's seed ensemble: per-token tag marginals averaged, decoded under the tag scheme's constraints.

Each member gives ``p_k(y_t = j | sentence)`` ``(B, T, K)``: its CRF's marginals by forward-backward
(:meth:`lstmkit.nn.CRF.marginals`) or its softmax. The ensemble's emissions are
``log (1/N) sum_k p_k`` and it decodes them as the softmax decoder does: the best path of summed
log-marginals among the paths the scheme allows (a CRF with zero, frozen scores and the members'
allowed-transition constraints), so an ensemble never outputs ``O I-PER`` where its members could not.
Its confidence is read from the averaged marginals (the estimator's softmax-decoder path).

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

FLOOR = 1e-12
"""Smallest mean marginal kept before the log (a tag no member gives any probability); an exported
ensemble's sidecar carries it (``ensemble.floor``)."""


class TaggerEnsemble(Ensemble):
    """Members' :class:`TaggerNet`; their marginals averaged and decoded under the constraints."""

    export_by = "network"  # one graph of the members' emissions; their marginals are averaged when decoding
    decoder = "softmax"
    mask = TaggerNet.__dict__["mask"]
    loss = TaggerNet.loss
    decode = TaggerNet.decode
    validation_output = TaggerNet.validation_output

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__(members)
        first = members[0]
        self.crf = CRF(first.crf.num_tags, batch_first=True, constraints=first.crf.constraints)
        for scores in (self.crf.start_transitions, self.crf.end_transitions, self.crf.transitions):
            nn.init.zeros_(scores)
        self.crf.requires_grad_(False)

    def emissions(self, batch: dict) -> Tensor:
        """``log (1/N) sum_k p_k(y_t | sentence)`` ``(B, T, K)``: the members' mean marginals, logged."""
        mask = self.mask(batch)
        marginals = []
        for member in self.members:
            scores = member.emissions(batch)  # (B, T, K)
            marginals.append(member.crf.marginals(scores, mask) if member.decoder == "crf" else scores.exp())
        return torch.stack(marginals).mean(0).clamp_min(FLOOR).log()
