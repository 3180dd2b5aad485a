"""Padding and length-bucketed batching for variable-length token sequences.

An LSTM batch is a ``(B, T)`` tensor of token ids padded to the longest sequence, plus
the true lengths ``(B,)`` for ``pack_padded_sequence`` or masking. Padding wastes work,
so training batches group sequences of similar length (:class:`BucketBatchSampler`)
and inference walks through the data longest first (:func:`sorted_batches`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler

__all__ = ["pad_sequences", "BucketBatchSampler", "sorted_batches"]


def pad_sequences(
    seqs: Sequence[Sequence[int]],
    pad_id: int = 0,
    max_length: int | None = None,
    empty_id: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token-id lists into one tensor.

    Args:
        seqs: ``B`` lists of token ids.
        pad_id: the id written after the end of each sequence (``Vocab.PAD_ID``).
        max_length: truncate longer sequences to their first ``max_length`` ids.
        empty_id: an empty sequence becomes ``[empty_id]`` (default ``Vocab.UNK_ID`` = 1),
            so every length is at least 1: ``pack_padded_sequence`` rejects length 0,
            and a text with no known token is best read as "unknown".

    Returns:
        ``ids`` of shape ``(B, T)`` (int64) with ``T = max(lengths)``, and
        ``lengths`` of shape ``(B,)`` (int64).

    >>> ids, lengths = pad_sequences([[5, 6, 7], [], [8]])
    >>> ids.tolist(), lengths.tolist()
    ([[5, 6, 7], [1, 0, 0], [8, 0, 0]], [3, 1, 1])
    """
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    seqs = [list(s[:max_length]) if len(s) else [empty_id] for s in seqs]
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)  # (B,)
    width = int(lengths.max()) if len(seqs) else 0
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)  # (B, T)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return ids, lengths


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Index batches for inference: longest sequences first, ties in input order.

    The batches are not in input order, so put predictions back where they belong::

        order = [i for batch in batches for i in batch]
        preds_in_input_order = [None] * len(order)
        for i, p in zip(order, preds_in_batch_order):
            preds_in_input_order[i] = p

    >>> sorted_batches([2, 5, 3, 5], batch_size=2)
    [[1, 3], [2, 0]]
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    return [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose sequences have similar lengths; a new mix each epoch.

    Pass it as ``DataLoader(dataset, batch_sampler=BucketBatchSampler(lengths, 32))``.

    With ``shuffle=True``, each epoch:

    1. shuffles all indices and cuts them into chunks of ``bucket_size``;
    2. sorts each chunk by length (longest first) and cuts it into batches;
    3. shuffles the order of all the batches.

    Within a batch lengths are close (they are neighbours in a sorted chunk of
    ``bucket_size`` examples), yet which examples meet changes every epoch. The
    randomness depends only on ``seed`` and the epoch set with :meth:`set_epoch` (as
    for ``DistributedSampler``; Lightning calls it for you, a hand-written loop must
    call it before each epoch or every epoch repeats the same batches).

    With ``shuffle=False`` the batches are :func:`sorted_batches`: the whole dataset in
    length order, longest first, so predictions must be put back into input order.

    Every index appears in exactly one batch per epoch; only the last batch may be
    smaller than ``batch_size``.

    Args:
        lengths: the length of each example (``N`` values).
        batch_size: examples per batch.
        shuffle: randomise batches (training) or not (evaluation).
        seed: the random seed.
        bucket_size: examples sorted together; rounded up to a multiple of
            ``batch_size``. Default ``100 * batch_size``: large enough that each batch
            finds similar lengths, small enough to keep each epoch's mix random.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        bucket_size: int | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        bucket_size = 100 * batch_size if bucket_size is None else bucket_size
        if bucket_size < 1:
            raise ValueError(f"bucket_size must be at least 1, got {bucket_size}")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        # whole batches per chunk, so only the epoch's last batch can be short
        self.bucket_size = math.ceil(bucket_size / batch_size) * batch_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose batches the next ``iter()`` yields."""
        self.epoch = epoch

    def __len__(self) -> int:
        # Every chunk but the last holds whole batches, so this is ceil(N / batch_size).
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        if not self.shuffle:
            yield from sorted_batches(self.lengths, self.batch_size)
            return
        rng = np.random.default_rng([self.seed, self.epoch])
        perm = rng.permutation(len(self.lengths))
        batches: list[list[int]] = []
        for start in range(0, len(perm), self.bucket_size):
            chunk = perm[start : start + self.bucket_size]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]  # longest first
            for i in range(0, len(chunk), self.batch_size):
                batches.append(chunk[i : i + self.batch_size].tolist())
        for b in rng.permutation(len(batches)):
            yield batches[b]


class IndexDataset(torch.utils.data.Dataset):
    """``range(n)`` as a Dataset: a (bucket) batch sampler picks example indices, and the task's
    collate function builds the batch from its own encoded examples."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i

