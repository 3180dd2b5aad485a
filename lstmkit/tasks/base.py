"""What every task's estimator shares: hyperparameters, the fit skeleton, evaluation plumbing, save/load.

A task subclasses :class:`Estimator` and fills in a handful of hooks:

=====================  ======================================================================
``task``               the registry name (``"text-classifier"``)
``config_class``       its dataclass config with ``data``, ``model`` and ``train`` sections
``monitor``            the validation metric that picks the best epoch (``"accuracy"``)
``read_data(path)``    a data file -> ``(inputs, targets)`` under the config's data settings
``_prepare(X, y)``     learn the preprocessing state from training data (vocabulary, labels...)
``_build_network()``   the ``nn.Module`` implementing :class:`lstmkit.train.TrainableModel`
``_loader(X, y, train)``  a ``DataLoader`` of batches for that network
``_folder_state()``    JSON-safe preprocessing state for ``config.json`` (+ ``vocab``/``extra``)
``_restore(folder)``   the inverse of ``_folder_state`` when loading
``_plot_validation``   optional: plots of the kept model on the validation data (``plots/``)
=====================  ======================================================================

In the manner of scikit-learn, ``__init__`` only stores hyperparameters, ``fit`` returns ``self``,
and learned state ends in ``_``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import random
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import torch

from lstmkit import __version__
from lstmkit.config import build_config, config_from_dict, config_to_dict
from lstmkit.errors import ConfigError, ModelFolderError
from lstmkit.io import read_model_folder, save_model_folder


class Estimator:
    task: ClassVar[str] = ""
    config_class: ClassVar[type] = object
    monitor: ClassVar[str] = "accuracy"
    monitor_mode: ClassVar[str] = "max"

    def __init__(self, config=None, **params: Any) -> None:
        self.config = config
        self.params = params

    # ------------------------------------------------------------------ hyperparameters
    def resolved_config(self):
        """The config to train with: ``config`` (or the defaults) with ``params`` applied by field name.

        A flat name (``hidden_size``) is looked up in every section; a dotted one
        (``model.hidden_size``) names its section.
        """
        base = copy.deepcopy(self.config) if self.config is not None else self.config_class()
        if not self.params:
            return base
        sections = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
        overrides = []
        for name, value in self.params.items():
            if "." in name:
                overrides.append((name, value))
                continue
            owners = [s for s, sec in sections.items() if name in {f.name for f in dataclasses.fields(sec)}]
            if not owners:
                valid = sorted(f.name for sec in sections.values() for f in dataclasses.fields(sec))
                raise ConfigError(f"unknown hyperparameter {name!r}; valid: {', '.join(valid)}")
            overrides.append((f"{owners[0]}.{name}", value))
        # Values are passed as text so that the config system validates them like --set does.
        as_text = [f"{key}={_to_text(value)}" for key, value in overrides]
        return build_config(self.config_class, base=config_to_dict(base), overrides=as_text)

    def get_params(self) -> dict:
        return dict(self.params, config=self.config)

    # ------------------------------------------------------------------ training
    def fit(self, X, y, valid=None, out_dir: str | Path | None = None, progress_bar: bool = False,
            epoch_callback=None):
        """Learn from ``(X, y)``; ``valid=(X_valid, y_valid)`` or, when None, 10% held out by seed.

        ``out_dir`` keeps checkpoints (rerunning resumes), ``logs/metrics.csv`` and ``plots/``;
        without it they go to a temporary folder. ``epoch_callback(estimator, epoch, seconds)`` is
        called after each epoch's validation (benchmarks use it to score a test set on the way).
        """
        from lstmkit.train import fit as run_training

        cfg = self.resolved_config()
        self.config_ = cfg
        X = list(X)
        y = y if isinstance(y, list) else list(y)  # a reader's Labels keep their file and lines
        if valid is None:
            X, y, X_valid, y_valid = holdout_split(X, y, fraction=0.1, seed=cfg.train.seed)
        else:
            X_valid, y_valid = list(valid[0]), list(valid[1])
        if out_dir is not None:
            check_same_run(Path(out_dir), cfg, X, y, X_valid, y_valid)
        torch.manual_seed(cfg.train.seed)
        self._prepare(X, y)
        self.network_ = self._build_network()
        train_loader = self._loader(X, y, train=True)
        valid_loader = self._loader(X_valid, y_valid, train=False)
        with tempfile.TemporaryDirectory(prefix="lstmkit-") as scratch:
            result = run_training(self.network_, train_loader, valid_loader, cfg.train,
                                  Path(out_dir) if out_dir is not None else Path(scratch),
                                  monitor=self.monitor, mode=self.monitor_mode, progress_bar=progress_bar,
                                  callbacks=[_EpochHook(self, epoch_callback)] if epoch_callback else [])
        self.network_.load_state_dict(result.best_state_dict)
        self.network_.cpu().eval()
        self.valid_metrics_ = self._after_fit(X_valid, y_valid) or result.best_metrics
        self.history_ = result.history
        if out_dir is not None:
            self._plot_validation(X_valid, y_valid, Path(out_dir) / "plots")
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise ModelFolderError(f"this {type(self).__name__} is not fitted yet: call fit() or load()")

    # ------------------------------------------------------------------ model folder
    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write the model folder (config.json, vocab.json, model.safetensors, metrics.json)."""
        self._check_fitted()
        state = self._folder_state()
        config = {
            "task": self.task,
            "lstmkit_version": __version__,
            "config": config_to_dict(self.config_),
            **state.get("config", {}),
        }
        return save_model_folder(path, config=config, state_dict=self.network_.state_dict(),
                                 vocab=state.get("vocab"), metrics=metrics, extra=state.get("extra"))

    @classmethod
    def load(cls, path: str | Path):
        folder = read_model_folder(path)
        task = folder.config.get("task")
        if task != cls.task:
            raise ModelFolderError(f"{Path(path) / 'config.json'}: model is a {task!r}, not a {cls.task!r}")
        if "config" not in folder.config:
            raise ModelFolderError(f"{Path(path) / 'config.json'}: missing key 'config'")
        est = cls(config=config_from_dict(cls.config_class, folder.config["config"],
                                          source=str(Path(path) / "config.json")))
        est.config_ = est.config
        est._restore(folder)
        est.network_ = est._build_network()
        try:
            est.network_.load_state_dict(folder.state_dict)
        except RuntimeError as error:  # missing/unexpected tensors or wrong shapes
            detail = str(error).split("\n\t")[1:] or [str(error)]
            raise ModelFolderError(f"{Path(path) / 'model.safetensors'}: the weights do not fit the network "
                                   f"config.json describes: {'; '.join(d.strip() for d in detail)[:500]}") from None
        est.network_.eval()
        est.valid_metrics_ = folder.metrics or {}
        return est

    # ------------------------------------------------------------------ hooks
    def read_data(self, path):  # pragma: no cover - abstract
        raise NotImplementedError

    def _prepare(self, X, y) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _build_network(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _loader(self, X, y, train: bool):  # pragma: no cover - abstract
        raise NotImplementedError

    def _after_fit(self, X_valid, y_valid) -> dict | None:
        """Optional last step with the best weights loaded (e.g. calibrate on the validation set).

        May return the final model's validation metrics (else the trainer's best are kept).
        """

    def _plot_validation(self, X_valid, y_valid, plots_dir: Path) -> None:
        """Optional: task-specific plots of the kept model on the validation data (a run's ``plots/``)."""

    def _folder_state(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _restore(self, folder) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


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


def check_same_run(out_dir: Path, cfg, X, y, X_valid, y_valid) -> None:
    """Refuse to resume a run folder trained with other settings or data.

    A run writes ``run.json`` (every setting but ``train.epochs``, which may grow to train
    longer, and a SHA-256 of the data); a rerun that would resume from its checkpoints must match.
    """
    settings = config_to_dict(cfg)
    settings["train"].pop("epochs", None)
    digest = hashlib.sha256(json.dumps([X, y, X_valid, y_valid], ensure_ascii=False, default=str).encode())
    run = {"settings": settings, "data_sha256": digest.hexdigest()}
    path = out_dir / "run.json"
    if path.exists() and (out_dir / "checkpoints" / "last.ckpt").exists():
        before = json.loads(path.read_text(encoding="utf-8"))
        if before.get("data_sha256") != run["data_sha256"]:
            raise ConfigError(f"{out_dir} holds a run on other data; use another --out, or delete it to retrain")
        changed = [f"{section}.{key}" for section, values in settings.items() for key, value in values.items()
                   if before.get("settings", {}).get(section, {}).get(key) != value]
        if changed:
            raise ConfigError(f"{out_dir} holds a run with other settings ({', '.join(changed)}); "
                              "use another --out, or delete it to retrain")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run, ensure_ascii=False, indent=1), encoding="utf-8")


def holdout_split(X: list, y: list, fraction: float, seed: int):
    """Shuffle indices with ``seed`` and hold out ``fraction`` (at least one item) for validation."""
    if len(X) < 2:
        raise ConfigError(f"need at least 2 training examples to hold out a validation set; got {len(X)}")
    order = list(range(len(X)))
    random.Random(seed).shuffle(order)
    n_valid = max(1, int(round(fraction * len(X))))
    held, kept = order[:n_valid], order[n_valid:]
    return [X[i] for i in kept], _subset(y, kept), [X[i] for i in held], _subset(y, held)


def _subset(values: list, indices: list[int]) -> list:
    """``values`` at ``indices``; a reader's :class:`Labels` keep each label's file and line."""
    from lstmkit.data.readers import Labels

    if isinstance(values, Labels):
        return Labels([values[i] for i in indices], [values.where(i) for i in indices])
    return [values[i] for i in indices]


def _to_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)
