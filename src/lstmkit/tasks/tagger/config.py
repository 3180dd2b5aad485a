"""The tagger's settings: ``data.*``, ``model.*`` and ``train.*`` (every key documented)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lstmkit.config import check_choices, invalid
from lstmkit.training.config import TrainConfig


@dataclass
class TaggerDataConfig:
    """How CoNLL files and raw text are read."""

    tag_column: int = -1
    """CoNLL column holding the tag, 0-based, negative from the end (-1: the last)"""
    text_tokenizer: Literal["auto", "char", "words", "whitespace", "jieba"] = "auto"
    """Raw text (--text, .txt) -> tokens; auto: char for a character-level model, else words (punctuation split off:
    "Berlin." -> Berlin .)"""
    train_scheme: Literal["same", "BIOES"] = "same"
    """BIOES: learn BIO data as BIOES (predictions come back in BIO)"""
    strict_tags: bool = False
    """An illegal tag move in the training data (I-LOC after O or B-PER) is an error, not a warning."""
    lowercase: bool = False
    """Look tokens up in lower case (English NER)"""
    min_freq: int = 1
    """Tokens seen fewer times in training become <unk>."""
    max_vocab: int | None = 100000
    """Keep at most this many tokens (most frequent first)"""

    def __post_init__(self):
        check_choices(self)
        if self.tag_column == 0:
            raise invalid("tag_column", "column 0 holds the token; the tag is another column (-1: the last)")
        if self.min_freq < 1:
            raise invalid("min_freq", f"must be >= 1; got {self.min_freq}")
        if self.max_vocab is not None and self.max_vocab < 3:
            raise invalid("max_vocab", f"must be >= 3 or none; got {self.max_vocab}")


@dataclass
class TaggerModelConfig:
    """The network: embeddings -> BiLSTM -> CRF (or softmax)."""

    embedding_dim: int = 100
    """Token vector size (taken from the file with pretrained_embeddings)"""
    pretrained_embeddings: str | None = None
    """Word2vec/GloVe text file to initialise token vectors."""
    freeze_embeddings: bool = False
    """Keep pretrained vectors fixed."""
    embedding_init: Literal["random", "ppmi"] = "random"
    """Without a file: random, or PPMI-SVD of the training tokens (+ unlabeled_text)"""
    unlabeled_text: str | None = None
    """More text for ppmi: a UTF-8 file of one text per line (tokenised like --text)"""
    bigram_dim: int = 50
    """> 0: also feed each token's (token, next token) bigram vector of this size (0: off)"""
    bigram_min_freq: int = 2
    """Bigrams seen fewer times in training share the <unk> bigram vector."""
    dictionary: str | None = "auto"
    """Word-boundary features: "training" (words of BMES training tags), "pd-train" (pd-cws training words), a file
    of one word per line, none, or auto: training for BMES tags, pd-train for other character-level tags (with
    lstmkit[data] installed), else none"""
    dictionary_max_word: int = 6
    """Longest dictionary word matched, in tokens."""
    dictionary_folds: int = 5
    """Cross-fitting: a training sentence sees the dictionary without the words only its fold has."""
    char_lm: str | None = None
    """A pretrained character language model (a folder of `lstmkit pretrain`, or peoples-daily): its forward and
    backward states at each token's boundaries join the token's features (Flair); none: off"""
    char_lm_finetune: bool = False
    """Train the language model's weights with the tagger (false: frozen, its states computed without gradients)"""
    char_features: Literal["none", "cnn", "lstm"] = "none"
    """Character-level word features (space-separated languages)"""
    char_dim: int = 30
    """Character vector size for char_features."""
    char_hidden: int = 50
    """CNN filters / char-LSTM units per direction."""
    cell: Literal["lstm", "gru"] = "lstm"
    """Recurrent cell."""
    hidden_size: int = 128
    """Hidden units per direction."""
    num_layers: int = 1
    """Stacked recurrent layers."""
    bidirectional: bool = True
    """Read the sentence both ways."""
    embedding_dropout: float = 0.2
    """Dropout on the concatenated input vectors."""
    dropout: float = 0.3
    """Dropout between recurrent layers and before the output layer."""
    decoder: Literal["crf", "softmax"] = "crf"
    """CRF (joint Viterbi decoding) or independent softmax per token."""
    constrained: bool = True
    """Decode only tag sequences the scheme allows (BIO, BIOES, BMES)"""
    ensemble_decoding: Literal["marginals", "scores"] = "marginals"
    """How a seed ensemble (train.ensemble) decodes: the members' mean tag marginals, or their mean CRF scores"""
    init: Literal["default", "orthogonal"] = "orthogonal"
    """Recurrent weight initialisation."""

    def __post_init__(self):
        check_choices(self)
        for key in ("embedding_dim", "hidden_size", "num_layers", "char_dim", "char_hidden", "bigram_min_freq",
                    "dictionary_max_word", "dictionary_folds"):
            if getattr(self, key) < 1:
                raise invalid(key, f"must be >= 1; got {getattr(self, key)}")
        if self.bigram_dim < 0:
            raise invalid("bigram_dim", f"must be >= 0; got {self.bigram_dim}")
        for key in ("embedding_dropout", "dropout"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise invalid(key, f"must be in [0, 1); got {getattr(self, key)}")


def _tagger_train_defaults() -> TrainConfig:
    """The benchmarked People's Daily settings (docs/benchmarks.md): 6 epochs of Adam on a one-cycle schedule."""
    return TrainConfig(epochs=6, batch_size=32, lr=3e-3, optimizer="adam", scheduler="onecycle", patience=3,
                       grad_clip=5.0)


@dataclass
class TaggerConfig:
    """Every setting of a tagger: ``data.*``, ``model.*``, ``train.*``."""

    data: TaggerDataConfig = field(default_factory=TaggerDataConfig)
    model: TaggerModelConfig = field(default_factory=TaggerModelConfig)
    train: TrainConfig = field(default_factory=_tagger_train_defaults)
