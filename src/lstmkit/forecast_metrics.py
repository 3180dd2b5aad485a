"""Forecast accuracy: MAE, RMSE, sMAPE and MASE, the naive baselines, rolling origins.

Symbols: W windows (forecast origins), H horizon, T targets, m the season length,
``y`` the truth and ``f`` the forecast, both (W, H, T). For each target t, over the
n = W * H forecast values::

    MAE_t   = 1/n sum |y - f|
    RMSE_t  = sqrt(1/n sum (y - f)^2)
    sMAPE_t = 100 * 2/n sum |y - f| / (|y| + |f|)          (percent, 0..200, as in M4;
                                                             a 0/0 term counts as 0)
    MASE_t  = MAE_t / S_t,  S_t = 1/(N-m) sum_{i>m} |x_i - x_{i-m}|

where ``x`` (N values) is the in-sample series: S is the in-sample MAE of the seasonal
naive one-step forecast (Hyndman & Koehler 2006, "Another look at measures of forecast
accuracy"). Given per-window contexts (W, L, T) instead of one series (N, T), each window
has its own S and MASE_t is the mean over windows of MAE_{w,t} / S_{w,t}, as M4 does per
series.

The overall ``mae``, ``rmse``, ``smape`` and ``mase`` are the unweighted means over
targets of the per-target values (scikit-learn's ``multioutput="uniform_average"``).

Baselines: ``naive`` repeats the last value; ``seasonal_naive`` repeats the last season::

    f_{L+h} = x_{L+h-m*ceil(h/m)}        (h = 1..H)

Rolling origins: over a file of N rows, origins ``L, L+H, L+2H, ...`` while
``origin + H <= N``, so every forecast value is scored once and only the file's rows are
used (a test file starts with L rows of context).
"""

from __future__ import annotations

import numpy as np
from pandas.tseries import offsets as pd_offsets
from pandas.tseries.frequencies import to_offset

__all__ = [
    "baseline_metrics",
    "forecast_metrics",
    "infer_season",
    "naive_forecast",
    "rolling_origins",
    "seasonal_naive_forecast",
    "seasonal_naive_scale",
]

METRICS = ("mae", "rmse", "smape", "mase")


def forecast_metrics(
    y_true, y_pred, insample, season: int = 1, target_names=None
) -> dict:
    """MAE, RMSE, sMAPE (percent) and MASE of forecasts (see the module docstring).

    Args:
        y_true, y_pred: (W, H, T) truth and forecast (or (W, H) for one target).
        insample: the series that scales MASE: (N, T) one series for all windows (the
            training part), or (W, L, T) each window's own context (or (N,) / (W, L)
            for one target).
        season: m, the seasonal lag of MASE's scale (1: the naive forecast).
        target_names: names for ``per_target``; default ``"0"``, ``"1"``, ...

    Returns:
        ``{"mae", "rmse", "smape", "mase": float, "per_target": {name: {the four}}}``.
        When S = 0 (an in-sample series with no change at lag m), MASE is ``inf`` unless
        the forecast is perfect (0/0 counts as 0, as in sMAPE).

    Raises:
        ValueError: shapes that do not match, NaN, or an in-sample series of no more
            than ``season`` values.
    """
    y_true, y_pred = _as_3d(y_true, "y_true"), _as_3d(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape"
        )
    if y_true.size == 0:
        raise ValueError("no forecasts to score")
    if np.isnan(y_true).any() or np.isnan(y_pred).any():
        raise ValueError("NaN in y_true or y_pred")
    n_targets = y_true.shape[2]
    scale = seasonal_naive_scale(insample, season, n_targets)  # (T,) or (W, T)

    error = y_true - y_pred  # (W, H, T)
    mae = np.abs(error).mean(axis=(0, 1))  # (T,)
    rmse = np.sqrt((error**2).mean(axis=(0, 1)))
    denominator = np.abs(y_true) + np.abs(y_pred)
    ratio = np.divide(
        np.abs(error),
        denominator,
        out=np.zeros_like(denominator),
        where=denominator > 0,
    )
    smape = 200.0 * ratio.mean(axis=(0, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        if scale.ndim == 1:
            mase = mae / scale
        else:  # per window: mean over windows of MAE_w / S_w
            mase = (np.abs(error).mean(axis=1) / scale).mean(axis=0)
    mase = np.where(
        np.isnan(mase), 0.0, mase
    )  # 0/0: a perfect forecast, counted as 0 like sMAPE

    names = (
        [str(t) for t in range(n_targets)]
        if target_names is None
        else list(target_names)
    )
    if len(names) != n_targets:
        raise ValueError(f"{len(names)} target names for {n_targets} targets")
    per_target = {
        name: {
            "mae": float(mae[t]),
            "rmse": float(rmse[t]),
            "smape": float(smape[t]),
            "mase": float(mase[t]),
        }
        for t, name in enumerate(names)
    }
    out = {
        "mae": float(mae.mean()),
        "rmse": float(rmse.mean()),
        "smape": float(smape.mean()),
        "mase": float(mase.mean()),
    }
    out["per_target"] = per_target
    return out


def seasonal_naive_scale(
    insample, season: int = 1, n_targets: int | None = None
) -> np.ndarray:
    """MASE's scale: the in-sample MAE of the seasonal naive forecast.

    ``S = 1/(N-m) sum_{i=m+1..N} |x_i - x_{i-m}|`` per target.

    Args:
        insample: (N, T) -> returns (T,); or (W, L, T) -> returns (W, T); a 1-D / 2-D
            array is read as one target when ``n_targets`` is 1.
    """
    x = np.asarray(insample, dtype=np.float64)
    if n_targets == 1 and x.ndim in (1, 2) and (x.ndim == 1 or x.shape[-1] != 1):
        x = x[..., None]
    if x.ndim not in (2, 3) or (n_targets is not None and x.shape[-1] != n_targets):
        raise ValueError(
            f"insample must be (N, T) or (W, L, T) with T targets, got shape {x.shape}"
        )
    if season < 1:
        raise ValueError(f"season must be at least 1, got {season}")
    length = x.shape[-2]
    if length <= season:
        raise ValueError(
            f"MASE needs more than season={season} in-sample values, got {length}"
        )
    if np.isnan(x).any():
        raise ValueError("NaN in the in-sample series")
    return np.abs(x[..., season:, :] - x[..., :-season, :]).mean(axis=-2)


def naive_forecast(context, horizon: int) -> np.ndarray:
    """Repeat the last value: context (..., L, T) -> (..., H, T)."""
    x = np.asarray(context)
    if x.ndim < 2 or x.shape[-2] < 1:
        raise ValueError(
            f"context must be (..., L, T) with L >= 1, got shape {x.shape}"
        )
    return np.repeat(x[..., -1:, :], horizon, axis=-2)


def seasonal_naive_forecast(context, horizon: int, season: int) -> np.ndarray:
    """Repeat the last season: context (..., L, T) -> (..., H, T), f_{L+h} = x_{L+h-m*ceil(h/m)}.

    Raises:
        ValueError: fewer than ``season`` rows of context.
    """
    x = np.asarray(context)
    if season < 1:
        raise ValueError(f"season must be at least 1, got {season}")
    if x.ndim < 2 or x.shape[-2] < season:
        raise ValueError(
            f"the seasonal naive forecast needs at least season={season} rows of context"
            f" (the lookback), got shape {x.shape}"
        )
    length = x.shape[-2]
    h = np.arange(1, horizon + 1)
    rows = length + h - 1 - season * np.ceil(h / season).astype(int)  # 0-based
    return x[..., rows, :]


def baseline_metrics(context, y_true, insample, season: int, target_names=None) -> dict:
    """``{"naive": metrics, "seasonal_naive": metrics}`` of the two baselines.

    Args:
        context: (W, L, T) the past targets of each window.
        y_true: (W, H, T) the truth.
        insample, season, target_names: as :func:`forecast_metrics`.
    """
    y_true = _as_3d(y_true, "y_true")
    horizon = y_true.shape[1]
    return {
        "naive": forecast_metrics(
            y_true, naive_forecast(context, horizon), insample, season, target_names
        ),
        "seasonal_naive": forecast_metrics(
            y_true,
            seasonal_naive_forecast(context, horizon, season),
            insample,
            season,
            target_names,
        ),
    }


def infer_season(freq) -> int:
    """The season length for a frequency: daily 7, hourly 24, monthly 12, quarterly 4, else 1.

    ``freq`` is a pandas offset alias (``"D"``, ``"h"``, ``"MS"``, ``"ME"``, ``"QS-OCT"``,
    ...), an offset, a number (a numeric time step) or None; only a step of exactly one
    day, hour, month or quarter has a season (``"2D"`` gives 1).
    """
    if freq is None or isinstance(freq, (int, float)):
        return 1
    try:
        offset = to_offset(freq)
    except (TypeError, ValueError):
        raise ValueError(f"unknown frequency {freq!r}") from None
    if offset.n != 1:
        return 1
    kinds = [
        (pd_offsets.Day, 7),
        (pd_offsets.Hour, 24),
        ((pd_offsets.MonthBegin, pd_offsets.MonthEnd), 12),
        ((pd_offsets.QuarterBegin, pd_offsets.QuarterEnd), 4),
    ]
    for kind, season in kinds:
        if isinstance(offset, kind):
            return season
    return 1


def rolling_origins(n_rows: int, lookback: int, horizon: int) -> np.ndarray:
    """(W,) the forecast origins ``lookback, lookback+horizon, ...`` with ``origin+horizon <= n_rows``.

    Empty when the file has fewer than ``lookback + horizon`` rows.
    """
    if lookback < 1 or horizon < 1:
        raise ValueError("lookback and horizon must be at least 1")
    return np.arange(lookback, n_rows - horizon + 1, horizon, dtype=np.int64)


def _as_3d(a, name: str) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"{name} must be (W, H, T) or (W, H), got shape {x.shape}")
    return x
