"""The forecaster's input: a :class:`Context` (a :class:`~lstmkit.data.formats.timeseries.Series` that may
end with future rows), read from a CSV, a pandas DataFrame or JSON.

A context has N rows in time order; ``values`` (N, T + C) hold the targets then the covariates
(``data.covariates`` then ``data.future_covariates``). Its last ``n_future`` rows (0 unless the
model has future covariates) are *future rows*: their targets are unknown (empty in the file) and
their future covariates are the planned values for the forecast steps::

    rows 0 .. N-n_future-1   history: every column known
    rows N-n_future .. N-1   future rows: only data.future_covariates (n_future = model.horizon)

Every source goes through the same checks as :func:`lstmkit.data.formats.timeseries.read_series` (times
parse and strictly increase, values are numbers, missing values interpolated or an error): a
DataFrame is checked cell by cell as its CSV would be, its row ``i`` (0-based) named ``line i+2``
as in the file ``DataFrame.to_csv`` writes; a JSON input is named ``input n``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.data.formats import timeseries as ts
from lstmkit.errors import DataError, DataWarning


@dataclass
class Context(ts.Series):
    """A series whose last ``n_future`` rows hold only future covariates (see the module docstring).

    ``series_id`` names the series in a panel (None for a lone series); ``static`` holds its
    static covariates (column -> the text of its one value)."""

    n_future: int = 0
    series_id: str | None = None
    static: dict = field(default_factory=dict)

    @property
    def n_history(self) -> int:
        """Rows whose targets are known."""
        return len(self) - self.n_future

    def rows(self, start: int, stop: int) -> Context:
        """Rows ``[start, stop)`` of the history, as a context without future rows."""
        start, stop = max(start, 0), min(stop, self.n_history)
        return replace(self, time=self.time[start:stop], values=self.values[start:stop],
                       lines=self.lines[start:stop], n_future=0)

    @property
    def label(self) -> str:
        """How errors name this series: ``file (series 'a')``, the file, or ``the input``."""
        where = str(self.path) if self.path is not None else "the input"
        return where if self.series_id is None else f"{where} (series {self.series_id!r})"


def as_context(series: ts.Series, n_future: int = 0) -> Context:
    if isinstance(series, Context) and series.n_future == n_future:
        return series
    return Context(time=series.time, values=series.values, columns=list(series.columns),
                   n_targets=series.n_targets, freq=series.freq, lines=series.lines, path=series.path,
                   n_future=n_future, series_id=getattr(series, "series_id", None),
                   static=dict(getattr(series, "static", {})))


def read_context(path, data, future_rows: int = 0) -> Context:
    """Read a one-series forecasting CSV with the settings ``data`` (a :class:`ForecastDataConfig`).

    With ``future_rows`` > 0 (a model with future covariates, at prediction time) the file must
    end with exactly that many rows whose target cells are all empty: the forecast steps.
    """
    path = Path(path)
    names = [*data.covariates, *data.future_covariates]
    ts.check_options(data.time_column, data.target, names, data.missing)
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a file", path)
    header, rows, lines = ts.read_records(path, "\t" if path.suffix.lower() == ".tsv" else ",")
    options = ([(data.time_column, "data.time_column")] + [(c, "data.target") for c in data.target]
               + [(c, "data.covariates") for c in names])
    for column, option in options:
        if column not in header:
            raise DataError(f"no column {column!r} ({option}); the columns are: " + ", ".join(map(repr, header)),
                            path, 1)
    if len(rows) < 2:
        raise DataError(f"{len(rows)} rows of data, at least 2 needed", path)
    cells = {c: [r[header.index(c)] for r in rows] for c, _ in options}
    return context_from_cells(cells, lines, data, str(path), path, future_rows=future_rows, freq=data.freq,
                              hint=_SEVERAL_SERIES_HINT if not data.id_column else "")


_SEVERAL_SERIES_HINT = (" (sort the file by time and drop duplicates; if it holds several series, one after "
                        "another, name the column that tells them apart: data.id_column=NAME)")


def context_from_cells(cells: dict[str, list[str]], lines: np.ndarray, data, where: str, path: Path | None,
                       future_rows: int = 0, freq=None, series_id: str | None = None, static: dict | None = None,
                       hint: str = "", time: pd.Index | None = None) -> Context:
    """One series' text cells (column -> N cells, as in the file; ``lines`` their 1-based lines) ->
    a checked :class:`Context`: times parse and strictly increase, values are numbers, the last
    ``future_rows`` rows (and only they) have empty targets, gaps and empty cells are interpolated
    (with a :class:`~lstmkit.errors.DataWarning` saying so) or, with ``data.missing=error``, an
    error naming the lines. Errors name ``where`` (the file, or ``file (series 'a')``). ``time``: the
    time cells already parsed (:func:`lstmkit.data.formats.timeseries.parse_time`), when the caller has them."""
    names = [*data.target, *data.covariates, *data.future_covariates]
    if time is None:
        time = ts.parse_time(cells[data.time_column], lines, data.time_column, where)
    ts.check_increasing(time, lines, where, hint)
    values = np.column_stack([ts.parse_numbers(cells[c], lines, c, where) for c in names])  # (N, C)
    if future_rows:
        known = ~np.isnan(values[:, : len(data.target)]).all(axis=1)
        trailing = len(known) - (np.flatnonzero(known)[-1] + 1 if known.any() else 0)
        if trailing != future_rows:
            raise DataError(f"the model forecasts with future covariates ({', '.join(data.future_covariates)}): "
                            f"the series must end with {future_rows} rows (model.horizon) whose targets are empty "
                            f"and whose future covariates are given; found {trailing}", where)
    grid = ts.regular_grid(time, freq, where)
    gaps = ts.missing_times(time, grid)
    empty = np.isnan(values)
    if future_rows:
        empty[len(values) - future_rows:, : len(data.target)] = False  # the forecast steps' targets
    if data.missing == "error":
        ts.report_missing(empty, gaps, time, lines, names, where)
    if (gaps is not None and len(gaps)) or empty.any():
        filled = ts.describe_filled(gaps, empty, time, lines, grid)
        # (future rows' targets: filled, never read)
        time, values, lines = ts.interpolate_gaps(time, values, lines, grid, names, where)
        warnings.warn(f"{where}: {filled}", DataWarning, stacklevel=3)
    return Context(time=time, values=values, columns=names, n_targets=len(data.target), freq=ts.freq_name(grid),
                   lines=lines, path=path, n_future=future_rows, series_id=series_id, static=dict(static or {}))


# --------------------------------------------------------------------------- frames and JSON


def cells_of_frame(column: pd.Series) -> list[str]:
    """A DataFrame column as the text cells its CSV would hold (missing values -> "")."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return ["" if pd.isna(v) else pd.Timestamp(v).isoformat() for v in column]
    return ["" if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v) for v in column]


def context_from_frame(frame: pd.DataFrame, data, name: str = "the DataFrame", future_rows: int = 0) -> Context:
    """A one-series DataFrame (as ``pandas.read_csv`` gives) -> a checked :class:`Context` (same checks
    as a file). A ``DatetimeIndex`` (or an index named ``data.time_column``) is taken as the time
    column when the frame has no such column."""
    frame = with_time_column(frame, data.time_column)
    names = [*data.target, *data.covariates, *data.future_covariates]
    for column, option in ([(data.time_column, "data.time_column")] + [(c, "data.target") for c in data.target]
                           + [(c, "data.covariates") for c in data.covariates]
                           + [(c, "data.future_covariates") for c in data.future_covariates]):
        if column not in frame.columns:
            raise DataError(f"no column {column!r} ({option}); the columns are: "
                            + ", ".join(map(repr, map(str, frame.columns))), name)
    if len(frame) < 2:
        raise DataError(f"{len(frame)} rows of data, at least 2 needed", name)
    cells = {c: cells_of_frame(frame[c]) for c in [data.time_column, *names]}
    return context_from_cells(cells, np.arange(2, len(frame) + 2, dtype=np.int64), data, name, None,
                              future_rows=future_rows, freq=data.freq)


def with_time_column(frame: pd.DataFrame, time_column: str) -> pd.DataFrame:
    """``frame`` with its index as the column ``time_column`` when it has no such column and the
    index holds the times (a ``DatetimeIndex``, or an index of that name)."""
    if time_column in frame.columns:
        return frame
    if isinstance(frame.index, pd.DatetimeIndex) or frame.index.name == time_column:
        frame = frame.copy()
        frame.insert(0, time_column, frame.index)
        return frame.reset_index(drop=True)
    return frame


def frame_from_json(item, n: int) -> pd.DataFrame:
    """One JSON forecasting context (``n``: its 1-based number in the request) -> a DataFrame.

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
                raise DataError(f"{where}, row {r + 1}: expected an object of column values, got "
                                f"{type(row).__name__}")
            if keys is None:
                keys = list(row)
            elif set(row) != set(keys):
                raise DataError(f"{where}, row {r + 1}: its keys differ from row 1's")
        columns = {k: [row[k] for row in item] for k in keys}
    else:
        raise DataError(f"{where}: expected a context: an object of columns or a list of row objects, "
                        f"got {type(item).__name__}")
    for key, column in columns.items():
        for r, value in enumerate(column):
            if value is not None and not isinstance(value, (int, float, str)) or isinstance(value, bool):
                raise DataError(f"{where}, row {r + 1}: column {key!r} holds a {type(value).__name__}, "
                                "not a number, a string or null")
    return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})


def times_json(times) -> list:
    """Forecast times as JSON: ISO dates (with the time of day when not midnight), numbers, or None."""
    if isinstance(times, pd.DatetimeIndex):
        if (times == times.normalize()).all():
            return list(times.strftime("%Y-%m-%d"))
        return [t.isoformat() for t in times]
    out = []
    for t in times:
        if t is None:
            out.append(None)
        else:
            t = float(t)
            out.append(int(t) if t.is_integer() else t)
    return out
