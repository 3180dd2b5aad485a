"""Reading a forecasting CSV: a time column, target column(s) and covariate columns.

The file is a CSV (or, by extension, TSV) with a header line. One column holds the time
(dates / date-times that pandas can parse, or plain numbers such as a step counter), the
others numbers. Only the named columns are read; others are ignored.

What is checked (each failure is a :class:`~lstmkit.errors.DataError` naming the file and
the 1-based line, the header being line 1; a quoted record spanning lines is reported at
the line where it starts):

* the file exists, is UTF-8, has a header and the named columns (the message names the
  option: ``data.time_column``, ``data.target``, ``data.covariates``);
* every time cell parses, all in one format; times strictly increase (a duplicated or an
  earlier timestamp names both lines);
* every value cell is a finite number or empty (``NA``, ``NaN``, ``null``, ``None``,
  ``N/A`` and ``?`` also count as empty); anything else names line and column;
* missing data: empty cells, and for a *regular* series (see below) timestamps missing
  from the grid. With ``missing="error"`` these are errors naming the first rows; with
  ``missing="interpolate"`` (the default) missing timestamps are inserted and every empty
  cell is filled by linear interpolation in time::

      x(t) = x(t0) + (x(t1) - x(t0)) * (t - t0) / (t1 - t0)

  between the nearest known neighbours t0 < t < t1 of the same column; cells before the
  first or after the last known value take that value;
* at least ``min_rows`` rows of data.

Regular series and frequency. The series is *regular* when its times lie on a grid:
``freq`` if given (a pandas offset alias such as ``"D"``, ``"h"``, ``"MS"``, ``"QS"``, or
a number step for a numeric time column), else the frequency pandas infers
(:func:`pandas.infer_freq` on the whole column; when gaps break that, the common answer on
short runs of three consecutive rows; for a numeric time, the most common step). An
inferred grid is accepted only if every time lies on it and at most a third of its points
are missing (more would be mostly invented data: the series is then irregular). A series
without a grid is *irregular*: it is used as it is (``freq=None``) and no timestamps are
inserted. Pass ``freq`` for a series pandas would guess wrong (a business-day series with
missing days looks daily).

:func:`calendar_features` turns times into sin/cos pairs (hour of day, day of week, day
of year, month or quarter, chosen by the step): covariates known in the future.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from lstmkit.data.formats.tables import decode_text
from lstmkit.errors import ConfigError, DataError, DataWarning

__all__ = [
    "Series",
    "calendar_feature_names",
    "calendar_features",
    "future_times",
    "read_series",
]

MISSING_TOKENS = frozenset({"", "na", "nan", "null", "none", "n/a", "?"})
_MISSING_CHOICES = ("interpolate", "error")
_SHOW = 5  # how many rows an error message lists


@dataclass
class Series:
    """A multivariate series read from one file.

    Attributes:
        time: (N,) ``pandas.DatetimeIndex`` or, for a numeric time column, a numeric
            ``pandas.Index``; strictly increasing.
        values: (N, n_targets + n_covariates) float64, targets first, in the order given;
            no NaN (empty cells were interpolated, or were an error).
        columns: the names of ``values``' columns (targets then covariates).
        n_targets: how many leading columns are targets.
        freq: the grid of a regular series (a pandas offset alias such as ``"D"`` or
            ``"QS-OCT"``, or a number step for a numeric time), or None if irregular.
        lines: (N,) int, the CSV line of each row; 0 for rows inserted to fill a gap.
        path: the file read.
    """

    time: pd.Index
    values: np.ndarray
    columns: list[str]
    n_targets: int
    freq: str | float | None
    lines: np.ndarray = field(repr=False)
    path: Path | None = None

    @property
    def targets(self) -> np.ndarray:
        """(N, n_targets) the target columns."""
        return self.values[:, : self.n_targets]

    @property
    def covariates(self) -> np.ndarray:
        """(N, n_covariates) the covariate columns."""
        return self.values[:, self.n_targets :]

    def __len__(self) -> int:
        return len(self.values)


# --------------------------------------------------------------------------- reading


def read_series(
    path: str | Path,
    time_column: str,
    targets: list[str],
    covariates: list[str] = (),
    missing: str = "interpolate",
    freq: str | float | None = None,
    min_rows: int = 2,
    delimiter: str | None = None,
) -> Series:
    """Read a forecasting CSV into a :class:`Series` (see the module docstring).

    Args:
        path: the CSV (``.tsv`` files are tab-separated unless ``delimiter`` is given).
        time_column: the time column (option ``data.time_column``).
        targets: the column(s) to forecast (option ``data.target``), at least one.
        covariates: other numeric input columns (option ``data.covariates``).
        missing: ``"interpolate"`` or ``"error"`` (option ``data.missing``).
        freq: the series' grid (pandas offset alias, or a number for a numeric time
            column); None infers it.
        min_rows: fewer rows of data than this is an error.
        delimiter: the field separator; None chooses by extension.

    Raises:
        DataError: anything wrong in the file (names the file and line).
        ConfigError: no target, a column named twice, or an unknown ``missing``.
    """
    path = Path(path)
    targets, covariates = list(targets), list(covariates)
    check_options(time_column, targets, covariates, missing)
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a file", path)
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","

    header, rows, lines = read_records(path, delimiter)
    options = [(time_column, "data.time_column")]
    options += [(c, "data.target") for c in targets] + [
        (c, "data.covariates") for c in covariates
    ]
    for column, option in options:
        if column not in header:
            raise DataError(
                f"no column {column!r} ({option}); the columns are: "
                + ", ".join(map(repr, header)),
                path,
                1,
            )
    if len(rows) < min_rows:
        raise DataError(f"{len(rows)} rows of data, at least {min_rows} needed", path)

    names = targets + covariates
    time = parse_time(
        [r[header.index(time_column)] for r in rows], lines, time_column, path
    )
    check_increasing(time, lines, path)
    values = np.column_stack(
        [
            parse_numbers([r[header.index(c)] for r in rows], lines, c, path)
            for c in names
        ]
    )  # (N, F)

    grid = regular_grid(time, freq, path)
    gaps = missing_times(time, grid)
    empty = np.isnan(values)
    if missing == "error":
        report_missing(empty, gaps, time, lines, names, path)
    elif gaps is not None and len(gaps) or empty.any():
        filled = describe_filled(gaps, empty, time, lines, grid)
        time, values, lines = interpolate_gaps(time, values, lines, grid, names, path)
        warnings.warn(f"{path}: {filled}", DataWarning, stacklevel=2)
    return Series(
        time=time,
        values=values,
        columns=names,
        n_targets=len(targets),
        freq=freq_name(grid),
        lines=lines,
        path=path,
    )


def check_options(time_column, targets, covariates, missing) -> None:
    if missing not in _MISSING_CHOICES:
        raise ConfigError(
            f"data.missing must be one of {', '.join(_MISSING_CHOICES)}, got {missing!r}"
        )
    if not targets:
        raise ConfigError("data.target: name at least one target column")
    seen: dict[str, str] = {}
    for column, option in (
        [(time_column, "data.time_column")]
        + [(c, "data.target") for c in targets]
        + [(c, "data.covariates") for c in covariates]
    ):
        if column in seen:
            where = option if seen[column] == option else f"{seen[column]} and {option}"
            raise ConfigError(f"column {column!r} is named twice ({where})")
        seen[column] = option


def read_records(
    path: Path, delimiter: str
) -> tuple[list[str], list[list[str]], np.ndarray]:
    """The header, the data records and the line where each record starts (blank lines skipped)."""
    reader = csv.reader(io.StringIO(decode_text(path), newline=""), delimiter=delimiter)  # see readers.read_table_rows
    rows, lines = [], []
    try:
        header = next(reader, None)
        if header is None:
            raise DataError("file is empty (expected a header line)", path, 1)
        header = [name.strip() for name in header]
        duplicated = [name for name, n in Counter(header).items() if n > 1]
        if duplicated:
            raise DataError(
                f"column {duplicated[0]!r} appears twice in the header", path, 1
            )
        while True:
            line = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            if not row or all(not cell.strip() for cell in row) and len(row) == 1:
                continue  # a blank line
            if len(row) != len(header):
                raise DataError(
                    f"expected {len(header)} fields as in the header, found {len(row)}",
                    path,
                    line,
                )
            rows.append(row)
            lines.append(line)
    except csv.Error as err:
        raise DataError(f"malformed CSV: {err}", path, reader.line_num) from None
    return header, rows, np.asarray(lines, dtype=np.int64)


def parse_time(
    cells: list[str], lines: np.ndarray, column: str, path: Path
) -> pd.Index:
    """Numbers -> a float/int Index; otherwise dates, all in one format -> a DatetimeIndex."""
    raw = pd.Series([c.strip() for c in cells])
    empty = np.flatnonzero(raw.eq("").to_numpy())
    if empty.size:
        raise DataError(f"empty time in column {column!r}", path, int(lines[empty[0]]))
    numbers = pd.to_numeric(raw, errors="coerce")
    if numbers.notna().all():
        if not np.isfinite(numbers.to_numpy(dtype=float)).all():
            bad = int(np.flatnonzero(~np.isfinite(numbers.to_numpy(dtype=float)))[0])
            raise DataError(f"time {cells[bad]!r} is not finite", path, int(lines[bad]))
        return pd.Index(numbers.to_numpy())
    best = None
    for fmt in ("ISO8601", None):
        try:
            with warnings.catch_warnings():  # pandas' "could not infer format" is not the user's business
                warnings.simplefilter("ignore", UserWarning)
                parsed = pd.to_datetime(raw, format=fmt, errors="coerce")
        except (ValueError, TypeError) as err:  # e.g. mixed time zones
            raise DataError(
                f"cannot read the times in column {column!r}: {err}", path
            ) from None
        if best is None or parsed.isna().sum() < best.isna().sum():
            best = parsed
        if not parsed.isna().any():
            break
    bad = np.flatnonzero(best.isna().to_numpy())
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"cannot read time {cells[i].strip()!r} in column {column!r}"
            f" ({len(bad)} such rows; all times must be dates in one format, or all numbers)",
            path,
            int(lines[i]),
        )
    return pd.DatetimeIndex(best)


def _order(time: pd.Index) -> np.ndarray:
    return time.asi8 if isinstance(time, pd.DatetimeIndex) else time.to_numpy(dtype=np.float64)


def is_increasing(time: pd.Index) -> bool:
    """Times strictly increase."""
    return bool((np.diff(_order(time)) > 0).all())


def check_increasing(time: pd.Index, lines: np.ndarray, path: Path, hint: str = "") -> None:
    """Times strictly increase, or an error naming both lines (``hint`` replaces the default advice)."""
    order = _order(time)
    step = np.diff(order)
    zero = step == 0
    bad = np.flatnonzero(step <= 0)
    if bad.size:
        i = int(bad[0])
        a, b = int(lines[i]), int(lines[i + 1])
        if zero[i]:
            msg = f"duplicated timestamp {time[i]} at lines {a} and {b}"
        else:
            msg = f"timestamps out of order: {time[i + 1]} at line {b} comes after {time[i]} at line {a}"
        raise DataError(msg + (hint or " (sort the file by time and drop duplicates)"), path, b)


def parse_numbers(
    cells: list[str], lines: np.ndarray, column: str, path: Path
) -> np.ndarray:
    """(N,) float64; missing markers -> NaN; anything else unparseable is an error."""
    raw = pd.Series([c.strip() for c in cells])
    is_missing = raw.str.lower().isin(MISSING_TOKENS).to_numpy()
    # Python's float() rounds correctly; pd.to_numeric can be 1 ulp off (2.1530179992259808e-29)
    numbers = np.array([math.nan if m else _float(c) for c, m in zip(raw, is_missing)], dtype=np.float64)
    bad = np.flatnonzero(~is_missing & ~np.isfinite(numbers))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"column {column!r}: {cells[i].strip()!r} is not a finite number",
            path,
            int(lines[i]),
        )
    return numbers


def _float(text: str) -> float:
    """``text`` as the nearest float, or NaN when it is not a plain number (``1_000`` is not)."""
    try:
        return math.nan if "_" in text else float(text)
    except ValueError:
        return math.nan


# --------------------------------------------------------------------------- frequency


def regular_grid(time: pd.Index, freq, path: Path):
    """The grid step: a pandas offset (dates), a number (numeric time), or None (irregular)."""
    numeric = not isinstance(time, pd.DatetimeIndex)
    if freq is not None:
        if numeric:
            try:
                step = float(freq)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"data.freq: the time column is numeric, so freq must be a number, got {freq!r}"
                ) from None
            if step <= 0:
                raise ConfigError(f"data.freq must be positive, got {freq!r}")
            grid = step
        else:
            try:
                grid = to_offset(freq)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"data.freq: {freq!r} is not a pandas frequency (e.g. D, h, MS, QS)"
                ) from None
        if not _on_grid(time, grid):
            raise DataError(
                f"the times do not lie on a grid of frequency {freq!r} (data.freq)",
                path,
            )
        return grid
    if len(time) < 3:
        return None
    if numeric:
        steps = np.diff(time.to_numpy(dtype=np.float64))
        values, counts = np.unique(steps, return_counts=True)
        step = float(values[np.argmax(counts)])
        return step if _on_grid(time, step, fill_limit=True) else None
    inferred = pd.infer_freq(time)
    if inferred is not None:
        return to_offset(inferred)
    # Gaps break infer_freq: ask it about short runs of rows and keep the common answer.
    starts = np.unique(
        np.linspace(0, len(time) - 3, num=min(len(time) - 2, 200)).astype(int)
    )
    answers = Counter(pd.infer_freq(time[i : i + 3]) for i in starts)
    answers.pop(None, None)
    for answer, _ in answers.most_common(3):
        grid = to_offset(answer)
        if _on_grid(time, grid, fill_limit=True):
            return grid
    return None


def _on_grid(time: pd.Index, grid, fill_limit: bool = False) -> bool:
    """Every time lies on the grid (and, with ``fill_limit``, at most a third of it is missing)."""
    if isinstance(grid, float):
        offsets = (time.to_numpy(dtype=np.float64) - float(time[0])) / grid
        if not np.allclose(offsets, np.round(offsets), atol=1e-6):
            return False
        size = round(float(offsets[-1])) + 1
    else:
        full = pd.date_range(time[0], time[-1], freq=grid)
        if not (len(full) > 0 and full[0] == time[0] and time.isin(full).all()):
            return False
        size = len(full)
    return not fill_limit or size <= 1.5 * len(time)


def _full_grid(time: pd.Index, grid) -> pd.Index:
    if isinstance(grid, float):
        n = round((float(time[-1]) - float(time[0])) / grid) + 1
        full = float(time[0]) + grid * np.arange(n)
        if np.issubdtype(time.dtype, np.integer) and float(grid).is_integer():
            full = np.round(full).astype(time.dtype)
        return pd.Index(full)
    return pd.date_range(time[0], time[-1], freq=grid)


def missing_times(time: pd.Index, grid) -> pd.Index | None:
    if grid is None:
        return None
    full = _full_grid(time, grid)
    if isinstance(grid, float):
        known = np.round(
            (time.to_numpy(dtype=np.float64) - float(time[0])) / grid
        ).astype(int)
        mask = np.ones(len(full), dtype=bool)
        mask[known] = False
        return full[mask]
    return full.difference(time)


def freq_name(grid) -> str | float | None:
    if grid is None or isinstance(grid, float):
        return grid
    return grid.freqstr


# --------------------------------------------------------------------------- missing data


def report_missing(empty, gaps, time, lines, names, path) -> None:
    if empty.any():
        rows = np.flatnonzero(empty.any(axis=1))
        first = ", ".join(
            f"{int(lines[r])} ({', '.join(repr(names[c]) for c in np.flatnonzero(empty[r]))})"
            for r in rows[:_SHOW]
        )
        more = f" and {len(rows) - _SHOW} more" if len(rows) > _SHOW else ""
        raise DataError(
            f"empty cells at lines {first}{more} (data.missing=error; use data.missing=interpolate"
            " to fill them)",
            path,
            int(lines[rows[0]]),
        )
    if gaps is not None and len(gaps):
        after = (
            np.searchsorted(time, gaps[:_SHOW]) - 1
        )  # the row before each missing time
        first = ", ".join(
            f"{t} (after line {int(lines[i])})" for t, i in zip(gaps[:_SHOW], after)
        )
        more = f" and {len(gaps) - _SHOW} more" if len(gaps) > _SHOW else ""
        raise DataError(
            f"{len(gaps)} timestamp(s) missing from the regular series: {first}{more}"
            " (data.missing=error; use data.missing=interpolate to fill them)",
            path,
            int(lines[after[0] + 1]),
        )


_UNITS = {"D": "days", "B": "business days", "h": "hours", "H": "hours", "min": "minutes", "T": "minutes",
          "s": "seconds", "S": "seconds", "W": "weeks", "M": "months", "Q": "quarters", "Y": "years", "A": "years"}


def describe_filled(gaps, empty, time, lines, grid) -> str:
    """What interpolation is about to do, in words: ``4 missing days inserted (after lines 10, 31)
    and 2 empty cells filled (lines 7, 9), by linear interpolation in time``."""
    parts = []
    if gaps is not None and len(gaps):
        unit = "steps"
        if grid is not None and not isinstance(grid, float):
            name = grid.freqstr.split("-")[0].lstrip("0123456789")
            unit = _UNITS.get(name, _UNITS.get(name.rstrip("SE"), "timestamps"))
        after = list(dict.fromkeys((np.searchsorted(time, gaps[:_SHOW]) - 1).tolist()))  # one line per gap
        shown = ", ".join(str(int(lines[i])) for i in after)
        parts.append(f"{len(gaps)} missing {unit} inserted (after line{'s' if len(after) > 1 else ''} {shown}"
                     f"{' ...' if len(gaps) > _SHOW else ''})")
    rows = np.flatnonzero(empty.any(axis=1))
    if rows.size:
        shown = ", ".join(str(int(lines[r])) for r in rows[:_SHOW])
        parts.append(f"{int(empty.sum())} empty cell{'s' if empty.sum() > 1 else ''} filled "
                     f"(line{'s' if rows.size > 1 else ''} {shown}{' ...' if rows.size > _SHOW else ''})")
    return " and ".join(parts) + " by linear interpolation in time (data.missing=interpolate)"


def interpolate_gaps(time, values, lines, grid, names, path):
    """Insert the grid's missing times, then fill NaN linearly in time (edges: nearest value)."""
    frame = pd.DataFrame(values, index=time, columns=range(values.shape[1]))
    for c in np.flatnonzero(np.isnan(values).all(axis=0)):
        raise DataError(f"column {names[c]!r} has no value at all", path)
    line_of = pd.Series(lines, index=time)
    if grid is not None:
        full = _full_grid(time, grid)
        frame = frame.reindex(full)
        line_of = line_of.reindex(full, fill_value=0)
    method = "time" if isinstance(frame.index, pd.DatetimeIndex) else "index"
    frame = frame.interpolate(method=method, limit_direction="both")
    return (
        frame.index,
        frame.to_numpy(dtype=np.float64),
        line_of.to_numpy(dtype=np.int64),
    )


# --------------------------------------------------------------------------- calendar


def _step(time: pd.Index, freq=None) -> pd.Timedelta | None:
    """The typical time step: from ``freq`` if given, else the median difference."""
    if freq is not None and not isinstance(freq, (int, float)):
        probe = pd.date_range("2001-01-01", periods=2, freq=to_offset(freq))
        return probe[1] - probe[0]
    if len(time) < 2:
        return None
    return pd.Timedelta(int(np.median(np.diff(time.as_unit("ns").asi8)))).round("s")


def _calendar_parts(time: pd.Index, freq=None) -> list[tuple[str, np.ndarray, float]]:
    """(name, value, period) of each cyclic feature suited to the step."""
    if not isinstance(time, pd.DatetimeIndex):
        return []
    step = _step(time, freq)
    if step is None:
        return []
    day = pd.Timedelta(days=1)
    days_in_year = np.where(time.is_leap_year, 366.0, 365.0)
    hour = np.asarray(time.hour + time.minute / 60.0, dtype=float)
    dow = np.asarray(time.dayofweek, dtype=float)
    doy = (
        np.asarray(time.dayofyear - 1, dtype=float) / days_in_year
    )  # fraction of the year
    month = np.asarray(time.month - 1, dtype=float)
    quarter = np.asarray(time.quarter - 1, dtype=float)
    if step < day:
        return [
            ("hour", hour, 24.0),
            ("day_of_week", dow, 7.0),
            ("day_of_year", doy, 1.0),
        ]
    if step < pd.Timedelta(days=7):
        return [("day_of_week", dow, 7.0), ("day_of_year", doy, 1.0)]
    if step < pd.Timedelta(days=28):
        return [("day_of_year", doy, 1.0)]
    if step < pd.Timedelta(days=89):
        return [("month", month, 12.0)]
    if step < pd.Timedelta(days=365):
        return [("quarter", quarter, 4.0)]
    return []


def calendar_features(time: pd.Index, freq=None) -> np.ndarray:
    """Cyclic calendar features of each time, known in advance for future steps.

    Each feature with value ``v`` and period ``P`` gives two columns
    ``sin(2 pi v / P), cos(2 pi v / P)``, so that the end of a cycle lies next to its
    start (Sunday next to Monday, December next to January). The features follow the
    step (``freq`` if given, else the median time difference):

    =====================  ==========================================
    step                   features
    =====================  ==========================================
    under a day            hour of day, day of week, day of year
    a day to under a week  day of week, day of year
    a week to 27 days      day of year
    about a month          month of year
    about a quarter        quarter of year
    a year or more, or a   none (an (N, 0) array)
    numeric time
    =====================  ==========================================

    Args:
        time: (N,) the times (a DatetimeIndex; a numeric index gives no features).
        freq: the series' frequency, needed when ``time`` has fewer than two entries.

    Returns:
        (N, 2k) float64, columns named by :func:`calendar_feature_names`.
    """
    parts = _calendar_parts(time, freq)
    columns = []
    for _, value, period in parts:
        angle = 2.0 * np.pi * value / period
        columns += [np.sin(angle), np.cos(angle)]
    if not columns:
        return np.zeros((len(time), 0))
    return np.column_stack(columns)


def calendar_feature_names(time: pd.Index, freq=None) -> list[str]:
    """The column names of :func:`calendar_features` (``day_of_week_sin``, ...)."""
    return [
        f"{name}_{fn}"
        for name, _, _ in _calendar_parts(time, freq)
        for fn in ("sin", "cos")
    ]


def future_times(time: pd.Index, freq, horizon: int) -> pd.Index:
    """(horizon,) the ``horizon`` times after ``time[-1]`` on the grid ``freq``.

    Raises:
        ValueError: ``freq`` is None (an irregular series has no known future times).
    """
    if freq is None:
        raise ValueError(
            "an irregular series has no known future times (give data.freq)"
        )
    if not isinstance(time, pd.DatetimeIndex):
        return pd.Index(time[-1] + float(freq) * np.arange(1, horizon + 1))
    return pd.date_range(time[-1], periods=horizon + 1, freq=to_offset(freq))[1:]
