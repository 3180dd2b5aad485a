"""Bundled forecasting datasets: files that ship inside installed packages, split by time.

===================  ==========  ============================================================
name                 task        source
===================  ==========  ============================================================
``seattle-weather``  forecaster  vega_datasets' ``_data/seattle-weather.csv``: daily weather
                                 in Seattle, 2012-01-01 to 2015-12-31 (1,461 days)
``realgdp``          forecaster  statsmodels' ``datasets/macrodata/macrodata.csv``: US
                                 quarterly macro series, 1959Q1 to 2009Q3 (203 quarters)
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

Context. ``evaluate`` forecasts from rolling origins over one file's rows, the first
``lookback`` rows being history only, so ``valid.csv`` and ``test.csv`` each *start* with
``context`` rows copied from just before their part (the end of train, resp. valid): a
model with ``lookback <= context`` scores every row of its part. Defaults: 60 days for
``seattle-weather``, 16 quarters for ``realgdp``; match them to the model's ``lookback``.
``train.csv`` has no extra rows. The splits are fixed by time: ``seed`` is accepted for the
registry's sake and ignored.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from lstmkit.data.datasets import Dataset, _package_file
from lstmkit.files import atomic_write_text

__all__ = [
    "REALGDP_CONTEXT",
    "SEATTLE_CONTEXT",
    "TIMESERIES_DATASETS",
    "export_realgdp",
    "export_seattle_weather",
    "load_realgdp",
    "load_seattle_weather",
    "realgdp_frame",
    "seattle_weather_frame",
]

SPLITS = ("train", "valid", "test")
SEATTLE_CONTEXT = 60  # days of history at the start of valid.csv / test.csv
REALGDP_CONTEXT = 16  # quarters (4 years)
SEATTLE_VALID_START = pd.Timestamp("2014-07-01")
SEATTLE_TEST_START = pd.Timestamp("2015-01-01")
REALGDP_TEST_FRACTION = 0.2
REALGDP_VALID_FRACTION = 0.1

FrameSplits = dict[str, tuple[pd.DataFrame, None]]


# --------------------------------------------------------------------------- whole series


@functools.lru_cache(maxsize=1)
def _seattle_weather() -> pd.DataFrame:
    path = _package_file("vega_datasets", "timeseries", "_data", "seattle-weather.csv")
    frame = pd.read_csv(path)
    frame["date"] = pd.to_datetime(frame["date"], format="%Y/%m/%d")
    return frame[["date", "temp_max", "temp_min", "precipitation", "wind"]]


def seattle_weather_frame() -> pd.DataFrame:
    """The whole series: ``date`` (datetime64), ``temp_max``, ``temp_min``, ``precipitation``, ``wind``."""
    return _seattle_weather().copy()


@functools.lru_cache(maxsize=1)
def _realgdp() -> pd.DataFrame:
    path = _package_file(
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
]
