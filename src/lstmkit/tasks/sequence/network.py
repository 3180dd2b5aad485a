"""The sequence classifier's network: a multivariate sequence -> a label, or a target per step.

Shapes for a batch of ``B`` sequences padded to ``T`` steps of ``F`` (scaled) features, ``H``
hidden units per direction, ``D`` directions (2 if bidirectional), ``C`` labels::

    x (B, T, F) --dropout--> LSTM/GRU stack (exact on padding, fed the true lengths) --> (B, T, D*H)

    one label per sequence:
        --pooling (last | mean | max | attention | max_mean)--> (B, P)
        --dropout--> [Linear -> ReLU -> dropout] --> Linear --> logits (B, C)
    a label per step:
        --dropout--> [Linear -> ReLU -> dropout] --> Linear, at every step --> logits (B, T, C)
    a value per step:
        the same head with one output --> (B, T) in scaled target units

With ``model.architecture=lstm_fcn`` (one label per sequence; Karim et al.'s LSTM-FCN / MLSTM-FCN)
a convolution branch (:class:`lstmkit.nn.fcn.FCN`) reads the same input beside the recurrent
stack, and the two vectors are concatenated before the head::

    x (B, T, F) --dropout--+--> LSTM/GRU stack --pooling--> (B, P) --branch_dropout--+
                           |                                                         |--> concat (B, P + K)
                           +--> FCN: conv blocks, SE, mean over real steps --> (B, K) -+
        --> dropout --> [Linear -> ReLU -> dropout] --> Linear --> logits (B, C)

Losses (only real steps count; ``m_bt = 1`` for ``t < lengths[b]``)::

    sequence labels:  L = (1/B) sum_b CE(logits_b, y_b)
    step labels:      L = sum_{b,t} m_bt CE(logits_bt, y_bt) / sum_{b,t} m_bt
    step values:      L = sum_{b,t} m_bt (yhat_bt - z_bt)^2 / sum_{b,t} m_bt,
                      z = (y - target_mean) / target_scale (the training targets' mean and std)

The recurrent layers and pooling are :mod:`lstmkit.nn`'s and the heads act step by step, so
padding never changes a result: a sequence scores the same alone and in a batch of longer ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.metrics.classification import classification_metrics
from lstmkit.nn import GRU, LSTM
from lstmkit.nn.fcn import FCN
from lstmkit.nn.pooling import Pooling, lengths_to_mask
from lstmkit.tasks.sequence.config import SequenceModelConfig

MODES = ("sequence", "step_label", "step_value")


class SequenceNet(nn.Module):
    """(Bi)LSTM/GRU stack [+ a convolution branch] -> pooling or per-step head. See the module docstring.

    Args:
        n_features: ``F``.
        n_outputs: ``C`` labels (``1`` for ``step_value``).
        cfg: the ``model.*`` settings.
        mode: ``"sequence"`` (a label per sequence), ``"step_label"`` or ``"step_value"``.
        class_weights: ``(C,)`` loss weights for labels, or None.
        target_mean, target_scale: ``step_value``: the training targets' mean and standard
            deviation (the network predicts standardised values; metrics are in target units).
    """

    def __init__(self, n_features: int, n_outputs: int, cfg: SequenceModelConfig, mode: str = "sequence",
                 class_weights: Tensor | None = None, target_mean: float = 0.0, target_scale: float = 1.0) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if cfg.architecture == "lstm_fcn" and mode != "sequence":
            raise ValueError(f"architecture lstm_fcn predicts one label per sequence, not mode {mode!r}")
        self.mode = mode
        self.n_outputs = n_outputs
        self.label_smoothing = cfg.label_smoothing
        self.input_dropout = nn.Dropout(cfg.input_dropout)
        rnn_cls = LSTM if cfg.cell == "lstm" else GRU
        self.rnn = rnn_cls(n_features, cfg.hidden_size, num_layers=cfg.num_layers, batch_first=True,
                           dropout=cfg.dropout if cfg.num_layers > 1 else 0.0, bidirectional=cfg.bidirectional,
                           engine=cfg.engine, init=cfg.init)
        width = cfg.hidden_size * (2 if cfg.bidirectional else 1)
        self.pooling = None
        if mode == "sequence":
            self.pooling = Pooling(cfg.pooling, width, bidirectional=cfg.bidirectional,
                                   attention_size=cfg.attention_size)
            width = self.pooling.output_size
        self.fcn = self.branch_dropout = None  # no parameters: an rnn model's weights stay as they were
        if cfg.architecture == "lstm_fcn":
            self.branch_dropout = nn.Dropout(cfg.branch_dropout)
            self.fcn = FCN(n_features, cfg.conv_filters, cfg.conv_kernels, squeeze_excite=cfg.squeeze_excite,
                           reduction=cfg.se_reduction)
            width += self.fcn.output_size
        layers: list[nn.Module] = [nn.Dropout(cfg.classifier_dropout)]
        if cfg.hidden_layer:
            layers += [nn.Linear(width, cfg.hidden_layer), nn.ReLU(), nn.Dropout(cfg.classifier_dropout)]
            width = cfg.hidden_layer
        layers.append(nn.Linear(width, n_outputs))
        self.head = nn.Sequential(*layers)
        self.register_buffer("class_weights", class_weights, persistent=False)
        # Not saved with the weights: the estimator restores them from target_scaler.json.
        self.register_buffer("target_mean", torch.tensor(float(target_mean)), persistent=False)
        self.register_buffer("target_scale", torch.tensor(float(target_scale)), persistent=False)

    def forward(self, x: Tensor, lengths: Tensor, return_attention: bool = False):
        """``x (B, T, F)``, ``lengths (B,)`` -> ``(B, C)`` logits (sequence), ``(B, T, C)`` logits
        (step labels) or ``(B, T)`` values in target units (step values); padded steps of per-step
        outputs are 0. With ``return_attention`` also the attention weights ``(B, T)`` (or None)."""
        x = self.input_dropout(x)
        states, _ = self.rnn(x, lengths=lengths)  # (B, T, D*H), 0 at padding
        attention = None
        if self.mode == "sequence":
            pooled, attention = self._pooled(x, states, lengths)  # (B, P [+ K])
            out = self.head(pooled)  # (B, C)
        else:
            mask = lengths_to_mask(lengths, x.size(1)).unsqueeze(2)  # (B, T, 1)
            out = self.head(states) * mask  # (B, T, C)
            if self.mode == "step_value":
                out = out.squeeze(2) * self.target_scale + self.target_mean * mask.squeeze(2)  # (B, T)
        return (out, attention) if return_attention else out

    def _raw(self, batch: dict) -> Tensor:
        """Training-scale outputs: logits, or standardised values ``(B, T)``."""
        x = self.input_dropout(batch["x"])
        states, _ = self.rnn(x, lengths=batch["lengths"])
        if self.mode == "sequence":
            return self.head(self._pooled(x, states, batch["lengths"])[0])
        out = self.head(states)
        return out.squeeze(2) if self.mode == "step_value" else out

    def _pooled(self, x: Tensor, states: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        """One vector per sequence: the pooled states ``(B, P)``, with ``lstm_fcn`` (after
        ``branch_dropout``) followed by the convolution branch's ``(B, K)``; and the attention weights."""
        pooled, attention = self.pooling(states, lengths)  # (B, P)
        if self.fcn is not None:
            pooled = torch.cat([self.branch_dropout(pooled), self.fcn(x, lengths)], dim=1)  # (B, P + K)
        return pooled, attention

    def _loss(self, raw: Tensor, batch: dict, reduce: bool = True) -> Tensor:
        if self.mode == "sequence":
            return F.cross_entropy(raw, batch["labels"], weight=self.class_weights,
                                   label_smoothing=self.label_smoothing if self.training else 0.0)
        mask = lengths_to_mask(batch["lengths"], raw.size(1))  # (B, T)
        if self.mode == "step_label":
            return F.cross_entropy(raw[mask], batch["labels"][mask], weight=self.class_weights,
                                   label_smoothing=self.label_smoothing if self.training else 0.0)
        z = (batch["targets"] - self.target_mean) / self.target_scale  # (B, T)
        return F.mse_loss(raw[mask], z[mask])

    # lstmkit.training.train.TrainableModel
    def training_loss(self, batch: dict) -> Tensor:
        """Mean loss over the batch's sequences (or real steps); see the module docstring."""
        return self._loss(self._raw(batch), batch)

    def validation_output(self, batch: dict) -> dict:
        """Loss (unweighted, no smoothing) and the predictions and targets of every real step."""
        raw = self._raw(batch)
        weights, self.class_weights = self.class_weights, None
        try:
            loss = self._loss(raw, batch)
        finally:
            self.class_weights = weights
        if self.mode == "sequence":
            return {"loss": loss.detach(), "n": len(batch["labels"]), "pred": raw.argmax(-1).cpu(),
                    "target": batch["labels"].cpu()}
        mask = lengths_to_mask(batch["lengths"], raw.size(1))
        n = int(mask.sum())
        if self.mode == "step_label":
            return {"loss": loss.detach(), "n": n, "pred": raw.argmax(-1)[mask].cpu(),
                    "target": batch["labels"][mask].cpu()}
        pred = raw[mask] * self.target_scale + self.target_mean
        return {"loss": loss.detach(), "n": n, "pred": pred.detach().cpu(), "target": batch["targets"][mask].cpu()}

    def validation_metrics(self, outputs: list[dict]) -> dict[str, float]:
        """Labels: accuracy and macro-F1 (over the labels present; per step for step labels).
        Values: MAE and RMSE per step, in target units."""
        target = torch.cat([o["target"] for o in outputs])
        pred = torch.cat([o["pred"] for o in outputs])
        if self.mode == "step_value":
            error = (pred - target).double()
            return {"mae": error.abs().mean().item(), "rmse": error.pow(2).mean().sqrt().item()}
        report = classification_metrics(target.tolist(), pred.tolist())
        return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}
