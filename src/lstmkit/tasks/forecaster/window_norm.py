"""Per-window normalisation of the targets (reversible instance normalisation, as RevIN).

A network trained on globally standardised data sees only the range of the training
rows. A trending series (GDP, prices) soon leaves that range, and the network, which
never saw such inputs, forecasts badly. Normalising each window by its own location and
scale makes every window look alike; the forecast is mapped back with the same two
numbers (Kim et al., "Reversible Instance Normalization for Accurate Time-Series
Forecasting against Distribution Shift", ICLR 2022).

For a window's past targets ``x`` (L, T), per target column t::

    loc_t   = x[L-1, t]                    (location="last", the default)
            = mean over l of x[l, t]       (location="mean", as RevIN)
    scale_t = std over l of x[l, t] + eps  (population std)

    normalise:    z[l, t]    = (x[l, t] - loc_t) / scale_t
    denormalise:  yhat[h, t] = zhat[h, t] * scale_t + loc_t

Shapes: ``past_targets`` (..., L, T) -> ``normalised`` (..., L, T), ``location`` and
``scale`` (..., 1, T), broadcastable against any (..., H, T) forecast.

Why "last" is the default: the last value is where the forecast starts. With it the
network learns changes from now (0 is the naive forecast), whatever the level. The mean
lags behind a trend by about ``slope * L / 2``, so on a trending series the normalised
future lies off-centre and further off the longer the lookback; for noisy, mean-reverting
series "mean" is steadier, so it is offered.

Pitfall: a flat window (all values equal, e.g. a dry spell of zero rain) has std 0, so
its scale is ``eps`` and any future change is blown up by ``1 / eps``. On data first
standardised per column (unit variance over the training rows) a larger ``eps`` such as
0.1 bounds that blow-up to 10 training standard deviations.

Both numpy arrays and torch tensors are accepted (same type out), so the same code runs
in data preparation and inside a network's ``forward``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LOCATIONS", "denormalise_window", "normalise_window"]

LOCATIONS = ("last", "mean")


def normalise_window(past_targets, location: str = "last", eps: float = 1e-5):
    """Normalise each window by its own location and scale.

    Args:
        past_targets: (..., L, T) numpy array or torch tensor.
        location: ``"last"`` (the window's last value) or ``"mean"``.
        eps: added to the std so that flat windows do not divide by zero.

    Returns:
        ``(normalised (..., L, T), location (..., 1, T), scale (..., 1, T))``.
    """
    if location not in LOCATIONS:
        raise ValueError(
            f"location must be one of {', '.join(LOCATIONS)}, got {location!r}"
        )
    if past_targets.ndim < 2:
        raise ValueError(
            f"past_targets must be (..., L, T), got shape {tuple(past_targets.shape)}"
        )
    if _is_torch(past_targets):
        mean = past_targets.mean(dim=-2, keepdim=True)
        std = past_targets.std(dim=-2, keepdim=True, unbiased=False)
    else:
        past_targets = np.asarray(past_targets)
        mean = past_targets.mean(axis=-2, keepdims=True)
        std = past_targets.std(axis=-2, keepdims=True)
    loc = past_targets[..., -1:, :] if location == "last" else mean
    scale = std + eps
    return (past_targets - loc) / scale, loc, scale


def denormalise_window(normalised, location, scale):
    """Map a normalised forecast (..., H, T) back: ``normalised * scale + location``."""
    return normalised * scale + location


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")
