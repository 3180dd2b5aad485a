"""The forecaster's settings: ``data.*``, ``model.*`` and ``train.*`` (every key documented)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lstmkit.config import check_choices, invalid
from lstmkit.training.config import TrainConfig


def quantile_key(q: float) -> str:
    """A quantile's name in records and files: 0.1 -> ``p10``, 0.05 -> ``p5``, 0.025 -> ``p2.5``."""
    return f"p{round(q * 100, 4):g}"


@dataclass
class ForecastDataConfig:
    """How the CSV is read: which column is the time, which are targets and covariates."""

    time_column: str = "date"
    """The time column (dates pandas can parse, or numbers)"""
    target: list[str] | str = field(default_factory=lambda: ["value"])
    """Column(s) to forecast: a or a,b."""
    covariates: list[str] | str = field(default_factory=list)
    """Other inputs, known up to the forecast origin only."""
    future_covariates: list[str] | str = field(default_factory=list)
    """Inputs also known for the forecast steps."""
    id_column: str | None = None
    """Many series in one long file: the column naming each row's series."""
    static_covariates: list[str] | str = field(default_factory=list)
    """Per-series constants (numbers or categories)"""
    calendar: bool = True
    """Add sin/cos calendar features of the time (known in the future)"""
    missing: Literal["interpolate", "error"] = "interpolate"
    """Empty cells and gaps in a regular series."""
    freq: str | None = None
    """The series' grid (pandas alias: D, h, MS, QS; a number for numeric time); none infers it."""
    season: int | None = None
    """Lag of seasonal_naive and MASE; none: daily 7, hourly 24, monthly 12, quarterly 4."""

    def __post_init__(self):
        check_choices(self)
        for key in ("target", "covariates", "future_covariates", "static_covariates"):
            value = getattr(self, key)
            if isinstance(value, str):  # target="sales" or "a,b" from Python, as on the command line
                setattr(self, key, [c.strip() for c in value.split(",") if c.strip()])
        if not self.target:
            raise invalid("target", "name at least one target column")
        if self.season is not None and self.season < 1:
            raise invalid("season", f"must be >= 1 or none; got {self.season}")
        if self.static_covariates and not self.id_column:
            raise invalid("static_covariates", "per-series constants need many series: set data.id_column too")
        named = [self.time_column, *self.target, *self.covariates, *self.future_covariates,
                 *([self.id_column] if self.id_column else []), *self.static_covariates]
        twice = sorted({c for c in named if named.count(c) > 1})
        if twice:
            raise invalid("target", f"column {twice[0]!r} is named twice among data.time_column, data.target, "
                                    "data.covariates, data.future_covariates, data.id_column and "
                                    "data.static_covariates")


@dataclass
class ForecastModelConfig:
    """The network's shape and what it predicts."""

    lookback: int = 28
    """Rows of history the model sees."""
    horizon: int = 5
    """Steps forecast at once."""
    window_norm: Literal["last", "mean", "none"] = "last"
    """Per-window normalisation of the targets (RevIN-like)"""
    window_norm_eps: float = 0.1
    """Added to each window's std (in training standard deviations)"""
    cell: Literal["lstm", "gru"] = "lstm"
    """Recurrent cell of the encoder."""
    hidden_size: int = 64
    """Hidden units per direction."""
    num_layers: int = 1
    """Stacked recurrent layers."""
    bidirectional: bool = True
    """Read the lookback window both ways."""
    dropout: float = 0.1
    """Dropout between layers and before the head."""
    decoder: Literal["direct", "autoregressive"] = "direct"
    """All steps at once, or one step at a time."""
    linear_skip: bool = True
    """Add a linear map of the normalised past targets to the forecast."""
    loss: Literal["mse", "mae", "huber", "quantile"] = "quantile"
    """Quantile: one output per model.quantiles."""
    huber_delta: float = 1.0
    """Where the huber loss turns from squared to linear."""
    quantiles: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9])
    """Forecast quantiles; 0.5 is added."""
    calibrate: bool = True
    """Shift each quantile so that its share of validation values below it is its level."""
    id_embedding: int = 0
    """Size of a learned embedding of the series id; 0: none (unseen series can be forecast)"""
    static_embedding: int = 4
    """Size of the embedding of each categorical data.static_covariates column."""

    def __post_init__(self):
        check_choices(self)
        for key in ("lookback", "horizon", "hidden_size", "num_layers"):
            if getattr(self, key) < 1:
                raise invalid(key, f"must be >= 1; got {getattr(self, key)}")
        if not 0.0 <= self.dropout < 1.0:
            raise invalid("dropout", f"must be in [0, 1); got {self.dropout}")
        if self.window_norm_eps <= 0:
            raise invalid("window_norm_eps", f"must be > 0; got {self.window_norm_eps}")
        if self.huber_delta <= 0:
            raise invalid("huber_delta", f"must be > 0; got {self.huber_delta}")
        bad = [q for q in self.quantiles if not 0.0 < q < 1.0]
        if bad:
            raise invalid("quantiles", f"each must be between 0 and 1 (exclusive); got {bad[0]}")
        self.quantiles = sorted({round(float(q), 6) for q in [*self.quantiles, 0.5]})
        for key in ("id_embedding", "static_embedding"):
            if getattr(self, key) < 0:
                raise invalid(key, f"must be >= 0; got {getattr(self, key)}")


def _forecast_train_defaults() -> TrainConfig:
    return TrainConfig(epochs=40, batch_size=32, lr=2e-3, optimizer="adamw", weight_decay=1e-4,
                       scheduler="none", patience=8, grad_clip=1.0)


@dataclass
class ForecasterConfig:
    """Every setting of a forecaster: ``data.*``, ``model.*``, ``train.*``."""

    data: ForecastDataConfig = field(default_factory=ForecastDataConfig)
    model: ForecastModelConfig = field(default_factory=ForecastModelConfig)
    train: TrainConfig = field(default_factory=_forecast_train_defaults)
