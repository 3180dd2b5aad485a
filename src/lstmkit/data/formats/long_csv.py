"""Long-format CSV for sequence data: one row per time step, many rows per sequence.

::

    sequence_id,f1,f2,label          <- line 1, the header
    a,0.5,1.0,walk                   <- sequence "a", step 1
    a,0.6,1.1,walk                   <- sequence "a", step 2
    b,0.1,0.0,run                    <- sequence "b", step 1

Columns: ``sequence_id`` (any text), the feature columns (numbers; by default every column
that is not the id, the label or the time column, in header order), ``label`` and,
optionally, a time column.

Row order (the rule lstmkit applies):

* Without a time column, the rows of a sequence are its steps **in file order** and must be
  **contiguous**: an id that comes back after another sequence started is an error naming
  the line where it reappears (a sorting accident would otherwise split or merge sequences
  silently).
* With ``time_column``, the rows may come in any order (e.g. several sensors' logs
  interleaved): each sequence's rows are gathered and **sorted by time**; the same time twice
  within one sequence is an error. Times are numbers or dates (anything
  :func:`pandas.to_datetime` reads); the time column is not a feature.

Sequences come out in the order their first row appears in the file.

Labels: with ``label_per_step=False`` a sequence has one label, and every row must repeat it
(the error names the line where it changes). With ``label_per_step=True`` every row carries
its own target (a class, or a number for regression, as text): a weather model that
predicts a value for every day.

Any bad cell is a :class:`~lstmkit.errors.DataError` naming the file, the CSV line (the
header is line 1; a quoted field spanning lines is counted exactly) and the column.
Missing values are not accepted (an empty cell is an error): fill them first.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.data.formats.tables import Labels, decode_text
from lstmkit.errors import DataError
from lstmkit.files import atomic_write

__all__ = ["LongData", "read_long", "read_long_csv", "read_long_frame", "write_long_csv"]

_PANDAS_LINE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass
class LongData:
    """What a long table holds, sequence by sequence (in the order their first row appears).

    Attributes:
        sequences: one float32 array ``(T_i, F)`` per sequence.
        targets: None without a label column; else a :class:`~lstmkit.data.formats.tables.Labels` of one
            string per sequence, or (``label_per_step``) one list of ``T_i`` strings per sequence.
        ids: the sequence ids (strings).
        features: the ``F`` feature column names, in order.
        rows: per sequence, the ``(T_i,)`` int64 positions of its steps' rows among the table's
            data rows (blank lines left out; 0 is the first), so results per step can be written
            back in the input's own row order.
        times: per sequence, its steps' time cells as written (``time_column``), else None.
    """

    sequences: list[np.ndarray]
    targets: Labels | None
    ids: list[str]
    features: list[str]
    rows: list[np.ndarray]
    times: list[list[str]] | None


def read_long_csv(
    path: str | Path,
    id_column: str = "sequence_id",
    label_column: str | None = "label",
    feature_columns: Sequence[str] | None = None,
    time_column: str | None = None,
    label_per_step: bool = False,
    return_ids: bool = False,
):
    """Read sequences from a long CSV (``.tsv``: tab-separated).

    Args:
        path: the file.
        id_column: the column naming the sequence each row belongs to.
        label_column: the label (target) column; None reads no labels (data to predict).
        feature_columns: the feature columns, in this order; None: every other column, in
            header order.
        time_column: optional column to sort each sequence's rows by (see the module
            docstring for the row-order rule).
        label_per_step: one target per row instead of one label per sequence.
        return_ids: also return the sequence ids.

    Returns:
        ``(sequences, targets)`` or, with ``return_ids``, ``(sequences, targets, ids)``:

        * ``sequences``: one float32 array ``(T_i, F)`` per sequence;
        * ``targets``: None without ``label_column``; else a
          :class:`~lstmkit.data.formats.tables.Labels` (knowing each sequence's file and first
          line) of one string per sequence, or, with ``label_per_step``, of one list of
          ``T_i`` strings per sequence (in time order);
        * ``ids``: the sequence ids (strings).

        :func:`read_long` gives all of it, with the feature names and each step's row.

    Raises:
        DataError: naming the file, line and column of the first problem.
    """
    data = read_long(path, id_column, label_column, feature_columns, time_column, label_per_step)
    return (data.sequences, data.targets, data.ids) if return_ids else (data.sequences, data.targets)


def read_long(
    path: str | Path,
    id_column: str = "sequence_id",
    label_column: str | None = "label",
    feature_columns: Sequence[str] | None = None,
    time_column: str | None = None,
    label_per_step: bool = False,
) -> LongData:
    """:func:`read_long_csv`, returning everything the file says as a :class:`LongData`."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path)
    if path.is_dir():
        raise DataError("is a folder, expected a CSV file", path)
    text = decode_text(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    header = _header(text, delimiter, path)
    frame = _read_frame(text, delimiter, path)
    lines = _line_numbers(frame, text)  # (N,) CSV line of each row
    return _sequences_of(frame, header, lines, path, id_column, label_column, feature_columns, time_column,
                         label_per_step)


FRAME = "the DataFrame"
"""How errors name a DataFrame given to :func:`read_long_frame` (its rows are numbered from 1)."""


def read_long_frame(
    frame: pd.DataFrame,
    id_column: str = "sequence_id",
    label_column: str | None = "label",
    feature_columns: Sequence[str] | None = None,
    time_column: str | None = None,
    label_per_step: bool = False,
) -> LongData:
    """The sequences of a long pandas DataFrame (one row per step), by the rules of a long CSV.

    Cells may be numbers or text; a missing cell (NaN, None) is an empty one. The checks and
    errors are those of :func:`read_long_csv`, naming the row (``the DataFrame, row 3: ...``,
    counted from 1 in the frame's order) instead of a file's line.
    """
    header = [str(c).strip() for c in frame.columns]
    if len(set(header)) != len(header):
        twice = next(c for c in header if header.count(c) > 1)
        raise DataError(f"column {twice!r} appears twice", FRAME)
    try:
        _columns(header, id_column, label_column, feature_columns, time_column, FRAME)
    except DataError as error:  # a CSV's header is its line 1; a DataFrame's columns have no row
        raise DataError(str(error).replace(f"{FRAME}, line 1: ", f"{FRAME}: ")) from None
    cells = frame.astype(object).where(frame.notna(), "").astype(str)  # every cell as text, '' if missing
    cells.columns = header
    cells = cells.reset_index(drop=True)
    rows = np.arange(1, len(cells) + 1, dtype=np.int64)
    try:
        return _sequences_of(cells, header, rows, FRAME, id_column, label_column, feature_columns, time_column,
                             label_per_step)
    except DataError as error:  # "the DataFrame, line 3: ... (line 2)" -> "the DataFrame, row 3: ... (row 2)"
        raise DataError(re.sub(r"\bline (\d+)", r"row \1", str(error))) from None


def _sequences_of(frame: pd.DataFrame, header: list[str], lines: np.ndarray, path, id_column: str,
                  label_column: str | None, feature_columns: Sequence[str] | None, time_column: str | None,
                  label_per_step: bool) -> LongData:
    """The sequences of a table of text cells (``frame``, its column names ``header``); ``lines``
    ``(N,)`` names each row in errors, ``path`` the table."""
    features = _columns(header, id_column, label_column, feature_columns, time_column, path)
    blank = (frame.apply(lambda c: c.str.strip()) == "").all(axis=1).to_numpy()
    frame, lines = frame.loc[~blank].reset_index(drop=True), lines[~blank]
    if frame.empty:
        raise DataError("no data rows after the header", path)

    ids = _non_empty(frame[id_column], id_column, lines, path)
    labels = _non_empty(frame[label_column], label_column, lines, path) if label_column else None
    values = _numbers(frame, features, lines, path)  # (N, F) float32

    codes, unique_ids = pd.factorize(ids)  # sequence index of each row, in first-appearance order
    if time_column is None:
        _check_contiguous(ids, codes, lines, path)
        order = np.arange(len(ids))
    else:
        times = _times(frame[time_column], time_column, lines, path)
        order = np.lexsort((times, codes))  # by sequence, then by time; stable
        _check_unique_times(ids, codes, times, order, lines, time_column, path)
    if labels is not None and not label_per_step:
        _check_constant_labels(ids, codes, labels, lines, label_column, path)

    bounds = np.flatnonzero(np.diff(codes[order])) + 1  # where the next sequence starts
    sequences = np.split(values[order], bounds)  # each (T_i, F)
    first_rows = np.unique(codes, return_index=True)[1]  # file-order first row of each sequence
    targets = None
    if labels is not None:
        if label_per_step:
            items = [list(part) for part in np.split(labels[order], bounds)]
        else:
            items = [str(labels[i]) for i in first_rows]
        targets = Labels(items, [(path, int(lines[i])) for i in first_rows])
    time_cells = None
    if time_column is not None:
        time_cells = [list(part) for part in np.split(frame[time_column].str.strip().to_numpy(dtype=object)[order],
                                                      bounds)]
    return LongData(sequences=sequences, targets=targets, ids=[str(i) for i in unique_ids], features=features,
                    rows=np.split(order.astype(np.int64), bounds), times=time_cells)


def write_long_csv(
    path: str | Path,
    sequences: Sequence[np.ndarray],
    targets: Sequence | None = None,
    ids: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    id_column: str = "sequence_id",
    label_column: str = "label",
    time_column: str | None = None,
) -> Path:
    """Write sequences as a long CSV that :func:`read_long_csv` reads back exactly.

    Args:
        path: the file to write (atomically, with the umask's mode).
        sequences: arrays ``(T_i, F)``, the same ``F`` for all.
        targets: None, one label per sequence, or one list of ``T_i`` targets per sequence.
        ids: the sequence ids; default ``"0"``, ``"1"``, ...
        feature_names: ``F`` column names; default ``f0 .. f{F-1}``.
        time_column: if given, a column with the step number ``0 .. T_i-1``.

    float32 values are written in their shortest form that reads back to the same float32.
    Returns ``path``.
    """
    path = Path(path)
    arrays = [np.asarray(s) for s in sequences]
    if not arrays:
        raise ValueError("write_long_csv: no sequences")
    if any(a.ndim != 2 for a in arrays) or len({a.shape[1] for a in arrays}) != 1:
        raise ValueError("write_long_csv: every sequence must be (T_i, F) with the same F")
    n_features = arrays[0].shape[1]
    ids = [str(i) for i in (ids if ids is not None else range(len(arrays)))]
    names = (
        list(feature_names) if feature_names is not None else [f"f{j}" for j in range(n_features)]
    )
    if len(ids) != len(arrays) or len(set(ids)) != len(ids):
        raise ValueError("write_long_csv: need one unique id per sequence")
    if len(names) != n_features:
        raise ValueError(f"write_long_csv: {len(names)} feature names for {n_features} features")
    extra = (
        [id_column]
        + ([time_column] if time_column else [])
        + ([label_column] if targets is not None else [])
    )
    if len(set(names + extra)) != len(names) + len(extra):
        raise ValueError("write_long_csv: column names must be distinct")
    flat_targets = [] if targets is None else [
        str(v) for t in targets for v in (t if isinstance(t, (list, tuple, np.ndarray)) else [t])]
    if any("\x00" in text for text in ids + names + extra + flat_targets):
        raise ValueError("write_long_csv: ids, names and labels cannot hold NUL characters (pandas would cut them)")

    lengths = [len(a) for a in arrays]
    columns: dict[str, object] = {id_column: np.repeat(ids, lengths)}
    if time_column:
        columns[time_column] = np.concatenate([np.arange(n) for n in lengths])
    stacked = np.concatenate(arrays)  # (sum T_i, F)
    for j, name in enumerate(names):
        columns[name] = stacked[:, j]
    if targets is not None:
        if len(targets) != len(arrays):
            raise ValueError("write_long_csv: need one target (or list of targets) per sequence")
        per_step = [isinstance(t, (list, tuple, np.ndarray)) for t in targets]
        if any(per_step) and not all(per_step):
            raise ValueError("write_long_csv: targets must be all per-sequence or all per-step")
        if all(per_step):
            if any(len(t) != n for t, n in zip(targets, lengths)):
                raise ValueError("write_long_csv: per-step targets must have one value per step")
            columns[label_column] = [str(v) for t in targets for v in t]
        else:
            columns[label_column] = np.repeat([str(t) for t in targets], lengths)
    frame = pd.DataFrame(columns)

    # the csv module quotes only the line terminator's characters, so a lone \r in a text cell
    # would be written bare and read back as a line break: quote every text cell then
    text_cells = (frame[c] for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c]))
    has_cr = any(column.astype(str).str.contains("\r", regex=False).any() for column in text_cells)
    quoting = csv.QUOTE_NONNUMERIC if has_cr else csv.QUOTE_MINIMAL

    def write(tmp: Path) -> None:
        frame.to_csv(tmp, index=False, lineterminator="\n", quoting=quoting)

    return atomic_write(path, write)


# --------------------------------------------------------------------------- reading steps


def _header(text: str, delimiter: str, path: Path) -> list[str]:
    try:
        first = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), None)
    except csv.Error as err:
        raise DataError(f"malformed header: {err}", path, 1) from None
    if not first or not any(name.strip() for name in first):
        raise DataError("file is empty (expected a header line naming the columns)", path, 1)
    header = [name.strip() for name in first]
    seen = set()
    for name in header:
        if not name:
            raise DataError("a column without a name in the header", path, 1)
        if name in seen:
            raise DataError(f"column {name!r} appears twice in the header", path, 1)
        seen.add(name)
    return header


def _read_frame(text: str, delimiter: str, path: Path) -> pd.DataFrame:
    """Every cell as text ('' for an empty or absent cell), blank lines kept as rows."""
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
        )
    except pd.errors.ParserError as err:
        match = _PANDAS_LINE.search(str(err))
        if match:
            expected, line, saw = match.groups()
            raise DataError(
                f"expected {expected} fields as in the header, found {saw}", path, int(line)
            ) from None
        raise DataError(f"malformed CSV: {err}", path) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _line_numbers(frame: pd.DataFrame, text: str) -> np.ndarray:
    """The CSV line where each row starts: header is line 1, so row ``i`` is on line ``i + 2``
    plus the line breaks inside quoted fields of the rows before it."""
    base = np.arange(len(frame), dtype=np.int64) + 2
    if '"' not in text:  # no quoting, so no line break inside a field: one row per line
        return base
    breaks = sum(frame[c].str.count("\n").to_numpy() for c in frame.columns)
    return base + np.concatenate([[0], np.cumsum(breaks)[:-1]]).astype(np.int64)


def _columns(header, id_column, label_column, feature_columns, time_column, path) -> list[str]:
    """Check the named columns exist; return the feature columns."""
    special = [c for c in (id_column, label_column, time_column) if c is not None]
    if len(set(special)) != len(special):
        raise DataError(f"the id, label and time columns must differ: {special}", path, 1)
    if feature_columns is None:
        features = [c for c in header if c not in special]
    else:
        features = list(feature_columns)
        clash = [c for c in features if c in special]
        if clash:
            raise DataError(
                f"column {clash[0]!r} cannot be both a feature and the id/label/time", path, 1
            )
    for column in special + features:
        if column not in header:
            raise DataError(
                f"no column {column!r} (columns: {', '.join(map(repr, header))})", path, 1
            )
    if not features:
        raise DataError(
            "no feature columns (every column is the id, the label or the time)", path, 1
        )
    return features


def _non_empty(column: pd.Series, name: str, lines: np.ndarray, path: Path) -> np.ndarray:
    values = column.str.strip().to_numpy(dtype=object)
    empty = np.flatnonzero(values == "")
    if empty.size:
        raise DataError(f"empty value in column {name!r}", path, int(lines[empty[0]]))
    return values


def _numbers(frame: pd.DataFrame, features: list[str], lines: np.ndarray, path: Path) -> np.ndarray:
    """The feature cells as float32 ``(N, F)``; the first bad cell (by line, then column)
    is an error."""
    values = np.empty((len(frame), len(features)), dtype=np.float32)
    first_bad: tuple[int, int] | None = None  # (row, feature index)
    for j, name in enumerate(features):
        numbers = np.array([_float(cell) for cell in frame[name].str.strip()], dtype=np.float64)
        with np.errstate(over="ignore"):  # too large for float32 (inf): reported below
            values[:, j] = numbers
        bad = np.flatnonzero(~np.isfinite(values[:, j]))
        if bad.size and (first_bad is None or bad[0] < first_bad[0]):
            first_bad = (int(bad[0]), j)
    if first_bad is not None:
        row, j = first_bad
        cell = frame[features[j]].iloc[row].strip()
        what = (
            f"{cell!r} is too large (beyond float32's {_FLOAT32_MAX:.4g})"
            if math.isfinite(_float(cell))
            else f"{cell!r} is not a number"
            if cell
            else "empty value (missing values are not supported)"
        )
        raise DataError(f"column {features[j]!r}: {what}", path, int(lines[row]))
    return values


def _float(text: str) -> float:
    """``text`` as the nearest float (Python's float() rounds correctly; pd.to_numeric can be
    1 ulp off), or NaN when it is not a plain number (``1_000`` is not)."""
    try:
        return math.nan if "_" in text else float(text)
    except ValueError:
        return math.nan


def _times(column: pd.Series, name: str, lines: np.ndarray, path: Path) -> np.ndarray:
    """Times as sortable numbers: numbers as they are, dates as nanoseconds. The first
    cell decides which: a number makes it a numeric column, anything else a date column."""
    text = column.str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    if pd.notna(numbers.iloc[0]):
        parsed, kind, out = (
            numbers,
            "a number (as the first time is)",
            numbers.to_numpy(dtype=np.float64),
        )
    else:
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        kind, out = "a date (as the first time is)", None
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if bad.size:
        cell = text.iloc[bad[0]]
        what = f"{cell!r} is not {kind}" if cell else "empty time"
        raise DataError(f"column {name!r}: {what}", path, int(lines[bad[0]]))
    return out if out is not None else parsed.astype("int64").to_numpy()


def _check_contiguous(ids: np.ndarray, codes: np.ndarray, lines: np.ndarray, path: Path) -> None:
    """Without a time column each sequence's rows must be together."""
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])  # first row of each run
    again = pd.Series(codes[starts]).duplicated().to_numpy()
    if again.any():
        row = starts[np.argmax(again)]
        previous_end = np.flatnonzero(codes[:row] == codes[row])[-1]
        raise DataError(
            f"sequence {ids[row]!r} reappears after other sequences (its rows ended on line"
            f" {lines[previous_end]}); keep the rows of a sequence together, or name a time"
            " column to sort them",
            path,
            int(lines[row]),
        )


def _check_unique_times(ids, codes, times, order, lines, name, path) -> None:
    sorted_codes, sorted_times = codes[order], times[order]
    same = np.flatnonzero(
        (sorted_codes[1:] == sorted_codes[:-1]) & (sorted_times[1:] == sorted_times[:-1])
    )
    if same.size:
        a, b = sorted(order[same[0] : same[0] + 2], key=lambda r: lines[r])
        raise DataError(
            f"sequence {ids[a]!r} has the same {name!r} twice (also on line {lines[a]})",
            path,
            int(lines[b]),
        )


def _check_constant_labels(ids, codes, labels, lines, name, path) -> None:
    first_rows = np.unique(codes, return_index=True)[1]
    first_label = labels[first_rows][codes]  # (N,) the label of each row's sequence
    changed = np.flatnonzero(labels != first_label)
    if changed.size:
        row = changed[0]
        start = first_rows[codes[row]]
        raise DataError(
            f"column {name!r} changes within sequence {ids[row]!r} from {labels[start]!r}"
            f" (line {lines[start]}) to {labels[row]!r}; a sequence has one label (or read"
            " with label_per_step=True for a target per step)",
            path,
            int(lines[row]),
        )
