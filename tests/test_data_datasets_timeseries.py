"""Tests of lstmkit.data.datasets.timeseries: bundled seattle-weather, realgdp and us-employment."""

import os
import stat

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.datasets import Dataset, export_dataset, list_datasets, package_file
from lstmkit.data.datasets.timeseries import (
    TIMESERIES_DATASETS,
    US_EMPLOYMENT_CONTEXT,
    export_realgdp,
    export_seattle_weather,
    load_realgdp,
    load_seattle_weather,
    load_us_employment,
    realgdp_frame,
    seattle_weather_frame,
    us_employment_frame,
)
from lstmkit.data.formats.timeseries import read_series
from lstmkit.metrics.forecast import infer_season

pytest.importorskip("vega_datasets")
pytest.importorskip("statsmodels")


def test_registry_entries():
    """Bug caught: a dataset registered under the wrong task or without its exporter."""
    assert [d.name for d in TIMESERIES_DATASETS] == ["seattle-weather", "realgdp", "us-employment"]
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


# --------------------------------------------------------------------------- us-employment


def _source_wide() -> pd.DataFrame:
    """vega_datasets' file, read here independently of the loader."""
    wide = pd.read_csv(package_file("vega_datasets", "timeseries", "_data", "us-employment.csv"))
    wide["month"] = pd.to_datetime(wide["month"])
    return wide


def _by_series(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {name: part.reset_index(drop=True) for name, part in frame.groupby("series", sort=False)}


def test_us_employment_long_frame_is_the_source_melted():
    """Bug caught: the derived nonfarm_change column kept as a sector, a sector lost, values moved
    to the wrong month or sector by the wide-to-long reshape, or series interleaved."""
    wide = _source_wide()
    sectors = [c for c in wide.columns if c not in ("month", "nonfarm_change")]
    assert "nonfarm_change" in wide.columns and len(sectors) == 22 and len(wide) == 120
    long = us_employment_frame()
    assert list(long.columns) == ["series", "month", "employment"]
    assert long.shape == (len(sectors) * len(wide), 3)
    assert long["employment"].dtype == np.float64
    parts = _by_series(long)
    assert list(parts) == sectors  # contiguous, in the source's order
    for name, part in parts.items():
        assert part["month"].tolist() == wide["month"].tolist()  # time order, every month once
        np.testing.assert_array_equal(part["employment"].to_numpy(), wide[name].to_numpy(dtype=float))
    assert long["month"].iloc[0] == pd.Timestamp("2006-01-01")
    assert long["month"].iloc[-1] == pd.Timestamp("2015-12-01")
    assert (long["month"].dt.day == 1).all()
    # the loader's cache hands out copies
    long.loc[0, "employment"] = -1.0
    assert us_employment_frame().loc[0, "employment"] == 135450.0


def test_us_employment_test_is_the_last_12_months_of_every_sector():
    """Bug caught: the last 12 rows of the whole long frame taken as test (one sector's year)
    instead of every sector's last 12 months, or valid/train cut at the wrong month."""
    c = US_EMPLOYMENT_CONTEXT
    splits = load_us_employment()
    wide = _source_wide()
    train, valid, test = (_by_series(splits[k][0]) for k in ("train", "valid", "test"))
    assert list(test) == list(valid) == list(train) and len(test) == 22
    last_12 = wide["month"].iloc[-12:].tolist()
    for name in test:
        assert len(train[name]) == 96 and len(valid[name]) == c + 12 and len(test[name]) == c + 12
        assert test[name]["month"].iloc[c:].tolist() == last_12
        np.testing.assert_array_equal(test[name]["employment"].iloc[c:], wide[name].iloc[-12:])
        assert valid[name]["month"].iloc[c:].tolist() == wide["month"].iloc[-24:-12].tolist()
        assert train[name]["month"].iloc[-1] == pd.Timestamp("2013-12-01")


def test_us_employment_no_test_month_in_train_or_valid():
    """Bug caught: a leak of the test year into the training or validation files (which a global
    model would learn from), through the context rows or a wrong cut."""
    splits = load_us_employment()
    test_months = set(pd.date_range("2015-01-01", "2015-12-01", freq="MS"))
    for split in ("train", "valid"):
        frame = splits[split][0]
        assert not test_months & set(frame["month"]), split
    valid_months = set(pd.date_range("2014-01-01", "2014-12-01", freq="MS"))
    assert not valid_months & set(splits["train"][0]["month"])


def test_us_employment_context_rows_precede_each_part():
    """Bug caught: context copied from another sector or from later months, or missing, so that a
    model with lookback <= context would forecast other months than 2014 / 2015."""
    for context in (US_EMPLOYMENT_CONTEXT, 12, 0):
        splits = load_us_employment(context=context)
        train, valid, test = (_by_series(splits[k][0]) for k in ("train", "valid", "test"))
        full = _by_series(us_employment_frame())
        for name in full:
            train_end = train[name].iloc[len(train[name]) - context :].reset_index(drop=True)
            pd.testing.assert_frame_equal(valid[name].iloc[:context].reset_index(drop=True), train_end)
            # test's context: the months just before 2015 of the same sector (train and valid rows)
            pd.testing.assert_frame_equal(test[name].iloc[:context].reset_index(drop=True),
                                          full[name].iloc[108 - context:108].reset_index(drop=True))
            assert (test[name]["month"].iloc[:context] < pd.Timestamp("2015-01-01")).all()
            for part in (valid[name], test[name]):
                assert part["month"].is_monotonic_increasing and part["month"].is_unique
    with pytest.raises(ValueError, match="context"):
        load_us_employment(context=97)


def test_us_employment_registered_and_export_round_trips(tmp_path):
    """Bug caught: the dataset missing from `lstmkit datasets list`, export writing the wide table,
    an index column or dates with times, or files that do not read back as the splits."""
    from typer.testing import CliRunner

    from lstmkit.cli import app

    assert "us-employment" in dict(list_datasets())
    runner = CliRunner()
    listed = runner.invoke(app, ["datasets", "list"])
    assert listed.exit_code == 0 and "us-employment" in listed.output
    out = str(tmp_path / "cli")
    result = runner.invoke(app, ["datasets", "export", "us-employment", "--out", out])
    assert result.exit_code == 0, result.output
    paths = export_dataset("us-employment", tmp_path / "api")
    assert [p.name for p in paths] == ["train.csv", "valid.csv", "test.csv"]
    splits = load_us_employment()
    for p in paths:
        text = p.read_text(encoding="utf-8")
        assert text.startswith("series,month,employment\nnonfarm,20")
        assert text == (tmp_path / "cli" / p.name).read_text(encoding="utf-8")
        back = pd.read_csv(p)
        assert back["month"].str.fullmatch(r"\d{4}-\d{2}-01").all()
        back["month"] = pd.to_datetime(back["month"], format="%Y-%m-%d")
        expected = splits[p.stem][0]
        pd.testing.assert_frame_equal(back, expected, check_dtype=False)
        for _, part in back.groupby("series", sort=False):  # each series a regular monthly grid
            freq = pd.infer_freq(pd.DatetimeIndex(part["month"]))
            assert freq == "MS" and infer_season(freq) == 12
