"""Tiny data for every registered task, used by the conformance suite (tests/test_conformance.py).

A new task adds a module ``tests/task_case_<name>.py`` defining ``CASE = TaskCase(...)`` (the
registry name is ``TASK = "<task>"``); the suite fails for a registered task without one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from textdata import english_reviews, write_csv


@dataclass
class TaskCase:
    write_train: Callable[[Path], Path]
    """Writes a small labelled file in the task's format; returns its path."""
    write_other_train: Callable[[Path], Path]
    """Another labelled file (other data) for the refused-resume check."""
    write_bad: Callable[[Path], tuple[Path, int]]
    """Writes a file with one bad row; returns its path and the 1-based line the error must name."""
    json_inputs: list
    """Inputs as the HTTP API would send them (``{"inputs": [...]}``)."""
    params: dict = field(default_factory=dict)
    """Hyperparameters for a model that trains in about a second."""


def _write_reviews(path: Path, n: int, seed: int) -> Path:
    return write_csv(path, *english_reviews(n, seed=seed))


def _bad_reviews(tmp: Path) -> tuple[Path, int]:
    path = tmp / "bad.csv"
    path.write_text('text,label\ngood room,pos\n"a quoted\nrecord",neg\n   ,pos\nbad food,neg\n', encoding="utf-8")
    return path, 5  # the empty text; the quoted record spans lines 3-4


CASES: dict[str, TaskCase] = {
    "text-classifier": TaskCase(
        write_train=lambda tmp: _write_reviews(tmp / "train.csv", 120, seed=0),
        write_other_train=lambda tmp: _write_reviews(tmp / "other.csv", 120, seed=5),
        write_bad=_bad_reviews,
        json_inputs=["good clean room", "awful rude staff", "the hotel"],
        params=dict(embedding_dim=8, hidden_size=8, ngram_buckets=512, lexicon_buckets=512, batch_size=16, epochs=2,
                    lr=0.01, scheduler="none", patience=0, unlabeled_text=None),
    ),
}


for _module in sorted((Path(__file__).parent).glob("task_case_*.py")):
    _case = importlib.import_module(_module.stem)
    CASES[_case.TASK] = _case.CASE


def fit_case(task: str, tmp: Path):
    """A model of ``task`` trained (in about a second) on its case's training file, written in
    ``tmp``; returns ``(estimator, case)``."""
    from lstmkit.tasks import get_task_class

    case = CASES[task]
    estimator = get_task_class(task)(**case.params)
    return estimator.fit(*estimator.read_data(case.write_train(tmp))), case
