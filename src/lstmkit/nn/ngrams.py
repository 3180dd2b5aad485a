r"""A linear model on hashed TF-IDF n-grams: the branch beside the LSTM.

For each n in ``1..max_n`` every window of n consecutive token ids inside a sequence is hashed to
one of ``buckets`` feature columns:

.. math::

    \mathrm{id}(w_t..w_{t+n-1}) = \Big(S_n + \sum_{k=0}^{n-1} w_{t+k} P_k\Big) \bmod \text{buckets}

with fixed odd multipliers ``P_k`` and a salt ``S_n`` per order. A text's feature vector is
scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` on those columns:

.. math::

    x_j = \frac{(1 + \log \mathrm{tf}_j)\,\mathrm{idf}_j}{\lVert (1 + \log \mathrm{tf})\,\mathrm{idf} \rVert_2},
    \qquad \mathrm{idf}_j = \log\frac{1 + N}{1 + \mathrm{df}_j} + 1

(``tf_j``: occurrences in the text, ``df_j``: training texts containing it, N: training texts),
and the branch returns ``x W + b`` with ``W (buckets, dim)``. With ``dim`` = number of classes this
is a logistic regression on character (or word) n-grams — the classic strong baseline for short
texts. Its weights can be learned by gradient descent with the rest of the network, or fitted by a
convex solver first (:func:`tfidf_matrix` gives the same features as a SciPy sparse matrix).

The hash works on vocabulary ids, so it runs on the whole padded batch at once (CPU or GPU) and is
reproduced exactly from a saved vocabulary.

Shapes: ``ids (B, T)`` long, ``lengths (B,)`` -> ``(B, dim)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

# Large odd multipliers and a salt per n-gram order. None may be 1 modulo a small power of two:
# with buckets = 2^20, a multiplier = 1 (mod 2^20) would hash (a, b, c) like (c, b, a) and (a+1, b, c-1).
_MULTIPLIERS = (1, 1_000_003, 2_246_822_507, 2_654_435_761)
_SALTS = (0, 7_919, 104_729, 1_299_709)
MAX_ORDER = len(_MULTIPLIERS)


def _window_codes(ids: Tensor, n: int, width: int) -> Tensor:
    """Hash columns of the ``width`` n-gram windows starting at steps ``0..width-1``: ``(B, width)``
    (before the ``mod buckets``)."""
    code = torch.full_like(ids[:, :width], _SALTS[n - 1])
    for k in range(n):
        code = code + ids[:, k : k + width] * _MULTIPLIERS[k]
    return code


DISTINCT_CHUNK = 4096
"""Texts hashed at a time by :func:`distinct_ngrams`."""


def distinct_ngrams(id_lists: Sequence[Sequence[int]], max_n: int, chunk: int | None = None) -> int:
    """How many distinct 1..``max_n``-grams the token-id lists hold (by their hash before ``mod``).

    Reads ``chunk`` lists at a time (a :class:`~lstmkit.data.store.rows.StoreRows` reads them from
    disk); memory holds the distinct codes found so far (merged whenever the codes of later
    chunks outnumber them), not a code per text.
    """
    chunk = chunk or DISTINCT_CHUNK
    found = np.zeros(0, dtype=np.int64)
    pending: list[np.ndarray] = []
    waiting = 0
    for start in range(0, len(id_lists), chunk):
        part = [torch.from_numpy(np.asarray(ids, dtype=np.int64)) for ids in id_lists[start:start + chunk]
                if len(ids)]
        if not part:
            continue
        ids = nn.utils.rnn.pad_sequence(part, batch_first=True)  # (B, T)
        lengths = torch.tensor([len(p) for p in part])
        grams, valid = hash_ngrams(ids, lengths, 1 << 62, max_n)  # (B, G); mod 2^62 keeps the codes
        pending.append(torch.unique(grams[valid]).numpy())
        waiting += len(pending[-1])
        if waiting > max(len(found), 1 << 20):
            found, pending, waiting = np.unique(np.concatenate([found, *pending])), [], 0
    return int(len(np.unique(np.concatenate([found, *pending]))))


def buckets_for(distinct: int, at_most: int, per_ngram: int = 4) -> int:
    """Hash buckets sized to the data: ``per_ngram`` per distinct n-gram, rounded up to a power of
    two (at least 1,024), never more than ``at_most``. With 4 buckets per n-gram about 1 in 8
    n-grams shares its bucket with another; large corpora keep ``at_most``."""
    wanted = max(1024, per_ngram * distinct)
    return min(at_most, 1 << (wanted - 1).bit_length())


def hash_ngrams(ids: Tensor, lengths: Tensor, buckets: int, max_n: int) -> tuple[Tensor, Tensor]:
    """All n-gram columns and their validity: ``(B, G)`` long and ``(B, G)`` bool, ``G = sum_n (T-n+1)``."""
    T = ids.size(1)
    steps = torch.arange(T, device=ids.device)
    all_ids, all_valid = [], []
    for n in range(1, min(max_n, T) + 1):
        width = T - n + 1
        all_ids.append(torch.remainder(_window_codes(ids, n, width), buckets))
        all_valid.append(steps[:width].unsqueeze(0) + n <= lengths.unsqueeze(1))  # window inside the text
    return torch.cat(all_ids, dim=1), torch.cat(all_valid, dim=1)


def ngrams_by_position(ids: Tensor, lengths: Tensor, buckets: int, max_n: int) -> tuple[Tensor, Tensor]:
    """The column of the n-gram *starting* at each step, for n = 1..max_n: ``(B, T, max_n)`` long,
    and whether that window lies inside the text: ``(B, T, max_n)`` bool."""
    B, T = ids.shape
    padded = torch.cat([ids, ids.new_zeros(B, max_n - 1)], dim=1)  # (B, T + max_n - 1)
    steps = torch.arange(T, device=ids.device)
    columns = [torch.remainder(_window_codes(padded, n, T), buckets) for n in range(1, max_n + 1)]
    valid = [steps.unsqueeze(0) + n <= lengths.unsqueeze(1) for n in range(1, max_n + 1)]
    return torch.stack(columns, dim=-1), torch.stack(valid, dim=-1)


def ngram_counts(ids: Tensor, lengths: Tensor, buckets: int, max_n: int) -> tuple[Tensor, Tensor, Tensor]:
    """Sparse term counts of a batch: ``(rows, columns, counts)``, each ``(K,)`` for K distinct (text, n-gram)."""
    grams, valid = hash_ngrams(ids, lengths, buckets, max_n)  # (B, G)
    rows = torch.arange(ids.size(0), device=ids.device).unsqueeze(1).expand_as(grams)
    keys = (rows * buckets + grams)[valid]  # one key per (text, column) occurrence
    unique, counts = torch.unique(keys, return_counts=True)
    return unique // buckets, unique % buckets, counts


def tfidf_weights(rows: Tensor, counts: Tensor, idf_of_column: Tensor, batch_size: int) -> Tensor:
    """L2-normalised sublinear TF-IDF values ``(K,)`` for the terms ``(rows, counts)``."""
    values = (1.0 + torch.log(counts.to(idf_of_column.dtype))) * idf_of_column  # (K,)
    norms = torch.zeros(batch_size, dtype=values.dtype, device=values.device).index_add_(0, rows, values * values)
    return values / norms.sqrt().clamp_min(1e-12)[rows]


def padded_batches(id_lists: Sequence[Sequence[int]], batch_size: int = 1024):
    """``(start, ids (B, T), lengths (B,))`` for consecutive slices of ``id_lists`` (an empty text
    becomes one ``<unk>``)."""
    for start in range(0, len(id_lists), batch_size):
        yield (start, *_pad(id_lists[start : start + batch_size]))


def document_frequency(id_lists: Sequence[Sequence[int]], buckets: int, max_n: int,
                       batch_size: int = 1024) -> np.ndarray:
    """How many of the texts contain each column: ``(buckets,)`` int64."""
    df = np.zeros(buckets, dtype=np.int64)
    for _, ids, lengths in padded_batches(id_lists, batch_size):
        _, columns, _ = ngram_counts(ids, lengths, buckets, max_n)
        df += np.bincount(columns.numpy(), minlength=buckets)
    return df


def presence_matrix(id_lists: Sequence[Sequence[int]], buckets: int, max_n: int, batch_size: int = 1024):
    """Which columns each text contains, as a SciPy CSR matrix ``(N, buckets)`` of ones (float32)."""
    import scipy.sparse as sp

    rows, columns = [], []
    for start, ids, lengths in padded_batches(id_lists, batch_size):
        r, c, _ = ngram_counts(ids, lengths, buckets, max_n)
        rows.append(r.numpy() + start)
        columns.append(c.numpy())
    rows, columns = np.concatenate(rows), np.concatenate(columns)
    return sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(len(id_lists), buckets))


def smoothed_idf(df: np.ndarray, n_texts: int) -> Tensor:
    return torch.from_numpy(np.log((1.0 + n_texts) / (1.0 + df)) + 1.0).float()


def _pad(id_lists: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
    lengths = torch.tensor([max(1, len(s)) for s in id_lists])
    ids = torch.ones(len(id_lists), int(lengths.max()), dtype=torch.long)  # empty text -> one <unk>
    for row, s in enumerate(id_lists):
        if len(s):
            ids[row, : len(s)] = torch.from_numpy(np.asarray(s, dtype=np.int64))
    return ids, lengths


class NgramTfidf(nn.Module):
    """Linear layer on L2-normalised sublinear TF-IDF of hashed 1..``max_n``-grams (see module doc)."""

    def __init__(self, buckets: int, dim: int, max_n: int = 3) -> None:
        super().__init__()
        if buckets < 1 or dim < 1:
            raise ValueError(f"buckets and dim must be positive; got buckets={buckets}, dim={dim}")
        if not 1 <= max_n <= MAX_ORDER:
            raise ValueError(f"max_n must be in 1..{MAX_ORDER}; got {max_n}")
        self.buckets, self.dim, self.max_n = buckets, dim, max_n
        self.weight = nn.Parameter(torch.zeros(buckets, dim))  # W: one row per hashed n-gram
        self.bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("idf", torch.ones(buckets))  # learned from the training texts

    def fit_idf(self, id_lists: Sequence[Sequence[int]]) -> None:
        """Set ``idf`` from the training texts (token-id lists)."""
        self.idf.copy_(smoothed_idf(document_frequency(id_lists, self.buckets, self.max_n), len(id_lists)))

    def features(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The batch's TF-IDF matrix in coordinate form: ``(rows, columns, values)``."""
        rows, columns, counts = ngram_counts(ids, lengths, self.buckets, self.max_n)
        return rows, columns, tfidf_weights(rows, counts, self.idf[columns], ids.size(0))

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        rows, columns, values = self.features(ids, lengths)  # each (K,)
        contributions = self.weight[columns] * values.unsqueeze(-1)  # (K, dim)
        out = torch.zeros(ids.size(0), self.dim, dtype=contributions.dtype, device=ids.device)
        return out.index_add_(0, rows, contributions) + self.bias  # (B, dim)


def tfidf_matrix(layer: NgramTfidf, id_lists: Sequence[Sequence[int]], batch_size: int = 1024):
    """The features ``layer`` computes, for many texts, as a SciPy CSR matrix ``(N, buckets)``."""
    import scipy.sparse as sp

    rows, columns, values = [], [], []
    with torch.no_grad():
        for start, ids, lengths in padded_batches(id_lists, batch_size):
            r, c, v = layer.features(ids, lengths)
            rows.append(r.numpy() + start)
            columns.append(c.numpy())
            values.append(v.numpy())
    return sp.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))),
                         shape=(len(id_lists), layer.buckets))


def write_tfidf_matrix(layer: NgramTfidf, id_lists: Sequence[Sequence[int]], folder, batch_size: int = 1024):
    """:func:`tfidf_matrix`'s matrix written to ``folder`` a batch of texts at a time, returned as a
    :class:`~lstmkit.data.store.csr.MappedCsr` (memory-mapped; the same entries in the same order)."""
    from lstmkit.data.store.csr import CsrWriter

    writer = CsrWriter(folder, layer.buckets)
    with torch.no_grad():
        for _, ids, lengths in padded_batches(id_lists, batch_size):
            r, c, v = layer.features(ids, lengths)  # sorted by (text, column): CSR order
            writer.add(r.numpy(), c.numpy(), v.numpy(), ids.size(0))
    return writer.close()


__all__ = ["NgramTfidf", "hash_ngrams", "ngrams_by_position", "ngram_counts", "tfidf_matrix", "write_tfidf_matrix",
           "presence_matrix", "document_frequency", "padded_batches", "MAX_ORDER"]
