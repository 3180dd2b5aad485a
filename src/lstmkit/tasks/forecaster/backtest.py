"""Backtests: a forecaster's forecasts from every origin of a file, scored against what happened.

An *origin* is the time of the first step a forecast predicts (a window's first forecast row, as
in :mod:`lstmkit.tasks.forecaster.windows`); the forecast reads the ``lookback`` rows before it. Origins run
over every series of the data from ``start`` (default: the first row with ``lookback`` rows of
history) every ``stride`` rows, while the ``horizon`` steps stay inside the series::

    origin o, series s:   rows o-L .. o-1 -> forecast of rows o .. o+H-1, scored against them

* ``refit="never"`` (the default) reuses the model: every window of every series goes through
  the network in batches in one pass, exactly as ``predict`` would forecast from that history
  (a test checks it), so a backtest costs about one ``predict`` call on as many windows.
* ``refit=N`` retrains a fresh model with the model's own settings every N origins (in time
  order over all series), on the rows of every series strictly before the first origin of
  those N: all of them (``window="expanding"``) or the last as many rows as the model was
  trained on (``"sliding"``). A refit never sees a value at or after its origin (a test checks
  it), as Darts' ``retrain`` and NeuralForecast's ``refit`` do.

The result is ``(frame, metrics)``: one row per origin, series and step (``origin``, the id
column with many series, ``time``, the forecast columns of ``predict`` and ``<target>_true``),
and the metrics of :func:`lstmkit.tasks.forecaster.scoring.score_forecasts` with ``per_step``
(one entry per horizon step) and the baselines at the same origins.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone

from lstmkit.errors import ConfigError, DataError
from lstmkit.tasks.forecaster.scoring import score_forecasts

__all__ = ["backtest"]


def backtest(fc, X, start=None, stride: int = 1, refit: int | str = "never", window: str = "expanding",
             baselines: bool = True) -> tuple[pd.DataFrame, dict]:
    """See the module docstring. ``start``: a time (as in the time column) or None."""
    fc._check_fitted()
    if stride < 1:
        raise ConfigError(f"--stride must be >= 1, got {stride}")
    if window not in ("expanding", "sliding"):
        raise ConfigError(f"--window must be expanding or sliding, got {window!r}")
    refit = _refit_every(refit)
    contexts = fc._contexts(X, future_rows=0)
    if not contexts:
        raise DataError("no series to backtest")
    L = fc.config_.model.lookback
    starts = [_first_origin(fc, ctx, start, L) for ctx in contexts]
    windows = fc._series_windows(contexts, stride=stride, starts=starts)
    if refit is None:
        quantiles = fc._quantiles(windows)
    else:
        quantiles = _refitted(fc, contexts, windows, refit, window)
    frame = _frame(fc, contexts, windows, quantiles)
    metrics = score_forecasts(fc, contexts, windows, quantiles, per_step=True, baselines=baselines)
    metrics["n_origins"] = int(len(np.unique(frame["origin"]))) if len(frame) else 0
    metrics["refit"] = "never" if refit is None else refit
    return frame, metrics


def _refit_every(refit) -> int | None:
    if refit is None or str(refit).strip().lower() == "never":
        return None
    try:
        n = int(refit)
    except (TypeError, ValueError):
        raise ConfigError(f"--refit must be a number of origins or 'never', got {refit!r}") from None
    if n < 1:
        raise ConfigError(f"--refit must be >= 1 (or 'never'), got {n}")
    return n


def _first_origin(fc, ctx, start, lookback: int) -> int:
    """The row of the series' first origin: the first at or after ``start`` (and after ``lookback``
    rows of history)."""
    if start is None:
        return lookback
    time = ctx.time[: ctx.n_history]
    try:
        when = float(start) if fc.numeric_time_ else pd.Timestamp(start)
    except (TypeError, ValueError):
        raise DataError(f"--start {start!r} is not a time like those of column {fc.config_.data.time_column!r}") \
            from None
    return max(int(np.searchsorted(np.asarray(time), np.asarray(when), side="left")), lookback)


def _origin_times(contexts, windows) -> np.ndarray:
    """(W,) each window's origin time (as the series' time index values)."""
    out = np.empty(len(windows["origins"]), dtype=object)
    for s, ctx in enumerate(contexts):
        mine = windows["series"] == s
        out[mine] = list(ctx.time[windows["origins"][mine]])
    return out


def _refitted(fc, contexts, windows, every: int, window: str) -> np.ndarray:
    """Forecasts (W, H, T, Q) where the windows of each group of ``every`` origin times come from a
    model trained on the rows before the group's first origin."""
    times = _origin_times(contexts, windows)
    unique = sorted(set(times))
    out = None
    for g in range(0, len(unique), every):
        cutoff = unique[g]
        group = np.isin(times, unique[g: g + every])
        history = []
        for ctx in contexts:
            n = int(np.searchsorted(np.asarray(ctx.time[: ctx.n_history]), np.asarray(cutoff), side="left"))
            first = max(0, n - fc.train_rows_) if window == "sliding" else 0
            if n - first >= 1:
                history.append(ctx.rows(first, n))
        model = clone(fc)
        try:
            model.fit(history)
        except DataError as err:
            raise DataError(f"refit at origin {cutoff}: {err}") from None
        model.train_rows_ = fc.train_rows_
        part = {k: (v[group] if isinstance(v, np.ndarray) and len(v) == len(times) else v) for k, v in windows.items()}
        part = _rescaled(model, contexts, part)
        q = model._quantiles(part)
        if out is None:
            out = np.empty((len(times), *q.shape[1:]))
        out[group] = q
    return out


def _rescaled(model, contexts, part: dict) -> dict:
    """Windows cut by the original model, remade with the refitted model's scalers (its own
    training rows), so that the refit forecasts from the same rows with its own preprocessing."""
    L, H = model.config_.model.lookback, model.config_.model.horizon
    out = {k: [] for k in ("past", "future", "mean", "scale")}
    numbers, categories = model._statics(contexts)
    for o, s in zip(part["origins"], part["series"]):
        ctx = contexts[s]
        scaler = model._scaler_for(ctx)
        feats = model._features(ctx.rows(o - L, o + H), scaler=scaler)
        target, _, future = model._index()
        out["past"].append(feats[:L])
        out["future"].append(feats[L:, future])
        out["mean"].append(scaler.mean_[: model.n_targets_])
        out["scale"].append(scaler.scale_[: model.n_targets_])
    result = {k: np.stack(v) for k, v in out.items()}
    result["static_numbers"], result["static_categories"] = numbers[part["series"]], categories[part["series"]]
    return result


def _frame(fc, contexts, windows, quantiles) -> pd.DataFrame:
    """One row per origin, series and step: origin, [id], time, the forecast columns, <target>_true."""
    from lstmkit.tasks.forecaster.config import quantile_key
    from lstmkit.tasks.forecaster.series import times_json

    H = fc.config_.model.horizon
    names = fc.columns_[: fc.n_targets_]
    levels = list(fc.config_.model.quantiles) if quantiles.shape[-1] > 1 else [0.5]
    id_name = fc.config_.data.id_column or "series"
    many = len(contexts) > 1 or contexts[0].series_id is not None
    parts: dict[str, list[np.ndarray]] = {}  # column -> one array per series, joined once at the end

    def add(key: str, values) -> None:
        parts.setdefault(key, []).append(np.asarray(values))

    for s, ctx in enumerate(contexts):
        mine = np.flatnonzero(windows["series"] == s)
        if not mine.size:
            continue
        origins = windows["origins"][mine]
        rows = (origins[:, None] + np.arange(H)).ravel()  # (W_s * H,)
        names_of_rows = np.asarray(times_json(ctx.time[: ctx.n_history]), dtype=object)  # each row's time, once
        add("origin", np.repeat(names_of_rows[origins], H))
        if many:
            add(id_name, np.full(len(rows), ctx.series_id, dtype=object))
        add("time", names_of_rows[rows])
        truth = ctx.targets[rows]  # (W_s * H, T)
        q = quantiles[mine].reshape(len(rows), len(names), len(levels))
        for t, name in enumerate(names):
            for k, level in enumerate(levels):
                add(name if level == 0.5 else f"{name}_{quantile_key(level)}", np.round(q[:, t, k], 6))
            add(f"{name}_true", truth[:, t])
    order = ["origin", *([id_name] if many else []), "time"]
    for name in names:
        order += [name] + [f"{name}_{quantile_key(q)}" for q in levels if q != 0.5] + [f"{name}_true"]
    columns = {key: np.concatenate(parts[key]) if key in parts else np.array([], dtype=object) for key in order}
    return pd.DataFrame(columns)
