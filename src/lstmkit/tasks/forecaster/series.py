"""The forecaster's input: a :class:`Context` (a :class:`~lstmkit.data.timeseries.Series` that may
end with future rows), read from a CSV, a pandas DataFrame or JSON.

A context has N rows in time order; ``values`` (N, T + C) hold the targets then the covariates
(``data.covariates`` then ``data.future_covariates``). Its last ``n_future`` rows (0 unless the
model has future covariates) are *future rows*: their targets are unknown (empty in the file) and
their future covariates are the planned values for the forecast steps::

    rows 0 .. N-n_future-1   history: every column known
    rows N-n_future .. N-1   future rows: only data.future_covariates (n_future = model.horizon)

Every source goes through the same checks as :func:`lstmkit.data.timeseries.read_series` (times
parse and strictly increase, values are numbers, missing values interpolated or an error): a
DataFrame is checked cell by cell as its CSV would be, its row ``i`` (0-based) named ``line i+2``
as in the file ``DataFrame.to_csv`` writes; a JSON input is named ``input n``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.data import timeseries as ts
from lstmkit.data.readers import _decode
from lstmkit.errors import DataError


@dataclass
class Context(ts.Series):
    """A series whose last ``n_future`` rows hold only future covariates (see the module docstring)."""

    n_future: int = 0

    @property
    def n_history(self) -> int:
        """Rows whose targets are known."""
        return len(self) - self.n_future

    def rows(self, start: int, stop: int) -> Context:
        """Rows ``[start, stop)`` of the history, as a context without future rows."""
        start, stop = max(start, 0), min(stop, self.n_history)
        return replace(self, time=self.time[start:stop], values=self.values[start:stop],
                       lines=self.lines[start:stop], n_future=0)


def as_context(series: ts.Series, n_future: int = 0) -> Context:
    if isinstance(series, Context) and series.n_future == n_future:
        return series
    return Context(time=series.time, values=series.values, columns=list(series.columns),
                   n_targets=series.n_targets, freq=series.freq, lines=series.lines, path=series.path,
                   n_future=n_future)


def read_context(path, data, future_rows: int = 0) -> Context:
    """Read a forecasting CSV with the settings ``data`` (a :class:`ForecastDataConfig`).

    With ``future_rows`` > 0 (a model with future covariates, at prediction time) the file must
    end with exactly that many rows whose target cells are all empty: the forecast steps.
    """
    covariates = [*data.covariates, *data.future_covariates]
    kwargs = dict(time_column=data.time_column, targets=data.target, covariates=covariates, missing=data.missing,
                  freq=data.freq)
    if not future_rows:
        return as_context(ts.read_series(path, **kwargs))
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a file", path)
    trailing = _trailing_empty_targets(path, data)
    if trailing != future_rows:
        raise DataError(f"the model forecasts with future covariates ({', '.join(data.future_covariates)}): "
                        f"the file must end with {future_rows} rows (model.horizon) whose targets are empty "
                        f"and whose future covariates are given; found {trailing}", path)
    if data.missing == "error":  # the future rows' empty targets are expected; any other empty cell is not
        _check_complete(path, data, _count_rows(path, data) - future_rows)
    series = ts.read_series(path, **{**kwargs, "missing": "interpolate"})
    return as_context(series, future_rows)


def _raw_rows(path: Path, data) -> tuple[list[str], list[list[str]], list[int]]:
    reader = csv.reader(io.StringIO(_decode(path), newline=""), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
    header = [h.strip() for h in next(reader, [])]
    rows, lines = [], []
    while True:
        line = reader.line_num + 1
        row = next(reader, None)
        if row is None:
            break
        if row and any(c.strip() for c in row):
            rows.append(row)
            lines.append(line)
    return header, rows, lines


def _count_rows(path: Path, data) -> int:
    return len(_raw_rows(path, data)[1])


def _trailing_empty_targets(path: Path, data) -> int:
    header, rows, _ = _raw_rows(path, data)
    idx = [header.index(c) for c in data.target if c in header]
    n = 0
    for row in reversed(rows):
        if all(i < len(row) and row[i].strip().lower() in ts.MISSING_TOKENS for i in idx):
            n += 1
        else:
            break
    return n


def _check_complete(path: Path, data, n_history: int) -> None:
    """``data.missing=error``: no empty cell in the history rows, none in the future covariates."""
    header, rows, lines = _raw_rows(path, data)
    for r, (row, line) in enumerate(zip(rows, lines)):
        columns = [*data.future_covariates] if r >= n_history else [*data.target, *data.covariates,
                                                                     *data.future_covariates]
        for c in columns:
            if c in header and row[header.index(c)].strip().lower() in ts.MISSING_TOKENS:
                raise DataError(f"empty cell in column {c!r} (data.missing=error; use data.missing=interpolate "
                                "to fill it)", path, line)


# --------------------------------------------------------------------------- frames and JSON


def _cells(column: pd.Series) -> list[str]:
    """A DataFrame column as the text cells its CSV would hold (missing values -> "")."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return ["" if pd.isna(v) else pd.Timestamp(v).isoformat() for v in column]
    return ["" if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v) for v in column]


def context_from_frame(frame: pd.DataFrame, data, name: str = "the DataFrame", future_rows: int = 0) -> Context:
    """A DataFrame (as ``pandas.read_csv`` gives) -> a checked :class:`Context` (same checks as a file)."""
    covariates = [*data.covariates, *data.future_covariates]
    names = [*data.target, *covariates]
    for column, option in ([(data.time_column, "data.time_column")] + [(c, "data.target") for c in data.target]
                           + [(c, "data.covariates") for c in data.covariates]
                           + [(c, "data.future_covariates") for c in data.future_covariates]):
        if column not in frame.columns:
            raise DataError(f"no column {column!r} ({option}); the columns are: "
                            + ", ".join(map(repr, map(str, frame.columns))), name)
    if len(frame) < 2:
        raise DataError(f"{len(frame)} rows of data, at least 2 needed", name)
    lines = np.arange(2, len(frame) + 2, dtype=np.int64)
    time = ts._parse_time(_cells(frame[data.time_column]), lines, data.time_column, name)
    ts._check_increasing(time, lines, name)
    values = np.column_stack([ts._parse_numbers(_cells(frame[c]), lines, c, name) for c in names])
    if future_rows:
        known = ~np.isnan(values[:, : len(data.target)]).all(axis=1)
        trailing = len(known) - (np.flatnonzero(known)[-1] + 1 if known.any() else 0)
        if trailing != future_rows:
            raise DataError(f"the model forecasts with future covariates: the last {future_rows} rows must have "
                            f"empty targets and given future covariates; found {trailing}", name)
    grid = ts._regular_grid(time, data.freq, name)
    gaps = ts._missing_times(time, grid)
    empty = np.isnan(values)
    if future_rows:
        empty[len(values) - future_rows:, : len(data.target)] = False
    if data.missing == "error":
        ts._report_missing(empty, gaps, time, lines, names, name)
    if (gaps is not None and len(gaps)) or np.isnan(values).any():
        time, values, lines = ts._interpolate(time, values, lines, grid, names, name)
    return Context(time=time, values=values, columns=names, n_targets=len(data.target), freq=ts._freq_name(grid),
                   lines=lines, path=None, n_future=future_rows)


def frame_from_json(item, n: int) -> pd.DataFrame:
    """One JSON forecasting context -> a DataFrame.

    Either columns, ``{"date": [...], "temp_max": [...], ...}`` (lists of equal length), or rows,
    ``[{"date": ..., "temp_max": ...}, ...]`` (objects with the same keys). Values are JSON numbers,
    strings or null (missing).
    """
    where = f"input {n}"
    if isinstance(item, dict):
        if not item:
            raise DataError(f"{where}: an empty object; give the context's columns as lists")
        lengths = set()
        for key, column in item.items():
            if not isinstance(column, list):
                raise DataError(f"{where}: column {key!r} must be a list of values, got {type(column).__name__}")
            lengths.add(len(column))
        if len(lengths) != 1:
            raise DataError(f"{where}: the columns differ in length ({', '.join(map(str, sorted(lengths)))})")
        columns = item
    elif isinstance(item, list):
        if not item:
            raise DataError(f"{where}: an empty list of rows")
        keys = None
        for r, row in enumerate(item):
            if not isinstance(row, dict):
                raise DataError(f"{where}, row {r}: expected an object of column values, got {type(row).__name__}")
            if keys is None:
                keys = list(row)
            elif set(row) != set(keys):
                raise DataError(f"{where}, row {r}: its keys differ from row 0's")
        columns = {k: [row[k] for row in item] for k in keys}
    else:
        raise DataError(f"{where}: expected a context: an object of columns or a list of row objects, "
                        f"got {type(item).__name__}")
    for key, column in columns.items():
        for r, value in enumerate(column):
            if value is not None and not isinstance(value, (int, float, str)) or isinstance(value, bool):
                raise DataError(f"{where}, row {r}: column {key!r} holds a {type(value).__name__}, "
                                "not a number, a string or null")
    return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})
