"""``Forecaster``: the ``forecaster`` task's estimator (multivariate history -> next ``horizon`` steps).

Data flow (N rows, T targets, P past-only covariates, K future-known inputs, L lookback,
H horizon)::

    CSV / DataFrame / JSON --series.py--> Context: time (N,), values (N, T+P+Kf) in the file's units
        --Standardizer (fitted on the training rows; scaler.json)--> (N, T+P+Kf)
        [; calendar sin/cos of the time (N, Kc), known in the future]  -> features (N, F)
        --make_windows (leak-free: inputs strictly before each origin)--> past (W, L, F),
          future (W, H, K = Kf + Kc), y (W, H, T)
        --ForecastNet--> (W, H, T, Q) --inverse scaling of the targets--> forecasts in the file's units

Training windows start at every row (stride 1); validation is the end of the series (never
shuffled windows): without ``valid=``, the last 10% of the rows (at least ``horizon``), read with
``lookback`` rows of context before them. ``evaluate`` forecasts from rolling origins
``L, L+H, L+2H, ...`` over the file alone (:func:`lstmkit.forecast_metrics.rolling_origins`) and
scores the naive and seasonal naive forecasts of the same windows in the same call.

Intervals: with ``model.loss=quantile`` the network's P10 and P90; with a point loss, the P50
forecast plus the 10% and 90% quantiles of the validation residuals of each step and target
(an empirical, split-conformal-style interval).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from lstmkit.data.scaling import Standardizer
from lstmkit.data.timeseries import (
    calendar_feature_names,
    calendar_features,
    future_times,
)
from lstmkit.data.windows import make_windows
from lstmkit.errors import ConfigError, DataError, ModelFolderError
from lstmkit.fingerprint import data_fingerprint
from lstmkit.forecast_metrics import (
    baseline_metrics,
    forecast_metrics,
    infer_season,
    rolling_origins,
)
from lstmkit.inference import network_device
from lstmkit.tasks.base import Estimator
from lstmkit.tasks.forecaster.config import ForecasterConfig
from lstmkit.tasks.forecaster.network import ForecastNet
from lstmkit.tasks.forecaster.series import (
    Context,
    as_context,
    context_from_frame,
    frame_from_json,
    read_context,
)

DIGITS = 6
"""Forecasts in records are rounded to this many decimals."""


class _WindowSet(Dataset):
    """Windows as a map-style dataset of ``{"past": (L, F), "future": (H, K), "y": (H, T)}``."""

    def __init__(self, past: np.ndarray, future: np.ndarray, y: np.ndarray):
        self.past = torch.as_tensor(past, dtype=torch.float32)
        self.future = torch.as_tensor(future, dtype=torch.float32)
        self.y = torch.as_tensor(y, dtype=torch.float32)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict:
        return {"past": self.past[i], "future": self.future[i], "y": self.y[i]}


class Forecaster(Estimator):
    """Multivariate history -> the next ``horizon`` steps of the target(s), with P10/P90 intervals.

    >>> fc = Forecaster(target=["temp_max"], lookback=28, horizon=7).fit(frame)   # doctest: +SKIP
    >>> fc.predict_records(frame)[0]["forecast"]["temp_max"]                      # doctest: +SKIP
    """

    task = "forecaster"
    config_class = ForecasterConfig
    monitor, monitor_mode = "loss", "min"
    takes_text = False

    # ------------------------------------------------------------------ reading data
    def _config(self):
        return getattr(self, "config_", None) or self.resolved_config()

    def _future_rows(self) -> int:
        cfg = self._config()
        return cfg.model.horizon if cfg.data.future_covariates else 0

    def read_data(self, path) -> tuple[Context, None]:
        """A forecasting CSV -> ``(Context, None)``: the targets are columns of the series."""
        return read_context(path, self._config().data), None

    def read_inputs(self, path) -> Context:
        """The history to forecast from; with future covariates it ends with ``horizon`` future rows."""
        return read_context(path, self._config().data, future_rows=self._future_rows())

    def inputs_from_json(self, items) -> list[Context]:
        """Forecasting contexts: each ``{"date": [...], "temp_max": [...], ...}`` or a list of row objects."""
        if not isinstance(items, list):
            raise DataError(f"inputs must be a list of forecasting contexts, got {type(items).__name__}")
        data = self._config().data
        return [context_from_frame(frame_from_json(item, n), data, name=f"input {n}", future_rows=self._future_rows())
                for n, item in enumerate(items)]

    def coerce(self, X, y=None):
        """One series to fit on: a :class:`Context` / ``Series``, or a DataFrame with the data.* columns."""
        if y is not None:
            raise DataError("a forecaster's targets are columns of the series (data.target); pass y=None")
        contexts = self._contexts(X, future_rows=0)
        if len(contexts) != 1:
            raise DataError(f"fit takes one series, got {len(contexts)}")
        return contexts[0], None

    def _contexts(self, X, future_rows: int | None = None) -> list[Context]:
        """Inputs as a list of contexts: one series, a DataFrame, or a list of them."""
        from lstmkit.data.timeseries import Series

        future_rows = self._future_rows() if future_rows is None else future_rows
        items = X if isinstance(X, list) else [X]
        out = []
        for n, item in enumerate(items):
            if isinstance(item, Series):
                out.append(as_context(item, getattr(item, "n_future", 0)))
            elif isinstance(item, pd.DataFrame):
                name = "the DataFrame" if len(items) == 1 else f"DataFrame {n}"
                out.append(context_from_frame(item, self._config().data, name=name, future_rows=future_rows))
            else:
                raise DataError(f"input {n}: expected a series (a pandas DataFrame with the data.* columns, or "
                                f"what read_data returns), got {type(item).__name__}")
        return out

    def holdout(self, X: Context, y, fraction: float, seed: int):
        """Hold out the end of the series: its last ``max(horizon, round(fraction N))`` rows, with
        ``lookback`` rows of context before them (never shuffled windows)."""
        L, H = self.config_.model.lookback, self.config_.model.horizon
        n = X.n_history
        n_valid = max(H, round(fraction * n))
        if n - n_valid < L + H:
            raise DataError(f"{n} rows are too few to hold out the last {n_valid} for validation and train on "
                            f"windows of model.lookback={L} + model.horizon={H} rows; give more rows or a "
                            "validation file", X.path)
        return X.rows(0, n - n_valid), None, X.rows(n - n_valid - L, n), None

    def fingerprint(self, X, y, X_valid, y_valid) -> str:
        def plain(c: Context):
            time = c.time.asi8 if isinstance(c.time, pd.DatetimeIndex) else c.time.to_numpy(dtype=np.float64)
            return [np.asarray(time), c.values, list(c.columns), c.n_targets]

        return data_fingerprint(plain(X), plain(X_valid))

    # ------------------------------------------------------------------ features
    def _features(self, ctx: Context, times=None) -> np.ndarray:
        """(N, F) float32: the standardised columns, then the calendar features of ``times``."""
        if list(ctx.columns) != self.columns_:
            raise DataError(f"the series has columns {ctx.columns}, the model was trained on {self.columns_}",
                            ctx.path)
        values = self.scaler_.transform(ctx.values)
        if self.calendar_:
            calendar = calendar_features(ctx.time if times is None else times, self.freq_)
            if calendar.shape[1] != len(self.calendar_):
                raise DataError("the times of this series do not have the step of the training series "
                                f"({self.freq_}); its calendar features differ", ctx.path)
            values = np.concatenate([values, calendar], axis=1)
        return values.astype(np.float32)

    def _index(self) -> tuple[list[int], list[int], list[int]]:
        """Columns of the features: targets, past-only covariates, future-known inputs."""
        data = self.config_.data
        T, P = len(data.target), len(data.covariates)
        return list(range(T)), list(range(T, T + P)), list(range(T + P, len(self.columns_) + len(self.calendar_)))

    def _windows(self, ctx: Context, stride: int, source=None):
        L, H = self.config_.model.lookback, self.config_.model.horizon
        if ctx.n_history < L + H:
            raise DataError(f"{ctx.n_history} rows: at least model.lookback + model.horizon = {L + H} are needed "
                            f"(the first {L} are history only)", source if source is not None else ctx.path)
        feats = self._features(ctx.rows(0, ctx.n_history))
        return make_windows(feats, L, H, *self._index(), stride=stride)

    # ------------------------------------------------------------------ learning
    def _prepare(self, X: Context, y) -> None:
        data, model = self.config_.data, self.config_.model
        self.columns_ = list(X.columns)
        self.n_targets_ = X.n_targets
        self.freq_ = X.freq
        self.numeric_time_ = not isinstance(X.time, pd.DatetimeIndex)
        self.calendar_ = calendar_feature_names(X.time, X.freq) if data.calendar else []
        self.season_ = data.season or infer_season(X.freq)
        if model.lookback < self.season_:
            raise ConfigError(f"model.lookback={model.lookback} is shorter than the season ({self.season_}, "
                              "data.season): the seasonal naive baseline needs a whole season of history")
        self.scaler_ = Standardizer(self.columns_).fit(X.values[: X.n_history])
        self.residual_quantiles_ = None

    def _build_network(self) -> ForecastNet:
        target, past, future = self._index()
        return ForecastNet(len(target), len(target) + len(past) + len(future), len(future), self.config_.model)

    def _loader(self, X: Context, y, train: bool) -> DataLoader:
        w = self._windows(X, stride=1)
        generator = torch.Generator().manual_seed(self.config_.train.seed)
        return DataLoader(_WindowSet(w.past, w.future_known, w.y), batch_size=self.config_.train.batch_size,
                          shuffle=train, generator=generator if train else None)

    def _after_fit(self, X_valid: Context, y_valid) -> None:
        """With a point loss, the validation residuals' 10% and 90% quantiles per step and target."""
        if self.config_.model.loss == "quantile":
            return
        w = self._windows(X_valid, stride=1)
        forecast = self._run(w.past, w.future_known)[..., 0]  # (W, H, T) file units
        residual = self._unscale(w.y) - forecast
        self.residual_quantiles_ = {"p10": np.quantile(residual, 0.1, axis=0).tolist(),
                                    "p90": np.quantile(residual, 0.9, axis=0).tolist()}
        return

    # ------------------------------------------------------------------ model folder
    def _folder_state(self) -> dict:
        series = {"columns": self.columns_, "n_targets": self.n_targets_, "freq": self.freq_,
                  "numeric_time": self.numeric_time_, "calendar": self.calendar_, "season": self.season_,
                  "residual_quantiles": self.residual_quantiles_}
        return {"config": {"series": series}, "extra": {"scaler": self.scaler_.to_json()}}

    def _restore(self, folder) -> None:
        try:
            series = folder.config["series"]
            self.columns_, self.n_targets_ = list(series["columns"]), int(series["n_targets"])
            self.freq_, self.numeric_time_ = series["freq"], bool(series["numeric_time"])
            self.calendar_, self.season_ = list(series["calendar"]), int(series["season"])
            self.residual_quantiles_ = series.get("residual_quantiles")
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFolderError(f"{folder.path / 'config.json'}: bad or missing 'series' ({err})") from None
        if "scaler" not in folder.extra:
            raise ModelFolderError(f"{folder.path}: missing scaler.json")
        try:
            self.scaler_ = Standardizer.from_json(folder.extra["scaler"])
        except ValueError as err:
            raise ModelFolderError(f"{folder.path / 'scaler.json'}: {err}") from None

    # ------------------------------------------------------------------ inference
    def _unscale(self, targets: np.ndarray) -> np.ndarray:
        """Standardised targets (..., T) -> file units."""
        T = self.n_targets_
        return targets * self.scaler_.scale_[:T] + self.scaler_.mean_[:T]

    @torch.inference_mode()
    def _run(self, past: np.ndarray, future: np.ndarray) -> np.ndarray:
        """Windows -> forecasts (W, H, T, Q) in file units (quantiles in increasing order)."""
        net = self.network_.eval()
        device = network_device(net)
        outs = []
        for start in range(0, len(past), 256):
            p = torch.as_tensor(past[start:start + 256], dtype=torch.float32, device=device)
            f = torch.as_tensor(future[start:start + 256], dtype=torch.float32, device=device)
            outs.append(net.predict(p, f).float().cpu().numpy())
        out = np.concatenate(outs).astype(np.float64)  # (W, H, T, Q) standardised
        T = self.n_targets_
        return out * self.scaler_.scale_[:T, None] + self.scaler_.mean_[:T, None]

    def _intervals(self, out: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(W, H, T, Q) -> point (W, H, T), P10 and P90 (or None without intervals)."""
        if out.shape[-1] == 3:
            return out[..., 1], out[..., 0], out[..., 2]
        point = out[..., 0]
        if self.residual_quantiles_ is None:
            return point, None, None
        return (point, point + np.asarray(self.residual_quantiles_["p10"]),
                point + np.asarray(self.residual_quantiles_["p90"]))

    def forecast(self, X) -> list[dict]:
        """Per input: ``{"time": (H,) Index, "point", "p10", "p90": (H, T) arrays or None}`` in file units,
        for the ``horizon`` steps after the last row of history."""
        self._check_fitted()
        contexts = self._contexts(X)
        if not contexts:
            return []
        pasts, futures, times = [], [], []
        for n, ctx in enumerate(contexts):
            past, ahead, step_times = self._window(ctx, ctx.path or f"input {n}")
            pasts.append(past)
            futures.append(ahead)
            times.append(step_times)
        point, p10, p90 = self._intervals(self._run(np.stack(pasts), np.stack(futures)))
        return [{"time": times[i], "point": point[i], "p10": None if p10 is None else p10[i],
                 "p90": None if p90 is None else p90[i]} for i in range(len(contexts))]

    def _window(self, ctx: Context, where) -> tuple[np.ndarray, np.ndarray, pd.Index]:
        """One series -> what the network reads for the forecast after its last row of history:
        ``past (L, F)`` (the last ``lookback`` rows' features), ``ahead (H, K)`` (the known
        future inputs: future covariates and calendar) and the ``H`` forecast steps' times."""
        L, H = self.config_.model.lookback, self.config_.model.horizon
        if ctx.n_history < L:
            raise DataError(f"{ctx.n_history} rows of history; the model needs model.lookback={L}", where)
        history = ctx.rows(0, ctx.n_history)
        step_times = self._future_times(history, where) if ctx.n_future == 0 else ctx.time[ctx.n_history:]
        past = self._features(history)[-L:]  # (L, F)
        if ctx.n_future:
            ahead = self._features(ctx, times=ctx.time)[ctx.n_history:]
        else:
            ahead = np.zeros((H, past.shape[1]), dtype=np.float32)
            if self.calendar_:
                ahead[:, -len(self.calendar_):] = calendar_features(step_times, self.freq_)
        return past, ahead[:, self._index()[2]], step_times

    def _future_times(self, history: Context, where):
        H = self.config_.model.horizon
        if self.freq_ is None:
            return pd.Index([None] * H)
        freq = float(self.freq_) if self.numeric_time_ else self.freq_
        if isinstance(history.time, pd.DatetimeIndex) == self.numeric_time_:
            raise DataError("the time column holds " + ("dates" if not self.numeric_time_ else "numbers")
                            + " in training, not here", where)
        return future_times(history.time, freq, H)

    def predict(self, X) -> list[dict]:
        """Per input: ``{target: [H point forecasts]}`` (P50 for the quantile loss)."""
        names = self.columns_[: self.n_targets_] if hasattr(self, "columns_") else []
        return [{name: [round(float(v), DIGITS) for v in f["point"][:, t]] for t, name in enumerate(names)}
                for f in self.forecast(X)]

    def predict_records(self, X) -> list[dict]:
        """Per input: ``{"time": [H times], "forecast": {target: [H]}, "p10": {...}, "p90": {...}}``.

        Times are ISO dates (``2016-01-01``; with the time of day when there is one) or numbers;
        ``p10``/``p90`` are absent for a point-loss model without validation residuals.
        """
        names = self.columns_[: self.n_targets_] if hasattr(self, "columns_") else []
        records = []
        for f in self.forecast(X):
            record = {"time": _times_json(f["time"])}
            for key, source in (("forecast", "point"), ("p10", "p10"), ("p90", "p90")):
                if f[source] is not None:
                    record[key] = {name: [round(float(v), DIGITS) for v in f[source][:, t]]
                                   for t, name in enumerate(names)}
            records.append(record)
        return records

    def evaluate(self, X, y=None, source: str | Path | None = None) -> dict:
        """Rolling origins over the file (stride ``horizon``; its first ``lookback`` rows are context).

        Returns ``mae``, ``rmse``, ``smape``, ``mase`` (means over targets), ``per_target``,
        ``baselines`` (``naive``, ``seasonal_naive``: the same four, same windows), ``n_windows``,
        ``season`` and, when the model has intervals, ``coverage``: the share of true values
        inside [P10, P90] (0.8 when calibrated). MASE's scale is the seasonal naive in-sample MAE
        over the file's rows, so within one call MASE ratios are MAE ratios.
        """
        self._check_fitted()
        ctx = self._contexts(X, future_rows=0)
        if len(ctx) != 1:
            raise DataError(f"evaluate takes one series, got {len(ctx)}")
        ctx = ctx[0]
        L, H = self.config_.model.lookback, self.config_.model.horizon
        where = source if source is not None else ctx.path
        w = self._windows(ctx, stride=H, source=where)
        assert np.array_equal(w.origins, rolling_origins(ctx.n_history, L, H))
        truth = ctx.targets[: ctx.n_history]  # (N, T) file units
        rows = w.origins[:, None] + np.arange(H)
        y_true, context = truth[rows], truth[w.origins[:, None] + np.arange(-L, 0)]  # (W, H, T), (W, L, T)
        if ctx.n_history <= self.season_:
            raise DataError(f"{ctx.n_history} rows: MASE needs more than the season ({self.season_})", where)
        point, p10, p90 = self._intervals(self._run(w.past, w.future_known))
        names = self.columns_[: self.n_targets_]
        metrics = forecast_metrics(y_true, point, truth, self.season_, names)
        metrics["baselines"] = baseline_metrics(context, y_true, truth, self.season_, names)
        metrics["n_windows"] = len(w)
        metrics["season"] = int(self.season_)
        if p10 is not None:
            metrics["coverage"] = float(((y_true >= p10) & (y_true <= p90)).mean())
        return metrics

    def score(self, X, y=None) -> float:
        """Minus the MASE over rolling origins (higher is better; minus MAE if MASE is not finite)."""
        metrics = self.evaluate(X, y)
        return float(-metrics["mase"]) if math.isfinite(metrics["mase"]) else float(-metrics["mae"])

    def export_module(self):
        """The whole forecast, raw history in, for ONNX export (:mod:`lstmkit.tasks.forecaster.export`)."""
        from lstmkit.tasks.forecaster.export import export_spec

        return export_spec(self)

    def run_with_states(self, X) -> list[dict]:
        """Per series: the encoder's gates and states over its lookback window
        (:mod:`lstmkit.tasks.forecaster.explain`)."""
        from lstmkit.tasks.forecaster.explain import run_with_states

        return run_with_states(self, X)

    def attribution_spec(self, x, target=None):
        """Integrated gradients from one forecast value to the lookback window
        (:mod:`lstmkit.tasks.forecaster.explain`)."""
        from lstmkit.tasks.forecaster.explain import attribution_spec

        return attribution_spec(self, x, target)

    # ------------------------------------------------------------------ output
    def format_record(self, record: dict) -> str:
        """One line per forecast step: ``time  target=value [p10, p90] ...``."""
        lines = []
        for h, time in enumerate(record["time"]):
            parts = [str(time)]
            for name, values in record["forecast"].items():
                text = f"{name}={values[h]:.3f}"
                if "p10" in record:
                    text += f" [{record['p10'][name][h]:.3f}, {record['p90'][name][h]:.3f}]"
                parts.append(text)
            lines.append("  ".join(parts))
        return "\n".join(lines)

    def table_rows(self, records: list[dict]) -> list[dict]:
        """One CSV row per input and step: ``[input,] time, <target>, <target>_p10, <target>_p90``."""
        rows = []
        for n, record in enumerate(records):
            for h, time in enumerate(record["time"]):
                row = {"input": n} if len(records) > 1 else {}
                row["time"] = time
                for name, values in record["forecast"].items():
                    row[name] = values[h]
                    if "p10" in record:
                        row[f"{name}_p10"], row[f"{name}_p90"] = record["p10"][name][h], record["p90"][name][h]
                rows.append(row)
        return rows

    def write_predictions(self, records: list[dict], path: Path, inputs=None) -> Path:
        """``.jsonl``: one record per input; ``.csv``/``.tsv``: one row per step (:meth:`table_rows`).
        With ``inputs``, also draws ``plots/forecast.png`` in the output's folder (the first input)."""
        import csv
        import json

        from lstmkit.files import atomic_write_text

        path = Path(path)
        self.check_output_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".jsonl":
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        else:
            import io

            rows = self.table_rows(records)
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=list(dict.fromkeys(k for r in rows for k in r)),
                                    delimiter="\t" if path.suffix.lower() == ".tsv" else ",", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            text = buffer.getvalue()
        atomic_write_text(path, text)
        if inputs is not None:
            contexts = self._contexts(inputs)
            if contexts:
                self.plot_forecast(contexts[0], path.parent / "plots" / "forecast.png")
        return path

    def plot_forecast(self, X, path: str | Path) -> Path:
        """Draw the end of the history, the forecast and its P10-P90 interval, one panel per target."""
        from lstmkit.tasks.forecaster.plot import forecast_figure, save_figure

        ctx = self._contexts(X)[0]
        f = self.forecast([ctx])[0]
        history = ctx.rows(0, ctx.n_history)
        keep = min(len(history), 4 * self.config_.model.lookback)
        names = self.columns_[: self.n_targets_]
        fig = forecast_figure(history.time[-keep:], history.targets[-keep:], f["time"], f["point"], f["p10"],
                              f["p90"], names)
        return save_figure(fig, Path(path))


def _times_json(times) -> list:
    """Forecast times as JSON: ISO dates (with the time of day when not midnight), numbers, or None."""
    if isinstance(times, pd.DatetimeIndex):
        if (times == times.normalize()).all():
            return [t.strftime("%Y-%m-%d") for t in times]
        return [t.isoformat() for t in times]
    out = []
    for t in times:
        if t is None:
            out.append(None)
        else:
            t = float(t)
            out.append(int(t) if t.is_integer() else t)
    return out
