"""Scoring forecasts of one or many series, with the baselines: what ``evaluate`` and ``backtest``
report.

Per series ``s`` (its W_s windows, H steps, T targets), with the series' own rows as MASE's
in-sample data (:mod:`lstmkit.metrics.forecast`)::

    mae, rmse, smape, mase       of the median forecast
    coverage                     share of true values inside [lowest quantile, highest quantile]
    quantile_loss                mean pinball loss over the quantiles / MASE's scale
    baselines                    naive, seasonal_naive, drift (from the window's context) and ets
                                 (statsmodels, fitted on the series' whole history before the origin)

Over many series (M4's convention: every series counts once in the scaled metrics)::

    mae, smape, coverage         over all forecast values (weights n_s = W_s * H)
    rmse                         sqrt of the mean squared error over all forecast values
    mase, quantile_loss          mean over series

With one series the numbers are that series' own (and there is no ``per_series``).
"""

from __future__ import annotations

import numpy as np

from lstmkit.metrics import forecast as fm

__all__ = ["score_forecasts"]

BASELINES = ("naive", "seasonal_naive", "drift", "ets")


def score_forecasts(fc, contexts, windows: dict, quantiles: np.ndarray, per_step: bool = False,
                    baselines: bool = True) -> dict:
    """Metrics of forecasts ``quantiles`` (W, H, T, Q) (file units, increasing along Q) for the
    ``windows`` of ``contexts`` (``Forecaster._series_windows``'s dict: ``origins``, ``series``)."""
    L, H = fc.config_.model.lookback, fc.config_.model.horizon
    season, names = fc.season_, fc.columns_[: fc.n_targets_]
    levels = list(fc.config_.model.quantiles) if quantiles.shape[-1] > 1 else [0.5]
    median = levels.index(0.5)
    per_series, parts = {}, []
    for s, ctx in enumerate(contexts):
        mine = np.flatnonzero(windows["series"] == s)
        if not mine.size:
            continue
        truth = ctx.targets[: ctx.n_history]  # (N, T)
        origins = windows["origins"][mine]
        y_true = truth[origins[:, None] + np.arange(H)]  # (W_s, H, T)
        context = truth[origins[:, None] + np.arange(-L, 0)]  # (W_s, L, T)
        q = quantiles[mine]  # (W_s, H, T, Q)
        scale = fm.seasonal_naive_scale(truth, season, len(names))  # (T,)
        metrics = fm.forecast_metrics(y_true, q[..., median], truth, season, names)
        if q.shape[-1] > 1:
            metrics["coverage"] = fm.coverage(y_true, q[..., 0], q[..., -1])
            metrics["quantile_loss"] = fm.quantile_loss(y_true, q, levels, scale)
        if baselines:
            forecasts = {"naive": fm.naive_forecast(context, H),
                         "seasonal_naive": fm.seasonal_naive_forecast(context, H, season),
                         "drift": fm.drift_forecast(context, H),
                         "ets": _ets(truth, origins, H, season)}
            metrics["baselines"] = {k: fm.forecast_metrics(y_true, f, truth, season, names)
                                    for k, f in forecasts.items()}
        metrics["n_windows"] = len(mine)
        per_series[ctx.series_id] = metrics
        parts.append({"n": y_true.size, "error": np.abs(y_true - q[..., median]) / scale})  # (W_s, H, T) scaled
    if not per_series:
        raise ValueError("no window to score")
    if len(per_series) == 1 and next(iter(per_series)) is None:
        out = dict(per_series[None])
    else:
        out = _combine(list(per_series.values()))
        if baselines:
            out["baselines"] = {k: _combine([m["baselines"][k] for m in per_series.values()]) for k in BASELINES}
        out["n_windows"] = int(sum(m["n_windows"] for m in per_series.values()))
        out["n_series"] = len(per_series)
        out["per_series"] = {str(k): _summary(m) for k, m in per_series.items()}
    out["season"] = int(season)
    if per_step:
        # per horizon step: MASE = mean over series of the step's scaled MAE; MAE etc. over all values
        out["per_step"] = _per_step(fc, contexts, windows, quantiles[..., median], parts)
    return out


def _ets(truth: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """ETS forecasts (W, H, T): per window and target, fitted on the series' rows before the origin."""
    out = np.empty((len(origins), horizon, truth.shape[1]))
    for t in range(truth.shape[1]):
        histories = [truth[:o, t] for o in origins]
        out[:, :, t] = fm.ets_forecasts(histories, horizon, season)
    return out


def _combine(metrics: list[dict]) -> dict:
    """Per-series metric dicts -> the overall ones (see the module docstring)."""
    n = np.asarray([m.get("n_windows", 1) for m in metrics], dtype=np.float64)
    w = n / n.sum()
    out = {"mae": float(np.dot(w, [m["mae"] for m in metrics])),
           "rmse": float(np.sqrt(np.dot(w, [m["rmse"] ** 2 for m in metrics]))),
           "smape": float(np.dot(w, [m["smape"] for m in metrics])),
           "mase": float(np.mean([m["mase"] for m in metrics]))}
    if all("coverage" in m for m in metrics):
        out["coverage"] = float(np.dot(w, [m["coverage"] for m in metrics]))
        out["quantile_loss"] = float(np.mean([m["quantile_loss"] for m in metrics]))
    names = list(metrics[0].get("per_target", {}))
    if names:
        out["per_target"] = {name: {"mae": float(np.dot(w, [m["per_target"][name]["mae"] for m in metrics])),
                                    "rmse": float(np.sqrt(np.dot(w, [m["per_target"][name]["rmse"] ** 2
                                                                     for m in metrics]))),
                                    "smape": float(np.dot(w, [m["per_target"][name]["smape"] for m in metrics])),
                                    "mase": float(np.mean([m["per_target"][name]["mase"] for m in metrics]))}
                             for name in names}
    return out


def _summary(metrics: dict) -> dict:
    """A series' line in ``per_series``: its metrics and its baselines' MASE."""
    out = {k: v for k, v in metrics.items() if k not in ("per_target", "baselines")}
    if "baselines" in metrics:
        out["baselines_mase"] = {k: v["mase"] for k, v in metrics["baselines"].items()}
    return out


def _per_step(fc, contexts, windows, point, parts) -> list[dict]:
    H = fc.config_.model.horizon
    rows = []
    y_all, f_all = [], []
    for s, ctx in enumerate(contexts):
        mine = np.flatnonzero(windows["series"] == s)
        if not mine.size:
            continue
        truth = ctx.targets[: ctx.n_history]
        origins = windows["origins"][mine]
        y_all.append(truth[origins[:, None] + np.arange(H)])
        f_all.append(point[mine])
    y, f = np.concatenate(y_all), np.concatenate(f_all)  # (W, H, T)
    error = np.abs(y - f)
    denominator = np.abs(y) + np.abs(f)
    ratio = np.divide(error, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    for h in range(H):
        scaled = np.mean([p["error"][:, h].mean() for p in parts])
        rows.append({"step": h + 1, "mae": float(error[:, h].mean()),
                     "rmse": float(np.sqrt(((y[:, h] - f[:, h]) ** 2).mean())),
                     "smape": float(200.0 * ratio[:, h].mean()), "mase": float(scaled)})
    return rows
