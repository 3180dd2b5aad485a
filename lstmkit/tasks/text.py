"""The ``text-classifier`` task: text -> label (sentiment, topic).

Network (shapes for a batch of B texts padded to T tokens)::

    ids (B, T) --Embedding--> (B, T, E) --dropout--> LSTM/GRU --> (B, T, D*H)
        --pooling (last|mean|max|attention|max_mean)--> (B, P)
    ids (B, T) --hashed 1..n-gram bag (optional)----------------> (B, N)
    concat (B, P + N) --dropout--> [Linear -> ReLU -> dropout] --> Linear --> logits (B, C)

The recurrent layers are :mod:`lstmkit.nn`'s, fed the true ``lengths`` so padding never changes a
result; batches are length-bucketed so little time goes into padding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from lstmkit.config import TrainConfig, check_choices, invalid
from lstmkit.data.batching import BucketBatchSampler, pad_sequences, sorted_batches
from lstmkit.data.readers import read_text_classification
from lstmkit.data.tokenizers import make_tokenizer, resolve_tokenizer_name, tokenizer_from_config
from lstmkit.data.vocab import Vocab
from lstmkit.errors import DataError
from lstmkit.metrics import classification_metrics
from lstmkit.nn import GRU, LSTM
from lstmkit.nn.ngrams import NgramBag
from lstmkit.nn.pooling import Pooling
from lstmkit.tasks.base import Estimator


# ---------------------------------------------------------------------- config
@dataclass
class TextDataConfig:
    """How text files are read and turned into token ids."""

    text_column: str = "text"  # column (CSV/TSV) or key (JSONL) holding the text
    label_column: str = "label"  # column or key holding the label (a string)
    tokenizer: Literal["auto", "char", "word", "jieba"] = "auto"  # auto: char for Chinese, word otherwise
    lowercase: bool = True  # word tokenizer: lower-case tokens
    keep_punctuation: bool = True  # keep punctuation marks as tokens
    min_freq: int = 1  # tokens seen fewer times in training become <unk>
    max_vocab: int | None = 50000  # keep at most this many tokens (most frequent first)
    max_length: int = 400  # texts are cut to this many tokens (most reviews are far shorter)

    def __post_init__(self):
        check_choices(self)
        for key in ("min_freq", "max_length"):
            if getattr(self, key) < 1:
                raise invalid(key, f"must be >= 1; got {getattr(self, key)}")
        if self.max_vocab is not None and self.max_vocab < 1:
            raise invalid("max_vocab", f"must be >= 1 or none; got {self.max_vocab}")


@dataclass
class TextModelConfig:
    """The network's shape."""

    embedding_dim: int = 128  # token vector size (taken from the file with pretrained_embeddings)
    pretrained_embeddings: str | None = None  # word2vec/GloVe text file to initialise token vectors
    freeze_embeddings: bool = False  # keep pretrained vectors fixed
    embedding_dropout: float = 0.25  # dropout on token vectors
    cell: Literal["lstm", "gru"] = "lstm"  # recurrent cell
    hidden_size: int = 128  # hidden units per direction
    num_layers: int = 1  # stacked recurrent layers
    bidirectional: bool = True  # read the text both ways
    dropout: float = 0.2  # dropout between recurrent layers
    init: Literal["default", "orthogonal"] = "orthogonal"  # recurrent weight initialisation
    engine: Literal["fused", "reference"] = "fused"  # fused kernel or the plain reference loop
    pooling: Literal["last", "mean", "max", "attention", "max_mean"] = "max_mean"  # sequence -> vector
    ngram_buckets: int = 200_000  # hashed n-gram branch beside the LSTM (0 turns it off)
    ngram_max: int = 3  # n-grams of 1..ngram_max tokens
    ngram_dim: int = 64  # size of the n-gram bag vector
    hidden_layer: int = 0  # units of an extra ReLU layer before the output (0: none)
    classifier_dropout: float = 0.4  # dropout before the output layer(s)
    label_smoothing: float = 0.0  # cross-entropy label smoothing

    def __post_init__(self):
        check_choices(self)
        for key in ("embedding_dim", "hidden_size", "num_layers", "ngram_dim"):
            if getattr(self, key) < 1:
                raise invalid(key, f"must be >= 1; got {getattr(self, key)}")
        if not 1 <= self.ngram_max <= 4:
            raise invalid("ngram_max", f"must be in 1..4; got {self.ngram_max}")
        for key in ("embedding_dropout", "dropout", "classifier_dropout", "label_smoothing"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise invalid(key, f"must be in [0, 1); got {getattr(self, key)}")
        for key in ("ngram_buckets", "hidden_layer"):
            if getattr(self, key) < 0:
                raise invalid(key, f"must be >= 0; got {getattr(self, key)}")


def _text_train_defaults() -> TrainConfig:
    return TrainConfig(epochs=8, batch_size=64, lr=2e-3, optimizer="adamw", weight_decay=1e-4,
                       scheduler="onecycle", patience=3, grad_clip=5.0)


@dataclass
class TextClassifierConfig:
    """Every setting of a text classifier: ``data.*``, ``model.*``, ``train.*``."""

    data: TextDataConfig = field(default_factory=TextDataConfig)
    model: TextModelConfig = field(default_factory=TextModelConfig)
    train: TrainConfig = field(default_factory=_text_train_defaults)


# ---------------------------------------------------------------------- network
class TextClassifierNet(nn.Module):
    """Embedding -> LSTM/GRU -> pooling (+ n-gram bag) -> classifier. See the module docstring."""

    def __init__(self, vocab_size: int, labels: list[str], cfg: TextModelConfig,
                 class_weights: Tensor | None = None, embeddings: Tensor | None = None) -> None:
        super().__init__()
        self.labels = list(labels)
        self.label_smoothing = cfg.label_smoothing
        self.embedding = nn.Embedding(vocab_size, cfg.embedding_dim, padding_idx=0)
        if embeddings is not None:
            self.embedding.weight.data.copy_(embeddings)
            self.embedding.weight.requires_grad_(not cfg.freeze_embeddings)
        self.embedding_dropout = nn.Dropout(cfg.embedding_dropout)
        rnn_cls = LSTM if cfg.cell == "lstm" else GRU
        self.rnn = rnn_cls(cfg.embedding_dim, cfg.hidden_size, num_layers=cfg.num_layers, batch_first=True,
                           dropout=cfg.dropout if cfg.num_layers > 1 else 0.0, bidirectional=cfg.bidirectional,
                           engine=cfg.engine, init=cfg.init)
        directions = 2 if cfg.bidirectional else 1
        self.pooling = Pooling(cfg.pooling, cfg.hidden_size * directions, bidirectional=cfg.bidirectional)
        features = self.pooling.output_size
        self.ngrams = NgramBag(cfg.ngram_buckets, cfg.ngram_dim, cfg.ngram_max) if cfg.ngram_buckets else None
        if self.ngrams is not None:
            features += cfg.ngram_dim
        layers: list[nn.Module] = [nn.Dropout(cfg.classifier_dropout)]
        if cfg.hidden_layer:
            layers += [nn.Linear(features, cfg.hidden_layer), nn.ReLU(), nn.Dropout(cfg.classifier_dropout)]
            features = cfg.hidden_layer
        layers.append(nn.Linear(features, len(self.labels)))
        self.classifier = nn.Sequential(*layers)
        self.register_buffer("class_weights", class_weights, persistent=False)

    def forward(self, ids: Tensor, lengths: Tensor, return_attention: bool = False):
        """``ids (B, T)``, ``lengths (B,)`` -> logits ``(B, C)`` (and attention ``(B, T)`` if asked)."""
        x = self.embedding_dropout(self.embedding(ids))  # (B, T, E)
        states, _ = self.rnn(x, lengths=lengths)  # (B, T, D*H)
        pooled, attention = self.pooling(states, lengths)  # (B, P), (B, T) | None
        if self.ngrams is not None:
            pooled = torch.cat([pooled, self.ngrams(ids, lengths)], dim=-1)  # (B, P + N)
        logits = self.classifier(pooled)  # (B, C)
        return (logits, attention) if return_attention else logits

    # lstmkit.train.TrainableModel
    def training_loss(self, batch: dict) -> Tensor:
        logits = self(batch["ids"], batch["lengths"])
        return F.cross_entropy(logits, batch["labels"], weight=self.class_weights,
                               label_smoothing=self.label_smoothing)

    def validation_output(self, batch: dict) -> dict:
        logits = self(batch["ids"], batch["lengths"])
        loss = F.cross_entropy(logits, batch["labels"])
        return {"loss": loss.detach(), "n": len(batch["labels"]), "pred": logits.argmax(-1).cpu(),
                "target": batch["labels"].cpu()}

    def validation_metrics(self, outputs: list[dict]) -> dict[str, float]:
        pred = torch.cat([o["pred"] for o in outputs]).tolist()
        target = torch.cat([o["target"] for o in outputs]).tolist()
        report = classification_metrics([self.labels[i] for i in target], [self.labels[i] for i in pred],
                                        labels=self.labels)
        return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}


class _Examples(torch.utils.data.Dataset):
    """Token-id lists and label ids, indexed by the bucket sampler."""

    def __init__(self, ids: list[list[int]], labels: list[int] | None):
        self.ids, self.labels = ids, labels

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        return i


# ---------------------------------------------------------------------- estimator
class TextClassifier(Estimator):
    """Text -> label with a (Bi)LSTM, character-level for Chinese and word-level otherwise.

    >>> clf = TextClassifier(hidden_size=64, epochs=2).fit(texts, labels)   # doctest: +SKIP
    >>> clf.predict(["房间很干净"])                                           # doctest: +SKIP
    """

    task = "text-classifier"
    config_class = TextClassifierConfig
    monitor = "accuracy"
    inference_batch_size = 256

    # -- data ----------------------------------------------------------------
    def read_data(self, path) -> tuple[list[str], list[str]]:
        cfg = getattr(self, "config_", None) or self.resolved_config()
        return read_text_classification(path, text_column=cfg.data.text_column,
                                        label_column=cfg.data.label_column)

    def _prepare(self, texts: list[str], labels: list[str]) -> None:
        data = self.config_.data
        name = resolve_tokenizer_name(texts) if data.tokenizer == "auto" else data.tokenizer
        options = {"keep_punctuation": data.keep_punctuation}
        if name in ("char", "word"):
            options["lowercase"] = data.lowercase
        self.tokenizer_ = make_tokenizer(name, **options)
        self.labels_ = sorted(set(labels))
        if len(self.labels_) < 2:
            raise DataError(f"training data needs at least 2 distinct labels; found {self.labels_}")
        tokens = [self.tokenizer_(t)[: data.max_length] for t in texts]
        self.vocab_ = Vocab.build(tokens, min_freq=data.min_freq, max_size=data.max_vocab)
        self.embeddings_ = None
        model = self.config_.model
        if model.pretrained_embeddings:
            from lstmkit.data.embeddings import embedding_matrix

            self.embeddings_, found = embedding_matrix(self.vocab_, model.pretrained_embeddings)
            model.embedding_dim = int(self.embeddings_.size(1))
            self.pretrained_found_ = found
        self.class_weights_ = None
        if self.config_.train.class_weights == "balanced":
            counts = np.bincount([self.labels_.index(label) for label in labels], minlength=len(self.labels_))
            self.class_weights_ = torch.tensor(len(labels) / (len(counts) * np.maximum(counts, 1)),
                                               dtype=torch.float32)

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Texts -> token-id lists, cut to ``data.max_length``."""
        max_length = self.config_.data.max_length
        return [self.vocab_.encode(self.tokenizer_(t)[:max_length]) for t in texts]

    def _label_ids(self, labels: list[str], source=None) -> list[int]:
        index = {label: i for i, label in enumerate(self.labels_)}
        ids = []
        for n, label in enumerate(labels, start=1):
            if label not in index:
                raise DataError(f"unknown label {label!r} in example {n}; the model knows: "
                                f"{', '.join(self.labels_)}", path=source)
            ids.append(index[label])
        return ids

    def _loader(self, texts, labels, train: bool) -> DataLoader:
        ids = self.encode(texts)
        label_ids = self._label_ids(labels)
        lengths = [max(1, len(s)) for s in ids]
        cfg = self.config_.train
        sampler = BucketBatchSampler(lengths, cfg.batch_size, shuffle=train, seed=cfg.seed)

        def collate(indices: list[int]) -> dict:
            padded, lens = pad_sequences([ids[i] for i in indices])
            return {"ids": padded, "lengths": lens, "labels": torch.tensor([label_ids[i] for i in indices])}

        return DataLoader(_Examples(ids, label_ids), batch_sampler=sampler, collate_fn=collate)

    def _build_network(self) -> TextClassifierNet:
        return TextClassifierNet(len(self.vocab_), self.labels_, self.config_.model,
                                 class_weights=getattr(self, "class_weights_", None),
                                 embeddings=getattr(self, "embeddings_", None))

    # -- model folder --------------------------------------------------------
    def _folder_state(self) -> dict:
        return {
            "config": {
                "labels": self.labels_,
                "id2label": {str(i): label for i, label in enumerate(self.labels_)},
                "tokenizer": self.tokenizer_.to_config(),
            },
            "vocab": self.vocab_.to_json(),
        }

    def _restore(self, folder) -> None:
        self.labels_ = list(folder.config["labels"])
        self.tokenizer_ = tokenizer_from_config(folder.config["tokenizer"])
        self.vocab_ = Vocab.from_json(folder.vocab)

    # -- inference -----------------------------------------------------------
    @torch.inference_mode()
    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Class probabilities ``(N, C)`` in the order of ``labels_``."""
        self._check_fitted()
        texts = [texts] if isinstance(texts, str) else list(texts)
        net = self.network_.eval()
        device = next(net.parameters()).device
        ids = self.encode(texts)
        out = np.zeros((len(texts), len(self.labels_)), dtype=np.float32)
        for batch in sorted_batches([max(1, len(s)) for s in ids], self.inference_batch_size):
            padded, lengths = pad_sequences([ids[i] for i in batch])
            logits = net(padded.to(device), lengths.to(device))
            out[batch] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        return out

    def predict(self, texts: list[str]) -> list[str]:
        proba = self.predict_proba(texts)
        return [self.labels_[i] for i in proba.argmax(axis=1)]

    def predict_records(self, texts: list[str]) -> list[dict]:
        """One ``{"label", "probabilities": {label: p}}`` per text (the CLI's and server's output)."""
        proba = self.predict_proba(texts)
        return [{"label": self.labels_[int(row.argmax())],
                 "probabilities": {label: round(float(p), 6) for label, p in zip(self.labels_, row)}}
                for row in proba]

    def evaluate(self, texts: list[str], labels: list[str], source: str | Path | None = None) -> dict:
        """``accuracy``, ``macro_f1``, ``per_class`` and ``n`` (see the contract)."""
        self._label_ids(labels, source)  # unknown labels are an error, not a silent miss
        return classification_metrics(list(labels), self.predict(texts), labels=self.labels_)
