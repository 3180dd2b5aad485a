"""Forecast accuracy: point and quantile metrics, baselines (naive, seasonal naive, drift, ETS).

Symbols: W windows (forecast origins), H horizon, T targets, L context rows, Q quantiles,
m the season length, ``y`` the truth and ``f`` the forecast, both (W, H, T). For each
target t, over the n = W * H forecast values::

    MAE_t   = 1/n sum |y - f|
    RMSE_t  = sqrt(1/n sum (y - f)^2)
    sMAPE_t = 100 * 2/n sum |y - f| / (|y| + |f|)          (percent, 0..200, as in M4;
                                                             a 0/0 term counts as 0)
    MASE_t  = MAE_t / S_t,  S_t = 1/(N-m) sum_{i>m} |x_i - x_{i-m}|

where ``x`` (N values) is the in-sample series: S is the in-sample MAE of the seasonal
naive one-step forecast (Hyndman & Koehler 2006, "Another look at measures of forecast
accuracy"). Given per-window contexts (W, L, T) instead of one series (N, T), each window
has its own S and MASE_t is the mean over windows of MAE_{w,t} / S_{w,t}, as M4 does per
series. A window whose S is 0 contributes 0 when its forecast is perfect (0/0) and makes
MASE ``inf`` otherwise.

The overall ``mae``, ``rmse``, ``smape`` and ``mase`` are the unweighted means over
targets of the per-target values (scikit-learn's ``multioutput="uniform_average"``).
:func:`per_step_metrics` gives the same four for each horizon step h (n = W values each).

Quantiles: with levels q_1..q_Q and quantile forecasts f^(q) (W, H, T, Q), the pinball loss
and its MASE-like scaling (:func:`quantile_loss`) are::

    rho_q(y, f) = max(q (y - f), (q - 1) (y - f))
    QL_t        = 1/(n Q) sum_{w,h,q} rho_q(y, f^(q)) / S_t            (or S_{w,t} per window)

so with the single level 0.5, QL = MASE / 2. :func:`coverage` is the share of true values
inside [lower, upper].

Baselines, from a context x_1..x_L of each window (h = 1..H)::

    naive            f_{L+h} = x_L
    seasonal_naive   f_{L+h} = x_{L+h-m*ceil(h/m)}                       (the last season)
    drift            f_{L+h} = x_L + h (x_L - x_1) / (L - 1)             (Hyndman's drift)
    ets              statsmodels' ExponentialSmoothing fitted on the series' whole history
                     before the origin, the form chosen by the lowest AICc (:func:`ets_select`)

Rolling origins: over a file of N rows, origins ``L, L+H, L+2H, ...`` while
``origin + H <= N``, so every forecast value is scored once and only the file's rows are
used (a test file starts with L rows of context).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from pandas.tseries import offsets as pd_offsets
from pandas.tseries.frequencies import to_offset

__all__ = [
    "ETS_CANDIDATES",
    "ETS_FIT_OPTIONS",
    "EtsChoice",
    "ETS_MODEL_OPTIONS",
    "baseline_forecasts",
    "baseline_metrics",
    "coverage",
    "drift_forecast",
    "ets_candidates",
    "ets_forecast",
    "ets_forecasts",
    "ets_select",
    "forecast_metrics",
    "infer_season",
    "naive_forecast",
    "per_step_metrics",
    "quantile_loss",
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
    y_true, y_pred = _check_pair(y_true, y_pred)
    n_targets = y_true.shape[2]
    scale = seasonal_naive_scale(insample, season, n_targets)  # (T,) or (W, T)
    values = _point_metrics(y_true, y_pred, _check_scale(scale, y_true), axis=(0, 1))  # each (T,)

    names = (
        [str(t) for t in range(n_targets)]
        if target_names is None
        else list(target_names)
    )
    if len(names) != n_targets:
        raise ValueError(f"{len(names)} target names for {n_targets} targets")
    per_target = {
        name: {key: float(values[key][t]) for key in METRICS}
        for t, name in enumerate(names)
    }
    out = {key: float(values[key].mean()) for key in METRICS}
    out["per_target"] = per_target
    return out


def per_step_metrics(y_true, point, scale) -> list[dict]:
    """The four point metrics of each horizon step, means over targets.

    For step h the metrics of the module docstring are taken over the W values
    ``y[:, h, t]`` (MASE: mean over windows of |y - f| / S), then averaged over targets.

    Args:
        y_true, point: (W, H, T) truth and point forecast (or (W, H) for one target).
        scale: MASE's scale S, (T,) shared by all windows or (W, T) per window, e.g.
            :func:`seasonal_naive_scale` of the in-sample series or of the contexts.

    Returns:
        H dicts ``{"step": h + 1, "mae", "rmse", "smape", "mase"}`` in step order. The mean
        over steps of ``mae``, ``smape`` and ``mase`` equals :func:`forecast_metrics`' value
        (RMSE: the root of the mean of the squared per-step values).
    """
    y_true, point = _check_pair(y_true, point, "point")
    values = _point_metrics(y_true, point, _check_scale(scale, y_true), axis=0)  # each (H, T)
    means = {key: values[key].mean(axis=1) for key in METRICS}  # (H,)
    return [
        {"step": h + 1, **{key: float(means[key][h]) for key in METRICS}}
        for h in range(y_true.shape[1])
    ]


def quantile_loss(y_true, quantiles_pred, levels, scale) -> float:
    """Mean pinball loss over the quantiles, scaled like MASE (mean over targets).

    ``rho_q(y, f) = max(q (y - f), (q - 1)(y - f))``; per target t,
    ``QL_t = mean_{w,h,q} rho / S_t`` (or ``rho / S_{w,t}`` per window), then the mean
    over targets. Under- and over-forecasting are weighted q and 1 - q, so the P90 is
    penalised mostly for falling below the truth. With the single level 0.5, QL is MASE/2.

    Args:
        y_true: (W, H, T) truth (or (W, H) for one target).
        quantiles_pred: (W, H, T, Q) the forecast quantiles (or (W, H, Q) for one target).
        levels: (Q,) the quantile levels q, each in (0, 1).
        scale: MASE's scale S, (T,) or (W, T) (:func:`seasonal_naive_scale`).

    Returns:
        The loss; ``inf`` when some S = 0 with a nonzero loss (0/0 counts as 0).

    Raises:
        ValueError: shapes that do not match, levels outside (0, 1), or NaN.
    """
    y = _as_3d(y_true, "y_true")
    f = np.asarray(quantiles_pred, dtype=np.float64)
    q = np.asarray(levels, dtype=np.float64).reshape(-1)
    if f.ndim == 3:
        f = f[:, :, None, :]
    if f.shape != (*y.shape, q.size):
        raise ValueError(
            f"quantiles_pred must be (W, H, T, Q) = {(*y.shape, q.size)}, got {f.shape}"
        )
    if q.size == 0 or np.any(~((q > 0) & (q < 1))):
        raise ValueError(f"quantile levels must lie in (0, 1), got {q.tolist()}")
    if y.size == 0:
        raise ValueError("no forecasts to score")
    if np.isnan(y).any() or np.isnan(f).any():
        raise ValueError("NaN in y_true or quantiles_pred")
    error = y[..., None] - f  # (W, H, T, Q)
    pinball = np.maximum(q * error, (q - 1.0) * error).mean(axis=-1)  # (W, H, T)
    scaled = _scaled(pinball, _check_scale(scale, y))  # (W, H, T)
    return float(scaled.mean(axis=(0, 1)).mean())


def coverage(y_true, lower, upper) -> float:
    """The share of true values inside the interval: mean of ``lower <= y <= upper``.

    Args:
        y_true, lower, upper: arrays of one shape (any, e.g. (W, H, T)); the bounds are
            inclusive.

    Raises:
        ValueError: shapes that differ, no values, or NaN.
    """
    y, lo, hi = (np.asarray(a, dtype=np.float64) for a in (y_true, lower, upper))
    if not (y.shape == lo.shape == hi.shape):
        raise ValueError(
            f"y_true {y.shape}, lower {lo.shape} and upper {hi.shape} differ in shape"
        )
    if y.size == 0:
        raise ValueError("no values to cover")
    if np.isnan(y).any() or np.isnan(lo).any() or np.isnan(hi).any():
        raise ValueError("NaN in y_true, lower or upper")
    return float(((y >= lo) & (y <= hi)).mean())


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


# --------------------------------------------------------------------------- baselines


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


def drift_forecast(context, horizon: int) -> np.ndarray:
    """The line through the first and last context values: (..., L, T) -> (..., H, T).

    ``f_{L+h} = x_L + h (x_L - x_1) / (L - 1)`` for h = 1..H: Hyndman's drift method
    (the naive forecast plus the average change over the context). Given the whole
    history as the context it is the textbook method; :func:`baseline_metrics` gives it
    each window's (W, L, T) lookback. With L = 1 there is no slope and it is the naive
    forecast.
    """
    x = np.asarray(context, dtype=np.float64)
    if x.ndim < 2 or x.shape[-2] < 1:
        raise ValueError(
            f"context must be (..., L, T) with L >= 1, got shape {x.shape}"
        )
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    length = x.shape[-2]
    last = x[..., -1:, :]  # (..., 1, T)
    slope = (last - x[..., :1, :]) / max(length - 1, 1)  # (..., 1, T); 0 when L = 1
    h = np.arange(1, horizon + 1, dtype=np.float64)[:, None]  # (H, 1)
    return last + h * slope


# ETS forms tried by ets_select, simplest first (a tie in AICc keeps the simpler one). The
# label is the ETS(error, trend, season) code: A additive, N none, Ad additive damped.
ETS_CANDIDATES: dict[str, dict] = {
    "ANN": {"trend": None, "damped_trend": False, "seasonal": None},
    "AAN": {"trend": "add", "damped_trend": False, "seasonal": None},
    "AAdN": {"trend": "add", "damped_trend": True, "seasonal": None},
    "ANA": {"trend": None, "damped_trend": False, "seasonal": "add"},
    "AAA": {"trend": "add", "damped_trend": False, "seasonal": "add"},
    "AAdA": {"trend": "add", "damped_trend": True, "seasonal": "add"},
}
# Seasonal forms need two full seasons (statsmodels' initialisation) plus this many values.
ETS_SEASONAL_EXTRA = 3
# ExponentialSmoothing(...) and .fit(...) keywords. Powell without the brute-force start
# search: on us-employment (monthly) and seattle-weather (daily) histories it selected the
# same form as statsmodels' default (L-BFGS-B after a grid search) in 30 of 33 cases, several
# times faster, its AICc mostly within a few units either way; L-BFGS-B without the grid
# search stalled on the seasonal forms (AICc up to 180 worse).
ETS_MODEL_OPTIONS: dict = {"initialization_method": "estimated"}
ETS_FIT_OPTIONS: dict = {"optimized": True, "method": "Powell", "use_brute": False}


@dataclass(frozen=True)
class EtsChoice:
    """The form :func:`ets_select` chose and its forecast.

    Attributes:
        form: the label in :data:`ETS_CANDIDATES` (``"AAdN"``, ...), or ``"naive"`` when no
            form could be fitted.
        trend, damped_trend, seasonal: the ``ExponentialSmoothing`` arguments of ``form``.
        aicc: its AICc (NaN for ``"naive"``).
        forecast: (H,) the forecast.
        aiccs: ``{label: AICc}`` of every form tried; NaN for a fit that failed.
    """

    form: str
    trend: str | None
    damped_trend: bool
    seasonal: str | None
    aicc: float
    forecast: np.ndarray
    aiccs: dict[str, float] = field(default_factory=dict)


def ets_candidates(n: int, season: int) -> list[str]:
    """The labels of :data:`ETS_CANDIDATES` tried on a history of ``n`` values.

    The three non-seasonal forms always; the seasonal ones too when ``season > 1`` and
    ``n >= 2 * season + ETS_SEASONAL_EXTRA``.
    """
    seasonal = season > 1 and n >= 2 * season + ETS_SEASONAL_EXTRA
    return [k for k, v in ETS_CANDIDATES.items() if seasonal or v["seasonal"] is None]


def ets_select(history, horizon: int, season: int) -> EtsChoice:
    """Fit every form of :func:`ets_candidates` to one history; keep the lowest AICc.

    Each form is statsmodels' ``ExponentialSmoothing(history, trend, damped_trend,
    seasonal, seasonal_periods=season, **ETS_MODEL_OPTIONS).fit(**ETS_FIT_OPTIONS)``, whose
    AICc (Hyndman et al. 2008, with k the smoothing parameters plus the initial states) is

        AICc = n log(SSE / n) + 2k + 2 (k + 2)(k + 3) / (n - k - 3)       (inf when n <= k + 3)

    statsmodels' warnings are silenced. A fit that raises or gives a non-finite forecast is
    skipped; when no form has a finite AICc (a very short history), the simplest form that
    fitted is kept; when none fitted (one value), the naive forecast.

    Args:
        history: (n,) one series' values before the forecast origin, in time order.
        horizon: H, the steps to forecast.
        season: m, the seasonal period (1: no seasonal forms).

    Raises:
        ValueError: an empty or non-1-D history, NaN in it, or ``horizon < 1``.
    """
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = np.asarray(history, dtype=np.float64)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"history must be a non-empty 1-D array, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("NaN or inf in the ETS history")
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    aiccs: dict[str, float] = {}
    fits: dict[str, tuple[float, np.ndarray]] = {}
    for label in ets_candidates(y.size, season):
        form = ETS_CANDIDATES[label]
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                model = ExponentialSmoothing(
                    y,
                    **form,
                    seasonal_periods=season if form["seasonal"] else None,
                    **ETS_MODEL_OPTIONS,
                )
                result = model.fit(**ETS_FIT_OPTIONS)
                forecast = np.asarray(result.forecast(horizon), dtype=np.float64)
                aicc = float(result.aicc)
        except Exception:  # noqa: BLE001 - statsmodels raises many kinds; any failure skips the form
            aiccs[label] = math.nan
            continue
        if forecast.shape != (horizon,) or not np.isfinite(forecast).all():
            aiccs[label] = math.nan
            continue
        aiccs[label] = aicc
        fits[label] = (aicc, forecast)
    if not fits:
        return EtsChoice("naive", None, False, None, math.nan, np.full(horizon, y[-1]), aiccs)
    ranked = [k for k in fits if not math.isnan(fits[k][0]) and fits[k][0] < math.inf]
    best = min(ranked, key=lambda k: fits[k][0]) if ranked else next(iter(fits))
    form = ETS_CANDIDATES[best]
    return EtsChoice(best, form["trend"], form["damped_trend"], form["seasonal"],
                     fits[best][0], fits[best][1], aiccs)


def ets_forecast(history, horizon: int, season: int) -> np.ndarray:
    """(H,) the forecast of the ETS form with the lowest AICc on ``history`` (n,) (:func:`ets_select`)."""
    return ets_select(history, horizon, season).forecast


def _ets_forecast_task(args: tuple) -> np.ndarray:
    return ets_forecast(*args)


def ets_forecasts(histories, horizon: int, season: int, n_jobs: int | None = 1) -> np.ndarray:
    """:func:`ets_forecast` of many histories (one per (series, origin) pair): (W, H).

    Each fit selects among up to six forms, so this costs about six statsmodels fits per
    history. With ``n_jobs > 1`` (or ``None``: all CPUs) the histories are shared among that
    many worker processes (started with ``spawn``, so a script calling this must guard its
    top level with ``if __name__ == "__main__":``); starting them costs about the import of
    statsmodels, a few seconds, so it pays from a few dozen histories up.

    Args:
        histories: W 1-D arrays, the values before each origin (lengths may differ).
        horizon, season: as :func:`ets_select`.
        n_jobs: worker processes; 1 fits in this process, None or < 1 uses every CPU
            this process may run on.
    """
    histories = [np.asarray(h, dtype=np.float64) for h in histories]
    if not histories:
        return np.zeros((0, horizon))
    workers = _cpu_count() if n_jobs is None or n_jobs < 1 else n_jobs
    workers = min(workers, len(histories))
    tasks = [(h, horizon, season) for h in histories]
    if workers <= 1:
        return np.stack([_ets_forecast_task(t) for t in tasks])
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunk = max(1, len(tasks) // (4 * workers))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return np.stack(list(pool.map(_ets_forecast_task, tasks, chunksize=chunk)))


def baseline_forecasts(
    context,
    horizon: int,
    season: int,
    *,
    drift: bool = False,
    ets: bool = False,
    histories=None,
    n_jobs: int | None = 1,
) -> dict[str, np.ndarray]:
    """The baselines' forecasts, each (W, H, T): ``naive``, ``seasonal_naive``, and on request
    ``drift`` and ``ets``.

    Args:
        context: (W, L, T) the past targets of each window (naive, seasonal naive, drift).
        horizon: H.
        season: m of the seasonal naive forecast and of ETS's seasonal forms.
        drift: add the drift forecast over the context.
        ets: add :func:`ets_forecast`, fitted for each window and target on that series'
            whole history before the origin, ``histories``.
        histories: with ``ets``: W arrays, window w's history (n_w, T), or (n_w,) when
            T = 1; each must end at the window's last context row (the origin's row - 1).
        n_jobs: ETS worker processes (:func:`ets_forecasts`).
    """
    x = np.asarray(context, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"context must be (W, L, T), got shape {x.shape}")
    out = {
        "naive": naive_forecast(x, horizon),
        "seasonal_naive": seasonal_naive_forecast(x, horizon, season),
    }
    if drift:
        out["drift"] = drift_forecast(x, horizon)
    if ets:
        n_windows, _, n_targets = x.shape
        if histories is None or len(histories) != n_windows:
            got = "none" if histories is None else len(histories)
            raise ValueError(f"ets needs one history per window: {n_windows} windows, {got} histories")
        series = []
        for w, history in enumerate(histories):
            h = np.asarray(history, dtype=np.float64)
            if h.ndim == 1 and n_targets == 1:
                h = h[:, None]
            if h.ndim != 2 or h.shape[1] != n_targets or h.shape[0] == 0:
                raise ValueError(
                    f"history {w} must be (n, T) with T={n_targets} and n >= 1, got shape {h.shape}"
                )
            series.extend(h[:, t] for t in range(n_targets))
        f = ets_forecasts(series, horizon, season, n_jobs)  # (W * T, H)
        out["ets"] = np.ascontiguousarray(f.reshape(n_windows, n_targets, horizon).transpose(0, 2, 1))
    return out


def baseline_metrics(
    context,
    y_true,
    insample,
    season: int,
    target_names=None,
    *,
    drift: bool = False,
    ets: bool = False,
    histories=None,
    n_jobs: int | None = 1,
) -> dict:
    """``{"naive": metrics, "seasonal_naive": metrics}`` of the baselines, plus ``"drift"`` and
    ``"ets"`` on request (:func:`baseline_forecasts`), each as :func:`forecast_metrics`.

    Args:
        context: (W, L, T) the past targets of each window.
        y_true: (W, H, T) the truth.
        insample, season, target_names: as :func:`forecast_metrics`.
        drift, ets, histories, n_jobs: as :func:`baseline_forecasts`; ETS costs about six
            statsmodels fits per window and target, so it is off unless asked for.
    """
    y_true = _as_3d(y_true, "y_true")
    forecasts = baseline_forecasts(
        _as_3d(context, "context"), y_true.shape[1], season,
        drift=drift, ets=ets, histories=histories, n_jobs=n_jobs,
    )
    return {
        name: forecast_metrics(y_true, f, insample, season, target_names)
        for name, f in forecasts.items()
    }


# --------------------------------------------------------------------------- seasons, origins


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


# --------------------------------------------------------------------------- helpers


def _cpu_count() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _point_metrics(y_true: np.ndarray, y_pred: np.ndarray, scale: np.ndarray, axis) -> dict:
    """MAE, RMSE, sMAPE, MASE of (W, H, T) arrays, reduced over ``axis`` ((0, 1) -> (T,),
    0 -> (H, T)); ``scale`` (T,) or (W, T)."""
    error = y_true - y_pred
    abs_error = np.abs(error)
    denominator = np.abs(y_true) + np.abs(y_pred)
    ratio = np.divide(
        abs_error, denominator, out=np.zeros_like(denominator), where=denominator > 0
    )  # 0/0 terms count as 0
    return {
        "mae": abs_error.mean(axis=axis),
        "rmse": np.sqrt((error**2).mean(axis=axis)),
        "smape": 200.0 * ratio.mean(axis=axis),
        "mase": _scaled(abs_error, scale).mean(axis=axis),
    }


def _scaled(values: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(W, H, T) non-negative values / S, S (T,) or (W, T); 0/0 -> 0, x/0 -> inf."""
    s = np.broadcast_to(scale if scale.ndim == 1 else scale[:, None, :], values.shape)
    out = np.where(values == 0, 0.0, np.inf)
    np.divide(values, s, out=out, where=s > 0)
    return out


def _check_scale(scale, y_true: np.ndarray) -> np.ndarray:
    s = np.asarray(scale, dtype=np.float64)
    n_windows, _, n_targets = y_true.shape
    if s.shape not in ((n_targets,), (n_windows, n_targets)):
        raise ValueError(
            f"scale must be (T,) = ({n_targets},) or (W, T) = ({n_windows}, {n_targets}), got {s.shape}"
        )
    if np.isnan(s).any() or (s < 0).any():
        raise ValueError("scale must be non-negative numbers")
    return s


def _check_pair(y_true, y_pred, name: str = "y_pred") -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = _as_3d(y_true, "y_true"), _as_3d(y_pred, name)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true {y_true.shape} and {name} {y_pred.shape} differ in shape"
        )
    if y_true.size == 0:
        raise ValueError("no forecasts to score")
    if np.isnan(y_true).any() or np.isnan(y_pred).any():
        raise ValueError(f"NaN in y_true or {name}")
    return y_true, y_pred


def _as_3d(a, name: str) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"{name} must be (W, H, T) or (W, H), got shape {x.shape}")
    return x
