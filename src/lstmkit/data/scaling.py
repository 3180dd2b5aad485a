"""Per-column standardisation, fitted on training rows only and saved as plain JSON.

For every column (feature) ``f`` of the training rows ``X`` (N, F)::

    mean_f  = mean over rows n of X[n, f]              (NaN cells ignored)
    scale_f = sqrt(mean over n of (X[n, f] - mean_f)^2) (population std, ddof=0)
    scale_f = 1   where the column is constant (scale_f ~ 0)

    transform(x)         = (x - mean) / scale
    inverse_transform(z) = z * scale + mean

The fitting is scikit-learn's :class:`~sklearn.preprocessing.StandardScaler` (which
ignores NaN when fitting and keeps it when transforming, and gives constant columns
scale 1); ``transform`` is the same arithmetic done with numpy so that it accepts
arrays of any leading shape ``(..., F)`` (rows, windows of rows, batches of windows)
and keeps ``float32`` as ``float32``.

``to_json()`` gives plain lists, the content of a model folder's ``scaler.json``;
``Standardizer.from_json`` rebuilds the same transform without unpickling anything.
"""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import StandardScaler

__all__ = ["Standardizer"]


class Standardizer:
    """Scale every column to mean 0 and standard deviation 1 of the training rows.

    Args:
        columns: optional column names, saved in the JSON so that ``scaler.json`` says
            which number belongs to which column; their count must match ``F``.

    Attributes (after :meth:`fit`):
        mean_: (F,) float64, the training mean of each column.
        scale_: (F,) float64, the training standard deviation (1 for constant columns).
    """

    def __init__(self, columns: list[str] | None = None):
        self.columns = list(columns) if columns is not None else None

    # ------------------------------------------------------------------ fit

    def fit(self, array) -> Standardizer:
        """Learn ``mean_`` and ``scale_`` from training rows ``array`` (N, F) or (..., F).

        NaN cells are ignored. A column with no finite value at all is an error: it
        would have no mean. Returns ``self``.
        """
        rows = self._as_rows(array, fitting=True)  # (N, F)
        if rows.shape[0] == 0:
            raise ValueError("Standardizer.fit: no rows to fit on")
        empty = np.flatnonzero(~np.isfinite(rows).any(axis=0))
        if empty.size:
            raise ValueError(
                "Standardizer.fit: column(s) with no finite value: "
                + ", ".join(self._name(int(i)) for i in empty)
            )
        if np.isinf(rows).any():
            raise ValueError("Standardizer.fit: infinite values in the training rows")
        scaler = StandardScaler().fit(rows)
        self.mean_ = np.asarray(scaler.mean_, dtype=np.float64)
        self.scale_ = np.asarray(scaler.scale_, dtype=np.float64)
        return self

    # ------------------------------------------------------------------ transform

    def transform(self, array) -> np.ndarray:
        """``(array - mean_) / scale_`` over the last axis; same shape (..., F) as given."""
        x = self._checked(array)
        return ((x - self.mean_) / self.scale_).astype(x.dtype, copy=False)

    def inverse_transform(self, array) -> np.ndarray:
        """``array * scale_ + mean_`` over the last axis; same shape (..., F) as given."""
        x = self._checked(array)
        return (x * self.scale_ + self.mean_).astype(x.dtype, copy=False)

    def fit_transform(self, array) -> np.ndarray:
        """``fit(array).transform(array)``."""
        return self.fit(array).transform(array)

    # ------------------------------------------------------------------ JSON

    def to_json(self) -> dict:
        """``{"kind": "standard", "mean": [...], "scale": [...], "columns": [...]|None}``."""
        self._require_fitted()
        return {
            "kind": "standard",
            "mean": [float(v) for v in self.mean_],
            "scale": [float(v) for v in self.scale_],
            "columns": self.columns,
        }

    @classmethod
    def from_json(cls, data: dict) -> Standardizer:
        """Rebuild a fitted Standardizer from :meth:`to_json`'s dict.

        Raises:
            ValueError: a missing key, lists of different lengths, or a scale that is
                not a positive finite number.
        """
        try:
            mean = np.asarray(data["mean"], dtype=np.float64)
            scale = np.asarray(data["scale"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(
                f"scaler.json: expected 'mean' and 'scale' lists of numbers ({err})"
            ) from None
        if mean.ndim != 1 or mean.shape != scale.shape:
            raise ValueError(
                "scaler.json: 'mean' and 'scale' must be lists of the same length"
            )
        if not (
            np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()
        ):
            raise ValueError("scaler.json: 'mean' must be finite and 'scale' positive")
        columns = data.get("columns")
        if columns is not None and len(columns) != len(mean):
            raise ValueError("scaler.json: 'columns' and 'mean' differ in length")
        out = cls(columns)
        out.mean_, out.scale_ = mean, scale
        return out

    # ------------------------------------------------------------------ helpers

    def _name(self, i: int) -> str:
        return repr(self.columns[i]) if self.columns else f"#{i}"

    def _as_rows(self, array, fitting: bool = False) -> np.ndarray:
        x = np.asarray(array, dtype=np.float64)
        if x.ndim < 1 or (x.ndim == 1 and fitting):
            raise ValueError(
                f"Standardizer: expected an array (N, F), got shape {x.shape}"
            )
        if self.columns is not None and x.shape[-1] != len(self.columns):
            raise ValueError(
                f"Standardizer: {x.shape[-1]} columns given, {len(self.columns)} names"
            )
        return x.reshape(-1, x.shape[-1])

    def _require_fitted(self) -> None:
        if not hasattr(self, "mean_"):
            raise RuntimeError("Standardizer is not fitted: call fit() first")

    def _checked(self, array) -> np.ndarray:
        self._require_fitted()
        x = np.asarray(array)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float64)
        if x.ndim < 1 or x.shape[-1] != self.mean_.shape[0]:
            raise ValueError(
                f"Standardizer: expected last dimension {self.mean_.shape[0]}, got shape {x.shape}"
            )
        return x

    def __repr__(self) -> str:
        fitted = f"F={self.mean_.shape[0]}" if hasattr(self, "mean_") else "not fitted"
        return f"Standardizer({fitted})"
