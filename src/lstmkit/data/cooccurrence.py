r"""Token vectors from unlabeled text in seconds: PPMI of window co-occurrences, factorised by SVD.

The count-based twin of word2vec (Levy & Goldberg, 2014: skip-gram with negative sampling
implicitly factorises a shifted PMI matrix). For a vocabulary of V tokens:

.. math::

    C_{ij} = \sum_{\text{texts}} \sum_{d=1}^{w} \frac{1}{d}\,[\text{$i$ and $j$ are $d$ apart}]
    \qquad
    \mathrm{PPMI}_{ij} = \max\Big(0, \log \frac{C_{ij}\, |C|}{C_{i\cdot}\, \tilde C_{\cdot j}}\Big)

with the context distribution smoothed, :math:`\tilde C_{\cdot j} \propto C_{\cdot j}^{0.75}`.
The vectors are :math:`U_k \sqrt{S_k}` of the rank-k SVD :math:`\mathrm{PPMI} \approx U S V^\top`,
rescaled to unit standard deviation per dimension (the scale of ``nn.Embedding``'s N(0, 1) init).

Shapes: token id lists in -> ``(V, dim)`` float32 tensor; row 0 (``<pad>``) is zero.

The counts are taken a chunk of texts at a time (about :data:`CHUNK_TOKENS` tokens; a
:class:`~lstmkit.data.store.rows.StoreRows` reads its texts from disk) and the chunks' sparse
matrices added up: memory holds the ``(V, V)`` counts and one chunk's pairs, not the whole
corpus. Texts that fit in one chunk give exactly the sums of one pass; more chunks add the
same numbers in another order (equal up to floating-point rounding).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.extmath import randomized_svd

CHUNK_TOKENS = 1 << 18
"""Tokens counted at a time (the pairs of a chunk take about 200 bytes a token)."""


def cooccurrence_counts(id_lists: Iterable[Sequence[int]], vocab_size: int, window: int = 4) -> sp.csr_matrix:
    """Symmetric sparse ``(V, V)`` counts of tokens up to ``window`` apart, weighted ``1/distance``.

    Ids 0 and 1 (``<pad>``, ``<unk>``) are not counted. ``id_lists`` is read once, a chunk of
    about :data:`CHUNK_TOKENS` tokens at a time.
    """
    total = None
    chunk: list[Sequence[int]] = []
    size = 0
    for ids in id_lists:
        chunk.append(ids)
        size += len(ids)
        if size >= CHUNK_TOKENS:
            total = _add(total, _chunk_counts(chunk, vocab_size, window))
            chunk, size = [], 0
    if chunk or total is None:
        total = _add(total, _chunk_counts(chunk, vocab_size, window))
    return total


def _add(total: sp.csr_matrix | None, counts: sp.csr_matrix) -> sp.csr_matrix:
    return counts if total is None else total + counts


def _chunk_counts(id_lists: list[Sequence[int]], vocab_size: int, window: int) -> sp.csr_matrix:
    lengths = [len(ids) for ids in id_lists]
    flat = np.concatenate([np.asarray(ids, dtype=np.int64).reshape(-1) for ids in id_lists] or
                          [np.zeros(0, dtype=np.int64)])
    text_of = np.repeat(np.arange(len(lengths)), lengths)  # which text each position belongs to
    rows, cols, weights = [], [], []
    for d in range(1, window + 1):
        left, right = flat[:-d], flat[d:]
        keep = (text_of[:-d] == text_of[d:]) & (left > 1) & (right > 1)  # same text, real tokens
        rows += [left[keep], right[keep]]  # both orders: the matrix is symmetric
        cols += [right[keep], left[keep]]
        weights += [np.full(2 * int(keep.sum()), 1.0 / d)]
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    data = np.concatenate(weights)
    return sp.coo_matrix((data, (rows, cols)), shape=(vocab_size, vocab_size)).tocsr()  # duplicates summed


def ppmi_svd_vectors(id_lists: Iterable[Sequence[int]], vocab_size: int, dim: int, window: int = 4,
                     seed: int = 0) -> torch.Tensor:
    """Token vectors ``(V, dim)`` from the PPMI matrix of ``id_lists`` (see the module docstring)."""
    counts = cooccurrence_counts(id_lists, vocab_size, window).tocoo()
    total = counts.data.sum()
    row_sum = np.asarray(counts.sum(axis=1)).ravel()  # (V,)
    context = np.asarray(counts.sum(axis=0)).ravel() ** 0.75
    context = context / max(context.sum(), 1e-12) * total  # smoothed context counts, same total
    pmi = np.log(counts.data * total / (row_sum[counts.row] * context[counts.col]))
    keep = pmi > 0
    ppmi = sp.csr_matrix((pmi[keep], (counts.row[keep], counts.col[keep])), shape=(vocab_size, vocab_size))
    rank = min(dim, vocab_size - 1)
    u, s, _ = randomized_svd(ppmi, n_components=rank, n_iter=4, random_state=seed)
    vectors = u * np.sqrt(s)  # (V, rank)
    if rank < dim:
        vectors = np.concatenate([vectors, np.zeros((vocab_size, dim - rank))], axis=1)
    seen = row_sum > 0  # tokens with any context
    vectors = vectors / np.maximum(vectors[seen].std(axis=0, keepdims=True), 1e-6)
    rng = np.random.default_rng(seed)
    vectors[~seen] = rng.standard_normal((int((~seen).sum()), dim))
    vectors[0] = 0.0  # <pad>
    return torch.from_numpy(vectors.astype(np.float32))
