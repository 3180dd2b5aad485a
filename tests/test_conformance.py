"""The task conformance suite: every registered task must pass it (see docs/writing-a-task.md).

Each test names the bug it guards against. Tiny data per task comes from ``task_cases.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from task_cases import CASES

from lstmkit import load
from lstmkit.errors import ConfigError, DataError, LstmkitError
from lstmkit.tasks import TASKS, get_task_class
from lstmkit.tasks.base import Estimator

TASK_NAMES = sorted(TASKS)


def same_predictions(a, b) -> bool:
    """``predict``'s outputs are equal: lists, NumPy arrays (classifiers, as scikit-learn's) or a
    pandas DataFrame (forecasts in the long layout)."""
    if isinstance(a, pd.DataFrame):
        return isinstance(b, pd.DataFrame) and a.equals(b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


def test_every_registered_task_has_a_case():
    """A task registered without tiny data would silently skip the whole suite."""
    assert set(TASK_NAMES) <= set(CASES), f"add a TaskCase to tests/task_cases.py for {set(TASK_NAMES) - set(CASES)}"


@pytest.fixture(scope="module", params=TASK_NAMES)
def fitted(request, tmp_path_factory):
    name = request.param
    case = CASES[name]
    tmp = tmp_path_factory.mktemp(name)
    cls = get_task_class(name)
    est = cls(**case.params)
    X, y = est.read_data(case.write_train(tmp))
    est.fit(X, y, out_dir=tmp / "run")
    return name, cls, est, case, tmp


def test_the_class_keeps_the_contract(fitted):
    """A task that forgets a hook, or registers under another name, breaks every CLI verb."""
    name, cls, est, _, _ = fitted
    assert issubclass(cls, Estimator) and cls.task == name
    assert not getattr(cls, "__abstractmethods__", None)


def test_save_load_gives_identical_outputs(fitted):
    """A preprocessing state left out of the model folder changes predictions after loading."""
    name, cls, est, case, tmp = fitted
    est.save(tmp / "model")
    same = load(tmp / "model")
    assert type(same) is cls
    inputs = est.inputs_from_json(case.json_inputs)
    assert same.predict_records(inputs) == est.predict_records(inputs)
    assert same_predictions(same.predict(inputs), est.predict(inputs))


def test_file_inputs_and_json_inputs_agree(fitted):
    """predict --input, the server and the Python API must share one path."""
    _, _, est, case, tmp = fitted
    X, _ = est.read_data(case.write_train(tmp))
    from_file = est.read_inputs(case.write_train(tmp))
    assert est.predict_records(from_file) == est.predict_records(X)


def test_empty_input_gives_empty_output(fitted):
    """An empty batch must not crash (the server may get one) nor invent a prediction."""
    _, _, est, _, _ = fitted
    assert len(est.predict(est.inputs_from_json([]))) == 0
    assert est.predict_records(est.inputs_from_json([])) == []


def test_records_are_json_ready(fitted):
    """A numpy float or a tensor in a record breaks --json and the HTTP API."""
    _, _, est, case, _ = fitted
    records = est.predict_records(est.inputs_from_json(case.json_inputs))
    assert len(records) == len(case.json_inputs)
    assert json.loads(json.dumps(records)) == records  # plain types only (no default= needed)


def test_malformed_json_input_is_a_data_error(fitted):
    """The server answers 422 only for DataError; anything else would be a 500 with a traceback."""
    _, _, est, _, _ = fitted
    for bad in ([{"nested": {"no": "such input"}}], [None], "not a list"):
        with pytest.raises(DataError):
            est.inputs_from_json(bad)


def test_resuming_a_run_with_other_data_is_refused(fitted):
    """A rerun into a run folder on other data would resume someone else's checkpoints."""
    name, cls, _, case, tmp = fitted
    other = cls(**case.params)
    X, y = other.read_data(case.write_other_train(tmp))
    with pytest.raises(ConfigError, match="other data"):
        other.fit(X, y, out_dir=tmp / "run")


def test_a_bad_data_file_names_file_and_line(fitted):
    """An error without file and line leaves the user searching a large file."""
    _, cls, _, case, tmp = fitted
    path, line = case.write_bad(tmp)
    with pytest.raises(DataError) as caught:
        cls(**case.params).read_data(path)
    assert str(path) in str(caught.value) and f"line {line}" in str(caught.value)


def test_scores_like_scikit_learn(fitted):
    """score() must be a number where higher is better, as model selection assumes."""
    _, _, est, case, tmp = fitted
    X, y = est.read_data(case.write_train(tmp))
    value = est.score(X, y)
    assert isinstance(value, float) and np.isfinite(value)


def test_export_module_traces_or_says_it_is_not_there(fitted):
    """An export module with Python branching on the data would freeze one batch's shape."""
    _, _, est, _, _ = fitted
    try:
        spec = est.export_module()
    except NotImplementedError as missing:
        assert "not available" in str(missing)
        return
    traced = torch.jit.trace(spec.module, spec.example_inputs)
    for a, b in zip(traced(*spec.example_inputs), spec.module(*spec.example_inputs)):
        torch.testing.assert_close(a, b)


def test_cli_errors_are_lstmkit_errors(fitted):
    """A task's --text on a task without text must be a clear error, not a crash."""
    _, cls, est, case, _ = fitted
    if cls.takes_text:
        assert est.inputs_from_texts([case.json_inputs[0]])
    else:
        with pytest.raises(LstmkitError):
            est.inputs_from_texts(["some text"])
