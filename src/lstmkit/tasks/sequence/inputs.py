"""Sequences and targets in the sequence classifier's own form, from files, JSON and Python.

The task's inputs ``X`` are a list of ``N`` float32 arrays ``x_i`` of shape ``(T_i, F)``:
``T_i >= 1`` steps (they may differ) of ``F`` features (the same for all). Targets ``y`` are

* one label per sequence (a string, integer or boolean), or, with ``data.label_per_step``,
* a list of ``T_i`` labels per sequence (``target_kind=label``), or
* a float32 array ``(T_i,)`` of numbers per sequence (``target_kind=value``).

Targets read from a file are a :class:`~lstmkit.data.formats.tables.Labels` that remembers each
sequence's file and first line; every bad value is a :class:`DataError` naming the file and
the exact line of its row (:func:`row_line` finds it when the reader only knows the sequence).

Files: ``.ts`` (UEA/sktime, :func:`lstmkit.data.formats.ts.read_ts`) or a long ``.csv`` /
``.tsv`` (:func:`lstmkit.data.formats.long_csv.read_long`); a long pandas DataFrame is read by the same
rules (:func:`sequences_from_frame`).

Arrays from Python may be laid out steps x features (``channels_last``, lstmkit's and Keras's
``(N, T, F)``) or features x steps (``channels_first``: sktime's ``numpy3D`` ``(N, C, T)``):
``data.layout`` says which (:func:`as_sequences`).

Every message numbers inputs, steps and features from 1, as the guides do.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from numbers import Real
from pathlib import Path

import numpy as np

from lstmkit.data.formats.long_csv import LongData, read_long, read_long_frame
from lstmkit.data.formats.tables import Labels, decode_text
from lstmkit.data.formats.ts import read_ts
from lstmkit.errors import DataError, DataWarning

CSV_SUFFIXES = (".csv", ".tsv")


class Sequences(list):
    """The sequences read from a file: a plain ``list`` of arrays ``(T_i, F)`` that also keeps what
    the file said about them (None where it said nothing, as a ``.ts`` file):

    * ``ids[i]``: sequence ``i``'s id in a long CSV, so predictions can name it;
    * ``features``: the feature column names, in order;
    * ``rows[i]``: the ``(T_i,)`` positions of its steps' rows among the file's data rows, and
      ``times[i]``: their time cells (with ``data.time_column``), so results per step can be
      written one row per input row, in the input's order (:func:`step_rows`).
    """

    def __init__(self, sequences=(), ids=None, features=None, rows=None, times=None):
        super().__init__(sequences)
        self.ids: list[str] | None = list(ids) if ids is not None else None
        self.features: list[str] | None = list(features) if features is not None else None
        self.rows: list[np.ndarray] | None = rows
        self.times: list[list[str]] | None = times

    @classmethod
    def of(cls, data: LongData) -> Sequences:
        return cls(data.sequences, data.ids, data.features, data.rows, data.times)

    def like(self, sequences) -> Sequences:
        """``sequences`` (the same number, e.g. checked copies) with what this list knows about them."""
        return Sequences(sequences, self.ids, self.features, self.rows, self.times)

    def subset(self, indices) -> Sequences:
        """The sequences at ``indices``, with their ids, rows and times."""
        def pick(values):
            return None if values is None else [values[i] for i in indices]

        return Sequences([self[i] for i in indices], pick(self.ids), self.features, pick(self.rows), pick(self.times))


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
    text = decode_text(Path(path))
    delimiter = "\t" if Path(path).suffix.lower() == ".tsv" else ","
    first = next(csv.reader(text.splitlines()[:1], delimiter=delimiter), [])
    return [name.strip() for name in first]


def feature_columns(header: list[str], data, with_label: bool, model_features: list[str] | None = None,
                    ) -> list[str] | None:
    """The feature columns a file is read with: ``data.feature_columns``; else the model's own
    feature columns when the file has them all (in the model's order, whatever the file's); else
    every column but the id, the time and (always) the label column, so a file to predict may keep
    its label column."""
    if data.feature_columns is not None:
        return list(data.feature_columns)
    if model_features and all(name in header for name in model_features):
        return list(model_features)
    special = {data.id_column, data.label_column, data.time_column}
    return None if with_label else [c for c in header if c not in special]


def expected_columns(data, labelled: bool, model_features: list[str] | None = None,
                     n_features: int | None = None) -> str:
    """The columns a long CSV needs, in words: ``sequence_id, a, b, label (optional)``."""
    names = [data.id_column] + ([data.time_column] if data.time_column else [])
    if data.feature_columns or model_features:
        names += list(data.feature_columns or model_features)
    elif n_features:
        names.append(f"{n_features} feature column{'s' if n_features != 1 else ''}")
    else:
        names.append("the feature columns")
    names.append(data.label_column + ("" if labelled else " (optional)"))
    return ", ".join(names)


def read_sequences(path, data, labelled: bool, model_features: list[str] | None = None,
                   n_features: int | None = None):
    """Read a data file with the ``data.*`` settings -> ``(Sequences, targets or None)``.

    ``labelled``: the file must hold targets (``read_data``); else they are ignored.
    ``model_features`` / ``n_features``: a fitted model's feature columns (names when it knows
    them) and count, to pick the columns by name and to name them when the file lacks some.
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
    features = feature_columns(header, data, labelled, model_features)
    needed = [data.id_column, *([data.time_column] if data.time_column else []), *(features or []),
              *([data.label_column] if labelled else [])]
    missing = [name for name in needed if name not in header]
    if missing:
        raise DataError(f"no column {missing[0]!r}: a long CSV has one row per step and the columns "
                        f"{expected_columns(data, labelled, model_features, n_features)} (found: "
                        f"{', '.join(header) or 'none'}); data.id_column, data.feature_columns and "
                        "data.label_column name other columns", path, 1)
    long = read_long(path, id_column=data.id_column, label_column=data.label_column if labelled else None,
                     feature_columns=features, time_column=data.time_column, label_per_step=data.label_per_step)
    targets = long.targets
    if labelled and data.label_per_step and data.target_kind == "value":
        targets = step_values(targets, data)
    return Sequences.of(long), targets


def sequences_from_frame(frame, data, labelled: bool, model_features: list[str] | None = None):
    """A long pandas DataFrame (one row per step, as a long CSV) -> ``(Sequences, targets or None)``;
    ``labelled``: read the targets from ``data.label_column``. Errors name the row (from 1)."""
    header = [str(c).strip() for c in frame.columns]
    long = read_long_frame(frame, id_column=data.id_column,
                           label_column=data.label_column if labelled else None,
                           feature_columns=feature_columns(header, data, labelled, model_features),
                           time_column=data.time_column, label_per_step=data.label_per_step)
    targets = long.targets
    if labelled and data.label_per_step and data.target_kind == "value":
        targets = step_values(targets, data)
    return Sequences.of(long), targets


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
    reader = csv.reader(io.StringIO(decode_text(Path(path)), newline=""), delimiter=delimiter)
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


LAYOUTS = ("auto", "channels_last", "channels_first")
"""``data.layout``: how arrays from Python are laid out (see :func:`as_sequences`)."""


def as_sequences(X, what: str = "sequence", n_features: int | None = None,
                 layout: str = "channels_last") -> list[np.ndarray]:
    """Sequences as Python callers and JSON give them -> float32 arrays ``(T_i, F)``.

    Accepts a list (or tuple) of arrays / nested lists, a 3-D array, and univariate sequences
    ``(T_i,)`` (read as ``(T_i, 1)``). ``layout`` says how a sequence's two axes are laid out:

    * ``channels_last``: ``(T_i, F)`` steps x features, a 3-D array ``(N, T, F)`` (lstmkit, Keras,
      tslearn); JSON rows are always read so;
    * ``channels_first``: ``(F, T_i)``, a 3-D array ``(N, C, T)`` (sktime's ``numpy3D``, PyTorch's
      ``Conv1d``): each is transposed;
    * ``auto``: as ``channels_last``, with a :class:`~lstmkit.errors.DataWarning` naming
      ``data.layout`` when a 3-D array's second axis is the shorter (``(N, 3, 30)``: 3 steps of 30
      features, or sktime's 30 steps of 3 channels?). A list of 2-D arrays is read as steps x
      features without a word (short sequences, one step of many features, are common).

    Every problem is a :class:`DataError` naming the item (``"input 3"`` for JSON, ``"sequence 3"``
    for Python; counted from 1, as are steps and features): not a list of rows, no step, rows of
    different lengths, a value that is not a finite number, or another feature count than the
    others (or than the model's ``n_features``; with the hint to set ``data.layout`` when the
    other axis would fit).
    """
    if isinstance(X, (str, bytes, dict)) or not hasattr(X, "__len__"):
        raise DataError(f"expected a list of sequences (each a list of feature rows), got {type(X).__name__}")
    if hasattr(X, "columns"):
        raise DataError("got a table (DataFrame); a long DataFrame (one row per step, with the id column) is "
                        "read by the estimator's fit, predict and read_data; here pass a list of arrays (T_i, F)")
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    whole = None
    if hasattr(X, "detach") and getattr(X, "ndim", 0) == 3:  # a torch tensor (N, T, F)
        X = X.detach().cpu().numpy()
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim not in (2, 3):
            raise DataError(f"expected an array (N, T, F) of sequences, got shape {X.shape}")
        whole = X.shape
        X = list(X)
    if layout == "auto":
        _warn_if_transposed(X, whole)
    out = []
    for n, item in enumerate(X, start=1):
        array = _sequence(item, f"{what} {n}", transpose=layout == "channels_first")
        features = array.shape[1]
        expected = n_features if n_features is not None else (out[0].shape[1] if out else features)
        if features != expected:
            source = "the model's" if n_features is not None else f"{what} 1's"
            hint = ""
            if array.shape[0] == expected and layout != "channels_first":
                hint = "; if each sequence is (features, steps) as sktime's (N, C, T), set data.layout=channels_first"
            elif array.shape[0] == expected:
                hint = "; if each sequence is (steps, features), set data.layout=channels_last"
            raise DataError(f"{what} {n}: {features} features per step, expected {expected} ({source}){hint}")
        out.append(array)
    return out


def _warn_if_transposed(X, whole: tuple | None) -> None:
    """``data.layout=auto``: warn when a 3-D array ``(N, A, B)`` has ``A < B``: (C, T) read as (T, F)?"""
    if whole is not None and len(whole) == 3 and whole[1] < whole[2]:
        warnings.warn(f"sequences given as an array of shape {whole} are read as {whole[0]} sequences of "
                      f"{whole[1]} steps x {whole[2]} features (N, T, F); if it is (N, C, T) as sktime's numpy3D "
                      f"({whole[2]} steps of {whole[1]} channels), set data.layout=channels_first "
                      "(data.layout=channels_last keeps this reading without the warning)", DataWarning, stacklevel=4)


def _sequence(item, name: str, transpose: bool = False) -> np.ndarray:
    """One sequence -> float32 ``(T, F)``, checked (``transpose``: it is given as ``(F, T)``)."""
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
        row_name, column_name = ("feature", "step") if transpose else ("step", "feature")
        for t, row in enumerate(rows, start=1):
            if isinstance(row, (str, bytes, dict)) or row is None or not hasattr(row, "__len__"):
                raise DataError(f"{name}, {row_name} {t}: expected a row of numbers, got {type(row).__name__}")
            for f, value in enumerate(row, start=1):
                if not _is_number(value):
                    raise DataError(f"{name}, {row_name} {t}, {column_name} {f}: {value!r} is not a number")
        widths = {len(row) for row in rows}
        if len(widths) > 1:
            t = next(t for t, row in enumerate(rows) if len(row) != len(rows[0]))
            raise DataError(f"{name}, {row_name} {t + 1}: {len(rows[t])} {column_name}s, but {row_name} 1 has "
                            f"{len(rows[0])}")
        array = np.asarray(rows, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    elif transpose and array.ndim == 2:
        array = array.T  # (F, T) -> (T, F)
    if array.ndim != 2:
        raise DataError(f"{name}: expected steps x features (T, F), got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise DataError(f"{name}: empty sequence (shape {array.shape}); give at least one step of features")
    array = np.asarray(array, dtype=np.float32)
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        t, f = bad[0]
        raise DataError(f"{name}, step {t + 1}, feature {f + 1}: {array[t, f]} is not a finite number")
    return array


def _is_number(value) -> bool:
    return isinstance(value, (Real, np.number)) and not isinstance(value, (bool, np.bool_))


def as_step_targets(y, sequences: list[np.ndarray], kind: str):
    """Per-step targets -> one list of labels (``kind="label"``) or one float32 array (``"value"``)
    of ``T_i`` items per sequence; a :class:`Labels` keeps its origins."""
    if len(y) != len(sequences):
        raise DataError(f"{len(sequences)} sequences but {len(y)} target sequences")
    out = []
    for n, (steps, x) in enumerate(zip(y, sequences), start=1):
        if isinstance(steps, (str, bytes)) or not hasattr(steps, "__len__"):
            raise DataError(f"targets of sequence {n}: expected one target per step (a list), "
                            f"got {type(steps).__name__} (data.label_per_step=true)")
        if len(steps) != len(x):
            raise DataError(f"sequence {n} has {len(x)} steps but {len(steps)} targets")
        if kind == "value":
            values = np.asarray(steps, dtype=np.float64) if all(_is_number(v) for v in steps) else None
            if values is None or not np.isfinite(values).all():
                t = next(t for t, v in enumerate(steps) if not (_is_number(v) and math.isfinite(float(v))))
                raise DataError(f"sequence {n}, step {t + 1}: target {steps[t]!r} is not a finite number")
            out.append(values.astype(np.float32))
        else:
            out.append(steps.tolist() if hasattr(steps, "tolist") else list(steps))
    return Labels(out, y.origins) if isinstance(y, Labels) else out
