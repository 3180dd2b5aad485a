"""Many series in one input: long files, DataFrames with an id column, dicts and lists of frames.

A *panel* is a list of :class:`~lstmkit.tasks.forecaster.series.Context`, one per series, each
with its ``series_id`` and its ``static`` covariates. A long file (``data.id_column=store``) holds
one row per series and time::

    store,date,sales,price,region        id column, time, target(s), covariates, static covariates
    a,2021-01-01,12,1.5,north            rows of one series in time order; series may start, end
    a,2021-01-02,15,1.5,north            and have gaps at different times, and differ in length
    b,2021-01-03,7,2.0,south

Each series goes through the checks of a one-series file (:func:`context_from_cells`: times parse
and increase, numbers are numbers, gaps interpolated or an error) and errors name the series:
``data.csv (series 'b'), line 4: ...``. Static covariates must be constant within a series.

All series share one grid: ``data.freq``, else the most common step that pandas infers over the
series (a series too short to infer its own must lie on it).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.data.formats import timeseries as ts
from lstmkit.errors import DataError
from lstmkit.tasks.forecaster.series import Context, cells_of_frame, context_from_cells

__all__ = ["contexts_from_frame", "read_panel"]


def read_panel(path, data, future_rows: int = 0) -> list[Context]:
    """A long forecasting file (``data.id_column`` set) -> one :class:`Context` per series, in the
    order in which the series first appear."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a file", path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    header, rows, lines = ts.read_records(path, delimiter)
    for column, option in _options(data):
        if column not in header:
            raise DataError(f"no column {column!r} ({option}); the columns are: " + ", ".join(map(repr, header)),
                            path, 1)
    if not rows:
        raise DataError("no rows of data", path)
    cells = {c: [r[header.index(c)] for r in rows] for c, _ in _options(data)}
    return split_series(cells, lines, data, str(path), path, future_rows)


def contexts_from_frame(frame: pd.DataFrame, data, name: str = "the DataFrame", future_rows: int = 0) -> list[Context]:
    """A long DataFrame with the ``data.id_column`` -> one :class:`Context` per series (rows named
    ``line i+2`` as in the file ``DataFrame.to_csv`` writes)."""
    for column, option in _options(data):
        if column not in frame.columns:
            raise DataError(f"no column {column!r} ({option}); the columns are: "
                            + ", ".join(map(repr, map(str, frame.columns))), name)
    if not len(frame):
        raise DataError("no rows of data", name)
    cells = {c: cells_of_frame(frame[c]) for c, _ in _options(data)}
    return split_series(cells, np.arange(2, len(frame) + 2, dtype=np.int64), data, name, None, future_rows)


def split_series(cells: dict[str, list[str]], lines: np.ndarray, data, where: str, path: Path | None,
                 future_rows: int = 0) -> list[Context]:
    """Text cells of a long table (column -> N cells) -> a checked context per series."""
    ids = [c.strip() for c in cells[data.id_column]]
    groups: dict[str, list[int]] = {}
    for i, sid in enumerate(ids):
        if not sid:
            raise DataError(f"empty series id in column {data.id_column!r} (data.id_column)", where, int(lines[i]))
        groups.setdefault(sid, []).append(i)
    freq = data.freq
    parts = {}
    for sid, rows in groups.items():
        part = {c: [column[i] for i in rows] for c, column in cells.items()}
        parts[sid] = (part, lines[rows], f"{where} (series {sid!r})")
    times = {sid: ts.parse_time(p[data.time_column], ln, data.time_column, label)  # once per series
             for sid, (p, ln, label) in parts.items()}
    if freq is None:
        freq = common_freq(times)
    out = []
    for sid, (part, part_lines, label) in parts.items():
        static = _static_values(part, part_lines, data, label)
        out.append(context_from_cells(part, part_lines, data, label, path, future_rows=future_rows, freq=freq,
                                      series_id=sid, static=static, time=times[sid]))
    return out


def common_freq(times: dict[str, pd.Index]) -> str | float | None:
    """The grid most series lie on: the most common frequency inferred over the series (None when no
    series has one)."""
    found: Counter = Counter()
    for time in times.values():
        if len(time) >= 3 and ts.is_increasing(time):
            grid = ts.regular_grid(time, None, None)
            if grid is not None:
                found[ts.freq_name(grid)] += 1
    return found.most_common(1)[0][0] if found else None


def _options(data) -> list[tuple[str, str]]:
    return ([(data.id_column, "data.id_column"), (data.time_column, "data.time_column")]
            + [(c, "data.target") for c in data.target] + [(c, "data.covariates") for c in data.covariates]
            + [(c, "data.future_covariates") for c in data.future_covariates]
            + [(c, "data.static_covariates") for c in data.static_covariates])


def _static_values(cells: dict[str, list[str]], lines: np.ndarray, data, where: str) -> dict[str, str]:
    """Each static covariate's one value in this series (as text); a second value is an error."""
    static = {}
    for column in data.static_covariates:
        values = [c.strip() for c in cells[column]]
        known = [(v, i) for i, v in enumerate(values) if v.lower() not in ts.MISSING_TOKENS]
        if not known:
            raise DataError(f"static covariate {column!r} is empty in every row of the series", where)
        first = known[0][0]
        for value, i in known:
            if value != first:
                raise DataError(f"static covariate {column!r} changes within the series ({first!r} at line "
                                f"{int(lines[known[0][1]])}, {value!r} here): it must be constant per series",
                                where, int(lines[i]))
        static[column] = first
    return static
