"""Tiny data for the ``char-lm`` task in the conformance suite (tests/test_conformance.py): short
English lines, one text per line; the bad file holds a byte that is not UTF-8 on line 3."""

from __future__ import annotations

import random
from pathlib import Path

from task_cases import TaskCase

TASK = "char-lm"

PHRASES = ["the cat sat on the mat", "a dog ran in the park", "birds sing in the morning", "the sun is bright"]


def write_lines(path: Path, n: int, seed: int) -> Path:
    rng = random.Random(seed)
    path.write_text("".join(" ".join(rng.sample(PHRASES, 2)) + "\n" for _ in range(n)), encoding="utf-8")
    return path


def write_bad(tmp: Path) -> tuple[Path, int]:
    path = tmp / "bad.txt"
    path.write_bytes(b"the cat sat\na dog ran\nbirds \xff sing\n")
    return path, 3


CASE = TaskCase(
    write_train=lambda tmp: write_lines(tmp / "train.txt", 60, seed=0),
    write_other_train=lambda tmp: write_lines(tmp / "other.txt", 60, seed=5),
    write_bad=write_bad,
    json_inputs=["the cat sat", "a dog ran in the morning", "x"],
    params=dict(embedding_dim=8, hidden_size=8, sequence_length=20, batch_size=4, epochs=2, lr=0.01,
                scheduler="none", patience=0),
)
