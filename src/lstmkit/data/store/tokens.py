"""Token ids of many texts on disk in memory-mapped arrays: memory that stays flat as data grows.

Held in Python lists, a tokenised corpus costs about 36 bytes per token (a list slot and an
int object); in a :class:`TokenStore` it costs 4 bytes per token, on disk, and the operating
system pages in only the parts a batch reads. A store folder holds::

    ids.i32        every text's token ids end to end: int32, little-endian, (total_tokens,)
    offsets.i64    int64 (n + 1,): text i is ids[offsets[i] : offsets[i + 1]]
    labels.i64     int64 (n,): each text's label id (only when labels were given)
    tags.i32       int32 (total_tokens,): each token's label id, sharing ``offsets`` with the
                   ids (a tagger's tags; only when given; version 2)
    tokens.json    {"tokens": [...]}: the string of each id (version 2)
    store.json     {"format": "lstmkit-token-store", "version": 2, "texts": n, "tokens": total,
                    "labels": true|false, "tags": true|false}

Version-1 stores (no ``tags.i32``, no ``tokens.json``) are still read.

:class:`StoreBuilder` writes a store in **one** streaming pass, numbering tokens in the order
they first appear (provisional ids; ``tokens.json`` holds their strings). A caller that knows
the vocabulary only afterwards (from a part of the rows, say: a validation split held out)
counts the rows it wants (:func:`count_tokens`), ranks the tokens
(:func:`vocab_from_counts`: the vocabulary ``Vocab.build`` gives for those rows, ties and
all) and rewrites the ids in place, chunk by chunk (:func:`renumber`). Label and tag ids can
be rewritten the same way (a label set known only at the end). :func:`build_token_store` does
the three steps for a whole stream. Memory: one entry per distinct token and one chunk,
whatever the number of texts.

A store is written into a temporary folder beside its destination and renamed into place when
complete, so a crash never leaves half a store where a whole one is expected.

:class:`TokenDataset` is a torch ``Dataset`` over a store (item ``i``: its ids and label), with
:meth:`TokenDataset.collate` building the padded batches lstmkit's text networks take, and
:attr:`TokenStore.lengths` for :class:`~lstmkit.data.batching.BucketBatchSampler`.
"""

from __future__ import annotations

import json
import mmap
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

FORMAT, VERSION = "lstmkit-token-store", 2
READABLE = (1, 2)
"""Versions this code reads (version 1: no per-token tags, no ``tokens.json``)."""
IDS, OFFSETS, LABELS, TAGS, TOKENS, META = "ids.i32", "offsets.i64", "labels.i64", "tags.i32", "tokens.json", \
    "store.json"
CHUNK = 1 << 20
"""Ids buffered before a write, and renumbered at a time: 4 MiB of int32."""


class TokenStore:
    """A read-only store of token-id sequences (see the module docstring for the files).

    ``store[i]`` is text i's ids, an int32 array ``(length_i,)`` read from the memory map (a
    view: no copy until used); ``len(store)`` is the number of texts; ``store.tags`` the
    per-token tags (int32 ``(total,)``, sharing ``offsets``) or None; ``store.tokens`` the
    string of each id (version 2) or None.
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
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") not in READABLE:
            raise DataError(f"{meta_path}: not a version-1 or version-2 {FORMAT} folder")
        self.n, self.total = int(meta["texts"]), int(meta["tokens"])
        self.offsets = self._map(OFFSETS, np.int64, self.n + 1)
        if self.offsets[0] != 0 or self.offsets[-1] != self.total or not self._offsets_increase():
            raise DataError(f"{self.folder / OFFSETS}: offsets do not describe {self.total} tokens")
        self.ids = self._map(IDS, np.int32, self.total)
        self.labels = self._map(LABELS, np.int64, self.n) if meta.get("labels") else None
        self.tags = self._map(TAGS, np.int32, self.total) if meta.get("tags") else None
        self.tokens = self._read_tokens() if meta.get("version") >= 2 else None

    def _read_tokens(self) -> list[str]:
        path = self.folder / TOKENS
        try:
            tokens = json.loads(path.read_text(encoding="utf-8"))["tokens"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DataError(f"{path}: unreadable ({error}); the store is damaged: build it again") from None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise DataError(f"{path}: 'tokens' must be a list of strings; the store is damaged: build it again")
        return tokens

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

    def release(self) -> None:
        """Let go of the pages read so far (``madvise(MADV_DONTNEED)`` on the memory maps).

        Read pages of a memory-mapped file count in the process's resident memory until the
        kernel needs them back; a pass over a large store would hold it all. After this they
        stay in the operating system's file cache (a later read is a cheap page fault), not in
        the process. A no-op where ``madvise`` is missing.
        """
        for values in (self.ids, self.offsets, self.labels, self.tags):
            release_pages(values)


def release_pages(array) -> None:
    """``madvise(MADV_DONTNEED)`` on the memory map behind ``array`` (a :class:`numpy.memmap`), if any:
    its pages leave the process's resident memory (a shared file mapping keeps its data in the
    file cache; a later read faults it back in)."""
    mapped = getattr(array, "_mmap", None)
    if mapped is not None and hasattr(mapped, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED)


class _Writer:
    """Appends sequences to a store folder being written (``folder`` is the temporary one)."""

    def __init__(self, folder: Path, with_labels: bool, with_tags: bool = False):
        self.folder = folder
        # open across add() calls, closed by close() (or with the temporary folder on an error)
        self.ids = open(folder / IDS, "wb")  # noqa: SIM115
        self.offsets = open(folder / OFFSETS, "wb")  # noqa: SIM115
        self.labels = open(folder / LABELS, "wb") if with_labels else None  # noqa: SIM115
        self.tags = open(folder / TAGS, "wb") if with_tags else None  # noqa: SIM115
        self.buffer, self.offset_buffer, self.label_buffer = array("i"), array("q", [0]), array("q")
        self.tag_buffer = array("i")
        self.n = self.total = 0

    def add(self, ids: Sequence[int], label: int | None = None, tags: Sequence[int] | None = None) -> None:
        self.buffer.extend(ids)  # 4 bytes an id, not a Python list's ~36
        self.total += len(ids)
        self.n += 1
        self.offset_buffer.append(self.total)
        if self.labels is not None:
            self.label_buffer.append(int(label))
        if self.tags is not None:
            self.tag_buffer.extend(tags)
        if len(self.buffer) >= CHUNK or len(self.offset_buffer) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        for buffer, file in ((self.buffer, self.ids), (self.offset_buffer, self.offsets),
                             (self.label_buffer, self.labels), (self.tag_buffer, self.tags)):
            if file is not None:
                if sys.byteorder == "big":  # the files are little-endian
                    buffer.byteswap()
                file.write(buffer)
        self.buffer, self.offset_buffer, self.label_buffer = array("i"), array("q"), array("q")
        self.tag_buffer = array("i")

    def close(self, tokens: Sequence[str]) -> None:
        self.flush()
        for f in (self.ids, self.offsets, self.labels, self.tags):
            if f is not None:
                f.close()
        (self.folder / TOKENS).write_text(json.dumps({"tokens": list(tokens)}, ensure_ascii=False), encoding="utf-8")
        meta = {"format": FORMAT, "version": VERSION, "texts": self.n, "tokens": self.total,
                "labels": self.labels is not None, "tags": self.tags is not None}
        (self.folder / META).write_text(json.dumps(meta), encoding="utf-8")


class StoreBuilder:
    """Writes a store in one streaming pass; token ids are numbered by first appearance.

    >>> with StoreBuilder(folder, labels=True) as builder:          # doctest: +SKIP
    ...     for tokens, label in rows:
    ...         builder.add(tokens, label)
    >>> store = builder.store                                      # ids: builder.token_ids

    Args:
        folder: where the store goes; an existing store there is replaced when the new one is
            complete (it is written beside it under a temporary name).
        labels: each text has a label id (``add(tokens, label)``).
        tags: each token has a tag id (``add(tokens, tags=...)``, as many as tokens).
        max_length: keep only each text's first ``max_length`` tokens (and tags).
        token_ids: ``{token: id}`` to number tokens with and add new ones to: pass a training
            store's builder's ``token_ids`` to number a validation store alike.
    """

    def __init__(self, folder: str | Path, labels: bool = False, tags: bool = False,
                 max_length: int | None = None, token_ids: dict[str, int] | None = None):
        self.folder = Path(folder)
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self.max_length = max_length
        self.token_ids: dict[str, int] = {} if token_ids is None else token_ids
        self.with_labels, self.with_tags = labels, tags
        self.store: TokenStore | None = None
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.folder.name}.", suffix=".tmp", dir=self.folder.parent))
        self._writer = _Writer(self._tmp, with_labels=labels, with_tags=tags)

    def __len__(self) -> int:
        return self._writer.n

    def add(self, tokens: Sequence[str], label: int | None = None, tags: Sequence[int] | None = None) -> array:
        """Append one text; returns its ids (an ``array("i")``)."""
        if self.max_length is not None:
            tokens = tokens[: self.max_length]
            if tags is not None:
                tags = tags[: self.max_length]
        if self.with_labels and label is None:
            raise ValueError("this store holds labels: give each text's label")
        if self.with_tags and (tags is None or len(tags) != len(tokens)):
            raise ValueError("this store holds tags: give one per token")
        token_ids = self.token_ids
        ids = array("i")
        for token in tokens:
            i = token_ids.get(token)
            if i is None:
                i = token_ids[token] = len(token_ids)
            ids.append(i)
        self._writer.add(ids, label, tags)
        return ids

    def close(self) -> TokenStore:
        """Finish the files and move the store into place; returns it (also ``self.store``)."""
        try:
            self._writer.close(self.token_ids)
            if self.folder.exists():
                shutil.rmtree(self.folder)
            os.replace(self._tmp, self.folder)
        except BaseException:
            self.abort()
            raise
        self.store = TokenStore(self.folder)
        return self.store

    def abort(self) -> None:
        """Throw away what was written (an existing store at ``folder`` stays)."""
        for f in (self._writer.ids, self._writer.offsets, self._writer.labels, self._writer.tags):
            if f is not None:
                f.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> StoreBuilder:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


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
    label_iter = iter(labels) if labels is not None else None
    with StoreBuilder(folder, labels=label_iter is not None, max_length=max_length) as builder:
        for tokens in token_lists:
            label = None
            if label_iter is not None:
                label = next(label_iter, None)
                if label is None:
                    raise DataError(f"fewer labels than texts: none for text {len(builder) + 1}")
            builder.add(tokens, label)
        if label_iter is not None and next(label_iter, None) is not None:
            raise DataError(f"more labels than texts ({len(builder)})")
    store = builder.store
    tokens = list(builder.token_ids)
    counts, first = count_tokens(store, len(tokens))
    vocab = vocab_from_counts(tokens, counts, first, min_freq, max_size)
    return vocab, renumber(store, vocab_table(tokens, vocab), tokens=vocab.tokens)


def count_tokens(store: TokenStore, size: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """How often each id ``0..size-1`` occurs in ``rows`` of ``store`` (all rows when None, else
    sorted row numbers), and where it first occurs: ``(counts, first)``, int64 ``(size,)`` each;
    ``first`` is the position among those rows' tokens read in order, ``2**63 - 1`` for ids
    that never occur. Reads the ids chunk by chunk (memory: the two arrays and one chunk)."""
    counts = np.zeros(size, dtype=np.int64)
    first = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
    position = 0
    for ids in _row_chunks(store, rows):
        counts += np.bincount(ids, minlength=size)
        found, at = np.unique(ids, return_index=True)
        new = first[found] == np.iinfo(np.int64).max
        first[found[new]] = position + at[new]
        position += len(ids)
    store.release()
    return counts, first


def _row_chunks(store: TokenStore, rows: np.ndarray | None):
    """The ids of ``rows`` (sorted; None: all), in order, about ``CHUNK`` at a time (int32 arrays)."""
    n = len(store)
    selected = None
    if rows is not None:
        selected = np.zeros(n, dtype=bool)
        selected[rows] = True
    step = max(1, CHUNK // max(1, int(store.total // max(n, 1))))  # rows per chunk, about CHUNK ids
    for start in range(0, n, step):
        stop = min(n, start + step)
        ids = np.array(store.ids[store.offsets[start]: store.offsets[stop]])
        if selected is not None:
            ids = ids[np.repeat(selected[start:stop], np.diff(store.offsets[start: stop + 1]))]
        store.release()
        yield ids


def vocab_from_counts(tokens: Sequence[str], counts: np.ndarray, first: np.ndarray, min_freq: int = 1,
                      max_size: int | None = None) -> Vocab:
    """``Vocab.build``'s vocabulary from counts: ``tokens[i]`` occurred ``counts[i]`` times, first
    at ``first[i]`` (ties rank by first appearance, as ``Vocab.build``'s stable sort does)."""
    if min_freq < 1:
        raise ConfigError(f"min_freq must be at least 1, got {min_freq}")
    specials = [Vocab.PAD, Vocab.UNK]
    if max_size is not None and max_size < len(specials):
        raise ConfigError(f"max_size must be at least {len(specials)} (the special tokens), got {max_size}")
    kept = np.flatnonzero(counts >= min_freq)
    kept = kept[np.lexsort((first[kept], -counts[kept]))]  # most frequent first, ties by first appearance
    ranked = [tokens[i] for i in kept.tolist() if tokens[i] not in specials]
    if max_size is not None:
        ranked = ranked[: max_size - len(specials)]
    return Vocab(specials + ranked)


def vocab_table(tokens: Sequence[str], vocab: Vocab) -> np.ndarray:
    """``table[i] = vocab.encode([tokens[i]])[0]``: provisional ids -> the vocabulary's, int32."""
    return np.asarray(vocab.encode(tokens), dtype=np.int32).reshape(len(tokens))


def renumber(store: TokenStore, table: np.ndarray, what: str = "ids", tokens: Sequence[str] | None = None
             ) -> TokenStore:
    """Rewrite ``store``'s ``ids`` (or ``tags`` or ``labels``) in place as ``table[old]``, chunk by
    chunk; with ``tokens``, ``tokens.json`` becomes them (the strings of the new ids). Returns
    the store opened again."""
    name, dtype = {"ids": (IDS, "<i4"), "tags": (TAGS, "<i4"), "labels": (LABELS, "<i8")}[what]
    path = store.folder / name
    count = path.stat().st_size // np.dtype(dtype).itemsize
    table = np.asarray(table)
    if count:
        values = np.memmap(path, dtype=dtype, mode="r+", shape=(count,))
        for start in range(0, count, CHUNK):
            values[start: start + CHUNK] = table[values[start: start + CHUNK]]
            release_pages(values)  # a shared mapping: the written pages stay in the file cache
        values.flush()
        del values
    if tokens is not None:
        (store.folder / TOKENS).write_text(json.dumps({"tokens": list(tokens)}, ensure_ascii=False),
                                           encoding="utf-8")
    return TokenStore(store.folder)


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
