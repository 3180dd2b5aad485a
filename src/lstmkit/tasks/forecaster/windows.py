"""Cutting a series into forecasting windows, and splitting it by time.

Symbols: N rows, L = ``lookback``, H = ``horizon``, W windows, T targets,
P past-only covariates, K future-known covariates.

A window is fixed by its *origin* ``o``: the row of its first forecast step::

    rows  o-L ... o-1 | o ... o+H-1
          past inputs | forecast steps

    past[w]         = values[o-L : o, target_idx + past_cov_idx + future_cov_idx]   (L, T+P+K)
    future_known[w] = values[o : o+H, future_cov_idx]                               (H, K)
    y[w]            = values[o : o+H, target_idx]                                   (H, T)

The past part holds every column (targets first, then past-only covariates, then the
future-known ones), all strictly before the origin. For the forecast steps the model sees
only the future-known covariates (calendar features, planned values): never the targets
and never a past-only covariate, whose future values are unknown when forecasting.

Splits are by time, never shuffled. :func:`chronological_split` gives, for each part, the
rows whose values are *targets* of that part's windows; a window's inputs may reach back
into the earlier part (context), but no target of a later part is ever an input of an
earlier part's window, and no row is a target in two parts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Windows", "chronological_split", "make_windows"]


@dataclass
class Windows:
    """Windows cut from one series (see the module docstring for the shapes).

    Attributes:
        past: (W, L, T+P+K) the rows before each origin.
        future_known: (W, H, K) the future-known covariates of the forecast steps.
        y: (W, H, T) the targets of the forecast steps.
        origins: (W,) int, the row of each window's first forecast step.
    """

    past: np.ndarray
    future_known: np.ndarray
    y: np.ndarray
    origins: np.ndarray

    def __len__(self) -> int:
        return len(self.origins)


def make_windows(
    values: np.ndarray,
    lookback: int,
    horizon: int,
    target_idx: list[int],
    past_cov_idx: list[int] = (),
    future_cov_idx: list[int] = (),
    stride: int = 1,
    start: int | None = None,
    end: int | None = None,
) -> Windows:
    """Every window whose forecast steps lie in rows ``[start, end)``.

    Args:
        values: (N, F) the series, one column per variable.
        lookback: L, rows of history each window sees (>= 1).
        horizon: H, steps each window forecasts (>= 1).
        target_idx: the columns to forecast (at least one).
        past_cov_idx: covariates known only up to the origin.
        future_cov_idx: covariates also known for the forecast steps.
        stride: rows between consecutive origins (``horizon`` for non-overlapping
            forecasts, as :func:`lstmkit.metrics.forecast.rolling_origins`).
        start: the first origin; default ``lookback`` (the first row with a full history);
            must be at least ``lookback``.
        end: forecast steps stay before this row; default N.

    Returns:
        :class:`Windows` with origins ``start, start+stride, ...`` up to ``end - H``
        (possibly none: arrays with W = 0).
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(
            f"make_windows: values must be (N, F), got shape {values.shape}"
        )
    n, n_features = values.shape
    target_idx, past_cov_idx, future_cov_idx = (
        list(target_idx),
        list(past_cov_idx),
        list(future_cov_idx),
    )
    if lookback < 1 or horizon < 1 or stride < 1:
        raise ValueError(
            "make_windows: lookback, horizon and stride must be at least 1"
        )
    if not target_idx:
        raise ValueError("make_windows: at least one target column is needed")
    columns = target_idx + past_cov_idx + future_cov_idx
    if len(set(columns)) != len(columns) or any(
        not 0 <= c < n_features for c in columns
    ):
        raise ValueError(
            f"make_windows: column indices must be distinct and in [0, {n_features}), got"
            f" targets {target_idx}, past {past_cov_idx}, future {future_cov_idx}"
        )
    start = lookback if start is None else start
    end = n if end is None else end
    if start < lookback:
        raise ValueError(
            f"make_windows: start={start} leaves less than lookback={lookback} rows of history"
        )
    if end > n:
        raise ValueError(f"make_windows: end={end} is past the last row ({n})")

    origins = np.arange(start, end - horizon + 1, stride, dtype=np.int64)  # (W,)
    past_rows = origins[:, None] + np.arange(-lookback, 0)  # (W, L)
    future_rows = origins[:, None] + np.arange(horizon)  # (W, H)
    return Windows(
        past=values[past_rows][:, :, columns],  # (W, L, T+P+K)
        future_known=values[future_rows][:, :, future_cov_idx],  # (W, H, K)
        y=values[future_rows][:, :, target_idx],  # (W, H, T)
        origins=origins,
    )


def chronological_split(
    n_rows: int,
    fractions: tuple[float, ...] = (0.8, 0.1, 0.1),
    lookback: int = 1,
    horizon: int = 1,
    names: tuple[str, ...] = ("train", "valid", "test"),
) -> dict[str, range]:
    """Split rows by time into train, then valid, then test.

    Cut points are ``b_k = round(N * (f_1 + ... + f_k))``. Part k's *target rows* are
    ``[b_{k-1}, b_k)``, except train's, which start at ``lookback`` (its first rows are
    history only). Pass a part's range to :func:`make_windows` as ``start`` and ``end``::

        r = split["valid"]
        make_windows(values, L, H, ..., start=r.start, end=r.stop)

    Valid windows then read their history from the last ``lookback`` train rows, but
    every target of a valid window lies after every train target (and likewise test
    after valid).

    Args:
        n_rows: N.
        fractions: 2 or 3 positive fractions summing to 1, in time order.
        lookback, horizon: the window sizes (each part must hold at least one window).
        names: the parts' names, as many as ``fractions``.

    Returns:
        ``{name: range of target rows}`` in time order.

    Raises:
        ValueError: bad fractions, or a part too short for one window (the message
            says how many rows are needed).
    """
    fractions = tuple(float(f) for f in fractions)
    if (
        len(fractions) not in (2, 3)
        or any(f <= 0 for f in fractions)
        or abs(sum(fractions) - 1) > 1e-9
    ):
        raise ValueError(
            f"split fractions must be 2 or 3 positive numbers summing to 1, got {fractions}"
        )
    names = tuple(names)[: len(fractions)]
    cuts = (
        [0] + [round(n_rows * float(c)) for c in np.cumsum(fractions)[:-1]] + [n_rows]
    )
    parts = {}
    for k, name in enumerate(names):
        first = lookback if k == 0 else cuts[k]
        part = range(first, cuts[k + 1])
        if len(part) < horizon:
            raise ValueError(
                f"the {name} part (rows {cuts[k]}-{cuts[k + 1]} of {n_rows}) is too short for one"
                f" window of lookback {lookback} and horizon {horizon}: give more rows"
            )
        parts[name] = part
    return parts
