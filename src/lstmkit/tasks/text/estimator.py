"""``TextClassifier``: the ``text-classifier`` task's estimator (text -> label).

It reads CSV/TSV/JSONL files (:mod:`lstmkit.data.formats.tables`), tokenises (character-level for
Chinese, words otherwise), builds the vocabulary, counts the n-gram features
(:mod:`lstmkit.tasks.text.features`), trains :class:`~lstmkit.tasks.text.network.TextClassifierNet`
with the shared trainer, and after training tunes the n-gram branch's weight on validation.
Labels, records, evaluation and the stratified split come from the shared classification
layer (:class:`lstmkit.tasks.classification.Classifier`).

Training has one path, whatever the data's size: the training (and validation) texts are
streamed into a token store (:mod:`lstmkit.tasks.text.data`) — from a file
(:class:`~lstmkit.data.formats.tables.DataFile`, what ``lstmkit train`` passes) or from Python lists —
and everything ``fit`` does reads token ids from it (:class:`~lstmkit.data.store.rows.StoreRows`):
the counts, the batches, the validation scores. The store lives under ``OUT/store/`` (or a
temporary folder) while ``fit`` runs (:mod:`lstmkit.data.store.folder`).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader

from lstmkit.data.batching import IndexDataset, sorted_batches
from lstmkit.data.formats.tables import DataFile, read_text_classification, read_texts
from lstmkit.data.store.folder import training_store_folder
from lstmkit.data.store.rows import StoreBatchSampler, StoreRows, pad_arrays
from lstmkit.data.tokenizers import tokenizer_from_config
from lstmkit.data.vocab import Vocab
from lstmkit.errors import DataError
from lstmkit.explain.gates import states_record
from lstmkit.inference import map_batches, network_device
from lstmkit.metrics.classification import classification_metrics
from lstmkit.nn.ngrams import buckets_for, distinct_ngrams
from lstmkit.tasks.classification import Classifier
from lstmkit.tasks.text.config import TextClassifierConfig
from lstmkit.tasks.text.data import rows_of, stream_text_data
from lstmkit.tasks.text.features import fit_lexicon, fit_ngram_branch, initial_embeddings
from lstmkit.tasks.text.network import TextClassifierNet

NGRAM_WEIGHT_GRID = [i / 20 for i in range(21)]
"""Weights of the n-gram branch tried after training (the one with the lowest validation log-loss is kept)."""


class TextClassifier(Classifier):
    """Text -> label with a (Bi)LSTM, character-level for Chinese and word-level otherwise.

    >>> clf = TextClassifier(hidden_size=64, epochs=2).fit(texts, labels)   # doctest: +SKIP
    >>> clf.predict(["房间很干净"])                                           # doctest: +SKIP
    """

    task = "text-classifier"
    config_class = TextClassifierConfig
    monitor = "loss"  # validation log-loss picks the epoch kept: steadier than accuracy on noisy labels
    monitor_mode = "min"
    takes_text = True
    inference_batch_size = 128

    # -- reading data --------------------------------------------------------
    def _data_config(self):
        return (getattr(self, "config_", None) or self.resolved_config()).data

    def read_data(self, path) -> tuple[list[str], list]:
        data = self._data_config()
        return read_text_classification(path, text_column=data.text_column, label_column=data.label_column)

    def read_inputs(self, path) -> list[str]:
        return read_texts(path, text_column=self._data_config().text_column)

    def read_training_data(self, path) -> tuple[DataFile, None]:
        """``lstmkit train``'s files are read by ``fit``, one row at a time (nothing held in lists)."""
        return DataFile(path), None

    def inputs_from_texts(self, texts: list[str]) -> list[str]:
        return self.coerce(list(texts))[0]

    def inputs_from_json(self, items: list) -> list[str]:
        """A JSON list of texts; errors count inputs from 1, as every lstmkit message does."""
        if not isinstance(items, list):
            raise DataError(f"inputs must be a list of texts, got {type(items).__name__}")
        for n, item in enumerate(items, start=1):
            if not isinstance(item, str):
                raise DataError(f"input {n}: expected a text (a JSON string), got {type(item).__name__}")
            if not item.strip():
                raise DataError(f"input {n} is empty; give some text to classify")
        return self.coerce(items)[0]

    def coerce(self, X, y=None):
        """Texts as a list of non-empty strings: a list, array, Series, one string, or a DataFrame
        with the ``data.text_column`` column."""
        if hasattr(X, "columns"):
            column = self._data_config().text_column
            if column not in X.columns:
                raise DataError(f"the table has no column {column!r} (data.text_column); columns: "
                                f"{', '.join(map(str, X.columns))}")
            X = X[column]
        texts, labels = super().coerce(X, y)
        for n, text in enumerate(texts):
            if not isinstance(text, str):
                raise DataError(f"text {n + 1} is a {type(text).__name__}, not a string")
            if not text.strip():
                raise DataError(f"text {n + 1} is empty; give some text to classify")
        if labels is not None and len(labels) != len(texts):
            raise DataError(f"{len(texts)} texts but {len(labels)} labels")
        return texts, labels

    # -- learning ------------------------------------------------------------
    @contextmanager
    def _training_data(self, X, y, valid, out_dir):
        """Stream the training data (a :class:`DataFile` or texts and labels) and ``valid`` (the same
        kinds, or None: a stratified tenth held out) into token stores; yields the training and
        validation rows (:class:`StoreRows`) with their label-id arrays. Learns the tokenizer, the
        label set and the vocabulary on the way (:func:`~lstmkit.tasks.text.data.stream_text_data`)."""
        cfg = self.config_
        train = self._source(X, y)
        if isinstance(valid, DataFile):
            valid = (valid, None)
        valid_rows = None if valid is None else self._source(*valid)
        with training_store_folder(out_dir) as folder:
            self._scratch = folder
            data = stream_text_data(train, valid_rows, cfg.data, self.validation_fraction, cfg.train.seed, folder,
                                    say=self._say, options=self._tokenizer_options)
            self.tokenizer_, self.vocab_, self.labels_ = data.tokenizer, data.vocab, data.classes
            self._data_sha256 = data.fingerprint
            try:
                yield data.train, data.train.labels, data.valid, data.valid.labels
            finally:
                self._scratch = None

    def _source(self, X, y):
        """A function giving the examples of ``X`` afresh (a file, or texts and labels as ``fit`` takes them)."""
        if isinstance(X, DataFile):
            return rows_of(X, data=self.config_.data)
        texts, labels = self.coerce(X, y)
        if labels is None:
            raise DataError("fit needs labels: fit(texts, labels), or fit(DataFile(path)) for a labelled file")
        return rows_of(texts, labels)

    def _tokenizer_options(self, name: str) -> dict:
        data = self.config_.data
        options = {"keep_punctuation": data.keep_punctuation}
        if name in ("char", "word"):
            options["lowercase"] = data.lowercase
        return options

    def fingerprint(self, X, y, X_valid, y_valid) -> str:
        """For streamed rows, the SHA-256 taken while reading them (every text and label, training
        then validation); else :func:`~lstmkit.fingerprint.data_fingerprint`."""
        if isinstance(X, StoreRows):
            return self._data_sha256
        return super().fingerprint(X, y, X_valid, y_valid)

    def _prepare(self, rows: StoreRows, label_ids: np.ndarray) -> None:
        """Count what training needs from the training rows (ids read from the store): PPMI token
        vectors, the n-gram tables' sizes, the n-gram regression, the lexicon, class weights."""
        model = self.config_.model
        seed = self.config_.train.seed
        if model.embedding_init == "ppmi" or model.pretrained_embeddings:
            self._say("preparing token vectors (" + ("from " + model.pretrained_embeddings
                                                     if model.pretrained_embeddings else "PPMI-SVD") + ")")
        self.embeddings_, self.pretrained_found_ = initial_embeddings(model, self.vocab_, self.tokenizer_, rows, seed)
        if self.embeddings_ is not None:
            model.embedding_dim = int(self.embeddings_.size(1))
        self._size_tables(rows)
        if model.ngram_buckets:
            self._say(f"fitting the n-gram branch ({model.ngram_buckets:,} buckets)")
        self.ngram_state_ = (fit_ngram_branch(rows, label_ids, len(self.labels_), model,
                                              getattr(self, "_scratch", None))
                             if model.ngram_buckets else None)
        if model.lexicon_ngrams:
            self._say(f"counting the n-gram lexicon ({model.lexicon_buckets:,} buckets, {model.lexicon_folds} folds)")
        self.lexicon_, self.folds_ = (fit_lexicon(rows, label_ids, len(self.labels_), model, seed)
                                      if model.lexicon_ngrams else (None, None))
        self.class_weights_ = self.balanced_weights(label_ids)

    def _size_tables(self, encoded) -> None:
        """Size the hashed n-gram tables to the data (``model.*_buckets`` are upper bounds), so a
        small problem gives a small model; the sizes used are saved in ``config.json``."""
        model = self.config_.model
        if model.ngram_buckets:
            model.ngram_buckets = buckets_for(distinct_ngrams(encoded, model.ngram_max), model.ngram_buckets)
        if model.lexicon_ngrams:
            model.lexicon_buckets = buckets_for(distinct_ngrams(encoded, model.lexicon_ngrams), model.lexicon_buckets)

    def _after_fit(self, rows: StoreRows, label_ids: np.ndarray) -> dict | None:
        """Choose the n-gram branch's weight by validation log-loss (unless ``model.ngram_weight`` is set).

        Returns the validation metrics of the final (fused) model.
        """
        net = self.network_
        if net.lexicon is not None:
            net.lexicon.fold_tables = None  # only training texts use them; free the memory
        if net.ngrams is None or self.config_.model.ngram_weight is not None:
            return None
        target = torch.from_numpy(np.asarray(label_ids, dtype=np.int64))
        with torch.inference_mode():
            lstm_logits, ngram_logits = self._batched_ids(
                rows, rows.lengths,
                lambda ids, lengths: (net.lstm_branch(ids, lengths)[0], net.ngram_branch(ids, lengths)))
            losses = {w: F.cross_entropy(net.fuse(lstm_logits, ngram_logits, w), target).item()
                      for w in NGRAM_WEIGHT_GRID}
            best = min(losses, key=losses.get)
            net.ngram_weight.fill_(best)
            pred = net.fuse(lstm_logits, ngram_logits).argmax(-1).tolist()
        report = classification_metrics(target.tolist(), pred)
        return {"loss": losses[best], "accuracy": report["accuracy"], "macro_f1": report["macro_f1"],
                "ngram_weight": best}

    def _plot_validation(self, rows: StoreRows, label_ids: np.ndarray, plots_dir: Path) -> None:
        """``confusion_matrix.png``: the kept model's validation predictions against the labels."""
        from lstmkit.metrics.classification import confusion
        from lstmkit.plots import plot_confusion_matrix

        names = self.labels_.names()
        (logits,) = self._batched_ids(rows, rows.lengths, lambda ids, lengths: (self.network_(ids, lengths),))
        true = [names[i] for i in np.asarray(label_ids).tolist()]
        pred = [names[i] for i in logits.argmax(-1).tolist()]
        plot_confusion_matrix(confusion(true, pred, labels=names), names, plots_dir / "confusion_matrix.png")

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Texts -> token-id lists, cut to ``data.max_length``."""
        max_length = self.config_.data.max_length
        return [self.vocab_.encode(self.tokenizer_(t)[:max_length]) for t in texts]

    def _loader(self, rows: StoreRows, label_ids: np.ndarray, train: bool) -> DataLoader:
        """Length-bucketed batches of ``rows`` (ids read from the store when a batch is made)."""
        labels = torch.from_numpy(np.asarray(label_ids, dtype=np.int64))
        cfg = self.config_.train
        sampler = StoreBatchSampler(np.maximum(rows.lengths, 1), cfg.batch_size, shuffle=train, seed=cfg.seed)
        folds = self.folds_ if train else None  # training texts' lexicon folds

        def collate(indices: list[int]) -> dict:
            padded, lens = pad_arrays([rows[i] for i in indices])
            batch = {"ids": padded, "lengths": lens, "labels": labels[indices]}
            if folds is not None:
                batch["fold"] = folds[indices]
            rows.read_some()
            return batch

        return DataLoader(IndexDataset(len(rows)), batch_sampler=sampler, collate_fn=collate)

    def _build_network(self) -> TextClassifierNet:
        return TextClassifierNet(len(self.vocab_), len(self.labels_), self.config_.model,
                                 class_weights=getattr(self, "class_weights_", None),
                                 embeddings=getattr(self, "embeddings_", None),
                                 ngram_state=getattr(self, "ngram_state_", None),
                                 lexicon=getattr(self, "lexicon_", None))

    # -- model folder --------------------------------------------------------
    def _folder_state(self) -> dict:
        return {"config": {**self._label_state(), "tokenizer": self.tokenizer_.to_config()},
                "vocab": self.vocab_.to_json()}

    def _restore(self, folder) -> None:
        self._restore_labels(folder.config)
        self.tokenizer_ = tokenizer_from_config(folder.config["tokenizer"])
        self.vocab_ = Vocab.from_json(folder.vocab)

    # -- inference -----------------------------------------------------------
    def _batched(self, texts: list[str], run) -> tuple[Tensor, ...]:
        """``run(ids (B, T), lengths (B,)) -> tensors (B, ...)`` over length-sorted batches of
        ``texts``, in eval mode and without gradients (on a CPU, one batch per core at a time);
        results concatenated back in input order (on the CPU)."""
        ids = self.encode(texts)
        return self._batched_ids(ids, [len(s) for s in ids], run)

    def _batched_ids(self, ids, lengths, run) -> tuple[Tensor, ...]:
        """:meth:`_batched` for token-id sequences (lists, or :class:`StoreRows` read from the store)."""
        net = self.network_.eval()
        device = network_device(net)
        batches = sorted_batches(np.maximum(np.asarray(lengths, dtype=np.int64), 1), self.inference_batch_size)

        def one_batch(batch: list[int]) -> list[Tensor]:
            padded, lengths = pad_arrays([ids[i] for i in batch])
            return [t.float().cpu() for t in run(padded.to(device), lengths.to(device))]

        parts = map_batches(one_batch, batches, device)
        order = [i for batch in batches for i in batch]
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(len(order))
        return tuple(torch.cat(column)[inverse] for column in zip(*parts))

    @torch.inference_mode()
    def predict_proba(self, texts) -> np.ndarray:
        """Class probabilities ``(N, C)`` in the order of ``labels_``."""
        self._check_fitted()
        texts = self.coerce(texts)[0]
        if not texts:
            return np.zeros((0, len(self.labels_)), dtype=np.float32)
        (logits,) = self._batched(texts, lambda ids, lengths: (self.network_(ids, lengths),))
        return torch.softmax(logits, dim=-1).numpy()

    def _input_records(self, texts: list[str]) -> list[dict]:
        """``text``; ``unknown_share``: the share of its tokens the vocabulary does not know (a
        hint that the text is unlike the training data); ``truncated``: longer than ``data.max_length``."""
        unk, max_length = self.vocab_.UNK_ID, self.config_.data.max_length
        records = []
        for text in texts:
            tokens = self.tokenizer_(text)
            ids = self.vocab_.encode(tokens[:max_length])
            share = sum(i == unk for i in ids) / len(ids) if ids else 1.0
            records.append({"text": text, "unknown_share": round(share, 4), "truncated": len(tokens) > max_length})
        return records

    def export_module(self):
        """The tensor-only network for ONNX export (:mod:`lstmkit.tasks.text.export`)."""
        from lstmkit.tasks.text.export import export_spec

        return export_spec(self)

    def attribution_spec(self, text, target=None):
        """What integrated gradients needs for one text (:mod:`lstmkit.tasks.text.export`)."""
        from lstmkit.tasks.text.export import attribution_spec

        return attribution_spec(self, text, target)

    @torch.inference_mode()
    def run_with_states(self, texts) -> list[dict]:
        """Per text: ``tokens`` (as read, cut to ``data.max_length``), ``gates`` — for each recurrent
        layer and direction (``"l0"``, ``"l0_reverse"``, ...) the activations by name (LSTM ``i, f,
        g, o, c``; GRU ``r, z, n``), each ``(T, H)`` — and ``outputs``, the last layer's states
        ``(T, D*H)``; computed by the reference engine with the trained weights (the same numbers
        as the fused engine's)."""
        self._check_fitted()
        texts = self.coerce(texts)[0]
        net = self.network_.eval()
        max_length = self.config_.data.max_length
        records = []
        for text in texts:
            tokens = self.tokenizer_(text)[:max_length]
            ids = torch.tensor([self.vocab_.encode(tokens) or [self.vocab_.UNK_ID]])
            lengths = torch.tensor([ids.size(1)])
            outputs, _, gates = net.rnn(net.rnn_inputs(ids, lengths), lengths=lengths, return_gates=True)
            records.append({"tokens": tokens, **states_record(outputs, gates)})
        return records
