r"""A naive-Bayes n-gram lexicon: per-step class evidence fed to the LSTM beside each token vector.

A character LSTM trained from scratch on ten thousand reviews learns slowly which n-grams carry
sentiment; counting does that in a second. For every class c and hashed n-gram column j (the
hash of :mod:`lstmkit.nn.ngrams`), the lexicon holds a smoothed log-ratio of how often training
texts of class c contain j against the other classes, scaled to class c's size:

.. math::

    r_{jc} = \log \frac{\mathrm{df}_{jc} + \alpha}{\mathrm{df}_{j\bar c}\, N_c / N_{\bar c} + \alpha}

(``df_jc``: texts of class c containing n-gram j, ``df_j c̄``: texts of the other classes
containing it, ``N_c`` / ``N_c̄``: texts of class c / of the others). An n-gram never seen, or
seen equally often in proportion, gets 0; ``alpha`` shrinks rare ones towards 0.

At step t the network receives :math:`r_{\cdot c}` of the 1..n-grams *starting* at t (zero where
the window runs past the text); the bidirectional LSTM sees the ones ending at t from its other
direction. It then learns how local evidence combines: negation, "but", several clauses.

**Cross-fitting.** Counted on the training texts themselves, a rare n-gram would spell out the
label of the one text that contains it, and the LSTM would learn to trust the lexicon far more
than it deserves on new text. So the training texts are split into K folds and a text in fold k
is fed the table counted on the other K-1 folds (``fold_tables``); validation and inference use
the table counted on all training texts (``table``, the only one saved).

Memory while training: K + 1 tables of ``buckets x C`` float32 (5 folds, 2^20 buckets: 24 MB
per class) and the counts behind them (``K x C x buckets`` int32, 20 MB per class); only the full
table (4 MB per class) is kept after training. For many classes, lower ``buckets``. Counting
reads the texts a batch at a time (:func:`document_frequencies`): memory does not grow with their
number beyond each text's fold (8 bytes).

Shapes: ``ids (B, T)``, ``lengths (B,)``, ``fold (B,)`` or None -> ``(B, T, max_n * C)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.nn.ngrams import MAX_ORDER, ngram_counts, ngrams_by_position, padded_batches


def log_ratio_table(df: np.ndarray, n_texts: np.ndarray, alpha: float) -> np.ndarray:
    """``df (C, buckets)`` texts of each class containing each column, ``n_texts (C,)`` texts per
    class -> the log-ratios ``r (buckets, C)`` of the module docstring (float32)."""
    df = df.astype(np.float32)  # counts below 2^24 are exact in float32
    n_texts = n_texts.astype(np.float64)
    scale = (n_texts / np.maximum(n_texts.sum() - n_texts, 1.0)).astype(np.float32)  # N_c / N_rest, (C,)
    expected = df.sum(axis=0, keepdims=True) - df  # (C, buckets): df of the other classes...
    expected *= scale[:, None]  # ...scaled: df of class c if the n-gram were class-blind
    expected += alpha
    ratio = df + alpha
    ratio /= expected
    return np.log(ratio, out=ratio).T.copy()  # (buckets, C) float32


class NgramLexicon(nn.Module):
    """Per-step naive-Bayes log-ratios of the hashed 1..``max_n``-grams (see the module docstring)."""

    def __init__(self, buckets: int, num_classes: int, max_n: int = 3) -> None:
        super().__init__()
        if buckets < 1 or num_classes < 2:
            raise ValueError(f"buckets must be >= 1 and num_classes >= 2; got {buckets}, {num_classes}")
        if not 1 <= max_n <= MAX_ORDER:
            raise ValueError(f"max_n must be in 1..{MAX_ORDER}; got {max_n}")
        self.buckets, self.num_classes, self.max_n = buckets, num_classes, max_n
        self.register_buffer("table", torch.zeros(buckets, num_classes))  # r from all training texts
        self.fold_tables: Tensor | None = None  # (K, buckets, C) while training; not saved

    @property
    def output_size(self) -> int:
        return self.max_n * self.num_classes

    def fit(self, id_lists: Sequence[Sequence[int]], labels: Sequence[int], alpha: float = 1.0,
            folds: int = 5, seed: int = 0) -> Tensor:
        """Count the training texts: sets ``table`` and ``fold_tables``; returns each text's fold ``(N,)``.

        ``labels`` are class ids in ``0..num_classes-1``. With ``folds=1`` there is no cross-fitting
        (the training texts see the full table).
        """
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0; got {alpha}")
        if folds < 1:
            raise ValueError(f"folds must be >= 1; got {folds}")
        labels = np.asarray(labels, dtype=np.int64)
        C, K = self.num_classes, folds
        fold = np.random.default_rng(seed).permutation(np.arange(len(labels)) % K)  # balanced folds
        group = fold * C + labels  # (N,) which (fold, class) cell each text counts in
        df = document_frequencies(id_lists, group, K * C, self.buckets, self.max_n).reshape(K, C, self.buckets)
        n_texts = np.bincount(group, minlength=K * C).reshape(K, C)
        df_all, n_all = df.sum(axis=0), n_texts.sum(axis=0)
        self.table.copy_(torch.from_numpy(log_ratio_table(df_all, n_all, alpha)))
        if K == 1:
            self.fold_tables = self.table.unsqueeze(0).clone()
        else:
            self.fold_tables = torch.stack([torch.from_numpy(log_ratio_table(df_all - df[k], n_all - n_texts[k], alpha))
                                            for k in range(K)]).to(self.table.device)
        return torch.from_numpy(fold)

    def forward(self, ids: Tensor, lengths: Tensor, fold: Tensor | None = None) -> Tensor:
        """``(B, T, max_n * C)``: for n = 1..max_n, r of the n-gram starting at each step (0 past the text).

        ``fold (B,)`` picks each text's cross-fitted table (training texts); None uses ``table``.
        """
        columns, inside = ngrams_by_position(ids, lengths, self.buckets, self.max_n)  # (B, T, n) each
        if fold is None:
            ratios = self.table[columns]  # (B, T, n, C)
        else:
            if self.fold_tables is None:
                raise RuntimeError("fold given but the lexicon holds no fold tables: call fit() first")
            if self.fold_tables.device != columns.device:  # a plain attribute: .to(device) skips it
                self.fold_tables = self.fold_tables.to(columns.device)
            ratios = self.fold_tables[fold.view(-1, 1, 1), columns]  # (B, T, n, C)
        return (ratios * inside.unsqueeze(-1)).flatten(2)


def document_frequencies(id_lists: Sequence[Sequence[int]], group: np.ndarray, groups: int, buckets: int,
                         max_n: int, batch_size: int = 1024) -> np.ndarray:
    """``df (groups, buckets)`` int32: how many texts of each group contain each hashed n-gram column.

    ``group (N,)`` is each text's group (``0..groups-1``). The texts are read ``batch_size`` at a
    time (a :class:`~lstmkit.data.store.rows.StoreRows` reads them from disk); memory holds ``df``
    and one batch.
    """
    df = np.zeros(groups * buckets, dtype=np.int32)
    for start, ids, lengths in padded_batches(id_lists, batch_size):
        rows, columns, _ = ngram_counts(ids, lengths, buckets, max_n)  # one entry per (text, column)
        cells, counts = np.unique(group[rows.numpy() + start] * buckets + columns.numpy(), return_counts=True)
        df[cells] += counts.astype(np.int32)
    return df.reshape(groups, buckets)


__all__ = ["NgramLexicon", "log_ratio_table", "document_frequencies"]
