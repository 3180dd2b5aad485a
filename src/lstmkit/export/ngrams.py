r"""The hashed TF-IDF n-gram branch (:class:`lstmkit.nn.ngrams.NgramTfidf`) without ``unique``.

The layer finds each text's distinct n-gram columns with ``torch.unique`` and sums with
``index_add_``: sizes that depend on the data. Here the same numbers come from fixed-size tensor
arithmetic, so the branch exports to ONNX with a dynamic batch and length:

* the columns of the n-grams starting at each step, ``cols (B, G)`` with ``G = T * max_n``, and
  whether each window lies inside its text, ``valid (B, G)`` (:func:`ngrams_by_position`: the
  same windows the layer counts);
* the term count of each window's column within its text,
  ``tf[b, g] = sum_g' [cols[b, g] == cols[b, g']] * valid[b, g']``, by sorting the columns
  (:func:`term_counts`: ``Sort``, ``CumSum`` and ``ScatterElements`` in ONNX, O(G log G));
* each distinct column is then counted once by weighing every window by ``1 / tf``:
  ``norm^2 = sum_g valid_g / tf_g * v_g^2`` and ``logits = b + sum_g valid_g / tf_g * (v_g / norm) W[cols_g]``
  with ``v_g = (1 + log tf_g) idf[cols_g]`` — the layer's sublinear, L2-normalised TF-IDF.

Shapes: ``ids (B, T)`` long, ``lengths (B,)`` -> ``(B, dim)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lstmkit.nn.ngrams import NgramTfidf, ngrams_by_position

__all__ = ["ExportableNgramTfidf"]


def term_counts(cols: Tensor, inside: Tensor) -> Tensor:
    """``tf (B, G)``: how many valid windows of the same text share window g's column.

    By sorting, not by pairwise comparison: the keys are sorted per text (windows outside the
    text get distinct negative keys, so they match nothing), runs of equal keys are numbered
    by a cumulative sum of "differs from the previous one", counted with a scatter-add, and the
    counts are put back in window order — O(G log G), every size fixed by the input's shape.
    """
    positions = torch.arange(cols.size(1), device=cols.device).unsqueeze(0)  # (1, G)
    keys = torch.where(inside, cols, -1 - positions)  # (B, G)
    ordered, order = keys.sort(dim=1)  # (B, G) each
    starts = torch.cat([torch.ones_like(ordered[:, :1], dtype=torch.bool), ordered[:, 1:] != ordered[:, :-1]], dim=1)
    run = starts.long().cumsum(1) - 1  # (B, G): which run of equal keys each sorted window is in
    per_run = torch.zeros_like(run).scatter_add(1, run, torch.ones_like(run))  # (B, G): windows per run
    return torch.zeros_like(run).scatter(1, order, per_run.gather(1, run))  # back in window order


class ExportableNgramTfidf(nn.Module):
    """:class:`NgramTfidf`'s forward (sharing its weights) in fixed-size arithmetic; see the module doc."""

    def __init__(self, layer: NgramTfidf) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        return self.per_step(ids, lengths).sum(1) + self.layer.bias  # (B, dim)

    def per_step(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """``(B, T, dim)``: the part of the logits owed to the n-grams *starting* at each step;
        the branch's logits are their sum over the steps plus the bias (an exact split, which
        integrated gradients uses to attribute the branch to tokens)."""
        layer = self.layer
        cols, inside = ngrams_by_position(ids, lengths, layer.buckets, layer.max_n)  # (B, T, n) each
        cols, inside = cols.flatten(1), inside.flatten(1)  # (B, G)
        tf = term_counts(cols, inside).to(layer.idf.dtype).clamp_min(1.0)  # (B, G)
        share = inside.to(tf.dtype) / tf  # (B, G): a distinct column's windows sum to 1
        value = (1.0 + torch.log(tf)) * layer.idf[cols]  # (B, G)
        norm = (share * value * value).sum(1, keepdim=True).sqrt().clamp_min(1e-12)  # (B, 1)
        weight = share * value / norm  # (B, G)
        B, T = ids.shape
        return (weight.unsqueeze(-1) * layer.weight[cols]).view(B, T, layer.max_n, -1).sum(2)  # (B, T, dim)
