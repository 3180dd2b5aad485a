"""Tests for lstmkit.data.formats.long_csv: long-format sequence CSV, read and written.

References: hand-written arrays for small files, a pandas ``sort_values``/``groupby`` brute
force for time-sorted interleaved rows, and exact write -> read round trips of random
ragged float32 data.
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.formats.long_csv import read_long_csv, write_long_csv
from lstmkit.errors import DataError


def write(tmp_path, text: str, name: str = "x.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_hand_written_file(tmp_path):
    """Rows grouped by id in file order, features in header order, blank lines skipped,
    labels with their first line. Fails on a row order or column order mix-up, or a
    blank line read as a step."""
    path = write(
        tmp_path,
        "sequence_id,x,label,y\na,1,walk,10\na,2,walk,20\n\nb,3.5,run,-1\n",
    )
    sequences, labels, ids = read_long_csv(path, return_ids=True)
    assert ids == ["a", "b"]
    np.testing.assert_array_equal(sequences[0], np.array([[1, 10], [2, 20]], np.float32))
    np.testing.assert_array_equal(sequences[1], np.array([[3.5, -1]], np.float32))
    assert all(s.dtype == np.float32 for s in sequences)
    assert list(labels) == ["walk", "run"]
    assert labels.where(0) == (path, 2) and labels.where(1) == (path, 5)


def test_chosen_feature_columns_and_no_labels(tmp_path):
    """feature_columns picks and orders columns; label_column=None reads no labels. Fails
    if the given order is ignored or the label column is required."""
    path = write(tmp_path, "id,a,b,c\ns,1,2,3\ns,4,5,6\n")
    sequences, labels = read_long_csv(
        path, id_column="id", label_column=None, feature_columns=["c", "a"]
    )
    assert labels is None
    np.testing.assert_array_equal(sequences[0], np.array([[3, 1], [6, 4]], np.float32))


def test_time_column_sorts_interleaved_rows_like_pandas(tmp_path):
    """With a time column, interleaved rows are gathered per id (first-appearance order)
    and sorted by time; per-step targets follow their rows. Reference: pandas sort_values
    + groupby. Fails if rows are sorted globally instead of per sequence, or the targets
    are not moved with their rows."""
    rng = np.random.default_rng(0)
    rows = []
    for sid, n in [("s2", 5), ("s1", 3), ("s3", 4)]:
        for t in rng.permutation(n):
            rows.append(
                {
                    "sequence_id": sid,
                    "time": int(t),
                    "v": float(rng.normal()),
                    "w": float(rng.normal()),
                    "label": f"L{t % 2}",
                }
            )
    order = rng.permutation(len(rows))
    frame = pd.DataFrame([rows[i] for i in order])
    path = tmp_path / "interleaved.csv"
    frame.to_csv(path, index=False)

    sequences, targets, ids = read_long_csv(
        path, time_column="time", label_per_step=True, return_ids=True
    )
    assert ids == list(dict.fromkeys(frame["sequence_id"]))
    for sid, seq, target in zip(ids, sequences, targets):
        ref = frame[frame["sequence_id"] == sid].sort_values("time")
        np.testing.assert_array_equal(seq, ref[["v", "w"]].to_numpy(np.float32))
        assert target == list(ref["label"])


def test_dates_as_time(tmp_path):
    """Dates in the time column sort chronologically, not as text ("2024-1-10" after
    "2024-1-9"). Fails on a text sort."""
    path = write(tmp_path, "sequence_id,day,v,label\na,2024-01-10,2,x\na,2024-01-9,1,x\n")
    sequences, _ = read_long_csv(path, time_column="day")
    np.testing.assert_array_equal(sequences[0][:, 0], [1, 2])


@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("time_column", [None, "step"])
def test_write_then_read_round_trips_exactly(tmp_path, per_step, time_column):
    """Random ragged float32 sequences, written and read back, are bit-identical, with
    their ids and targets. Fails if floats are written with too few digits, rows of
    sequences are mixed, or per-step targets are misaligned."""
    rng = np.random.default_rng(1)
    sequences = [rng.normal(size=(n, 3)).astype(np.float32) * 1e3 for n in (4, 1, 7)]
    sequences[0][0, 0] = np.float32(1) / np.float32(3)
    ids = ["x", "y", "z z"]
    if per_step:
        targets = [[f"{v:.3f}" for v in rng.normal(size=len(s))] for s in sequences]
    else:
        targets = ["a", "b", "a"]
    path = write_long_csv(
        tmp_path / "out.csv",
        sequences,
        targets,
        ids=ids,
        feature_names=["p", "q", "r"],
        time_column=time_column,
    )
    back, back_targets, back_ids = read_long_csv(
        path, time_column=time_column, label_per_step=per_step, return_ids=True
    )
    assert back_ids == ids
    assert list(back_targets) == targets
    for ours, original in zip(back, sequences):
        np.testing.assert_array_equal(ours, original)
    assert pd.read_csv(path).columns.tolist() == ["sequence_id"] + (
        [time_column] if time_column else []
    ) + ["p", "q", "r", "label"]


def test_write_is_atomic_and_honours_umask(tmp_path):
    """The written file has mode 0o666 & ~umask (not mkstemp's 0600), and no temporary
    file is left. Fails if the temp file's 0600 mode survives the rename."""
    old = os.umask(0o022)
    try:
        path = write_long_csv(tmp_path / "o.csv", [np.zeros((2, 1), np.float32)], ["a"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["o.csv"]


def test_write_rejects_inconsistent_input(tmp_path):
    """Mismatched feature counts, per-step target lengths and duplicate ids are refused
    before anything is written."""
    with pytest.raises(ValueError, match="same F"):
        write_long_csv(tmp_path / "o.csv", [np.zeros((2, 1)), np.zeros((2, 2))])
    with pytest.raises(ValueError, match="one value per step"):
        write_long_csv(tmp_path / "o.csv", [np.zeros((2, 1))], [["a"]])
    with pytest.raises(ValueError, match="unique id"):
        write_long_csv(tmp_path / "o.csv", [np.zeros((2, 1))] * 2, ids=["a", "a"])
    assert not (tmp_path / "o.csv").exists()


def test_tsv(tmp_path):
    """A .tsv file is read tab-separated."""
    path = write(tmp_path, "sequence_id\tv\tlabel\na\t1.5\tx\n", "x.tsv")
    sequences, labels = read_long_csv(path)
    assert sequences[0].tolist() == [[1.5]] and labels == ["x"]


@pytest.mark.parametrize(
    "text, kwargs, line, message",
    [
        ("", {}, 1, "file is empty"),
        ("sequence_id,v,label\n", {}, None, "no data rows"),
        (
            "sequence_id,v,label\na,1,x\nb,2,y\na,3,x\n",
            {},
            4,
            r"sequence 'a' reappears after other sequences \(its rows ended on line 2\)",
        ),
        (
            "sequence_id,v,label\na,1,x\na,2,y\n",
            {},
            3,
            r"changes within sequence 'a' from 'x' \(line 2\) to 'y'",
        ),
        ("sequence_id,v,w,label\na,1,2,x\na,1,zz,x\n", {}, 3, "column 'w': 'zz' is not a number"),
        ("sequence_id,v,w,label\na,1,2,x\na,1,,x\n", {}, 3, "column 'w': empty value"),
        ("sequence_id,v,label\na,1,x\na,nan,x\n", {}, 3, "'nan' is not a number"),
        ("sequence_id,v,label\na,1,x\n,2,x\n", {}, 3, "empty value in column 'sequence_id'"),
        (
            "sequence_id,v,label\na,1,x\na,2,x,9\n",
            {},
            3,
            "expected 3 fields as in the header, found 4",
        ),
        ("sequence_id,v\na,1\n", {}, 1, r"no column 'label' \(columns: 'sequence_id', 'v'\)"),
        ("sequence_id,v,v,label\na,1,1,x\n", {}, 1, "appears twice"),
        ("sequence_id,label\na,x\n", {}, 1, "no feature columns"),
        (
            "sequence_id,t,v,label\na,1,1,x\na,0,1,x\na,1,1,x\n",
            {"time_column": "t"},
            4,
            r"same 't' twice \(also on line 2\)",
        ),
        (
            "sequence_id,t,v,label\na,1,1,x\na,soon,1,x\n",
            {"time_column": "t"},
            3,
            r"'soon' is not a number \(as the first time is\)",
        ),
        (
            "sequence_id,t,v,label\na,2024-01-01,1,x\na,someday,1,x\n",
            {"time_column": "t"},
            3,
            "'someday' is not a date",
        ),
        # a quoted line break in the label: the next record starts on line 4, not 3
        ('sequence_id,v,label\na,1,"x\ny"\nb,oops,z\n', {}, 4, "'oops' is not a number"),
    ],
)
def test_errors_name_line_and_column(tmp_path, text, kwargs, line, message):
    """Each bad file gives one DataError with the right line (header = line 1) and column.
    Fails if line numbers are 0-based, ignore the header, or miscount quoted line breaks."""
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=message) as info:
        read_long_csv(path, **kwargs)
    assert info.value.line == line and info.value.path == path


def test_reappearing_id_is_fine_with_a_time_column(tmp_path):
    """The contiguity rule applies only without a time column."""
    path = write(tmp_path, "sequence_id,t,v,label\na,0,1,x\nb,0,2,y\na,1,3,x\n")
    sequences, labels = read_long_csv(path, time_column="t")
    assert [s[:, 0].tolist() for s in sequences] == [[1, 3], [2]] and labels == ["x", "y"]
