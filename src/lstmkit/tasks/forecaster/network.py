"""The forecaster's network: a (Bi)LSTM/GRU encoder over the lookback window, then all horizon
steps at once (direct) or one at a time (autoregressive), as point forecasts or quantiles.

Symbols: B batch, L lookback, H horizon, T targets, P past-only covariates, K future-known
inputs (``data.future_covariates`` and calendar features), F = T + P + K, D directions,
S hidden size, Q outputs per value (one per ``model.quantiles`` for the quantile loss, else 1),
E the static vector's size. Everything is in *standardised* units (each column scaled by its
series' training mean and std).

Static inputs (many series): numeric static covariates ``static_numbers`` (B, Sn), standardised
over the training series, and categorical ones ``static_categories`` (B, Sc) as integer codes (0:
a value not seen in training), each through its own embedding of size ``model.static_embedding``;
with ``model.id_embedding`` > 0 the series id is one more category. Together::

    s = [static_numbers ; emb_1(c_1) ; ... ; emb_Sc(c_Sc)]      (B, E)   (E = 0: no static input)

Forward pass::

    past (B, L, F) --targets--> x (B, L, T) --window norm--> z (B, L, T), loc, scale (B, 1, T)
    encoder input [z ; past covariates ; future-known inputs ; s] (B, L, F + E) --LSTM/GRU-->
                                                          h (B, D*S)  (last layer's final states)
    direct:          [h ; future (B, H*K) ; s] --Linear-GELU-Dropout-Linear--> (B, H, T, Q)
    autoregressive:  c_0 = 0, h_0 = tanh(W h);  for step j = 1..H:
                     h_j = LSTMCell([zhat_{j-1} ; future_j], h_{j-1})  (zhat_0 = z_L, the last value)
                     out_j = Linear(h_j) (T, Q),  zhat_j = out_j's median
    linear skip:     + z^T W_skip (per target, W_skip (L, H), zero at start) on every quantile
    output           (B, H, T, Q) = normalised output * scale + loc

Window normalisation (:mod:`lstmkit.tasks.forecaster.window_norm`) with ``location="last"`` makes a zero
output the naive forecast, so the network learns changes from the last value and a trending
series that leaves the training range looks like the windows it was trained on. The linear
skip starts at zero and can learn a drift (a straight line through the window) on its own.

Losses over the (B, H, T) truth ``y`` (standardised) and forecast ``f``::

    mse  mean (y - f)^2;  mae  mean |y - f|;  huber  torch's huber_loss(delta)
    quantile  mean over q in model.quantiles of max(q (y - f_q), (q - 1)(y - f_q))   (pinball)

At prediction time the quantiles are sorted, so P10 <= P50 <= P90 always holds.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.nn import GRU, LSTM
from lstmkit.tasks.forecaster.config import ForecastModelConfig
from lstmkit.tasks.forecaster.window_norm import denormalise_window, normalise_window

QUANTILES = (0.1, 0.5, 0.9)
"""The default ``model.quantiles``."""


class ForecastNet(nn.Module):
    """Encoder -> direct or autoregressive multi-step head (see the module docstring).

    ``n_static_numbers`` numeric static inputs and one embedding per entry of ``category_sizes``
    (codes 0..size-1, 0 for unseen values) make the static vector ``s``."""

    def __init__(self, n_targets: int, n_features: int, n_future: int, cfg: ForecastModelConfig,
                 n_static_numbers: int = 0, category_sizes: tuple[int, ...] = (),
                 category_dims: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_targets, self.n_future, self.horizon = n_targets, n_future, cfg.horizon
        self.quantile = cfg.loss == "quantile"
        levels = tuple(cfg.quantiles) if self.quantile else (0.5,)
        self.n_out = len(levels)
        self.median_index = levels.index(0.5)
        self.register_buffer("quantiles", torch.tensor(levels), persistent=False)
        self.n_static_numbers = n_static_numbers
        dims = tuple(category_dims) or (cfg.static_embedding,) * len(category_sizes)
        self.embeddings = nn.ModuleList(nn.Embedding(size, dim) for size, dim in zip(category_sizes, dims))
        self.n_static = n_static_numbers + sum(dims[: len(category_sizes)])
        rnn_cls = LSTM if cfg.cell == "lstm" else GRU
        self.encoder = rnn_cls(n_features + self.n_static, cfg.hidden_size, num_layers=cfg.num_layers,
                               batch_first=True, dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
                               bidirectional=cfg.bidirectional)
        self.directions = 2 if cfg.bidirectional else 1
        summary = cfg.hidden_size * self.directions
        self.dropout = nn.Dropout(cfg.dropout)
        out = n_targets * self.n_out
        if cfg.decoder == "direct":
            self.head = nn.Sequential(nn.Linear(summary + cfg.horizon * n_future + self.n_static, cfg.hidden_size),
                                      nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden_size, cfg.horizon * out))
        else:
            self.bridge = nn.Linear(summary, cfg.hidden_size)
            self.cell = nn.LSTMCell(n_targets + n_future, cfg.hidden_size)
            self.step_out = nn.Linear(cfg.hidden_size, out)
        self.skip = None
        if cfg.linear_skip:
            self.skip = nn.Linear(cfg.lookback, cfg.horizon)
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)

    # ------------------------------------------------------------------ forward
    def static_vector(self, numbers: Tensor | None, categories: Tensor | None) -> Tensor | None:
        """``numbers`` (B, Sn) float and ``categories`` (B, Sc) long -> ``s`` (B, E), or None (E = 0)."""
        if not self.n_static:
            return None
        parts = [numbers] if self.n_static_numbers else []
        parts += [emb(categories[:, j]) for j, emb in enumerate(self.embeddings)]
        return torch.cat(parts, dim=-1)

    def forward(self, past: Tensor, future: Tensor, static_numbers: Tensor | None = None,
                static_categories: Tensor | None = None) -> Tensor:
        """``past`` (B, L, F), ``future`` (B, H, K), statics (B, Sn) / (B, Sc) -> forecast (B, H, T, Q),
        standardised units."""
        T, H = self.n_targets, self.horizon
        x = past[..., :T]  # (B, L, T)
        if self.cfg.window_norm == "none":
            z, loc, scale = x, torch.zeros_like(x[:, -1:]), torch.ones_like(x[:, -1:])
        else:
            z, loc, scale = normalise_window(x, self.cfg.window_norm, self.cfg.window_norm_eps)
        s = self.static_vector(static_numbers, static_categories)  # (B, E) or None
        inputs = [z, past[..., T:]] + ([] if s is None else [s.unsqueeze(1).expand(-1, past.size(1), -1)])
        _, state = self.encoder(torch.cat(inputs, dim=-1))
        h_n = state[0] if isinstance(state, tuple) else state  # (layers*D, B, S)
        h = torch.cat(list(h_n[-self.directions:]), dim=-1)  # (B, D*S)
        h = self.dropout(h)
        if self.cfg.decoder == "direct":
            head_input = [h, future.flatten(1)] + ([] if s is None else [s])
            out = self.head(torch.cat(head_input, dim=-1)).view(-1, H, T, self.n_out)
        else:
            out = self._decode(h, z[:, -1], future)
        if self.skip is not None:
            out = out + self.skip(z.transpose(1, 2)).transpose(1, 2).unsqueeze(-1)  # (B, H, T, 1)
        return denormalise_window(out, loc.unsqueeze(-1), scale.unsqueeze(-1))  # (B, H, T, Q)

    def _decode(self, h: Tensor, last: Tensor, future: Tensor) -> Tensor:
        """Autoregressive steps: ``h`` (B, D*S), ``last`` (B, T), ``future`` (B, H, K) -> (B, H, T, Q)."""
        hidden = torch.tanh(self.bridge(h))
        cell = torch.zeros_like(hidden)
        previous, steps = last, []
        for j in range(self.horizon):
            hidden, cell = self.cell(torch.cat([previous, future[:, j]], dim=-1), (hidden, cell))
            out = self.step_out(self.dropout(hidden)).view(-1, self.n_targets, self.n_out)  # (B, T, Q)
            steps.append(out)
            previous = out[..., self.median_index]
        return torch.stack(steps, dim=1)

    def predict(self, past: Tensor, future: Tensor, static_numbers: Tensor | None = None,
                static_categories: Tensor | None = None) -> Tensor:
        """Forecast (B, H, T, Q) with the quantiles in increasing order."""
        out = self(past, future, static_numbers, static_categories)
        return out.sort(dim=-1).values if self.quantile else out

    # ------------------------------------------------------------------ loss
    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        """Mean loss of ``out`` (B, H, T, Q) against ``y`` (B, H, T)."""
        if self.quantile:
            error = y.unsqueeze(-1) - out  # (B, H, T, Q)
            q = self.quantiles
            return torch.maximum(q * error, (q - 1) * error).mean()
        f = out[..., 0]
        if self.cfg.loss == "mse":
            return F.mse_loss(f, y)
        if self.cfg.loss == "mae":
            return F.l1_loss(f, y)
        return F.huber_loss(f, y, delta=self.cfg.huber_delta)

    def point(self, out: Tensor) -> Tensor:
        """The point forecast (B, H, T): P50 for quantiles, else the single output."""
        return out[..., self.median_index]

    # ------------------------------------------------------------------ TrainableModel
    def _batch_forward(self, batch: dict) -> Tensor:
        return self(batch["past"], batch["future"], batch.get("static_numbers"), batch.get("static_categories"))

    def training_loss(self, batch: dict) -> Tensor:
        return self.loss(self._batch_forward(batch), batch["y"])

    def validation_output(self, batch: dict) -> dict:
        out = self._batch_forward(batch)
        return {"loss": self.loss(out, batch["y"]), "n": len(batch["y"]),
                "abs_error": (self.point(out) - batch["y"]).abs().sum(), "count": batch["y"].numel()}

    def validation_metrics(self, outputs: list[dict]) -> dict[str, float]:
        """``mae`` of the point forecast, in standardised units (training standard deviations)."""
        total = sum(float(o["abs_error"]) for o in outputs)
        count = sum(o["count"] for o in outputs)
        return {"mae": total / max(count, 1)}
