"""The character language model's settings: ``data.*``, ``model.*`` and ``train.*`` (every key documented)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lstmkit.config import invalid
from lstmkit.training.config import TrainConfig


@dataclass
class CharLMDataConfig:
    """How the text becomes character streams."""

    sequence_length: int = 250
    """Characters per truncated back-propagation window: the gradient flows back at most this far, the hidden state
    is carried on across windows (Flair: 250)"""
    min_freq: int = 1
    """Characters seen fewer times in training become <unk>."""
    max_chars: int | None = 10000
    """Keep at most this many characters (most frequent first)"""

    def __post_init__(self):
        for key in ("sequence_length", "min_freq"):
            if getattr(self, key) < 1:
                raise invalid(key, f"must be >= 1; got {getattr(self, key)}")
        if self.max_chars is not None and self.max_chars < 3:
            raise invalid("max_chars", f"must be >= 3 or none; got {self.max_chars}")


@dataclass
class CharLMModelConfig:
    """Each direction's network: character vectors -> LSTM -> a softmax over the next character."""

    embedding_dim: int = 100
    """Character vector size (Flair: 100)"""
    hidden_size: int = 1024
    """LSTM units of each direction's language model (Flair: 1024 or 2048); the hidden states a tagger reads"""
    num_layers: int = 1
    """Stacked LSTM layers per direction."""
    dropout: float = 0.1
    """Dropout on the LSTM's outputs before the softmax (and between layers)"""

    def __post_init__(self):
        for key in ("embedding_dim", "hidden_size", "num_layers"):
            if getattr(self, key) < 1:
                raise invalid(key, f"must be >= 1; got {getattr(self, key)}")
        if not 0.0 <= self.dropout < 1.0:
            raise invalid("dropout", f"must be in [0, 1); got {self.dropout}")


def _charlm_train_defaults() -> TrainConfig:
    return TrainConfig(epochs=10, batch_size=64, lr=2e-3, optimizer="adam", scheduler="plateau", gamma=0.25,
                       plateau_patience=1, grad_clip=1.0, patience=3)


@dataclass
class CharLMConfig:
    """Every setting of a character language model. ``train.batch_size`` is the number of parallel
    character streams (the text is cut into that many equal parts, read side by side)."""

    data: CharLMDataConfig = field(default_factory=CharLMDataConfig)
    model: CharLMModelConfig = field(default_factory=CharLMModelConfig)
    train: TrainConfig = field(default_factory=_charlm_train_defaults)
