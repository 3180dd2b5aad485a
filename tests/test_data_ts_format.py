"""Tests for lstmkit.data.formats.ts: the UEA/sktime ``.ts`` reader.

The reference is sktime's own loader, compared value by value on the real UEA files that
sktime ships (JapaneseVowels: ragged lengths; BasicMotions: equal lengths), and on small
hand-written files (timestamps, missing values). Error cases check the message and the line.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from lstmkit.data.datasets import package_file
from lstmkit.data.formats.ts import read_ts
from lstmkit.errors import DataError

HEADER = "@problemName toy\n@timeStamps false\n@univariate false\n@classLabel true a b\n@data\n"


def write(tmp_path, text: str, name: str = "x.ts"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def sktime_reference(path):
    """sktime's loader: (list of (T, F) float arrays, labels)."""
    from sktime.datasets import load_from_tsfile_to_dataframe

    frame, labels = load_from_tsfile_to_dataframe(str(path))
    sequences = [
        np.stack([np.asarray(frame.iloc[i, d], dtype=np.float64) for d in range(frame.shape[1])], 1)
        for i in range(len(frame))
    ]
    return sequences, list(labels)


@pytest.mark.parametrize(
    "parts",
    [
        ("JapaneseVowels", "JapaneseVowels_TRAIN.ts"),
        ("JapaneseVowels", "JapaneseVowels_TEST.ts"),
        ("BasicMotions", "BasicMotions_TRAIN.ts"),
        ("BasicMotions", "BasicMotions_TEST.ts"),
    ],
)
def test_real_uea_files_match_sktime_value_by_value(parts):
    """Every value and label equals sktime's loader. Fails on: (F, T) instead of (T, F)
    (transposed cases), dropping the last value or dimension, misreading the label field as
    a dimension, or parsing values with the wrong precision."""
    path = package_file("sktime", "data", "datasets", "data", *parts)
    sequences, labels = read_ts(path)
    ref_sequences, ref_labels = sktime_reference(path)
    assert len(sequences) == len(ref_sequences) == len(labels)
    for ours, ref in zip(sequences, ref_sequences):
        assert ours.dtype == np.float32
        assert ours.shape == ref.shape
        np.testing.assert_array_equal(ours, ref.astype(np.float32))
    # sktime lower-cases labels ("Walking" -> "walking"); lstmkit keeps them as written.
    assert [label.lower() for label in labels] == ref_labels


def test_japanese_vowels_shape_facts():
    """The documented facts: 12 features, lengths 7-29, 9 speakers. Fails if the reader
    merges dimensions or loses cases."""
    train, y_train = read_ts(
        package_file(
            "sktime", "data", "datasets", "data", "JapaneseVowels", "JapaneseVowels_TRAIN.ts"
        )
    )
    test, y_test = read_ts(
        package_file(
            "sktime", "data", "datasets", "data", "JapaneseVowels", "JapaneseVowels_TEST.ts"
        )
    )
    lengths = [len(s) for s in train + test]
    assert {s.shape[1] for s in train + test} == {12}
    assert (min(lengths), max(lengths)) == (7, 29)
    assert len(train) == 270 and len(test) == 370
    assert sorted(set(y_train)) == [str(i) for i in range(1, 10)]
    assert sorted(set(y_test)) == [str(i) for i in range(1, 10)]


def test_hand_written_ragged_file(tmp_path):
    """A 2-dimension file with lengths 3 and 2, checked against hand-written arrays; labels
    remember their line (comments and blank lines count). Fails on a transposed case, a
    lost short case, or line numbers that skip comments."""
    path = write(
        tmp_path,
        """\
        # a comment
        @problemName toy
        @timeStamps false
        @missing false
        @univariate false
        @dimensions 2
        @equalLength false
        @classLabel true a b
        @data
        1,2,3:4,5,6:a

        # between cases
        7.5, -8 :9e1,10:b
        """,
    )
    sequences, labels = read_ts(path)
    np.testing.assert_array_equal(sequences[0], np.array([[1, 4], [2, 5], [3, 6]], np.float32))
    np.testing.assert_array_equal(sequences[1], np.array([[7.5, 90], [-8, 10]], np.float32))
    assert list(labels) == ["a", "b"]
    assert labels.where(0) == (path, 10) and labels.where(1) == (path, 13)


def test_timestamps_match_sktime_and_drop_the_clock(tmp_path):
    """Timestamped pairs, including dates holding ':', give the values in file order, like
    sktime's loader. Fails if ':' inside a timestamp is taken for a dimension separator."""
    path = write(
        tmp_path,
        """\
        @problemName stamps
        @timeStamps true
        @univariate false
        @classLabel true up down
        @data
        (2007-01-01 00:00:00,1.5),(2007-01-02 00:00:00,2.5):(2007-01-01 00:00:00,-1),(2007-01-02 00:00:00,-2):up
        (2007-01-01 00:00:00,3),(2007-01-02 00:00:00,4),(2007-01-03 00:00:00,5):(2007-01-01 00:00:00,0),(2007-01-02 00:00:00,0),(2007-01-03 00:00:00,1):down
        """,  # noqa: E501 - a .ts data line
    )
    sequences, labels = read_ts(path)
    np.testing.assert_array_equal(sequences[0], np.array([[1.5, -1], [2.5, -2]], np.float32))
    np.testing.assert_array_equal(sequences[1], np.array([[3, 0], [4, 0], [5, 1]], np.float32))
    assert list(labels) == ["up", "down"]
    ref, ref_labels = sktime_reference(path)
    for ours, theirs in zip(sequences, ref):
        np.testing.assert_array_equal(ours, theirs.astype(np.float32))
    assert ref_labels == ["up", "down"]


def test_missing_values(tmp_path):
    """'?' is NaN with missing='nan' and an error naming line and dimension otherwise.
    Fails if '?' silently becomes 0 or the error points to the wrong place."""
    path = write(tmp_path, HEADER + "1,?,3:4,5,6:a\n")
    sequences, _ = read_ts(path, missing="nan")
    assert np.isnan(sequences[0][1, 0]) and sequences[0][1, 1] == 5
    with pytest.raises(DataError, match=r"line 6: missing value '\?' in dimension 1, value 2"):
        read_ts(path)


def test_unlabelled_and_regression_files(tmp_path):
    """@classLabel false -> labels None and no label field; @targetLabel true -> the number
    as text. Fails if the last dimension is eaten as a label."""
    unlabelled = write(tmp_path, "@classLabel false\n@data\n1,2:3,4\n", "u.ts")
    sequences, labels = read_ts(unlabelled)
    assert labels is None
    np.testing.assert_array_equal(sequences[0], np.array([[1, 3], [2, 4]], np.float32))

    regression = write(
        tmp_path, "@classLabel false\n@targetLabel true\n@data\n1,2:3,4:2.5\n", "r.ts"
    )
    sequences, labels = read_ts(regression)
    assert list(labels) == ["2.5"] and sequences[0].shape == (2, 2)
    bad = write(tmp_path, "@classLabel false\n@targetLabel true\n@data\n1,2:3,4:high\n", "b.ts")
    with pytest.raises(DataError, match=r"line 4: target 'high' is not a number"):
        read_ts(bad)


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("", None, "file is empty"),
        ("\n  \n", None, "file is empty"),
        ("@problemName x\n@classLabel true a\n", None, "no @data line"),
        ("@classLabel true a\n@data\n", None, "no cases after the @data line"),
        # ragged dimensions: against the first case, and against @dimensions
        (
            HEADER + "1,2:3,4:a\n1,2:3,4:5,6:b\n",
            7,
            r"3 dimension\(s\), expected 2 as in the first case \(line 6\)",
        ),
        (
            "@dimensions 3\n@classLabel true a\n@data\n1,2:3,4:a\n",
            4,
            r"2 dimension\(s\), expected 3 as @dimensions says",
        ),
        (
            "@univariate true\n@classLabel true a\n@data\n1,2:3,4:a\n",
            4,
            r"expected 1 as @univariate",
        ),
        (HEADER + "1,2:3,4:a\n1,2:3,4\n", 7, r"is the label missing\?"),
        (
            HEADER + "1,2,3:4,5:a\n",
            6,
            "dimensions of different lengths within one case: dimension 1 has 3 values, dimension 2 has 2",
        ),
        (HEADER + "1,2:3,x4:b\n", 6, "dimension 2, value 2: 'x4' is not a number"),
        (HEADER + "1,,2:3,4,5:b\n", 6, "dimension 1, value 2: an empty value is not a number"),
        (HEADER + "1,2:3,inf:b\n", 6, "'inf' is not a number"),
        (HEADER + "1,2:3,4:c\n", 6, r"label 'c' is not one of the @classLabel labels \(a, b\)"),
        (HEADER + "1,2:3,4:\n", 6, "empty label"),
        (HEADER + "1,2\n", 6, "found no ':'"),
        ("1,2:a\n@data\n", 1, "data before the @data line"),
        (
            "@classLabel true a\n@data\n1:a\n@dimensions 1\n",
            4,
            "header line '@dimensions' after @data",
        ),
        ("@classLabels true a\n@data\n1:a\n", 1, "unknown header '@classLabels'"),
        ("@classLabel true\n@data\n", 1, "must list the class labels"),
        ("@timeStamps yes\n@data\n", 1, "@timeStamps needs true or false"),
        ("@dimensions two\n@data\n", 1, "@dimensions needs one positive whole number"),
        ("@missing false\n@missing true\n@data\n", 2, "given twice"),
        (
            "@equalLength true\n@seriesLength 3\n@classLabel true a\n@data\n1,2,3:a\n1,2:a\n",
            6,
            "2 time steps, but @equalLength true and @seriesLength 3",
        ),
        (
            "@timeStamps true\n@classLabel true a\n@data\n(1,2),(2,3):(1,4),(3,5):a\n",
            4,
            "dimension 2 has other timestamps than dimension 1",
        ),
        (
            "@timeStamps true\n@classLabel true a\n@data\n(1,2)(2,3):a\n",
            4,
            "expected ',' between pairs",
        ),
    ],
)
def test_errors_name_the_line(tmp_path, text, line, message):
    """Each bad file gives one DataError naming the file, the right line and the problem.
    Fails if a ragged case, a bad value or a bad label slips through or is blamed on the
    wrong line."""
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=message) as info:
        read_ts(path)
    assert info.value.path == path
    assert info.value.line == line


def test_missing_file_and_folder(tmp_path):
    """A missing path and a folder are DataErrors, not tracebacks."""
    with pytest.raises(DataError, match="file not found"):
        read_ts(tmp_path / "nope.ts")
    with pytest.raises(DataError, match="is a folder"):
        read_ts(tmp_path)
