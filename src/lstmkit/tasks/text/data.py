"""The text classifier's training data, streamed into a token store: one pass over each file.

:func:`stream_text_data` reads the training texts row by row — from a file
(:func:`lstmkit.data.formats.tables.iter_text_classification`: the reader's checks and errors, with
file and line) or from Python lists — tokenises each, and writes its token ids and its label
into a :class:`~lstmkit.data.store.tokens.TokenStore`; no text is kept. While it reads it
collects what the rest needs, each a small number per row or one entry per distinct value:

* token ids numbered by first appearance (:class:`~lstmkit.data.store.tokens.StoreBuilder`);
* label ids numbered by first appearance, with where each label was first seen (for errors);
* per row, whether the text is mostly CJK (one byte: the ``auto`` tokenizer's vote);
* a SHA-256 of the rows (the run folder's data fingerprint).

Then, from the store:

1. **the validation split** (no validation data given): stratified by label on the label-id
   array, the split :meth:`~lstmkit.tasks.classification.Classifier.split_validation` makes
   (:func:`lstmkit.data.splits.stratified_split_groups`); held-out rows stay in the store and
   are read through a second selection (:class:`~lstmkit.data.store.rows.StoreRows`);
2. **the tokenizer** (``data.tokenizer=auto``): the vote of the same 1,000 training texts
   :func:`~lstmkit.data.tokenizers.resolve_tokenizer_name` samples; it was guessed from the
   first 1,000 rows before reading, and on the rare data where the two differ the file is
   read again with the right one;
3. **the label set** (:class:`~lstmkit.tasks.classification.ClassLabels`: sorted, typed as given)
   and **the vocabulary** of the training rows (``Vocab.build``'s, ties and all), after which the
   ids and labels in the store are rewritten in place to theirs.

A validation file (or list) is streamed the same way into a second store, numbered with the
training store's token ids; a label the training data does not have is an error naming the
file and line where it first appears.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstmkit.data.formats.tables import DataFile, Labels, iter_text_classification
from lstmkit.data.splits import stratified_split_groups
from lstmkit.data.store.rows import StoreRows
from lstmkit.data.store.tokens import (
    StoreBuilder,
    TokenStore,
    count_tokens,
    renumber,
    vocab_from_counts,
    vocab_table,
)
from lstmkit.data.tokenizers import CJK_RANGES, make_tokenizer
from lstmkit.data.vocab import Vocab
from lstmkit.errors import DataError
from lstmkit.tasks.classification import JSON_LABEL_TYPES, ClassLabels, text_form

SAMPLE = 1000
"""Texts the ``auto`` tokenizer looks at (as :func:`~lstmkit.data.tokenizers.resolve_tokenizer_name`)."""
REPORT_EVERY = 1_000_000
"""Rows between "read N rows" progress lines."""
_CJK_CHARS = re.compile(f"[{CJK_RANGES}]")

Row = tuple[str, object, tuple[Path | None, int | None]]
"""``(text, label, (path, line))``: one example as read."""


@dataclass
class TextData:
    """What :func:`stream_text_data` returns: the rows to train and validate on, and what was learned."""

    train: StoreRows
    valid: StoreRows
    tokenizer: object
    vocab: Vocab
    classes: ClassLabels
    fingerprint: str


def mostly_cjk(text: str) -> bool:
    """Are more than half of ``text``'s letters CJK? (:func:`~lstmkit.data.tokenizers.resolve_tokenizer_name`'s
    test of one text.)"""
    letters = sum(map(str.isalpha, text))
    return bool(letters) and sum(map(str.isalpha, "".join(_CJK_CHARS.findall(text)))) > letters / 2


def vote(flags: np.ndarray) -> str:
    """``"char"`` when most of ``SAMPLE`` texts spread evenly over the rows are mostly CJK, else ``"word"``."""
    if not len(flags):
        return "word"
    sample = flags[:: max(1, len(flags) // SAMPLE)][:SAMPLE]
    return "char" if int(sample.sum()) > len(sample) / 2 else "word"


def rows_of(source, labels=None, data=None) -> Callable[[], Iterator[Row]]:
    """A function giving the examples of ``source`` afresh each call: a :class:`DataFile` read by
    :func:`iter_text_classification` (``data``: the columns), or texts with their ``labels``
    (where a :class:`Labels` knows each one's file and line)."""
    if isinstance(source, DataFile):
        return lambda: iter_text_classification(source.path, data.text_column, data.label_column)
    where = labels.where if isinstance(labels, Labels) else (lambda i: (None, None))
    return lambda: ((text, label, where(i)) for i, (text, label) in enumerate(zip(source, labels)))


class _Stream:
    """One pass over the rows into a store (see the module docstring), keeping the per-row numbers."""

    def __init__(self, rows: Iterable[Row], folder: Path, tokenizer, max_length: int, vote: bool,
                 token_ids: dict[str, int] | None = None, say: Callable[[str], None] = lambda _: None):
        self.labels: dict[tuple[bool, object], int] = {}  # label -> provisional id
        self.distinct: list = []  # provisional id -> label
        self.origins: list[tuple[Path | None, int | None]] = []  # where each label was first seen
        self.first_rows: list[int] = []  # the example each label was first seen in (0-based)
        flags = bytearray()
        digest = hashlib.sha256()
        with StoreBuilder(folder, labels=True, max_length=max_length, token_ids=token_ids) as builder:
            for n, (text, label, origin) in enumerate(rows):
                if vote:
                    flags.append(mostly_cjk(text))
                builder.add(tokenizer(text), self._label_id(label, n, origin))
                data = text.encode("utf-8", "surrogatepass")
                digest.update(b"%d:%s%s:%s;" % (len(data), data, type(label).__name__.encode(),
                                               text_form(label).encode("utf-8", "surrogatepass")))
                if (n + 1) % REPORT_EVERY == 0:
                    say(f"read {n + 1:,} rows")
        self.store: TokenStore = builder.store
        self.token_ids = builder.token_ids
        self.flags = np.frombuffer(bytes(flags), dtype=np.uint8)
        self.digest = digest.hexdigest()

    def _label_id(self, label, n: int, origin) -> int:
        if hasattr(label, "item") and not isinstance(label, (str, bytes)):
            label = label.item()  # numpy scalars -> Python
        if not isinstance(label, JSON_LABEL_TYPES):
            path, line = origin
            raise DataError(f"label {label!r} of example {n + 1} is a {type(label).__name__}; labels must be "
                            "strings, integers or booleans", path=path, line=line)
        key = (isinstance(label, bool), label)
        i = self.labels.get(key)
        if i is None:
            i = self.labels[key] = len(self.distinct)
            self.distinct.append(label)
            self.origins.append(origin)
            self.first_rows.append(n)
        return i

    def label_table(self, classes: ClassLabels) -> np.ndarray:
        """Provisional label id -> class id; a label the classes lack is a :class:`DataError` naming
        where it first appears (its file and line, else its example number)."""
        table = np.zeros(len(self.distinct), dtype=np.int64)
        for i, (label, (path, line), row) in enumerate(zip(self.distinct, self.origins, self.first_rows)):
            try:
                table[i] = classes.encode(Labels([label], [(path, line)]))[0]
            except DataError:
                known = ", ".join(classes.names())
                if path is None:
                    raise DataError(f"unknown label {text_form(label)!r} in example {row + 1}; the model knows: "
                                    f"{known}") from None
                raise DataError(f"unknown label {text_form(label)!r}; the model knows: {known}", path=path,
                                line=line) from None
        return table


def stream_text_data(train: Callable[[], Iterator[Row]], valid: Callable[[], Iterator[Row]] | None, data,
                     fraction: float, seed: int, folder: Path, say: Callable[[str], None] = lambda _: None,
                     options: Callable[[str], dict] = lambda name: {}) -> TextData:
    """Stream the training rows (and validation rows, when given) into stores in ``folder``.

    Args:
        train, valid: functions giving the examples (:func:`rows_of`); ``valid`` None holds out
            ``fraction`` of the training rows, stratified by label, with ``seed``.
        data: the ``data.*`` settings (tokenizer, lengths, vocabulary limits).
        say: progress lines.
        options: the tokenizer's options for a tokenizer name.
    """
    name = data.tokenizer
    if name == "auto":  # a guess from the first rows; checked against the real sample below
        rows = train()
        head = list(itertools.islice(rows, SAMPLE))
        name = vote(np.array([mostly_cjk(text) for text, _, _ in head], dtype=np.uint8))
        first_pass: Iterable[Row] | None = itertools.chain(head, rows)
    else:
        first_pass = None
    while True:
        tokenizer = make_tokenizer(name, **options(name))
        stream = _Stream(first_pass if first_pass is not None else train(), folder / "train", tokenizer,
                         data.max_length, vote=data.tokenizer == "auto", say=say)
        first_pass = None
        kept, held = None, None
        if valid is None:
            kept, held = _split(stream, fraction, seed)
        if data.tokenizer != "auto":
            break
        voted = vote(stream.flags if kept is None else stream.flags[kept])
        if voted == name:
            break
        name = voted  # the first rows were unlike the rest: read again with the tokenizer they vote for
    n_train = len(stream.store) if kept is None else len(kept)
    say(f"preparing {n_train:,} texts: tokenising ({name}) and building the vocabulary")
    classes = ClassLabels.fit(Labels(stream.distinct, stream.origins))
    store = renumber(stream.store, stream.label_table(classes), what="labels")
    valid_store, digest = None, stream.digest
    if valid is not None:
        valid_stream = _Stream(valid(), folder / "valid", tokenizer, data.max_length, vote=False,
                               token_ids=stream.token_ids)
        valid_store = renumber(valid_stream.store, valid_stream.label_table(classes), what="labels")
        digest = hashlib.sha256(f"{stream.digest}+{valid_stream.digest}".encode()).hexdigest()
    tokens = list(stream.token_ids)
    counts, first = count_tokens(store, len(tokens), kept)
    vocab = vocab_from_counts(tokens, counts, first, data.min_freq, data.max_vocab)
    table = vocab_table(tokens, vocab)
    store = renumber(store, table, tokens=vocab.tokens)
    if valid_store is not None:
        valid_store = renumber(valid_store, table, tokens=vocab.tokens)
    train_rows = StoreRows(store, kept)
    valid_rows = StoreRows(valid_store) if valid_store is not None else StoreRows(store, held)
    return TextData(train_rows, valid_rows, tokenizer, vocab, classes, digest)


def _split(stream: _Stream, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The stratified split of the streamed rows by their labels' text forms."""
    forms: dict[str, int] = {}
    group_of = np.array([forms.setdefault(text_form(label), len(forms)) for label in stream.distinct],
                        dtype=np.int64)
    groups = group_of[np.asarray(stream.store.labels)]
    source = stream.origins[0][0] if stream.origins else None
    return stratified_split_groups(groups, list(forms), fraction, seed, source=source)


__all__ = ["TextData", "mostly_cjk", "rows_of", "stream_text_data", "vote"]
