"""Explaining a sequence classifier (lstmkit.tasks.sequence.explain, `lstmkit explain MODEL --input
FILE`): the gates rebuild the network's own states, the outputs explained are what predict gives
(one label per sequence, a label or a value per step), integrated gradients add up per step and
per feature from the training-mean baseline, and the CLI's JSON and PNG."""

from __future__ import annotations

import json

import numpy as np
import pytest
import task_cases  # noqa: F401  (first: it imports every task_case_*.py)
import torch
from cell_reference import states_from_gates
from task_case_sequence import trend_sequences
from test_tasks_sequence import step_label_data, step_value_data
from typer.testing import CliRunner

from lstmkit import SequenceClassifier
from lstmkit.cli import app
from lstmkit.data.formats.long_csv import write_long_csv
from lstmkit.explain import ExplainError, explain
from lstmkit.tasks.sequence.explain import attribution_spec

TINY = dict(hidden_size=8, batch_size=16, epochs=3, lr=0.02, scheduler="none", patience=0)
runner = CliRunner()


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    X, y = trend_sequences(80, seed=0)
    sequence = SequenceClassifier(**TINY).fit(X, y)
    Xl, yl = step_label_data(60, seed=0)
    labels = SequenceClassifier(label_per_step=True, **TINY).fit(Xl, yl)
    Xv, yv = step_value_data(60, seed=0)
    values = SequenceClassifier(label_per_step=True, target_kind="value", **TINY).fit(Xv, yv)
    return {"sequence": (sequence, X[0]), "step_label": (labels, Xl[0]), "step_value": (values, Xv[0])}


def test_gates_rebuild_the_networks_own_states(models):
    """The LSTM equations rebuild the cell state from the returned gates, and o * tanh(c) is the
    state the network's own forward pass computes (captured by a hook). Swapped input and forget
    gates, or gates of unscaled features, fail this."""
    clf, x = models["sequence"]
    (record,) = clf.run_with_states([x])
    T = len(x)
    assert record["steps"] == [str(t) for t in range(1, T + 1)]
    seen = {}
    hook = clf.network_.rnn.register_forward_hook(lambda module, args, out: seen.update(x=args[0], states=out[0]))
    clf.predict_proba([x])
    hook.remove()
    states = states_from_gates(record["gates"], swap_gap=1e-3)
    np.testing.assert_allclose(states, seen["states"][0, :T].numpy(), atol=1e-5)
    spec = attribution_spec(clf, x)
    torch.testing.assert_close(spec.inputs, seen["x"][:1, :T])  # the scaled features the network reads


@pytest.mark.parametrize("mode", ["sequence", "step_label", "step_value"])
def test_outputs_are_what_predict_gives_and_attributions_add_up(models, mode):
    """Each mode's outputs equal predict's probabilities or values; the default target is the
    predicted label (at the last step for per-step labels, the last step's value for values);
    completeness holds per step and per feature; the baseline is the training mean (0 scaled)."""
    clf, x = models[mode]
    spec = attribution_spec(clf, x)
    (record,) = clf.predict_records([x])
    with torch.no_grad():
        values = spec.forward(spec.inputs)[0].numpy()
    T = len(x)
    if mode == "sequence":
        expected = [record["probabilities"][name] for name in spec.output_names]
        assert spec.target is None and spec.output_names[int(np.argmax(values))] == str(record["label"])
    elif mode == "step_label":
        names = [str(n) for n in clf.labels_.names()]
        assert spec.output_names[: len(names)] == [f"step 1: {n}" for n in names]
        assert spec.output_names[spec.target] == f"step {T}: {record['labels'][-1]}"
        per_step = values.reshape(T, len(names))  # (T, C)
        assert [names[k] for k in per_step.argmax(1)] == [str(label) for label in record["labels"]]
        np.testing.assert_allclose(per_step.max(1), record["confidence"], atol=1e-5)
        expected = None
    else:
        expected = record["values"]
        assert spec.output_names[spec.target] == f"step {T}"
    if expected is not None:
        np.testing.assert_allclose(values, expected, atol=1e-5)
    assert torch.equal(spec.baseline, torch.zeros_like(spec.inputs))
    explained = explain(clf, x, n_steps=256)  # max pooling has kinks: more points for a tight sum
    assert len(explained["attributions"]) == T
    c = explained["completeness"]
    assert abs(c["delta"]) < 2e-3 and c["sum"] == pytest.approx(c["output"] - c["baseline_output"], abs=2e-3)
    per_feature = np.asarray(explained["feature_attributions"])
    assert per_feature.shape == (T, 2)
    np.testing.assert_allclose(per_feature.sum(axis=1), explained["attributions"], atol=1e-9)


def test_target_by_name_and_a_wrong_one(models):
    clf, x = models["sequence"]
    for name in clf.labels_.names():
        assert explain(clf, x, target=str(name))["target"] == str(name)
    with pytest.raises(ExplainError, match="up"):
        explain(clf, x, target="sideways")


def test_cli_json_and_png(models, tmp_path):
    """`lstmkit explain MODEL --input FILE.csv --json --out FILE.png` on a saved model: one JSON object
    with the contract's keys (gates of the first sequence of the file) and a PNG."""
    clf, _ = models["sequence"]
    clf.save(tmp_path / "model")
    X, y = trend_sequences(3, seed=5)
    data = write_long_csv(tmp_path / "x.csv", X, y, feature_names=["a", "b"])
    result = runner.invoke(app, ["explain", str(tmp_path / "model"), "--input", str(data), "--json",
                                 "--out", str(tmp_path / "e.png")])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"tokens", "gates", "cell", "attributions", "baseline", "label", "target"} <= set(record)
    assert len(record["tokens"]) == len(X[0]) == len(record["attributions"]) == len(record["cell"])
    assert all(0 < v < 1 for row in record["gates"]["forget"] for v in row)
    assert (tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"
    text = runner.invoke(app, ["explain", str(tmp_path / "model"), "--text", "hello", "--json"])
    assert text.exit_code == 2
