"""``Forecaster``: the ``forecaster`` task's estimator: one global model over one or many series,
history -> the next ``horizon`` steps, with calibrated quantiles.

Data flow (S series; per series N rows; T targets, P past-only covariates, Kf future covariates,
Kc calendar features, L lookback, H horizon, Q quantiles)::

    CSV / long CSV / DataFrame(s) / JSON --series.py, panel.py--> one Context per series:
        time (N,), values (N, T+P+Kf) in the file's units, series_id, static covariates
        --Standardizer of that series (fitted on its training rows; scaler.json)--> (N, T+P+Kf)
        [; calendar sin/cos of the time (N, Kc), known in the future]  -> features (N, F)
        --WindowStore (every origin of every series; no window crosses a series)--> past (B, L, F),
          future (B, H, Kf+Kc), y (B, H, T), static inputs (B, Sn), (B, Sc)
        --ForecastNet--> (B, H, T, Q) standardised --+ calibration offsets, sorted--> quantiles
        --inverse scaling of the series' targets--> forecasts in the file's units

Training windows start at every row of every series (stride 1); validation is the end of every
series (never shuffled windows): without ``valid=``, each series' last 10% of rows (at least
``horizon``), read with ``lookback`` rows of context before them. A series too short to give
both keeps all its rows for training; one too short for a single window is left out (a warning
says which).

Scaling: each series has its own :class:`~lstmkit.data.scaling.Standardizer`, fitted on its
training rows only. A series the model has not seen (another id, or a lone series given to a
panel model) is scaled by its own history at prediction time.

Quantiles (``model.quantiles``, 0.5 always among them): with ``model.loss=quantile`` the network
predicts each; with a point loss the median is the network's forecast and the other quantiles
are the median plus validation residual quantiles. Calibration (``model.calibrate``, split
conformal on the validation windows): each non-median quantile ``q`` is shifted, per horizon
step and target, by the ``q``-quantile of the validation errors ``(y - f_q) / s`` (``s``: the
series' target scale), so that a share ``q`` of the validation values lies below it; the
quantiles are then sorted, so they never cross.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from lstmkit.data.formats.timeseries import calendar_feature_names, calendar_features, future_times
from lstmkit.data.scaling import Standardizer
from lstmkit.errors import ConfigError, DataError, DataWarning, ModelFolderError
from lstmkit.fingerprint import data_fingerprint
from lstmkit.inference import network_device
from lstmkit.metrics.forecast import infer_season, rolling_origins
from lstmkit.tasks.base import Estimator
from lstmkit.tasks.forecaster.config import ForecasterConfig, quantile_key
from lstmkit.tasks.forecaster.network import ForecastNet
from lstmkit.tasks.forecaster.panel import contexts_from_frame, read_panel
from lstmkit.tasks.forecaster.series import (
    Context,
    as_context,
    context_from_frame,
    frame_from_json,
    read_context,
    times_json,
    with_time_column,
)
from lstmkit.tasks.forecaster.statics import StaticEncoding
from lstmkit.tasks.forecaster.window_store import WindowStore, batched
from lstmkit.tasks.forecaster.windows import make_windows

DIGITS = 6
"""Forecasts in records are rounded to this many decimals."""


class Forecaster(Estimator):
    """History -> the next ``horizon`` steps of the target(s) of one or many series, with quantiles.

    >>> fc = Forecaster(target="sales", id_column="store", lookback=28, horizon=7).fit(frame)  # doctest: +SKIP
    >>> fc.predict()          # a DataFrame: the 7 steps after the training data, every store  # doctest: +SKIP
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

    def _read(self, path, future_rows: int) -> list[Context]:
        data = self._config().data
        if data.id_column:
            return read_panel(path, data, future_rows=future_rows)
        return [read_context(path, data, future_rows=future_rows)]

    def read_data(self, path) -> tuple[list[Context], None]:
        """A forecasting CSV -> ``(series, None)``: one context per series; targets are columns."""
        return self._read(path, 0), None

    def read_inputs(self, path) -> list[Context]:
        """The histories to forecast from; with future covariates each ends with ``horizon`` future rows."""
        return self._read(path, self._future_rows())

    def inputs_from_json(self, items) -> list[Context]:
        """Forecasting contexts: each ``{"date": [...], "temp_max": [...], ...}`` or a list of row objects
        (with ``data.id_column``, each input is one series, its id in that column)."""
        if not isinstance(items, list):
            raise DataError(f"inputs must be a list of forecasting contexts, got {type(items).__name__}")
        data = self._config().data
        out = []
        for n, item in enumerate(items, start=1):
            frame = frame_from_json(item, n)
            if data.id_column:
                found = contexts_from_frame(frame, data, name=f"input {n}", future_rows=self._future_rows())
                if len(found) != 1:
                    raise DataError(f"input {n}: holds {len(found)} series (column {data.id_column!r}); "
                                    "give one series per input")
                out += found
            else:
                out.append(context_from_frame(frame, data, name=f"input {n}", future_rows=self._future_rows()))
        return out

    def coerce(self, X, y=None):
        """The series to fit on: a DataFrame (long, with ``data.id_column``, or one series), a dict
        ``{id: DataFrame}``, a list of DataFrames, or what :meth:`read_data` returns."""
        if y is not None:
            raise DataError("a forecaster's targets are columns of the series (data.target); pass y=None")
        return self._contexts(X, future_rows=0, name_items=True), None

    def _contexts(self, X, future_rows: int | None = None, name_items: bool | None = None) -> list[Context]:
        """Inputs as a list of contexts (one per series). DataFrames of a list are series ``"1"``,
        ``"2"``, ... when ``name_items`` (default: for a model of many series)."""
        from lstmkit.data.formats.timeseries import Series

        data = self._config().data
        future_rows = self._future_rows() if future_rows is None else future_rows
        if isinstance(X, dict):
            items = []
            for sid, frame in X.items():
                if not isinstance(frame, pd.DataFrame):
                    raise DataError(f"series {sid!r}: expected a pandas DataFrame, got {type(frame).__name__}")
                frame = with_time_column(frame, data.time_column)
                if data.id_column:
                    frame = frame.assign(**{data.id_column: str(sid)})
                    items += contexts_from_frame(frame, data, name=f"series {sid!r}", future_rows=future_rows)
                else:
                    ctx = context_from_frame(frame, data, name=f"series {sid!r}", future_rows=future_rows)
                    ctx.series_id = str(sid)
                    items.append(ctx)
            return items
        items = X if isinstance(X, (list, tuple)) else [X]
        out = []
        for n, item in enumerate(items, start=1):
            if isinstance(item, Series):
                out.append(as_context(item, getattr(item, "n_future", 0)))
            elif isinstance(item, pd.DataFrame):
                name = "the DataFrame" if len(items) == 1 else f"DataFrame {n}"
                item = with_time_column(item, data.time_column)
                if data.id_column and data.id_column in item.columns:
                    out += contexts_from_frame(item, data, name=name, future_rows=future_rows)
                else:
                    ctx = context_from_frame(item, data, name=name, future_rows=future_rows)
                    if name_items is None:
                        name_items = hasattr(self, "scalers_") and self.panel_
                    if len(items) > 1 and name_items:
                        ctx.series_id = str(n)
                    out.append(ctx)
            else:
                raise DataError(f"input {n}: expected a series (a pandas DataFrame with the data.* columns, or "
                                f"what read_data returns), got {type(item).__name__}")
        ids = [c.series_id for c in out if c.series_id is not None]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise DataError(f"series {twice[0]!r} is given twice")
        return out

    def holdout(self, X: list[Context], y, fraction: float, seed: int):
        """Hold out the end of every series: its last ``max(horizon, round(fraction N))`` rows, with
        ``lookback`` rows of context before them (never shuffled windows)."""
        L, H = self.config_.model.lookback, self.config_.model.horizon
        train, valid = [], []
        for ctx in X:
            n = ctx.n_history
            n_valid = max(H, round(fraction * n))
            if n - n_valid >= L + H:
                train.append(ctx.rows(0, n - n_valid))
                valid.append(ctx.rows(n - n_valid - L, n))
            else:
                train.append(ctx)
        if not valid:
            ctx = max(X, key=lambda c: c.n_history)
            n = ctx.n_history
            n_valid = max(H, round(fraction * n))
            raise DataError(f"{n} rows are too few to hold out the last {n_valid} for validation and train on "
                            f"windows of model.lookback={L} + model.horizon={H} rows; give more rows or a "
                            "validation file", ctx.label if ctx.series_id is not None else ctx.path)
        return train, None, valid, None

    def fingerprint(self, X, y, X_valid, y_valid) -> str:
        def plain(contexts: list[Context]):
            out = []
            for c in contexts:
                time = c.time.asi8 if isinstance(c.time, pd.DatetimeIndex) else c.time.to_numpy(dtype=np.float64)
                out.append([c.series_id, sorted(c.static.items()), np.asarray(time), c.values, list(c.columns),
                            c.n_targets])
            return out

        return data_fingerprint(plain(X), plain(X_valid))

    # ------------------------------------------------------------------ features
    @property
    def scaler_(self) -> Standardizer:
        """The scaler of a one-series model (the only one it has)."""
        if len(self.scalers_) != 1:
            raise AttributeError("a many-series model has one scaler per series: see scalers_")
        return next(iter(self.scalers_.values()))

    @property
    def panel_(self) -> bool:
        """Trained on many series (or with an id column)."""
        return bool(self.config_.data.id_column) or len(self.scalers_) > 1

    def _scaler_for(self, ctx: Context) -> Standardizer:
        """The series' training scaler; for a series the model has not seen, one fitted on its history."""
        if not self.panel_:
            return self.scaler_
        scaler = self.scalers_.get(ctx.series_id)
        if scaler is None:
            scaler = Standardizer(self.columns_).fit(ctx.values[: ctx.n_history])
        return scaler

    def _features(self, ctx: Context, times=None, scaler: Standardizer | None = None) -> np.ndarray:
        """(N, F) float32: the series' standardised columns, then the calendar features of ``times``."""
        if list(ctx.columns) != self.columns_:
            raise DataError(f"the series has columns {ctx.columns}, the model was trained on {self.columns_}",
                            ctx.label)
        values = (scaler or self._scaler_for(ctx)).transform(ctx.values)
        if self.calendar_:
            calendar = calendar_features(ctx.time if times is None else times, self.freq_)
            if calendar.shape[1] != len(self.calendar_):
                raise DataError("the times of this series do not have the step of the training series "
                                f"({self.freq_}); its calendar features differ", ctx.label)
            values = np.concatenate([values, calendar], axis=1)
        return values.astype(np.float32)

    def _index(self) -> tuple[list[int], list[int], list[int]]:
        """Columns of the features: targets, past-only covariates, future-known inputs."""
        data = self.config_.data
        T, P = len(data.target), len(data.covariates)
        return list(range(T)), list(range(T, T + P)), list(range(T + P, len(self.columns_) + len(self.calendar_)))

    def _statics(self, contexts: list[Context]) -> tuple[np.ndarray, np.ndarray]:
        """Per series: static numbers (S, Sn) and category codes (S, Sc)."""
        return self.statics_.encode(contexts)

    # ------------------------------------------------------------------ learning
    @staticmethod
    def _freq_of(X: list[Context]):
        found = [c.freq for c in X if c.freq is not None]
        if not found:
            return None
        freq = max(set(found), key=found.count)
        other = next((c for c in X if c.freq is not None and c.freq != freq), None)
        if other is not None:
            raise DataError(f"the series has a step of {other.freq!r}, the others {freq!r}: one model takes "
                            "series on one grid (set data.freq, or resample)", other.label)
        return freq

    def _prepare(self, X: list[Context], y) -> None:
        data, model = self.config_.data, self.config_.model
        L, H = model.lookback, model.horizon
        first = X[0]
        self.columns_ = list(first.columns)
        self.n_targets_ = first.n_targets
        self.freq_ = self._freq_of(X)
        self.numeric_time_ = not isinstance(first.time, pd.DatetimeIndex)
        for ctx in X:
            if (not isinstance(ctx.time, pd.DatetimeIndex)) != self.numeric_time_:
                raise DataError("the time column holds dates in some series and numbers in others", ctx.label)
        self.calendar_ = calendar_feature_names(first.time, self.freq_) if data.calendar else []
        self.season_ = data.season or infer_season(self.freq_)
        if model.lookback < self.season_:
            raise ConfigError(f"model.lookback={model.lookback} is shorter than the season ({self.season_}, "
                              "data.season): the seasonal naive baseline needs a whole season of history")
        short = [c for c in X if c.n_history < L + H]
        if short:
            names = ", ".join(repr(c.series_id) for c in short[:5]) + (" ..." if len(short) > 5 else "")
            if len(short) == len(X):
                raise DataError(f"no series has the model.lookback + model.horizon = {L + H} rows of one training "
                                "window", X[0].label if len(X) == 1 else None)
            warnings.warn(f"{len(short)} series shorter than model.lookback + model.horizon = {L + H} rows give no "
                          f"training window: {names}", DataWarning, stacklevel=2)
        self.scalers_ = {c.series_id: Standardizer(self.columns_).fit(c.values[: c.n_history]) for c in X}
        self.statics_ = StaticEncoding.fit(X, data.static_covariates, id_dim=model.id_embedding)
        self.interval_offsets_ = None
        self.history_tail_ = []
        self.train_rows_ = max(c.n_history for c in X)

    def _build_network(self) -> ForecastNet:
        target, past, future = self._index()
        return ForecastNet(len(target), len(target) + len(past) + len(future), len(future), self.config_.model,
                           n_static_numbers=self.statics_.n_numbers, category_sizes=self.statics_.category_sizes,
                           category_dims=self.statics_.category_dims(self.config_.model.static_embedding))

    @contextmanager
    def _training_data(self, X, y, valid, out_dir):
        """The series coerced and, without ``valid``, the end of every series held out
        (:meth:`holdout`); also keeps the series' full histories (training and validation data) for
        the history tail that ``predict()`` forecasts from, and names the folder of the window store
        (``OUT/store``; a temporary folder without ``out_dir``)."""
        X, _ = self.coerce(X, y)
        if valid is None:
            train, _, X_valid, _ = self.holdout(X, None, self.validation_fraction, self.config_.train.seed)
            self._tail_source = X
        else:
            X_valid, _ = self.coerce(*valid)
            train = X
            self._tail_source = _latest_per_series(X + X_valid)
        with tempfile.TemporaryDirectory(prefix="lstmkit-store-") as scratch:
            self._store = Path(out_dir) / "store" if out_dir is not None else Path(scratch)
            self._store_files = []
            try:
                yield train, None, X_valid, None
            finally:
                for path in self._store_files:  # this process's window stores: only needed while training
                    path.unlink(missing_ok=True)
                self._store = None

    def _loader(self, X: list[Context], y, train: bool) -> DataLoader:
        model = self.config_.model
        target, _, future = self._index()
        numbers, categories = self._statics(X)
        store = WindowStore.build([self._features(c.rows(0, c.n_history)) for c in X], model.lookback, model.horizon,
                                  target, future, numbers, categories, folder=getattr(self, "_store", None),
                                  name="train" if train else "valid")
        if store.path is not None:
            self._store_files.append(store.path)
        if not len(store):
            raise DataError("no validation window: every validation series is shorter than model.lookback + "
                            "model.horizon rows" if not train else "no training window")
        generator = torch.Generator().manual_seed(self.config_.train.seed)
        return DataLoader(store, batch_size=self.config_.train.batch_size, shuffle=train, collate_fn=batched,
                          generator=generator if train else None)

    def _after_fit(self, X_valid: list[Context], y_valid) -> None:
        """Calibrate the quantiles on the validation windows; keep the history tail."""
        model = self.config_.model
        self.history_tail_ = [self._tail(c) for c in getattr(self, "_tail_source", [])]
        levels = np.asarray(model.quantiles)
        if model.loss != "quantile" or model.calibrate:
            windows = self._series_windows(X_valid, stride=1)
            raw = self._run_standardised(windows)  # (W, H, T, Q') standardised by each series' scaler
            y = windows["y"]  # (W, H, T) standardised
            forecasts = np.moveaxis(raw, -1, 0)  # (Q, W, H, T); a point loss: its one forecast for every level
            errors = y[None] - np.broadcast_to(forecasts, (len(levels), *forecasts.shape[1:]))
            self.interval_offsets_ = calibration_offsets(errors, levels)  # (Q, H, T)
            if len(y) < FEW_CALIBRATION_WINDOWS:
                warnings.warn(f"the quantiles were calibrated on {len(y)} validation windows only: intervals from so "
                              "few are rough (hold out more: a validation file, or longer series)", DataWarning,
                              stacklevel=2)
        return None

    def _tail(self, ctx: Context) -> dict:
        """The last ``lookback`` rows of a series, for forecasting after the end of the training data."""
        L = self.config_.model.lookback
        rows = ctx.rows(ctx.n_history - L, ctx.n_history)
        return {"id": ctx.series_id, "static": dict(ctx.static), "time": times_json(rows.time),
                "values": rows.values.tolist()}

    # ------------------------------------------------------------------ model folder
    def _folder_state(self) -> dict:
        series = {"columns": self.columns_, "n_targets": self.n_targets_, "freq": self.freq_,
                  "numeric_time": self.numeric_time_, "calendar": self.calendar_, "season": self.season_,
                  "interval_offsets": None if self.interval_offsets_ is None else self.interval_offsets_.tolist(),
                  "statics": self.statics_.to_json(), "train_rows": self.train_rows_}
        if self.panel_:
            scaler = {"columns": self.columns_, "series": [{"id": sid, "mean": s.mean_.tolist(),
                                                            "scale": s.scale_.tolist()}
                                                           for sid, s in self.scalers_.items()]}
        else:
            scaler = self.scaler_.to_json()
        return {"config": {"series": series}, "extra": {"scaler": scaler, "history": {"series": self.history_tail_}}}

    def _restore(self, folder) -> None:
        try:
            series = folder.config["series"]
            self.columns_, self.n_targets_ = list(series["columns"]), int(series["n_targets"])
            self.freq_, self.numeric_time_ = series["freq"], bool(series["numeric_time"])
            self.calendar_, self.season_ = list(series["calendar"]), int(series["season"])
            offsets = series.get("interval_offsets")
            self.interval_offsets_ = None if offsets is None else np.asarray(offsets, dtype=np.float64)
            self.statics_ = StaticEncoding.from_json(series.get("statics") or {})
            self.train_rows_ = int(series.get("train_rows") or 0)
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFolderError(f"{folder.path / 'config.json'}: bad or missing 'series' ({err})") from None
        if "scaler" not in folder.extra:
            raise ModelFolderError(f"{folder.path}: missing scaler.json")
        try:
            scaler = folder.extra["scaler"]
            if "series" in scaler:
                self.scalers_ = {item["id"]: Standardizer.from_json({"columns": scaler["columns"], "mean": item["mean"],
                                                                     "scale": item["scale"]})
                                 for item in scaler["series"]}
            else:
                self.scalers_ = {None: Standardizer.from_json(scaler)}
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFolderError(f"{folder.path / 'scaler.json'}: {err}") from None
        self.history_tail_ = list((folder.extra.get("history") or {}).get("series", []))
        old = series.get("residual_quantiles")  # model folders before many series: P10/P90 residuals, file units
        if offsets is None and old is not None and len(self.scalers_) == 1:
            T = self.n_targets_
            scale = self.scaler_.scale_[:T]
            zero = np.zeros_like(np.asarray(old["p10"]))
            self.interval_offsets_ = np.stack([np.asarray(old["p10"]) / scale, zero, np.asarray(old["p90"]) / scale])

    # ------------------------------------------------------------------ windows and inference
    def _series_windows(self, contexts: list[Context], stride: int, starts: list[int] | None = None,
                        source=None) -> dict:
        """Windows of every series (each origin with ``lookback`` rows of context), stacked:
        ``past`` (W, L, F), ``future`` (W, H, K), ``y`` (W, H, T) standardised, ``origins`` (W,) rows of
        their series, ``series`` (W,) index into ``contexts``, statics (W, Sn), (W, Sc), and the
        series' target ``mean``/``scale`` (W, T) to return to the file's units."""
        L, H = self.config_.model.lookback, self.config_.model.horizon
        target, past_idx, future = self._index()
        numbers, categories = self._statics(contexts)
        parts = {k: [] for k in ("past", "future", "y", "origins", "series", "mean", "scale")}
        for s, ctx in enumerate(contexts):
            if ctx.n_history < L + H:
                if len(contexts) == 1:
                    raise DataError(f"{ctx.n_history} rows: at least model.lookback + model.horizon = {L + H} are "
                                    f"needed (the first {L} are history only)",
                                    source if source is not None else ctx.label)
                continue
            scaler = self._scaler_for(ctx)
            feats = self._features(ctx.rows(0, ctx.n_history), scaler=scaler)
            start = L if starts is None else max(starts[s], L)
            if start > ctx.n_history - H:
                continue
            w = make_windows(feats, L, H, target, past_idx, future, stride=stride, start=start)
            parts["past"].append(w.past)
            parts["future"].append(w.future_known)
            parts["y"].append(w.y)
            parts["origins"].append(w.origins)
            parts["series"].append(np.full(len(w), s, dtype=np.int64))
            parts["mean"].append(np.repeat(scaler.mean_[None, : self.n_targets_], len(w), axis=0))
            parts["scale"].append(np.repeat(scaler.scale_[None, : self.n_targets_], len(w), axis=0))
        if not parts["past"]:
            raise DataError(f"no series has the model.lookback + model.horizon = {L + H} rows of one window",
                            source)
        out = {k: np.concatenate(v) for k, v in parts.items()}
        out["static_numbers"], out["static_categories"] = numbers[out["series"]], categories[out["series"]]
        return out

    @torch.inference_mode()
    def _run_standardised(self, windows: dict) -> np.ndarray:
        """Windows -> the network's raw outputs (W, H, T, Q') in standardised units."""
        net = self.network_.eval()
        device = network_device(net)
        outs = []
        for start in range(0, len(windows["past"]), 512):
            part = slice(start, start + 512)

            def tensor(key, dtype=torch.float32, part=part):
                return torch.as_tensor(windows[key][part], dtype=dtype, device=device)

            outs.append(net(tensor("past"), tensor("future"), tensor("static_numbers"),
                            tensor("static_categories", torch.long)).float().cpu().numpy())
        return np.concatenate(outs).astype(np.float64)

    def _quantiles(self, windows: dict) -> np.ndarray:
        """Windows -> calibrated quantiles (W, H, T, Q) in the file's units, increasing along Q."""
        raw = self._run_standardised(windows)  # (W, H, T, Q')
        levels = self.config_.model.quantiles
        if raw.shape[-1] == 1:
            raw = np.repeat(raw, len(levels), axis=-1)
        if self.interval_offsets_ is not None:
            raw = raw + np.moveaxis(self.interval_offsets_, 0, -1)[None]  # (1, H, T, Q)
        elif self.config_.model.loss != "quantile":
            raw = raw[..., [levels.index(0.5)]]  # no residuals known: the point forecast alone
        raw = np.sort(raw, axis=-1)
        return raw * windows["scale"][:, None, :, None] + windows["mean"][:, None, :, None]

    def _levels(self, out: np.ndarray) -> list[float]:
        return list(self.config_.model.quantiles) if out.shape[-1] > 1 else [0.5]

    def forecast(self, X=None) -> list[dict]:
        """Per series: ``{"id", "time": (H,) Index, "point": (H, T), "quantiles": {level: (H, T)}}`` in
        the file's units, for the ``horizon`` steps after its last row of history (``X=None``: after
        the end of the training data). ``p10``/``p90`` (or None) are kept for the default levels."""
        self._check_fitted()
        contexts = self._history_contexts() if X is None else self._contexts(X)
        if not contexts:
            return []
        parts = {k: [] for k in ("past", "future", "times")}
        for ctx in contexts:
            past, ahead, step_times = self._window(ctx, ctx.label)
            parts["past"].append(past)
            parts["future"].append(ahead)
            parts["times"].append(step_times)
        numbers, categories = self._statics(contexts)
        scalers = [self._scaler_for(c) for c in contexts]
        T = self.n_targets_
        windows = {"past": np.stack(parts["past"]), "future": np.stack(parts["future"]),
                   "static_numbers": numbers, "static_categories": categories,
                   "mean": np.stack([s.mean_[:T] for s in scalers]), "scale": np.stack([s.scale_[:T] for s in scalers])}
        out = self._quantiles(windows)  # (S, H, T, Q)
        levels = self._levels(out)
        median = levels.index(0.5)
        records = []
        for i, ctx in enumerate(contexts):
            quantiles = {q: out[i, ..., k] for k, q in enumerate(levels) if q != 0.5}
            records.append({"id": ctx.series_id, "time": parts["times"][i], "point": out[i, ..., median],
                            "quantiles": quantiles, "p10": quantiles.get(0.1), "p90": quantiles.get(0.9)})
        return records

    def _history_contexts(self) -> list[Context]:
        """The series' last ``lookback`` rows at the end of the training data (kept in the model folder)."""
        if self.config_.data.future_covariates:
            raise DataError("this model forecasts with future covariates (data.future_covariates): give their "
                            "planned values for the forecast steps in an input file (predict --input)")
        if not self.history_tail_:
            raise ModelFolderError("this model folder keeps no history to forecast from (trained before lstmkit "
                                   "kept one): give the history with --input")
        out = []
        for item in self.history_tail_:
            time = pd.Index(item["time"]) if self.numeric_time_ else pd.DatetimeIndex(item["time"])
            values = np.asarray(item["values"], dtype=np.float64)
            out.append(Context(time=time, values=values, columns=list(self.columns_), n_targets=self.n_targets_,
                               freq=self.freq_, lines=np.zeros(len(values), dtype=np.int64), path=None,
                               series_id=item["id"], static=dict(item.get("static") or {})))
        return out

    def _window(self, ctx: Context, where) -> tuple[np.ndarray, np.ndarray, pd.Index]:
        """One series -> what the network reads for the forecast after its last row of history:
        ``past (L, F)`` (the last ``lookback`` rows' features), ``ahead (H, K)`` (the known
        future inputs: future covariates and calendar) and the ``H`` forecast steps' times."""
        L, H = self.config_.model.lookback, self.config_.model.horizon
        if ctx.n_history < L:
            raise DataError(f"{ctx.n_history} rows of history; the model needs model.lookback={L}", where)
        history = ctx.rows(0, ctx.n_history)
        step_times = self._future_times(history, where) if ctx.n_future == 0 else ctx.time[ctx.n_history:]
        scaler = self._scaler_for(ctx)
        past = self._features(history, scaler=scaler)[-L:]  # (L, F)
        if ctx.n_future:
            ahead = self._features(ctx, times=ctx.time, scaler=scaler)[ctx.n_history:]
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

    def predict(self, X=None) -> pd.DataFrame:
        """Forecasts as a long DataFrame: one row per series and step, columns ``[<id column>,] time``,
        then per target ``<target>`` (the median) and ``<target>_p10``, ``<target>_p90`` (one per other
        quantile). ``X=None``: the ``horizon`` steps after the end of the training data."""
        return pd.DataFrame(self.table_rows(self.predict_records(X)))

    def predict_records(self, X=None) -> list[dict]:
        """Per series: ``{["id",] "time": [H times], "forecast": {target: [H]}, "p10": {...}, "p90": {...}}``,
        one ``p..`` key per quantile other than the median (``model.quantiles``).

        Times are ISO dates (``2016-01-01``; with the time of day when there is one) or numbers;
        the quantiles are absent for a point-loss model without validation residuals.
        """
        names = self.columns_[: self.n_targets_] if hasattr(self, "columns_") else []
        records = []
        for f in self.forecast(X):
            record = {"id": f["id"]} if f["id"] is not None else {}
            record["time"] = times_json(f["time"])
            record["forecast"] = _rounded(f["point"], names)
            for q, values in f["quantiles"].items():
                record[quantile_key(q)] = _rounded(values, names)
            records.append(record)
        return records

    def evaluate(self, X, y=None, source: str | Path | None = None) -> dict:
        """Rolling origins over every series (stride ``horizon``; each series' first ``lookback`` rows are
        context), scored as :func:`lstmkit.tasks.forecaster.scoring.score_forecasts` does: ``mae``,
        ``rmse``, ``smape``, ``mase``, ``coverage``, ``quantile_loss``, ``baselines`` (naive,
        seasonal_naive, drift, ets), ``n_windows``, ``season``; with many series ``n_series`` and
        ``per_series``."""
        from lstmkit.tasks.forecaster.scoring import score_forecasts

        self._check_fitted()
        contexts = self._contexts(X, future_rows=0)
        L, H = self.config_.model.lookback, self.config_.model.horizon
        where = source if source is not None else (contexts[0].label if contexts else None)
        windows = self._series_windows(contexts, stride=H, source=where)
        for s, ctx in enumerate(contexts):
            if ctx.n_history >= L + H:
                assert np.array_equal(windows["origins"][windows["series"] == s], rolling_origins(ctx.n_history, L, H))
                if ctx.n_history <= self.season_:
                    raise DataError(f"{ctx.n_history} rows: MASE needs more than the season ({self.season_})",
                                    source if source is not None else ctx.label)
        out = self._quantiles(windows)
        return score_forecasts(self, contexts, windows, out, per_step=False)

    def backtest(self, X, start=None, stride: int = 1, refit: int | str = "never", window: str = "expanding",
                 baselines: bool = True) -> tuple[pd.DataFrame, dict]:
        """Forecasts from every origin of ``X`` (see :mod:`lstmkit.tasks.forecaster.backtest`):
        ``(frame, metrics)``, one row per origin, series and step with the true values."""
        from lstmkit.tasks.forecaster.backtest import backtest

        return backtest(self, X, start=start, stride=stride, refit=refit, window=window, baselines=baselines)

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
    SHOWN_SERIES = 10
    """``evaluate`` without ``--json`` shows this many series' lines (``--json`` has them all)."""

    def format_metrics(self, title: str, metrics: dict) -> list[str]:
        """The Estimator's lines, with ``per_series`` cut to :attr:`SHOWN_SERIES` series."""
        per_series = metrics.get("per_series") or {}
        shown = dict(list(per_series.items())[: self.SHOWN_SERIES])
        lines = super().format_metrics(title, {**metrics, "per_series": shown} if per_series else metrics)
        if len(per_series) > len(shown):
            lines.append(f"  per_series: {len(per_series) - len(shown)} more series (--json shows every series)")
        return lines

    def format_record(self, record: dict) -> str:
        """One line per forecast step: ``[id  ]time  target=value [p10, p90] ...`` (the outer quantiles)."""
        keys = [k for k in record if k.startswith("p") and k[1:2].isdigit()]
        lines = []
        for h, time in enumerate(record["time"]):
            parts = ([str(record["id"])] if "id" in record else []) + [str(time)]
            for name, values in record["forecast"].items():
                text = f"{name}={values[h]:.3f}"
                if keys:
                    text += f" [{record[keys[0]][name][h]:.3f}, {record[keys[-1]][name][h]:.3f}]"
                parts.append(text)
            lines.append("  ".join(parts))
        return "\n".join(lines)

    def table_rows(self, records: list[dict]) -> list[dict]:
        """One row per series and step: ``[<id column> | input,] time, <target>, <target>_p10, ...``."""
        id_name = self._config().data.id_column or "series"
        rows = []
        for n, record in enumerate(records, start=1):
            keys = [k for k in record if k.startswith("p") and k[1:2].isdigit()]
            for h, time in enumerate(record["time"]):
                if "id" in record:
                    row = {id_name: record["id"]}
                else:
                    row = {"input": n} if len(records) > 1 else {}
                row["time"] = time
                for name, values in record["forecast"].items():
                    row[name] = values[h]
                    for key in keys:
                        row[f"{name}_{key}"] = record[key][name][h]
                rows.append(row)
        return rows

    def write_predictions(self, records: list[dict], path: Path, inputs=None) -> Path:
        """``.jsonl``: one record per series; ``.csv``/``.tsv``: one row per series and step
        (:meth:`table_rows`). With ``inputs``, also draws ``plots/forecast.png`` in the output's
        folder (the first series)."""
        from lstmkit.predictions import write_table

        path = Path(path)
        self.check_output_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".jsonl":
            from lstmkit.predictions import write_records

            write_records(records, path)
        else:
            write_table(self.table_rows(records), path)
        contexts = self._history_contexts() if inputs is None and self.history_tail_ and \
            not self.config_.data.future_covariates else (self._contexts(inputs) if inputs is not None else [])
        if contexts:
            self.plot_forecast(contexts[0], path.parent / "plots" / "forecast.png")
        return path

    def plot_forecast(self, X, path: str | Path) -> Path:
        """Draw the end of the history, the forecast and its outer-quantile band, one panel per target."""
        from lstmkit.plots import save_figure
        from lstmkit.tasks.forecaster.plot import forecast_figure

        ctx = self._contexts(X)[0] if not isinstance(X, Context) else X
        f = self.forecast([ctx])[0]
        history = ctx.rows(0, ctx.n_history)
        keep = min(len(history), 4 * self.config_.model.lookback)
        names = self.columns_[: self.n_targets_]
        levels = sorted(f["quantiles"])
        low = f["quantiles"][levels[0]] if levels else None
        high = f["quantiles"][levels[-1]] if levels else None
        band = f"{quantile_key(levels[0]).upper()}-{quantile_key(levels[-1]).upper()}" if levels else ""
        fig = forecast_figure(history.time[-keep:], history.targets[-keep:], f["time"], f["point"], low, high, names,
                              series=ctx.series_id, band=band)
        return save_figure(fig, Path(path))


FEW_CALIBRATION_WINDOWS = 20
"""Fewer validation windows than this: ``fit`` warns that the calibrated intervals are rough."""

MIN_WINDOWS_PER_STEP = 50
"""With fewer validation windows, calibration pools the horizon steps (one offset per quantile and
target): a 10% quantile of a dozen errors is mostly noise."""


def calibration_offsets(errors: np.ndarray, levels) -> np.ndarray:
    """Split-conformal shifts of the quantiles: ``errors`` (Q, W, H, T) are the validation targets
    minus each quantile's forecast (standardised units); the shift of quantile ``q`` is the
    ``q``-quantile of its errors, per step and target (pooled over the steps when there are fewer
    than :data:`MIN_WINDOWS_PER_STEP` windows), 0 for the median. Returns (Q, H, T)."""
    Q, W, H, T = errors.shape
    out = np.zeros((Q, H, T))
    for k, q in enumerate(levels):
        if q == 0.5:
            continue
        if W >= MIN_WINDOWS_PER_STEP:
            out[k] = np.quantile(errors[k], q, axis=0)
        else:
            out[k] = np.quantile(errors[k].reshape(W * H, T), q, axis=0)[None]
    return out


def _rounded(values: np.ndarray, names: list[str]) -> dict:
    """(H, T) -> ``{target: [H numbers]}`` rounded to :data:`DIGITS`."""
    return {name: [round(float(v), DIGITS) for v in values[:, t]] for t, name in enumerate(names)}


def _latest_per_series(contexts: list[Context]) -> list[Context]:
    """Of contexts naming the same series, the one whose history ends last (training then validation)."""
    best: dict = {}
    for ctx in contexts:
        key = ctx.series_id
        end = ctx.time[ctx.n_history - 1]
        if key not in best or end > best[key][0]:
            best[key] = (end, ctx)
    return [ctx for _, ctx in best.values()]
