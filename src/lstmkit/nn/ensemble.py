"""Seed ensembles: N networks of one architecture, trained from seeds ``seed .. seed+N-1``, used as one.

``train.ensemble=N`` trains the members one after another on the same data and preprocessing
(:meth:`lstmkit.tasks.base.Estimator.fit`); the estimator then holds an :class:`Ensemble` as its
``network_`` and every caller (predict, evaluate, the server, validation) uses it as it would one
network. What "the average" of members is depends on what a network outputs, so each task
subclasses :class:`Ensemble` (``lstmkit/tasks/<task>/ensemble.py``, named in the task registry)
and overrides the methods that produce outputs:

- classifiers average class probabilities: ``log p(c|x) = log (1/N) sum_k softmax(z_k)_c``
  (:func:`mean_log_probs`), returned where a member returns logits (log-probabilities are logits);
- taggers average per-token tag marginals and decode them under the tag scheme's constraints;
- forecasters average each quantile (the mean of members' P10 is the ensemble's P10).

Anything a subclass does not override is read from the first member (``ensemble.tags``,
``ensemble.horizon`` ...): the members share every setting but the seed. A method of the member
class can be reused as it is by assigning it in the subclass (``validation_output =
TaggerNet.validation_output``): called on the ensemble, its ``self.emissions(...)`` is then the
ensemble's. Explanations read the first member (:meth:`Ensemble.first`).

The weights are the members' own, under ``members.<k>.``, so a model folder of an ensemble is one
``model.safetensors`` and loading rebuilds the members and checks every tensor as for one network.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class Ensemble(nn.Module):
    """Members ``(N,)`` of one architecture; a task's subclass says how their outputs combine."""

    export_by: str = "network"
    """How ``lstmkit export`` makes one graph of an ensemble: ``"network"``: the task's export function
    takes the ensemble as it takes one network; ``"mean"``: the members' graphs side by side, their
    outputs (probabilities or values) averaged (:class:`MeanGraph`)."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        self.members = nn.ModuleList(members)

    def __getattr__(self, name: str):
        """Parameters, buffers and submodules of the ensemble itself, else the first member's attribute."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "members":
                raise
            return getattr(self._modules["members"][0], name)

    def first(self) -> nn.Module:
        """The first member (seed ``train.seed``): what explanations read."""
        return self.members[0]

    def __len__(self) -> int:
        return len(self.members)


def members_of(network: nn.Module) -> list[nn.Module]:
    """The networks inside ``network``: its members for an :class:`Ensemble`, else ``[network]``."""
    return list(network.members) if isinstance(network, Ensemble) else [network]


def mean_log_probs(logits: list[Tensor], dim: int = -1) -> Tensor:
    """``N`` members' logits (each ``(..., C)``) -> log of their mean probabilities ``(..., C)``:
    ``log (1/N) sum_k softmax(z_k)`` computed stably as ``logsumexp_k log_softmax(z_k) - log N``."""
    stacked = torch.stack([torch.log_softmax(z.float(), dim=dim) for z in logits])  # (N, ..., C)
    return torch.logsumexp(stacked, dim=0) - math.log(len(logits))


class MeanGraph(nn.Module):
    """Members' export graphs (each ``inputs -> one output tensor``) as one: the mean of their outputs.

    Exact where the ensemble averages what the graphs output (class probabilities, values)."""

    def __init__(self, graphs: list[nn.Module]) -> None:
        super().__init__()
        self.graphs = nn.ModuleList(graphs)

    def forward(self, *inputs: Tensor) -> Tensor:
        return torch.stack([graph(*inputs) for graph in self.graphs]).mean(0)
