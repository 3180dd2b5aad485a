"""Classification metrics against scikit-learn and a hand-worked case."""

from __future__ import annotations

import json
import random
import warnings

import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from lstmkit.metrics.classification import classification_metrics, confusion


def test_hand_worked_example():
    y_true = ["a", "a", "b", "c"]
    y_pred = ["a", "b", "b", "a"]
    m = classification_metrics(y_true, y_pred)
    # a: TP 1, FP 1, FN 1 -> p = r = f1 = 1/2;  b: TP 1, FP 1 -> p 1/2, r 1, f1 2/3;  c: never predicted
    assert m["per_class"] == {
        "a": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2},
        "b": {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1},
        "c": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
    }
    assert m["accuracy"] == 0.5 and m["n"] == 4
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    assert confusion(y_true, y_pred, ["a", "b", "c"]) == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]


@pytest.mark.parametrize("seed", range(5))
def test_matches_sklearn_on_random_labels(seed):
    rng = random.Random(seed)
    labels = ["neg", "neu", "pos", "never"]  # "never" is never predicted (and rarely true)
    y_true = [rng.choice(labels) for _ in range(60)]
    y_pred = [rng.choice(labels[:3]) for _ in range(60)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # zero_division=0: no UndefinedMetricWarning
        m = classification_metrics(y_true, y_pred, labels=labels)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    assert list(m["per_class"]) == labels
    for i, label in enumerate(labels):
        got = m["per_class"][label]
        assert (got["precision"], got["recall"], got["f1"], got["support"]) == \
            pytest.approx((p[i], r[i], f[i], s[i]))
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert m["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))
    assert m["per_class"]["never"]["precision"] == 0.0
    assert confusion(y_true, y_pred, labels) == confusion_matrix(y_true, y_pred, labels=labels).tolist()


def test_values_are_plain_json_types():
    m = classification_metrics(["x", "y", "y"], ["x", "x", "y"])
    assert json.loads(json.dumps(m)) == m
    assert type(m["accuracy"]) is float and type(m["n"]) is int
    assert all(type(v["support"]) is int and type(v["f1"]) is float for v in m["per_class"].values())
    assert all(type(c) is int for row in confusion(["x"], ["y"]) for c in row)


def test_default_labels_are_sorted_union_of_true_and_predicted():
    m = classification_metrics(["b", "a"], ["c", "a"])
    assert list(m["per_class"]) == ["a", "b", "c"]
    assert confusion(["b", "a"], ["c", "a"]) == [[1, 0, 0], [0, 0, 1], [0, 0, 0]]


def test_bad_inputs():
    with pytest.raises(ValueError, match="2 true labels but 1 predictions"):
        classification_metrics(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no examples"):
        classification_metrics([], [])
