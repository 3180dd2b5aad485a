"""Token ids of many texts on disk in memory-mapped arrays: memory that stays flat as data grows.

Held in Python lists, a tokenised corpus costs about 36 bytes per token (a list slot and an
int object); in a :class:`TokenStore` it costs 4 bytes per token, on disk, and the operating
system pages in only the parts a batch reads. A store folder holds::

    ids.i32        every text's token ids end to end: int32, little-endian, (total_tokens,)
    offsets.i64    int64 (n + 1,): text i is ids[offsets[i] : offsets[i + 1]]
    labels.i64     int64 (n,): each text's label id (only when labels were given)
    store.json     {"format": "lstmkit-token-store", "version": 1, "texts": n, "tokens": total,
                    "labels": true|false}

:func:`build_token_store` reads the tokenised texts **once**, as a stream: it counts the tokens
and writes each text's ids at once, numbering tokens in the order they first appear; when the
stream ends it builds the :class:`~lstmkit.data.vocab.Vocab` from the counts (the same
vocabulary ``Vocab.build`` gives for the same texts, ties and all) and renumbers the ids file in
place, chunk by chunk, to the vocabulary's ids. Memory: the counts (one entry per distinct
token) and one chunk, whatever the number of texts.

A store is written into a temporary folder beside its destination and renamed into place when
complete, so a crash never leaves half a store where a whole one is expected.

:class:`TokenDataset` is a torch ``Dataset`` over a store (item ``i``: its ids and label), with
:meth:`TokenDataset.collate` building the padded batches lstmkit's text networks take, and
:attr:`TokenStore.lengths` for :class:`~lstmkit.data.batching.BucketBatchSampler`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from array import array
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

from lstmkit.data.batching import pad_sequences
from lstmkit.data.vocab import Vocab
from lstmkit.errors import ConfigError, DataError

FORMAT, VERSION = "lstmkit-token-store", 1
IDS, OFFSETS, LABELS, META = "ids.i32", "offsets.i64", "labels.i64", "store.json"
CHUNK = 1 << 20
"""Ids buffered before a write, and renumbered at a time: 4 MiB of int32."""


class TokenStore:
    """A read-only store of token-id sequences (see the module docstring for the files).

    ``store[i]`` is text i's ids, an int32 array ``(length_i,)`` read from the memory map (a
    view: no copy until used); ``len(store)`` is the number of texts.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        meta_path = self.folder / META
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{meta_path}: missing; not a token store (build one with build_token_store)") from None
        except (OSError, ValueError) as error:
            raise DataError(f"{meta_path}: unreadable ({error})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise DataError(f"{meta_path}: not a version-{VERSION} {FORMAT} folder")
        self.n, self.total = int(meta["texts"]), int(meta["tokens"])
        self.offsets = self._map(OFFSETS, np.int64, self.n + 1)
        if self.offsets[0] != 0 or self.offsets[-1] != self.total or not self._offsets_increase():
            raise DataError(f"{self.folder / OFFSETS}: offsets do not describe {self.total} tokens")
        self.ids = self._map(IDS, np.int32, self.total)
        self.labels = self._map(LABELS, np.int64, self.n) if meta.get("labels") else None

    def _offsets_increase(self) -> bool:
        """Do the offsets never decrease? (Checked chunk by chunk: memory stays flat.)"""
        for start in range(0, len(self.offsets) - 1, CHUNK):
            part = self.offsets[start: start + CHUNK + 1]
            if np.any(part[1:] < part[:-1]):
                return False
        return True

    def _map(self, name: str, dtype, count: int) -> np.ndarray:
        path = self.folder / name
        expected = count * np.dtype(dtype).itemsize
        size = path.stat().st_size if path.exists() else None
        if size != expected:
            raise DataError(f"{path}: {'missing' if size is None else f'{size} bytes'}, expected {expected} "
                            f"({count} x {np.dtype(dtype).name}); the store is damaged: build it again")
        if count == 0:
            return np.zeros(0, dtype=dtype)
        return np.memmap(path, dtype=np.dtype(dtype).newbyteorder("<"), mode="r", shape=(count,))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> np.ndarray:
        if not -self.n <= i < self.n:
            raise IndexError(f"text {i} is outside the store ({self.n} texts)")
        i %= self.n
        return self.ids[self.offsets[i]: self.offsets[i + 1]]

    @property
    def lengths(self) -> np.ndarray:
        """Tokens of each text, int64 ``(n,)``."""
        return np.diff(self.offsets)


class _Writer:
    """Appends sequences to a store folder being written (``folder`` is the temporary one)."""

    def __init__(self, folder: Path, with_labels: bool):
        self.folder = folder
        # open across add() calls, closed by close() (or with the temporary folder on an error)
        self.ids = open(folder / IDS, "wb")  # noqa: SIM115
        self.offsets = open(folder / OFFSETS, "wb")  # noqa: SIM115
        self.labels = open(folder / LABELS, "wb") if with_labels else None  # noqa: SIM115
        self.buffer, self.offset_buffer, self.label_buffer = array("i"), array("q", [0]), array("q")
        self.n = self.total = 0

    def add(self, ids: Sequence[int], label: int | None = None) -> None:
        self.buffer.extend(ids)  # 4 bytes an id, not a Python list's ~36
        self.total += len(ids)
        self.n += 1
        self.offset_buffer.append(self.total)
        if self.labels is not None:
            self.label_buffer.append(int(label))
        if len(self.buffer) >= CHUNK or len(self.offset_buffer) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        for buffer, file in ((self.buffer, self.ids), (self.offset_buffer, self.offsets),
                             (self.label_buffer, self.labels)):
            if file is not None:
                if sys.byteorder == "big":  # the files are little-endian
                    buffer.byteswap()
                file.write(buffer)
        self.buffer, self.offset_buffer, self.label_buffer = array("i"), array("q"), array("q")

    def close(self) -> None:
        self.flush()
        for f in (self.ids, self.offsets, self.labels):
            if f is not None:
                f.close()
        meta = {"format": FORMAT, "version": VERSION, "texts": self.n, "tokens": self.total,
                "labels": self.labels is not None}
        (self.folder / META).write_text(json.dumps(meta), encoding="utf-8")


def build_token_store(
    token_lists: Iterable[Sequence[str]],
    folder: str | Path,
    labels: Iterable[int] | None = None,
    min_freq: int = 1,
    max_size: int | None = None,
    max_length: int | None = None,
) -> tuple[Vocab, TokenStore]:
    """Read tokenised texts once; return their vocabulary and a store of their ids in ``folder``.

    Args:
        token_lists: the texts' tokens, read once (a generator is fine: nothing is kept).
        folder: where the store goes; an existing store there is replaced (when the new one is
            complete).
        labels: each text's label id, read alongside ``token_lists`` (the same number).
        min_freq, max_size: as :meth:`Vocab.build`, which gives the same vocabulary.
        max_length: keep only each text's first ``max_length`` tokens (for the counts too).

    Returns:
        ``(vocab, store)``: ``store[i]`` is ``vocab.encode(tokens_i)``.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        first_seen: dict[str, int] = {}  # token -> provisional id, in order of first appearance
        counts: list[int] = []
        label_iter = iter(labels) if labels is not None else None
        writer = _Writer(tmp, with_labels=label_iter is not None)
        for tokens in token_lists:
            if max_length is not None:
                tokens = tokens[:max_length]
            ids = array("i")
            for token in tokens:
                i = first_seen.get(token)
                if i is None:
                    i = first_seen[token] = len(counts)
                    counts.append(0)
                counts[i] += 1
                ids.append(i)
            label = None
            if label_iter is not None:
                label = next(label_iter, None)
                if label is None:
                    raise DataError(f"fewer labels than texts: none for text {writer.n + 1}")
            writer.add(ids, label)
        if label_iter is not None and next(label_iter, None) is not None:
            raise DataError(f"more labels than texts ({writer.n})")
        writer.close()
        vocab = _vocab_from_counts(first_seen, counts, min_freq, max_size)
        _renumber(tmp / IDS, first_seen, vocab)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return vocab, TokenStore(folder)


def _vocab_from_counts(first_seen: dict[str, int], counts: list[int], min_freq: int,
                       max_size: int | None) -> Vocab:
    """``Vocab.build``'s vocabulary from counts kept in first-appearance order."""
    if min_freq < 1:
        raise ConfigError(f"min_freq must be at least 1, got {min_freq}")
    specials = [Vocab.PAD, Vocab.UNK]
    if max_size is not None and max_size < len(specials):
        raise ConfigError(f"max_size must be at least {len(specials)} (the special tokens), got {max_size}")
    kept = [t for t, i in first_seen.items() if counts[i] >= min_freq and t not in specials]
    ranked = sorted(kept, key=lambda t: -counts[first_seen[t]])  # stable: ties by first appearance
    if max_size is not None:
        ranked = ranked[: max_size - len(specials)]
    return Vocab(specials + ranked)


def _renumber(path: Path, first_seen: dict[str, int], vocab: Vocab) -> None:
    """Rewrite the ids file in place from provisional ids to ``vocab``'s (unknown: ``UNK_ID``)."""
    table = np.full(len(first_seen), Vocab.UNK_ID, dtype=np.int32)
    for token, provisional in first_seen.items():
        table[provisional] = vocab.encode([token])[0]
    count = path.stat().st_size // 4
    if count == 0:
        return
    ids = np.memmap(path, dtype="<i4", mode="r+", shape=(count,))
    for start in range(0, count, CHUNK):
        ids[start: start + CHUNK] = table[ids[start: start + CHUNK]]
    ids.flush()
    del ids


class TokenDataset(torch.utils.data.Dataset):
    """A torch ``Dataset`` over a :class:`TokenStore`: item ``i`` is ``(ids (L_i,) int64, label)``.

    ``label`` is the store's label id, or None in a store without labels.
    """

    def __init__(self, store: TokenStore):
        self.store = store

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int | None]:
        ids = torch.from_numpy(np.array(self.store[i], dtype=np.int64))
        label = None if self.store.labels is None else int(self.store.labels[i])
        return ids, label

    @staticmethod
    def collate(items: list[tuple[torch.Tensor, int | None]]) -> dict[str, torch.Tensor]:
        """Items -> ``{"ids": (B, T) padded with 0, "lengths": (B,), "labels": (B,)}`` (no
        ``labels`` without them). An empty text is one ``<unk>``: a network needs a step."""
        padded, lengths = pad_sequences([ids.tolist() for ids, _ in items], empty_id=Vocab.UNK_ID)
        batch = {"ids": padded, "lengths": lengths}
        if items and items[0][1] is not None:
            batch["labels"] = torch.tensor([label for _, label in items])
        return batch
