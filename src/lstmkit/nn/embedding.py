"""A token embedding table, optionally started from given vectors (pretrained or PPMI)."""

from __future__ import annotations

from torch import Tensor, nn


def token_embedding(vocab_size: int, dim: int, vectors: Tensor | None = None, freeze: bool = False) -> nn.Embedding:
    """``nn.Embedding(vocab_size, dim)`` with id 0 (``<pad>``) as padding. With ``vectors``
    ``(vocab_size, dim)`` the table starts as a copy of them, trained on unless ``freeze``."""
    embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
    if vectors is not None:
        embedding.weight.data.copy_(vectors)
        embedding.weight.requires_grad_(not freeze)
    return embedding
