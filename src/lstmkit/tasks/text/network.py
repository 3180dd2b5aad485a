"""The text classifier's network: text -> label (sentiment, topic).

Network (shapes for a batch of B texts padded to T tokens)::

    ids (B, T) --Embedding--> (B, T, E) [; LM states (B, T, 2H')] --dropout--> [; lexicon (B, T, n*C)]
        --> LSTM/GRU --> (B, T, D*H)
        --pooling (last|mean|max|attention|max_mean)--> (B, P)
        --dropout--> [Linear -> ReLU -> dropout] --> Linear --> (B, C)
    ids (B, T) --hashed 1..n-gram TF-IDF bag, one weight per class (optional)--> (B, C)
    logits (B, C) = the sum of the two branches

The lexicon (:class:`lstmkit.nn.lexicon.NgramLexicon`) gives each step the naive-Bayes class
log-ratios of the 1..n-grams starting there, counted on the training texts (cross-fitted, so a
training text never sees its own label): the LSTM starts from what counting knows about each
n-gram and learns how the evidence combines (negation, "but", several clauses).

The n-gram branch is a logistic regression on TF-IDF character/word n-grams, fitted to convergence
by scikit-learn before training and kept fixed; the two branches' log-probabilities are mixed with
a weight tuned on validation. It brings the surface features a linear model is good at, the LSTM
brings order, negation and context.

With ``model.char_lm`` (character tokens) a pretrained character language model
(:class:`~lstmkit.tasks.charlm.network.CharLMNet`, ``char_lm``) reads each text, made from its token
ids through the table ``char_lm_ids`` (vocabulary id -> the language model's character id), and
each character's forward state after it and backward state before it join its vector
(:meth:`~lstmkit.tasks.charlm.network.CharLMNet.character_states`). Frozen by default (no
gradient, eval mode); trained with the classifier when ``char_lm_finetune``.

The recurrent layers are :mod:`lstmkit.nn`'s, fed the true ``lengths`` so padding never changes a
result; batches are length-bucketed so little time goes into padding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.metrics.classification import classification_metrics
from lstmkit.nn import GRU, LSTM
from lstmkit.nn.embedding import token_embedding
from lstmkit.nn.lexicon import NgramLexicon
from lstmkit.nn.ngrams import NgramTfidf
from lstmkit.nn.pooling import Pooling
from lstmkit.tasks.charlm.network import TextStates
from lstmkit.tasks.text.config import TextModelConfig


class TextClassifierNet(nn.Module):
    """Embedding -> LSTM/GRU -> pooling (+ n-gram bag) -> classifier. See the module docstring."""

    def __init__(self, vocab_size: int, num_labels: int, cfg: TextModelConfig,
                 class_weights: Tensor | None = None, embeddings: Tensor | None = None,
                 ngram_state: dict[str, Tensor] | None = None, lexicon: NgramLexicon | None = None,
                 char_lm: nn.Module | None = None, char_lm_ids: Tensor | None = None, newline: int = 2) -> None:
        super().__init__()
        self.num_labels = num_labels
        self.label_smoothing = cfg.label_smoothing
        self.embedding = token_embedding(vocab_size, cfg.embedding_dim, embeddings, cfg.freeze_embeddings)
        self.embedding_dropout = nn.Dropout(cfg.embedding_dropout)
        rnn_cls = LSTM if cfg.cell == "lstm" else GRU
        self.bigrams = nn.Embedding(cfg.bigram_buckets, cfg.bigram_dim) if cfg.bigram_dim else None
        self.lexicon = None
        if cfg.lexicon_ngrams:
            self.lexicon = lexicon or NgramLexicon(cfg.lexicon_buckets, self.num_labels, cfg.lexicon_ngrams)
        self.char_lm, self.char_lm_finetune, self.newline = char_lm, cfg.char_lm_finetune, newline
        if char_lm is not None:
            char_lm.requires_grad_(self.char_lm_finetune)
            self.register_buffer("char_lm_ids", char_lm_ids)  # (V,) vocabulary id -> the LM's character id
        extra_inputs = cfg.bigram_dim + (self.lexicon.output_size if self.lexicon is not None else 0)
        extra_inputs += 2 * char_lm.hidden_size if char_lm is not None else 0
        self.rnn = rnn_cls(
            cfg.embedding_dim + extra_inputs,
            cfg.hidden_size,
            num_layers=cfg.num_layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
            bidirectional=cfg.bidirectional,
            engine=cfg.engine,
            init=cfg.init,
        )
        directions = 2 if cfg.bidirectional else 1
        self.pooling = Pooling(cfg.pooling, cfg.hidden_size * directions, bidirectional=cfg.bidirectional)
        features = self.pooling.output_size
        self.ngrams = None
        if cfg.ngram_buckets:
            # Fitted by a convex solver before training (TextClassifier), then kept fixed.
            self.ngrams = NgramTfidf(cfg.ngram_buckets, self.num_labels, cfg.ngram_max).requires_grad_(False)
            if ngram_state is not None:
                self.ngrams.load_state_dict(ngram_state)
        # w in logits = (1 - w) * LSTM log-odds + w * n-gram log-odds; tuned on validation after training.
        self.register_buffer("ngram_weight", torch.tensor(0.5 if cfg.ngram_weight is None else cfg.ngram_weight))
        layers: list[nn.Module] = [nn.Dropout(cfg.classifier_dropout)]
        if cfg.hidden_layer:
            layers += [nn.Linear(features, cfg.hidden_layer), nn.ReLU(), nn.Dropout(cfg.classifier_dropout)]
            features = cfg.hidden_layer
        layers.append(nn.Linear(features, self.num_labels))
        self.classifier = nn.Sequential(*layers)
        self.register_buffer("class_weights", class_weights, persistent=False)

    def forward(
        self,
        ids: Tensor,
        lengths: Tensor,
        return_attention: bool = False,
        fuse: bool = True,
        fold: Tensor | None = None,
    ):
        """``ids (B, T)``, ``lengths (B,)`` -> logits ``(B, C)`` (and attention ``(B, T)`` if asked).

        In eval mode with ``fuse`` the n-gram branch is mixed in (:meth:`fuse`); otherwise the
        LSTM branch alone. ``fold (B,)``: the training texts' cross-fitting folds for the
        lexicon (None: the full table).
        """
        logits, attention = self.lstm_branch(ids, lengths, fold)
        if fuse and not self.training:
            logits = self.fuse(logits, self.ngram_branch(ids, lengths))
        return (logits, attention) if return_attention else logits

    def lstm_branch(self, ids: Tensor, lengths: Tensor, fold: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """The recurrent branch: logits ``(B, C)`` and attention weights ``(B, T)`` (or None)."""
        states, _ = self.rnn(self.rnn_inputs(ids, lengths, fold), lengths=lengths)  # (B, T, D*H)
        pooled, attention = self.pooling(states, lengths)  # (B, P), (B, T) | None
        return self.classifier(pooled), attention  # (B, C)

    def rnn_inputs(self, ids: Tensor, lengths: Tensor, fold: Tensor | None = None,
                   char_lm_states: TextStates | None = None) -> Tensor:
        """What the recurrent layers read at each step: ``(B, T, E [+ bigram_dim] [+ 2H'] [+ n*C])``.
        ``char_lm_states``: how the language model's states are computed (its own layers by default;
        see :meth:`~lstmkit.tasks.charlm.network.CharLMNet.character_states`)."""
        x = self.embedding(ids)  # (B, T, E)
        if self.bigrams is not None:  # (token_t, token_t+1) hashed; the last step pairs with padding
            following = torch.cat([ids[:, 1:], torch.zeros_like(ids[:, :1])], dim=1)  # (B, T)
            inside = torch.arange(1, ids.size(1) + 1, device=ids.device) < lengths.unsqueeze(1)
            following = following * inside  # 0 (<pad>) after each text's last token
            bigram = torch.remainder(ids * 1_000_003 + following, self.bigrams.num_embeddings)
            x = torch.cat([x, self.bigrams(bigram)], dim=-1)  # (B, T, E + bigram_dim)
        if self.char_lm is not None:
            with torch.set_grad_enabled(self.char_lm_finetune and torch.is_grad_enabled()):
                states = self.char_lm.character_states(self.char_lm_ids[ids], lengths, self.newline,
                                                       char_lm_states)  # (B, T, 2H')
            x = torch.cat([x, states], dim=-1)
        x = self.embedding_dropout(x)
        if self.lexicon is not None:
            x = torch.cat([x, self.lexicon(ids, lengths, fold)], dim=-1)  # (B, T, E + ... + n*C)
        return x

    def train(self, mode: bool = True):
        """As ``nn.Module.train``; a frozen language model stays in eval mode."""
        super().train(mode)
        if self.char_lm is not None and not self.char_lm_finetune:
            self.char_lm.eval()
        return self

    def ngram_branch(self, ids: Tensor, lengths: Tensor) -> Tensor | None:
        """The fixed TF-IDF n-gram logistic regression's logits ``(B, C)``, or None without it."""
        return self.ngrams(ids, lengths) if self.ngrams is not None else None

    def fuse(self, lstm_logits: Tensor, ngram_logits: Tensor | None, weight: Tensor | float | None = None) -> Tensor:
        """The model's output: ``(1 - w) log_softmax(lstm) + w log_softmax(ngram)``, ``(B, C)``.

        The one place the branches are mixed (inference, validation during training, and the
        weight tuning after it). Without an n-gram branch it is the LSTM's logits. The LSTM
        trains on its own logits (the n-gram branch, fitted on the same texts, would explain the
        training set away); the branches are mixed for validation and inference.
        """
        if ngram_logits is None:
            return lstm_logits
        w = self.ngram_weight if weight is None else weight
        return (1 - w) * torch.log_softmax(lstm_logits, -1) + w * torch.log_softmax(ngram_logits, -1)

    # lstmkit.training.train.TrainableModel
    def training_loss(self, batch: dict) -> Tensor:
        """Cross-entropy of the LSTM branch alone, each training text reading the lexicon table
        counted without its own fold (``batch["fold"]``)."""
        logits, _ = self.lstm_branch(batch["ids"], batch["lengths"], batch.get("fold"))
        return F.cross_entropy(logits, batch["labels"], weight=self.class_weights, label_smoothing=self.label_smoothing)

    def validation_output(self, batch: dict) -> dict:
        """Scores of the model as it would predict now: the LSTM branch mixed with the n-gram
        branch at the current weight (0.5 until it is tuned after training), and of the LSTM
        branch alone (``lstm_accuracy``, to watch what training improves)."""
        lstm_logits, _ = self.lstm_branch(batch["ids"], batch["lengths"])
        logits = self.fuse(lstm_logits, self.ngram_branch(batch["ids"], batch["lengths"]))
        loss = F.cross_entropy(logits, batch["labels"])
        return {
            "loss": loss.detach(),
            "n": len(batch["labels"]),
            "pred": logits.argmax(-1).cpu(),
            "lstm_pred": lstm_logits.argmax(-1).cpu(),
            "target": batch["labels"].cpu(),
        }

    def validation_metrics(self, outputs: list[dict]) -> dict[str, float]:
        """Accuracy and macro-F1 (over the labels present) of the mixed model, accuracy of the LSTM alone."""
        target = torch.cat([o["target"] for o in outputs])
        pred = torch.cat([o["pred"] for o in outputs])
        report = classification_metrics(target.tolist(), pred.tolist())
        lstm_accuracy = (torch.cat([o["lstm_pred"] for o in outputs]) == target).float().mean().item()
        return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "lstm_accuracy": lstm_accuracy}
