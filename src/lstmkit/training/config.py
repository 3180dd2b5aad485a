"""``train.*``: how to train (optimizer, schedule, stopping, hardware). Shared by every task."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lstmkit.config import check_choices, invalid


@dataclass
class TrainConfig:
    """How to train: optimizer, schedule, stopping, hardware. Shared by every task."""

    epochs: int = 10
    """Passes over the training data (the most; early stopping may end sooner)."""
    batch_size: int = 32
    """Examples per optimizer step."""
    lr: float = 1e-3
    """Peak learning rate (reached after warmup)."""
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    """The optimizer."""
    weight_decay: float = 0.0
    """L2 penalty (decoupled for adamw)."""
    momentum: float = 0.9
    """Momentum for sgd and rmsprop; ignored by adam and adamw."""
    scheduler: Literal["none", "cosine", "step", "plateau", "onecycle", "linear"] = "none"
    """Learning-rate schedule. cosine / linear decay to 0 over all steps; step multiplies
    by ``gamma`` every ``step_size`` epochs; plateau multiplies by ``gamma`` when the
    monitored metric stops improving (see ``plateau_patience``); onecycle is
    torch's OneCycleLR curve (cosine up from lr/25, then down to lr/25e4). All are torch's
    own schedulers (lstmkit.training.schedules). A finished run trained longer keeps the final lr of
    cosine / linear / onecycle for the added epochs (see lstmkit.training.train.fit)."""
    warmup_epochs: float = 0.0
    """Linear warmup from ~0 to ``lr`` over this many epochs (fractions allowed); works with
    every scheduler (for onecycle it sets the rising part, default 30% of training)."""
    step_size: int = 5
    """Epochs between decays of the step scheduler."""
    gamma: float = 0.5
    """Decay factor of the step and plateau schedulers."""
    plateau_patience: int = 1
    """Epochs without improvement the plateau scheduler tolerates; it decays the learning
    rate on the next one (torch's ReduceLROnPlateau ``patience``)."""
    grad_clip: float = 5.0
    """Clip the gradient's global L2 norm to this value; 0 disables clipping."""
    patience: int = 3
    """Early stopping: stop after this many epochs without improvement; 0 disables it."""
    seed: int = 13
    """Random seed for weights, shuffling and the held-out split."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to train: auto picks cuda when a GPU is available."""
    precision: Literal["32", "bf16-mixed", "16-mixed"] = "32"
    """Numeric precision (16-mixed needs a CUDA GPU)."""
    num_threads: int = 0
    """CPU threads for torch while training (the caller's count is restored afterwards);
    0 (auto): OMP_NUM_THREADS when set, else the cores this process may use divided by
    torchrun's LOCAL_WORLD_SIZE (see lstmkit.training.threads)."""
    devices: int = 1
    """Training processes (CPU) or GPUs on each machine; more than 1 trains with DDP (see
    ``strategy``). Each process takes ``batch_size`` examples a step, so a step learns from
    ``batch_size * devices * num_nodes`` examples (docs/scaling.md)."""
    strategy: Literal["auto", "ddp"] = "auto"
    """How several processes train one model: ddp is Lightning's DistributedDataParallel
    (gloo on CPUs, NCCL on GPUs); auto is one process, or ddp when ``devices`` or
    ``num_nodes`` is above 1."""
    num_nodes: int = 1
    """Machines taking part (torchrun ``--nnodes``, SLURM ``--nodes``); the run folder must
    be on a file system they share."""
    log_every_n_steps: int = 50
    """How often step-level values go to TensorBoard."""
    average_last: int = 0
    """If N > 0, also try the element-wise mean of the weights after each of the last N
    epochs, and keep it instead of the best epoch if it scores better on validation."""
    class_weights: Literal["none", "balanced"] = "none"
    """Weight the loss by inverse class frequency (classification tasks); "none" weighs all
    examples equally."""
    ensemble: int = 1
    """Train this many members from seeds ``seed .. seed+ensemble-1`` and keep them all in one
    model folder; predictions average the members (class probabilities, tag marginals decoded
    under the tag scheme, or quantiles). 1: one model."""
    tracking: Literal["none", "mlflow"] = "none"
    """Also log the run to a tracking server: mlflow logs parameters, the per-epoch metrics of
    ``logs/metrics.csv``, the plots and the model folder (as plain files) to
    ``MLFLOW_TRACKING_URI`` (default ``./mlruns``). logs/ and TensorBoard are written either way."""

    def __post_init__(self) -> None:
        check_choices(self)
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                    "step_size": self.step_size, "gamma": self.gamma,
                    "log_every_n_steps": self.log_every_n_steps,
                    "devices": self.devices, "num_nodes": self.num_nodes,
                    "ensemble": self.ensemble}
        for key, value in positive.items():
            if not value > 0:
                raise invalid(key, f"must be > 0, got {value}")
        non_negative = {"weight_decay": self.weight_decay, "warmup_epochs": self.warmup_epochs,
                        "grad_clip": self.grad_clip, "patience": self.patience,
                        "plateau_patience": self.plateau_patience,
                        "num_threads": self.num_threads, "average_last": self.average_last}
        for key, value in non_negative.items():
            if not value >= 0:
                raise invalid(key, f"must be >= 0, got {value}")
        if not 0 <= self.momentum < 1:
            raise invalid("momentum", f"must be in [0, 1), got {self.momentum}")
