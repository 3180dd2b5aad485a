"""Same seed, same data, same machine (and thread count) -> the same weights, bit for bit, and the
same predictions, for every registered task (its tiny case from task_cases.py, 2 epochs).

Two ways a run can differ from the last one on the same machine, each tested:
- in one process: state that fit does not seed (Python's, NumPy's or torch's global random
  numbers drawn by something else before fit) -> fit twice with other draws in between;
- in a new process: Python's string hashing changes with every process (``PYTHONHASHSEED``), so
  iterating over a set (of tokens, labels, characters) gives another order -> a vocabulary or
  label ids built that way differ -> a fresh process with another hash seed must give the same
  digest of weights and predictions.
What is *not* promised (other thread counts, machines, GPUs, DDP process counts) is in
docs/reliability.md, "Reproducibility".
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from task_cases import CASES

from lstmkit.tasks import TASKS, get_task_class

HERE = Path(__file__).resolve().parent
TASK_NAMES = sorted(TASKS)


def plain(predictions):
    """``predict``'s output as plain data: a list (NumPy arrays) or a dict (DataFrames)."""
    if isinstance(predictions, pd.DataFrame):
        return predictions.to_dict(orient="split")
    if isinstance(predictions, np.ndarray):
        return predictions.tolist()
    return predictions


def fitted_run(task: str, tmp: Path) -> dict:
    """Train ``task``'s tiny case in ``tmp``; its weights (names -> raw bytes as hex digests) and
    its predictions on the case's inputs (``predict``, ``predict_proba`` where there is one, and
    the records the server returns)."""
    case = CASES[task]
    tmp.mkdir(parents=True, exist_ok=True)
    estimator = get_task_class(task)(**case.params)
    estimator.fit(*estimator.read_data(case.write_train(tmp)))
    weights = {name: hashlib.sha256(tensor.detach().cpu().contiguous().numpy().tobytes()).hexdigest()
               for name, tensor in estimator.network_.state_dict().items()}
    inputs = estimator.inputs_from_json(case.json_inputs)
    out = {"weights": weights, "predict": plain(estimator.predict(inputs)),
           "records": estimator.predict_records(inputs)}
    if hasattr(estimator, "predict_proba"):
        out["proba"] = plain(estimator.predict_proba(inputs))
    return json.loads(json.dumps(out, default=str))  # as the other process's reads back (floats: every bit)


def fitted_runs(tmp: str) -> str:
    """Every task's :func:`fitted_run`, as JSON (run in a fresh process by the test below)."""
    torch.set_num_threads(1)
    return json.dumps({task: fitted_run(task, Path(tmp) / task) for task in TASK_NAMES}, default=str)


@pytest.fixture(scope="module")
def first_runs(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("first")
    return {task: fitted_run(task, root / task) for task in TASK_NAMES}


@pytest.mark.parametrize("task", TASK_NAMES)
def test_fitting_again_in_the_same_process_gives_the_same_model(task, first_runs, tmp_path):
    """Bug guarded: fit reading random numbers it did not seed (a shuffle, a dropout mask, an
    initialisation or a split drawn from the global generators), so the second fit differs."""
    random.random(), np.random.rand(3), torch.rand(3)  # move every global generator on
    again = fitted_run(task, tmp_path)
    assert again["weights"] == first_runs[task]["weights"]
    assert again == first_runs[task]


def test_a_fresh_process_with_another_hash_seed_gives_the_same_models(first_runs, tmp_path):
    """Bug guarded: an order taken from a set or from hashing (vocabulary, labels, characters),
    which changes with Python's hash seed in every new process."""
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import test_reproducibility as t; "
            f"print(t.fitted_runs({str(tmp_path)!r}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, "PYTHONHASHSEED": seed, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    other = json.loads(proc.stdout.strip().splitlines()[-1])
    for task in TASK_NAMES:
        assert other[task]["weights"] == first_runs[task]["weights"], task
        assert other[task] == first_runs[task], task


def test_another_seed_gives_another_model(first_runs, tmp_path, monkeypatch):
    """The comparisons above can fail: a digest that missed the weights would pass them anyway."""
    seed = get_task_class("text-classifier")(**CASES["text-classifier"].params).get_params()["seed"]
    monkeypatch.setitem(CASES["text-classifier"].params, "seed", seed + 1)
    other = fitted_run("text-classifier", tmp_path)
    assert other["weights"].keys() == first_runs["text-classifier"]["weights"].keys()
    assert other["weights"] != first_runs["text-classifier"]["weights"]
    assert other["proba"] != first_runs["text-classifier"]["proba"]
