"""Tests of lstmkit.data.formats.timeseries: reading forecasting CSVs, missing data, calendar features."""

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.formats.timeseries import (
    calendar_feature_names,
    calendar_features,
    future_times,
    read_series,
)
from lstmkit.errors import ConfigError, DataError


def write(tmp_path, text, name="s.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


DAILY = """date,y,x,note
2024-01-01,1,10,a
2024-01-02,2,20,b
2024-01-03,3,30,c
2024-01-04,4,40,d
"""


def test_reads_columns_in_order_with_lines_and_freq(tmp_path):
    """Bug caught: covariates before targets, or a column order taken from the file, or lines off by one."""
    s = read_series(write(tmp_path, DAILY), "date", ["y"], ["x"])
    assert s.columns == ["y", "x"] and s.n_targets == 1
    np.testing.assert_array_equal(s.values, [[1, 10], [2, 20], [3, 30], [4, 40]])
    np.testing.assert_array_equal(s.targets[:, 0], [1, 2, 3, 4])
    np.testing.assert_array_equal(s.lines, [2, 3, 4, 5])
    assert s.freq == "D" and isinstance(s.time, pd.DatetimeIndex)
    assert s.time[0] == pd.Timestamp("2024-01-01")
    s2 = read_series(write(tmp_path, DAILY), "date", ["x", "y"])
    np.testing.assert_array_equal(s2.values[:, 0], [10, 20, 30, 40])


def test_interpolation_is_linear_in_time_not_in_rows(tmp_path):
    """Bug caught: interpolating by row position (gives 15 for Jan 2 instead of 10) or not inserting Jan 3."""
    text = "date,y\n2024-01-01,0\n2024-01-02,\n2024-01-04,30\n2024-01-05,40\n2024-01-06,50\n"
    s = read_series(write(tmp_path, text), "date", ["y"])
    assert list(s.time.strftime("%m-%d")) == [
        "01-01",
        "01-02",
        "01-03",
        "01-04",
        "01-05",
        "01-06",
    ]
    np.testing.assert_allclose(s.values[:, 0], [0, 10, 20, 30, 40, 50])
    np.testing.assert_array_equal(
        s.lines, [2, 3, 0, 4, 5, 6]
    )  # 0 marks the inserted row


def test_interpolation_edges_take_nearest_value_and_markers_count_as_missing(tmp_path):
    """Bug caught: NaN left at the ends (poisons training), or 'NA' read as an error."""
    text = "t,y,x\n1,,5\n2,2,NA\n3,4,7\n4,6,null\n"
    s = read_series(write(tmp_path, text), "t", ["y"], ["x"])
    np.testing.assert_allclose(s.values, [[2, 5], [2, 6], [4, 7], [6, 7]])
    assert not np.isnan(s.values).any()


def test_numeric_time_gap_inserted(tmp_path):
    """Bug caught: a numeric step column treated as irregular, or its gap not filled."""
    text = "step,y\n0,0\n2,2\n4,4\n8,8\n10,10\n"
    s = read_series(write(tmp_path, text), "step", ["y"])
    assert s.freq == 2.0
    np.testing.assert_array_equal(np.asarray(s.time), [0, 2, 4, 6, 8, 10])
    np.testing.assert_allclose(s.values[:, 0], [0, 2, 4, 6, 8, 10])


def test_monthly_gap_inferred_and_filled(tmp_path):
    """Bug caught: a month grid inferred from day differences (28-31 days) failing, so no fill."""
    months = [
        "2020-01-01",
        "2020-02-01",
        "2020-03-01",
        "2020-05-01",
        "2020-06-01",
        "2020-07-01",
    ]
    text = "month,y\n" + "".join(
        f"{m},{y}\n" for m, y in zip(months, [0, 1, 2, 4, 5, 6])
    )
    s = read_series(write(tmp_path, text), "month", ["y"])
    assert s.freq == "MS"
    assert len(s) == 7 and s.time[3] == pd.Timestamp("2020-04-01")
    # April lies 31 of the 61 days between March and May: linear in time, not 3.0 exactly.
    np.testing.assert_allclose(s.values[3, 0], 2 + 2 * 31 / 61)


def test_irregular_series_kept_as_is(tmp_path):
    """Bug caught: inventing a grid for irregular times and inserting rows."""
    text = "t,y\n0,1\n1,2\n3,3\n7,4\n15,5\n"
    s = read_series(write(tmp_path, text), "t", ["y"])
    assert s.freq is None and len(s) == 5


def test_missing_error_names_first_rows(tmp_path):
    """Bug caught: missing=error silently interpolating, or naming the wrong line."""
    text = "date,y,x\n2024-01-01,1,1\n2024-01-02,,2\n2024-01-03,3,\n2024-01-04,4,4\n"
    with pytest.raises(
        DataError, match=r"line 3: empty cells at lines 3 \('y'\), 4 \('x'\)"
    ):
        read_series(write(tmp_path, text), "date", ["y"], ["x"], missing="error")
    gap = (
        "date,y\n2024-01-01,1\n2024-01-02,2\n2024-01-04,4\n2024-01-05,5\n2024-01-06,6\n"
    )
    with pytest.raises(
        DataError, match=r"line 4: 1 timestamp\(s\) missing.*2024-01-03.*after line 3"
    ):
        read_series(write(tmp_path, gap), "date", ["y"], missing="error")


def test_duplicated_and_unordered_timestamps_name_both_lines(tmp_path):
    """Bug caught: duplicates silently averaged/kept, or the file silently sorted."""
    dup = "date,y\n2024-01-01,1\n2024-01-02,2\n2024-01-02,3\n"
    with pytest.raises(
        DataError, match="line 4: duplicated timestamp 2024-01-02.* lines 3 and 4"
    ):
        read_series(write(tmp_path, dup), "date", ["y"])
    back = "date,y\n2024-01-01,1\n2024-01-03,2\n2024-01-02,3\n"
    with pytest.raises(
        DataError, match="line 4: timestamps out of order.*line 4.*line 3"
    ):
        read_series(write(tmp_path, back), "date", ["y"])


@pytest.mark.parametrize(
    "text, columns, pattern",
    [
        (
            "date,y\n2024-01-01,1\n2024-01-02,abc\n",
            ["y"],
            r"line 3: column 'y': 'abc' is not a finite",
        ),
        ("date,y\n2024-01-01,1\n2024-01-02,inf\n", ["y"], r"line 3: column 'y': 'inf'"),
        (
            "date,y\n2024-01-01,1\nyesterday,2\n",
            ["y"],
            r"line 3: cannot read time 'yesterday'",
        ),
        ("date,y\n2024-01-01,1\n,2\n", ["y"], r"line 3: empty time"),
        ("date,y\n2024-01-01,1\n2024-01-02,2,3\n", ["y"], r"line 3: expected 2 fields"),
        ("date,y\n", ["y"], r"0 rows of data, at least 2 needed"),
        ("", ["y"], r"line 1: file is empty"),
        ("date,y,y\n2024-01-01,1,2\n", ["y"], r"line 1: column 'y' appears twice"),
    ],
)
def test_bad_files(tmp_path, text, columns, pattern):
    """Bug caught: a bad cell read as NaN (then silently interpolated), or the wrong line named."""
    with pytest.raises(DataError, match=pattern):
        read_series(write(tmp_path, text), "date", columns)


def test_missing_file_and_columns_name_the_option(tmp_path):
    """Bug caught: a KeyError traceback instead of a message naming data.target / data.covariates."""
    with pytest.raises(DataError, match="file not found"):
        read_series(tmp_path / "nope.csv", "date", ["y"])
    path = write(tmp_path, DAILY)
    with pytest.raises(
        DataError, match=r"line 1: no column 'when' \(data.time_column\)"
    ):
        read_series(path, "when", ["y"])
    with pytest.raises(
        DataError, match=r"no column 'temp' \(data.target\); the columns are: 'date'"
    ):
        read_series(path, "date", ["temp"])
    with pytest.raises(DataError, match=r"no column 'w' \(data.covariates\)"):
        read_series(path, "date", ["y"], ["w"])
    with pytest.raises(ConfigError, match="data.target"):
        read_series(path, "date", [])
    with pytest.raises(ConfigError, match="named twice"):
        read_series(path, "date", ["y"], ["y"])
    with pytest.raises(ConfigError, match="data.missing"):
        read_series(path, "date", ["y"], missing="drop")


def test_min_rows_and_explicit_freq(tmp_path):
    """Bug caught: a too-short file accepted, or a freq that does not fit the times ignored."""
    path = write(tmp_path, DAILY)
    with pytest.raises(DataError, match="4 rows of data, at least 10 needed"):
        read_series(path, "date", ["y"], min_rows=10)
    with pytest.raises(DataError, match="grid of frequency 'h'|data.freq"):
        read_series(path, "date", ["y"], freq="2D")
    assert read_series(path, "date", ["y"], freq="D").freq == "D"


def test_tsv_blank_lines_and_bom(tmp_path):
    """Bug caught: a BOM glued to the first column name, a blank line read as a row, wrong lines after it."""
    path = tmp_path / "s.tsv"
    path.write_bytes(
        "\ufeffdate\ty\n2024-01-01\t1\n\n2024-01-02\t2\n2024-01-03\t3\n".encode()
    )
    s = read_series(path, "date", ["y"])
    np.testing.assert_array_equal(s.lines, [2, 4, 5])


def test_datetimes_with_hours(tmp_path):
    """Bug caught: ISO date-times with hours parsed only to the day, giving duplicates."""
    text = "time,y\n2024-01-01 00:00,1\n2024-01-01 01:00,2\n2024-01-01 02:00,3\n2024-01-01 03:00,4\n"
    s = read_series(write(tmp_path, text), "time", ["y"])
    assert s.freq == "h"
    assert calendar_features(s.time).shape == (4, 6)


def test_calendar_features_hand_values():
    """Bug caught: day of week not 0..6 / 7 (Monday 2024-01-01 must be angle 0), or sin/cos swapped."""
    time = pd.date_range("2024-01-01", periods=8, freq="D")  # Monday to Monday
    f = calendar_features(time)
    assert calendar_feature_names(time) == [
        "day_of_week_sin",
        "day_of_week_cos",
        "day_of_year_sin",
        "day_of_year_cos",
    ]
    angle = 2 * np.pi * np.arange(8) / 7
    np.testing.assert_allclose(f[:, 0], np.sin(angle), atol=1e-12)
    np.testing.assert_allclose(f[:, 1], np.cos(angle), atol=1e-12)
    doy = 2 * np.pi * np.arange(8) / 366  # 2024 is a leap year
    np.testing.assert_allclose(f[:, 2], np.sin(doy), atol=1e-12)
    # Sunday (row 6) lies as close to Monday (row 7) as Monday to Tuesday: the week wraps.
    np.testing.assert_allclose(
        np.linalg.norm(f[6, :2] - f[7, :2]), np.linalg.norm(f[0, :2] - f[1, :2])
    )


def test_calendar_features_follow_the_step():
    """Bug caught: monthly data given day-of-week features (noise) instead of month of year."""
    monthly = pd.date_range("2020-01-01", periods=13, freq="MS")
    f = calendar_features(monthly)
    assert calendar_feature_names(monthly) == ["month_sin", "month_cos"]
    np.testing.assert_allclose(f[0], f[12], atol=1e-12)  # January again
    np.testing.assert_allclose(f[3], [1.0, 0.0], atol=1e-12)  # April: a quarter turn
    quarterly = pd.date_range("2000-01-01", periods=5, freq="QS")
    assert calendar_feature_names(quarterly) == ["quarter_sin", "quarter_cos"]
    np.testing.assert_allclose(calendar_features(quarterly)[2], [0.0, -1.0], atol=1e-12)
    assert calendar_features(pd.date_range("2000", periods=3, freq="YS")).shape == (
        3,
        0,
    )
    assert calendar_features(pd.Index([0, 1, 2])).shape == (3, 0)
    one = pd.DatetimeIndex(
        ["2024-05-01"]
    )  # a single future step: the step comes from freq
    assert calendar_feature_names(one, "MS") == ["month_sin", "month_cos"]


def test_future_times():
    """Bug caught: the first future time equal to the last known one (off by one)."""
    time = pd.date_range("2024-01-30", periods=2, freq="D")
    assert list(future_times(time, "D", 3).strftime("%m-%d")) == [
        "02-01",
        "02-02",
        "02-03",
    ]
    np.testing.assert_allclose(
        np.asarray(future_times(pd.Index([0.0, 2.0]), 2.0, 2)), [4.0, 6.0]
    )
    with pytest.raises(ValueError, match="irregular"):
        future_times(time, None, 3)
