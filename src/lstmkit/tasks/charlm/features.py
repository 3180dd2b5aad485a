"""A character language model's states as features of another task's tokens (Flair's contextual
string embeddings).

A sentence of tokens ``w_1 .. w_n`` is one text, ``s = joiner.join(tokens)`` (``""`` for a
character-level tagger, ``" "`` for words), of ``m`` characters ``s_0 .. s_{m-1}``. Token ``w``
covers characters ``[a, b)``. The language models read::

    forward:  "\\n" s_0 s_1 ... s_{m-1}          position p holds s_{p-1}
    backward: "\\n" s_{m-1} ... s_1 s_0          position p holds s_{m-p}

and the token's features are

* the **forward** state at position ``b`` — after its last character ``s_{b-1}``: the boundary
  after the token, having read everything up to and including it;
* the **backward** state at position ``m - a`` — after (reading backwards) its first character
  ``s_a``: the boundary before the token, having read everything after it, and it.

For a character-level tagger (each token one character ``s_t``) that is the forward state after
``s_t`` (position ``t + 1``) and the backward state that has just read ``s_t`` (position ``m - t``).
These are Flair's positions for a word (``flair.embeddings.FlairEmbeddings``, without whitespace).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lstmkit.data.batching import pad_sequences
from lstmkit.data.vocab import Vocab
from lstmkit.tasks.charlm.streams import NEWLINE


def lm_inputs(tokens: Sequence[str], joiner: str, vocab: Vocab) -> dict[str, list[int]]:
    """One sentence's language-model inputs: ``lm_forward`` and ``lm_backward`` ids (``m + 1`` each)
    and, per token, the positions of its two states, ``lm_forward_at`` and ``lm_backward_at``."""
    text = joiner.join(tokens)
    m = len(text)
    forward_at, backward_at = [], []
    start = 0
    for token in tokens:
        end = start + len(token)
        forward_at.append(end)  # the state after s_{end-1}
        backward_at.append(m - start)  # the backward state after s_start
        start = end + len(joiner)
    return {"lm_forward": vocab.encode(NEWLINE + text), "lm_backward": vocab.encode(NEWLINE + text[::-1]),
            "lm_forward_at": forward_at, "lm_backward_at": backward_at}


def collate_lm(items: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Pad :func:`lm_inputs` of a batch: ``lm_forward``, ``lm_backward`` ``(B, S)``, ``lm_lengths``
    ``(B,)``, ``lm_forward_at``, ``lm_backward_at`` ``(B, T)`` (0 after a sentence's tokens)."""
    forward, lengths = pad_sequences([item["lm_forward"] for item in items])
    return {"lm_forward": forward, "lm_lengths": lengths,
            "lm_backward": pad_sequences([item["lm_backward"] for item in items])[0],
            "lm_forward_at": pad_sequences([item["lm_forward_at"] for item in items])[0],
            "lm_backward_at": pad_sequences([item["lm_backward_at"] for item in items])[0]}
