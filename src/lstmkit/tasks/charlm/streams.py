"""Texts -> one character stream -> ``B`` rows read side by side, in windows of ``L`` characters.

The stream is every text after a line break, ending with one::

    "\\n" text_1 "\\n" text_2 "\\n" ... text_N "\\n"          (forward)

and the backward models read that stream reversed (each text reversed, the texts in reverse
order, each still after a ``"\\n"``). A stream of ``N`` ids is cut into ``B`` equal rows (the
last ``N mod B`` characters are dropped), ``(B, N // B)``, and window ``k`` of a batch is
columns ``[kL, (k+1)L)`` with the next characters ``[kL + 1, (k+1)L + 1)`` as targets (the last
window may be shorter). Row ``b`` of window ``k`` continues row ``b`` of window ``k - 1``, which
is what lets :class:`~lstmkit.tasks.charlm.network.CharLMNet` carry its state across windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from lstmkit.data.vocab import Vocab
from lstmkit.errors import DataError

NEWLINE = "\n"
"""What comes before each text in the stream (and after the last)."""


def char_vocab(texts: Iterable[str], min_freq: int, max_size: int | None) -> Vocab:
    """``<pad>``, ``<unk>``, ``"\\n"``, then the texts' characters, most frequent first."""
    return Vocab.build((list(text) for text in texts), min_freq=min_freq, max_size=max_size, extra_tokens=[NEWLINE])


def stream_ids(texts: Sequence[str], vocab: Vocab) -> torch.Tensor:
    """The forward stream's ids ``(N,)``: ``"\\n" text_1 "\\n" ... text_N "\\n"``."""
    return torch.tensor(vocab.encode(NEWLINE + NEWLINE.join(texts) + NEWLINE), dtype=torch.long)


class StreamWindows(Dataset):
    """Window ``k`` of the forward and backward streams: a dict of ``(B, l)`` tensors ``forward``,
    ``forward_next``, ``backward``, ``backward_next`` (``l <= L``) and ``first`` (``k == 0``).

    ``B`` is ``rows``, or fewer when the stream is short (each row needs 2 characters).
    """

    def __init__(self, ids: torch.Tensor, rows: int, length: int):
        if len(ids) < 3:
            raise DataError(f"too little text for a language model ({max(0, len(ids) - 2)} characters)")
        rows = max(1, min(rows, len(ids) // 2))
        columns = len(ids) // rows
        self.length = length
        self.streams = {"forward": ids[: rows * columns].view(rows, columns),
                        "backward": ids.flip(0)[: rows * columns].view(rows, columns)}
        self.columns = columns

    def __len__(self) -> int:
        return -(-(self.columns - 1) // self.length)

    def __getitem__(self, k: int) -> dict:
        if not 0 <= k < len(self):
            raise IndexError(k)
        start = k * self.length
        stop = min(start + self.length, self.columns - 1)
        window: dict = {"first": k == 0}
        for name, rows in self.streams.items():
            window[name] = rows[:, start:stop]
            window[f"{name}_next"] = rows[:, start + 1: stop + 1]
        return window


def stream_loader(texts: Sequence[str], vocab: Vocab, rows: int, length: int) -> DataLoader:
    """The windows of ``texts`` in order (never shuffled: each continues the one before)."""
    return DataLoader(StreamWindows(stream_ids(texts, vocab), rows, length), batch_size=None, shuffle=False)
