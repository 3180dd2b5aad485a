"""Rows of a token store as a task trains on them: a selection, its batches and its chunks.

A task streams its training file into one :class:`~lstmkit.data.store.tokens.TokenStore`; when it
holds out a validation part, the training and validation rows are two :class:`StoreRows` of the
same store (sorted row numbers), so nothing is copied. Every training-time consumer reads ids
from the memory map through a :class:`StoreRows`:

* ``rows[i]`` (int32 ids of the i-th selected row), ``rows[a:b]`` (a list of such arrays: the
  form :mod:`lstmkit.nn.ngrams` and :mod:`lstmkit.data.cooccurrence` take, a chunk at a time),
  ``rows.lengths``, ``rows.labels``, ``rows.tags(i)``;
* :meth:`StoreRows.blocks`: consecutive rows a chunk of tokens at a time, for counting passes;
* :class:`StoreBatchSampler`: :class:`~lstmkit.data.batching.BucketBatchSampler`'s batches,
  the same ones, without holding an epoch's batches as Python lists (8 bytes per row, not ~36);
* :func:`pad_arrays`: a batch's id arrays -> ``(B, T)`` as :func:`~lstmkit.data.batching.pad_sequences`.

Per row, memory holds only numbers: the selection (8 bytes), lengths (8), labels (8); the ids
stay on disk and the pages read are let go every so often (:meth:`StoreRows.release`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from lstmkit.data.batching import BucketBatchSampler
from lstmkit.data.store import tokens as token_store
from lstmkit.data.store.tokens import TokenStore

RELEASE_EVERY = 256
"""Batches (or chunks) read between :meth:`StoreRows.release` calls."""


class StoreRows(Sequence):
    """Rows ``index`` of ``store`` (sorted row numbers; None: every row), in that order.

    ``rows[i]`` is the ids of row ``index[i]`` (int32, a view of the memory map); a slice gives
    a list of such arrays.
    """

    def __init__(self, store: TokenStore, index: np.ndarray | None = None):
        self.store = store
        self.index = None if index is None else np.asarray(index, dtype=np.int64)
        self._reads = 0

    def __len__(self) -> int:
        return len(self.store) if self.index is None else len(self.index)

    def row(self, i: int) -> int:
        """The store's row number of the ``i``-th selected row."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"row {i} is outside the selection ({n} rows)")
        i %= n
        return int(i) if self.index is None else int(self.index[i])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        r = self.row(i)
        offsets = self.store.offsets
        return self.store.ids[offsets[r]: offsets[r + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            if i and i % (RELEASE_EVERY * 256) == 0:
                self.store.release()
            yield self[i]

    def tags(self, i: int) -> np.ndarray:
        """The per-token tag ids of the ``i``-th selected row (int32)."""
        if self.store.tags is None:
            raise ValueError("this store holds no tags")
        r = self.row(i)
        return self.store.tags[self.store.offsets[r]: self.store.offsets[r + 1]]

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per selected row, int64 ``(n,)``."""
        lengths = self.store.lengths
        return lengths if self.index is None else lengths[self.index]

    @property
    def labels(self) -> np.ndarray:
        """Label ids of the selected rows, int64 ``(n,)`` (in memory: 8 bytes a row)."""
        if self.store.labels is None:
            raise ValueError("this store holds no labels")
        labels = np.asarray(self.store.labels)
        return labels.copy() if self.index is None else labels[self.index]

    def select(self, positions) -> StoreRows:
        """The rows at ``positions`` of this selection (a sub-selection of the same store)."""
        positions = np.asarray(positions, dtype=np.int64)
        return StoreRows(self.store, positions if self.index is None else self.index[positions])

    def blocks(
        self, max_tokens: int | None = None, channel: str = "ids"
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """``(start, values, lengths)`` for consecutive runs of the selected rows: ``values`` their
        ids (``channel="tags"``: their tags) end to end (int32), ``lengths`` per row; about
        ``max_tokens`` values at a time (default :data:`lstmkit.data.store.tokens.CHUNK`; a row is
        never cut). Releases the pages read after each block."""
        max_tokens = max_tokens or token_store.CHUNK
        values = self.store.ids if channel == "ids" else self.store.tags
        if values is None:
            raise ValueError(f"this store holds no {channel}")
        lengths = self.lengths
        ends = np.cumsum(lengths)
        start = 0
        while start < len(self):
            base = int(ends[start - 1]) if start else 0
            stop = max(start + 1, int(np.searchsorted(ends, base + max_tokens, side="right")))
            yield start, self._gather(values, start, stop), lengths[start:stop]
            self.store.release()
            start = stop

    def _gather(self, values: np.ndarray, start: int, stop: int) -> np.ndarray:
        offsets = self.store.offsets
        if self.index is None:
            return np.array(values[offsets[start] : offsets[stop]])
        rows = self.index[start:stop]
        if rows[-1] - rows[0] == stop - start - 1:  # consecutive rows: one slice
            return np.array(values[offsets[rows[0]] : offsets[rows[-1] + 1]])
        begin, lengths = offsets[rows], offsets[rows + 1] - offsets[rows]
        within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return np.asarray(values[np.repeat(begin, lengths) + within])

    def release(self) -> None:
        """Let go of the pages read (:meth:`TokenStore.release`)."""
        self.store.release()

    def read_some(self) -> None:
        """Count one batch read; every :data:`RELEASE_EVERY` batches, release the pages."""
        self._reads += 1
        if self._reads % RELEASE_EVERY == 0:
            self.store.release()


def pad_arrays(arrays: Sequence[np.ndarray], pad_id: int = 0, empty_id: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Id arrays -> ``ids (B, T)`` int64 padded with ``pad_id`` and ``lengths (B,)``; an empty row
    becomes ``[empty_id]`` (as :func:`lstmkit.data.batching.pad_sequences`)."""
    lengths = np.array([max(1, len(a)) for a in arrays], dtype=np.int64)
    width = int(lengths.max()) if len(arrays) else 0
    ids = np.full((len(arrays), width), pad_id, dtype=np.int64)
    for row, a in enumerate(arrays):
        if len(a):
            ids[row, : len(a)] = a
        else:
            ids[row, 0] = empty_id
    return torch.from_numpy(ids), torch.from_numpy(lengths)


class StoreBatchSampler(BucketBatchSampler):
    """:class:`~lstmkit.data.batching.BucketBatchSampler`'s batches, the same ones in the same order,
    made one at a time from two int64 arrays instead of a list of every batch's Python ints."""

    def __iter__(self) -> Iterator[list[int]]:
        n, size = len(self.lengths), self.batch_size
        if not self.shuffle:
            order = np.argsort(-self.lengths, kind="stable")
            for start in range(0, n, size):
                yield order[start : start + size].tolist()
            return
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(n)
        for start in range(0, n, self.bucket_size):  # each bucket sorted longest first, in place
            chunk = order[start : start + self.bucket_size]
            order[start : start + self.bucket_size] = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
        # bucket_size is a multiple of batch_size: the batches are consecutive slices of `order`
        for b in rng.permutation(len(self)):
            yield order[b * size : (b + 1) * size].tolist()


__all__ = ["RELEASE_EVERY", "StoreBatchSampler", "StoreRows", "pad_arrays"]
