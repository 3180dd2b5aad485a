"""What every classifier shares (text classifier, sequence classifier): labels, weights, records.

* :class:`ClassLabels` — the label set of a model: label <-> id, with the label's type kept
  (strings, integers, booleans: ``predict`` returns what ``fit`` saw) and labels read from a
  file, where every value is text, matched by their text form (``"1"`` is the label ``1``).
  An unknown label is a :class:`DataError` naming its file and line when it came from a reader.
* :class:`ClassifierTrainConfig` — ``train.*`` plus ``class_weights`` (a classification setting).
* :class:`Classifier` — an :class:`~lstmkit.tasks.base.Estimator` that implements ``predict``,
  ``predict_records`` (label + probabilities), ``evaluate`` (accuracy, macro-F1 over the labels
  present, per class), ``score`` (accuracy), a validation split stratified by label, and the
  confusion-matrix plot, on top of one method a task writes: ``predict_proba(X) (N, C)``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sklearn.base import ClassifierMixin

from lstmkit.data.naming import data_name
from lstmkit.data.splits import stratified_split
from lstmkit.errors import DataError
from lstmkit.metrics.classification import classification_metrics
from lstmkit.tasks.base import Estimator
from lstmkit.training.config import TrainConfig

JSON_LABEL_TYPES = (str, bool, int)


@dataclass
class ClassifierTrainConfig(TrainConfig):
    """``train.*`` of a classifier: the shared training settings and ``class_weights``."""

    class_weights: Literal["none", "balanced"] = "none"
    """Weight the loss by inverse class frequency, n / (C * n_c) (scikit-learn's "balanced");
    "none" weighs all examples equally."""


def text_form(label: Any) -> str:
    """How a label is written in a data file: ``1`` -> ``"1"``, ``True`` -> ``"true"``."""
    if isinstance(label, bool):
        return "true" if label else "false"
    return str(label)


def _origin(labels, index: int) -> tuple[Path | None, int | None]:
    where = getattr(labels, "where", None)
    return where(index) if where is not None else (None, None)


class ClassLabels(list):
    """The sorted label set of a classifier and the label <-> id maps.

    It is the ``list`` of the labels (a classifier's ``labels_``: ``clf.labels_ == ["neg", "pos"]``)
    with the maps as methods; ``labels`` is the same list as a plain ``list``.
    """

    def __init__(self, labels: Sequence):
        super().__init__(labels)
        self._by_value = {label: i for i, label in enumerate(self)}
        self._by_text: dict[str, int] = {}
        for i, label in enumerate(self):
            self._by_text.setdefault(text_form(label), i)
            if isinstance(label, bool):
                self._by_text.setdefault(str(label), i)  # "True"
        self._by_text_lower = {t.lower(): i for t, i in self._by_text.items()}

    @classmethod
    def fit(cls, y: Sequence, source: str | Path | None = None) -> ClassLabels:
        """The distinct labels of ``y``, sorted; at least two, each a string, integer or boolean."""
        values = []
        for n, label in enumerate(y):
            if hasattr(label, "item") and not isinstance(label, (str, bytes)):
                label = label.item()  # numpy scalars -> Python
            if not isinstance(label, JSON_LABEL_TYPES):
                path, line = _origin(y, n)
                raise DataError(f"label {label!r} of example {n + 1} is a {type(label).__name__}; labels must be "
                                "strings, integers or booleans", path=path or source, line=line)
            values.append(label)
        distinct = sorted(set(values), key=lambda v: (type(v).__name__, v))
        if len({type(v) for v in distinct}) > 1 and not all(isinstance(v, int) for v in distinct):
            raise DataError(f"labels mix types ({', '.join(sorted({type(v).__name__ for v in distinct}))}); "
                            "use one type", path=_origin(y, 0)[0] or source)
        if len(distinct) < 2:
            raise DataError(f"training data needs at least 2 distinct labels; found {distinct}",
                            path=_origin(y, 0)[0] or source)
        return cls(distinct)

    @property
    def labels(self) -> list:
        """The labels as a plain ``list`` (for JSON, and for code written before this class was one)."""
        return list(self)

    def names(self) -> list[str]:
        """The labels' text forms (axis labels, JSON keys)."""
        return [text_form(label) for label in self]

    def encode(self, y: Sequence, source: str | Path | None = None) -> list[int]:
        """Labels -> ids. A string matches a label by its text form (a file's ``"1"`` is ``1``).

        An unknown label is a :class:`DataError` naming its file and line when ``y`` came from a
        reader (else ``source`` and the example number); the message never fails on odd types.
        """
        ids = []
        for n, label in enumerate(y):
            if hasattr(label, "item") and not isinstance(label, (str, bytes)):
                label = label.item()
            i = self._by_value.get(label) if not isinstance(label, float) or label == label else None
            if i is not None and type(label) is not type(self[i]) and isinstance(label, bool):
                i = None  # True == 1 in Python; a boolean is not the label 1
            if i is None and isinstance(label, str):
                text = label.strip()
                i = self._by_text.get(text, self._by_text_lower.get(text.lower()))
            if i is None:
                known = ", ".join(self.names())
                path, line = _origin(y, n)
                if path is None:
                    raise DataError(f"unknown label {text_form(label)!r} in example {n + 1}; the model knows: "
                                    f"{known}", path=source)
                raise DataError(f"unknown label {text_form(label)!r}; the model knows: {known}", path=path,
                                line=line)
            ids.append(i)
        return ids

    def decode(self, ids: Sequence[int]) -> list:
        return [self[int(i)] for i in ids]


class Classifier(ClassifierMixin, Estimator):
    """An estimator that predicts one label per input from ``predict_proba``."""

    monitor = "accuracy"
    monitor_mode = "max"

    @abc.abstractmethod
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(N, C)`` in the order of ``labels_``."""

    def _input_records(self, X) -> list[dict]:
        """Per input, what a record shows of it besides the prediction (``{"text": ...}``)."""
        return [{} for _ in range(len(X))]

    # -- learned labels ------------------------------------------------------
    # ``labels_``: the :class:`ClassLabels` set by ``fit`` / ``load`` (a list of the labels, with the maps).
    @property
    def classes_(self) -> np.ndarray:
        """The labels as a NumPy array, as scikit-learn's classifiers have them (``predict`` returns
        items of it; ``predict_proba``'s columns are in its order). ``labels_`` is the same as a list."""
        return np.asarray(self.labels_.labels)

    def _fit_labels(self, y, source=None) -> list[int]:
        """Learn the label set from training labels; returns their ids."""
        self.labels_ = ClassLabels.fit(y, source)
        return self.labels_.encode(y, source)

    def balanced_weights(self, label_ids: Sequence[int]):
        """``train.class_weights``: None, or scikit-learn's balanced weights as a float tensor (C,)."""
        import torch
        from sklearn.utils.class_weight import compute_class_weight

        if getattr(self.config_.train, "class_weights", "none") != "balanced":
            return None
        weights = compute_class_weight("balanced", classes=np.arange(len(self.labels_)), y=np.asarray(label_ids))
        return torch.tensor(weights, dtype=torch.float32)

    def split_validation(self, X, y, fraction: float, seed: int):
        """Stratified by label: each label with 2+ examples keeps at least one in training."""
        return stratified_split([text_form(label) for label in y], fraction, seed, source=_origin(y, 0)[0])

    # -- using a model -------------------------------------------------------
    def predict(self, X) -> np.ndarray:
        """The most probable label per input: an array ``(N,)`` of ``classes_``' items (labels of
        the type ``fit`` saw, as NumPy holds them: ``str``, ``int64``, ``bool``), as scikit-learn's
        classifiers return it."""
        proba = self.predict_proba(X)
        return self.classes_[np.asarray(proba).argmax(axis=1)] if len(proba) else self.classes_[:0]

    def predict_records(self, X) -> list[dict]:
        """One ``{..input.., "label", "probabilities": {label: p}}`` per input."""
        X = self.coerce(X)[0]
        proba = self.predict_proba(X)
        names = self.labels_.names()
        return [{**extra, "label": self.labels_[int(row.argmax())],
                 "probabilities": {name: round(float(p), 6) for name, p in zip(names, row)}}
                for extra, row in zip(self._input_records(X), proba)]

    def evaluate(self, X, y) -> dict:
        """``accuracy``, ``macro_f1`` (over the labels present), ``per_class`` and ``n``."""
        source = data_name()
        X, y = self.coerce(X, y)
        true = self.labels_.encode(y, source)  # unknown labels are an error, not a silent miss
        pred = self.predict_proba(X).argmax(axis=1).tolist()
        names = self.labels_.names()
        return classification_metrics([names[i] for i in true], [names[i] for i in pred])

    def score(self, X, y) -> float:
        """Accuracy (what scikit-learn's ``GridSearchCV`` and ``cross_val_score`` maximise)."""
        return self.evaluate(X, y)["accuracy"]

    def format_metrics(self, title: str, metrics: dict) -> list[str]:
        """The accuracy line, then one line per label."""
        from lstmkit.metrics.classification import metrics_line

        return [metrics_line(title, metrics)] + [
            f"  {label:>12}  precision={row['precision']:.4f} recall={row['recall']:.4f} "
            f"f1={row['f1']:.4f} support={row['support']}" for label, row in metrics.get("per_class", {}).items()]

    def table_row(self, record: dict) -> dict:
        row = {k: v for k, v in record.items() if k != "probabilities"}
        row.update({f"prob_{name}": p for name, p in record["probabilities"].items()})
        return row

    def format_record(self, record: dict) -> str:
        label = record["label"]
        shown = [text_form(label), f"{record['probabilities'][text_form(label)]:.3f}"]
        if "text" in record:
            shown.append(record["text"])
        return "\t".join(shown)

    def _plot_validation(self, X_valid, y_valid, plots_dir: Path) -> None:
        """``confusion_matrix.png``: the kept model's validation predictions against the labels."""
        from lstmkit.metrics.classification import confusion
        from lstmkit.plots import plot_confusion_matrix

        names = self.labels_.names()
        true = [names[i] for i in self.labels_.encode(y_valid)]
        pred = [names[i] for i in self.predict_proba(X_valid).argmax(axis=1)]
        plot_confusion_matrix(confusion(true, pred, labels=names), names, plots_dir / "confusion_matrix.png")

    # -- model folder --------------------------------------------------------
    def _label_state(self) -> dict:
        """The labels for config.json, with their JSON types (``id2label`` for Hugging Face users)."""
        return {"labels": self.labels_.labels,
                "id2label": {str(i): label for i, label in enumerate(self.labels_.labels)}}

    def _restore_labels(self, config: dict) -> None:
        self.labels_ = ClassLabels(config["labels"])
