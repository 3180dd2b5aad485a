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

    checkpoints/last.ckpt          Lightning checkpoint after every epoch: for resuming your own
                                   runs (a pickle: never load one you did not make yourself)
    checkpoints/best.safetensors   weights of the kept model, + best.json (its metrics)
    checkpoints/recent/            the last N epochs' weights (train.average_last = N)
    logs/metrics.csv               one row per epoch: epoch, train_loss, val_loss,
                                   val_<metric>..., lr (of the epoch's last step), seconds
    logs/train.log                 one line per epoch, and what happened to the run (resumed,
                                   interrupted, stopped on a NaN loss)
    logs/events.out.tfevents.*     TensorBoard, when tensorboard is installed
    plots/*.png                    loss.png and one curve per validation metric

Resuming: when ``checkpoints/last.ckpt`` exists, ``fit`` says so on stderr and in
``logs/train.log`` (``resuming from runs/x/checkpoints/last.ckpt: epoch 3 of 20 done``) and
continues from it, so running the same command again after a crash picks up after the last
finished epoch; once a run has finished, running it again just returns the saved best. The
checkpoint is read with ``torch.load(weights_only=True)`` (tensors and plain data only); it also
holds torch's random state, so with a fixed seed on the CPU a resumed run gives the weights an
uninterrupted one would. The safe, shareable format is the model folder (:mod:`lstmkit.io`),
which the task writes from :attr:`FitResult.best_state_dict`.

The kept model is the epoch with the best ``val_<monitor>``; with ``TrainConfig.average_last = N``
the equal-weight mean of the last N epochs' weights (``torch.optim.swa_utils.AveragedModel``)
replaces it if that mean scores strictly better.

Why ``logs/metrics.csv`` is written here and not by Lightning's ``CSVLogger``: the CSVLogger
writes a row per ``log`` call (step rows, and separate rows for training and validation values
of one epoch, with a ``step`` column and 0-based epochs); on a resumed run it deletes the
existing file (its "Previous log files ... will be deleted" warning) or, within one run, appends
to it, so it can neither keep the finished epochs nor drop the rows of an epoch that is trained
again after a crash. Ours keeps exactly one row per finished epoch across interruptions.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import logging
import math
import shutil
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import lightning as L
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.strategies import DDPStrategy
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

from lstmkit.config import InvalidValue
from lstmkit.errors import LstmkitError
from lstmkit.files import atomic_write_text, honour_umask
from lstmkit.io import load_tensors, read_json, save_tensors, write_json
from lstmkit.plots import plot_history, read_history
from lstmkit.training.config import TrainConfig
from lstmkit.training.distributed import is_global_zero, shard_loader
from lstmkit.training.progress import EpochBar, epoch_line
from lstmkit.training.schedules import (
    ENDING_SCHEDULES,
    Schedule,
    build_optimizer,
    build_schedule,
)
from lstmkit.training.threads import resolve_threads, torch_threads

__all__ = ["FitResult", "TrainableModel", "build_optimizer", "epoch_metrics", "fit"]


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


class _NonFiniteLoss(Exception):
    """Raised inside Lightning's loop; :func:`fit` turns it into a :class:`LstmkitError`."""

    def __init__(self, value: float, epoch: int, step: int, rank: int | None = None):
        super().__init__(f"loss {value} at epoch {epoch}, global step {step}")
        self.value, self.epoch, self.step, self.rank = value, epoch, step, rank


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
        self.last_lr: float | None = None  # learning rate of the latest optimizer step
        self.schedule: Schedule | None = None
        self.restored: dict | None = None  # our part of the checkpoint resumed from

    # --- training ---
    def on_train_start(self) -> None:
        if self.restored is not None:  # continue the random numbers where the checkpoint left them
            torch.set_rng_state(self.restored["torch_rng"])
            if "cuda_rng" in self.restored and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(self.restored["cuda_rng"])

    def on_train_epoch_start(self) -> None:
        self._loss_sum, self._loss_batches = 0.0, 0

    def training_step(self, batch, batch_idx):
        loss = self.model.training_loss(batch)
        self._stop_if_not_finite(loss.detach())
        self._loss_sum = self._loss_sum + loss.detach()
        self._loss_batches += 1
        self.log("loss", loss, prog_bar=True, on_step=True, on_epoch=False, batch_size=1)
        return loss

    def _stop_if_not_finite(self, loss: Tensor) -> None:
        """Raise :class:`_NonFiniteLoss` before a NaN or infinite loss reaches the weights.

        One host-device sync per step. With several processes every rank must stop at the same
        step, or the others would wait forever in the next gradient all-reduce for the one that
        stopped: the ranks' losses are gathered (``(world_size,)``, one small collective per
        step) and all of them stop if any is not finite, naming the first such rank.
        """
        if self.trainer.world_size > 1:
            losses = self.all_gather(loss.reshape(()).float()).reshape(-1)  # (world_size,)
            bad = (~torch.isfinite(losses)).nonzero().flatten()
            if len(bad):
                rank = int(bad[0])
                raise _NonFiniteLoss(float(losses[rank]), self.current_epoch + 1, self.global_step + 1, rank)
        elif not bool(torch.isfinite(loss).all()):
            raise _NonFiniteLoss(float(loss), self.current_epoch + 1, self.global_step + 1)

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
        if self._loss_batches:  # the same number of batches on every rank (lstmkit.training.distributed)
            loss = torch.as_tensor(self._loss_sum / self._loss_batches, dtype=torch.float32)
            if self.trainer.world_size > 1:  # the mean over all ranks' batches
                loss = self.trainer.strategy.reduce(loss.to(self.device), reduce_op="mean")
            self.epoch_train_loss = float(loss)
            self.log("train_loss", self.epoch_train_loss)
        if self.last_lr is not None:
            self.log("lr", self.last_lr)

    # --- optimizer and schedule ---
    def configure_optimizers(self):
        cfg = self.cfg
        optimizer = build_optimizer(self.model.parameters(), cfg)
        if self.restored is not None:  # the schedule the run started with (its state follows)
            total, per_epoch = self.restored["total_steps"], self.restored["steps_per_epoch"]
        else:
            total = self.trainer.estimated_stepping_batches
            needs_length = cfg.scheduler not in ("none", "plateau") or cfg.warmup_epochs > 0
            if not math.isfinite(total):
                if needs_length:
                    raise InvalidValue("train.scheduler", f"{cfg.scheduler} (or warmup) needs a "
                                       "training loader with a known length")
                total = 0
            total = int(total)
            per_epoch = max(1, total // max(1, self.trainer.max_epochs))
        self.schedule = build_schedule(optimizer, cfg, total, per_epoch, f"val_{self.monitor}",
                                       self.mode)
        if not self.schedule.schedulers:
            return optimizer
        return [optimizer], self.schedule.schedulers

    def lr_scheduler_step(self, scheduler, metric) -> None:
        if metric is not None:
            scheduler.step(metric)
            return
        # A schedule laid out over S steps holds its last learning rate after step S - 1
        # (train longer: see fit); OneCycleLR would raise past its end.
        if (self.cfg.scheduler in ENDING_SCHEDULES and self.schedule is not None
                and scheduler.last_epoch >= self.schedule.total_steps - 1):
            return
        scheduler.step()

    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None) -> None:
        self.last_lr = optimizer.param_groups[0]["lr"]
        optimizer.step(closure=optimizer_closure)

    # --- checkpoints ---
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        ours: dict[str, Any] = {"torch_rng": torch.get_rng_state()}
        if self.schedule is not None:
            ours["total_steps"] = self.schedule.total_steps
            ours["steps_per_epoch"] = self.schedule.steps_per_epoch
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            ours["cuda_rng"] = torch.cuda.get_rng_state_all()
        checkpoint["lstmkit"] = ours

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.restored = checkpoint.get("lstmkit")

    def schedule_ended_note(self) -> str:
        """On a resumed run, whether its schedule ended before the epochs now asked for."""
        if self.restored is None or self.cfg.scheduler not in ENDING_SCHEDULES:
            return ""
        old_epochs = self.restored["total_steps"] // max(1, self.restored["steps_per_epoch"])
        if self.trainer.max_epochs <= old_epochs:
            return ""
        return (f"; its {self.cfg.scheduler} learning-rate schedule was laid out over {old_epochs} "
                f"epochs, so epochs {old_epochs + 1}-{self.trainer.max_epochs} keep its final "
                "learning rate")


# ----------------------------------------------------------------------------
# Callbacks: metrics.csv, train.log, the best weights, the last N epochs' weights
# ----------------------------------------------------------------------------


def _improved(value: float, best: float | None, mode: str) -> bool:
    """Is ``value`` better than ``best``? Anything beats nothing; NaN beats nothing else."""
    if best is None or (math.isnan(best) and not math.isnan(value)):
        return True
    if math.isnan(value):
        return False
    return value > best if mode == "max" else value < best


def _note(out_dir: Path, text: str, echo: bool = True) -> None:
    """Append ``text`` to ``logs/train.log``; print it on stderr too when ``echo``."""
    if echo:
        print(text, file=sys.stderr, flush=True)
    log = out_dir / "logs" / "train.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as f:
        f.write(text + "\n")


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
        if not trainer.is_global_zero:  # under DDP only rank 0 writes files
            return
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(dict.fromkeys(k for r in self.rows for k in r)))
        writer.writeheader()
        writer.writerows(self.rows)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, text.getvalue())


class _TrainLog(Callback):
    """Says when a run resumes, and writes one line per epoch to ``logs/train.log`` (and to stderr
    when ``echo``: progress on a stderr that is not a terminal)."""

    def __init__(self, out_dir: Path, rows: _MetricsCSV, echo: bool):
        self.out_dir, self.rows, self.echo = out_dir, rows, echo

    def on_train_start(self, trainer, pl_module) -> None:
        if trainer.ckpt_path is not None and trainer.is_global_zero:
            _note(self.out_dir, f"resuming from {trainer.ckpt_path}: epoch {trainer.current_epoch} "
                  f"of {trainer.max_epochs} done{pl_module.schedule_ended_note()}")

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or not self.rows.rows or not trainer.is_global_zero:
            return
        _note(self.out_dir, epoch_line(trainer.current_epoch + 1, trainer.max_epochs,
                                       self.rows.rows[-1]), echo=self.echo)


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
            if not trainer.is_global_zero:
                return
            self.weights.parent.mkdir(parents=True, exist_ok=True)
            save_tensors(self.weights, pl_module.model.state_dict())
            write_json(self.info, {"epoch": trainer.current_epoch + 1, "metrics": metrics})


class _RecentWeights(Callback):
    """Keeps the weights after each of the last ``keep`` epochs in ``recent/epoch-NNNN.safetensors``."""

    def __init__(self, folder: Path, keep: int):
        self.folder, self.keep = folder, keep

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        epoch = trainer.current_epoch + 1
        save_tensors(self.folder / f"epoch-{epoch:04d}.safetensors", pl_module.model.state_dict())
        for old in sorted(self.folder.glob("epoch-*.safetensors")):
            if int(old.stem.split("-")[1]) <= epoch - self.keep:
                old.unlink()


class _LastCheckpoint(ModelCheckpoint):
    """``last.ckpt`` after every epoch (atomic, by Lightning), with the umask's mode: Lightning's
    temporary file is created ``0600``."""

    def __init__(self, folder: Path):
        super().__init__(dirpath=folder, filename="last", save_top_k=1, enable_version_counter=False)

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        super()._save_checkpoint(trainer, filepath)
        if trainer.is_global_zero and Path(filepath).exists():
            honour_umask(filepath)


# ----------------------------------------------------------------------------
# Quiet Lightning
# ----------------------------------------------------------------------------

_LIGHTNING_LOGGERS = [
    "lightning.pytorch.utilities.rank_zero",  # GPU/TPU available, litlogger tips, "Seed set to"
    "lightning.fabric.utilities.rank_zero",
    "lightning.fabric.utilities.seed",
    "lightning.pytorch.accelerators.cuda",    # LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES
    "lightning.fabric.utilities.distributed",  # DDP: "Initializing distributed: GLOBAL_RANK: 0, ..."
    "lightning.pytorch.strategies.ddp",
]
_KNOWN_WARNINGS = [
    r".*does not have many workers.*",
    r".*is smaller than the logging interval.*",
    r".*Checkpoint directory .* exists and is not empty.*",
    r"GPU available but not used.*",
    r"You're resuming from a checkpoint that ended before the epoch ended.*",
    r"`isinstance\(treespec, LeafSpec\)` is deprecated.*",  # lightning 2.6 with torch >= 2.10
    # DDP: every rank logs the same values (validation is not sharded, the training loss is
    # averaged over the ranks by _LitModule), so there is nothing for sync_dist to add.
    r"It is recommended to use `self.log\(.*sync_dist=True\)`.*",
]


@contextmanager
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


def average_weights(model: nn.Module, files: list[Path]) -> dict[str, torch.Tensor]:
    """The equal-weight mean of the parameters saved in ``files``, by torch's ``AveragedModel``.

    For K files holding parameters w_1..w_K it returns (w_1 + ... + w_K) / K (computed as the
    running mean ``AveragedModel`` keeps, in the parameters' dtype). Buffers (``use_buffers``
    off) come from the last file: lstmkit's buffers are fixed during training (IDF weights,
    lexicon tables, CRF masks) and may be integer or boolean, which cannot be averaged.
    ``model`` is left holding the last file's weights.
    """
    averaged = AveragedModel(model, device=torch.device("cpu"))
    for file in files:
        model.load_state_dict(load_tensors(file))
        averaged.update_parameters(model)
    return {name: tensor.detach().clone() for name, tensor in averaged.module.state_dict().items()}


def _try_average(model: nn.Module, valid_loader, ckpt_dir: Path, history: list[dict],
                 keep: int, monitor: str, mode: str) -> None:
    """Keep the mean of the last ``keep`` epochs' weights if it scores strictly better than the best
    epoch (a tie keeps the epoch)."""
    epochs = [int(row["epoch"]) for row in history][-keep:]
    files = [ckpt_dir / "recent" / f"epoch-{e:04d}.safetensors" for e in epochs]
    if len(epochs) < 2 or not all(f.exists() for f in files):
        return
    model.load_state_dict(average_weights(model, files))
    metrics = _evaluate(model, valid_loader)
    best = read_json(ckpt_dir / "best.json")
    if _improved(metrics[monitor], best["metrics"][monitor], mode):
        save_tensors(ckpt_dir / "best.safetensors", model.state_dict())
        write_json(ckpt_dir / "best.json", {"averaged_epochs": epochs, "metrics": metrics})


def _start_fresh(out_dir: Path) -> None:
    """Remove what an earlier, unresumable run left (no last.ckpt), so it is not mixed in."""
    for sub in ("checkpoints", "logs", "plots"):
        if (out_dir / sub).is_dir():
            shutil.rmtree(out_dir / sub)


def _non_finite_error(err: _NonFiniteLoss, cfg: TrainConfig, ckpt_dir: Path) -> LstmkitError:
    last, best = ckpt_dir / "last.ckpt", ckpt_dir / "best.safetensors"
    kept = []
    if err.epoch > 1 and last.exists():
        kept.append(f"{last} (after epoch {err.epoch - 1}) to resume from")
    if best.exists():
        kept.append(f"the best weights so far in {best}")
    clip = "" if cfg.grad_clip else "; set train.grad_clip (e.g. 5.0)"
    where = "" if err.rank is None else f" on rank {err.rank} (every rank stopped)"
    return LstmkitError(
        f"training stopped: the training loss is {err.value}{where} in epoch {err.epoch}, at global step "
        f"{err.step}. Kept: {', '.join(kept) if kept else 'nothing (no epoch finished)'}. Try a "
        f"lower train.lr (now {cfg.lr}){clip}, and check the data for NaN or infinite values")


def fit(model: nn.Module, train_loader, valid_loader, cfg: TrainConfig, out_dir: str | Path,
        monitor: str = "accuracy", mode: str = "max", progress_bar: bool = True,
        callbacks: list[Callback] | tuple = ()) -> FitResult:
    """Train ``model`` (a :class:`TrainableModel`) and keep its best weights by ``val_<monitor>``.

    ``mode`` is "max" when a higher ``monitor`` is better (accuracy), "min" when lower is (loss).
    Returns with ``model`` holding the kept weights, in eval mode. ``callbacks`` are extra
    Lightning callbacks (e.g. a benchmark scoring the test set after each epoch); one with a method
    ``on_plots_written(plots_dir)`` is also called, on global rank 0, once the curves are drawn.

    * **Progress** (``progress_bar=True``) goes to stderr: a bar on a terminal, else one line
      per epoch (:mod:`lstmkit.training.progress`). ``logs/train.log`` gets the epoch lines either way.
    * **Resuming.** With ``out_dir/checkpoints/last.ckpt`` present, training continues after its
      last finished epoch (loaded with ``weights_only=True``), and says so on stderr.
    * **Training longer.** Rerunning a finished run with a larger ``cfg.epochs`` trains the
      added epochs. Schedules without an end (none, step, plateau) simply go on. A schedule laid
      out over the steps of the run that started it (cosine, linear, onecycle) is *not* rebuilt
      over the new total, which would throw the learning rate back up (e.g. from onecycle's
      lr/25e4 to about lr/2 mid-cycle, undoing the annealing); it holds its final learning rate
      for the added epochs instead: fine-tuning at a small rate. To train with the whole
      schedule stretched over more epochs, start a new run (another ``out_dir``). The same holds
      when an interrupted run is resumed with a different ``cfg.epochs``: its schedule is the
      one it started with.
    * **NaN or infinite training loss** stops training with an :class:`LstmkitError` naming the
      epoch and global step (1-based), before that step updates the weights; ``last.ckpt`` and
      ``best.safetensors`` keep the last good epoch and the best one. Gradient clipping
      (``cfg.grad_clip``, 5.0 by default) guards against the exploding gradients behind most
      such losses.
    * **Threads.** Torch's CPU thread count is set to ``cfg.num_threads`` (0: see
      :func:`lstmkit.training.threads.auto_threads`; with ``cfg.devices`` processes on this machine
      and no ``LOCAL_WORLD_SIZE`` set, the cores are divided by ``cfg.devices``) while training
      and restored afterwards.
    * **Several processes** (``cfg.devices * cfg.num_nodes > 1`` or ``cfg.strategy="ddp"``):
      Lightning's DDP; each rank trains on its share of the batches
      (:mod:`lstmkit.training.distributed`) and scores the whole validation set. Only global rank 0
      writes files; the other ranks return their final in-memory weights and metrics (their
      ``history`` has the same epochs), without reading the run folder.
    """
    missing = [m for m in ("training_loss", "validation_output", "validation_metrics")
               if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(f"{type(model).__name__} lacks {', '.join(missing)} (see lstmkit.training.train)")
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    out_dir = Path(out_dir)
    ckpt_dir, csv_path = out_dir / "checkpoints", out_dir / "logs" / "metrics.csv"
    last = ckpt_dir / "last.ckpt"

    with torch_threads(resolve_threads(cfg.num_threads, _local_ranks_environ(cfg))):
        if not _is_finished(ckpt_dir, cfg):
            if not last.exists() and is_global_zero():
                _start_fresh(out_dir)
            ranks_result = _train(model, train_loader, valid_loader, cfg, out_dir, monitor, mode,
                                  progress_bar, list(callbacks))
            if ranks_result is not None:  # a rank other than 0: it wrote nothing, reads nothing
                model.eval()
                return ranks_result
            kept = read_json(ckpt_dir / "best.json") if (ckpt_dir / "best.json").exists() else {}
            plot_history(csv_path, out_dir / "plots", best_epoch=kept.get("epoch"))  # None: averaged weights
            for callback in callbacks:  # e.g. lstmkit.training.tracking's, which logs the plots
                if callable(getattr(callback, "on_plots_written", None)):
                    callback.on_plots_written(out_dir / "plots")

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


def _local_ranks_environ(cfg: TrainConfig) -> dict[str, str] | None:
    """The environment :func:`~lstmkit.training.threads.auto_threads` should see: ``os.environ``, with
    ``LOCAL_WORLD_SIZE=cfg.devices`` when several processes will train on this machine and no
    launcher (torchrun) has said how many (Lightning's own launcher does not)."""
    import os

    if cfg.devices > 1 and "LOCAL_WORLD_SIZE" not in os.environ:
        return {**os.environ, "LOCAL_WORLD_SIZE": str(cfg.devices)}
    return None


def _strategy(cfg: TrainConfig, accelerator: str):
    """Lightning's strategy: "auto" for one process, else DDP (gloo on CPUs).

    Under torchrun, ``train.devices`` and ``train.num_nodes`` must describe the processes it
    started (else Lightning would wait for ranks that never come, or start more).
    """
    import os

    from lstmkit.training.distributed import launched_processes

    launched = launched_processes(os.environ)
    if launched is not None:
        local, total = launched
        if local != cfg.devices or total != cfg.devices * cfg.num_nodes:
            raise InvalidValue("train.devices", f"torchrun started {local} processes on this machine and "
                               f"{total} in all, but train.devices={cfg.devices} and train.num_nodes="
                               f"{cfg.num_nodes}: set train.devices={local} train.num_nodes={total // local}")
    if cfg.strategy == "auto" and cfg.devices * cfg.num_nodes == 1:
        return "auto"
    return DDPStrategy(process_group_backend="gloo" if accelerator == "cpu" else None)


def _train(model: nn.Module, train_loader, valid_loader, cfg: TrainConfig, out_dir: Path,
           monitor: str, mode: str, progress_bar: bool, extra: list[Callback]) -> FitResult | None:
    """One Lightning run (fresh or resumed), then weight averaging and ``finished.json``.

    Returns None on the process that writes the files (global rank 0), else the rank's own
    :class:`FitResult` (its final weights and metrics; nothing is read from the run folder).
    """
    ckpt_dir, csv_path = out_dir / "checkpoints", out_dir / "logs" / "metrics.csv"
    last = ckpt_dir / "last.ckpt"
    bar = progress_bar and sys.stderr.isatty()
    accelerator = _accelerator(cfg)
    with _quiet_lightning():
        L.seed_everything(cfg.seed, verbose=False)
        early = EarlyStopping(f"val_{monitor}", patience=cfg.patience, mode=mode)
        rows = _MetricsCSV(csv_path)
        callbacks = [
            rows,
            _TrainLog(out_dir, rows, echo=progress_bar and not bar),
            _KeepBest(ckpt_dir, monitor, mode),
            _LastCheckpoint(ckpt_dir),
            *([early] if cfg.patience > 0 else []),
            *([_RecentWeights(ckpt_dir / "recent", cfg.average_last)] if cfg.average_last else []),
            *([EpochBar()] if bar else []),
            *extra,
        ]
        trainer = L.Trainer(
            max_epochs=cfg.epochs, accelerator=accelerator, devices=cfg.devices,
            num_nodes=cfg.num_nodes, strategy=_strategy(cfg, accelerator),
            use_distributed_sampler=False,  # lstmkit.training.distributed shares out the training batches
            precision=cfg.precision, gradient_clip_val=cfg.grad_clip or None,
            gradient_clip_algorithm="norm", callbacks=callbacks, logger=_logger(out_dir),
            default_root_dir=out_dir, enable_progress_bar=bar, enable_checkpointing=True,
            enable_model_summary=False, log_every_n_steps=cfg.log_every_n_steps)
        if trainer.world_size > 1:
            train_loader = shard_loader(train_loader, trainer.global_rank, trainer.world_size, cfg.seed)
        lit = _LitModule(model, cfg, monitor, mode)
        try:
            trainer.fit(lit, train_loader, valid_loader,
                        ckpt_path=str(last) if last.exists() else None, weights_only=True)
        except _NonFiniteLoss as err:
            error = _non_finite_error(err, cfg, ckpt_dir)
            if trainer.is_global_zero:
                _note(out_dir, str(error), echo=False)
            raise error from None
        except SystemExit:
            if not trainer.interrupted:
                raise
            # Lightning answers Ctrl+C with sys.exit(1) and leaves SIGINT ignored; a library
            # call should raise KeyboardInterrupt instead, with Ctrl+C working again.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            message = (f"training interrupted; the last finished epoch is saved in {last}: "
                       "rerun the same command to resume")
            if trainer.is_global_zero:
                _note(out_dir, message, echo=False)
            raise KeyboardInterrupt(message) from None
    if not trainer.is_global_zero:
        state = {name: tensor.detach().cpu().clone() for name, tensor in model.state_dict().items()}
        return FitResult(best_state_dict=state, best_metrics=dict(lit.epoch_metrics),
                         history=list(rows.rows), epochs_run=len(rows.rows))
    history = read_history(csv_path)
    if cfg.average_last:
        _try_average(model, valid_loader, ckpt_dir, history, cfg.average_last, monitor, mode)
    stopped_early = cfg.patience > 0 and early.stopped_epoch > 0
    write_json(ckpt_dir / "finished.json", {"epochs": len(history), "stopped_early": stopped_early})
    if history and (ckpt_dir / "best.json").exists():
        _note(out_dir, outcome_line(history, read_json(ckpt_dir / "best.json"), cfg, monitor, stopped_early),
              echo=progress_bar)
    return None


def outcome_line(history: list[dict], best: dict, cfg: TrainConfig, monitor: str, stopped_early: bool) -> str:
    """What the end of training did that the epoch lines do not say: whether early stopping ended
    it, and which weights are kept (``best`` is ``checkpoints/best.json``)::

        stopped early after epoch 10 of 30 (no better val_loss in 3 epochs: train.patience); kept epoch 7 (best val_loss)
        trained 10 epochs; kept epoch 8 (best val_f1)
        trained 10 epochs; kept the mean of the weights of epochs 8-10 (train.average_last: a better val_loss ...)
    """  # noqa: E501 - the example lines are printed as they are
    last = int(history[-1]["epoch"])
    metric = f"val_{monitor}"
    if best.get("averaged_epochs"):
        epochs = best["averaged_epochs"]
        kept = (f"kept the mean of the weights of epochs {epochs[0]}-{epochs[-1]} (train.average_last: "
                f"a better {metric} than the best epoch's)")
    else:
        kept = f"kept epoch {best['epoch']} (best {metric})"
    if stopped_early:
        return (f"stopped early after epoch {last} of {cfg.epochs} (no better {metric} in {cfg.patience} "
                f"epochs: train.patience); {kept}")
    return f"trained {last} epoch{'s' if last != 1 else ''}; {kept}"
