"""Tests of lstmkit.tasks.forecaster.window_norm: per-window (RevIN-style) normalisation."""

import numpy as np
import pytest
import torch

from lstmkit.tasks.forecaster.window_norm import denormalise_window, normalise_window


def test_hand_values_last_and_mean():
    """Bug caught: location taken from the first row, or the sample std (ddof=1) used."""
    x = np.array(
        [[[1.0], [2.0], [3.0], [6.0]]]
    )  # (W=1, L=4, T=1): mean 3, std sqrt(3.5)
    z, loc, scale = normalise_window(x, "last", eps=0.0)
    assert loc.shape == (1, 1, 1) and loc.item() == 6.0
    np.testing.assert_allclose(scale.item(), np.sqrt(3.5))
    np.testing.assert_allclose(z[0, :, 0], (np.array([1, 2, 3, 6]) - 6) / np.sqrt(3.5))
    z, loc, _ = normalise_window(x, "mean", eps=0.0)
    assert loc.item() == 3.0
    np.testing.assert_allclose(z.mean(), 0.0, atol=1e-12)


def test_per_window_and_per_target():
    """Bug caught: statistics pooled over windows or over targets (axes mixed up)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 2)) * [1.0, 100.0] + [0.0, 1e4]
    z, loc, scale = normalise_window(x, "mean")
    for w in range(3):
        for t in range(2):
            np.testing.assert_allclose(loc[w, 0, t], x[w, :, t].mean())
            np.testing.assert_allclose(scale[w, 0, t], x[w, :, t].std() + 1e-5)
    np.testing.assert_allclose(z.std(axis=1), 1.0, rtol=1e-4)


def test_round_trip_and_trend_beyond_training_range():
    """Bug caught: denormalise not inverting normalise; a trending window far above any seen
    level must normalise to the same inputs as the same shape at a low level."""
    t = np.arange(10.0)[None, :, None]
    low, high = 2.0 * t, 2.0 * t + 1e6
    z_low, _, _ = normalise_window(low)
    z_high, loc, scale = normalise_window(high)
    np.testing.assert_allclose(z_low, z_high, atol=1e-6)
    future = 2.0 * np.arange(10.0, 13.0)[None, :, None] + 1e6  # (1, H=3, 1)
    np.testing.assert_allclose(
        denormalise_window((future - loc) / scale, loc, scale), future
    )


def test_torch_matches_numpy():
    """Bug caught: the torch branch using the unbiased std, unlike the numpy branch."""
    x = np.random.default_rng(1).normal(size=(4, 6, 3))
    for location in ("last", "mean"):
        zn, ln, sn = normalise_window(x, location)
        zt, lt, st = normalise_window(torch.from_numpy(x), location)
        assert isinstance(zt, torch.Tensor)
        np.testing.assert_allclose(zt.numpy(), zn, rtol=1e-10)
        np.testing.assert_allclose(st.numpy(), sn, rtol=1e-10)
        np.testing.assert_allclose(lt.numpy(), ln)


def test_flat_window_and_errors():
    """Bug caught: a flat window dividing by zero (NaN) instead of by eps."""
    z, _, scale = normalise_window(np.ones((1, 4, 1)), eps=0.1)
    assert scale.item() == 0.1 and np.all(z == 0)
    with pytest.raises(ValueError, match="location"):
        normalise_window(np.ones((1, 4, 1)), "median")
    with pytest.raises(ValueError, match=r"\(\.\.\., L, T\)"):
        normalise_window(np.ones(4))
