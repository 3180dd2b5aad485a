"""Per-series inputs of a panel model: static covariates and the series id, as network inputs.

Learned from the training series (:meth:`StaticEncoding.fit`) and saved in ``config.json``:

* a static covariate whose values all parse as numbers is *numeric*: standardised with the mean
  and standard deviation over the training series (one value per series);
* any other is *categorical*: its values seen in training get codes 1..n (sorted), anything else
  0 ("unseen"), and the network embeds each code (:class:`~lstmkit.tasks.forecaster.network.ForecastNet`);
* with ``model.id_embedding`` > 0 the series id is one more categorical input, whose unseen
  value is an error (the embedding of a series the model never saw is noise).

``encode(contexts)`` gives ``numbers`` (S, Sn) float32 and ``categories`` (S, Sc) int64 for S series.
"""

from __future__ import annotations

import math

import numpy as np

from lstmkit.errors import DataError

__all__ = ["StaticEncoding"]


class StaticEncoding:
    """Static covariates (and optionally the series id) -> the network's static inputs."""

    def __init__(self, numbers: dict[str, list[float]] | None = None, categories: dict[str, list[str]] | None = None,
                 ids: list[str] | None = None, id_dim: int = 0):
        self.numbers = dict(numbers or {})  # column -> [mean, std]
        self.categories = dict(categories or {})  # column -> sorted training values
        self.ids = list(ids or [])  # training series ids, for the id embedding
        self.id_dim = id_dim

    @classmethod
    def fit(cls, contexts, columns: list[str], id_dim: int = 0) -> StaticEncoding:
        numbers, categories = {}, {}
        for column in columns:
            values = [ctx.static[column] for ctx in contexts]
            parsed = [_number(v) for v in values]
            if all(math.isfinite(p) for p in parsed):
                std = float(np.std(parsed))
                numbers[column] = [float(np.mean(parsed)), std if std > 1e-12 else 1.0]
            else:
                categories[column] = sorted(set(values))
        ids = [str(ctx.series_id) for ctx in contexts] if id_dim else []
        return cls(numbers, categories, ids, id_dim)

    @property
    def n_numbers(self) -> int:
        return len(self.numbers)

    @property
    def category_sizes(self) -> tuple[int, ...]:
        """Embedding sizes (codes) per categorical input: unseen + the training values; the id last."""
        sizes = tuple(len(v) + 1 for v in self.categories.values())
        return sizes + ((len(self.ids) + 1,) if self.id_dim else ())

    def category_dims(self, static_dim: int) -> tuple[int, ...]:
        return (static_dim,) * len(self.categories) + ((self.id_dim,) if self.id_dim else ())

    def encode(self, contexts) -> tuple[np.ndarray, np.ndarray]:
        """``numbers`` (S, Sn) float32 and ``categories`` (S, Sc) int64 for S series."""
        numbers = np.zeros((len(contexts), self.n_numbers), dtype=np.float32)
        categories = np.zeros((len(contexts), len(self.category_sizes)), dtype=np.int64)
        codes = {c: {v: i + 1 for i, v in enumerate(values)} for c, values in self.categories.items()}
        id_codes = {sid: i + 1 for i, sid in enumerate(self.ids)}
        for s, ctx in enumerate(contexts):
            for j, (column, (mean, std)) in enumerate(self.numbers.items()):
                value = _number(_static(ctx, column))
                if not math.isfinite(value):
                    raise DataError(f"static covariate {column!r} is {_static(ctx, column)!r}; the model was "
                                    "trained on numbers in this column", ctx.label)
                numbers[s, j] = (value - mean) / std
            for j, column in enumerate(self.categories):
                categories[s, j] = codes[column].get(_static(ctx, column), 0)
            if self.id_dim:
                if str(ctx.series_id) not in id_codes:
                    raise DataError(f"series {ctx.series_id!r} was not in the training data, and this model learned "
                                    "an embedding per training series (model.id_embedding); train with "
                                    "model.id_embedding=0 to forecast series it has not seen", ctx.label)
                categories[s, -1] = id_codes[str(ctx.series_id)]
        return numbers, categories

    def to_json(self) -> dict:
        return {"numbers": self.numbers, "categories": self.categories, "ids": self.ids, "id_dim": self.id_dim}

    @classmethod
    def from_json(cls, data: dict) -> StaticEncoding:
        return cls(data.get("numbers"), data.get("categories"), data.get("ids"), int(data.get("id_dim", 0)))


def _static(ctx, column: str) -> str:
    if column not in ctx.static:
        raise DataError(f"no static covariate {column!r} (data.static_covariates) for this series", ctx.label)
    return ctx.static[column]


def _number(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan
