"""The estimator contract: what every task is, declared in one place.

A task is one subclass of :class:`Estimator` (``lstmkit/tasks/<task>``) plus one line in
:mod:`lstmkit.tasks`'s registry. The CLI verbs, the HTTP server, export and explanations
talk to a task only through the methods below, so a new task gets all of them by
implementing this contract, and proves it by passing ``tests/test_conformance.py``.
``docs/writing-a-task.md`` walks through adding one.

========================================  ====================================================
class attributes                          meaning
========================================  ====================================================
``task``                                  the registry name (``"text-classifier"``)
``config_class``                          a dataclass with ``data``, ``model``, ``train`` sections;
                                          every key becomes a keyword hyperparameter
                                          (:mod:`lstmkit.tasks.params`)
``monitor``, ``monitor_mode``             the validation metric that picks the kept epoch
``takes_text``                            True when ``--text`` / a JSON string is an input
========================================  ====================================================

Reading data (abstract unless said):

``read_data(path) -> (X, y)``             a labelled file in the task's format; file/line errors
``read_inputs(path) -> X``                inputs to predict (labels optional)
``inputs_from_json(items) -> X``          JSON-like inputs (the server's ``{"inputs": [...]}``),
                                          checked: a bad item is a :class:`DataError` (HTTP 422)
``inputs_from_texts(texts) -> X``         ``--text`` (only where ``takes_text``)
``coerce(X, y) -> (X, y)``                Python inputs as ``fit`` may get them (a list, an array,
                                          a pandas Series or DataFrame) -> the task's own form
``split_validation(X, y, fraction, seed)``  -> kept and held-out indices (random by default;
                                          stratified for classifiers)
``holdout(X, y, fraction, seed)``         -> ``(X, y, X_valid, y_valid)`` when no validation data
                                          is given (by default from ``split_validation``; a
                                          forecaster holds out the end of the series, with context)
``fingerprint(X, y, X_valid, y_valid)``   SHA-256 over the real bytes (:mod:`lstmkit.fingerprint`)

Learning (called by :meth:`Estimator.fit`; the trainer is :func:`lstmkit.training.train.fit`):

``read_training_data(path)``              what ``lstmkit train --train`` passes to ``fit``
                                          (by default ``read_data(path)``)
``_training_data(X, y, valid, out_dir)``  a context: ``(X, y, X_valid, y_valid)`` for the rest
                                          of ``fit`` (by default ``coerce`` and ``holdout``; the
                                          text classifier and the tagger stream into a token store)
``_prepare(X, y)``                        learn preprocessing (vocabulary, labels, scalers)
``_build_network()``                      the ``nn.Module`` (a :class:`lstmkit.training.train.TrainableModel`)
``_loader(X, y, train)``                  a ``DataLoader`` of batches for it
``_after_fit(X_valid, y_valid)``          optional: last step with the kept weights
``_plot_validation(X_valid, y_valid, dir)``  optional: task plots of the kept model
``_folder_state()`` / ``_restore(folder)``  the model folder's task state, both ways

Using a model:

``predict(X)``, ``evaluate(X, y)``        predictions; metrics of the contract (the file they
                                          came from, for messages: ``data_named``)
``predict_records(X) -> list[dict]``      JSON-ready records: what ``predict --json`` prints,
                                          ``predict --output`` writes and the server returns
``table_row(record)``, ``format_record(record)``  a record as a CSV row / one human line
``output_suffixes``, ``write_predictions(records, path)``  ``predict --output`` files (CSV, TSV,
                                          JSON Lines; a task may add its own, e.g. CoNLL)
``score(X, y)``                           scikit-learn's ``score`` (higher is better)

Hooks for export and explanations, which a task does not write as methods: the task registry
(:mod:`lstmkit.tasks.registry`) names its export function and explain module, and these methods
call them (a task without them raises :class:`NotImplementedError` with a message the CLI shows):

``export_module() -> ExportSpec``         a tensor-only ``nn.Module`` and example inputs
``run_with_states(X) -> list[dict]``      per input: its steps, gate activations and states
``attribution_spec(x, target)``           what integrated gradients needs for one input

In the manner of scikit-learn, ``__init__`` only stores hyperparameters, ``fit`` returns
``self``, and learned state ends in ``_``.
"""

from __future__ import annotations

import abc
import json
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Self

import torch
from sklearn.base import BaseEstimator

from lstmkit.config import apply_overrides, config_from_dict, config_to_dict
from lstmkit.data.splits import random_split
from lstmkit.errors import ConfigError, DataError, LstmkitError, ModelFolderError
from lstmkit.fingerprint import data_fingerprint
from lstmkit.io import read_model_folder, save_model_folder
from lstmkit.predictions import flat_row
from lstmkit.tasks.params import HyperParameters
from lstmkit.training.distributed import is_global_zero
from lstmkit.version import __version__


@dataclass
class ExportSpec:
    """What ONNX export needs from a task: a tensor-only module and inputs to trace it with."""

    module: torch.nn.Module
    """Takes and returns tensors only; no Python branching on the data."""
    example_inputs: tuple[torch.Tensor, ...]
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]
    """Which axes may change size (``{"ids": {0: "batch", 1: "steps"}}``)."""
    extra: dict | None = None
    """Anything shipped beside the graph (a tagger's CRF transitions and tag names)."""
    network_output: Callable | None = None
    """Set when the graph takes exactly the arguments of the task's ``network_(...)`` at inference
    and its outputs say what the network returns: maps the graph's outputs to the network's
    return value (a text classifier: probabilities -> log-probabilities, logits up to a constant).
    ``serve --int8`` then runs the int8 graph in onnxruntime in the network's place
    (:mod:`lstmkit.serve.int8`). None: the graph is not a drop-in for the network."""


class Estimator(HyperParameters, BaseEstimator, abc.ABC):
    """The base of every task's estimator; see the module docstring for the contract."""

    task: ClassVar[str] = ""
    config_class: ClassVar[type] = object
    monitor: ClassVar[str] = "loss"
    monitor_mode: ClassVar[str] = "min"
    takes_text: ClassVar[bool] = False
    validation_fraction: ClassVar[float] = 0.1

    # ------------------------------------------------------------------ reading data
    @abc.abstractmethod
    def read_data(self, path) -> tuple[Any, Any]:
        """A labelled data file in the task's format -> ``(X, y)``; errors name file and line."""

    @abc.abstractmethod
    def read_inputs(self, path) -> Any:
        """A file of inputs to predict (labels, if present, are ignored) -> ``X``."""

    @abc.abstractmethod
    def inputs_from_json(self, items: list) -> Any:
        """JSON-like inputs -> ``X``; a malformed item is a :class:`DataError` naming it, counted
        from 1 (``input 2: ...``), as every lstmkit message counts inputs, lines and steps."""

    def inputs_from_texts(self, texts: list[str]) -> Any:
        """``--text`` arguments -> ``X`` (tasks that take text override this)."""
        raise LstmkitError(f"a {self.task} model does not take --text; give --input FILE")

    def coerce(self, X, y=None) -> tuple[Any, Any]:
        """Inputs and targets as Python callers pass them -> the task's own form.

        The default makes lists of both (a reader's :class:`~lstmkit.data.formats.tables.Labels`
        stay as they are, remembering their file and lines).
        """
        return as_list(X), (None if y is None else (y if isinstance(y, list) else as_list(y)))

    def split_validation(self, X, y, fraction: float, seed: int) -> tuple[list[int], list[int]]:
        """Kept and held-out indices of the training data (random by default)."""
        return random_split(len(X), fraction, seed)

    def holdout(self, X, y, fraction: float, seed: int):
        """``(X, y, X_valid, y_valid)``: the training data and a held-out part for validation."""
        kept, held = self.split_validation(X, y, fraction, seed)
        return self.subset(X, kept), self.subset(y, kept), self.subset(X, held), self.subset(y, held)

    def fingerprint(self, X, y, X_valid, y_valid) -> str:
        """A digest of the training and validation data (see :mod:`lstmkit.fingerprint`)."""
        return data_fingerprint(X, y, X_valid, y_valid)

    @staticmethod
    def subset(values, indices: list[int]):
        """``values`` at ``indices``, of the same kind (a :class:`Labels` keeps its origins)."""
        from lstmkit.data.formats.tables import Labels

        if values is None:
            return None
        if isinstance(values, Labels):
            return Labels([values[i] for i in indices], [values.where(i) for i in indices])
        if hasattr(values, "iloc"):
            return values.iloc[indices]
        return [values[i] for i in indices]

    # ------------------------------------------------------------------ training
    def fit(self, X, y=None, valid=None, out_dir: str | Path | None = None, progress_bar: bool = False,
            epoch_callback=None, callbacks: list | None = None) -> Self:
        """Learn from ``(X, y)``; ``valid=(X_valid, y_valid)`` or, when None, a held-out part.

        ``out_dir`` keeps checkpoints (rerunning resumes), ``logs/metrics.csv`` and ``plots/``;
        without it they go to a temporary folder. ``epoch_callback(estimator, epoch, seconds)`` is
        called after each epoch's validation (benchmarks use it to score a test set on the way).
        ``callbacks`` are extra Lightning callbacks for the trainer (``lstmkit tune`` prunes with one).
        """
        from lstmkit.tasks.registry import get_hook

        cfg = self.resolved_config()
        self._tracker = None
        if cfg.train.ensemble > 1 and get_hook(self.task, "ensemble") is None:
            raise ConfigError(f"train.ensemble: {self.task} models cannot be ensembled yet; use train.ensemble=1")
        self.config_ = cfg
        self._progress = progress_bar
        with self._training_data(X, y, valid, out_dir) as (X, y, X_valid, y_valid):
            if out_dir is not None:
                check_same_run(Path(out_dir), cfg, self.fingerprint(X, y, X_valid, y_valid))
            torch.manual_seed(cfg.train.seed)
            self._prepare(X, y)
            extra = ([_EpochHook(self, epoch_callback)] if epoch_callback else []) + list(callbacks or [])
            with tempfile.TemporaryDirectory(prefix="lstmkit-") as scratch:
                run_dir = Path(out_dir) if out_dir is not None else Path(scratch)
                members, results, valid_loader = [], [], None
                for k in range(cfg.train.ensemble):  # one network, or the members one after another
                    network, result, valid_loader = self._train_member(X, y, X_valid, y_valid, cfg, k, run_dir,
                                                                        extra)
                    members.append(network)
                    results.append(result)
            self.config_ = cfg
            self.network_ = members[0] if len(members) == 1 else self._ensemble(members)
            self.network_.cpu().eval()
            self.history_ = results[0].history
            if len(members) > 1:
                self.member_histories_ = [result.history for result in results]
            final = self._after_fit(X_valid, y_valid)  # the task's own last step may score the final model
            if not final:  # else the kept epoch's scores, or the ensemble scored as its members were
                final = results[0].best_metrics if len(members) == 1 else validation_metrics(self.network_,
                                                                                              valid_loader)
            self.valid_metrics_ = final
            if out_dir is not None and is_global_zero():  # under DDP only rank 0 writes files
                self._plot_validation(X_valid, y_valid, Path(out_dir) / "plots")
                if self._tracker is not None:  # the task's plots join the tracked run
                    self._tracker.on_plots_written(Path(out_dir) / "plots")
        self._tracker = None  # only for this fit: a fitted model holds no handle on the tracking run
        return self

    def _train_member(self, X, y, X_valid, y_valid, cfg, k: int, run_dir: Path, callbacks: list):
        """Train network ``k`` of ``train.ensemble`` (seed ``train.seed + k``; its run files in
        ``run_dir/members/<k+1>/`` when there are several, else in ``run_dir``) -> ``(network with
        its kept weights, FitResult, validation loader)``. ``config_`` carries the member's seed while
        the loaders are made (their shuffling follows it)."""
        from lstmkit.training.train import fit as run_training

        several = cfg.train.ensemble > 1
        member_cfg = replace(cfg, train=replace(cfg.train, seed=cfg.train.seed + k))
        member_dir = run_dir / "members" / str(k + 1) if several else run_dir
        self.config_ = member_cfg
        torch.manual_seed(member_cfg.train.seed)
        self.network_ = network = self._build_network()
        if several:
            self._say(f"ensemble member {k + 1} of {cfg.train.ensemble} (seed {member_cfg.train.seed})")
        train_loader = self._loader(X, y, train=True)
        valid_loader = self._loader(X_valid, y_valid, train=False)
        callbacks = list(callbacks)
        tracker = None
        if cfg.train.tracking == "mlflow":
            from lstmkit.training.tracking import mlflow_callback

            params = {"task": self.task, "lstmkit_version": __version__, **flat_settings(member_cfg)}
            tags = {"member": str(k + 1), "ensemble": str(cfg.train.ensemble)} if several else None
            name = run_dir.name + (f"-member{k + 1}" if several else "")
            tracker = mlflow_callback(params, run_name=name, out_dir=member_dir, tags=tags)
            callbacks.append(tracker)
        result = run_training(network, train_loader, valid_loader, member_cfg.train, member_dir, monitor=self.monitor,
                              mode=self.monitor_mode, progress_bar=self._progress, callbacks=callbacks)
        if tracker is not None and k == 0:
            self.tracking_run_id_, self._tracker = tracker.run_id, tracker
        network.load_state_dict(result.best_state_dict)
        network.cpu().eval()
        return network, result, valid_loader

    def _ensemble(self, members: list[torch.nn.Module]) -> torch.nn.Module:
        """``members`` as one network: the task's :class:`~lstmkit.nn.ensemble.Ensemble` (named in the
        task registry)."""
        from lstmkit.tasks.registry import get_hook

        ensemble_class = get_hook(self.task, "ensemble")
        if ensemble_class is None:
            raise ConfigError(f"train.ensemble: {self.task} models cannot be ensembled yet; use train.ensemble=1")
        return ensemble_class(members)

    def _assembled_network(self) -> torch.nn.Module:
        """The network ``config_`` describes, untrained: one, or ``train.ensemble`` members as one."""
        n = self.config_.train.ensemble
        return self._build_network() if n == 1 else self._ensemble([self._build_network() for _ in range(n)])

    def read_training_data(self, path) -> tuple[Any, Any]:
        """What ``lstmkit train`` passes to :meth:`fit` for ``--train FILE`` (and ``--valid``): the
        file read (:meth:`read_data`); a task that streams its training files returns
        ``(DataFile(path), None)`` and reads the file in :meth:`_training_data`."""
        return self.read_data(path)

    @contextmanager
    def _training_data(self, X, y, valid, out_dir):
        """``(X, y, X_valid, y_valid)`` as the rest of :meth:`fit` takes them, for the time of the
        ``with`` block: the inputs coerced (:meth:`coerce`) and, without ``valid``, a held-out part
        (:meth:`holdout`). A task may read its data here in its own way (the text classifier and
        the tagger stream it into a token store that lives as long as the block)."""
        X, y = self.coerce(X, y)
        if valid is None:
            X, y, X_valid, y_valid = self.holdout(X, y, self.validation_fraction, self.config_.train.seed)
        else:
            X_valid, y_valid = self.coerce(*valid)
        yield X, y, X_valid, y_valid

    def _say(self, message: str) -> None:
        """A line on stderr about what ``fit`` is preparing, when it shows progress (the CLI)."""
        if getattr(self, "_progress", False) and is_global_zero():  # once, not once per DDP rank
            import sys

            print(message, file=sys.stderr, flush=True)

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise ModelFolderError(f"this {type(self).__name__} is not fitted yet: call fit() or load()")

    @abc.abstractmethod
    def _prepare(self, X, y) -> None:
        """Learn the preprocessing state from the training data."""

    @abc.abstractmethod
    def _build_network(self) -> torch.nn.Module:
        """The network, from ``config_`` and the prepared state."""

    @abc.abstractmethod
    def _loader(self, X, y, train: bool):
        """A DataLoader of batches for the network (shuffled when ``train``)."""

    def _after_fit(self, X_valid, y_valid) -> dict | None:
        """Optional last step with the kept weights loaded (e.g. calibrate on the validation set).

        May return the final model's validation metrics (else the trainer's best are kept).
        """

    def _plot_validation(self, X_valid, y_valid, plots_dir: Path) -> None:
        """Optional: task-specific plots of the kept model on the validation data (a run's ``plots/``)."""

    # ------------------------------------------------------------------ using a model
    @abc.abstractmethod
    def predict(self, X) -> Any:
        """One prediction per input."""

    @abc.abstractmethod
    def predict_records(self, X) -> list[dict]:
        """One JSON-ready record per input (plain str/int/float/bool/None, lists and dicts)."""

    @abc.abstractmethod
    def evaluate(self, X, y) -> dict:
        """The task's metrics of the contract. A caller that read ``X, y`` from a file names it around
        the call (:func:`lstmkit.data.naming.data_named`) for the messages of errors and warnings."""

    @abc.abstractmethod
    def score(self, X, y) -> float:
        """One number, higher is better (scikit-learn's model selection maximises it)."""

    def table_row(self, record: dict) -> dict:
        """One record as a flat CSV/TSV row."""
        return flat_row(record)

    def format_record(self, record: dict) -> str:
        """One record as one human-readable line (``lstmkit predict`` without ``--json``)."""
        return json.dumps(record, ensure_ascii=False)

    def format_metrics(self, title: str, metrics: dict) -> list[str]:
        """``evaluate``'s human-readable lines: the top-level numbers on one line, then one line
        per nested table (``per_type``, ``baselines.naive`` ...)."""
        from lstmkit.metrics.classification import metrics_line

        lines = [metrics_line(title, metrics)]

        def nested(prefix: str, value: dict) -> None:
            if any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values()):
                lines.append(metrics_line(f"  {prefix}", value))
            for key, inner in value.items():
                if isinstance(inner, dict):
                    nested(f"{prefix}.{key}", inner)

        for key, value in metrics.items():
            if isinstance(value, dict):
                nested(key, value)
        return lines

    output_suffixes: ClassVar[tuple[str, ...]] = (".csv", ".tsv", ".jsonl")
    """File types ``predict --output`` can write for this task."""

    def check_output_path(self, path: Path) -> None:
        """Refuse an ``--output`` of a type this task cannot write, before any work is done."""
        if Path(path).suffix.lower() not in self.output_suffixes:
            raise DataError(f"--output must end in {', '.join(self.output_suffixes)}", path=path)

    def table_rows(self, records: list[dict], inputs=None) -> list[dict]:
        """``records`` as flat CSV/TSV rows: one :meth:`table_row` each. A task whose record makes
        several rows (a forecast: one per step; labels per step) overrides this, not the writer.
        ``inputs`` are what was predicted, where the rows need them."""
        return [self.table_row(record) for record in records]

    def write_predictions(self, records: list[dict], path: Path, inputs=None) -> Path:
        """Write ``predict --output``: JSON Lines as the records are, CSV/TSV as :meth:`table_rows`.
        ``inputs`` are what was predicted (a task writing its own format may need them)."""
        from lstmkit.predictions import write_records, write_table

        self.check_output_path(path)
        if Path(path).suffix.lower() == ".jsonl":
            return write_records(records, path)
        return write_table(self.table_rows(records, inputs), path)

    # ------------------------------------------------------------------ export and explanations
    def export_module(self) -> ExportSpec:
        """A tensor-only module for ONNX export, with example inputs (see :class:`ExportSpec`): the
        ``export`` function the task registry names for this task."""
        from lstmkit.nn.ensemble import Ensemble, MeanGraph
        from lstmkit.tasks.registry import get_hook

        hook = get_hook(self.task, "export")
        if hook is None:
            raise NotImplementedError(f"export is not available for {self.task} models yet")
        network = getattr(self, "network_", None)
        if not isinstance(network, Ensemble) or network.export_by == "network":
            return hook(self)
        specs = []
        try:
            for member in network.members:
                self.network_ = member
                specs.append(hook(self))
        finally:
            self.network_ = network
        return replace(specs[0], module=MeanGraph([spec.module for spec in specs]))

    def run_with_states(self, X) -> list[dict]:
        """Per input: its steps and the recurrent layers' gate activations and states (the task's
        ``explain`` module in the registry)."""
        from lstmkit.tasks.registry import get_hook

        hook = get_hook(self.task, "explain", "run_with_states")
        if hook is None:
            raise NotImplementedError(f"explanations are not available for {self.task} models yet")
        with self._first_member():
            return hook(self, X)

    def attribution_spec(self, x, target=None):
        """What integrated gradients needs for one input (an
        :class:`lstmkit.explain.attributions.AttributionSpec`), toward ``target`` (default: the
        predicted output); the task's ``explain`` module in the registry."""
        from lstmkit.tasks.registry import get_hook

        hook = get_hook(self.task, "explain", "attribution_spec")
        if hook is None:
            raise NotImplementedError(f"explanations are not available for {self.task} models yet")
        with self._first_member():
            return hook(self, x, target)

    @contextmanager
    def _first_member(self):
        """For the time of the block, an ensemble's first member stands in as ``network_`` (explanations
        read one network: its gates, its gradients); a single network stays as it is."""
        from lstmkit.nn.ensemble import Ensemble

        network = getattr(self, "network_", None)
        if not isinstance(network, Ensemble):
            yield
            return
        self.network_ = network.first()
        try:
            yield
        finally:
            self.network_ = network

    # ------------------------------------------------------------------ data settings of a trained model
    def with_data_settings(self, overrides: list[str]):
        """Apply ``--set data.KEY=VALUE`` to a loaded model: how files are read, never the network.

        Returns ``self``. Only ``data.*`` keys are accepted (the model's other settings are
        what it was trained with).
        """
        if not overrides:
            return self
        for item in overrides:
            if not item.partition("=")[0].strip().startswith("data."):
                raise ConfigError(f"--set {item}: only data.* settings (how files are read) can be changed "
                                  "on a trained model")
        self.config_ = apply_overrides(self.config_, overrides)
        return self

    # ------------------------------------------------------------------ model folder
    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write the model folder (config.json, vocab.json, model.safetensors, metrics.json).

        Under DDP (several training processes) only global rank 0 writes it; the other ranks
        return ``path`` without writing (as Lightning's and Hugging Face's trainers save).
        """
        self._check_fitted()
        if not is_global_zero():
            return Path(path)
        state = self._folder_state()
        config = {
            "task": self.task,
            "lstmkit_version": __version__,
            "config": config_to_dict(self.config_),
            **state.get("config", {}),
        }
        folder = save_model_folder(path, config=config, state_dict=self.network_.state_dict(),
                                   vocab=state.get("vocab"), metrics=metrics, extra=state.get("extra"))
        if getattr(self, "tracking_run_id_", None):  # fitted with train.tracking=mlflow: the folder joins the run
            from lstmkit.training.tracking import log_model_folder

            log_model_folder(self.tracking_run_id_, Path(folder))
        return folder

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a model folder written by :meth:`save`; safe on a folder from anyone.

        Reads only ``config.json``, ``vocab.json``, the other ``*.json`` files and
        ``model.safetensors`` (never unpickles: see :mod:`lstmkit.io`), then builds the network
        that ``config.json`` describes and requires the weights to fit it exactly: the same
        tensor names, shapes and dtypes (:func:`lstmkit.io.check_weights`).

        Raises:
            ModelFolderError: naming the file: a missing or unreadable file, a pickle in place
                of the weights, an unknown ``format_version``, a model of another task, a
                ``config.json`` this task cannot build a network from, weights that do not fit.
        """
        from lstmkit.io import CONFIG, check_weights

        path = Path(path)
        folder = read_model_folder(path)
        config_file = path / CONFIG
        task = folder.config.get("task")
        if task != cls.task:
            raise ModelFolderError(f"{config_file}: model is a {task!r}, not a {cls.task!r}")
        if "config" not in folder.config:
            raise ModelFolderError(f"{config_file}: missing key 'config'")
        if not isinstance(folder.config["config"], dict):
            raise ModelFolderError(f"{config_file}: 'config' must be a JSON object of settings")
        config = config_from_dict(cls.config_class, folder.config["config"], source=str(config_file))
        est = cls(config=config)
        est.config_ = config
        try:
            est._restore(folder)
            est.network_ = est._assembled_network()
        except LstmkitError as error:
            if str(path) in str(error):
                raise
            raise ModelFolderError(f"{path}: {error}") from None  # e.g. "vocab.json: ..." -> with the folder
        except KeyError as error:
            raise ModelFolderError(f"{config_file}: missing key {error}") from None
        except (TypeError, ValueError, IndexError, AttributeError, RuntimeError) as error:
            raise ModelFolderError(f"{config_file}: not a {cls.task} model this lstmkit can build "
                                   f"({type(error).__name__}: {str(error)[:300]})") from None
        check_weights(folder, est.network_.state_dict())
        est.network_.load_state_dict(folder.state_dict)  # names, shapes and dtypes checked above
        est.network_.eval()
        est.valid_metrics_ = folder.metrics or {}
        return est

    @abc.abstractmethod
    def _folder_state(self) -> dict:
        """``{"config": {...JSON...}, "vocab": {...} | None, "extra": {name: {...}} | None}``."""

    @abc.abstractmethod
    def _restore(self, folder) -> None:
        """The inverse of :meth:`_folder_state`, from a :class:`lstmkit.io.ModelFolder`."""


def flat_settings(cfg) -> dict[str, Any]:
    """Every setting under its dotted key (``{"model.hidden_size": 128, ...}``), as a tracking run's parameters."""
    return {f"{section}.{key}": value
            for section, values in config_to_dict(cfg).items() for key, value in values.items()}


def validation_metrics(network: torch.nn.Module, loader) -> dict[str, float]:
    """The trainer's validation metrics (:func:`lstmkit.training.train.epoch_metrics`) of ``network`` (on
    the CPU) over ``loader``: an ensemble's, scored as its members were while they trained."""
    from lstmkit.training.train import epoch_metrics

    network.eval()
    with torch.no_grad():
        return epoch_metrics(network, [network.validation_output(batch) for batch in loader])


def as_list(values) -> list:
    """A list of the items of ``values``: a list, tuple, numpy array, pandas Series, or one string."""
    if isinstance(values, str):
        return [values]
    if hasattr(values, "columns"):
        raise DataError("got a table (DataFrame); pass one column (e.g. df['text']) or the task's own input")
    if hasattr(values, "tolist") and getattr(values, "ndim", 1) == 1:
        return values.tolist()
    return list(values)


def _EpochHook(estimator: Estimator, callback):
    """A Lightning callback calling ``callback(estimator, epoch, seconds)`` after each epoch."""
    import time

    from lightning.pytorch.callbacks import Callback

    class EpochHook(Callback):
        def on_train_start(self, trainer, pl_module):
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer, pl_module):
            was_training = estimator.network_.training
            callback(estimator, trainer.current_epoch + 1, time.perf_counter() - self.start)
            estimator.network_.train(was_training)

    return EpochHook()


def check_same_run(out_dir: Path, cfg, data_sha256: str) -> None:
    """Refuse to resume a run folder trained with other settings or data.

    A run writes ``run.json`` (every setting but ``train.epochs``, which may grow to train
    longer, and the process and thread counts, and the data's fingerprint); a rerun that would
    resume from its checkpoints must match.
    """
    settings = config_to_dict(cfg)
    for how_not_what in ("epochs", "devices", "num_nodes", "strategy", "num_threads", "tracking"):
        settings["train"].pop(how_not_what, None)  # may change between runs: train longer, more processes
    run = {"settings": settings, "data_sha256": data_sha256}
    path = out_dir / "run.json"
    resumable = (out_dir / "checkpoints" / "last.ckpt").exists() or any(out_dir.glob("members/*/checkpoints/last.ckpt"))
    if path.exists() and resumable:
        before = json.loads(path.read_text(encoding="utf-8"))
        if before.get("data_sha256") != run["data_sha256"]:
            raise ConfigError(f"{out_dir} holds a run on other data; use another --out, or delete it to retrain")
        changed = [f"{section}.{key}" for section, values in settings.items() for key, value in values.items()
                   if before.get("settings", {}).get(section, {}).get(key) != value]
        if changed:
            raise ConfigError(f"{out_dir} holds a run with other settings ({', '.join(changed)}); "
                              "use another --out, or delete it to retrain")
        return
    if not is_global_zero():  # under DDP rank 0 writes it
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run, ensure_ascii=False, indent=1), encoding="utf-8")
