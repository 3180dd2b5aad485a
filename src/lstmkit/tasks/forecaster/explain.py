r"""The forecaster's hooks for explanations: gates over the lookback window, and integrated
gradients from a forecast value back to the window's rows and features.

Symbols: L lookback, H horizon, T targets, Q outputs per value (3 quantiles, or 1), F features
per row (the standardised columns ``data.target``, ``data.covariates``, ``data.future_covariates``,
then the calendar features), K future-known inputs.

The input explained is the forecast ``predict`` makes from a series: from its last L rows of
history (with future covariates, the file's ``horizon`` future rows give the forecast steps'
known inputs).

* :func:`run_with_states` (``Forecaster.run_with_states``): the encoder's gate activations and
  states at each of the L rows (reference engine, trained weights). The encoder reads the
  window-normalised targets and the other features (:class:`~lstmkit.tasks.forecaster.network.ForecastNet`);
  the steps are named by the rows' times.
* :func:`attribution_spec` (``Forecaster.attribution_spec``):

  - **step vectors** ``(1, L, F)``: the window's rows as the network takes them (standardised
    columns and calendar features, *before* window normalisation, so what is attributed is the
    data itself);
  - **outputs**: every forecast value in the file's units, ``H * T * Q`` of them, named
    ``temp_max t+1`` (the point forecast: P50 for the quantile loss), ``temp_max t+1 p10`` and
    ``temp_max t+1 p90`` (quantile loss only); ``temp_max t+1 p50`` is an alias of the first.
    **Default**: the first target's first step, ``temp_max t+1``;
  - **baseline**: the *window mean*, every feature held at its mean over the window (a flat
    history at the window's level): the attributions then say how the window's *shape*, not its
    level, moved the forecast away from the flat history's forecast;
  - the forecast steps' future-known inputs (planned covariates, calendar) are held at their
    values: they are not part of the window and get no attribution.

  Attributions are per row (summed over the row's features) and, as ``feature_attributions``,
  per row and feature (``features`` names them): ``sum_{l,f} A_{l,f} = F_k(x) - F_k(x')``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from lstmkit.errors import DataError
from lstmkit.explain.gates import states_record
from lstmkit.tasks.forecaster.window_norm import normalise_window

__all__ = ["attribution_spec", "encoder_inputs", "lookback_window", "output_names", "run_with_states"]


def lookback_window(fc, x) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One input (a series) -> ``past (L, F)``, ``future (H, K)`` as ``Forecaster.forecast`` builds
    them, and the times of the L rows (ISO dates or numbers, as text)."""
    past, ahead, times, _ = _lookback(fc, x)
    return past, ahead, times


def _lookback(fc, x):
    """:func:`lookback_window`, plus the series' context."""
    from lstmkit.tasks.forecaster.series import times_json

    L = fc.config_.model.lookback
    contexts = fc._contexts(x)
    if len(contexts) != 1:
        raise DataError(f"explain takes one series, got {len(contexts)}")
    (ctx,) = contexts
    past, ahead, _ = fc._window(ctx, ctx.label)
    return past, ahead, [str(t) for t in times_json(ctx.time[: ctx.n_history][-L:])], ctx


def _statics(fc, ctx) -> tuple[Tensor, Tensor]:
    """The series' static inputs as (1, Sn) and (1, Sc) tensors."""
    numbers, categories = fc._statics([ctx])
    return torch.as_tensor(numbers), torch.as_tensor(categories)


def encoder_inputs(net, past: Tensor, static: Tensor | None = None) -> Tensor:
    """``past (B, L, F)`` (and the static vector ``s (B, E)``) -> what the encoder reads,
    ``(B, L, F + E)``: the window-normalised targets, then the other features (as
    :meth:`ForecastNet.forward`)."""
    T = net.n_targets
    z = past[..., :T]
    if net.cfg.window_norm != "none":
        z = normalise_window(z, net.cfg.window_norm, net.cfg.window_norm_eps)[0]
    parts = [z, past[..., T:]] + ([] if static is None else [static.unsqueeze(1).expand(-1, past.size(1), -1)])
    return torch.cat(parts, dim=-1)


def output_names(fc) -> tuple[list[str], dict[str, int]]:
    """The ``H * T * Q`` forecast values' names, in the network's order (step, target, quantile),
    and the aliases (``temp_max t+1 p50`` for the point forecast of a quantile model)."""
    from lstmkit.tasks.forecaster.config import quantile_key

    H, Q = fc.config_.model.horizon, fc.network_.n_out
    levels = list(fc.config_.model.quantiles) if Q > 1 else [0.5]
    names, aliases = [], {}
    for h in range(1, H + 1):
        for target in fc.columns_[: fc.n_targets_]:
            base = f"{target} t+{h}"
            if Q == 1:
                names.append(base)
                continue
            for q in levels:
                if q == 0.5:
                    aliases[f"{base} p50"] = len(names)
                    names.append(base)
                else:
                    names.append(f"{base} {quantile_key(q)}")
    return names, aliases


@torch.inference_mode()
def run_with_states(fc, X) -> list[dict]:
    """Per series: ``steps`` (the times of its last L rows), ``gates`` of the encoder (per layer and
    direction, LSTM ``i, f, g, o, c`` or GRU ``r, z, n``, each ``(L, S)``) and ``outputs`` (the last
    layer's states ``(L, D*S)``), from the reference engine with the trained weights."""
    fc._check_fitted()
    net = fc.network_.cpu().eval()
    items = X if isinstance(X, list) else [X]
    records = []
    for x in items:
        past, _, times, ctx = _lookback(fc, x)
        inputs = encoder_inputs(net, torch.as_tensor(past).unsqueeze(0), net.static_vector(*_statics(fc, ctx)))
        outputs, _, gates = net.encoder(inputs, return_gates=True)
        records.append({"steps": times, **states_record(outputs, gates)})
    return records


def attribution_spec(fc, x, target: int | None = None):
    """What integrated gradients needs for one series (see the module docstring)."""
    from lstmkit.explain.attributions import AttributionSpec

    fc._check_fitted()
    net = fc.network_.cpu().eval()
    past, future, times, ctx = _lookback(fc, x)
    inputs = torch.as_tensor(past).unsqueeze(0)  # (1, L, F)
    future = torch.as_tensor(future).unsqueeze(0)  # (1, H, K)
    numbers, categories = _statics(fc, ctx)  # (1, Sn), (1, Sc)
    T = fc.n_targets_
    scaler = fc._scaler_for(ctx)
    scale = torch.as_tensor(scaler.scale_[:T], dtype=torch.float32)[:, None]  # (T, 1)
    mean = torch.as_tensor(scaler.mean_[:T], dtype=torch.float32)[:, None]
    offsets = torch.zeros(1)
    if fc.interval_offsets_ is not None and net.n_out > 1:  # calibration: (Q, H, T) -> (H, T, Q)
        offsets = torch.as_tensor(np.moveaxis(fc.interval_offsets_, 0, -1), dtype=torch.float32)

    def raw(z: Tensor) -> Tensor:
        n = z.size(0)
        out = net(z, future.expand(n, -1, -1), numbers.expand(n, -1), categories.expand(n, -1))  # (N, H, T, Q)
        return out + offsets if net.n_out > 1 else out

    # predict sorts the quantiles; along the path from the baseline two of them may cross, and a sort
    # there is a kink that integrated gradients' quadrature misses. The order at the input is kept on
    # the whole path instead: at the input the values are predict's, and the path is smooth.
    with torch.no_grad():
        order = raw(inputs).argsort(dim=-1)  # (1, H, T, Q)

    def forward(z: Tensor) -> Tensor:
        """``z (N, L, F)`` -> ``(N, H*T*Q)``: the forecast values in the file's units, as ``predict``."""
        out = raw(z)
        if net.n_out > 1:
            out = out.gather(-1, order.expand(out.size(0), -1, -1, -1))
        return (out * scale + mean).flatten(1)

    names, aliases = output_names(fc)
    return AttributionSpec(
        steps=times,
        inputs=inputs,
        baseline=inputs.mean(dim=1, keepdim=True).expand_as(inputs).clone(),
        baseline_name="window mean: every feature held at its mean over the lookback window (a flat history); "
                      "the forecast steps' future-known inputs kept",
        forward=forward,
        output_names=names,
        target=names.index(f"{fc.columns_[0]} t+1") if target is None else target,
        value_name="forecast",
        features=list(fc.columns_) + list(fc.calendar_),
        aliases=aliases,
        outputs_label="its forecast values",
        step_kind="time",
    )
