"""The sequence classifier's settings: ``data.*``, ``model.*`` and ``train.*`` (every key documented).

Two kinds of target (``data.label_per_step``, ``data.target_kind``):

==========================  ==============================  ====================================
setting                     the model predicts              trained with / evaluated by
==========================  ==============================  ====================================
``label_per_step=false``    one label per sequence          cross-entropy / accuracy, macro-F1
``label_per_step=true``,    a label for every time step     cross-entropy over the real steps /
``target_kind=label``                                       per-step accuracy, macro-F1
``label_per_step=true``,    a number for every time step    mean squared error over the real
``target_kind=value``                                       steps / per-step MAE, RMSE, MSE
==========================  ==============================  ====================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lstmkit.config import check_choices, invalid
from lstmkit.tasks.classification import ClassifierTrainConfig


@dataclass
class SequenceDataConfig:
    """How sequence files are read and what the target is."""

    id_column: str = "sequence_id"
    """Long CSV: the column naming the sequence a row belongs to."""
    label_column: str = "label"
    """Long CSV: the target column (a label, or a number per step)"""
    feature_columns: list[str] | None = None
    """Long CSV: the feature columns in order (none: every other column)"""
    time_column: str | None = None
    """Long CSV: sort each sequence's rows by this column (none: file order)"""
    label_per_step: bool = False
    """A target for every time step instead of one label per sequence."""
    target_kind: Literal["label", "value"] = "label"
    """Per-step targets: labels (classes) or values (numbers)"""
    scale: bool = True
    """Standardise each feature with the training steps' mean and std (saved as scaler.json)"""
    layout: Literal["auto", "channels_last", "channels_first"] = "auto"
    """Python arrays: (N, T, F) steps x features, or (N, C, T) as sktime's numpy3D; auto: steps x features, warning
    when an array has fewer steps than features."""

    def __post_init__(self):
        check_choices(self)
        if self.target_kind == "value" and not self.label_per_step:
            raise invalid("target_kind", "value needs data.label_per_step=true (one number per step); "
                          "one label per sequence is target_kind=label")
        if self.feature_columns is not None and not self.feature_columns:
            raise invalid("feature_columns", "must name at least one column, or be none (every other column)")


@dataclass
class SequenceModelConfig:
    """The network's shape."""

    architecture: Literal["rnn", "lstm_fcn"] = "rnn"
    """rnn: the recurrent stack alone; lstm_fcn: beside it a 1-D convolution branch (Karim et al.'s LSTM-FCN /
    MLSTM-FCN), the two vectors concatenated before the classifier (one label per sequence only)"""
    cell: Literal["lstm", "gru"] = "lstm"
    """Recurrent cell."""
    hidden_size: int = 64
    """Hidden units per direction."""
    num_layers: int = 1
    """Stacked recurrent layers."""
    bidirectional: bool = True
    """Read the sequence both ways (per-step targets then see later steps too)"""
    dropout: float = 0.0
    """Dropout between stacked recurrent layers."""
    input_dropout: float = 0.0
    """Dropout on the (scaled) input features."""
    init: Literal["default", "orthogonal"] = "orthogonal"
    """Recurrent weight initialisation."""
    engine: Literal["fused", "reference"] = "fused"
    """Fused kernel or the plain reference loop."""
    pooling: Literal["last", "mean", "max", "attention", "max_mean"] = "max_mean"
    """Sequence -> vector (not per step)"""
    attention_size: int = 64
    """Size of the attention pooling's hidden layer."""
    hidden_layer: int = 0
    """Units of an extra ReLU layer before the output (0: none)"""
    classifier_dropout: float = 0.2
    """Dropout before the output layer(s)"""
    label_smoothing: float = 0.0
    """Cross-entropy label smoothing (labels only)"""
    conv_filters: list[int] = field(default_factory=lambda: [128, 256, 128])
    """lstm_fcn: the channels of each convolution block."""
    conv_kernels: list[int] = field(default_factory=lambda: [8, 5, 3])
    """lstm_fcn: each convolution block's kernel size (as many as conv_filters)"""
    squeeze_excite: bool = True
    """lstm_fcn: squeeze-and-excitation after every convolution block but the last (MLSTM-FCN); false: LSTM-FCN"""
    se_reduction: int = 16
    """lstm_fcn: the squeeze-and-excitation bottleneck has filters / se_reduction units."""
    branch_dropout: float = 0.8
    """lstm_fcn: dropout on the recurrent branch's pooled vector (0.8 in Karim et al.)"""

    def __post_init__(self):
        check_choices(self)
        for key in ("hidden_size", "num_layers", "attention_size", "se_reduction"):
            if getattr(self, key) < 1:
                raise invalid(key, f"must be >= 1; got {getattr(self, key)}")
        if self.hidden_layer < 0:
            raise invalid("hidden_layer", f"must be >= 0; got {self.hidden_layer}")
        for key in ("conv_filters", "conv_kernels"):
            values = getattr(self, key)
            if not values or any(v < 1 for v in values):
                raise invalid(key, f"must be one or more numbers >= 1; got {values}")
        if len(self.conv_kernels) != len(self.conv_filters):
            raise invalid("conv_kernels", f"needs one kernel size per convolution block: conv_filters has "
                                          f"{len(self.conv_filters)}, conv_kernels {len(self.conv_kernels)}")
        for key in ("dropout", "input_dropout", "classifier_dropout", "label_smoothing", "branch_dropout"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise invalid(key, f"must be in [0, 1); got {getattr(self, key)}")


@dataclass
class SequenceTrainConfig(ClassifierTrainConfig):
    """``train.*``: the shared training settings, ``class_weights`` and augmentation.

    Augmentation changes each training sequence anew every time it is drawn (applied to the
    scaled features, so sigmas are in standard deviations; see :mod:`lstmkit.tasks.sequence.padding`);
    validation and prediction never see it. All off by default.

    The shared keys get this task's defaults here, as field defaults (a preset or YAML file that
    sets one ``train`` key builds the section from these, not from a factory).
    """

    epochs: int = 30
    """Passes over the training data."""
    lr: float = 3e-3
    """Peak learning rate (of the onecycle schedule)."""
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = "adamw"
    """The optimizer."""
    weight_decay: float = 1e-4
    """Decoupled L2 penalty."""
    scheduler: Literal["none", "cosine", "step", "plateau", "onecycle", "linear"] = "onecycle"
    """Learning-rate schedule (see the shared ``train.*`` keys)."""
    patience: int = 0
    """Early stopping patience in epochs; 0: train all epochs (onecycle ends low)."""
    max_shift: int = 0
    """Move each training sequence k ~ U{-max_shift..max_shift} steps in time (the edge value fills in;
    per-step targets move with it)."""
    feature_shift: int = 0
    """Move each training sequence's features k ~ U{-feature_shift..feature_shift} places along the
    feature axis, before scaling (the edge feature fills in): a horizontal shift of an image read
    row by row. Only for features in a meaningful order (pixels, spectral bands)."""
    jitter: float = 0.0
    """Add Gaussian noise N(0, jitter^2) to every training feature value."""
    magnitude: float = 0.0
    """Multiply each feature of a training sequence by its own gain N(1, magnitude^2)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("max_shift", "feature_shift", "jitter", "magnitude"):
            if getattr(self, key) < 0:
                raise invalid(key, f"must be >= 0, got {getattr(self, key)}")


@dataclass
class SequenceClassifierConfig:
    """Every setting of a sequence classifier: ``data.*``, ``model.*``, ``train.*``."""

    data: SequenceDataConfig = field(default_factory=SequenceDataConfig)
    model: SequenceModelConfig = field(default_factory=SequenceModelConfig)
    train: SequenceTrainConfig = field(default_factory=SequenceTrainConfig)

    def __post_init__(self) -> None:
        if self.model.architecture == "lstm_fcn" and self.data.label_per_step:
            raise invalid("model.architecture", "lstm_fcn predicts one label per sequence (its convolution "
                                                "branch is pooled over the sequence); with data.label_per_step="
                                                "true use architecture=rnn")
