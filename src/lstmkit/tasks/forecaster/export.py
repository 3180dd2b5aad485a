r"""The forecaster's hook for ONNX export: raw history in, the forecast in the targets' units out.

Symbols: B windows, L = ``model.lookback``, H = ``model.horizon`` (both fixed by the model),
C columns (the targets, then ``data.covariates``, then ``data.future_covariates``: the sidecar's
``columns``), T targets, Kf future covariates, Kc calendar features, Q = 3 quantiles (P10, P50,
P90) for the quantile loss. Inputs (only those the model uses, in this order)::

    history            (B, L, C)      float32  the last L rows of history, in the file's units
    future_covariates  (B, H, Kf)     float32  the planned values for the H forecast steps (Kf > 0)
    calendar           (B, L + H, Kc) float32  calendar features of the L history times, then of the
                                               H forecast times (lstmkit.data.formats.timeseries.calendar_features)

Output: ``forecast (B, H, T, Q)`` with the quantiles in increasing order (quantile loss), or
``forecast (B, H, T)`` (a point loss), in the targets' units. The graph is the whole of
``predict``'s arithmetic: the column scaling of ``scaler.json`` (``(x - mean) / scale``), the
per-window normalisation, the encoder (:class:`lstmkit.export.rnn.ExportableRecurrent` over the
full window), the direct head or the autoregressive one (its loop over the H steps is a fixed
number, unrolled in the graph), the linear skip, and the inverse scaling of the targets.

Parsing the series (times, missing values) and the calendar features are outside the graph;
:func:`graph_inputs` makes the inputs from DataFrames (or CSV files) with the sidecar alone,
through the same readers ``predict`` uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from lstmkit.data.formats.timeseries import calendar_features, future_times
from lstmkit.errors import DataError
from lstmkit.export.rnn import ExportableRecurrent
from lstmkit.nn.ensemble import members_of
from lstmkit.tasks.base import ExportSpec
from lstmkit.tasks.forecaster.window_norm import normalise_window


def input_names(n_future: int, n_calendar: int, panel: bool = False, n_numbers: int = 0,
                n_categories: int = 0) -> list[str]:
    """The graph's inputs for a model with ``n_future`` future covariates and ``n_calendar`` calendar features
    (a many-series model also takes each series' scaling and its static inputs)."""
    return (["history"] + (["future_covariates"] if n_future else []) + (["calendar"] if n_calendar else [])
            + (["series_mean", "series_scale"] if panel else []) + (["static_numbers"] if n_numbers else [])
            + (["static_categories"] if n_categories else []))


def lstm_cell(cell: nn.LSTMCell, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """``torch.nn.LSTMCell``'s step written out (its exported ``chunk`` needs a known batch size):
    ``[i, f, g, o] = x W_ih^T + b_ih + h W_hh^T + b_hh`` (gate order i, f, g, o), then
    ``c' = sigmoid(f) c + sigmoid(i) tanh(g)``, ``h' = sigmoid(o) tanh(c')``; ``(B, S)`` each."""
    S = cell.hidden_size
    gates = x @ cell.weight_ih.t() + cell.bias_ih + h @ cell.weight_hh.t() + cell.bias_hh  # (B, 4S)
    i, f = torch.sigmoid(gates[:, :S]), torch.sigmoid(gates[:, S: 2 * S])
    g, o = torch.tanh(gates[:, 2 * S: 3 * S]), torch.sigmoid(gates[:, 3 * S:])
    c = f * c + i * g
    return o * torch.tanh(c), c


class ForecastGraph(nn.Module):
    """``(history[, future_covariates][, calendar]) -> forecast``: ``predict`` as a graph.

    Shares the trained :class:`~lstmkit.tasks.forecaster.network.ForecastNet`'s weights.
    """

    def __init__(self, net: nn.Module, mean: np.ndarray, scale: np.ndarray, n_future: int, n_calendar: int,
                 offsets: np.ndarray | None = None, panel: bool = False) -> None:
        super().__init__()
        self.net = net.eval()
        self.members = members_of(net)  # an ensemble's members: their standardised forecasts are averaged
        self.encoders = nn.ModuleList(ExportableRecurrent(member.encoder) for member in self.members)
        self.n_future, self.n_calendar, self.panel = n_future, n_calendar, panel
        self.names = input_names(n_future, n_calendar, panel, net.n_static_numbers, len(net.embeddings))
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))  # (C,)
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))  # (C,)
        use = offsets is not None and net.quantile  # calibration of a quantile model: (Q, H, T) -> (H, T, Q)
        self.register_buffer("offsets", torch.as_tensor(np.moveaxis(offsets, 0, -1) if use else np.zeros(1),
                                                        dtype=torch.float32))

    def scaling(self, batch: dict) -> tuple[Tensor, Tensor]:
        """Each window's column means and scales, ``(B, 1, C)`` (a many-series model's are inputs)."""
        if self.panel:
            return batch["series_mean"].unsqueeze(1), batch["series_scale"].unsqueeze(1)
        return self.mean.view(1, 1, -1), self.scale.view(1, 1, -1)

    def features(self, batch: dict) -> tuple[Tensor, Tensor | None]:
        """The network's ``past (B, L, F)`` and ``future (B, H, K)`` (``None`` when K = 0), standardised."""
        L = self.net.cfg.lookback
        mean, scale = self.scaling(batch)
        past = [(batch["history"] - mean) / scale]  # (B, L, C)
        future = []
        if self.n_future:
            k = self.n_future
            future.append((batch["future_covariates"] - mean[..., -k:]) / scale[..., -k:])  # (B, H, Kf)
        if self.n_calendar:
            past.append(batch["calendar"][:, :L])  # (B, L, Kc)
            future.append(batch["calendar"][:, L:])  # (B, H, Kc)
        return torch.cat(past, dim=-1), (torch.cat(future, dim=-1) if future else None)

    def member_forecast(self, net: nn.Module, encoder: nn.Module, batch: dict, past: Tensor,
                        future: Tensor | None) -> Tensor:
        """One network's forecast ``(B, H, T, Q)`` in standardised units (:meth:`ForecastNet.forward`)."""
        cfg = net.cfg
        static = net.static_vector(batch.get("static_numbers"), batch.get("static_categories"))  # (B, E) or None
        T, H, Q, L = net.n_targets, net.horizon, net.n_out, cfg.lookback
        x = past[..., :T]  # (B, L, T)
        if cfg.window_norm == "none":
            z, loc, scale = x, torch.zeros_like(x[:, -1:]), torch.ones_like(x[:, -1:])
        else:
            z, loc, scale = normalise_window(x, cfg.window_norm, cfg.window_norm_eps)  # (B, L, T), (B, 1, T) x2
        lengths = torch.full_like(past[:, 0, 0], cfg.lookback, dtype=torch.long)  # (B,): every window is full
        encoder_input = [z, past[..., T:]] + ([] if static is None else [static.unsqueeze(1).expand(-1, L, -1)])
        _, h_n = encoder(torch.cat(encoder_input, dim=-1), lengths)  # (layers*D, B, S)
        D, last = net.directions, net.encoder.num_layers * net.directions  # the last layer's D final states
        h = torch.cat([h_n[last - D + d] for d in range(D)], dim=-1)  # (B, D*S)
        if cfg.decoder == "direct":
            head_input = [h] + ([] if future is None else [future.flatten(1)]) + ([] if static is None else [static])
            out = net.head(torch.cat(head_input, dim=-1)).view(-1, H, T, Q)  # (B, H, T, Q)
        else:
            hidden = torch.tanh(net.bridge(h))
            cell = torch.zeros_like(hidden)
            previous, steps = z[:, -1], []  # (B, T)
            for j in range(H):  # a fixed number of steps: unrolled in the graph
                step_input = previous if future is None else torch.cat([previous, future[:, j]], dim=-1)
                hidden, cell = lstm_cell(net.cell, step_input, hidden, cell)
                step = net.step_out(hidden).view(-1, T, Q)  # (B, T, Q)
                steps.append(step)
                previous = step[..., net.median_index]
            out = torch.stack(steps, dim=1)  # (B, H, T, Q)
        if net.skip is not None:
            out = out + net.skip(z.transpose(1, 2)).transpose(1, 2).unsqueeze(-1)  # (B, H, T, 1)
        return out * scale.unsqueeze(-1) + loc.unsqueeze(-1)  # standardised units

    def forward(self, *inputs: Tensor) -> Tensor:
        net, T = self.net, self.net.n_targets
        batch = dict(zip(self.names, inputs))
        past, future = self.features(batch)
        outs = [self.member_forecast(member, encoder, batch, past, future)
                for member, encoder in zip(self.members, self.encoders)]
        out = outs[0] if len(outs) == 1 else torch.stack(outs).mean(0)  # as ForecastEnsemble.forward
        if net.quantile:
            out = (out + self.offsets).sort(dim=-1).values
        mean, scale = self.scaling(batch)  # (B or 1, 1, C)
        out = out * scale[:, :, :T, None] + mean[:, :, :T, None]  # the targets' units
        return out if net.quantile else out[..., 0]


def sidecar_extra(fc) -> dict:
    """The series' layout, the scaling and the intervals, for :func:`graph_inputs` and the user."""
    data, model = fc.config_.data, fc.config_.model
    net = fc.network_
    names = input_names(len(data.future_covariates), len(fc.calendar_), fc.panel_, net.n_static_numbers,
                        len(net.embeddings))
    quantile = model.loss == "quantile"
    shape = (f"(batch, horizon, targets, {len(model.quantiles)}): the quantiles {list(model.quantiles)}"
             if quantile else "(batch, horizon, targets)")
    docs = {
        "history": f"the last lookback={model.lookback} rows of history (batch, {model.lookback}, columns) float32, "
                   "in the file's units, columns in the order of columns",
        "future_covariates": f"the future covariates of the horizon={model.horizon} forecast steps (batch, "
                             f"{model.horizon}, {len(data.future_covariates)}) float32, in the file's units",
        "calendar": "calendar_features(times, freq) of the lookback times then the horizon forecast times (batch, "
                    f"{model.lookback + model.horizon}, {len(fc.calendar_)}) float32, columns named by calendar",
        "series_mean": "each series' column means (batch, columns) float32: scaler.series' mean for a training "
                       "series, else the mean of its history",
        "series_scale": "each series' column standard deviations (batch, columns) float32, as series_mean",
        "static_numbers": "the numeric static covariates, standardised with statics.numbers (batch, n) float32",
        "static_categories": "the categorical static covariates' codes (and the series id's, with an id embedding) "
                             "from statics.categories / statics.ids, 0 when unseen (batch, n) int64",
    }
    return {
        "targets": fc.columns_[: fc.n_targets_],
        "columns": list(fc.columns_),
        "calendar": list(fc.calendar_),
        "freq": fc.freq_,
        "numeric_time": fc.numeric_time_,
        "lookback": model.lookback,
        "horizon": model.horizon,
        "quantiles": list(model.quantiles) if quantile else None,
        "residual_quantiles": _residual_quantiles(fc) if not quantile else None,
        "data": {"time_column": data.time_column, "target": list(data.target), "covariates": list(data.covariates),
                 "future_covariates": list(data.future_covariates), "calendar": data.calendar,
                 "missing": data.missing, "freq": data.freq, "id_column": data.id_column,
                 "static_covariates": list(data.static_covariates)},
        "scaler": fc._folder_state()["extra"]["scaler"],
        "statics": fc.statics_.to_json(),
        "panel": fc.panel_,
        "interval_offsets": None if fc.interval_offsets_ is None else np.asarray(fc.interval_offsets_).tolist(),
        "inputs": {name: docs[name] for name in names},
        "outputs": {"forecast": f"{shape} float32 in the targets' units"
                                + ("" if quantile else "; other quantiles: add residual_quantiles' (horizon, "
                                                       "targets) arrays")},
    }


def _residual_quantiles(fc) -> dict | None:
    """A point-loss model's calibrated offsets in the targets' units: ``{"p10": (H, T), ...}``."""
    from lstmkit.tasks.forecaster.config import quantile_key

    if fc.interval_offsets_ is None or fc.panel_:  # many series: interval_offsets times series_scale
        return None
    scale = fc.scaler_.scale_[: fc.n_targets_]
    return {quantile_key(q): (fc.interval_offsets_[k] * scale).tolist()
            for k, q in enumerate(fc.config_.model.quantiles) if q != 0.5}


def graph_inputs(sidecar: dict, series: list) -> dict[str, np.ndarray]:
    """The graph's inputs for each series, from the sidecar alone (no model folder, no PyTorch model).

    Args:
        sidecar: the export's JSON sidecar (or :func:`sidecar_extra`'s dict).
        series: each a pandas DataFrame with the ``data.*`` columns, or a CSV file, read and
            checked as ``predict`` reads them (missing values interpolated, ...): at least
            ``lookback`` rows of history, and with future covariates ``horizon`` more rows whose
            targets are empty.

    Returns:
        ``{input name: array}`` (see the module docstring), one window per series: the forecast
        of the ``horizon`` steps after each series' last row of history.
    """
    from lstmkit.data.scaling import Standardizer
    from lstmkit.tasks.forecaster.config import ForecastDataConfig
    from lstmkit.tasks.forecaster.panel import contexts_from_frame, read_panel
    from lstmkit.tasks.forecaster.series import context_from_frame, read_context
    from lstmkit.tasks.forecaster.statics import StaticEncoding

    data = ForecastDataConfig(**sidecar["data"])
    L, H = int(sidecar["lookback"]), int(sidecar["horizon"])
    n_future = H if data.future_covariates else 0
    contexts = []
    for n, item in enumerate(series):
        if data.id_column:
            found = (contexts_from_frame(item, data, name=f"series {n}", future_rows=n_future)
                     if isinstance(item, pd.DataFrame) else read_panel(Path(item), data, future_rows=n_future))
            contexts += found
        elif isinstance(item, pd.DataFrame):
            contexts.append(context_from_frame(item, data, name=f"series {n}", future_rows=n_future))
        else:
            contexts.append(read_context(Path(item), data, future_rows=n_future))
    history, future, calendar, means, scales = [], [], [], [], []
    known = {s["id"]: s for s in sidecar["scaler"].get("series", [])}
    for n, ctx in enumerate(contexts):
        if list(ctx.columns) != sidecar["columns"]:
            raise DataError(f"series {n} has columns {ctx.columns}; the model takes {sidecar['columns']}", ctx.path)
        if ctx.n_history < L:
            raise DataError(f"series {n}: {ctx.n_history} rows of history; the model needs lookback={L}", ctx.path)
        history.append(ctx.values[ctx.n_history - L: ctx.n_history])  # (L, C)
        if n_future:
            future.append(ctx.values[ctx.n_history:, len(ctx.columns) - len(data.future_covariates):])  # (H, Kf)
        if sidecar["calendar"]:
            past_times = ctx.time[ctx.n_history - L: ctx.n_history]
            if n_future:
                ahead = ctx.time[ctx.n_history:]
            elif sidecar["freq"] is None:
                raise DataError(f"series {n}: the model's series had no regular step, so the forecast times "
                                "(and their calendar features) are unknown", ctx.path)
            else:
                ahead = future_times(ctx.time[: ctx.n_history], sidecar["freq"], H)
            calendar.append(calendar_features(past_times.append(ahead), sidecar["freq"]))  # (L + H, Kc)
        if sidecar.get("panel"):  # the series' training scaling, or its own history's for a series not seen
            scaler = known.get(ctx.series_id)
            if scaler is None:
                fitted = Standardizer(sidecar["columns"]).fit(ctx.values[: ctx.n_history])
                scaler = {"mean": fitted.mean_.tolist(), "scale": fitted.scale_.tolist()}
            means.append(scaler["mean"])
            scales.append(scaler["scale"])
    feeds = {"history": np.stack(history)}
    if n_future:
        feeds["future_covariates"] = np.stack(future)
    if sidecar["calendar"]:
        feeds["calendar"] = np.stack(calendar)
    if sidecar.get("panel"):
        feeds["series_mean"], feeds["series_scale"] = np.asarray(means), np.asarray(scales)
    numbers, categories = StaticEncoding.from_json(sidecar.get("statics") or {}).encode(contexts)
    if numbers.shape[1]:
        feeds["static_numbers"] = numbers
    out = {name: value.astype(np.float32) for name, value in feeds.items()}
    if categories.shape[1]:
        out["static_categories"] = categories.astype(np.int64)
    return out


def export_spec(fc) -> ExportSpec:
    """The :class:`ExportSpec` of a fitted :class:`~lstmkit.tasks.forecaster.Forecaster`."""
    fc._check_fitted()
    net = fc.network_.cpu().eval()
    model = fc.config_.model
    n_future, n_calendar = len(fc.config_.data.future_covariates), len(fc.calendar_)
    if fc.panel_:  # the graph takes each series' scaling; these only make the example inputs
        scalers = list(fc.scalers_.values())
        mean = np.mean([s.mean_ for s in scalers], axis=0)
        scale = np.mean([s.scale_ for s in scalers], axis=0)
    else:
        mean, scale = fc.scaler_.mean_, fc.scaler_.scale_
    graph = ForecastGraph(net, mean, scale, n_future, n_calendar, fc.interval_offsets_, panel=fc.panel_)
    generator = torch.Generator().manual_seed(0)
    B, L, H = 3, model.lookback, model.horizon
    names = graph.names
    examples = {"history": graph.mean + graph.scale * torch.randn(B, L, len(mean), generator=generator)}  # about
    if n_future:  # the training data's range
        examples["future_covariates"] = graph.mean[-n_future:] + graph.scale[-n_future:] * torch.randn(
            B, H, n_future, generator=generator)
    if n_calendar:
        examples["calendar"] = torch.rand(B, L + H, n_calendar, generator=generator) * 2 - 1  # sines and cosines
    if fc.panel_:
        examples["series_mean"] = graph.mean.expand(B, -1).clone()
        examples["series_scale"] = graph.scale.expand(B, -1).clone()
    if net.n_static_numbers:
        examples["static_numbers"] = torch.randn(B, net.n_static_numbers, generator=generator)
    if len(net.embeddings):
        examples["static_categories"] = torch.stack([torch.randint(0, e.num_embeddings, (B,), generator=generator)
                                                     for e in net.embeddings], dim=1)
    axes = {name: {0: "batch"} for name in names}
    return ExportSpec(
        module=graph,
        example_inputs=tuple(examples[name] for name in names),
        input_names=names,
        output_names=["forecast"],
        dynamic_axes={**axes, "forecast": {0: "batch"}},
        extra=sidecar_extra(fc),
    )
