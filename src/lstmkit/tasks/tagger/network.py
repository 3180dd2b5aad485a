"""The tagger's network: tokens -> one tag per token (BiLSTM-CRF, or BiLSTM-softmax).

Shapes for a batch of ``B`` sentences padded to ``T`` tokens, ``K`` tags::

    ids (B, T)            --Embedding-->                    (B, T, E)
    bigrams (B, T)        --Embedding (optional)-->         (B, T, G)     (token t, token t+1)
    dictionary (B, T, 4)  B/M/E/S word matches (optional)   (B, T, 4)
    chars (B, T, C)       --char CNN / char BiLSTM (opt.)-> (B, T, F)
    lm_* (B, S), (B, T)   --character language model (opt.)-> (B, T, 2H')  forward and backward states
    x = concat (B, T, E+G+4+F+2H') --dropout--> LSTM/GRU (exact on padding) --> (B, T, D*H)
        --dropout--> Linear --> emissions (B, T, K)

``decoder=crf``: a linear-chain CRF (:class:`lstmkit.nn.CRF`) on the emissions; the loss is the
negative log-likelihood of the gold path, ``-log p(y | e) = log Z - score(y)``, averaged over the
batch's sentences, and decoding is Viterbi. ``decoder=softmax``: each token's tag independently,
``p(y_t | e_t) = softmax(e_t)``, cross-entropy averaged over tokens; decoding is the best path of
``sum_t log p(y_t)`` (a CRF with all transition scores 0), so it too can be constrained.

With ``constrained`` the decoder only returns tag sequences the scheme allows
(:func:`lstmkit.nn.crf.allowed_transitions`: no ``I-X`` after ``O`` in BIO, every ``B`` closed in
BIOES and BMES): the CRF's disallowed moves score ``-inf`` in Viterbi.

With ``model.char_lm`` a pretrained :class:`~lstmkit.tasks.charlm.network.CharLMNet` (``char_lm``)
reads each sentence as text and gives each token its forward state after the token and its
backward state before it (:mod:`lstmkit.tasks.charlm.pretrained`). Frozen (the default), its
weights take no gradient, its states are computed under ``torch.no_grad()`` and it stays in
eval mode; with ``char_lm_finetune`` it trains with the tagger. Frozen, the training and
validation batches bring its states ready-made (``lm_states (B, T, 2H')``, computed once per
fit: :class:`lstmkit.tasks.tagger.data.TokenVectorsFile`), so an epoch does not run it again.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.metrics.tagging import tagging_metrics
from lstmkit.nn import GRU, LSTM
from lstmkit.nn.crf import CRF, allowed_transitions
from lstmkit.nn.embedding import token_embedding
from lstmkit.tasks.tagger.config import TaggerModelConfig

DICTIONARY_FEATURES = 4


class CharFeatures(nn.Module):
    """Character-level word features (NCRF++): ``chars (B, T, C)``, ``char_lengths (B, T)`` -> ``(B, T, F)``.

    ``cnn``: character vectors, a width-3 convolution with ``F`` filters, max over the word's
    characters. ``lstm``: a character BiLSTM over each word, its two final states (``F = 2H``).
    """

    def __init__(self, kind: str, num_chars: int, char_dim: int, hidden: int):
        super().__init__()
        self.kind = kind
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)
        if kind == "cnn":
            self.conv = nn.Conv1d(char_dim, hidden, kernel_size=3, padding=1)
            self.output_size = hidden
        else:
            self.rnn = LSTM(char_dim, hidden, batch_first=True, bidirectional=True)
            self.output_size = 2 * hidden

    def forward(self, chars: Tensor, char_lengths: Tensor) -> Tensor:
        b, t, c = chars.shape
        flat = chars.reshape(b * t, c)  # (B*T, C)
        lengths = char_lengths.reshape(b * t).clamp(min=1)  # padding words: one <pad> char
        x = self.embedding(flat)  # (B*T, C, char_dim)
        if self.kind == "cnn":
            h = self.conv(x.transpose(1, 2))  # (B*T, F, C)
            inside = torch.arange(c, device=chars.device) < lengths.unsqueeze(1)  # (B*T, C)
            h = h.masked_fill(~inside.unsqueeze(1), float("-inf")).amax(dim=2)  # (B*T, F)
        else:
            _, (h_n, _) = self.rnn(x, lengths=lengths)  # h_n (2, B*T, H)
            h = torch.cat([h_n[0], h_n[1]], dim=-1)  # (B*T, 2H)
        return h.reshape(b, t, -1)


class TaggerNet(nn.Module):
    """Embeddings -> (Bi)LSTM -> emissions -> CRF or softmax. See the module docstring."""

    def __init__(self, vocab_size: int, tags: list[str], scheme: str | None, cfg: TaggerModelConfig,
                 num_bigrams: int = 0, num_chars: int = 0, embeddings: Tensor | None = None,
                 char_lm: nn.Module | None = None) -> None:
        super().__init__()
        self.tags = list(tags)
        self.scheme = scheme
        self.decoder = cfg.decoder
        self.ensemble_decoding = cfg.ensemble_decoding  # read by TaggerEnsemble
        self.embedding = token_embedding(vocab_size, cfg.embedding_dim, embeddings, cfg.freeze_embeddings)
        size = cfg.embedding_dim
        self.bigrams = nn.Embedding(num_bigrams, cfg.bigram_dim, padding_idx=0) if cfg.bigram_dim else None
        size += cfg.bigram_dim
        self.uses_dictionary = cfg.dictionary is not None
        size += DICTIONARY_FEATURES if self.uses_dictionary else 0
        self.chars = None
        if cfg.char_features != "none":
            self.chars = CharFeatures(cfg.char_features, num_chars, cfg.char_dim, cfg.char_hidden)
            size += self.chars.output_size
        self.char_lm = char_lm
        self.char_lm_finetune = cfg.char_lm_finetune
        if char_lm is not None:
            size += 2 * char_lm.hidden_size
            char_lm.requires_grad_(self.char_lm_finetune)
        self.input_dropout = nn.Dropout(cfg.embedding_dropout)
        rnn_cls = LSTM if cfg.cell == "lstm" else GRU
        self.rnn = rnn_cls(size, cfg.hidden_size, num_layers=cfg.num_layers, batch_first=True,
                           dropout=cfg.dropout if cfg.num_layers > 1 else 0.0, bidirectional=cfg.bidirectional,
                           init=cfg.init)
        self.output_dropout = nn.Dropout(cfg.dropout)
        self.emit = nn.Linear(cfg.hidden_size * (2 if cfg.bidirectional else 1), len(self.tags))
        constraints = allowed_transitions(self.tags, scheme) if (scheme and cfg.constrained) else None
        self.crf = CRF(len(self.tags), batch_first=True, constraints=constraints)
        if self.decoder == "softmax":  # decoding only: the best path of summed log-probabilities
            nn.init.zeros_(self.crf.start_transitions)
            nn.init.zeros_(self.crf.end_transitions)
            nn.init.zeros_(self.crf.transitions)
            self.crf.requires_grad_(False)

    def train(self, mode: bool = True):
        """As ``nn.Module.train``; a frozen language model stays in eval mode."""
        super().train(mode)
        if self.char_lm is not None and not self.char_lm_finetune:
            self.char_lm.eval()
        return self

    def step_inputs(self, batch: dict) -> Tensor:
        """``(B, T, F)``: each token's features concatenated, as the recurrent layers read them (before dropout)."""
        parts = [self.embedding(batch["ids"])]  # (B, T, E)
        if self.bigrams is not None:
            parts.append(self.bigrams(batch["bigrams"]))  # (B, T, G)
        if self.uses_dictionary:
            parts.append(batch["dictionary"])  # (B, T, 4)
        if self.chars is not None:
            parts.append(self.chars(batch["chars"], batch["char_lengths"]))  # (B, T, F)
        if self.char_lm is not None and "lm_states" in batch:  # only a frozen model's loaders bring them
            parts.append(batch["lm_states"])  # (B, T, 2H'): the frozen model's states, computed once for training
        elif self.char_lm is not None:
            with torch.set_grad_enabled(self.char_lm_finetune and torch.is_grad_enabled()):
                parts.append(self.char_lm.boundary_states(batch))  # (B, T, 2H')
        return torch.cat(parts, dim=-1)

    def emissions(self, batch: dict) -> Tensor:
        """Per-token tag scores ``(B, T, K)`` (log-probabilities for the softmax decoder)."""
        x = self.input_dropout(self.step_inputs(batch))
        states, _ = self.rnn(x, lengths=batch["lengths"])  # (B, T, D*H)
        scores = self.emit(self.output_dropout(states))  # (B, T, K)
        return torch.log_softmax(scores, dim=-1) if self.decoder == "softmax" else scores

    @staticmethod
    def mask(batch: dict) -> Tensor:
        """``(B, T)`` bool, on for real tokens."""
        ids = batch["ids"]
        return torch.arange(ids.size(1), device=ids.device) < batch["lengths"].unsqueeze(1)

    def loss(self, emissions: Tensor, batch: dict) -> Tensor:
        mask = self.mask(batch)
        if self.decoder == "crf":
            return -self.crf(emissions, batch["tags"], mask, reduction="mean")
        return F.nll_loss(emissions[mask], batch["tags"][mask])

    def decode(self, emissions: Tensor, batch: dict, nbest: int = 1):
        """Best tag-id paths (each of its sentence's length); ``nbest > 1``: lists of paths, best first."""
        return self.crf.decode(emissions, self.mask(batch), nbest=nbest)

    # lstmkit.training.train.TrainableModel
    def training_loss(self, batch: dict) -> Tensor:
        return self.loss(self.emissions(batch), batch)

    def validation_output(self, batch: dict) -> dict:
        emissions = self.emissions(batch)
        lengths = batch["lengths"].tolist()
        gold = [row[:n] for row, n in zip(batch["tags"].tolist(), lengths)]
        return {"loss": self.loss(emissions, batch).detach(), "n": len(lengths),
                "pred": self.decode(emissions, batch), "target": gold}

    def validation_metrics(self, outputs: list[dict]) -> dict[str, float]:
        """Entity-level (word-level for BMES) F1 and token accuracy of the decoded paths."""
        gold = [[self.tags[i] for i in row] for o in outputs for row in o["target"]]
        pred = [[self.tags[i] for i in row] for o in outputs for row in o["pred"]]
        report = tagging_metrics(gold, pred, self.scheme)
        return {"f1": report["f1"], "precision": report["precision"], "recall": report["recall"],
                "token_accuracy": report["token_accuracy"]}
