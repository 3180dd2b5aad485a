r"""A bag of hashed token n-grams: the fastText-style branch beside the LSTM.

For each n in ``1..max_n`` every window of n consecutive token ids inside a sequence is hashed to
one of ``buckets`` rows of an embedding table; the branch returns the mean of those rows:

.. math::

    \mathrm{id}(w_t..w_{t+n-1}) = \Big(\sum_{k=0}^{n-1} w_{t+k} P_k + S_n\Big) \bmod \text{buckets}
    \qquad
    \mathrm{bag}(x) = \frac{1}{|\mathcal{G}|} \sum_{g \in \mathcal{G}} E[\mathrm{id}(g)]

with fixed odd multipliers ``P_k`` and a salt ``S_n`` per n. The hash works on vocabulary ids, so it
runs on the whole padded batch at once (no per-text Python work) and is reproduced exactly from a
saved vocabulary. A linear model over such a bag is close to TF-IDF + logistic regression; beside
the LSTM it gives the classifier cheap, reliable surface features while the LSTM reads order and
negation.

Shapes: ``ids (B, T)`` long, ``lengths (B,)`` -> ``(B, dim)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

# Large odd multipliers (well mixed in the low bits) and a salt per n-gram order.
_MULTIPLIERS = (1, 1_000_003, 998_244_353, 2_654_435_761)
_SALTS = (0, 7_919, 104_729, 1_299_709)


class NgramBag(nn.Module):
    """Mean of hashed 1..``max_n``-gram embeddings over each sequence's valid positions."""

    def __init__(self, buckets: int, dim: int, max_n: int = 3) -> None:
        super().__init__()
        if buckets < 1 or dim < 1:
            raise ValueError(f"buckets and dim must be positive; got buckets={buckets}, dim={dim}")
        if not 1 <= max_n <= len(_MULTIPLIERS):
            raise ValueError(f"max_n must be in 1..{len(_MULTIPLIERS)}; got {max_n}")
        self.buckets, self.dim, self.max_n = buckets, dim, max_n
        self.embedding = nn.Embedding(buckets, dim)
        nn.init.normal_(self.embedding.weight, std=0.02)

    def hashed_ids(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """All n-gram ids and their validity: ``(B, G)`` long and ``(B, G)`` bool, ``G = sum_n (T-n+1)``."""
        T = ids.size(1)
        steps = torch.arange(T, device=ids.device)
        all_ids, all_valid = [], []
        for n in range(1, min(self.max_n, T) + 1):
            width = T - n + 1
            code = torch.full_like(ids[:, :width], _SALTS[n - 1])  # (B, T-n+1)
            for k in range(n):
                code = code + ids[:, k : k + width] * _MULTIPLIERS[k]
            all_ids.append(torch.remainder(code, self.buckets))
            all_valid.append(steps[:width].unsqueeze(0) + n <= lengths.unsqueeze(1))  # window inside the text
        return torch.cat(all_ids, dim=1), torch.cat(all_valid, dim=1)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        grams, valid = self.hashed_ids(ids, lengths)  # (B, G), (B, G)
        vectors = self.embedding(grams) * valid.unsqueeze(-1)  # (B, G, dim)
        return vectors.sum(1) / valid.sum(1, keepdim=True).clamp_min(1)  # (B, dim)
