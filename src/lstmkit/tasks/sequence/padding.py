"""Multivariate sequences of different lengths: padding, feature scaling and augmentation.

A data set is a list of ``B`` arrays ``x_i`` of shape ``(T_i, F)``: ``T_i`` time steps of
``F`` features, ``T_i`` differing between sequences.

* :func:`pad_batch` stacks them into one ``(B, T_max, F)`` tensor plus their lengths; the
  LSTM core masks the padding exactly, so the pad value never reaches a result.
* :func:`fit_scaler` / :func:`scale_sequences`: standardise each feature with the mean and
  standard deviation of the **training steps** (all ``sum_i T_i`` rows of the training
  sequences, so every time step weighs the same and no padding is counted); the fitted
  :class:`~lstmkit.data.scaling.Standardizer` is saved with the model (``to_json``).
* Augmentation for training (all off by default; each a pure function of the sequence and a
  :class:`numpy.random.Generator`, returning a new array of the same shape ``(T, F)``):

  ===================  =====================================================================
  :func:`time_shift`   ``x'_t = x_{clip(t - k, 0, T-1)}``, ``k ~ U{-K..K}``: the sequence
                       moves ``k`` steps later (``k < 0``: earlier); the edge value fills in
  :func:`jitter`       ``x'_{t,f} = x_{t,f} + e_{t,f}``, ``e ~ N(0, sigma^2)`` (sensor noise)
  :func:`magnitude`    ``x'_{t,f} = s_f * x_{t,f}``, ``s_f ~ N(1, sigma^2)`` (one gain per
                       feature, the same at every step)
  ===================  =====================================================================

  Apply them to *scaled* sequences, so ``sigma`` is in units of each feature's standard
  deviation. :func:`augment` applies the ones switched on, in the order above.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from lstmkit.data.scaling import Standardizer

__all__ = [
    "pad_batch",
    "fit_scaler",
    "scale_sequences",
    "time_shift",
    "jitter",
    "magnitude",
    "augment",
]


def pad_batch(
    sequences: Sequence[np.ndarray | torch.Tensor], pad_value: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad ``B`` sequences ``(T_i, F)`` into one batch.

    Returns:
        ``padded`` ``(B, T_max, F)`` float32 with ``padded[i, :T_i] = x_i`` and ``pad_value``
        after; ``lengths`` ``(B,)`` int64 (``T_i``), ready for masking or packing.

    Raises:
        ValueError: no sequences, a sequence that is not 2-D or has no step, or sequences
            with different numbers of features.

    >>> padded, lengths = pad_batch([np.ones((3, 2)), np.ones((1, 2))])
    >>> tuple(padded.shape), lengths.tolist()
    ((2, 3, 2), [3, 1])
    """
    if len(sequences) == 0:
        raise ValueError("pad_batch: no sequences")
    tensors = [torch.as_tensor(np.asarray(s), dtype=torch.float32) for s in sequences]
    for i, t in enumerate(tensors):
        if t.ndim != 2 or t.shape[0] == 0:
            raise ValueError(
                f"pad_batch: sequence {i} has shape {tuple(t.shape)}, expected (T >= 1, F)"
            )
    features = {t.shape[1] for t in tensors}
    if len(features) != 1:
        raise ValueError(
            f"pad_batch: sequences have different numbers of features: {sorted(features)}"
        )
    lengths = torch.tensor([t.shape[0] for t in tensors], dtype=torch.long)  # (B,)
    padded = torch.full(
        (len(tensors), int(lengths.max()), tensors[0].shape[1]), pad_value
    )  # (B, T_max, F)
    for i, t in enumerate(tensors):
        padded[i, : t.shape[0]] = t
    return padded, lengths


def fit_scaler(sequences: Sequence[np.ndarray], columns: list[str] | None = None) -> Standardizer:
    """A :class:`Standardizer` fitted on every time step of the training sequences.

    ``mean_f`` and ``scale_f`` are computed over the ``sum_i T_i`` rows of
    ``concatenate(sequences)`` ``(sum T_i, F)``: a long sequence counts more than a short one,
    and padding is never counted.
    """
    if len(sequences) == 0:
        raise ValueError("fit_scaler: no sequences")
    return Standardizer(columns).fit(np.concatenate([np.asarray(s) for s in sequences]))


def scale_sequences(scaler: Standardizer, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``scaler.transform`` of each sequence; shapes ``(T_i, F)`` kept, float32 out."""
    return [scaler.transform(np.asarray(s, dtype=np.float32)) for s in sequences]


# --------------------------------------------------------------------------- augmentation


def time_shift(x: np.ndarray, rng: np.random.Generator, max_shift: int) -> np.ndarray:
    """Move the sequence ``k ~ U{-max_shift..max_shift}`` steps in time, same length.

    ``x'_t = x_{clip(t - k, 0, T-1)}``: for ``k > 0`` the first value is repeated ``k`` times
    at the start and the last ``k`` steps fall off; ``k < 0`` the other way round. ``k`` is
    limited to ``T - 1``. ``x``: ``(T, F)`` -> ``(T, F)``.
    """
    if max_shift < 0:
        raise ValueError(f"time_shift: max_shift must be >= 0, got {max_shift}")
    x = np.asarray(x)
    k = int(rng.integers(-max_shift, max_shift + 1))
    source = np.clip(np.arange(len(x)) - k, 0, len(x) - 1)  # (T,) the step each step copies
    return x[source]


def feature_shift(x: np.ndarray, rng: np.random.Generator, max_shift: int) -> np.ndarray:
    """Move every step's features ``k ~ U{-max_shift..max_shift}`` places along the feature axis.

    ``x'_{t,f} = x_{t, clip(f - k, 0, F-1)}`` (the edge feature fills in), one ``k`` for the
    whole sequence: a horizontal shift of an image read row by row, or of a spectrum's bands.
    Only for features in a meaningful order. ``x``: ``(T, F)`` -> ``(T, F)``.
    """
    if max_shift < 0:
        raise ValueError(f"feature_shift: max_shift must be >= 0, got {max_shift}")
    x = np.asarray(x)
    k = int(rng.integers(-max_shift, max_shift + 1))
    source = np.clip(np.arange(x.shape[1]) - k, 0, x.shape[1] - 1)  # (F,) the feature each copies
    return x[:, source]


def jitter(x: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Add Gaussian noise ``N(0, sigma^2)`` to every value. ``(T, F)`` -> ``(T, F)``, same dtype."""
    if sigma < 0:
        raise ValueError(f"jitter: sigma must be >= 0, got {sigma}")
    x = np.asarray(x)
    return (x + rng.normal(0.0, sigma, size=x.shape)).astype(x.dtype, copy=False)


def magnitude(x: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Multiply each feature by its own gain ``s_f ~ N(1, sigma^2)``. ``(T, F)`` -> ``(T, F)``."""
    if sigma < 0:
        raise ValueError(f"magnitude: sigma must be >= 0, got {sigma}")
    x = np.asarray(x)
    gains = rng.normal(1.0, sigma, size=(1, x.shape[-1]))  # (1, F)
    return (x * gains).astype(x.dtype, copy=False)


def augment(
    x: np.ndarray,
    rng: np.random.Generator,
    max_shift: int = 0,
    jitter_sigma: float = 0.0,
    magnitude_sigma: float = 0.0,
) -> np.ndarray:
    """Apply the switched-on augmentations (shift, then jitter, then magnitude).

    All off by default: then ``x`` comes back unchanged (a copy) and ``rng`` is not used.
    """
    out = np.array(x, copy=True)
    if max_shift:
        out = time_shift(out, rng, max_shift)
    if jitter_sigma:
        out = jitter(out, rng, jitter_sigma)
    if magnitude_sigma:
        out = magnitude(out, rng, magnitude_sigma)
    return out
