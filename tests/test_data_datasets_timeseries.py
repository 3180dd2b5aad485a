"""Tests of lstmkit.data.datasets_timeseries: the bundled seattle-weather and realgdp series."""

import os
import stat

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.datasets import Dataset
from lstmkit.data.datasets_timeseries import (
    TIMESERIES_DATASETS,
    export_realgdp,
    export_seattle_weather,
    load_realgdp,
    load_seattle_weather,
    realgdp_frame,
    seattle_weather_frame,
)
from lstmkit.data.timeseries import read_series
from lstmkit.forecast_metrics import infer_season

pytest.importorskip("vega_datasets")
pytest.importorskip("statsmodels")


def test_registry_entries():
    """Bug caught: a dataset registered under the wrong task or without its exporter."""
    assert [d.name for d in TIMESERIES_DATASETS] == ["seattle-weather", "realgdp"]
    for d in TIMESERIES_DATASETS:
        assert (
            isinstance(d, Dataset) and d.task == "forecaster" and d.export is not None
        )


def test_seattle_source_values():
    """Bug caught: reading the wrong vega file, or the date parsed day-first; first and last rows
    are those of the source CSV (2012/01/01: 12.8, 5.0, 0.0, 4.7)."""
    f = seattle_weather_frame()
    assert len(f) == 1461 and list(f.columns) == [
        "date",
        "temp_max",
        "temp_min",
        "precipitation",
        "wind",
    ]
    assert f.iloc[0].tolist()[1:] == [12.8, 5.0, 0.0, 4.7]
    assert f["date"].iloc[0] == pd.Timestamp("2012-01-01") and f["date"].iloc[
        -1
    ] == pd.Timestamp("2015-12-31")


def test_seattle_splits_by_date_with_context():
    """Bug caught: shuffled or overlapping splits, test not exactly 2015, context missing or too long."""
    s = load_seattle_weather(context=60)
    train, valid, test = (s[k][0] for k in ("train", "valid", "test"))
    assert train["date"].iloc[-1] == pd.Timestamp("2014-06-30") and len(train) == 912
    assert len(valid) == 60 + 184 and valid["date"].iloc[60] == pd.Timestamp(
        "2014-07-01"
    )
    assert len(test) == 60 + 365 and test["date"].iloc[60] == pd.Timestamp("2015-01-01")
    pd.testing.assert_frame_equal(
        valid.iloc[:60].reset_index(drop=True), train.iloc[-60:].reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(
        test.iloc[:60].reset_index(drop=True), valid.iloc[-60:].reset_index(drop=True)
    )
    for part in (train, valid, test):
        assert part["date"].is_monotonic_increasing and part["date"].is_unique
    assert len(load_seattle_weather(context=0)["test"][0]) == 365


def test_realgdp_quarters_and_splits():
    """Bug caught: quarter dates built wrong (1959Q2 must start 1959-04-01), or test not the last 20%."""
    f = realgdp_frame()
    assert len(f) == 203 and f.columns[:2].tolist() == ["date", "realgdp"]
    assert "year" not in f.columns and "quarter" not in f.columns
    assert (
        f["date"].iloc[1] == pd.Timestamp("1959-04-01")
        and f["realgdp"].iloc[0] == 2710.349
    )
    assert f["date"].iloc[-1] == pd.Timestamp("2009-07-01")
    s = load_realgdp(context=16)
    train, valid, test = (s[k][0] for k in ("train", "valid", "test"))
    assert len(train) == 142 and len(valid) == 16 + 20 and len(test) == 16 + 41
    assert test["date"].iloc[16] == pd.Timestamp("1999-07-01")
    assert valid["date"].iloc[16] == pd.Timestamp("1994-07-01")


@pytest.mark.parametrize(
    "export, target, covariates, freq, season",
    [
        (
            export_seattle_weather,
            ["temp_max", "temp_min"],
            ["precipitation", "wind"],
            "D",
            7,
        ),
        (export_realgdp, ["realgdp"], ["unemp"], "QS-OCT", 4),
    ],
)
def test_export_reads_back_cleanly(tmp_path, export, target, covariates, freq, season):
    """Bug caught: files a forecaster cannot read (bad dates, gaps, index column), or written 0600."""
    paths = export(tmp_path / "out")
    assert [p.name for p in paths] == ["train.csv", "valid.csv", "test.csv"]
    umask = os.umask(0)
    os.umask(umask)
    frames = {}
    for p in paths:
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask
        series = read_series(p, "date", target, covariates, missing="error")
        assert series.freq == freq and infer_season(series.freq) == season
        frames[p.stem] = series
    assert not list((tmp_path / "out").glob(".*tmp"))
    # the files start with the context rows that end the previous file
    context = 60 if freq == "D" else 16
    np.testing.assert_array_equal(
        frames["valid"].values[:context], frames["train"].values[-context:]
    )
    np.testing.assert_array_equal(
        frames["test"].values[:context], frames["valid"].values[-context:]
    )
    assert frames["test"].time[context] > frames["valid"].time[-1]
