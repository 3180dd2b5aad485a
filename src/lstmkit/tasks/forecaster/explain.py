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

from lstmkit.data.window_norm import normalise_window
from lstmkit.errors import DataError
from lstmkit.explain.gates import states_record

__all__ = ["attribution_spec", "encoder_inputs", "lookback_window", "output_names", "run_with_states"]


def lookback_window(fc, x) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """One input (a series) -> ``past (L, F)``, ``future (H, K)`` as ``Forecaster.forecast`` builds
    them, and the times of the L rows (ISO dates or numbers, as text)."""
    from lstmkit.tasks.forecaster.estimator import _times_json

    L = fc.config_.model.lookback
    contexts = fc._contexts(x)
    if len(contexts) != 1:
        raise DataError(f"explain takes one series, got {len(contexts)}")
    (ctx,) = contexts
    past, ahead, _ = fc._window(ctx, ctx.path or "the input")
    return past, ahead, [str(t) for t in _times_json(ctx.time[: ctx.n_history][-L:])]


def encoder_inputs(net, past: Tensor) -> Tensor:
    """``past (B, L, F)`` -> what the encoder reads, ``(B, L, F)``: the window-normalised targets,
    then the other features (as :meth:`ForecastNet.forward`)."""
    T = net.n_targets
    z = past[..., :T]
    if net.cfg.window_norm != "none":
        z = normalise_window(z, net.cfg.window_norm, net.cfg.window_norm_eps)[0]
    return torch.cat([z, past[..., T:]], dim=-1)


def output_names(fc) -> tuple[list[str], dict[str, int]]:
    """The ``H * T * Q`` forecast values' names, in the network's order (step, target, quantile),
    and the aliases (``temp_max t+1 p50`` for the point forecast of a quantile model)."""
    H, Q = fc.config_.model.horizon, fc.network_.n_out
    names, aliases = [], {}
    for h in range(1, H + 1):
        for target in fc.columns_[: fc.n_targets_]:
            base = f"{target} t+{h}"
            if Q == 1:
                names.append(base)
                continue
            aliases[f"{base} p50"] = len(names) + 1
            names += [f"{base} p10", base, f"{base} p90"]
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
        past, _, times = lookback_window(fc, x)
        inputs = encoder_inputs(net, torch.as_tensor(past).unsqueeze(0))
        outputs, _, gates = net.encoder(inputs, return_gates=True)
        records.append({"steps": times, **states_record(outputs, gates)})
    return records


def attribution_spec(fc, x, target: int | None = None):
    """What integrated gradients needs for one series (see the module docstring)."""
    from lstmkit.explain.attributions import AttributionSpec

    fc._check_fitted()
    net = fc.network_.cpu().eval()
    past, future, times = lookback_window(fc, x)
    inputs = torch.as_tensor(past).unsqueeze(0)  # (1, L, F)
    future = torch.as_tensor(future).unsqueeze(0)  # (1, H, K)
    T = fc.n_targets_
    scale = torch.as_tensor(fc.scaler_.scale_[:T], dtype=torch.float32)[:, None]  # (T, 1)
    mean = torch.as_tensor(fc.scaler_.mean_[:T], dtype=torch.float32)[:, None]

    def forward(z: Tensor) -> Tensor:
        """``z (N, L, F)`` -> ``(N, H*T*Q)``: the forecast values in the file's units."""
        out = net.predict(z, future.expand(z.size(0), -1, -1))  # (N, H, T, Q) standardised, sorted quantiles
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
