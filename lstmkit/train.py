"""The training loop every task shares, on PyTorch Lightning.

A task model (an ``nn.Module``) implements three methods and nothing else::

    class TrainableModel(Protocol):
        def training_loss(self, batch) -> Tensor: ...      # scalar mean loss of one batch
        def validation_output(self, batch) -> dict: ...    # e.g. {"loss": t, "pred": p, "target": y}
        def validation_metrics(self, outputs: list[dict]) -> dict[str, float]: ...  # whole epoch

``validation_output`` runs under ``torch.no_grad()`` in eval mode; if it returns
a ``"loss"`` the epoch's ``val_loss`` is the mean over batches (weighted by an
optional ``"n"``, the batch size). :func:`fit` wraps the model in a
LightningModule and writes, under ``out_dir``::

    checkpoints/last.ckpt          Lightning checkpoint after every epoch (to resume)
    checkpoints/best.ckpt          Lightning checkpoint of the best epoch
    checkpoints/best.safetensors   weights of the kept model, + best.json (its metrics)
    logs/metrics.csv               one row per epoch: epoch, train_loss, val_loss,
                                   val_<metric>..., lr (of the epoch's last step), seconds
    logs/events.out.tfevents.*     TensorBoard, when tensorboard is installed
    plots/*.png                    loss.png and one curve per validation metric

Resuming: when ``checkpoints/last.ckpt`` exists, ``fit`` continues from it, so
running the same command again after a crash (or with more ``epochs``) picks up
where it stopped; once a run has finished, running it again just returns the
saved best. ``.ckpt`` files are pickles for resuming only: the safe, shareable
format is the model folder (:mod:`lstmkit.io`), which the task writes from
:attr:`FitResult.best_state_dict`.

The kept model is the epoch with the best ``val_<monitor>``; with
``TrainConfig.average_last = N`` the mean of the last N epochs' weights
(``checkpoints/recent/``) replaces it if that mean scores better.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import logging
import math
import os
import shutil
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import lightning as L
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, TQDMProgressBar
from torch import nn

from lstmkit.config import InvalidValue, TrainConfig
from lstmkit.errors import LstmkitError
from lstmkit.io import load_tensors, read_json, save_tensors, write_json
from lstmkit.plots import plot_history, read_history


class TrainableModel(Protocol):
    """What :func:`fit` needs from a task's ``nn.Module``."""

    def training_loss(self, batch: Any) -> torch.Tensor:
        """Scalar mean loss of one training batch (with grad)."""

    def validation_output(self, batch: Any) -> dict:
        """Whatever the epoch's metrics need from one batch; ``"loss"`` and ``"n"`` optional."""

    def validation_metrics(self, outputs: list[dict]) -> dict[str, float]:
        """Metrics over the whole validation set from the batches' outputs."""


@dataclass
class FitResult:
    """What :func:`fit` returns."""

    best_state_dict: dict[str, torch.Tensor]
    """Weights of the kept model (CPU tensors), read from ``checkpoints/best.safetensors``."""
    best_metrics: dict[str, float]
    """Validation metrics of the kept model, unprefixed (``{"loss": .., "accuracy": ..}``)."""
    history: list[dict[str, float]]
    """The rows of ``logs/metrics.csv``, one per epoch."""
    epochs_run: int
    """Epochs trained in total, over all resumed runs."""
    best_epoch: int | None = None
    """Epoch (1-based) of the kept weights; None when they are an average."""
    averaged_epochs: list[int] | None = None
    """Epochs whose mean weights were kept (``average_last``), else None."""


# ----------------------------------------------------------------------------
# Optimizer and learning-rate schedule
# ----------------------------------------------------------------------------


def build_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer named by ``cfg.optimizer`` at learning rate ``cfg.lr``."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=cfg.momentum,
                                   weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}")


def _cos_anneal(start: float, end: float, pct: float) -> float:
    """Cosine from ``start`` (pct=0) to ``end`` (pct=1)."""
    return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)


def lr_factor(step: int, *, scheduler: str, total_steps: int, warmup_steps: int = 0,
              steps_per_epoch: int = 1, step_size: int = 5, gamma: float = 0.5) -> float:
    """Multiplier of the peak learning rate for optimizer step ``step`` (0-based).

    With W = ``warmup_steps``, S = ``total_steps`` and p = (step - W) / (S - W)::

        warmup     (step < W): (step + 1) / W
        none, plateau:         1
        cosine:                (1 + cos(pi p)) / 2
        linear:                1 - p
        step:                  gamma ** (epoch // step_size),  epoch = step // steps_per_epoch
        onecycle:              torch's OneCycleLR (cosine, div_factor 25, final_div_factor 1e4)
                               with its rising part W / S of training (0.3 when W = 0)
    """
    if scheduler == "onecycle":
        pct_start = warmup_steps / total_steps if warmup_steps else 0.3
        initial, peak, final = 1 / 25, 1.0, 1 / 25 / 1e4
        rise_end = pct_start * total_steps - 1  # the step where the rise ends, as in torch
        if step <= rise_end:
            return _cos_anneal(initial, peak, step / rise_end if rise_end > 0 else 1.0)
        return _cos_anneal(peak, final, (step - rise_end) / max(1e-12, total_steps - 1 - rise_end))
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    p = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    if scheduler == "cosine":
        return _cos_anneal(1.0, 0.0, p)
    if scheduler == "linear":
        return 1.0 - p
    if scheduler == "step":
        return gamma ** ((step // steps_per_epoch) // step_size)
    return 1.0  # none, plateau (plateau's decay is ReduceLROnPlateau's)


# ----------------------------------------------------------------------------
# The LightningModule around a task model
# ----------------------------------------------------------------------------


def epoch_metrics(model: TrainableModel, outputs: list[dict]) -> dict[str, float]:
    """``loss`` (batch mean, weighted by ``"n"``) plus ``model.validation_metrics(outputs)``."""
    metrics: dict[str, float] = {}
    losses = [(float(o["loss"]), float(o.get("n", 1))) for o in outputs if "loss" in o]
    if losses:
        metrics["loss"] = sum(loss * n for loss, n in losses) / sum(n for _, n in losses)
    for name, value in model.validation_metrics(outputs).items():
        metrics[name] = float(value)
    return metrics


class _LitModule(L.LightningModule):
    """Adapts a :class:`TrainableModel` to Lightning's hooks."""

    def __init__(self, model: nn.Module, cfg: TrainConfig, monitor: str, mode: str):
        super().__init__()
        self.model = model
        self.cfg, self.monitor, self.mode = cfg, monitor, mode
        self.epoch_train_loss: float | None = None  # mean training loss of the last epoch
        self.epoch_metrics: dict[str, float] = {}  # validation metrics of the last epoch
        self._outputs: list[dict] = []
        self._loss_sum, self._loss_batches = 0.0, 0
        self._plateau_warmup_steps = 0
        self.last_lr: float | None = None  # learning rate of the latest optimizer step

    # --- training ---
    def on_train_epoch_start(self) -> None:
        self._loss_sum, self._loss_batches = 0.0, 0

    def training_step(self, batch, batch_idx):
        loss = self.model.training_loss(batch)
        self._loss_sum = self._loss_sum + loss.detach()  # stays on the device: no sync per step
        self._loss_batches += 1
        self.log("loss", loss, prog_bar=True, on_step=True, on_epoch=False, batch_size=1)
        return loss

    # --- validation ---
    def on_validation_epoch_start(self) -> None:
        self._outputs = []

    def validation_step(self, batch, batch_idx):
        self._outputs.append(self.model.validation_output(batch))

    def on_validation_epoch_end(self) -> None:
        metrics = epoch_metrics(self.model, self._outputs)
        self._outputs = []
        for name, value in metrics.items():
            self.log(f"val_{name}", value, prog_bar=name in (self.monitor, "loss"))
        if self.trainer.sanity_checking:
            return
        self.epoch_metrics = metrics
        if self._loss_batches:
            self.epoch_train_loss = float(self._loss_sum / self._loss_batches)
            self.log("train_loss", self.epoch_train_loss)
        if self.last_lr is not None:
            self.log("lr", self.last_lr)

    # --- optimizer and schedule ---
    def configure_optimizers(self):
        cfg = self.cfg
        optimizer = build_optimizer(self.model.parameters(), cfg)
        if cfg.scheduler == "none" and cfg.warmup_epochs == 0:
            return optimizer
        total = self.trainer.estimated_stepping_batches
        if not math.isfinite(total):
            raise InvalidValue("train.scheduler", f"{cfg.scheduler} (or warmup) needs a training "
                               "loader with a known length")
        total = int(total)
        steps_per_epoch = max(1, total // max(1, self.trainer.max_epochs))
        warmup = round(cfg.warmup_epochs * steps_per_epoch)
        if cfg.scheduler == "plateau":
            self._plateau_warmup_steps = warmup  # done in optimizer_step
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode=self.mode, factor=cfg.gamma, patience=cfg.plateau_patience)
            return {"optimizer": optimizer, "lr_scheduler": {
                "scheduler": plateau, "monitor": f"val_{self.monitor}", "interval": "epoch"}}

        def factor(step: int) -> float:
            return lr_factor(step, scheduler=cfg.scheduler, total_steps=total, warmup_steps=warmup,
                             steps_per_epoch=steps_per_epoch, step_size=cfg.step_size,
                             gamma=cfg.gamma)

        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None) -> None:
        # ReduceLROnPlateau owns the lr after warmup, so plateau's warmup is set here by hand.
        step = self.trainer.global_step
        if step < self._plateau_warmup_steps:
            for group in optimizer.param_groups:
                group["lr"] = self.cfg.lr * (step + 1) / self._plateau_warmup_steps
        self.last_lr = optimizer.param_groups[0]["lr"]
        optimizer.step(closure=optimizer_closure)


# ----------------------------------------------------------------------------
# Callbacks: metrics.csv, the best weights, the last N epochs' weights
# ----------------------------------------------------------------------------


def _improved(value: float, best: float | None, mode: str) -> bool:
    """Is ``value`` better than ``best``? Anything beats nothing; NaN beats nothing else."""
    if best is None or (math.isnan(best) and not math.isnan(value)):
        return True
    if math.isnan(value):
        return False
    return value > best if mode == "max" else value < best


def _save_tensors_atomic(path: Path, state_dict: dict[str, torch.Tensor]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    save_tensors(tmp, state_dict)
    os.replace(tmp, path)


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write_json(tmp, data)
    os.replace(tmp, path)


class _MetricsCSV(Callback):
    """Writes ``logs/metrics.csv``, one row per epoch, rewriting the whole file each epoch.

    On resume it first keeps the rows of the epochs already completed, dropping
    any row of an epoch that is about to be trained again.
    """

    def __init__(self, path: Path):
        self.path = path
        self.rows: list[dict] = []
        self._start = 0.0

    def on_train_start(self, trainer, pl_module) -> None:
        done = trainer.current_epoch  # epochs completed before this call (0 unless resuming)
        old = read_history(self.path) if self.path.exists() else []
        self.rows = [row for row in old if row["epoch"] <= done]

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        row = {"epoch": trainer.current_epoch + 1, "train_loss": pl_module.epoch_train_loss}
        row.update({f"val_{name}": value for name, value in pl_module.epoch_metrics.items()})
        row["lr"] = pl_module.last_lr
        row["seconds"] = round(time.perf_counter() - self._start, 3)
        self.rows.append(row)
        columns = list(dict.fromkeys(key for r in self.rows for key in r))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(tmp, self.path)


class _KeepBest(Callback):
    """Saves the weights to ``best.safetensors`` (+ ``best.json``) whenever ``monitor`` improves."""

    def __init__(self, folder: Path, monitor: str, mode: str):
        self.weights, self.info = folder / "best.safetensors", folder / "best.json"
        self.monitor, self.mode = monitor, mode
        self.best: float | None = None

    def on_train_start(self, trainer, pl_module) -> None:
        self.best = None
        if self.info.exists() and self.weights.exists():  # resuming
            self.best = read_json(self.info)["metrics"].get(self.monitor)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        metrics = pl_module.epoch_metrics
        if self.monitor not in metrics:
            raise KeyError(f"the monitored metric {self.monitor!r} is not among the validation "
                           f"metrics {sorted(metrics)}")
        if _improved(metrics[self.monitor], self.best, self.mode):
            self.best = metrics[self.monitor]
            self.weights.parent.mkdir(parents=True, exist_ok=True)
            _save_tensors_atomic(self.weights, pl_module.model.state_dict())
            _write_json_atomic(self.info, {"epoch": trainer.current_epoch + 1, "metrics": metrics})


class _RecentWeights(Callback):
    """Keeps the weights after each of the last ``keep`` epochs in ``recent/epoch-NNNN.safetensors``."""

    def __init__(self, folder: Path, keep: int):
        self.folder, self.keep = folder, keep

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        epoch = trainer.current_epoch + 1
        _save_tensors_atomic(self.folder / f"epoch-{epoch:04d}.safetensors",
                             pl_module.model.state_dict())
        for old in sorted(self.folder.glob("epoch-*.safetensors")):
            if int(old.stem.split("-")[1]) <= epoch - self.keep:
                old.unlink()


class _ProgressBar(TQDMProgressBar):
    """Lightning's bar on stderr (stdout is for results a script may read), without the logger's
    version number (``v_num``)."""

    def get_metrics(self, trainer, pl_module):
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        return items

    # Lightning builds each bar with file=sys.stdout, read when the bar is made.
    def init_sanity_tqdm(self):
        with contextlib.redirect_stdout(sys.stderr):
            return super().init_sanity_tqdm()

    def init_train_tqdm(self):
        with contextlib.redirect_stdout(sys.stderr):
            return super().init_train_tqdm()

    def init_validation_tqdm(self):
        with contextlib.redirect_stdout(sys.stderr):
            return super().init_validation_tqdm()


# ----------------------------------------------------------------------------
# Quiet Lightning
# ----------------------------------------------------------------------------

_LIGHTNING_LOGGERS = [
    "lightning.pytorch.utilities.rank_zero",  # GPU/TPU available, litlogger tips, "Seed set to"
    "lightning.fabric.utilities.rank_zero",
    "lightning.fabric.utilities.seed",
    "lightning.pytorch.accelerators.cuda",    # LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES
]
_KNOWN_WARNINGS = [
    r".*does not have many workers.*",
    r".*is smaller than the logging interval.*",
    r".*Checkpoint directory .* exists and is not empty.*",
    r"GPU available but not used.*",
    r"You're resuming from a checkpoint that ended before the epoch ended.*",
    r"`isinstance\(treespec, LeafSpec\)` is deprecated.*",  # lightning 2.6 with torch >= 2.10
]


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Hide Lightning's informational messages and a few known, harmless warnings."""
    saved = {name: logging.getLogger(name).level for name in _LIGHTNING_LOGGERS}
    for name in _LIGHTNING_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for pattern in _KNOWN_WARNINGS:
                warnings.filterwarnings("ignore", message=pattern)
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


# ----------------------------------------------------------------------------
# fit
# ----------------------------------------------------------------------------


def _accelerator(cfg: TrainConfig) -> str:
    cuda = torch.cuda.is_available()
    if cfg.device == "cuda" and not cuda:
        raise InvalidValue("train.device", "cuda was asked for but no CUDA GPU is available")
    accelerator = "gpu" if cfg.device == "cuda" or (cfg.device == "auto" and cuda) else "cpu"
    if accelerator == "cpu" and cfg.precision == "16-mixed":
        raise InvalidValue("train.precision", "16-mixed needs a CUDA GPU; use bf16-mixed or 32")
    return accelerator


def _logger(out_dir: Path):
    """TensorBoard into ``out_dir/logs/`` when it is installed, else no logger."""
    if importlib.util.find_spec("tensorboard") is None and importlib.util.find_spec("tensorboardX") is None:
        return False
    from lightning.pytorch.loggers import TensorBoardLogger

    return TensorBoardLogger(save_dir=out_dir, name="logs", version="", default_hp_metric=False)


def _is_finished(ckpt_dir: Path, cfg: TrainConfig) -> bool:
    """Did an earlier run in this folder already train all ``cfg.epochs`` (or stop early)?"""
    marker = ckpt_dir / "finished.json"
    if not (marker.exists() and (ckpt_dir / "best.safetensors").exists()):
        return False
    done = read_json(marker)
    return bool(done["stopped_early"]) or done["epochs"] >= cfg.epochs


def _evaluate(model: nn.Module, loader) -> dict[str, float]:
    """The validation metrics of ``model`` over ``loader``, outside Lightning."""
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        outputs = [model.validation_output(move_data_to_device(batch, device)) for batch in loader]
    return epoch_metrics(model, outputs)


def _mean_state(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of floating tensors; other tensors (counters) from the last state."""
    mean = {}
    for name, last in states[-1].items():
        if last.is_floating_point():
            total = sum(s[name].double() for s in states)
            mean[name] = (total / len(states)).to(last.dtype)
        else:
            mean[name] = last
    return mean


def _try_average(model: nn.Module, valid_loader, ckpt_dir: Path, history: list[dict],
                 keep: int, monitor: str, mode: str) -> None:
    """Keep the mean of the last ``keep`` epochs' weights if it beats the best epoch."""
    epochs = [int(row["epoch"]) for row in history][-keep:]
    files = [ckpt_dir / "recent" / f"epoch-{e:04d}.safetensors" for e in epochs]
    if len(epochs) < 2 or not all(f.exists() for f in files):
        return
    model.load_state_dict(_mean_state([load_tensors(f) for f in files]))
    metrics = _evaluate(model, valid_loader)
    best = read_json(ckpt_dir / "best.json")
    if _improved(metrics[monitor], best["metrics"][monitor], mode):
        _save_tensors_atomic(ckpt_dir / "best.safetensors", model.state_dict())
        _write_json_atomic(ckpt_dir / "best.json", {"averaged_epochs": epochs, "metrics": metrics})


def _start_fresh(out_dir: Path) -> None:
    """Remove what an earlier, unresumable run left (no last.ckpt), so it is not mixed in."""
    for sub in ("checkpoints", "logs", "plots"):
        if (out_dir / sub).is_dir():
            shutil.rmtree(out_dir / sub)


def fit(model: nn.Module, train_loader, valid_loader, cfg: TrainConfig, out_dir: str | Path,
        monitor: str = "accuracy", mode: str = "max", progress_bar: bool = True,
        callbacks: list[Callback] | tuple = ()) -> FitResult:
    """Train ``model`` (a :class:`TrainableModel`) and keep its best weights by ``val_<monitor>``.

    ``mode`` is "max" when a higher ``monitor`` is better (accuracy), "min" when
    lower is (loss). Resumes from ``out_dir/checkpoints/last.ckpt`` when present.
    Returns with ``model`` holding the kept weights, in eval mode. ``callbacks`` are extra
    Lightning callbacks (e.g. a benchmark scoring the test set after each epoch).
    """
    missing = [m for m in ("training_loss", "validation_output", "validation_metrics")
               if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(f"{type(model).__name__} lacks {', '.join(missing)} (see lstmkit.train)")
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    out_dir = Path(out_dir)
    ckpt_dir, csv_path = out_dir / "checkpoints", out_dir / "logs" / "metrics.csv"
    last = ckpt_dir / "last.ckpt"

    if not _is_finished(ckpt_dir, cfg):
        if not last.exists():
            _start_fresh(out_dir)
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        accelerator = _accelerator(cfg)
        with _quiet_lightning():
            L.seed_everything(cfg.seed, verbose=False)
            early = EarlyStopping(f"val_{monitor}", patience=cfg.patience, mode=mode)
            callbacks = [
                _MetricsCSV(csv_path),
                _KeepBest(ckpt_dir, monitor, mode),
                # Two checkpointers: Lightning 2.6 refreshes save_last only when top-k saved.
                ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=f"val_{monitor}",
                                mode=mode, save_top_k=1, enable_version_counter=False),
                ModelCheckpoint(dirpath=ckpt_dir, filename="last", save_top_k=1,
                                enable_version_counter=False),
                *([early] if cfg.patience > 0 else []),
                *([_RecentWeights(ckpt_dir / "recent", cfg.average_last)] if cfg.average_last else []),
                *([_ProgressBar()] if progress_bar else []),
                *callbacks,
            ]
            trainer = L.Trainer(
                max_epochs=cfg.epochs, accelerator=accelerator, devices=1,
                precision=cfg.precision, gradient_clip_val=cfg.grad_clip or None,
                gradient_clip_algorithm="norm", callbacks=callbacks, logger=_logger(out_dir),
                default_root_dir=out_dir, enable_progress_bar=progress_bar,
                enable_model_summary=False, log_every_n_steps=cfg.log_every_n_steps)
            try:
                trainer.fit(_LitModule(model, cfg, monitor, mode), train_loader, valid_loader,
                            ckpt_path=str(last) if last.exists() else None)
            except SystemExit:
                if not trainer.interrupted:
                    raise
                # Lightning answers Ctrl+C with sys.exit(1) and leaves SIGINT ignored; a library
                # call should raise KeyboardInterrupt instead, with Ctrl+C working again.
                signal.signal(signal.SIGINT, signal.default_int_handler)
                raise KeyboardInterrupt(f"training interrupted; the last finished epoch is saved in {last}: "
                                        "rerun the same command to resume") from None
        history = read_history(csv_path)
        stopped_early = cfg.patience > 0 and early.stopped_epoch > 0
        if cfg.average_last:
            _try_average(model, valid_loader, ckpt_dir, history, cfg.average_last, monitor, mode)
        _write_json_atomic(ckpt_dir / "finished.json",
                           {"epochs": len(history), "stopped_early": stopped_early})
        plot_history(csv_path, out_dir / "plots")

    best_file = ckpt_dir / "best.safetensors"
    if not best_file.exists():
        raise LstmkitError(f"{best_file}: missing; delete {out_dir} to train from scratch")
    best = read_json(ckpt_dir / "best.json")
    state = load_tensors(best_file)
    model.load_state_dict(state)
    model.eval()
    history = read_history(csv_path)
    return FitResult(best_state_dict=state, best_metrics=best["metrics"], history=history,
                     epochs_run=len(history), best_epoch=best.get("epoch"),
                     averaged_epochs=best.get("averaged_epochs"))
