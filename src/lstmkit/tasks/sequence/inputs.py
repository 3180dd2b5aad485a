"""Sequences and targets in the sequence classifier's own form, from files, JSON and Python.

The task's inputs ``X`` are a list of ``N`` float32 arrays ``x_i`` of shape ``(T_i, F)``:
``T_i >= 1`` steps (they may differ) of ``F`` features (the same for all). Targets ``y`` are

* one label per sequence (a string, integer or boolean), or, with ``data.label_per_step``,
* a list of ``T_i`` labels per sequence (``target_kind=label``), or
* a float32 array ``(T_i,)`` of numbers per sequence (``target_kind=value``).

Targets read from a file are a :class:`~lstmkit.data.readers.Labels` that remembers each
sequence's file and first line; every bad value is a :class:`DataError` naming the file and
the exact line of its row (:func:`row_line` finds it when the reader only knows the sequence).

Files: ``.ts`` (UEA/sktime, :func:`lstmkit.data.ts_format.read_ts`) or a long ``.csv`` /
``.tsv`` (:func:`lstmkit.data.long_csv.read_long_csv`).
"""

from __future__ import annotations

import csv
import io
import math
from numbers import Real
from pathlib import Path

import numpy as np

from lstmkit.data.long_csv import read_long_csv
from lstmkit.data.readers import Labels, _decode
from lstmkit.data.ts_format import read_ts
from lstmkit.errors import DataError

CSV_SUFFIXES = (".csv", ".tsv")


class Sequences(list):
    """The sequences read from a file: a plain ``list`` of arrays ``(T_i, F)`` that also keeps the
    sequence ids of a long CSV (``ids[i]``; None for a ``.ts`` file), so predictions can name them."""

    def __init__(self, sequences=(), ids=None):
        super().__init__(sequences)
        self.ids: list[str] | None = list(ids) if ids is not None else None


def file_kind(path: Path) -> str:
    """``"ts"`` or ``"csv"`` by the file's suffix; anything else is a :class:`DataError`."""
    suffix = Path(path).suffix.lower()
    if suffix == ".ts":
        return "ts"
    if suffix in CSV_SUFFIXES:
        return "csv"
    raise DataError(f"cannot read {suffix or 'a file without a suffix'!r} files: a sequence-classifier reads a "
                    "long CSV (.csv, .tsv) or a UEA/sktime .ts file", path=path)


def csv_header(path: Path) -> list[str]:
    """The column names of a CSV/TSV file's first line (stripped); the reader checks the rest."""
    if not Path(path).is_file():
        raise DataError("file not found" if not Path(path).exists() else "is a folder, expected a CSV file", path)
    text = _decode(Path(path))
    delimiter = "\t" if Path(path).suffix.lower() == ".tsv" else ","
    first = next(csv.reader(text.splitlines()[:1], delimiter=delimiter), [])
    return [name.strip() for name in first]


def feature_columns(header: list[str], data, with_label: bool) -> list[str] | None:
    """The feature columns a file is read with: ``data.feature_columns``, else every column but the
    id, the time and (always) the label column, so a file to predict may keep its label column."""
    if data.feature_columns is not None:
        return list(data.feature_columns)
    special = {data.id_column, data.label_column, data.time_column}
    return None if with_label else [c for c in header if c not in special]


def read_sequences(path, data, labelled: bool):
    """Read a data file with the ``data.*`` settings -> ``(Sequences, targets or None)``.

    ``labelled``: the file must hold targets (``read_data``); else they are ignored.
    Per-step values are converted to float32 arrays here, each bad one naming its line.
    """
    path = Path(path)
    kind = file_kind(path)
    if kind == "ts":
        sequences, labels = read_ts(path)
        if labelled:
            if data.label_per_step:
                raise DataError(".ts files hold one label per case; data.label_per_step=true needs a long CSV "
                                "with a target on every row", path=path)
            if labels is None:
                raise DataError("the file declares no labels (@classLabel false); a labelled .ts file is "
                                "needed to train or evaluate", path=path)
        return Sequences(sequences), (labels if labelled else None)
    header = csv_header(path)
    sequences, targets, ids = read_long_csv(
        path, id_column=data.id_column, label_column=data.label_column if labelled else None,
        feature_columns=feature_columns(header, data, labelled), time_column=data.time_column,
        label_per_step=data.label_per_step, return_ids=True)
    sequences = Sequences(sequences, ids)
    if labelled and data.label_per_step and data.target_kind == "value":
        targets = step_values(targets, data)
    return sequences, targets


def step_values(targets: Labels, data) -> Labels:
    """Per-step target strings -> float32 arrays ``(T_i,)``; a cell that is not a finite number
    is a :class:`DataError` naming its file and line."""
    out = []
    for i, steps in enumerate(targets):
        values = np.empty(len(steps), dtype=np.float32)
        for t, text in enumerate(steps):
            try:
                value = float(text)
            except (TypeError, ValueError):
                value = math.nan
            if not math.isfinite(value):
                path, line = targets.where(i)
                raise DataError(f"column {data.label_column!r}: target {text!r} is not a finite number "
                                "(data.target_kind=value)", path, row_line(path, line, data, text))
            values[t] = value
        out.append(values)
    return Labels(out, targets.origins)


def row_line(path: Path | None, start: int | None, data, value: str) -> int | None:
    """The line of the first row, at or after line ``start`` (a sequence's first row), of the same
    sequence whose label cell is ``value``; ``start`` when it cannot be found (only on error paths)."""
    if path is None or start is None or Path(path).suffix.lower() not in CSV_SUFFIXES:
        return start
    delimiter = "\t" if Path(path).suffix.lower() == ".tsv" else ","
    reader = csv.reader(io.StringIO(_decode(Path(path)), newline=""), delimiter=delimiter)
    header = [name.strip() for name in next(reader, [])]
    if data.id_column not in header or data.label_column not in header:
        return start
    at_id, at_label = header.index(data.id_column), header.index(data.label_column)
    sequence, line = None, reader.line_num + 1
    for row in reader:
        first_line, line = line, reader.line_num + 1
        if first_line < start or len(row) <= max(at_id, at_label):
            continue
        if sequence is None:
            sequence = row[at_id].strip()
        if row[at_id].strip() == sequence and row[at_label].strip() == str(value).strip():
            return first_line
    return start


# --------------------------------------------------------------------------- Python and JSON inputs


def as_sequences(X, what: str = "sequence", n_features: int | None = None) -> list[np.ndarray]:
    """Sequences as Python callers and JSON give them -> float32 arrays ``(T_i, F)``.

    Accepts a list (or tuple) of arrays / nested lists ``(T_i, F)``, a 3-D array ``(N, T, F)``,
    and univariate sequences ``(T_i,)`` (read as ``(T_i, 1)``). Every problem is a
    :class:`DataError` naming the item (``"input 3"`` for JSON, ``"sequence 3"`` for Python;
    0-based): not a list of rows, no step, rows of different lengths, a value that is not a
    finite number, or another feature count than the others (or than the model's ``n_features``).
    """
    if isinstance(X, (str, bytes, dict)) or not hasattr(X, "__len__"):
        raise DataError(f"expected a list of sequences (each a list of feature rows), got {type(X).__name__}")
    if hasattr(X, "columns"):
        raise DataError("got a table (DataFrame); pass a list of arrays (T_i, F), or read a long CSV with read_data")
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim not in (2, 3):
            raise DataError(f"expected an array (N, T, F) of sequences, got shape {X.shape}")
        X = list(X)
    out = []
    for n, item in enumerate(X):
        array = _sequence(item, f"{what} {n}")
        features = array.shape[1]
        expected = n_features if n_features is not None else (out[0].shape[1] if out else features)
        if features != expected:
            source = "the model's" if n_features is not None else f"{what} 0's"
            raise DataError(f"{what} {n}: {features} features per step, expected {expected} ({source})")
        out.append(array)
    return out


def _sequence(item, name: str) -> np.ndarray:
    """One sequence -> float32 ``(T, F)``, checked."""
    if hasattr(item, "detach"):  # a torch tensor
        item = item.detach().cpu().numpy()
    if isinstance(item, np.ndarray) and item.dtype != object:
        array = item
    else:
        if isinstance(item, (str, bytes, dict)) or item is None or not hasattr(item, "__len__"):
            raise DataError(f"{name}: expected a list of feature rows (lists of numbers), "
                            f"got {type(item).__name__}")
        rows = list(item)
        if rows and all(_is_number(v) for v in rows):
            rows = [[v] for v in rows]  # univariate: (T,) -> (T, 1)
        for t, row in enumerate(rows):
            if isinstance(row, (str, bytes, dict)) or row is None or not hasattr(row, "__len__"):
                raise DataError(f"{name}, step {t}: expected a row of numbers, got {type(row).__name__}")
            for f, value in enumerate(row):
                if not _is_number(value):
                    raise DataError(f"{name}, step {t}, feature {f}: {value!r} is not a number")
        widths = {len(row) for row in rows}
        if len(widths) > 1:
            t = next(t for t, row in enumerate(rows) if len(row) != len(rows[0]))
            raise DataError(f"{name}, step {t}: {len(rows[t])} features, but step 0 has {len(rows[0])}")
        array = np.asarray(rows, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise DataError(f"{name}: expected steps x features (T, F), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise DataError(f"{name}: empty sequence (shape {array.shape}); give at least one step of features")
    array = np.asarray(array, dtype=np.float32)
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        t, f = bad[0]
        raise DataError(f"{name}, step {t}, feature {f}: {array[t, f]} is not a finite number")
    return array


def _is_number(value) -> bool:
    return isinstance(value, (Real, np.number)) and not isinstance(value, (bool, np.bool_))


def as_step_targets(y, sequences: list[np.ndarray], kind: str):
    """Per-step targets -> one list of labels (``kind="label"``) or one float32 array (``"value"``)
    of ``T_i`` items per sequence; a :class:`Labels` keeps its origins."""
    if len(y) != len(sequences):
        raise DataError(f"{len(sequences)} sequences but {len(y)} target sequences")
    out = []
    for n, (steps, x) in enumerate(zip(y, sequences)):
        if isinstance(steps, (str, bytes)) or not hasattr(steps, "__len__"):
            raise DataError(f"targets of sequence {n}: expected one target per step (a list), "
                            f"got {type(steps).__name__} (data.label_per_step=true)")
        if len(steps) != len(x):
            raise DataError(f"sequence {n} has {len(x)} steps but {len(steps)} targets")
        if kind == "value":
            values = np.asarray(steps, dtype=np.float64) if all(_is_number(v) for v in steps) else None
            if values is None or not np.isfinite(values).all():
                t = next(t for t, v in enumerate(steps) if not (_is_number(v) and math.isfinite(float(v))))
                raise DataError(f"sequence {n}, step {t}: target {steps[t]!r} is not a finite number")
            out.append(values.astype(np.float32))
        else:
            out.append(steps.tolist() if hasattr(steps, "tolist") else list(steps))
    return Labels(out, y.origins) if isinstance(y, Labels) else out
