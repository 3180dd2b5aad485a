"""The tagger's training data, streamed into a token store; features and batches made from its ids.

:func:`stream_sentences` reads tagged sentences once — from a CoNLL file
(:func:`lstmkit.data.formats.conll.iter_conll`: the reader's checks and errors) or from Python lists —
and writes each token's id and each token's tag id into a :class:`~lstmkit.data.store.tokens.TokenStore`
(tags share the ids' offsets). Ids are those of the **raw tokens** (as read, not lower-cased),
numbered by first appearance, and the tags' ids those of the raw tags: the strings are kept once
each (one entry per distinct token or tag), so everything the tagger derives from the words of a
sentence can be derived from ids:

* the lookup vocabulary (``data.lowercase``: the raw tokens' counts added up per lower-cased
  token), as a table raw id -> vocabulary id;
* the bigram vocabulary, counted from pairs of raw ids (``</s>`` after the last token), and per
  loader a sorted table of the pairs it meets -> bigram id;
* the character vocabulary, counted per raw token (times its count), and a table raw id -> its
  first ``MAX_CHARS`` character ids;
* the dictionary features (B/M/E/S bits per token: Python work per token) and the tags in the
  model's scheme (BIO -> BIOES when asked), computed once per loader and written to a file in
  row order (:class:`RaggedFile`), so an epoch only reads them;
* a frozen character language model's states at each token (:class:`TokenVectorsFile`, float16),
  computed once per fit for the same reason.

Per sentence, memory holds numbers only: where it came from (:class:`Origins`: a path index and
a line), its length, the selection of rows. :class:`TagView` shows a selection's tags as
strings again, a sentence at a time, to :func:`~lstmkit.data.tagschemes.detect_scheme` and to
the dictionary built from BMES tags.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lstmkit.data.store.rows import StoreRows, pad_arrays
from lstmkit.data.store.tokens import (
    StoreBuilder,
    TokenStore,
    count_tokens,
    release_pages,
    vocab_from_counts,
)
from lstmkit.data.vocab import Vocab
from lstmkit.errors import DataError
from lstmkit.tasks.charlm.features import collate_lm

Row = tuple[list[str], list[str], tuple[Path | None, int | None]]
"""``(tokens, tags, (path, first line))``: one tagged sentence as read."""


class Origins:
    """Where each streamed sentence starts: ``where(row) -> (path, line)`` (``(None, None)`` unknown)."""

    def __init__(self):
        self.paths: list[Path | None] = []
        self._index: dict[Path | None, int] = {}
        self.path_of, self.line_of = array("i"), array("q")

    def add(self, origin: tuple[Path | None, int | None]) -> None:
        path, line = origin
        i = self._index.get(path)
        if i is None:
            i = self._index[path] = len(self.paths)
            self.paths.append(path)
        self.path_of.append(i)
        self.line_of.append(-1 if line is None else line)

    def where(self, row: int) -> tuple[Path | None, int | None]:
        line = self.line_of[row]
        return self.paths[self.path_of[row]], (None if line < 0 else line)


@dataclass
class Streamed:
    """One stream of sentences in a store: its rows' origins and a digest of what was read."""

    store: TokenStore
    origins: Origins
    digest: str


def stream_sentences(rows: Iterable[Row], folder: Path, token_ids: dict[str, int], tag_ids: dict[str, int],
                     say: Callable[[str], None] = lambda _: None) -> Streamed:
    """Write ``rows`` into a store in ``folder``: raw token ids (numbered in ``token_ids``) and per-token
    tag ids (numbered in ``tag_ids``); both dicts grow with what is new (share them between the
    training and the validation stream)."""
    origins = Origins()
    digest = hashlib.sha256()
    with StoreBuilder(folder, tags=True, token_ids=token_ids) as builder:
        for n, (tokens, tags, origin) in enumerate(rows):
            builder.add(tokens, tags=[tag_ids.setdefault(t, len(tag_ids)) for t in tags])
            origins.add(origin)
            for part in (tokens, tags):
                data = "\t".join(part).encode("utf-8", "surrogatepass")
                digest.update(b"%d:%s;" % (len(data), data))
            if (n + 1) % 1_000_000 == 0:
                say(f"read {n + 1:,} sentences")
    return Streamed(builder.store, origins, digest.hexdigest())


class TagView:
    """The raw tags of some rows as strings, a sentence at a time (``for tags in view``), with
    ``where(i)`` naming the i-th row's file and first line: what
    :func:`~lstmkit.data.tagschemes.detect_scheme` and ``Sentences`` users take."""

    def __init__(self, rows: StoreRows, names: Sequence[str], origins: Origins):
        self.rows, self.names, self.origins = rows, names, origins

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[list[str]]:
        names = self.names
        for i in range(len(self.rows)):
            yield [names[t] for t in self.rows.tags(i).tolist()]

    def where(self, i: int) -> tuple[Path | None, int | None]:
        return self.origins.where(self.rows.row(i))


def illegal_moves(view: TagView, scheme: str) -> list[tuple[int, int]]:
    """``(row, position)`` of each tag of ``view`` that breaks ``scheme``'s order, in row order: a
    move the scheme does not allow from the tag before it (``I-LOC`` after ``O`` or ``B-PER`` in
    BIO; a sentence starting with ``I-``), or a sentence ending on it (a BIOES ``B-X``). The rules
    are :func:`lstmkit.nn.crf.allowed_transitions`' (what constrained decoding allows), checked a
    block of rows at a time on the tag ids; a tag that is no tag of the scheme is left to the
    unknown-tag check."""
    from lstmkit.data.tagschemes import tag_problem
    from lstmkit.nn.crf import allowed_transitions

    names = list(view.names)
    k = len(names)
    fit = [i for i, name in enumerate(names)
           if not tag_problem(name) and name.partition("-")[0] in scheme and not (scheme == "BMES" and "-" in name)]
    rules = allowed_transitions([names[i] for i in fit], scheme)
    move = np.ones((k + 1, k), dtype=bool)  # move[previous, current]; previous k: the sentence start
    end = np.ones(k, dtype=bool)
    move[np.ix_(fit, fit)] = rules.transitions.numpy()
    move[k, fit] = rules.start.numpy()
    end[fit] = rules.end.numpy()
    found: list[tuple[int, int]] = []
    for start, values, lengths in view.rows.blocks(channel="tags"):
        values = np.asarray(values, dtype=np.int64)
        stops = np.cumsum(lengths)
        firsts = stops - lengths
        previous = np.empty_like(values)
        previous[1:] = values[:-1]
        previous[firsts] = k
        bad = ~move[previous, values]
        bad[stops - 1] |= ~end[values[stops - 1]]
        at = np.flatnonzero(bad)
        rows = np.searchsorted(stops, at, side="right")
        found += [(start + int(r), int(a - firsts[r])) for r, a in zip(rows, at)]
    return found


def move_allowed(scheme: str, before: str | None, tag: str | None) -> bool:
    """Whether ``scheme`` allows ``tag`` right after ``before`` (None: the sentence's start, or,
    for ``tag``, its end)."""
    from lstmkit.nn.crf import allowed_transitions

    names = [t for t in dict.fromkeys((before, tag)) if t is not None]
    rules = allowed_transitions(names, scheme)
    if before is None:
        return bool(rules.start[names.index(tag)]) if tag is not None else True
    if tag is None:
        return bool(rules.end[names.index(before)])
    return bool(rules.transitions[names.index(before), names.index(tag)])


def token_strings(rows: StoreRows, tokens: Sequence[str]) -> Iterator[list[str]]:
    """The raw tokens of each row, as strings, a sentence at a time."""
    for i in range(len(rows)):
        yield [tokens[t] for t in rows[i].tolist()]


# ---------------------------------------------------------------------- vocabularies from counts
def lookup_vocab(tokens: Sequence[str], counts: np.ndarray, first: np.ndarray, lowercase: bool, min_freq: int,
                 max_size: int | None) -> tuple[Vocab, np.ndarray]:
    """``Vocab.build`` of the looked-up (lower-cased) tokens, from the raw tokens' counts and first
    positions; and the table raw id -> vocabulary id (int64)."""
    keys = [t.lower() for t in tokens] if lowercase else list(tokens)
    index: dict[str, int] = {}
    group = np.array([index.setdefault(k, len(index)) for k in keys], dtype=np.int64).reshape(len(keys))
    grouped_counts = np.bincount(group, weights=counts, minlength=len(index)).astype(np.int64)
    grouped_first = np.full(len(index), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(grouped_first, group, first)
    vocab = vocab_from_counts(list(index), grouped_counts, grouped_first, min_freq, max_size)
    return vocab, np.asarray(vocab.encode(keys), dtype=np.int64).reshape(len(keys))


END = "</s>"
"""The token after a sentence's last one, in its last bigram."""
MAX_CHARS = 20
"""Characters per word seen by the character features (longer words are cut)."""


def bigram_vocab(rows: StoreRows, tokens: Sequence[str], min_freq: int) -> Vocab:
    """``Vocab.build`` of every row's ``"token_t token_t+1"`` strings (``</s>`` after the last), counted
    from pairs of raw ids a block of rows at a time."""
    size = len(tokens) + 1  # id len(tokens) stands for </s>
    keys = np.zeros(0, dtype=np.int64)
    counts = np.zeros(0, dtype=np.int64)
    first = np.zeros(0, dtype=np.int64)
    position = 0
    for _, ids, lengths in rows.blocks():
        pairs = _pair_keys(ids, lengths, size)
        found, at, n = np.unique(pairs, return_index=True, return_counts=True)
        merged, inverse = np.unique(np.concatenate([keys, found]), return_inverse=True)
        new_counts = np.zeros(len(merged), dtype=np.int64)
        np.add.at(new_counts, inverse, np.concatenate([counts, n]))
        new_first = np.full(len(merged), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(new_first, inverse, np.concatenate([first, position + at]))
        keys, counts, first = merged, new_counts, new_first
        position += len(ids)
    names = [f"{tokens[k // size]} {tokens[k % size] if k % size < len(tokens) else END}" for k in keys.tolist()]
    index: dict[str, int] = {}
    group = np.array([index.setdefault(name, len(index)) for name in names], dtype=np.int64).reshape(len(names))
    grouped_counts = np.bincount(group, weights=counts, minlength=len(index)).astype(np.int64)
    grouped_first = np.full(len(index), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(grouped_first, group, first)
    return vocab_from_counts(list(index), grouped_counts, grouped_first, min_freq)


def _pair_keys(ids: np.ndarray, lengths: np.ndarray, size: int) -> np.ndarray:
    """``id_t * size + id_t+1`` per token of rows given end to end (``size - 1`` after a row's last)."""
    following = np.empty(len(ids), dtype=np.int64)
    following[:-1] = ids[1:]
    following[np.cumsum(lengths) - 1] = size - 1
    return ids.astype(np.int64) * size + following


class PairTable:
    """Bigram ids of the pairs some rows hold: sorted pair keys -> ids, for :meth:`ids` of one row."""

    def __init__(self, rows: StoreRows, tokens: Sequence[str], vocab: Vocab, lookup: Callable[[str], str]):
        self.size = len(tokens) + 1
        found = [np.unique(_pair_keys(ids, lengths, self.size)) for _, ids, lengths in rows.blocks()]
        self.keys = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
        looked = [lookup(t) for t in tokens] + [END]
        self.values = np.asarray(vocab.encode(f"{looked[k // self.size]} {looked[k % self.size]}"
                                              for k in self.keys.tolist()), dtype=np.int64)

    def ids(self, raw: np.ndarray) -> np.ndarray:
        """The bigram ids of one row of raw ids."""
        keys = _pair_keys(raw, np.array([len(raw)]), self.size)
        return self.values[np.searchsorted(self.keys, keys)]


def char_vocab(tokens: Sequence[str], counts: np.ndarray, first: np.ndarray) -> Vocab:
    """``Vocab.build([list(t) for s in X for t in s])`` from the raw tokens' counts and first positions:
    a character's count is the sum over tokens of (its occurrences in the token x the token's
    count); ties rank by first appearance (the token's first position, then the place in it)."""
    char_counts: dict[str, int] = {}
    char_first: dict[str, tuple[int, int]] = {}
    for i in np.flatnonzero(counts).tolist():
        token, count, at = tokens[i], int(counts[i]), int(first[i])
        for k, c in enumerate(token):
            char_counts[c] = char_counts.get(c, 0) + count
            if c not in char_first or (at, k) < char_first[c]:
                char_first[c] = (at, k)
    ranked = sorted(char_counts, key=lambda c: (-char_counts[c], char_first[c]))
    return Vocab([Vocab.PAD, Vocab.UNK] + [c for c in ranked if c not in (Vocab.PAD, Vocab.UNK)])


def char_table(tokens: Sequence[str], vocab: Vocab, max_chars: int) -> tuple[np.ndarray, np.ndarray]:
    """Per raw token: its first ``max_chars`` character ids ``(R, max_chars)`` (0 after) and how many ``(R,)``."""
    table = np.zeros((len(tokens), max_chars), dtype=np.int64)
    lengths = np.zeros(len(tokens), dtype=np.int64)
    for i, token in enumerate(tokens):
        ids = vocab.encode(list(token[:max_chars]))
        table[i, : len(ids)] = ids
        lengths[i] = len(ids)
    return table, lengths


# ---------------------------------------------------------------------- per-token values, once per loader
class RaggedFile:
    """Per-token values of some rows, in their order, in a file: row i is ``values[starts[i]:starts[i+1]]``.

    ``parts`` gives the values in row order, in pieces of any size (a row's, or a block's).
    """

    def __init__(self, path: Path, rows: StoreRows, parts: Iterable[np.ndarray], dtype: str):
        self.starts = np.concatenate([[0], np.cumsum(rows.lengths)]).astype(np.int64)
        written = 0
        with open(path, "wb") as f:
            pending: list[np.ndarray] = []
            size = 0
            for part in parts:
                pending.append(np.asarray(part, dtype=dtype))
                size += len(part)
                if size >= 1 << 20:
                    f.write(np.concatenate(pending).tobytes())
                    written, pending, size = written + size, [], 0
            if pending:
                f.write(np.concatenate(pending).tobytes())
                written += size
        total = int(self.starts[-1])
        if written != total:
            raise AssertionError(f"{written} values written for {total} tokens")
        self.values = np.memmap(path, dtype=dtype, mode="r", shape=(total,)) if total else np.zeros(0, dtype=dtype)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.values[self.starts[i]: self.starts[i + 1]]

    def release(self) -> None:
        release_pages(self.values)


class TokenVectorsFile:
    """Per-token vectors of some rows in a float16 file: row ``i`` is ``values[starts[i]:starts[i+1]]``,
    ``(n_i, D)``. A frozen character language model's states are the same in every epoch, so the
    tagger computes them once per loader, in ``batches`` of row indices (any order), and an epoch
    only reads them (as Flair's ``embeddings_storage_mode`` keeps its embeddings), instead of
    running the language model over every sentence again. float16 keeps a state in ``[-1, 1]`` to
    about 5e-4 and halves the file: pd-ner's 1.5 million training characters at ``2H' = 512``
    take 1.5 GB of disk, read through the page cache.

    ``compute(indices) -> (B, T, D)`` gives the rows' vectors, padded; only each row's first
    ``n_i`` are kept.
    """

    def __init__(self, path: Path, lengths: np.ndarray, width: int, batches: Iterable[list[int]],
                 compute: Callable[[list[int]], torch.Tensor]):
        self.starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.width = width
        total = int(self.starts[-1])
        if not total:
            self.values = np.zeros((0, width), dtype=np.float16)
            return
        values = np.memmap(path, dtype=np.float16, mode="w+", shape=(total, width))
        for indices in batches:
            states = compute(indices).to(torch.float16).numpy()  # (B, T, D)
            for row, i in enumerate(indices):
                values[self.starts[i]: self.starts[i + 1]] = states[row, : self.starts[i + 1] - self.starts[i]]
        values.flush()
        del values
        self.values = np.memmap(path, dtype=np.float16, mode="r", shape=(total, width))

    def __getitem__(self, i: int) -> np.ndarray:
        return self.values[self.starts[i]: self.starts[i + 1]]

    def padded(self, indices: Sequence[int], steps: int) -> torch.Tensor:
        """The rows' vectors ``(B, steps, D)`` float32, zero after each row's length."""
        out = np.zeros((len(indices), steps, self.width), dtype=np.float32)
        for row, i in enumerate(indices):
            vectors = self[i]
            out[row, : len(vectors)] = vectors
        return torch.from_numpy(out)

    def release(self) -> None:
        release_pages(self.values)


def model_tag_ids(view: TagView, tags: Sequence[str], to_model: Callable[[list[str]], list[str]] | None,
                  ) -> Iterator[np.ndarray]:
    """The rows' tags as ids of ``tags`` (after ``to_model``, e.g. BIO -> BIOES), in row order, in
    pieces; a tag the model lacks is a :class:`DataError` naming its file and line (else its
    sentence and token). Without ``to_model`` a block at a time, by a table."""
    index = {t: i for i, t in enumerate(tags)}
    names = view.names

    def unknown(i: int, position: int, tag: str) -> DataError:
        path, line = view.where(i)
        at = f"sentence {i + 1}, token {position + 1}: " if path is None else ""
        return DataError(f"{at}unknown tag {tag!r}; the model knows: {', '.join(tags)}",
                         path, line + position if line is not None else None)

    if to_model is None:
        table = np.array([index.get(name, -1) for name in names], dtype=np.int64).reshape(len(names))
        for start, raw, lengths in view.rows.blocks(channel="tags"):
            values = table[raw]
            if (values < 0).any():
                at = int(np.flatnonzero(values < 0)[0])
                row = int(np.searchsorted(np.cumsum(lengths), at, side="right"))
                position = at - int(np.sum(lengths[:row]))
                raise unknown(start + row, position, names[raw[at]])
            yield values
        return
    for i in range(len(view.rows)):
        row = to_model([names[t] for t in view.rows.tags(i).tolist()])
        for position, tag in enumerate(row):
            if tag not in index:
                raise unknown(i, position, tag)
        yield np.array([index[t] for t in row], dtype=np.int64)


class Batches:
    """The collate function of a loader over store rows: :meth:`Tagger._collate`'s batches, the same
    tensors, from ids (the estimator's tables) and the loader's :class:`RaggedFile` values."""

    def __init__(self, rows: StoreRows, vocab_table: np.ndarray, tags: RaggedFile,
                 pairs: PairTable | None = None, codes: RaggedFile | None = None,
                 chars: tuple[np.ndarray, np.ndarray] | None = None, bits: torch.Tensor | None = None,
                 lm: Callable[[np.ndarray], dict] | None = None, lm_states: TokenVectorsFile | None = None):
        self.rows, self.vocab_table, self.tags = rows, vocab_table, tags
        self.pairs, self.codes, self.chars, self.bits, self.lm = pairs, codes, chars, bits, lm
        self.lm_states = lm_states
        self.reads = 0

    def __call__(self, indices: list[int]) -> dict:
        raw = [np.asarray(self.rows[i], dtype=np.int64) for i in indices]
        ids, lengths = pad_arrays([self.vocab_table[r] for r in raw])
        batch = {"ids": ids, "lengths": lengths}
        width = ids.size(1)
        if self.pairs is not None:
            batch["bigrams"] = pad_arrays([self.pairs.ids(r) for r in raw])[0]
        if self.codes is not None:
            codes = pad_arrays([self.codes[i] for i in indices])[0]  # (B, T) packed bits
            batch["dictionary"] = codes.unsqueeze(-1).bitwise_and(self.bits).ne(0).float()  # (B, T, 4)
        if self.chars is not None:
            table, counts = self.chars
            padded = np.zeros((len(raw), width), dtype=np.int64)
            inside = np.zeros((len(raw), width), dtype=bool)
            for row, r in enumerate(raw):
                padded[row, : len(r)] = r
                inside[row, : len(r)] = True
            char_lengths = counts[padded] * inside  # (B, T)
            longest = int(char_lengths.max())
            chars = table[padded][:, :, :longest] * inside[:, :, None]  # (B, T, C)
            batch["chars"], batch["char_lengths"] = torch.from_numpy(chars), torch.from_numpy(char_lengths)
        if self.lm_states is not None:  # a frozen language model's states, computed once (TokenVectorsFile)
            batch["lm_states"] = self.lm_states.padded(indices, width)  # (B, T, 2H')
        elif self.lm is not None:  # a character language model's inputs (lstmkit.tasks.charlm.pretrained)
            batch.update(collate_lm([self.lm(r) for r in raw]))
        batch["tags"] = pad_arrays([self.tags[i] for i in indices])[0]
        self.reads += 1
        if self.reads % 256 == 0:
            self.rows.release()
            for ragged in (self.tags, self.codes, self.lm_states):
                if ragged is not None:
                    ragged.release()
        return batch


__all__ = [
    "Batches",
    "Origins",
    "PairTable",
    "RaggedFile",
    "Streamed",
    "TagView",
    "TokenVectorsFile",
    "bigram_vocab",
    "char_table",
    "char_vocab",
    "count_tokens",
    "illegal_moves",
    "lookup_vocab",
    "model_tag_ids",
    "move_allowed",
    "stream_sentences",
    "token_strings",
]
