"""Tests of the forecaster task (lstmkit.tasks.forecaster): windows, scaling, metrics, intervals,
per-window normalisation, future covariates, every bad input, and the CLI end to end.

Each test's docstring names the bug it catches. References: hand-computed loops and numpy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_process import lstmkit_ok

from lstmkit import Forecaster, load
from lstmkit.errors import ConfigError, DataError

TINY = dict(lookback=8, horizon=3, hidden_size=8, epochs=2, batch_size=32, lr=0.01, patience=0)


def weekly(n: int, seed: int = 0, noise: float = 0.3, start: str = "2020-01-01") -> pd.DataFrame:
    """Daily ``value`` = 10 + weekly sine + N(0, noise^2); covariate ``x`` ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame({"date": pd.date_range(start, periods=n, freq="D"),
                         "value": 10 + 2 * np.sin(2 * np.pi * t / 7) + rng.normal(0, noise, n),
                         "x": rng.normal(size=n)})


@pytest.fixture(scope="module")
def fitted():
    frame = weekly(160)
    return Forecaster(target=["value"], covariates=["x"], **TINY).fit(frame), frame


# ---------------------------------------------------------------------- windows: no look-ahead
def test_no_target_value_leaks_into_the_inputs(fitted):
    """Bug caught: a window whose inputs include the origin row or later (an off-by-one in the
    window cut or in the calendar/future columns would let the forecast see the answer)."""
    fc, frame = fitted
    w = fc._series_windows(fc._contexts(frame), stride=3)
    before = fc._quantiles(w)
    changed = frame.copy()
    origin = int(w["origins"][5])
    changed.loc[origin:, ["value", "x"]] = 1e6  # every target and past covariate from the origin on
    w2 = fc._series_windows(fc._contexts(changed), stride=3)
    after = fc._quantiles(w2)
    np.testing.assert_array_equal(after[:6], before[:6])  # windows up to that origin see nothing of it
    assert not np.allclose(after[6:], before[6:])  # later windows do see the change (the test can fail)


def test_a_window_forecast_equals_the_forecast_from_the_history_before_it(fitted):
    """Bug caught: evaluate's windows and predict's "after the end of the file" path disagree
    (a different calendar for future steps, or the last history row dropped)."""
    fc, frame = fitted
    w = fc._series_windows(fc._contexts(frame), stride=3)
    window_point = fc._quantiles(w)[..., 1]  # (W, H, T): the median
    for k in (0, 4, len(w["origins"]) - 1):
        origin = int(w["origins"][k])
        forecast = fc.forecast(frame.iloc[:origin])[0]
        np.testing.assert_allclose(forecast["point"], window_point[k], rtol=1e-6)
        assert list(forecast["time"]) == list(frame["date"].iloc[origin:origin + 3])


# ---------------------------------------------------------------------- scaling
def test_scaler_is_fitted_on_training_rows_only_and_round_trips(fitted, tmp_path):
    """Bug caught: scaling fitted on the validation rows too (a leak), or scaler.json not restoring
    the same transform."""
    fc, frame = fitted
    n = len(frame)
    n_train = n - max(3, round(0.1 * n))  # the held-out end
    rows = frame[["value", "x"]].to_numpy()[:n_train]
    np.testing.assert_allclose(fc.scaler_.mean_, rows.mean(axis=0))
    np.testing.assert_allclose(fc.scaler_.scale_, rows.std(axis=0))
    fc.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "scaler.json").read_text())
    assert saved["columns"] == ["value", "x"]
    same = load(tmp_path / "m")
    np.testing.assert_array_equal(same.scaler_.mean_, fc.scaler_.mean_)
    assert same.predict_records(frame) == fc.predict_records(frame)


def test_validation_is_the_end_of_the_series_with_context(fitted):
    """Bug caught: validation windows drawn at random (shuffled across time), or without the
    lookback rows of context before the held-out part."""
    fc, frame = fitted
    ctx = fc._contexts(frame)[0]
    (train,), _, (valid,), _ = fc.holdout([ctx], None, 0.1, seed=1)
    n_valid = max(3, round(0.1 * len(frame)))
    assert len(train) == len(frame) - n_valid
    assert list(valid.time) == list(ctx.time[len(frame) - n_valid - 8:])
    assert train.time[-1] < valid.time[8]  # every validation target is after every training row


# ---------------------------------------------------------------------- metrics
def test_evaluate_matches_hand_computed_metrics(fitted):
    """Bug caught: evaluate scoring other origins than L, L+H, ..., another MASE scale, or
    baselines computed on other windows than the model."""
    fc, frame = fitted
    metrics = fc.evaluate(frame)
    y = frame["value"].to_numpy()
    L, H, m = 8, 3, 7
    origins = list(range(L, len(y) - H + 1, H))
    assert metrics["n_windows"] == len(origins) and metrics["season"] == m
    scale = np.mean([abs(y[i] - y[i - m]) for i in range(m, len(y))])
    naive_errors, seasonal_errors, model_errors = [], [], []
    for o in origins:
        forecast = fc.predict(frame.iloc[:o])["value"].to_numpy()
        for h in range(H):
            naive_errors.append(abs(y[o + h] - y[o - 1]))
            seasonal_errors.append(abs(y[o + h] - y[o + h - m]))  # h < m: one season back
            model_errors.append(abs(y[o + h] - forecast[h]))
    assert metrics["baselines"]["naive"]["mae"] == pytest.approx(np.mean(naive_errors))
    assert metrics["baselines"]["naive"]["mase"] == pytest.approx(np.mean(naive_errors) / scale)
    assert metrics["baselines"]["seasonal_naive"]["mase"] == pytest.approx(np.mean(seasonal_errors) / scale)
    assert metrics["mae"] == pytest.approx(np.mean(model_errors), abs=1e-5)
    assert metrics["rmse"] >= metrics["mae"]
    assert fc.score(frame) == pytest.approx(-metrics["mase"])


# ---------------------------------------------------------------------- intervals
def test_p10_p90_cover_about_80_percent_of_a_series_with_known_noise():
    """Bug caught: quantile outputs in the wrong order, a pinball loss with q and 1-q swapped, or
    intervals far from calibrated. Noise is N(0, 1) around a weekly sine: the ideal [P10, P90] is
    the sine +- 1.28 and covers 80%."""
    train, test = weekly(700, seed=1, noise=1.0), weekly(200, seed=2, noise=1.0, start="2022-01-01")
    fc = Forecaster(target=["value"], lookback=14, horizon=3, hidden_size=16, epochs=6, batch_size=64, lr=0.01,
                    patience=0, seed=3).fit(train)
    metrics = fc.evaluate(test)
    assert 0.68 <= metrics["coverage"] <= 0.9, metrics["coverage"]
    records = fc.predict_records(test)[0]
    assert all(lo <= mid <= hi for lo, mid, hi in zip(records["p10"]["value"], records["forecast"]["value"],
                                                        records["p90"]["value"]))


def test_point_loss_intervals_come_from_validation_residuals(tmp_path):
    """Bug caught: a point-loss model without intervals, or residual quantiles lost in the model folder."""
    frame = weekly(160)
    fc = Forecaster(target=["value"], loss="mse", decoder="autoregressive", **TINY).fit(frame)
    assert np.shape(fc.interval_offsets_) == (3, 3, 1)  # (quantiles, steps, targets)
    record = fc.predict_records(frame)[0]
    assert all(lo <= hi for lo, hi in zip(record["p10"]["value"], record["p90"]["value"]))
    fc.save(tmp_path / "m")
    assert load(tmp_path / "m").predict_records(frame) == [record]


# ---------------------------------------------------------------------- trending series
def test_window_normalisation_forecasts_a_trend_beyond_the_training_range():
    """Bug caught: a forecaster that only learnt the training range (no per-window normalisation):
    on a test part above every training value it stays near the training maximum."""
    rng = np.random.default_rng(0)
    n = 260
    value = 0.5 * np.arange(n) + rng.normal(0, 0.3, n)
    frame = pd.DataFrame({"date": pd.date_range("2001-01-01", periods=n, freq="QS"), "value": value})
    train, test = frame.iloc[:200], frame.iloc[200 - 8:]
    scores = {}
    for norm in ("last", "none"):
        fc = Forecaster(target=["value"], lookback=8, horizon=4, hidden_size=16, epochs=8, lr=0.01, patience=0,
                        window_norm=norm, linear_skip=False).fit(train)  # the recurrent part alone
        scores[norm] = fc.evaluate(test)
    naive = scores["last"]["baselines"]["naive"]["mase"]
    assert scores["last"]["mase"] < 0.6 * naive
    assert scores["none"]["mase"] > 2 * naive


# ---------------------------------------------------------------------- future covariates
def test_future_covariates_are_used_for_the_forecast_steps(tmp_path):
    """Bug caught: planned values of the forecast steps never reaching the network (it could then
    not beat the naive forecast of a target that is the planned value), or predict not reading the
    file's future rows."""
    rng = np.random.default_rng(0)
    n = 300
    plan = rng.normal(size=n)
    frame = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq="D"),
                          "load": 3 * plan + rng.normal(0, 0.1, n), "plan": plan})
    # window_norm=none: the target is the plan, whatever the recent level (see docs/forecasting.md)
    fc = Forecaster(target=["load"], future_covariates=["plan"], calendar=False, window_norm="none", lookback=8,
                    horizon=2, hidden_size=16, epochs=8, lr=0.01, patience=0).fit(frame.iloc[:240])
    metrics = fc.evaluate(frame.iloc[240 - 8:])
    assert metrics["mase"] < 0.25 * metrics["baselines"]["naive"]["mase"]
    path = tmp_path / "ahead.csv"
    ahead = frame.iloc[:250].copy()
    ahead.loc[248:, "load"] = np.nan  # the two forecast steps: targets empty, plan given
    ahead.to_csv(path, index=False)
    record = fc.predict_records(fc.read_inputs(path))[0]
    assert record["time"] == ["2020-09-05", "2020-09-06"]
    np.testing.assert_allclose(record["forecast"]["load"], 3 * plan[248:250], atol=0.6)
    frame.iloc[:250].to_csv(path, index=False)  # no future rows
    with pytest.raises(DataError, match="must end with 2 rows"):
        fc.read_inputs(path)


# ---------------------------------------------------------------------- bad inputs
def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, settings, message, line", [
    ("date,value\n2020-01-01,1\n2020-01-03,2\n2020-01-02,3\n", {}, "out of order", 4),
    ("date,value\n2020-01-01,1\n2020-01-01,2\n2020-01-02,3\n", {}, "duplicated timestamp", 3),
    ("date,value\n2020-01-01,1\n2020-01-02,\n2020-01-03,3\n", {"missing": "error"}, "empty cells", 3),
    ("date,value\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n2020-01-05,5\n2020-01-06,6\n2020-01-07,7\n",
     {"missing": "error"}, "missing from the regular series", 5),
    ("date,value\n2020-01-01,1\n2020-01-02,lots\n2020-01-03,3\n", {}, "not a finite number", 3),
    ("date,price\n2020-01-01,1\n2020-01-02,2\n", {}, r"no column 'value' \(data.target\)", 1),
])
def test_bad_files_name_the_file_and_line(tmp_path, text, settings, message, line):
    """Bug caught: a bad file read silently (unordered or duplicated times, gaps with missing=error)
    or an error without the file and line."""
    path = _write(tmp_path, text)
    with pytest.raises(DataError, match=message) as caught:
        Forecaster(**settings).read_data(path)
    assert f"{path}, line {line}" in str(caught.value)


def test_interpolate_fills_empty_cells_and_missing_days(tmp_path):
    """Bug caught: data.missing=interpolate leaving gaps (the windows would then skip days)."""
    path = _write(tmp_path, "date,value\n2020-01-01,1\n2020-01-02,\n2020-01-03,3\n2020-01-05,5\n")
    (ctx,), _ = Forecaster().read_data(path)
    assert ctx.targets[:, 0].tolist() == [1, 2, 3, 4, 5] and len(ctx.time) == 5


def test_other_bad_inputs_are_clear_errors(fitted, tmp_path):
    """Bug caught: too short a file, a DataFrame without the columns, a forecast of a series of
    fewer than lookback rows, y passed to fit, or a bad setting crashing instead of naming the problem."""
    fc, frame = fitted
    with pytest.raises(DataError, match=r"at least model.lookback \+ model.horizon = 11"):
        fc.evaluate(frame.iloc[:10])
    with pytest.raises(DataError, match="model.lookback=8"):
        fc.predict(frame.iloc[:5])
    with pytest.raises(DataError, match="no column 'x' \\(data.covariates\\)"):
        fc.predict(frame[["date", "value"]])
    with pytest.raises(DataError, match="y=None"):
        Forecaster().fit(frame, frame["value"])
    with pytest.raises(DataError, match="too few"):
        Forecaster(target=["value"], lookback=150).fit(frame)
    with pytest.raises(ConfigError, match="model.lookback"):
        Forecaster(target=["value"], lookback=4).fit(frame)  # shorter than the weekly season
    with pytest.raises(ConfigError, match="horizon"):
        Forecaster(horizon=0).fit(frame)
    with pytest.raises(DataError, match="file not found"):
        fc.read_data(tmp_path / "nope.csv")


@pytest.mark.parametrize("items, message", [
    ([{"date": ["2020-01-01"], "value": [1, 2]}], "differ in length"),
    ([[{"date": "2020-01-01", "value": 1}, {"date": "2020-01-02"}]], "row 2: its keys differ"),
    ([{"date": ["2020-01-01", "2020-01-02"], "value": [1, [2]], "x": [0, 0]}], "holds a list"),
    ([{"date": ["2020-01-02", "2020-01-01"], "value": [1, 2], "x": [0, 0]}],
     "input 1, line 3: timestamps out of order"),
    ([5], "input 1: expected a context"),
])
def test_malformed_json_contexts_name_the_input(fitted, items, message):
    """Bug caught: a malformed HTTP input reaching the network (a 500) instead of a DataError (422)."""
    with pytest.raises(DataError, match=message):
        fitted[0].inputs_from_json(items)


def test_json_columns_and_rows_give_the_same_forecast(fitted):
    """Bug caught: the two JSON forms of a context (columns, rows) read differently."""
    fc, frame = fitted
    part = frame.iloc[:30].assign(date=frame["date"].iloc[:30].dt.strftime("%Y-%m-%d"))
    columns = {k: v.tolist() for k, v in part.items()}
    rows = part.to_dict(orient="records")
    a, b = fc.predict_records(fc.inputs_from_json([columns, rows]))
    alone = fc.predict_records(frame.iloc[:30])[0]
    assert a == b and a["time"] == alone["time"]
    for key in ("forecast", "p10", "p90"):  # a batch of one: float32 sums in another order, within 1e-5
        np.testing.assert_allclose(a[key]["value"], alone[key]["value"], atol=1e-5)


# ---------------------------------------------------------------------- CLI end to end
def test_cli_train_evaluate_predict(tmp_path):
    """Bug caught: the CLI verbs not reaching the forecaster (evaluate --json not one JSON object
    with the baselines, predict --output not writing one row per step with times and the plot)."""
    frame = weekly(120)
    frame.to_csv(tmp_path / "train.csv", index=False, date_format="%Y-%m-%d")
    weekly(40, seed=9, start="2020-04-30").to_csv(tmp_path / "test.csv", index=False, date_format="%Y-%m-%d")

    def cli(*args):
        return lstmkit_ok(tmp_path, *args, timeout=120)

    cli("train", "forecaster", "--train", "train.csv", "--out", "run", "--set", "data.target=value",
        "--set", "model.lookback=8", "--set", "model.horizon=3", "--set", "model.hidden_size=8", "--epochs", "2")
    assert (tmp_path / "run" / "model" / "scaler.json").exists()
    metrics = json.loads(cli("evaluate", "run/model", "--data", "test.csv", "--json"))
    assert metrics["n_windows"] == 10 and set(metrics["baselines"]) == {"naive", "seasonal_naive", "drift", "ets"}
    cli("predict", "run/model", "--input", "test.csv", "--output", "out/forecast.csv")
    table = pd.read_csv(tmp_path / "out" / "forecast.csv")
    assert list(table.columns) == ["time", "value", "value_p10", "value_p90"]
    assert table["time"].tolist() == ["2020-06-09", "2020-06-10", "2020-06-11"]  # the days after the file
    assert (tmp_path / "out" / "plots" / "forecast.png").stat().st_size > 1000


def test_a_file_with_cr_line_ends_reads_like_one_with_lf(tmp_path):
    """Old-Mac (CR-only) line ends, as Excel's "CSV (Macintosh)" writes them, read like LF ones
    (the text readers refused them before fuzzing found it)."""
    from lstmkit import Forecaster

    lines = ["date,value"] + [f"2024-01-{day:02d},{day * 1.5}" for day in range(1, 29)]
    (tmp_path / "lf.csv").write_bytes(("\n".join(lines) + "\n").encode())
    (tmp_path / "cr.csv").write_bytes(("\r".join(lines) + "\r").encode())
    est = Forecaster(lookback=4, horizon=2)
    (lf,), _ = est.read_data(tmp_path / "lf.csv")
    (cr,), _ = est.read_data(tmp_path / "cr.csv")
    np.testing.assert_array_equal(cr.values, lf.values)
    assert list(cr.time) == list(lf.time)
