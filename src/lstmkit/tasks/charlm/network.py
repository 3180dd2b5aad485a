"""The character language models: a forward and a backward LSTM, each predicting the next character
of its reading direction, trained by truncated back-propagation through time (TBPTT).

Symbols: ``B`` parallel streams (``train.batch_size``), ``L`` characters per window
(``data.sequence_length``), ``V`` characters in the vocabulary, ``E`` character vector size,
``H`` hidden units, ``S`` the length of a padded batch of texts.

Each direction is one :class:`DirectionLM`::

    ids (B, L) --Embedding--> (B, L, E) --LSTM (state carried in)--> states (B, L, H)
        --dropout--> Linear --> logits (B, L, V)     p(c_{t+1} | c_1 .. c_t) = softmax(logits_t)

and the loss of a window is the mean cross-entropy of its next characters,
``-1/(B L) sum_{b,t} log p(c_{b,t+1} | c_{b,<=t})``; the perplexity is ``exp`` of that mean over a
whole stream. The **forward** model reads the text left to right and predicts the next character;
the **backward** model reads the reversed text, so it predicts the *previous* character of the
original text from everything after it.

Truncated back-propagation (Flair, AWD-LSTM): the text is one long stream cut into ``B`` rows read
side by side (:mod:`lstmkit.tasks.charlm.streams`); window ``k`` of a row continues window
``k - 1`` of the same row, so the final ``(h, c)`` of one window is the initial state of the next
(detached: gradients stop at the window's start, the state does not). The carried state lives in
the module, one per direction and per mode (training, validation), and is reset at the first
window of a pass (the batch's ``first`` flag). Windows must therefore come in order (the loader
never shuffles), and one process trains (no DDP: a rank would see every other window).

For other tasks (:meth:`CharLMNet.boundary_states`) the models read a padded batch of texts, each
preceded by ``"\\n"`` (a text's start in the training streams, where every text follows a line
break), from a zero state.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.nn import LSTM
from lstmkit.tasks.charlm.config import CharLMModelConfig

DIRECTIONS = ("forward", "backward")

TextStates = Callable[[str, Tensor, Tensor], Tensor]
"""``(direction, ids (B, S), lengths (B,)) -> states (B, S, H)``: :meth:`CharLMNet.text_states`, or
the same through exportable layers (:class:`lstmkit.tasks.charlm.export.ExportableCharLM`)."""


class DirectionLM(nn.Module):
    """One direction's language model: ``ids (B, T)`` -> ``states (B, T, H)`` -> ``logits (B, T, V)``."""

    def __init__(self, num_chars: int, cfg: CharLMModelConfig):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, cfg.embedding_dim, padding_idx=0)
        self.rnn = LSTM(cfg.embedding_dim, cfg.hidden_size, num_layers=cfg.num_layers, batch_first=True,
                        dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(cfg.dropout)
        self.decoder = nn.Linear(cfg.hidden_size, num_chars)

    def forward(self, ids: Tensor, state: tuple[Tensor, Tensor] | None = None, lengths: Tensor | None = None):
        """``(states (B, T, H), (h_n, c_n))``, each ``(num_layers, B, H)``; ``state`` the initial one (zeros)."""
        return self.rnn(self.embedding(ids), state, lengths=lengths)

    def logits(self, states: Tensor) -> Tensor:
        """``(B, T, V)`` scores of the next character after each step."""
        return self.decoder(self.dropout(states))


class CharLMNet(nn.Module):
    """The forward and the backward :class:`DirectionLM`, trained together (the loss is their mean)."""

    def __init__(self, num_chars: int, cfg: CharLMModelConfig):
        super().__init__()
        self.num_chars = num_chars
        self.hidden_size = cfg.hidden_size
        self.forward_lm = DirectionLM(num_chars, cfg)
        self.backward_lm = DirectionLM(num_chars, cfg)
        self._carried: dict[tuple[str, bool], tuple[Tensor, Tensor]] = {}

    def direction(self, name: str) -> DirectionLM:
        return self.forward_lm if name == "forward" else self.backward_lm

    # ------------------------------------------------------------------ truncated back-propagation
    def window_loss(self, name: str, batch: dict) -> Tensor:
        """Mean cross-entropy of one direction's window ``batch[name] (B, L)`` against
        ``batch[name + "_next"] (B, L)``, starting from the state the previous window left (zeros
        when ``batch["first"]``); keeps this window's final state, detached, for the next."""
        lm = self.direction(name)
        slot = (name, self.training)
        state = None if batch["first"] else self._carried.get(slot)
        states, (h, c) = lm(batch[name], state)  # (B, L, H)
        self._carried[slot] = (h.detach(), c.detach())
        logits = lm.logits(states)  # (B, L, V)
        return F.cross_entropy(logits.reshape(-1, self.num_chars), batch[f"{name}_next"].reshape(-1))

    def reset_state(self) -> None:
        """Forget the carried states (the next window starts from zeros)."""
        self._carried.clear()

    # lstmkit.training.train.TrainableModel
    def training_loss(self, batch: dict) -> Tensor:
        return (self.window_loss("forward", batch) + self.window_loss("backward", batch)) / 2

    def validation_output(self, batch: dict) -> dict:
        forward, backward = self.window_loss("forward", batch), self.window_loss("backward", batch)
        return {"loss": ((forward + backward) / 2).detach(), "n": batch["forward"].numel(),
                "forward": float(forward), "backward": float(backward)}

    def validation_metrics(self, outputs: list[dict]) -> dict[str, float]:
        """Perplexities over every validation character: ``exp`` of the mean cross-entropy per
        direction, of both (``perplexity``), and the mean in bits per character."""
        n = sum(o["n"] for o in outputs)
        forward = sum(o["forward"] * o["n"] for o in outputs) / n
        backward = sum(o["backward"] * o["n"] for o in outputs) / n
        both = (forward + backward) / 2
        return {"perplexity": math.exp(both), "forward_perplexity": math.exp(forward),
                "backward_perplexity": math.exp(backward), "bits_per_char": both / math.log(2)}

    # ------------------------------------------------------------------ states for other tasks
    def text_states(self, name: str, ids: Tensor, lengths: Tensor) -> Tensor:
        """One direction's last-layer states ``(B, S, H)`` over padded texts ``ids (B, S)`` (each
        starting with ``"\\n"``), from zeros; exact on padding (``lengths (B,)``)."""
        states, _ = self.direction(name)(ids, lengths=lengths)
        return states

    def boundary_states(self, batch: dict, text_states: TextStates | None = None) -> Tensor:
        """Per token, the forward state after its last character and the backward state after
        (reading backwards) its first character: ``(B, T, 2H)`` (see
        :func:`lstmkit.tasks.charlm.features.lm_inputs` for the positions). ``text_states`` as in
        :meth:`character_states`."""
        text_states = text_states or self.text_states
        parts = []
        for name in DIRECTIONS:
            states = text_states(name, batch[f"lm_{name}"], batch["lm_lengths"])  # (B, S, H)
            at = batch[f"lm_{name}_at"]  # (B, T)
            parts.append(states.gather(1, at.unsqueeze(-1).expand(-1, -1, states.size(-1))))  # (B, T, H)
        return torch.cat(parts, dim=-1)

    def character_states(self, chars: Tensor, lengths: Tensor, newline: int,
                         text_states: TextStates | None = None) -> Tensor:
        """:meth:`boundary_states` for texts of one-character tokens, made from their ids alone:
        ``chars (B, T)`` (this model's character ids, anything at padding), ``lengths (B,)`` ->
        ``(B, T, 2H)``. Character ``t`` of a text of ``n`` gets the forward state at position
        ``t + 1`` of ``"\\n" c_0 .. c_{n-1}`` and the backward state at position ``n - t`` of
        ``"\\n" c_{n-1} .. c_0`` (:mod:`lstmkit.tasks.charlm.features`); no Python branch on the data.
        ``text_states`` computes one direction's states as :meth:`text_states` does (the default);
        the ONNX export gives one made of exportable layers with the same weights."""
        text_states = text_states or self.text_states
        b, t = chars.shape
        steps = torch.arange(t, device=chars.device).unsqueeze(0)  # (1, T)
        inside = steps < lengths.unsqueeze(1)  # (B, T)
        chars = chars * inside  # <pad> (0) after each text
        reverse = torch.where(inside, lengths.unsqueeze(1) - 1 - steps, steps)  # (B, T): reversed within the length
        start = torch.full((b, 1), newline, dtype=chars.dtype, device=chars.device)
        lm_lengths = lengths + 1
        forward = text_states("forward", torch.cat([start, chars], dim=1), lm_lengths)  # (B, T + 1, H)
        backward = text_states("backward", torch.cat([start, chars.gather(1, reverse)], dim=1), lm_lengths)
        at = (lengths.unsqueeze(1) - steps).clamp(min=0)  # (B, T): n - t (0 at padding)
        backward = backward.gather(1, at.unsqueeze(-1).expand(-1, -1, backward.size(-1)))  # (B, T, H)
        return torch.cat([forward[:, 1:], backward], dim=-1)  # (B, T, 2H)
