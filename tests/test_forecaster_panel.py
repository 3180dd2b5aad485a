"""Tests of forecasting many series with one global model (lstmkit.tasks.forecaster: panel.py,
window_store.py, statics.py, backtest.py, scoring.py): long files, per-series scaling, windows
that never cross series, validation at the end of every series, calibrated quantiles, the history
tail, backtests with and without refits, and the CLI.

Each test's docstring names the bug it catches.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pandas as pd
import pytest
from cli_process import lstmkit_ok

from lstmkit import Forecaster, load
from lstmkit.errors import DataError, DataWarning

TINY = dict(lookback=14, horizon=7, hidden_size=16, epochs=3, batch_size=64, lr=0.01, patience=0)


def panel(n_series: int = 4, seed: int = 0, noise: float = 0.3, length: int = 120, stagger: int = 5) -> pd.DataFrame:
    """Daily series ``a``, ``b``, ... of different levels, lengths and starts: level + weekly sine + noise."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n_series):
        n = length + 7 * k
        t = np.arange(n)
        frames.append(pd.DataFrame({
            "store": chr(ord("a") + k),
            "date": pd.date_range("2021-01-01", periods=n, freq="D") + pd.Timedelta(days=stagger * k),
            "sales": 10 * (k + 1) + (k + 1) * np.sin(2 * np.pi * t / 7) + rng.normal(0, noise * (k + 1), n),
            "region": "north" if k % 2 else "south",
            "size": float(k + 1),
        }))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def fitted():
    frame = panel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        fc = Forecaster(target="sales", id_column="store", static_covariates="region,size", **TINY).fit(frame)
    return fc, frame


# ---------------------------------------------------------------------- reading many series
def test_a_long_file_is_one_context_per_series(tmp_path):
    """Bug caught: the long file read as one series ("timestamps out of order"), series mixed up,
    or the static covariates lost."""
    frame = panel(3)
    path = tmp_path / "long.csv"
    frame.sample(frac=1, random_state=0).sort_values(["store", "date"]).to_csv(path, index=False)
    contexts, _ = Forecaster(target="sales", id_column="store", static_covariates=["region"]).read_data(path)
    assert [c.series_id for c in contexts] == ["a", "b", "c"]
    for ctx in contexts:
        rows = frame[frame["store"] == ctx.series_id]
        np.testing.assert_allclose(ctx.targets[:, 0], rows["sales"].to_numpy())
        assert ctx.static == {"region": rows["region"].iloc[0]}
        assert ctx.freq == "D"


def test_without_id_column_a_long_file_says_how_to_name_the_series(tmp_path):
    """Bug caught: the advice "sort the file by time" for a file that holds several series."""
    path = tmp_path / "long.csv"
    panel(2).to_csv(path, index=False)
    with pytest.raises(DataError, match="data.id_column=NAME"):
        Forecaster(target="sales").read_data(path)


@pytest.mark.parametrize("edit, message, line", [
    (lambda f: f.drop(index=5), None, None),  # a gap: interpolated with a warning
    (lambda f: f.assign(date=f["date"].where(f.index != 130, f["date"].iloc[129])), "duplicated timestamp", 132),
    (lambda f: f.assign(region=f["region"].where(f.index != 10, "east")), "changes within the series", 12),
    (lambda f: f.assign(store=f["store"].where(f.index != 3, "")), "empty series id", 5),
])
def test_bad_series_are_named_with_their_line(tmp_path, edit, message, line):
    """Bug caught: an error in one series of a long file that names neither the series nor the line,
    or a gap filled silently."""
    path = tmp_path / "long.csv"
    edit(panel(2)).to_csv(path, index=False)
    est = Forecaster(target="sales", id_column="store", static_covariates=["region"])
    if message is None:
        with pytest.warns(DataWarning, match=r"series 'a'\): 1 missing days inserted \(after line 6\) by"):
            contexts, _ = est.read_data(path)
        assert len(contexts[0]) == 120
        return
    with pytest.raises(DataError, match=message) as caught:
        est.read_data(path)
    assert f", line {line}" in str(caught.value)


def test_python_inputs_dict_list_datetimeindex_and_one_target_string():
    """Bug caught: fit refusing a dict of frames, a list of frames or a DatetimeIndex, or target="sales"
    read as five one-letter columns."""
    frame = panel(2)
    by_id = {sid: part.set_index("date")[["sales"]] for sid, part in frame.groupby("store")}
    est = Forecaster(target="sales", **TINY)
    from_dict, _ = est.coerce(by_id)
    from_list, _ = est.coerce(list(by_id.values()))
    assert [c.series_id for c in from_dict] == ["a", "b"] and [c.series_id for c in from_list] == ["1", "2"]
    for a, b in zip(from_dict, from_list):
        np.testing.assert_array_equal(a.values, b.values)
    assert est.resolved_config().data.target == ["sales"]


# ---------------------------------------------------------------------- windows and scaling
def test_windows_never_cross_a_series_boundary(fitted):
    """Bug caught: a window whose history or targets run from one series into the next (the store
    concatenates the series)."""
    fc, _ = fitted
    values = []
    for k in range(3):
        n = 30 + 9 * k
        values.append(pd.DataFrame({"store": str(k), "date": pd.date_range("2021-01-01", periods=n, freq="D"),
                                    "sales": 1000.0 * k + np.arange(n), "region": "x", "size": 1.0}))
    contexts, _ = fc.coerce(pd.concat(values))
    loader = fc._loader(contexts, None, train=True)
    store = loader.dataset
    batch = store.__getitems__(list(range(len(store))))
    T = fc.n_targets_
    for i in range(len(store)):
        s = int(store.series[i])
        scaler = fc._scaler_for(contexts[s])
        past = batch["past"][i, :, 0].numpy() * scaler.scale_[0] + scaler.mean_[0]
        y = batch["y"][i, :, :T].numpy()[:, 0] * scaler.scale_[0] + scaler.mean_[0]
        both = np.concatenate([past, y])
        assert np.all((both >= 1000 * s - 0.01) & (both < 1000 * s + 50))  # all rows of series s
        np.testing.assert_allclose(np.diff(both), 1.0, atol=1e-3)  # consecutive rows
    assert len(store) == sum(len(c) - 14 - 7 + 1 for c in contexts)


def test_scaling_is_per_series_from_training_rows_only(fitted):
    """Bug caught: one scaler over all series (a big store's level swamps a small one), or scalers
    fitted on the held-out end too (a leak)."""
    fc, frame = fitted
    for sid, rows in frame.groupby("store"):
        n = len(rows)
        n_train = n - max(7, round(0.1 * n))
        values = rows[["sales"]].to_numpy()[:n_train]
        np.testing.assert_allclose(fc.scalers_[sid].mean_, values.mean(axis=0))
        np.testing.assert_allclose(fc.scalers_[sid].scale_, values.std(axis=0))


def test_validation_is_the_end_of_every_series(fitted):
    """Bug caught: validation taken from one series only, or shuffled across time."""
    fc, frame = fitted
    contexts, _ = fc.coerce(frame)
    train, _, valid, _ = fc.holdout(contexts, None, 0.1, seed=0)
    assert len(valid) == len(contexts)
    for t, v, ctx in zip(train, valid, contexts):
        assert t.series_id == v.series_id == ctx.series_id
        n_valid = max(7, round(0.1 * len(ctx)))
        assert v.time[-1] == ctx.time[-1] and len(v) == n_valid + 14
        assert t.time[-1] < v.time[14]


# ---------------------------------------------------------------------- quantiles
def test_quantiles_never_cross_even_when_calibration_would_cross_them(fitted):
    """Bug caught: a quantile above a higher one (unsorted outputs, or calibration offsets that
    cross them)."""
    fc, frame = fitted
    saved = fc.interval_offsets_.copy()
    try:
        fc.interval_offsets_ = saved.copy()
        fc.interval_offsets_[0] += 5.0  # P10 pushed far above the median
        out = fc.predict(frame)
        assert (out["sales_p10"] <= out["sales"]).all() and (out["sales"] <= out["sales_p90"]).all()
    finally:
        fc.interval_offsets_ = saved


def test_any_quantiles_are_named_in_the_output():
    """Bug caught: quantile columns fixed to p10/p90, or a missing median."""
    fc = Forecaster(target="sales", id_column="store", quantiles=[0.05, 0.25, 0.75, 0.95], **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        fc.fit(panel(2))
    assert fc.config_.model.quantiles == [0.05, 0.25, 0.5, 0.75, 0.95]
    out = fc.predict()
    assert list(out.columns) == ["store", "time", "sales", "sales_p5", "sales_p25", "sales_p75", "sales_p95"]
    ordered = out[["sales_p5", "sales_p25", "sales", "sales_p75", "sales_p95"]].to_numpy()
    assert (np.diff(ordered, axis=1) >= 0).all()


def test_calibrated_band_covers_80_percent_on_a_panel_with_known_noise():
    """Bug caught: intervals that are not calibrated (the P10-P90 band of an under-trained network
    covering far from 80%): the conformal shift must bring a deliberately short training's band to
    about 80% on new data of the same series."""
    train = panel(4, seed=1, noise=1.0, length=400)
    test = panel(4, seed=2, noise=1.0, length=160)
    test["date"] = test["date"] + pd.Timedelta(days=600)
    fc = Forecaster(target="sales", id_column="store", lookback=14, horizon=7, hidden_size=16, epochs=2,
                    batch_size=64, lr=0.01, patience=0, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        fc.fit(train)
    metrics = fc.evaluate(test)
    assert 0.72 <= metrics["coverage"] <= 0.88, metrics["coverage"]
    assert metrics["n_series"] == 4 and set(metrics["per_series"]) == {"a", "b", "c", "d"}
    assert metrics["quantile_loss"] > 0


# ---------------------------------------------------------------------- statics and ids
def test_static_covariates_reach_the_network(fitted):
    """Bug caught: static covariates read but never fed to the network (changing one must change the
    forecast)."""
    fc, frame = fitted
    base = fc.predict(frame)
    changed = fc.predict(frame.assign(size=frame["size"] * 3))
    assert not np.allclose(base["sales"], changed["sales"])


def test_an_unseen_series_with_an_id_embedding_is_a_clear_error():
    """Bug caught: an unseen id silently mapped to another series' embedding."""
    frame = panel(3)
    fc = Forecaster(target="sales", id_column="store", id_embedding=4, **TINY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        fc.fit(frame[frame["store"] != "c"])
        assert len(fc.predict(frame[frame["store"] == "a"])) == 7
        with pytest.raises(DataError, match="series 'c' was not in the training data.*model.id_embedding=0"):
            fc.predict(frame[frame["store"] == "c"])
        plain = Forecaster(target="sales", id_column="store", **TINY).fit(frame[frame["store"] != "c"])
    assert len(plain.predict(frame[frame["store"] == "c"])) == 7  # without the embedding, any series


# ---------------------------------------------------------------------- history tail
def test_predict_without_data_forecasts_after_the_training_data_and_round_trips(fitted, tmp_path):
    """Bug caught: the history tail not kept (or not saved): predict() must equal predict(data) and
    survive the model folder, with no pickle."""
    fc, frame = fitted
    out = fc.predict()
    assert out.equals(fc.predict(frame))
    assert out.groupby("store")["time"].first().to_dict() == {
        sid: (rows["date"].max() + pd.Timedelta(days=1)).strftime("%Y-%m-%d") for sid, rows in frame.groupby("store")}
    fc.save(tmp_path / "m")
    history = json.loads((tmp_path / "m" / "history.json").read_text())
    assert [s["id"] for s in history["series"]] == ["a", "b", "c", "d"]
    assert load(tmp_path / "m").predict().equals(out)


# ---------------------------------------------------------------------- backtest
def test_backtest_without_refit_equals_predict_at_each_origin(fitted):
    """Bug caught: backtest windows cut differently from predict's history (an off-by-one origin, the
    wrong series' scaler), or true values misaligned."""
    fc, frame = fitted
    table, metrics = fc.backtest(frame, start="2021-03-01", stride=5, baselines=False)
    assert table.columns[0] == "origin" and table["origin"].min() >= "2021-03-01"
    for sid, origin in (("a", "2021-03-06"), ("c", "2021-04-05")):
        rows = frame[(frame["store"] == sid) & (frame["date"] < origin)]
        expected = fc.predict(rows)
        got = table[(table["store"] == sid) & (table["origin"] == origin)]
        np.testing.assert_allclose(got["sales"].to_numpy(), expected["sales"].to_numpy(), atol=2e-6)
        assert got["time"].tolist() == expected["time"].tolist()
        truth = frame[(frame["store"] == sid) & (frame["date"] >= origin)]["sales"].to_numpy()[:7]
        np.testing.assert_allclose(got["sales_true"].to_numpy(), truth)
    assert len(metrics["per_step"]) == 7 and metrics["n_series"] == 4


def test_refit_never_sees_data_at_or_after_its_origin(fitted, monkeypatch):
    """Bug caught: a refit trained on the whole file (a look-ahead that flatters the backtest)."""
    fc, frame = fitted
    seen = []
    original = Forecaster.fit

    def spy(self, X, y=None, **kwargs):
        seen.append(max(ctx.time[ctx.n_history - 1] for ctx in X))
        return original(self, X, y, **kwargs)

    monkeypatch.setattr(Forecaster, "fit", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        table, metrics = fc.backtest(frame, start="2021-04-10", stride=7, refit=2, baselines=False)
    origins = sorted(table["origin"].unique())
    assert len(seen) == (len(origins) + 1) // 2 and metrics["refit"] == 2
    for k, last in enumerate(seen):
        assert last < pd.Timestamp(origins[2 * k])


def test_ets_baseline_is_statsmodels_on_the_history_before_each_origin(fitted):
    """Bug caught: the ETS baseline fitted on the whole file (a look-ahead) or on the lookback window only."""
    from lstmkit.metrics.forecast import ets_forecast

    fc, frame = fitted
    one = frame[frame["store"] == "a"]
    _, metrics = fc.backtest(one, start="2021-04-20", stride=7)
    y = one["sales"].to_numpy()
    origins = list(range(int(np.searchsorted(one["date"], pd.Timestamp("2021-04-20"))), len(y) - 7 + 1, 7))
    errors = [np.abs(ets_forecast(y[:o], 7, 7) - y[o:o + 7]) for o in origins]
    assert metrics["baselines"]["ets"]["mae"] == pytest.approx(np.mean(errors))


# ---------------------------------------------------------------------- CLI
def test_cli_long_file_predict_without_input_and_backtest(tmp_path):
    """Bug caught: the CLI not reaching many series (predict without --input refused, the id column
    missing from the output, backtest --json not one JSON object with per-step metrics)."""
    panel(3).to_csv(tmp_path / "train.csv", index=False, date_format="%Y-%m-%d")

    def cli(*args):
        return lstmkit_ok(tmp_path, *args)

    cli("train", "forecaster", "--train", "train.csv", "--out", "run", "--set", "data.target=sales",
        "--set", "data.id_column=store", "--set", "model.lookback=14", "--set", "model.horizon=7",
        "--set", "model.hidden_size=8", "--epochs", "2")
    cli("predict", "run/model", "--output", "ahead.csv")
    table = pd.read_csv(tmp_path / "ahead.csv")
    assert list(table.columns) == ["store", "time", "sales", "sales_p10", "sales_p90"]
    assert table.groupby("store").size().to_dict() == {"a": 7, "b": 7, "c": 7}
    metrics = json.loads(cli("backtest", "run/model", "--data", "train.csv", "--start", "2021-04-01",
                             "--stride", "7", "--output", "bt.csv", "--json", "--no-baselines"))
    assert [s["step"] for s in metrics["per_step"]] == list(range(1, 8))
    assert set(metrics["per_series"]) == {"a", "b", "c"}
    backtest = pd.read_csv(tmp_path / "bt.csv")
    assert list(backtest.columns)[:3] == ["origin", "store", "time"] and "sales_true" in backtest.columns


def test_employment_demo_runs_end_to_end(tmp_path):
    """Bug caught: the demo's settings or its data loader drifting from the forecaster (it would only
    fail for a user after training): one epoch, then the test scores, plots and the forecast file."""
    out = lstmkit_ok(tmp_path, "demo", "employment", "--out", "run", "--epochs", "1", timeout=300)
    assert "per-series ETS" in out and "n_series=22" in out
    ahead = pd.read_csv(tmp_path / "run" / "forecast-2016.csv")
    assert len(ahead) == 22 * 12 and ahead["time"].min() == "2016-01-01"
    assert (tmp_path / "run" / "plots" / "forecast-nonfarm.png").stat().st_size > 1000


def test_windows_are_read_from_a_memory_mapped_store_that_training_removes(tmp_path):
    """Bug caught: the panel's windows held in memory (cut in advance: lookback copies of every row),
    or store files left in the run folder (or shared between DDP ranks, who would overwrite them)."""
    from lstmkit.tasks.forecaster.window_store import WindowStore

    features = [np.arange(40, dtype=np.float32).reshape(20, 2), np.arange(30, dtype=np.float32).reshape(15, 2)]
    store = WindowStore.build(
        features, 4, 2, [0], [1], np.zeros((2, 0), np.float32), np.zeros((2, 0), np.int64), folder=tmp_path / "store"
    )
    assert isinstance(store.features, np.memmap) and str(os.getpid()) in store.path.name
    assert len(store) == (20 - 6 + 1) + (15 - 6 + 1)
    batch = store.__getitems__([0, len(store) - 1])
    np.testing.assert_array_equal(batch["past"][1].numpy(), features[1][-6:-2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        Forecaster(target="sales", id_column="store", **{**TINY, "epochs": 1}).fit(panel(2), out_dir=tmp_path / "run")
    assert not list((tmp_path / "run" / "store").glob("*.npy"))


def test_evaluate_lines_show_ten_series_and_say_how_many_more(fitted):
    """Bug caught: `lstmkit evaluate` printing two lines per series of a 10,000-series panel."""
    fc, _ = fitted
    metrics = {"mae": 1.0, "per_series": {str(k): {"mae": 1.0, "baselines_mase": {"ets": 1.0}} for k in range(12)}}
    lines = fc.format_metrics("x", metrics)
    assert sum(line.startswith("  per_series.") and "baselines" not in line for line in lines) == 10
    assert lines[-1] == "  per_series: 2 more series (--json shows every series)"


def test_calibration_on_few_validation_windows_says_the_intervals_are_rough():
    """Bug caught: intervals calibrated on a handful of validation windows presented as calibrated."""
    frame = panel(2, length=40)
    with pytest.warns(DataWarning, match=r"calibrated on \d+ validation windows only"):
        Forecaster(target="sales", id_column="store", **{**TINY, "epochs": 1}).fit(frame)
