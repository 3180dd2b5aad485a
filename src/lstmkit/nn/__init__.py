"""The neural core: recurrent layers written from their equations, CRF, pooling, n-gram layers."""

from lstmkit.nn.crf import CRF, TransitionConstraints, allowed_transitions
from lstmkit.nn.lexicon import NgramLexicon
from lstmkit.nn.ngrams import NgramTfidf
from lstmkit.nn.pooling import (
    AttentionPooling,
    Pooling,
    last_pool,
    lengths_to_mask,
    max_pool,
    mean_pool,
)
from lstmkit.nn.rnn import GRU, LSTM, RNN

__all__ = [
    "LSTM", "GRU", "RNN", "CRF", "TransitionConstraints", "allowed_transitions", "Pooling", "AttentionPooling",
    "last_pool", "mean_pool", "max_pool", "lengths_to_mask", "NgramTfidf", "NgramLexicon",
]
