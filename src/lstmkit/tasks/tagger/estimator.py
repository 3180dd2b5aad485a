"""``Tagger``: the ``tagger`` task's estimator (token sequence -> tag sequence).

It reads CoNLL files (:mod:`lstmkit.data.formats.conll`), detects the tag scheme (BIO, BIOES, BMES, or
plain labels such as part-of-speech tags: :func:`lstmkit.data.tagschemes.detect_scheme`),
builds the token, bigram and character vocabularies and the word dictionary, trains
:class:`~lstmkit.tasks.tagger.network.TaggerNet` with the shared trainer (the kept epoch is the
one with the best validation entity F1), and predicts tags, entity spans and words.

Inputs ``X`` are sentences: each a list of tokens (as in a CoNLL file), or a raw text string
that :mod:`lstmkit.tasks.tagger.text` cuts into tokens (``predict --text``, ``.txt`` files).
Labels ``y`` are lists of tags, one per token.

Entity offsets in records: for raw text input, ``start``/``end`` are *character* offsets into the
text (``text[start:end]`` is the entity); for token input they are *token* offsets
(``tokens[start:end]``). ``end`` is exclusive in both.

Training has one path: the training (and validation) sentences are streamed into a token store
(:mod:`lstmkit.tasks.tagger.data`) — from a CoNLL file (:class:`~lstmkit.data.formats.tables.DataFile`,
what ``lstmkit train`` passes) or from Python lists — and the vocabularies, the dictionary, the
PPMI vectors and every batch are made from the stored ids (the store lives under ``OUT/store/``
or in a temporary folder while ``fit`` runs). Prediction encodes its inputs as before
(:meth:`Tagger._encode`, :meth:`Tagger._collate`), and training batches are the same tensors.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import warnings
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from lstmkit.data.batching import IndexDataset, pad_sequences, sorted_batches
from lstmkit.data.formats.conll import Sentences, iter_conll, read_conll, read_conll_tokens
from lstmkit.data.formats.tables import DataFile
from lstmkit.data.splits import random_split_indices
from lstmkit.data.store.folder import training_store_folder
from lstmkit.data.store.rows import StoreBatchSampler, StoreRows
from lstmkit.data.tagschemes import (
    UNTYPED,
    as_read,
    bio_to_bioes,
    bioes_to_bio,
    detect_scheme,
    entities,
    tag_problem,
    words_from_bmes,
)
from lstmkit.data.vocab import Vocab
from lstmkit.errors import ConfigError, DataError, DataWarning
from lstmkit.files import atomic_write_text
from lstmkit.inference import map_batches, network_device
from lstmkit.metrics.tagging import tagging_metrics
from lstmkit.tasks.base import Estimator
from lstmkit.tasks.tagger.config import TaggerConfig
from lstmkit.tasks.tagger.data import (
    END,
    MAX_CHARS,
    Batches,
    PairTable,
    RaggedFile,
    TagView,
    bigram_vocab,
    char_table,
    char_vocab,
    count_tokens,
    illegal_moves,
    lookup_vocab,
    model_tag_ids,
    move_allowed,
    stream_sentences,
    token_strings,
)
from lstmkit.tasks.tagger.dictionary import BMES_BITS, WordDictionary, fold_of
from lstmkit.tasks.tagger.network import TaggerNet
from lstmkit.tasks.tagger.text import tokenize_with_offsets

TEXT_SUFFIXES = (".txt",)
"""``--input`` files read as one raw text per line; anything else is read as CoNLL."""


def _as_read_or_same(tags: list[str], scheme: str) -> list[str]:
    """:func:`as_read`, or the tags as they are when one is no tag of ``scheme`` (validation data:
    the unknown-tag check then names it)."""
    try:
        return as_read(tags, scheme)
    except ValueError:
        return list(tags)


class Tagger(Estimator):
    """Tokens -> tags with a BiLSTM-CRF: NER (BIO/BIOES), word segmentation (BMES), POS.

    >>> tagger = Tagger(hidden_size=64, epochs=2).fit(sentences, tags)    # doctest: +SKIP
    >>> tagger.predict(["新华社北京十二月三十一日电"])                       # doctest: +SKIP
    """

    task = "tagger"
    config_class = TaggerConfig
    monitor, monitor_mode = "f1", "max"
    takes_text = True
    inference_batch_size = 256
    inference_batch_tokens = 4096
    """Inference batches hold at most this many tokens (padding included) and ``inference_batch_size``
    sentences: long sentences go in small batches, short ones in large ones."""
    output_suffixes = (".csv", ".tsv", ".jsonl", ".conll")

    # ------------------------------------------------------------------ reading data
    def _data_config(self):
        return (getattr(self, "config_", None) or self.resolved_config()).data

    def read_data(self, path) -> tuple[Sentences, Sentences]:
        return read_conll(path, tag_column=self._data_config().tag_column)

    def read_training_data(self, path) -> tuple[DataFile, None]:
        """``lstmkit train``'s files are read by ``fit``, a sentence at a time (nothing held in lists)."""
        return DataFile(path), None

    def read_inputs(self, path):
        """A ``.txt`` file: one raw text per non-blank line; any other file: CoNLL tokens
        (first column; other columns, such as gold tags, are ignored)."""
        path = Path(path)
        if path.suffix.lower() not in TEXT_SUFFIXES:
            return read_conll_tokens(path)
        from lstmkit.data.formats.tables import decode_text

        if not path.is_file():
            raise DataError("file not found", path)
        texts = Sentences()
        for number, line in enumerate(decode_text(path).split("\n"), start=1):
            if line.strip():
                texts.append(line.rstrip("\r"))
                texts.origins.append((path, number))
        if not texts:
            raise DataError("no text found (expected one text per line)", path)
        return texts

    def inputs_from_texts(self, texts: list[str]) -> list[str]:
        return self.coerce(list(texts))[0]

    def inputs_from_json(self, items: list) -> list:
        """Each item a text (a string) or a tokenised sentence (a list of token strings)."""
        if not isinstance(items, list):
            raise DataError(f"inputs must be a list of texts or token lists, got {type(items).__name__}")
        for n, item in enumerate(items, start=1):
            if isinstance(item, str):
                continue
            if not isinstance(item, list) or not all(isinstance(t, str) for t in item):
                raise DataError(f"input {n}: expected a text (a string) or a list of token strings, "
                                f"got {type(item).__name__}")
        return self.coerce(items)[0]

    def coerce(self, X, y=None):
        """Sentences as a list (a :class:`Sentences` keeps its file and lines): each a non-empty
        token list, or a non-blank text; tags one list per sentence, one tag per token."""
        if isinstance(X, str):
            X = [X]
        sentences = X if isinstance(X, Sentences) else [list(s) if not isinstance(s, str) else s for s in X]
        for n, sentence in enumerate(sentences):
            path, line = sentences.where(n) if isinstance(sentences, Sentences) else (None, None)
            at = "" if path else f"sentence {n + 1}: "
            if isinstance(sentence, str):
                if not sentence.strip():
                    raise DataError(f"{at}empty text; give some text to tag", path, line)
                if y is not None:
                    raise DataError(f"{at}labelled sentences must be token lists (one tag per token), got a text",
                                    path, line)
                continue
            if not sentence:
                raise DataError(f"{at}empty sentence", path, line)
            for position, token in enumerate(sentence):
                if not isinstance(token, str) or not token or token.split() != [token]:
                    raise DataError(f"{at}token {position + 1} ({token!r}) must be a non-empty string "
                                    "without whitespace", path, line)
        if y is None:
            return sentences, None
        tags = y if isinstance(y, Sentences) else [list(t) for t in y]
        if len(tags) != len(sentences):
            raise DataError(f"{len(sentences)} sentences but {len(tags)} tag lists")
        for n, (sentence, row) in enumerate(zip(sentences, tags)):
            if len(row) != len(sentence):
                path, line = sentences.where(n) if isinstance(sentences, Sentences) else (None, None)
                raise DataError(f"{'' if path else f'sentence {n + 1}: '}{len(sentence)} tokens but "
                                f"{len(row)} tags", path, line)
            for position, tag in enumerate(row):
                if not isinstance(tag, str) or not tag or tag.split() != [tag]:
                    raise DataError(f"sentence {n + 1}, token {position + 1}: tag {tag!r} must be a non-empty "
                                    "string without whitespace")
        return sentences, tags

    # ------------------------------------------------------------------ tokens
    def _text_tokenizer(self) -> str:
        how = self.config_.data.text_tokenizer
        return how if how != "auto" else ("char" if self.token_level_ == "char" else "words")

    def _tokens(self, X) -> list[tuple[list[str], list[tuple[int, int]] | None]]:
        """``(tokens, character offsets or None)`` per input (offsets only for raw text)."""
        how = self._text_tokenizer() if any(isinstance(x, str) for x in X) else None
        out = []
        for x in X:
            if isinstance(x, str):
                tokens, offsets = tokenize_with_offsets(x, how)
                if not tokens:
                    raise DataError("a text without any token")
                out.append((tokens, offsets))
            else:
                out.append((list(x), None))
        return out

    # ------------------------------------------------------------------ learning
    @contextmanager
    def _training_data(self, X, y, valid, out_dir):
        """Stream the training sentences (a CoNLL :class:`DataFile`, or token lists and tag lists) and
        ``valid`` (the same kinds, or None: a tenth held out at random) into token stores; yields
        the training and validation rows (:class:`StoreRows` of raw token ids) with their tags
        (:class:`~lstmkit.tasks.tagger.data.TagView`)."""
        cfg = self.config_
        train = self._sentence_source(X, y)
        if isinstance(valid, DataFile):
            valid = (valid, None)
        valid_source = None if valid is None else self._sentence_source(*valid)
        with training_store_folder(out_dir) as folder:
            token_ids: dict[str, int] = {}
            tag_ids: dict[str, int] = {}
            streamed = stream_sentences(train(), folder / "train", token_ids, tag_ids, say=self._say)
            if valid_source is None:
                kept, held = random_split_indices(len(streamed.store), self.validation_fraction, cfg.train.seed)
                rows, valid_rows, valid_origins = (StoreRows(streamed.store, kept), StoreRows(streamed.store, held),
                                                   streamed.origins)
                digest = streamed.digest
            else:
                other = stream_sentences(valid_source(), folder / "valid", token_ids, tag_ids)
                rows, valid_rows, valid_origins = StoreRows(streamed.store), StoreRows(other.store), other.origins
                digest = hashlib.sha256(f"{streamed.digest}+{other.digest}".encode()).hexdigest()
            names = list(tag_ids)
            self._scratch, self._raw_tokens, self._data_sha256 = folder, list(token_ids), digest
            try:
                yield (rows, TagView(rows, names, streamed.origins), valid_rows,
                       TagView(valid_rows, names, valid_origins))
            finally:
                self._scratch = self._raw_tokens = self._tables = None

    def _sentence_source(self, X, y):
        """A function giving ``(tokens, tags, (path, line))`` per sentence of ``X`` afresh."""
        if isinstance(X, DataFile):
            column = self.config_.data.tag_column
            return lambda: iter_conll(X.path, tag_column=column)
        sentences, tags = self.coerce(X, y)
        if tags is None:
            raise DataError("fit needs tags: fit(sentences, tags), or fit(DataFile(path)) for a CoNLL file")
        if any(isinstance(x, str) for x in sentences):
            raise DataError("training sentences must be token lists (one tag per token)")
        where = sentences.where if isinstance(sentences, Sentences) else (lambda i: (None, None))
        return lambda: ((list(s), list(t), where(i)) for i, (s, t) in enumerate(zip(sentences, tags)))

    def fingerprint(self, X, y, X_valid, y_valid) -> str:
        """For streamed rows, the SHA-256 taken while reading them (tokens and tags, training then
        validation); else :func:`~lstmkit.fingerprint.data_fingerprint`."""
        if isinstance(X, StoreRows):
            return self._data_sha256
        return super().fingerprint(X, y, X_valid, y_valid)

    def _prepare(self, rows: StoreRows, tags: TagView) -> None:
        """Learn the tag set, the vocabularies, the dictionary and the PPMI vectors from the training
        rows (raw token ids and tag ids in the store; the counts of :mod:`lstmkit.tasks.tagger.data`)."""
        data, model = self.config_.data, self.config_.model
        self.scheme_ = detect_scheme(tags)
        self.model_scheme_ = "BIOES" if (data.train_scheme == "BIOES" and self.scheme_ == "BIO") else self.scheme_
        illegal = self._illegal_train = self._moves_as_read(tags)
        if self.model_scheme_ == self.scheme_:
            present = set()
            for _, values, _ in rows.blocks(channel="tags"):
                present.update(np.unique(values).tolist())
            seen = {tags.names[t] for t in present}
            for row in sorted({row for row, _ in illegal}):  # the tags they are read as
                seen.update(as_read([tags.names[t] for t in rows.tags(row).tolist()], self.scheme_))
        else:
            seen = {t for row in tags for t in bio_to_bioes(row)}
        self.tags_ = sorted(seen, key=lambda t: (t != "O", t.partition("-")[2], t))
        if len(self.tags_) < 2:
            raise DataError(f"training data needs at least 2 distinct tags; found {self.tags_}", *tags.where(0))
        tokens = self._raw_tokens
        counts, first = count_tokens(rows.store, len(tokens), rows.index)
        self.token_level_ = "char" if all(len(tokens[i]) == 1 for i in np.flatnonzero(counts).tolist()) else "word"
        self.vocab_, vocab_table = lookup_vocab(tokens, counts, first, data.lowercase, data.min_freq, data.max_vocab)
        self._tables = {"vocab": vocab_table}
        self.bigram_vocab_ = None
        if model.bigram_dim:
            self.bigram_vocab_ = bigram_vocab(rows, tokens, model.bigram_min_freq)
        self.char_vocab_ = None
        if model.char_features != "none":
            self.char_vocab_ = char_vocab(tokens, counts, first)
            self._tables["chars"] = char_table(tokens, self.char_vocab_, MAX_CHARS)
        self.dictionary_ = self._build_dictionary(token_strings(rows, tokens), tags)
        self.embeddings_ = self._initial_embeddings(vocab_table[ids] for ids in rows)
        if self.embeddings_ is not None:
            model.embedding_dim = int(self.embeddings_.size(1))

    READINGS = {
        "BIO": "an I- after O or after another type starts a new entity",
        "BIOES": "an I-/E- that continues no entity of its type starts one, and an entity left open ends "
                 "where its I-/E- stop",
        "BMES": "an M/E that continues no word starts one, and a word left open ends where its M/E stop",
    }
    """How :func:`~lstmkit.data.tagschemes.as_read` reads a scheme's illegal moves, in words."""

    def _moves_as_read(self, view: TagView) -> list[tuple[int, int]]:
        """The illegal tag moves of training or validation tags (:func:`illegal_moves`), which the
        loaders learn as read (:func:`as_read`); with ``data.strict_tags`` the first is an error
        naming its file and line. Returns ``(row, position)`` of each and notes where they are, for
        :meth:`_warn_moves`."""
        scheme = self.scheme_
        if scheme not in self.READINGS:
            return []
        found = illegal_moves(view, scheme)
        if not found:
            return found

        def where(row: int, position: int) -> tuple[Path | None, int | None]:
            path, line = view.where(row)
            return path, (line + position if line is not None else None)

        if self.config_.data.strict_tags:
            row, position = found[0]
            names = [view.names[t] for t in view.rows.tags(row).tolist()]
            tag = names[position]
            if position and not move_allowed(scheme, names[position - 1], tag):
                what = f"tag {tag!r} after {names[position - 1]!r}"
            elif not position and not move_allowed(scheme, None, tag):
                what = f"tag {tag!r} at the start of the sentence"
            else:
                what = f"tag {tag!r} ending the sentence"
            path, line = where(row, position)
            at = "" if path else f"sentence {row + 1}, token {position + 1}: "
            raise DataError(f"{at}{what} breaks the {scheme} order (as seqeval reads it, {self.READINGS[scheme]}); "
                            "data.strict_tags=true makes this an error", path, line)
        places = self.__dict__.setdefault("_illegal_places", [])
        places += [where(row, position) if view.where(row)[0] is not None
                   else (None, f"sentence {row + 1}, token {position + 1}") for row, position in found]
        return found

    def _warn_moves(self) -> None:
        """One :class:`DataWarning` per file with illegal tag moves (training and validation rows
        together): the count, the first lines, how they are read."""
        places = self.__dict__.pop("_illegal_places", [])
        by_file: dict = {}
        for path, line in places:
            by_file.setdefault(path, []).append(line)
        for path, lines in by_file.items():
            if path is not None:
                lines = sorted(lines, key=lambda line: line if line is not None else 0)
            count = len(lines)
            shown = ", ".join(str(line) for line in lines[:5]) + (", ..." if count > 5 else "")
            where = (f"line{'s' if count != 1 else ''} {shown}" if path is not None else shown)
            warnings.warn(f"{path if path is not None else 'the training tags'}: {count} "
                          f"tag{' breaks' if count == 1 else 's break'} the {self.scheme_} order ({where}); read as "
                          f"seqeval and conlleval read them: {self.READINGS[self.scheme_]}. Set "
                          "data.strict_tags=true to make this an error.", DataWarning, stacklevel=4)

    def _from_model_scheme(self, tags: list[str]) -> list[str]:
        return tags if self.model_scheme_ == self.scheme_ else bioes_to_bio(tags)

    def _lookup(self, tokens: list[str]) -> list[str]:
        return [t.lower() for t in tokens] if self.config_.data.lowercase else list(tokens)

    @staticmethod
    def _bigrams(tokens: list[str]) -> list[str]:
        """``token_t + " " + token_{t+1}`` per position (``</s>`` after the last)."""
        following = [*tokens[1:], END]
        return [f"{a} {b}" for a, b in zip(tokens, following)]

    def _build_dictionary(self, X, y) -> WordDictionary | None:
        model = self.config_.model
        source = model.dictionary
        if source is None:
            return None
        joiner = "" if self.token_level_ == "char" else " "
        if source == "training":
            if self.scheme_ != "BMES":
                raise ConfigError(f"model.dictionary: 'training' reads words from BMES training tags; these tags "
                                  f"are {self.scheme_ or 'plain labels'} (give 'pd-train' or a word-list file)")
            words = [words_from_bmes(tokens, tags) for tokens, tags in zip(X, y)]
            return WordDictionary.from_segmented(words, model.dictionary_max_word, model.dictionary_folds, joiner)
        if source == "pd-train":
            from lstmkit.data.datasets import load_dataset

            chars, tags = load_dataset("pd-cws")["train"]
            words = [words_from_bmes(c, t) for c, t in zip(chars, tags)]
            return WordDictionary.from_segmented(words, model.dictionary_max_word, model.dictionary_folds, joiner)
        return WordDictionary.from_file(source, model.dictionary_max_word, model.dictionary_folds, joiner)

    def _initial_embeddings(self, encoded: Iterable):
        """Token vectors to start from: a vectors file, PPMI-SVD of ``encoded`` (the training rows'
        vocabulary ids, read once) and ``model.unlabeled_text``, or None."""
        model = self.config_.model
        if model.pretrained_embeddings:
            from lstmkit.data.embeddings import embedding_matrix

            return embedding_matrix(self.vocab_, model.pretrained_embeddings)[0]
        if model.embedding_init != "ppmi":
            return None
        from lstmkit.data.cooccurrence import ppmi_svd_vectors

        if model.unlabeled_text:
            texts = self.read_inputs(Path(model.unlabeled_text)) if Path(model.unlabeled_text).suffix.lower() in \
                TEXT_SUFFIXES else None
            if texts is None:
                raise ConfigError("model.unlabeled_text: give a .txt file (one text per line)")
            encoded = itertools.chain(encoded, (self.vocab_.encode(self._lookup(tokens))
                                                for tokens, _ in self._tokens(texts)))
        dim = min(model.embedding_dim, max(1, len(self.vocab_) - 3))
        vectors = ppmi_svd_vectors(encoded, len(self.vocab_), dim, seed=self.config_.train.seed)
        if dim < model.embedding_dim:  # a tiny vocabulary: pad the vectors with small random values
            extra = torch.randn(len(self.vocab_), model.embedding_dim - dim) * 0.1
            vectors = torch.cat([vectors, extra], dim=1)
        return vectors

    def _build_network(self) -> TaggerNet:
        return TaggerNet(len(self.vocab_), self.tags_, self.model_scheme_, self.config_.model,
                         num_bigrams=len(self.bigram_vocab_) if self.bigram_vocab_ is not None else 0,
                         num_chars=len(self.char_vocab_) if self.char_vocab_ is not None else 0,
                         embeddings=getattr(self, "embeddings_", None))

    def _encode(self, tokens: list[str], fold: int | None = None) -> dict:
        """One sentence's features (see :class:`TaggerNet`); ``fold``: a training sentence's own
        cross-fitting fold, left out of the dictionary."""
        item = {"ids": self.vocab_.encode(self._lookup(tokens))}
        if self.bigram_vocab_ is not None:
            item["bigrams"] = self.bigram_vocab_.encode(self._bigrams(self._lookup(tokens)))
        if self.dictionary_ is not None:
            item["dictionary"] = self.dictionary_.codes(tokens, fold)  # B/M/E/S bits per token
        if self.char_vocab_ is not None:
            item["chars"] = [self.char_vocab_.encode(list(t[:MAX_CHARS])) for t in tokens]
        return item

    @staticmethod
    def _collate(items: list[dict], tags: list[list[int]] | None = None) -> dict:
        ids, lengths = pad_sequences([item["ids"] for item in items])
        batch = {"ids": ids, "lengths": lengths}
        width = ids.size(1)
        if "bigrams" in items[0]:
            batch["bigrams"] = pad_sequences([item["bigrams"] for item in items])[0]
        if "dictionary" in items[0]:
            codes = pad_sequences([item["dictionary"] for item in items])[0]  # (B, T) packed bits
            batch["dictionary"] = codes.unsqueeze(-1).bitwise_and(BMES_BITS).ne(0).float()  # (B, T, 4)
        if "chars" in items[0]:
            longest = max(len(w) for item in items for w in item["chars"])
            chars = torch.zeros(len(items), width, longest, dtype=torch.long)
            char_lengths = torch.zeros(len(items), width, dtype=torch.long)
            for row, item in enumerate(items):
                for col, word in enumerate(item["chars"]):
                    chars[row, col, : len(word)] = torch.tensor(word)
                    char_lengths[row, col] = len(word)
            batch["chars"], batch["char_lengths"] = chars, char_lengths
        if tags is not None:
            batch["tags"] = pad_sequences(tags)[0]
        return batch

    def _loader(self, rows: StoreRows, tags: TagView, train: bool) -> DataLoader:
        """Length-bucketed batches of ``rows``: the same tensors as :meth:`_collate` of :meth:`_encode`
        (a training sentence's dictionary features without its own fold), made from ids. The tags in
        the model's scheme and the dictionary features are computed once, into files."""
        folder, tokens, tables = self._scratch, self._raw_tokens, self._tables
        name = "train" if train else "valid"
        to_model = bio_to_bioes if self.model_scheme_ != self.scheme_ else None
        illegal = self._illegal_train if train else self._moves_as_read(tags)
        if not train:
            self._warn_moves()  # once per file, training and validation rows together
        if illegal:  # learn illegal moves as they are read (bio_to_bioes reads them so already)
            to_model = to_model or functools.partial(_as_read_or_same, scheme=self.scheme_)
        tag_file = RaggedFile(folder / f"tags-{name}.i32", rows, model_tag_ids(tags, self.tags_, to_model), "<i4")
        codes = None
        if self.dictionary_ is not None:
            folds = self.config_.model.dictionary_folds
            codes = RaggedFile(folder / f"dictionary-{name}.u1", rows,
                               (self.dictionary_.codes(s, fold_of(s, folds) if train else None)
                                for s in token_strings(rows, tokens)), "u1")
        pairs = PairTable(rows, tokens, self.bigram_vocab_, self._lookup_one) if self.bigram_vocab_ is not None \
            else None
        collate = Batches(rows, tables["vocab"], tag_file, pairs, codes, tables.get("chars"), BMES_BITS)
        cfg = self.config_.train
        sampler = StoreBatchSampler(rows.lengths, cfg.batch_size, shuffle=train, seed=cfg.seed)
        return DataLoader(IndexDataset(len(rows)), batch_sampler=sampler, collate_fn=collate)

    def _lookup_one(self, token: str) -> str:
        return token.lower() if self.config_.data.lowercase else token

    # ------------------------------------------------------------------ model folder
    def _folder_state(self) -> dict:
        extra = {}
        if self.bigram_vocab_ is not None:
            extra["bigrams"] = self.bigram_vocab_.to_json()
        if self.char_vocab_ is not None:
            extra["chars"] = self.char_vocab_.to_json()
        if self.dictionary_ is not None:
            extra["dictionary"] = self.dictionary_.to_json()
        return {"config": {"tags": self.tags_, "scheme": self.scheme_, "model_scheme": self.model_scheme_,
                           "token_level": self.token_level_},
                "vocab": self.vocab_.to_json(), "extra": extra}

    def _restore(self, folder) -> None:
        config, extra = folder.config, folder.extra
        self.tags_, self.scheme_, self.model_scheme_ = config["tags"], config["scheme"], config["model_scheme"]
        self.token_level_ = config["token_level"]
        self.vocab_ = Vocab.from_json(folder.vocab)
        self.bigram_vocab_ = Vocab.from_json(extra["bigrams"], "bigrams.json") if "bigrams" in extra else None
        self.char_vocab_ = Vocab.from_json(extra["chars"], "chars.json") if "chars" in extra else None
        self.dictionary_ = (WordDictionary.from_json(extra["dictionary"], self.config_.model.dictionary_folds)
                            if "dictionary" in extra else None)

    # ------------------------------------------------------------------ inference
    def _inference_batches(self, lengths: list[int]) -> list[list[int]]:
        """Index batches, longest sentences first, each within the token and sentence budgets."""
        order = [i for batch in sorted_batches(lengths, len(lengths) or 1) for i in batch]
        batches: list[list[int]] = []
        for i in order:  # lengths fall, so a batch's width is its first sentence's length
            if batches and len(batches[-1]) < self.inference_batch_size and \
                    (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= self.inference_batch_tokens:
                batches[-1].append(i)
            else:
                batches.append([i])
        return batches

    def _run(self, token_lists: list[list[str]], nbest: int = 1, confidence: bool = False) -> list:
        """Decoded tag-id paths per sentence, in input order (``nbest > 1``: ``(paths, scores)``;
        ``confidence``: ``(path, marginals (L, K), entity scores)``, see :meth:`_confidence`)."""
        net = self.network_.eval()
        device = network_device(net)
        batches = self._inference_batches([len(t) for t in token_lists])

        def one_batch(batch: list[int]):
            tensors = self._collate([self._encode(token_lists[i]) for i in batch])
            tensors = {k: v.to(device) for k, v in tensors.items()}
            emissions = net.emissions(tensors)
            if nbest == 1:
                paths = net.decode(emissions, tensors)
                return list(zip(paths, *self._confidence(net, emissions, tensors, paths))) if confidence else paths
            paths, scores = net.crf.decode_with_scores(emissions, net.mask(tensors), nbest=nbest)
            return list(zip(paths, scores.cpu().tolist()))

        results: list = [None] * len(token_lists)
        for batch, decoded in zip(batches, map_batches(one_batch, batches, device)):
            for i, path in zip(batch, decoded):
                results[i] = path
        return results

    def _confidence(self, net: TaggerNet, emissions, tensors: dict, paths: list[list[int]]):
        """How sure the model is of a batch's decoded ``paths``: per sentence its per-token marginals
        ``(L, K)`` (numpy, the model's tags) and ``{(type, start, end): score}`` for its entities.

        Marginals are ``p(y_t = k | sentence)``: the CRF's by forward-backward
        (:meth:`~lstmkit.nn.CRF.marginals`), or each token's own softmax. An entity's score is, for
        the CRF, the probability that its tokens carry exactly their decoded tags and that it ends
        there: the token after it does not continue it, nor (for an entity opened by ``I-``/``E-``)
        the token before it (:meth:`~lstmkit.nn.CRF.restricted_probability`; under the default
        constrained decoding, the probability that a tag sequence drawn from the CRF has this
        entity); for the softmax decoder, the smallest marginal of its tokens' decoded tags."""
        mask = net.mask(tensors)  # (B, T)
        crf = net.decoder == "crf"
        marginals = net.crf.marginals(emissions, mask) if crf else emissions.exp() * mask.unsqueeze(2)  # (B, T, K)
        marginals = marginals.float().cpu().numpy()
        spans = [entities([self.tags_[i] for i in path], self.model_scheme_)
                 if self.model_scheme_ in ("BIO", "BIOES") else [] for path in paths]
        scores: list[dict] = [{} for _ in paths]
        if not crf:
            for b, (path, found) in enumerate(zip(paths, spans)):
                for span in found:
                    scores[b][span] = float(min(marginals[b, t, path[t]] for t in range(span[1], span[2])))
            return [m[: len(p)] for m, p in zip(marginals, paths)], scores
        owner, allowed = [], []
        k = len(self.tags_)
        for b, (path, found) in enumerate(zip(paths, spans)):
            for span in found:
                owner.append((b, span))
                allowed.append(self._span_allowed(path, span, emissions.size(1), k))
        if allowed:
            rows = torch.tensor([b for b, _ in owner], device=emissions.device)
            with torch.no_grad():
                p = net.crf.restricted_probability(emissions[rows], torch.stack(allowed).to(emissions.device),
                                                   mask[rows])
            for (b, span), value in zip(owner, p.tolist()):
                scores[b][span] = value
        return [m[: len(p)] for m, p in zip(marginals, paths)], scores

    def _span_allowed(self, path: list[int], span: tuple[str, int, int], width: int, k: int) -> torch.Tensor:
        """``(width, K)`` bool: the tags that keep ``span`` (an entity of the model's tags ``path``)
        exactly as decoded: its own tag at each of its tokens, no tag continuing it after it (``I-X``
        or ``E-X`` after an open ``B-X``/``I-X``), none opening it earlier before it (``B-X``/``I-X``
        before an ``I-X``/``E-X`` start), as seqeval reads entities."""
        entity_type, start, end = span
        allowed = torch.ones(width, k, dtype=torch.bool)
        for t in range(start, end):
            allowed[t] = False
            allowed[t, path[t]] = True
        parts = [tag.partition("-") for tag in self.tags_]
        same = [i for i, (_, _, kind) in enumerate(parts) if (kind or UNTYPED) == entity_type]
        if end < len(path) and parts[path[end - 1]][0] in ("B", "I"):
            allowed[end, [i for i in same if parts[i][0] in ("I", "E")]] = False
        if start > 0 and parts[path[start]][0] in ("I", "E"):
            allowed[start - 1, [i for i in same if parts[i][0] in ("B", "I")]] = False
        return allowed

    def _scheme_marginals(self, marginals: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Marginals over the model's tags ``(L, K)`` -> over the data scheme's tags: a BIOES model of
        BIO data adds ``S-X`` to ``B-X`` and ``E-X`` to ``I-X`` (its legal sequences map token by token)."""
        if self.model_scheme_ == self.scheme_:
            return self.tags_, marginals
        names = list(dict.fromkeys({"S": "B", "E": "I"}.get(t[0], t[0]) + t[1:] for t in self.tags_))
        out = np.zeros((len(marginals), len(names)), dtype=marginals.dtype)
        for k, tag in enumerate(self.tags_):
            out[:, names.index({"S": "B", "E": "I"}.get(tag[0], tag[0]) + tag[1:])] += marginals[:, k]
        return names, out

    def predict(self, X) -> list[list[str]]:
        """The tags of each sentence (in the training data's scheme)."""
        self._check_fitted()
        X = self.coerce(X)[0]
        if not len(X):
            return []
        token_lists = [tokens for tokens, _ in self._tokens(X)]
        return [self._from_model_scheme([self.tags_[i] for i in path]) for path in self._run(token_lists)]

    def predict_nbest(self, X, n: int = 3) -> list[list[dict]]:
        """Per sentence, up to ``n`` tag sequences, best first: ``{"tags": [...], "score": s}``
        (``score`` is the CRF path score; differences of scores are log-probability ratios)."""
        self._check_fitted()
        if n < 1:
            raise ConfigError(f"n must be >= 1; got {n}")
        X = self.coerce(X)[0]
        token_lists = [tokens for tokens, _ in self._tokens(X)]
        out = []
        for paths, scores in self._run(token_lists, nbest=max(n, 2)):
            out.append([{"tags": self._from_model_scheme([self.tags_[i] for i in p]), "score": round(float(s), 4)}
                        for p, s in zip(paths[:n], scores)])
        return out

    def predict_records(self, X) -> list[dict]:
        """Per input: ``tokens``, ``tags``, ``entities`` ``[{type, start, end, text, score}]`` (character
        offsets for text input, token offsets for token input; none for plain labels; ``score``: the
        model's probability of the entity, see :meth:`_confidence`), ``marginals`` (per token
        ``{tag: p}``, the tags of the data's scheme whose probability rounds to 4 decimals above
        0), ``words`` for BMES segmentation, and ``text`` for text input."""
        self._check_fitted()
        X = self.coerce(X)[0]
        if not len(X):
            return []
        tokenised = self._tokens(X)
        results = self._run([tokens for tokens, _ in tokenised], confidence=True)
        joiner = "" if self.token_level_ == "char" else " "
        records = []
        for x, (tokens, offsets), (path, marginals, entity_scores) in zip(X, tokenised, results):
            tags = self._from_model_scheme([self.tags_[i] for i in path])
            record: dict = {"text": x} if isinstance(x, str) else {}
            record.update({"tokens": tokens, "tags": tags})
            spans = entities(tags, self.scheme_) if self.scheme_ in ("BIO", "BIOES") else []
            found = []
            for t, s, e in spans:
                if offsets is not None:
                    entity = {"type": t, "start": offsets[s][0], "end": offsets[e - 1][1],
                              "text": x[offsets[s][0]:offsets[e - 1][1]]}
                else:
                    entity = {"type": t, "start": s, "end": e, "text": joiner.join(tokens[s:e])}
                entity["score"] = round(entity_scores.get((t, s, e), 0.0), 4)
                found.append(entity)
            record["entities"] = found
            names, probabilities = self._scheme_marginals(marginals)
            record["marginals"] = [{name: round(float(p), 4) for name, p in zip(names, row) if round(float(p), 4) > 0}
                                   for row in probabilities]
            if self.scheme_ == "BMES":
                record["words"] = words_from_bmes(tokens, tags)
            records.append(record)
        return records

    def evaluate(self, X, y, source: str | Path | None = None) -> dict:
        """``precision``, ``recall``, ``f1`` (entity-level, seqeval's conventions; word-level for
        BMES), ``per_type``, ``token_accuracy``, ``n_sentences``. Gold tags of the other entity
        scheme are first converted to the model's (:meth:`_in_model_scheme`)."""
        self._check_fitted()
        X, y = self.coerce(X, y)
        if not len(X):
            raise DataError("no sentences to evaluate", source)
        for n, row in enumerate(y):  # a broken gold tag is the file's fault: name its line
            for position, tag in enumerate(row):
                if tag == "O" or (len(tag) > 1 and tag[1] == "-"):
                    problem = tag_problem(tag)
                    if problem:
                        path, line = y.where(n) if isinstance(y, Sentences) else (None, None)
                        raise DataError(problem, path or source, line + position if line else None)
        y = self._in_model_scheme(y, source)
        pred = self.predict(X)
        try:
            return tagging_metrics(y, pred, self.scheme_)
        except ValueError as err:
            raise DataError(f"the tags do not fit the model's scheme ({self.scheme_ or 'plain labels'}): {err}",
                            source) from None

    def _in_model_scheme(self, y, source=None):
        """Gold tags of the other entity scheme (BIO for a BIOES model, or the reverse) converted to
        the model's, which marks the same entities (so ``token_accuracy`` compares like with like),
        saying so in one :class:`DataWarning`; any other tags as they are."""
        if self.scheme_ not in ("BIO", "BIOES"):
            return y
        try:
            scheme = detect_scheme(y)
        except DataError:  # no scheme at all: tagging_metrics names the misfit
            return y
        if scheme == self.scheme_ or scheme not in ("BIO", "BIOES"):
            return y
        convert = bio_to_bioes if self.scheme_ == "BIOES" else bioes_to_bio
        converted = [convert(row) for row in y]
        if converted != [list(row) for row in y]:
            path = source or (y.where(0)[0] if isinstance(y, Sentences) else None)
            warnings.warn(f"{path if path is not None else 'the gold tags'}: its tags are {scheme}, the model's "
                          f"{self.scheme_}: converted to {self.scheme_} before scoring (the same entities)",
                          DataWarning, stacklevel=3)
        return converted

    def score(self, X, y) -> float:
        """Entity-level F1 (word F1 for BMES; token accuracy for plain labels)."""
        return float(self.evaluate(X, y)["f1"])

    def export_module(self):
        """The network up to its emission scores for ONNX export (:mod:`lstmkit.tasks.tagger.export`)."""
        from lstmkit.tasks.tagger.export import export_spec

        return export_spec(self)

    def run_with_states(self, X) -> list[dict]:
        """Per sentence: its tokens' gate activations and states (:mod:`lstmkit.tasks.tagger.explain`)."""
        from lstmkit.tasks.tagger.explain import run_with_states

        return run_with_states(self, X)

    def attribution_spec(self, x, target=None):
        """Integrated gradients toward one entity of a sentence (:mod:`lstmkit.tasks.tagger.explain`)."""
        from lstmkit.tasks.tagger.explain import attribution_spec

        return attribution_spec(self, x, target)

    # ------------------------------------------------------------------ output
    def table_row(self, record: dict) -> dict:
        """Tokens, tags and each token's tag probability (``scores``) space-separated, entities as
        ``TYPE:start-end:text`` and their ``entity_scores``, ``;``-separated."""
        row = {"text": record["text"]} if "text" in record else {}
        row["tokens"] = " ".join(record["tokens"])
        row["tags"] = " ".join(record["tags"])
        if "marginals" in record:
            row["scores"] = " ".join(f"{m.get(tag, 0.0):.4f}" for m, tag in zip(record["marginals"], record["tags"]))
        row["entities"] = "; ".join(f"{e['type']}:{e['start']}-{e['end']}:{e['text']}" for e in record["entities"])
        row["entity_scores"] = "; ".join(f"{e['score']:.4f}" for e in record["entities"] if "score" in e)
        if "words" in record:
            row["words"] = " ".join(record["words"])
        return row

    def format_record(self, record: dict) -> str:
        """``words`` (BMES), else the tokens with their tags, then the entities with their scores."""
        if "words" in record:
            return " / ".join(record["words"])
        joiner = "" if self.token_level_ == "char" else " "
        shown = record.get("text", joiner.join(record["tokens"]))
        if self.scheme_ is None:
            return " ".join(f"{t}/{g}" for t, g in zip(record["tokens"], record["tags"]))
        found = ", ".join(f"{e['text']}/{e['type']}" + (f" ({e['score']:.2f})" if "score" in e else "")
                          for e in record["entities"]) or "(no entities)"
        return f"{shown}\t{found}"

    def write_predictions(self, records: list[dict], path: Path, inputs=None) -> Path:
        """``.conll``: the input's rows with the predicted tag appended as a last column (the
        original columns kept when the input was a CoNLL file; ``token tag`` otherwise), a
        blank line after each sentence. Other types as every task writes them."""
        path = Path(path)
        self.check_output_path(path)
        if path.suffix.lower() != ".conll":
            return super().write_predictions(records, path, inputs)
        lines: list[str] = []
        cache: dict[Path, list[str]] = {}
        for n, record in enumerate(records):
            source, first = inputs.where(n) if isinstance(inputs, Sentences) else (None, None)
            original = None
            if source is not None and first is not None and not isinstance(inputs[n], str):
                if source not in cache:
                    from lstmkit.data.formats.tables import decode_text

                    cache[source] = decode_text(Path(source)).split("\n")
                original = [cache[source][first - 1 + i].rstrip("\r").rstrip() for i in range(len(record["tokens"]))]
            for i, (token, tag) in enumerate(zip(record["tokens"], record["tags"])):
                lines.append(f"{original[i] if original else token} {tag}")
            lines.append("")
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))
