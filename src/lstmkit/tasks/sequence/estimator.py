"""``SequenceClassifier``: the ``sequence-classifier`` task's estimator.

A multivariate sequence ``(T, F)`` -> a label (speaker, digit, activity); or, with
``data.label_per_step=true``, a target for every step: a label (``data.target_kind=label``) or a
number (``data.target_kind=value``). It reads long CSV and UEA/sktime ``.ts`` files
(:mod:`lstmkit.tasks.sequence.inputs`), standardises each feature with the training steps'
mean and standard deviation (saved as ``scaler.json``), batches sequences of different lengths
with their lengths (the core masks padding exactly), and trains
:class:`~lstmkit.tasks.sequence.network.SequenceNet` with the shared trainer. Labels, records,
the stratified split and the confusion matrix come from the shared classification layer.

What each mode returns:

=================  ==============================  ==============================================
method             one label per sequence          per step (label / value)
=================  ==============================  ==============================================
``predict``        a label per sequence            a list of ``T_i`` labels / floats per sequence
``predict_proba``  ``(N, C)``                      label: a list of ``(T_i, C)`` arrays; value: error
``predict_records``  ``{length, label,             ``{length, labels, confidence}`` /
                   probabilities}``                ``{length, values}``
``evaluate``       accuracy, macro_f1, per_class,  label: the same over all real steps, ``n`` steps,
                   n                               ``n_sequences``; value: ``mae``, ``rmse``,
                                                   ``mse``, ``n`` steps, ``n_sequences``
``score``          accuracy                        label: per-step accuracy; value: R^2 per step
=================  ==============================  ==============================================
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from lstmkit.data.batching import BucketBatchSampler, IndexDataset, sorted_batches
from lstmkit.data.formats.tables import Labels
from lstmkit.data.scaling import Standardizer
from lstmkit.data.splits import random_split
from lstmkit.errors import DataError, LstmkitError, ModelFolderError
from lstmkit.inference import map_batches, network_device
from lstmkit.metrics.classification import classification_metrics
from lstmkit.tasks.base import Estimator, as_list
from lstmkit.tasks.classification import Classifier, ClassLabels, text_form
from lstmkit.tasks.sequence.config import SequenceClassifierConfig
from lstmkit.tasks.sequence.inputs import (
    Sequences,
    as_sequences,
    as_step_targets,
    read_sequences,
    row_line,
    sequences_from_frame,
)
from lstmkit.tasks.sequence.network import SequenceNet
from lstmkit.tasks.sequence.padding import (
    feature_shift,
    fit_scaler,
    jitter,
    magnitude,
    pad_batch,
    scale_sequences,
    time_shift,
)


def _significant(value: float) -> float:
    """A float32 result as the shortest float that reads back to it (``0.1``, not ``0.100000001``)."""
    return float(np.format_float_positional(np.float32(value), unique=True, trim="-"))


class SequenceClassifier(Classifier):
    """Multivariate sequence -> label (or a target per step) with a (Bi)LSTM/GRU.

    >>> clf = SequenceClassifier(hidden_size=64, epochs=30).fit(sequences, labels)  # doctest: +SKIP
    >>> clf.predict([np.zeros((20, 12))])                                         # doctest: +SKIP
    """

    task = "sequence-classifier"
    config_class = SequenceClassifierConfig
    monitor = "loss"  # validation loss picks the kept epoch (smooth even on a few dozen sequences)
    monitor_mode = "min"
    takes_text = False
    inference_batch_size = 256

    # -- settings ------------------------------------------------------------
    def _config(self):
        return getattr(self, "config_", None) or self.resolved_config()

    @property
    def _mode(self) -> str:
        """``"sequence"``, ``"step_label"`` or ``"step_value"``, from ``data.*``."""
        data = self._config().data
        if not data.label_per_step:
            return "sequence"
        return "step_value" if data.target_kind == "value" else "step_label"

    # -- reading data --------------------------------------------------------
    def _model_columns(self) -> dict:
        """What a fitted model knows of its feature columns, for the readers (names may be None)."""
        return {
            "model_features": getattr(self, "feature_names_", None),
            "n_features": getattr(self, "n_features_", None),
        }

    def read_data(self, path) -> tuple[list[np.ndarray], Labels]:
        """A labelled ``.ts`` or long ``.csv``/``.tsv`` file -> ``(sequences, targets)``; also a long
        pandas DataFrame (one row per step, with the id, feature and label columns)."""
        data = self._config().data
        if hasattr(path, "columns"):
            return sequences_from_frame(
                path, data, labelled=True, model_features=self._model_columns()["model_features"]
            )
        sequences, targets = read_sequences(path, data, labelled=True, **self._model_columns())
        self._check_file_features(sequences, path)
        return sequences, targets

    def read_inputs(self, path) -> list[np.ndarray]:
        """Sequences to predict; a label column (or .ts labels) in the file is ignored."""
        sequences, _ = read_sequences(path, self._config().data, labelled=False, **self._model_columns())
        self._check_file_features(sequences, path)
        return sequences

    def _check_file_features(self, sequences, path) -> None:
        expected = getattr(self, "n_features_", None)
        if expected is not None and sequences and sequences[0].shape[1] != expected:
            found, known = getattr(sequences, "features", None), getattr(self, "feature_names_", None)
            count = sequences[0].shape[1]
            raise DataError(
                f"{count} feature column{'s' if count != 1 else ''}"
                + (f" ({', '.join(found)})" if found else "")
                + f", but the model was trained on {expected}"
                + (f" ({', '.join(known)})" if known else "")
                + " (set data.feature_columns to choose them)",
                path=path,
            )

    def inputs_from_json(self, items: list) -> list[np.ndarray]:
        """A list of sequences, each a list of feature rows (lists of numbers): steps x features,
        whatever ``data.layout`` says of Python arrays. Returned as Python callers pass sequences
        (``(F, T_i)`` arrays for ``data.layout=channels_first``), so the server's merged batches
        read right."""
        if not isinstance(items, list):
            raise DataError(
                f"inputs must be a list of sequences (each a list of feature rows), got {type(items).__name__}"
            )
        sequences = as_sequences(items, "input", getattr(self, "n_features_", None))
        if self._config().data.layout == "channels_first":
            return [np.ascontiguousarray(x.T) for x in sequences]
        return sequences

    def coerce(self, X, y=None):
        """Sequences as float32 arrays ``(T_i, F)`` (see :func:`~lstmkit.tasks.sequence.inputs.as_sequences`:
        arrays laid out as ``data.layout`` says) and targets in the mode's form; the feature count
        must be the model's once fitted. A long pandas DataFrame (one row per step) is read by the
        rules of a long CSV, its targets from ``data.label_column`` when ``y`` is None and the
        column is there. What a file or a frame said of the sequences (ids, feature names, rows)
        is kept (:class:`~lstmkit.tasks.sequence.inputs.Sequences`)."""
        data = self._config().data
        if hasattr(X, "columns"):
            labelled = y is None and data.label_column in [str(c).strip() for c in X.columns]
            X, from_frame = sequences_from_frame(
                X, data, labelled, model_features=self._model_columns()["model_features"]
            )
            y = from_frame if y is None else y
        read = isinstance(X, Sequences)  # from a file, a frame or an earlier coerce: steps x features already
        sequences = as_sequences(
            X, "sequence", getattr(self, "n_features_", None), layout="channels_last" if read else data.layout
        )
        sequences = X.like(sequences) if read else Sequences(sequences)
        if y is None:
            return sequences, None
        mode = self._mode
        if mode == "sequence":
            labels = y if isinstance(y, list) else as_list(y)
            if len(labels) != len(sequences):
                raise DataError(f"{len(sequences)} sequences but {len(labels)} labels")
            return sequences, labels
        return sequences, as_step_targets(y, sequences, "value" if mode == "step_value" else "label")

    @contextmanager
    def _training_data(self, X, y, valid, out_dir):
        """The shared hold-out (:meth:`Estimator._training_data`), after noting the training data's
        feature column names (a long CSV's or DataFrame's; None for arrays and ``.ts`` files)."""
        X, y = self.coerce(X, y)
        if y is None:
            raise DataError(
                "fit needs targets: fit(sequences, labels), or a long DataFrame (or read_data's "
                f"file) with the {self.config_.data.label_column!r} column (data.label_column)"
            )
        self._feature_names = getattr(X, "features", None)
        with super()._training_data(X, y, valid, out_dir) as data:
            yield data

    @staticmethod
    def subset(values, indices: list[int]):
        """As :meth:`Estimator.subset`; checked sequences stay :class:`Sequences` (not read again by
        ``data.layout``)."""
        if isinstance(values, Sequences):
            return values.subset(indices)
        return Estimator.subset(values, indices)

    def split_validation(self, X, y, fraction: float, seed: int):
        """Stratified by label for one label per sequence; random for per-step targets."""
        if self._mode == "sequence":
            return super().split_validation(X, y, fraction, seed)
        return random_split(len(X), fraction, seed)

    # -- learning ------------------------------------------------------------
    def _prepare(self, X: list[np.ndarray], y) -> None:
        data = self.config_.data
        self.n_features_ = int(X[0].shape[1])
        self.feature_names_ = getattr(self, "_feature_names", None)
        self.scaler_ = fit_scaler(X) if data.scale else None
        self.target_scaler_ = None
        self.class_weights_ = None
        mode = self._mode
        if mode == "sequence":
            self.class_weights_ = self.balanced_weights(self._fit_labels(y))
        elif mode == "step_label":
            self.labels_ = ClassLabels.fit([label for steps in y for label in steps], source=_origin(y))
            self.class_weights_ = self.balanced_weights(np.concatenate(self._step_ids(y)))
        else:
            self.target_scaler_ = Standardizer(["target"]).fit(np.concatenate(y)[:, None])

    def _step_ids(self, y, source=None) -> list[np.ndarray]:
        """Per-step labels -> one int64 id array per sequence; an unknown label names its line."""
        out = []
        for i, steps in enumerate(y):
            try:
                out.append(np.asarray(self.labels_.encode(steps, source), dtype=np.int64))
            except DataError:
                known = set(self.labels_.names())
                bad = next(
                    s
                    for s in steps
                    if text_form(s).strip() not in known
                    and text_form(s).strip().lower() not in {k.lower() for k in known}
                )
                path, line = y.where(i) if isinstance(y, Labels) else (None, None)
                data = self.config_.data
                raise DataError(
                    f"unknown label {text_form(bad)!r}"
                    + ("" if path else f" in sequence {i + 1}")
                    + f"; the model knows: {', '.join(self.labels_.names())}",
                    path=path or source,
                    line=row_line(path, line, data, text_form(bad)),
                ) from None
        return out

    def _targets(self, y, source=None):
        """Targets -> what the network trains on: label ids ``(N,)``, or a per-step array per sequence."""
        mode = self._mode
        if mode == "sequence":
            return np.asarray(self.labels_.encode(y, source), dtype=np.int64)
        if mode == "step_label":
            return self._step_ids(y, source)
        return [np.asarray(v, dtype=np.float32) for v in y]

    def _scaled(self, X: list[np.ndarray]) -> list[np.ndarray]:
        return scale_sequences(self.scaler_, X) if self.scaler_ is not None else [np.asarray(x, np.float32) for x in X]

    def _build_network(self) -> SequenceNet:
        mode = self._mode
        kwargs = {}
        if mode == "step_value":
            kwargs = {
                "target_mean": float(self.target_scaler_.mean_[0]),
                "target_scale": float(self.target_scaler_.scale_[0]),
            }
        n_outputs = 1 if mode == "step_value" else len(self.labels_)
        return SequenceNet(
            self.n_features_,
            n_outputs,
            self.config_.model,
            mode,
            class_weights=getattr(self, "class_weights_", None),
            **kwargs,
        )

    def _loader(self, X, y, train: bool) -> DataLoader:
        """Batches ``{"x" (B, T, F), "lengths" (B,), "labels" (B,) | (B, T) | "targets" (B, T)}`` of
        similar lengths (shuffled when ``train``, with the ``train.*`` augmentation)."""
        X, y = self.coerce(X, y)
        mode, cfg = self._mode, self.config_.train
        shifting_features = train and cfg.feature_shift > 0  # on the raw values, scaled per batch
        xs = [np.asarray(x, np.float32) for x in X] if shifting_features else self._scaled(X)
        targets = self._targets(y)
        augmenting = train and (cfg.max_shift or cfg.jitter or cfg.magnitude or cfg.feature_shift)
        sampler = BucketBatchSampler([len(x) for x in xs], cfg.batch_size, shuffle=train, seed=cfg.seed)

        def collate(indices: list[int]) -> dict:
            batch_x = [xs[i] for i in indices]
            batch_y = [targets[i] for i in indices] if mode != "sequence" else None
            if augmenting:
                # Drawn from torch's generator, which checkpoints save: a resumed run augments alike.
                rng = np.random.default_rng(int(torch.randint(0, 2**62, ())))
                if shifting_features:
                    batch_x = self._scaled([feature_shift(x, rng, cfg.feature_shift) for x in batch_x])
                batch_x, batch_y = self._augment(batch_x, batch_y, rng)
            x, lengths = pad_batch(batch_x)
            batch = {"x": x, "lengths": lengths}
            if mode == "sequence":
                batch["labels"] = torch.from_numpy(targets[indices])
            else:
                padded = torch.zeros(x.shape[:2], dtype=torch.long if mode == "step_label" else torch.float32)
                for row, steps in enumerate(batch_y):
                    padded[row, : len(steps)] = torch.from_numpy(np.asarray(steps))
                batch["labels" if mode == "step_label" else "targets"] = padded
            return batch

        return DataLoader(IndexDataset(len(xs)), batch_sampler=sampler, collate_fn=collate)

    def _augment(self, xs, ys, rng):
        """``train.max_shift`` (per-step targets move with their steps), ``train.jitter``, ``train.magnitude``
        on scaled sequences (``train.feature_shift`` comes before, in ``_loader``, on raw ones)."""
        cfg = self.config_.train
        out_x, out_y = [], [] if ys is not None else None
        for n, x in enumerate(xs):
            if cfg.max_shift:
                if ys is None:
                    x = time_shift(x, rng, cfg.max_shift)
                else:  # shift features and targets together: one extra column, one draw
                    both = time_shift(
                        np.concatenate([x, np.asarray(ys[n], np.float32)[:, None]], 1), rng, cfg.max_shift
                    )
                    x, steps = both[:, :-1], both[:, -1].astype(np.asarray(ys[n]).dtype)
                    out_y.append(steps)
            elif ys is not None:
                out_y.append(ys[n])
            if cfg.jitter:
                x = jitter(x, rng, cfg.jitter)
            if cfg.magnitude:
                x = magnitude(x, rng, cfg.magnitude)
            out_x.append(x)
        return out_x, out_y

    # -- inference -----------------------------------------------------------
    def _outputs(self, X: list[np.ndarray]) -> list[np.ndarray]:
        """The network's output per sequence, in input order: probabilities ``(C,)`` (sequence),
        ``(T_i, C)`` (step labels) or values ``(T_i,)`` (step values). Length-sorted batches, eval
        mode, no gradients (on a CPU one batch per core at a time)."""
        net = self.network_.eval()
        device = network_device(net)
        xs = self._scaled(X)
        batches = sorted_batches([len(x) for x in xs], self.inference_batch_size)
        mode = self._mode

        def one_batch(indices: list[int]) -> list[np.ndarray]:
            x, lengths = pad_batch([xs[i] for i in indices])
            out = net(x.to(device), lengths.to(device)).float()
            if mode != "step_value":
                out = torch.softmax(out, dim=-1)
            out = out.cpu().numpy()
            return [out[row] if mode == "sequence" else out[row, : int(lengths[row])] for row in range(len(indices))]

        results: list = [None] * len(xs)
        for indices, outs in zip(batches, map_batches(one_batch, batches, device)):
            for i, out in zip(indices, outs):
                results[i] = out
        return results

    def predict_proba(self, X):
        """Label probabilities in the order of ``labels_``: ``(N, C)`` for one label per sequence;
        a list of ``(T_i, C)`` arrays for per-step labels."""
        self._check_fitted()
        X = self.coerce(X)[0]
        mode = self._mode
        if mode == "step_value":
            raise LstmkitError("a model of per-step values (data.target_kind=value) has no probabilities; use predict")
        outputs = self._outputs(X) if X else []
        if mode == "step_label":
            return outputs
        return np.stack(outputs) if outputs else np.zeros((0, len(self.labels_)), dtype=np.float32)

    def predict(self, X) -> list:
        """A label per sequence, or a list of ``T_i`` labels / floats per sequence (per-step modes)."""
        mode = self._mode
        if mode == "sequence":
            return super().predict(X)
        self._check_fitted()
        X = self.coerce(X)[0]
        outputs = self._outputs(X) if X else []
        if mode == "step_label":
            return [self.labels_.decode(p.argmax(axis=1)) for p in outputs]
        return [[_significant(v) for v in values] for values in outputs]

    def _input_records(self, X) -> list[dict]:
        return [{"length": len(x)} for x in X]

    def export_module(self):
        """The tensor-only network for ONNX export (:mod:`lstmkit.tasks.sequence.export`)."""
        from lstmkit.tasks.sequence.export import export_spec

        return export_spec(self)

    def run_with_states(self, X) -> list[dict]:
        """Per sequence: the recurrent stack's gates and states at every step
        (:mod:`lstmkit.tasks.sequence.explain`)."""
        from lstmkit.tasks.sequence.explain import run_with_states

        return run_with_states(self, X)

    def attribution_spec(self, x, target=None):
        """Integrated gradients from a label's probability (or a step's value) to the steps and
        features (:mod:`lstmkit.tasks.sequence.explain`)."""
        from lstmkit.tasks.sequence.explain import attribution_spec

        return attribution_spec(self, x, target)

    def predict_records(self, X) -> list[dict]:
        """``{length, label, probabilities}``; per step ``{length, labels, confidence}`` (the
        probability of each step's label) or ``{length, values}``. Sequences read from a long CSV
        also give their ``sequence_id`` (first)."""
        if hasattr(X, "columns"):  # a long DataFrame: its ids name the records
            X = self.coerce(X)[0]
        ids = getattr(X, "ids", None)
        records = self._records(X)
        if ids is not None:
            records = [{"sequence_id": i, **r} for i, r in zip(ids, records)]
        return records

    def _records(self, X) -> list[dict]:
        mode = self._mode
        if mode == "sequence":
            return super().predict_records(X)
        self._check_fitted()
        X = self.coerce(X)[0]
        outputs = self._outputs(X) if X else []
        if mode == "step_value":
            return [{"length": len(x), "values": [_significant(v) for v in out]} for x, out in zip(X, outputs)]
        return [
            {
                "length": len(x),
                "labels": self.labels_.decode(p.argmax(axis=1)),
                "confidence": [round(float(v), 6) for v in p.max(axis=1)],
            }
            for x, p in zip(X, outputs)
        ]

    def evaluate(self, X, y, source: str | Path | None = None) -> dict:
        """See the module docstring's table; per-step metrics count every real step once."""
        mode = self._mode
        if mode == "sequence":
            return super().evaluate(X, y, source)
        self._check_fitted()
        X, y = self.coerce(X, y)
        if not X:
            raise DataError("no sequences to evaluate", path=source)
        if mode == "step_label":
            true = np.concatenate(self._step_ids(y, source))
            pred = np.concatenate([p.argmax(axis=1) for p in self._outputs(X)])
            names = self.labels_.names()
            metrics = classification_metrics([names[i] for i in true], [names[i] for i in pred])
        else:
            true = np.concatenate(y).astype(np.float64)
            error = np.concatenate(self._outputs(X)).astype(np.float64) - true
            mse = float(np.mean(error**2))
            metrics = {"mae": float(np.mean(np.abs(error))), "rmse": float(np.sqrt(mse)), "mse": mse, "n": len(true)}
        metrics["n_sequences"] = len(X)
        return metrics

    def score(self, X, y) -> float:
        """Accuracy (per step for step labels); R^2 over all steps for step values."""
        if self._mode != "step_value":
            return self.evaluate(X, y)["accuracy"]
        from sklearn.metrics import r2_score

        X, y = self.coerce(X, y)
        return float(r2_score(np.concatenate(y), np.concatenate(self._outputs(X))))

    def table_row(self, record: dict) -> dict:
        return super().table_row(record) if self._mode == "sequence" else Estimator.table_row(self, record)

    def write_predictions(self, records: list[dict], path: Path, inputs=None) -> Path:
        """As every task writes them; per-step predictions to ``.csv`` / ``.tsv`` are long, like the
        input: one row per step (:meth:`step_rows`), not lists in a cell."""
        path = Path(path)
        if self._mode == "sequence" or path.suffix.lower() == ".jsonl":
            return super().write_predictions(records, path, inputs)
        from lstmkit.predictions import write_table

        self.check_output_path(path)
        return write_table(self.step_rows(records, inputs), path)

    def step_rows(self, records: list[dict], inputs=None) -> list[dict]:
        """Per-step records as a long table, one row per step: the id column (``data.id_column``;
        ``sequence``, counted from 1, for inputs without ids), the time column when the input was
        sorted by one, ``step`` (from 1, in time order), then ``label`` and ``confidence`` (step
        labels) or ``value`` (step values). Rows read from a long CSV or DataFrame come in the
        input's own row order, so row ``i`` of the output is about row ``i`` of the input's data
        (blank lines left out); other inputs sequence by sequence."""
        data = self._config().data
        rows_of = getattr(inputs, "rows", None)
        times = getattr(inputs, "times", None)
        table: list[tuple[int, dict]] = []
        for n, record in enumerate(records):
            seq = {data.id_column: record["sequence_id"]} if "sequence_id" in record else {"sequence": n + 1}
            outputs = (
                [{"label": label, "confidence": p} for label, p in zip(record["labels"], record["confidence"])]
                if "labels" in record
                else [{"value": v} for v in record["values"]]
            )
            for t, output in enumerate(outputs):
                row = dict(seq)
                if times is not None and data.time_column:
                    row[data.time_column] = times[n][t]
                row["step"] = t + 1
                row.update(output)
                order = int(rows_of[n][t]) if rows_of is not None else len(table)
                table.append((order, row))
        return [row for _, row in sorted(table, key=lambda item: item[0])]

    def format_record(self, record: dict) -> str:
        """``[id]  label  probability  T steps``; per step ``[id]  T steps  l1 l2 ...`` or ``... v1 v2 ...``."""
        steps = (f"{record['sequence_id']}\t" if "sequence_id" in record else "") + f"{record['length']} steps"
        if "labels" in record:
            return steps + "\t" + " ".join(text_form(label) for label in record["labels"])
        if "values" in record:
            return steps + "\t" + " ".join(f"{v:.4g}" for v in record["values"])
        label = text_form(record["label"])
        shown = f"{label}\t{record['probabilities'][label]:.3f}\t{record['length']} steps"
        return f"{record['sequence_id']}\t{shown}" if "sequence_id" in record else shown

    def _plot_validation(self, X_valid, y_valid, plots_dir: Path) -> None:
        """The confusion matrix of the kept model (over steps for step labels; none for values)."""
        mode = self._mode
        if mode == "sequence":
            return super()._plot_validation(X_valid, y_valid, plots_dir)
        if mode == "step_label":
            from lstmkit.metrics.classification import confusion
            from lstmkit.plots import plot_confusion_matrix

            names = self.labels_.names()
            true = [names[i] for i in np.concatenate(self._step_ids(y_valid))]
            pred = [names[i] for p in self._outputs(X_valid) for i in p.argmax(axis=1)]
            plot_confusion_matrix(
                confusion(true, pred, labels=names),
                names,
                plots_dir / "confusion_matrix.png",
                title="confusion matrix (per step)",
            )

    # -- model folder --------------------------------------------------------
    def _folder_state(self) -> dict:
        config = {"n_features": self.n_features_}
        if getattr(self, "feature_names_", None):
            config["feature_names"] = list(self.feature_names_)
        if self._mode != "step_value":
            config.update(self._label_state())
        extra = {}
        if self.scaler_ is not None:
            extra["scaler"] = self.scaler_.to_json()
        if self.target_scaler_ is not None:
            extra["target_scaler"] = self.target_scaler_.to_json()
        return {"config": config, "extra": extra or None}

    def _restore(self, folder) -> None:
        where = Path(folder.path)
        try:
            self.n_features_ = int(folder.config["n_features"])
            names = folder.config.get("feature_names")  # absent from folders saved before lstmkit knew them
            self.feature_names_ = (
                [str(n) for n in names] if isinstance(names, list) and len(names) == self.n_features_ else None
            )
            if self._mode != "step_value":
                self._restore_labels(folder.config)
        except (KeyError, TypeError, ValueError) as error:
            raise ModelFolderError(f"{where / 'config.json'}: missing or bad key {error}") from None
        self.scaler_ = self._read_scaler(folder, "scaler") if self.config_.data.scale else None
        self.target_scaler_ = self._read_scaler(folder, "target_scaler") if self._mode == "step_value" else None
        self.class_weights_ = None

    @staticmethod
    def _read_scaler(folder, name: str) -> Standardizer:
        path = Path(folder.path) / f"{name}.json"
        if name not in folder.extra:
            raise ModelFolderError(f"{path}: file missing (the model was saved with it)")
        try:
            return Standardizer.from_json(folder.extra[name])
        except ValueError as error:
            raise ModelFolderError(f"{path}: {error}") from None


def _origin(y):
    return y.where(0)[0] if isinstance(y, Labels) and len(y) else None
