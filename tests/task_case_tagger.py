"""Conformance case of the ``tagger`` task: tiny BIO NER data in CoNLL (tests/test_conformance.py)."""

from __future__ import annotations

import random
from pathlib import Path

from task_cases import TaskCase

from lstmkit.data.formats.conll import write_conll

TASK = "tagger"

PEOPLE = ["Anna", "Peter", "Maria", "John"]
PLACES = ["Paris", "Berlin", "Tokyo", "Rome"]
VERBS = ["visited", "left", "loves", "saw"]


def tiny_ner(n: int, seed: int) -> tuple[list[list[str]], list[list[str]]]:
    """``n`` sentences "PERSON VERB PLACE [today]" with BIO tags (PER, LOC)."""
    rng = random.Random(seed)
    tokens, tags = [], []
    for _ in range(n):
        person, place = rng.choice(PEOPLE), rng.choice(PLACES)
        row = [person, rng.choice(VERBS), place] + (["today"] if rng.random() < 0.5 else [])
        tokens.append(row)
        tags.append(["B-PER", "O", "B-LOC"] + ["O"] * (len(row) - 3))
    return tokens, tags


def _write(path: Path, n: int, seed: int) -> Path:
    return write_conll(path, *tiny_ner(n, seed))


def _bad(tmp: Path) -> tuple[Path, int]:
    path = tmp / "bad.conll"
    path.write_text("-DOCSTART- O\n\nAnna B-PER\nleft O\n\nPeter B-PER\nsaw O\nRome I-\n", encoding="utf-8")
    return path, 8  # "I-" has no type


CASE = TaskCase(
    write_train=lambda tmp: _write(tmp / "train.conll", 60, seed=0),
    write_other_train=lambda tmp: _write(tmp / "other.conll", 60, seed=5),
    write_bad=_bad,
    json_inputs=[["Anna", "visited", "Rome"], "Peter saw Tokyo today", ["John"]],
    params=dict(embedding_dim=8, hidden_size=8, batch_size=16, epochs=2, lr=0.02, patience=0, bigram_dim=0,
                dictionary=None, scheduler="none"),
)
