"""Tiny data for the ``sequence-classifier`` task in the conformance suite (tests/test_conformance.py).

Two features; ``up`` sequences rise and ``down`` ones fall, lengths 3-8 (ragged, so padding is
exercised), written as a long CSV.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from task_cases import TaskCase

from lstmkit.data.formats.long_csv import write_long_csv

TASK = "sequence-classifier"


def trend_sequences(n: int, seed: int) -> tuple[list[np.ndarray], list[str]]:
    """``n`` sequences ``(T, 2)``, T in 3..8: feature 0 rises (``up``) or falls (``down``) with noise,
    feature 1 is noise."""
    rng = np.random.default_rng(seed)
    sequences, labels = [], []
    for i in range(n):
        label = "up" if i % 2 == 0 else "down"
        length = int(rng.integers(3, 9))
        slope = 1.0 if label == "up" else -1.0
        steps = np.arange(length, dtype=np.float32)
        x = np.stack([slope * steps + rng.normal(0, 0.3, length), rng.normal(0, 1, length)], axis=1)
        sequences.append(x.astype(np.float32))
        labels.append(label)
    return sequences, labels


def write_trends(path: Path, n: int, seed: int) -> Path:
    sequences, labels = trend_sequences(n, seed)
    return write_long_csv(path, sequences, labels, feature_names=["a", "b"])


def write_bad(tmp: Path) -> tuple[Path, int]:
    path = tmp / "bad.csv"
    path.write_text("sequence_id,a,b,label\ns1,0.1,0.2,up\ns1,0.3,0.1,up\ns2,0.5,zero,down\ns2,0.2,0.1,down\n",
                    encoding="utf-8")
    return path, 4  # 'zero' is not a number


CASE = TaskCase(
    write_train=lambda tmp: write_trends(tmp / "train.csv", 60, seed=0),
    write_other_train=lambda tmp: write_trends(tmp / "other.csv", 60, seed=5),
    write_bad=write_bad,
    json_inputs=[[[0.0, 1.0], [1.0, 0.5], [2.0, -0.3]], [[3.0, 0.0], [2.0, 0.1], [1.0, 0.2], [0.0, 0.0]],
                 [[0.5, 0.5]]],
    params=dict(hidden_size=8, batch_size=16, epochs=2, lr=0.01, scheduler="none", patience=0),
)
