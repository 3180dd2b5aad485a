"""Bundled forecasting datasets: files that ship inside installed packages, split by time.

===================  ==========  ============================================================
name                 task        source
===================  ==========  ============================================================
``seattle-weather``  forecaster  vega_datasets' ``_data/seattle-weather.csv``: daily weather
                                 in Seattle, 2012-01-01 to 2015-12-31 (1,461 days)
``realgdp``          forecaster  statsmodels' ``datasets/macrodata/macrodata.csv``: US
                                 quarterly macro series, 1959Q1 to 2009Q3 (203 quarters)
``us-employment``    forecaster  vega_datasets' ``_data/us-employment.csv``: US employment
                                 in 22 BLS supersectors, monthly 2006-01 to 2015-12 (120
                                 months), as a panel of 22 series in long format
===================  ==========  ============================================================

``seattle-weather`` columns: ``date`` (ISO ``YYYY-MM-DD``), the targets ``temp_max`` and
``temp_min`` (degrees C), the covariates ``precipitation`` (mm) and ``wind`` (m/s). The
source's ``weather`` text column (sun, rain, fog, drizzle, snow) is dropped: it is a
summary of the same day's observations rather than an independent input, its labels are
inconsistent (fog and drizzle days overlap with sun and rain), and it is not known in
advance. Splits, by date:

* train: 2012-01-01 to 2014-06-30 (912 days);
* valid: 2014-07-01 to 2014-12-31 (184 days: a warm and a cold half year);
* test: the whole of 2015 (365 days).

``realgdp`` columns: ``date`` (the first day of the quarter, ``1959-01-01`` for 1959Q1,
built from the source's ``year`` and ``quarter``), the target ``realgdp`` (billions of
chained 2005 dollars) and the other macro series as optional covariates (``realcons``,
``realinv``, ``realgovt``, ``realdpi``, ``cpi``, ``m1``, ``tbilrate``, ``unemp``, ``pop``,
``infl``, ``realint``). Splits: the last 20% of quarters (41, 1999Q3 to 2009Q3) are test,
the 10% before them (20, 1994Q3 to 1999Q2) valid, the first 142 train.

``us-employment`` is a panel (many series, one global model): columns ``series`` (the
supersector, the source's column name: ``nonfarm``, ``private``, ``goods_producing``, ...,
``government``; ``trade_transportation_utilties`` keeps the source's spelling), ``month``
(the first day of the month) and ``employment`` (thousands of jobs, seasonally adjusted by
the BLS), one row per series and month, each series' rows in time order and the series in
the source's column order. The sectors nest (``nonfarm = private + government``,
``goods_producing = mining_and_logging + construction + manufacturing``, ...), as BLS
publishes them. The source's ``nonfarm_change`` column is dropped: it is not a sector but
the month-to-month difference of ``nonfarm``, derived from another column (its January 2006
value even uses December 2005, outside the data). Splits, by month and the same for every
series: test = the last 12 months (2015), valid = the 12 before (2014), train = the first 96
(2006-2013).

Context. ``evaluate`` forecasts from rolling origins over one file's rows, the first
``lookback`` rows being history only, so ``valid.csv`` and ``test.csv`` each *start* with
``context`` rows copied from just before their part (the end of train, resp. valid): a
model with ``lookback <= context`` scores every row of its part. Defaults: 60 days for
``seattle-weather``, 16 quarters for ``realgdp``, 36 months for ``us-employment`` (where every
series' part starts with its own ``context`` months); match them to the model's ``lookback``.
``train.csv`` has no extra rows. The splits are fixed by time: ``seed`` is accepted for the
registry's sake and ignored.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from lstmkit.data.datasets.base import Dataset, package_file
from lstmkit.files import atomic_write_text

__all__ = [
    "REALGDP_CONTEXT",
    "SEATTLE_CONTEXT",
    "TIMESERIES_DATASETS",
    "US_EMPLOYMENT_CONTEXT",
    "export_realgdp",
    "export_seattle_weather",
    "export_us_employment",
    "load_realgdp",
    "load_seattle_weather",
    "load_us_employment",
    "realgdp_frame",
    "seattle_weather_frame",
    "us_employment_frame",
]

SPLITS = ("train", "valid", "test")
SEATTLE_CONTEXT = 60  # days of history at the start of valid.csv / test.csv
REALGDP_CONTEXT = 16  # quarters (4 years)
SEATTLE_VALID_START = pd.Timestamp("2014-07-01")
SEATTLE_TEST_START = pd.Timestamp("2015-01-01")
REALGDP_TEST_FRACTION = 0.2
REALGDP_VALID_FRACTION = 0.1
US_EMPLOYMENT_CONTEXT = 36  # months (3 years) at the start of each series in valid.csv / test.csv
US_EMPLOYMENT_TEST_MONTHS = 12
US_EMPLOYMENT_VALID_MONTHS = 12
US_EMPLOYMENT_DERIVED = ("nonfarm_change",)  # source columns that are not sectors

FrameSplits = dict[str, tuple[pd.DataFrame, None]]


# --------------------------------------------------------------------------- whole series


@functools.lru_cache(maxsize=1)
def _seattle_weather() -> pd.DataFrame:
    path = package_file("vega_datasets", "timeseries", "_data", "seattle-weather.csv")
    frame = pd.read_csv(path)
    frame["date"] = pd.to_datetime(frame["date"], format="%Y/%m/%d")
    return frame[["date", "temp_max", "temp_min", "precipitation", "wind"]]


def seattle_weather_frame() -> pd.DataFrame:
    """The whole series: ``date`` (datetime64), ``temp_max``, ``temp_min``, ``precipitation``, ``wind``."""
    return _seattle_weather().copy()


@functools.lru_cache(maxsize=1)
def _realgdp() -> pd.DataFrame:
    path = package_file(
        "statsmodels", "timeseries", "datasets", "macrodata", "macrodata.csv"
    )
    frame = pd.read_csv(path)
    quarters = pd.PeriodIndex.from_fields(
        year=frame["year"].astype(int), quarter=frame["quarter"].astype(int), freq="Q"
    )
    frame.insert(0, "date", quarters.to_timestamp(how="start"))
    return frame.drop(columns=["year", "quarter"])


def realgdp_frame() -> pd.DataFrame:
    """The whole series: ``date`` (first day of each quarter), ``realgdp`` and the other macro columns."""
    return _realgdp().copy()


@functools.lru_cache(maxsize=1)
def _us_employment() -> pd.DataFrame:
    path = package_file("vega_datasets", "timeseries", "_data", "us-employment.csv")
    wide = pd.read_csv(path)
    wide["month"] = pd.to_datetime(wide["month"], format="%Y-%m-%d")
    wide = wide.sort_values("month", kind="stable")  # the file is in time order; do not rely on it
    sectors = [c for c in wide.columns if c != "month" and c not in US_EMPLOYMENT_DERIVED]
    long = wide.melt(
        id_vars="month", value_vars=sectors, var_name="series", value_name="employment"
    )  # series by series in the sectors' order, each in the file's (time) order
    long["employment"] = long["employment"].astype("float64")
    return long[["series", "month", "employment"]]


def us_employment_frame() -> pd.DataFrame:
    """The whole panel in long format: ``series`` (str), ``month`` (datetime64, first of the
    month), ``employment`` (float, thousands); 22 sectors x 120 months, one row each."""
    return _us_employment().copy()


# --------------------------------------------------------------------------- splits


def _split_with_context(
    frame: pd.DataFrame, valid_start: int, test_start: int, context: int
) -> FrameSplits:
    """Rows ``[0, v)`` train, ``[v - context, t)`` valid, ``[t - context, N)`` test."""
    if context < 0 or context > valid_start:
        raise ValueError(
            f"context must be between 0 and {valid_start} rows, got {context}"
        )
    parts = {
        "train": frame.iloc[:valid_start],
        "valid": frame.iloc[valid_start - context : test_start],
        "test": frame.iloc[test_start - context :],
    }
    return {name: (part.reset_index(drop=True), None) for name, part in parts.items()}


def load_seattle_weather(seed: int = 13, context: int = SEATTLE_CONTEXT) -> FrameSplits:
    """``{"train"|"valid"|"test": (frame, None)}``; valid and test start with ``context`` days of history.

    The frames are what :func:`export_seattle_weather` writes; ``seed`` is ignored.
    """
    frame = seattle_weather_frame()
    valid_start = int((frame["date"] < SEATTLE_VALID_START).sum())
    test_start = int((frame["date"] < SEATTLE_TEST_START).sum())
    return _split_with_context(frame, valid_start, test_start, context)


def load_realgdp(seed: int = 13, context: int = REALGDP_CONTEXT) -> FrameSplits:
    """``{"train"|"valid"|"test": (frame, None)}``; valid and test start with ``context`` quarters of history.

    Test is the last ``round(0.2 N)`` quarters, valid the ``round(0.1 N)`` before them;
    ``seed`` is ignored.
    """
    frame = realgdp_frame()
    n = len(frame)
    test_start = n - round(REALGDP_TEST_FRACTION * n)
    valid_start = test_start - round(REALGDP_VALID_FRACTION * n)
    return _split_with_context(frame, valid_start, test_start, context)


def load_us_employment(seed: int = 13, context: int = US_EMPLOYMENT_CONTEXT) -> FrameSplits:
    """``{"train"|"valid"|"test": (long frame, None)}`` of the ``us-employment`` panel.

    Per series, with N = 120 months: train = months ``[0, N - 24)``, valid = ``[N - 24 -
    context, N - 12)``, test = ``[N - 12 - context, N)``: the last 12 months are test, the
    12 before them valid, and each series' part in valid and test starts with its own
    ``context`` months of history. Rows stay grouped by series in the panel's order, each
    series in time order. ``seed`` is ignored.

    Raises:
        ValueError: ``context`` not between 0 and 96 (the training months).
    """
    panel = us_employment_frame()
    parts: dict[str, list[pd.DataFrame]] = {split: [] for split in SPLITS}
    for _, frame in panel.groupby("series", sort=False):
        n = len(frame)
        test_start = n - US_EMPLOYMENT_TEST_MONTHS
        valid_start = test_start - US_EMPLOYMENT_VALID_MONTHS
        split_frames = _split_with_context(frame, valid_start, test_start, context)
        for split, (part, _) in split_frames.items():
            parts[split].append(part)
    return {split: (pd.concat(frames, ignore_index=True), None) for split, frames in parts.items()}


# --------------------------------------------------------------------------- export


def _export(splits: FrameSplits, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for split in SPLITS:
        frame, _ = splits[split]
        path = out_dir / f"{split}.csv"
        _write_frame_atomically(frame, path)
        paths.append(path)
    return paths


def _write_frame_atomically(frame: pd.DataFrame, path: Path) -> None:
    """Write a temporary file beside ``path``, then rename it (mode as the umask asks)."""
    text = frame.to_csv(index=False, date_format="%Y-%m-%d", lineterminator="\n")
    atomic_write_text(path, text)


def export_seattle_weather(
    out_dir: Path, seed: int = 13, context: int = SEATTLE_CONTEXT
) -> list[Path]:
    """Write ``train.csv``, ``valid.csv``, ``test.csv`` of ``seattle-weather`` into ``out_dir``."""
    return _export(load_seattle_weather(seed, context), out_dir)


def export_realgdp(
    out_dir: Path, seed: int = 13, context: int = REALGDP_CONTEXT
) -> list[Path]:
    """Write ``train.csv``, ``valid.csv``, ``test.csv`` of ``realgdp`` into ``out_dir``."""
    return _export(load_realgdp(seed, context), out_dir)


def export_us_employment(
    out_dir: Path, seed: int = 13, context: int = US_EMPLOYMENT_CONTEXT
) -> list[Path]:
    """Write ``train.csv``, ``valid.csv``, ``test.csv`` of ``us-employment`` (``series,month,employment``)."""
    return _export(load_us_employment(seed, context), out_dir)


# --------------------------------------------------------------------------- registry

TIMESERIES_DATASETS: list[Dataset] = [
    Dataset(
        name="seattle-weather",
        description="Seattle daily weather 2012-2015: forecast temp_max, temp_min (from vega_datasets)",
        task="forecaster",
        load=load_seattle_weather,
        export=export_seattle_weather,
    ),
    Dataset(
        name="realgdp",
        description="US real GDP and macro series, quarterly 1959-2009 (from statsmodels)",
        task="forecaster",
        load=load_realgdp,
        export=export_realgdp,
    ),
    Dataset(
        name="us-employment",
        description="US employment by sector, monthly 2006-2015: a panel of 22 series (from vega_datasets)",
        task="forecaster",
        load=load_us_employment,
        export=export_us_employment,
    ),
]
