"""Classification metrics as plain JSON-safe Python values (computed by scikit-learn).

For each class c, with TP/FP/FN counted over all examples::

    precision_c = TP_c / (TP_c + FP_c)      recall_c = TP_c / (TP_c + FN_c)
    f1_c        = 2 precision_c recall_c / (precision_c + recall_c)
    macro_f1    = mean over classes of f1_c      accuracy = (# correct) / n

A ratio with a zero denominator (a class never predicted, or absent) is 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support


def _labels(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None) -> list:
    return list(labels) if labels is not None else sorted(set(y_true) | set(y_pred))


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str],
                           labels: Sequence[str] | None = None) -> dict:
    """``accuracy``, ``macro_f1``, ``per_class`` ({label: {precision, recall, f1, support}}), ``n``.

    ``labels`` fixes the classes (and their order) in ``per_class`` and the macro
    average; by default it is every label seen in ``y_true`` or ``y_pred``, sorted.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    if len(y_true) == 0:
        raise ValueError("no examples to score")
    labels = _labels(y_true, y_pred, labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    per_class = {
        str(label): {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for label, p, r, f, s in zip(labels, precision, recall, f1, support)
    }
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1.mean()) if len(labels) else 0.0,
        "per_class": per_class,
        "n": len(y_true),
    }


def confusion(y_true: Sequence[str], y_pred: Sequence[str],
              labels: Sequence[str] | None = None) -> list[list[int]]:
    """Confusion counts: ``matrix[i][j]`` = examples of class ``labels[i]`` predicted ``labels[j]``."""
    labels = _labels(y_true, y_pred, labels)
    return [[int(c) for c in row] for row in confusion_matrix(y_true, y_pred, labels=labels)]


def metrics_line(title: str, metrics: dict) -> str:
    """``"validation: loss=0.3100, accuracy=0.8700, n=1736"``: the numbers of ``metrics`` on one line."""
    flat = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return title + ": " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in flat.items())
