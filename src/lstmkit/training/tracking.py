"""Experiment tracking in MLflow: ``--set train.tracking=mlflow``.

A training run becomes one MLflow run, logged through :class:`mlflow.tracking.MlflowClient`
(never MLflow's global "active run", so a run of your own stays as it was):

==============  ===========================================================================
parameters      the flattened config (``model.hidden_size``, ``train.lr``, ...), the task and
                ``lstmkit_version``; values spelled as ``--set`` takes them (``true``, ``[1, 2]``)
metrics         every row of ``logs/metrics.csv``: each column but ``epoch`` (``train_loss``,
                ``val_loss``, ``val_<metric>``, ``lr``, ``seconds``) with ``step`` = the epoch;
                an empty cell is not logged
artifacts       ``plots/*.png`` under ``plots/`` (as ``fit`` has drawn them; plots drawn later
                join when :meth:`MLflowRun.on_plots_written` is called again); the model
                folder's files (JSON and safetensors) under ``model/`` (:func:`log_model_folder`).
                Never a pickle: no ``mlflow.pytorch.log_model``, no checkpoint
tags            ``mlflow.runName`` (the run folder's name), ``lstmkit.run_folder``, any given
status          FINISHED; FAILED on an error; KILLED on Ctrl+C, or when ``lstmkit tune`` prunes
                the trial (tag ``lstmkit.pruned=true``; all its rows are logged)
==============  ===========================================================================

Where: ``MLFLOW_TRACKING_URI`` (any store MLflow knows: a folder, ``sqlite:///mlflow.db``,
``http://host:5000``), else the folder ``./mlruns``; the experiment is ``MLFLOW_EXPERIMENT_NAME``
or ``MLFLOW_EXPERIMENT_ID`` when set (a name is created if missing), else MLflow's
``Default``. MLflow 3 keeps folder stores ("file stores") in maintenance mode and refuses to
open one unless ``MLFLOW_ALLOW_FILE_STORE=true``; lstmkit allows it while it opens its own
client (left as it was after, and an explicit ``false`` is kept).

Resuming. The run's id is kept in the run folder (``logs/mlflow.json``). Rerunning ``lstmkit
train`` with the same ``--out`` resumes from ``checkpoints/last.ckpt`` and continues *the same*
MLflow run (status RUNNING again); a fresh start in that folder (no checkpoint: the old
``logs/`` is cleared) starts a new one. Metrics never repeat an epoch: MLflow's metric history
only grows, so a row is logged only once its epoch's checkpoint is on disk (at the start of
the next epoch and at the end of training): a crash between the row and the checkpoint makes
the trainer redo that epoch, whose first row must not have reached MLflow. On resuming, the
rows of finished epochs that MLflow lacks (a run killed before it logged them, or one started
with tracking off) are logged first, so the history always equals ``logs/metrics.csv``.
Parameters in MLflow cannot change: a resumed run that changed one (``train.epochs``, to train
longer) keeps the first value and gets a tag ``lstmkit.resumed.<key>`` with the new one.

Several processes (DDP): only global rank 0 talks to MLflow; the other ranks' callbacks have
``run_id`` None.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback

from lstmkit.config import InvalidValue
from lstmkit.errors import LstmkitError
from lstmkit.io import read_json, write_json
from lstmkit.version import __version__

__all__ = ["DEFAULT_TRACKING_URI", "RUN_FILE", "log_model_folder", "mlflow_callback", "param_text", "tracking_uri"]

DEFAULT_TRACKING_URI = "./mlruns"
"""Where runs go when ``MLFLOW_TRACKING_URI`` is not set (a folder: MLflow's file store)."""
RUN_FILE = Path("logs") / "mlflow.json"
"""In a run folder: ``{"run_id", "tracking_uri", "experiment_id"}`` of its MLflow run."""
_BATCH = 100  # MLflow takes at most 100 params or tags (and 1000 metrics) per log_batch call
_INSTALL = "pip install 'lstmkit[mlflow]'"


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, else :data:`DEFAULT_TRACKING_URI` as an absolute ``file:`` URI."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    return uri or Path(DEFAULT_TRACKING_URI).resolve().as_uri()


def _mlflow_client_class():
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise InvalidValue("train.tracking", f"mlflow needs the MLflow client, which is not installed: {_INSTALL}") \
            from None
    return MlflowClient


@contextmanager
def _file_store_allowed() -> Iterator[None]:
    """``MLFLOW_ALLOW_FILE_STORE=true`` for the block, unless the user set it; then as before."""
    unset = "MLFLOW_ALLOW_FILE_STORE" not in os.environ
    if unset:
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if unset:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


@contextmanager
def _mlflow_errors(uri: str) -> Iterator[None]:
    """MLflow's errors (a store it cannot open, a server that does not answer, an unknown
    experiment id) as one :class:`LstmkitError` naming the tracking URI."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as error:
        raise LstmkitError(f"MLflow tracking URI {uri}: {error.message}") from None


def _client(uri: str):
    """An ``MlflowClient`` on ``uri``, its store opened.

    MLflow builds (and caches, per URI) its store when the client is made, so allowing the
    file store around this call covers the client's later calls.
    """
    client_class = _mlflow_client_class()
    with _mlflow_errors(uri), _file_store_allowed():
        client = client_class(tracking_uri=uri)
        client.search_experiments(max_results=1)  # opens the store now, while allowed
        return client


def _experiment_id(client) -> str:
    """``MLFLOW_EXPERIMENT_ID``, or the id of ``MLFLOW_EXPERIMENT_NAME`` (created if missing), else
    MLflow's ``Default`` experiment ("0")."""
    if os.environ.get("MLFLOW_EXPERIMENT_ID"):
        return os.environ["MLFLOW_EXPERIMENT_ID"]
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME")
    if not name:
        return "0"
    experiment = client.get_experiment_by_name(name)
    return experiment.experiment_id if experiment is not None else client.create_experiment(name)


def param_text(value: Any) -> str:
    """A parameter's value as ``--set`` takes it: strings as they are, the rest as JSON
    (``true``, ``null``, ``0.001``, ``["value"]``)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _chunks(items: list, size: int = _BATCH) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _is_pruned(exception: BaseException) -> bool:
    """Is ``exception`` Optuna's "prune this trial" (``lstmkit tune``)?"""
    try:
        import optuna
    except ImportError:
        return False
    return isinstance(exception, optuna.TrialPruned)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    """``logs/metrics.csv`` as written: its cells as text (empty cells stay empty)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


class MLflowRun(Callback):
    """The Lightning callback :func:`mlflow_callback` returns (see the module docstring)."""

    def __init__(self, params: dict, run_name: str, out_dir: Path, tags: dict | None, uri: str):
        self.params = {key: param_text(value) for key, value in params.items()}
        self.params.setdefault("lstmkit_version", __version__)
        self.run_name, self.out_dir, self.uri = run_name, Path(out_dir), uri
        self.tags = {"lstmkit.run_folder": str(Path(out_dir).resolve()),
                     **{key: param_text(value) for key, value in (tags or {}).items()}}
        self._run_id: str | None = None
        self._client = None
        self._logged: dict[str, set[int]] = {}  # metric -> the steps (epochs) MLflow has

    @property
    def run_id(self) -> str | None:
        """The MLflow run's id: set when training starts on global rank 0; before that (or when
        the run folder had finished training, so none starts) the one kept in the run folder
        for this tracking URI, if any."""
        if self._run_id is None:
            stored = self._stored()
            return stored["run_id"] if stored else None
        return self._run_id

    def _stored(self) -> dict | None:
        path = self.out_dir / RUN_FILE
        if not path.exists():
            return None
        stored = read_json(path)
        return stored if stored.get("tracking_uri") == self.uri else None

    # --- Lightning's hooks ---
    def on_train_start(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        self._client = _client(self.uri)
        with _mlflow_errors(self.uri):
            self._start(trainer)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self._client is not None:
            with _mlflow_errors(self.uri):
                self._log_finished_epochs(trainer.current_epoch)

    def on_train_end(self, trainer, pl_module) -> None:
        if self._client is not None:
            with _mlflow_errors(self.uri):
                self._log_finished_epochs(trainer.current_epoch)
                self._client.set_terminated(self._run_id, status="FINISHED")

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        """Log the finished epochs and end the run FAILED (KILLED on Ctrl+C); an MLflow error
        here is dropped, so that the error that stopped training is the one raised.

        A trial that ``lstmkit tune`` prunes (:class:`optuna.TrialPruned`, raised once the epoch's
        row is written) is over for good, never resumed: all its rows are logged, and it ends
        KILLED with the tag ``lstmkit.pruned=true``.
        """
        from mlflow.exceptions import MlflowException

        if self._client is None or self._run_id is None:  # no run started
            return
        pruned = _is_pruned(exception)
        status = "KILLED" if pruned or isinstance(exception, KeyboardInterrupt) else "FAILED"
        with suppress(MlflowException):
            self._log_finished_epochs(trainer.current_epoch + 1 if pruned else trainer.current_epoch)
            if pruned:
                self._client.set_tag(self._run_id, "lstmkit.pruned", "true")
        with suppress(MlflowException):
            self._client.set_terminated(self._run_id, status=status)

    def on_plots_written(self, plots_dir: Path) -> None:
        """Log ``plots_dir/*.png`` under ``plots/`` (again: a file of the same name is replaced).
        :func:`lstmkit.training.train.fit` calls it once it has drawn the curves; call it again
        after drawing more plots into the folder."""
        if self._client is None:
            return
        with _mlflow_errors(self.uri):
            for png in sorted(Path(plots_dir).glob("*.png")):
                self._client.log_artifact(self._run_id, str(png), artifact_path="plots")

    # --- what is logged ---
    def _start(self, trainer) -> None:
        """Start the MLflow run, or continue the run folder's when training resumes."""
        resumed = self._resume() if trainer.ckpt_path is not None else None
        if resumed is None:
            experiment_id = _experiment_id(self._client)
            run = self._client.create_run(experiment_id, run_name=self.run_name, tags=self.tags)
            self._run_id = run.info.run_id
            self._logged = {}
            self._log_params({})
        else:
            experiment_id = resumed.info.experiment_id
            self._run_id = resumed.info.run_id
            self._client.update_run(self._run_id, status="RUNNING")
            self._log_params(resumed.data.params)
            self._logged = {key: {m.step for m in self._client.get_metric_history(self._run_id, key)}
                            for key in resumed.data.metrics}
        write_json(self.out_dir / RUN_FILE,
                   {"run_id": self._run_id, "tracking_uri": self.uri, "experiment_id": experiment_id})
        self._log_finished_epochs(trainer.current_epoch)

    def _resume(self):
        """The run kept in the run folder, if this store still has it (not deleted)."""
        from mlflow.exceptions import MlflowException

        stored = self._stored()
        if stored is None:
            return None
        try:
            run = self._client.get_run(stored["run_id"])
        except MlflowException:  # another store, or the run was removed for good
            return None
        return run if run.info.lifecycle_stage == "active" else None

    def _log_params(self, logged: dict[str, str]) -> None:
        """The params MLflow lacks; a changed value becomes a ``lstmkit.resumed.<key>`` tag."""
        from mlflow.entities import Param, RunTag

        new = [Param(key, value) for key, value in self.params.items() if key not in logged]
        changed = [RunTag(f"lstmkit.resumed.{key}", value) for key, value in self.params.items()
                   if key in logged and logged[key] != value]
        for params in _chunks(new):
            self._client.log_batch(self._run_id, params=params)
        for tags in _chunks(changed):
            self._client.log_batch(self._run_id, tags=tags)

    def _log_finished_epochs(self, done: int) -> None:
        """Log the cells of ``logs/metrics.csv``'s rows of epochs ``1..done`` (checkpointed) that
        MLflow does not have yet, with ``step`` = the epoch."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = []
        for row in _csv_rows(self.out_dir / "logs" / "metrics.csv"):
            epoch = int(row["epoch"])
            if epoch > done:
                continue
            for key, text in row.items():
                if key == "epoch" or text in ("", None) or epoch in self._logged.get(key, ()):
                    continue
                metrics.append(Metric(key, float(text), now, epoch))
        for batch in _chunks(metrics, 1000):
            self._client.log_batch(self._run_id, metrics=batch)
        for metric in metrics:
            self._logged.setdefault(metric.key, set()).add(metric.step)


def mlflow_callback(params: dict, run_name: str, out_dir: Path, tags: dict | None = None) -> Callback:
    """A Lightning callback that logs a training run to MLflow (see the module docstring).

    Add it to :func:`lstmkit.training.train.fit`'s ``callbacks``. When training starts it starts
    an MLflow run (or, for a run folder that resumes from its checkpoint, continues the run
    kept in ``out_dir/logs/mlflow.json``) named ``run_name`` with ``params`` (the flattened
    config and the task; ``lstmkit_version`` is added) and ``tags``; logs each finished epoch's
    row of ``out_dir/logs/metrics.csv`` (step = epoch); the plots once ``fit`` has drawn them;
    and ends the run (FINISHED, FAILED, or KILLED on Ctrl+C). Its ``run_id`` (str) is the run's
    id once training has started.

    Raises:
        ConfigError: MLflow is not installed (``pip install 'lstmkit[mlflow]'``).
    """
    _mlflow_client_class()  # fail now, before any training, when MLflow is missing
    return MLflowRun(params, run_name, Path(out_dir), tags, tracking_uri())


def log_model_folder(run_id: str, folder: Path) -> None:
    """Log the files of the model folder ``folder`` as artifacts under ``model/`` of the run
    ``run_id`` (in the store of ``MLFLOW_TRACKING_URI``, else ``./mlruns``): plain files as
    :func:`lstmkit.io.save_model_folder` wrote them (JSON and safetensors), no pickle."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LstmkitError(f"{folder}: not a model folder (no such directory)")
    uri = tracking_uri()
    client = _client(uri)
    with _mlflow_errors(uri):
        client.log_artifacts(run_id, str(folder), artifact_path="model")
