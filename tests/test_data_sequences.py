"""Tests for lstmkit.tasks.sequence.padding: padding, scaling fitted on training steps, augmentation.

References: torch's ``pad_sequence``, scikit-learn's ``StandardScaler`` on the concatenated
steps, and the augmentation formulas evaluated by hand with the same random draws.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler
from torch.nn.utils.rnn import pad_sequence

from lstmkit.data.scaling import Standardizer
from lstmkit.tasks.sequence.padding import (
    augment,
    feature_shift,
    fit_scaler,
    jitter,
    magnitude,
    pad_batch,
    scale_sequences,
    time_shift,
)


def ragged(seed=0, lengths=(5, 2, 7, 1), features=3):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, features)).astype(np.float32) for n in lengths]


def test_pad_batch_matches_torch_pad_sequence():
    """Same values as torch's pad_sequence(batch_first=True), lengths as given, pad value
    after each end. Fails on padding at the front, a (T, B, F) layout, or wrong lengths."""
    seqs = ragged()
    padded, lengths = pad_batch(seqs, pad_value=-9.0)
    reference = pad_sequence(
        [torch.from_numpy(s) for s in seqs], batch_first=True, padding_value=-9.0
    )
    assert padded.dtype == torch.float32 and lengths.dtype == torch.long
    assert padded.shape == (4, 7, 3)
    torch.testing.assert_close(padded, reference, rtol=0, atol=0)
    assert lengths.tolist() == [5, 2, 7, 1]


def test_pad_batch_rejects_bad_input():
    """Empty batches, zero-length or 1-D sequences, and mixed feature counts are errors
    (pack_padded_sequence would fail later with a less clear message)."""
    with pytest.raises(ValueError, match="no sequences"):
        pad_batch([])
    with pytest.raises(ValueError, match="sequence 1 has shape"):
        pad_batch([np.ones((2, 3)), np.ones((0, 3))])
    with pytest.raises(ValueError, match="sequence 0 has shape"):
        pad_batch([np.ones(3)])
    with pytest.raises(ValueError, match="different numbers of features"):
        pad_batch([np.ones((2, 3)), np.ones((2, 2))])


def test_scaler_is_fitted_on_the_concatenated_training_steps():
    """mean/scale equal StandardScaler on all steps (not on per-sequence means, not on a
    padded batch whose zeros would pull the mean down); survives a JSON round trip."""
    seqs = ragged()
    scaler = fit_scaler(seqs, columns=["a", "b", "c"])
    reference = StandardScaler().fit(np.concatenate(seqs))
    np.testing.assert_allclose(scaler.mean_, reference.mean_, rtol=1e-12)
    np.testing.assert_allclose(scaler.scale_, reference.scale_, rtol=1e-12)
    padded, _ = pad_batch(seqs)
    assert not np.allclose(scaler.mean_, padded.reshape(-1, 3).numpy().mean(0))

    scaled = scale_sequences(Standardizer.from_json(scaler.to_json()), seqs)
    assert [s.shape for s in scaled] == [s.shape for s in seqs]
    assert all(s.dtype == np.float32 for s in scaled)
    np.testing.assert_allclose(
        np.concatenate(scaled), reference.transform(np.concatenate(seqs)), atol=1e-5
    )


def test_time_shift_is_the_clipped_index_formula():
    """x'_t = x[clip(t - k, 0, T-1)] with k drawn from the same generator; shape kept.
    Fails on a circular roll (end values at the start) or a shift in the wrong direction."""
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    for seed in range(10):
        k = int(np.random.default_rng(seed).integers(-3, 4))
        out = time_shift(x, np.random.default_rng(seed), max_shift=3)
        expected = np.stack([x[min(max(t - k, 0), 5)] for t in range(6)])
        np.testing.assert_array_equal(out, expected)
    # k = +2 by hand: the first row repeats twice at the start
    rng = next(
        np.random.default_rng(s)
        for s in range(100)
        if np.random.default_rng(s).integers(-2, 3) == 2
    )
    np.testing.assert_array_equal(time_shift(x, rng, 2)[:, 0], [0, 0, 0, 2, 4, 6])


def test_feature_shift_moves_each_step_along_the_features_alike():
    """x'_{t,f} = x[t, clip(f - k, 0, F-1)], one k per sequence (an image shifted sideways).
    Fails on shifting along time instead, a circular roll, or a different k per step."""
    x = np.arange(30, dtype=np.float32).reshape(5, 6)
    for seed in range(10):
        k = int(np.random.default_rng(seed).integers(-2, 3))
        out = feature_shift(x, np.random.default_rng(seed), max_shift=2)
        expected = x[:, [min(max(f - k, 0), 5) for f in range(6)]]
        np.testing.assert_array_equal(out, expected)
    rng = next(np.random.default_rng(s) for s in range(100) if np.random.default_rng(s).integers(-2, 3) == -2)
    np.testing.assert_array_equal(feature_shift(x, rng, 2)[1], [8, 9, 10, 11, 11, 11])
    with pytest.raises(ValueError):
        feature_shift(x, np.random.default_rng(0), -1)


def test_jitter_and_magnitude_statistics_and_formulas():
    """jitter adds N(0, sigma^2) noise (checked on its mean and std over many values);
    magnitude multiplies each feature by one gain, the same at every step. Fails if the
    gain varies over time or the noise has the wrong scale."""
    x = np.ones((2000, 4), dtype=np.float32)
    noisy = jitter(x, np.random.default_rng(0), sigma=0.5)
    assert noisy.dtype == np.float32 and noisy.shape == x.shape
    assert abs((noisy - 1).mean()) < 0.02 and abs((noisy - 1).std() - 0.5) < 0.02

    y = np.random.default_rng(1).uniform(1, 2, size=(9, 4)).astype(np.float32)
    gains = np.random.default_rng(2).normal(1.0, 0.3, size=(1, 4))
    scaled = magnitude(y, np.random.default_rng(2), sigma=0.3)
    np.testing.assert_allclose(scaled, (y * gains).astype(np.float32))
    ratio = scaled / y
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[0], ratio.shape), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"max_shift": 2},
        {"jitter_sigma": 0.1},
        {"magnitude_sigma": 0.2},
        {"max_shift": 3, "jitter_sigma": 0.1, "magnitude_sigma": 0.2},
    ],
)
def test_augment_keeps_shapes_lengths_and_input(kwargs):
    """Every augmentation keeps (T_i, F) and dtype, so the lengths given to the LSTM stay
    right, and never changes its input. With nothing switched on the output equals the
    input and the generator is not advanced."""
    seqs = ragged(lengths=(1, 4, 9))
    before = [s.copy() for s in seqs]
    rng = np.random.default_rng(3)
    outs = [augment(s, rng, **kwargs) for s in seqs]
    assert [o.shape for o in outs] == [s.shape for s in seqs]
    assert all(o.dtype == np.float32 for o in outs)
    for s, b in zip(seqs, before):
        np.testing.assert_array_equal(s, b)
    _, lengths = pad_batch(outs)
    assert lengths.tolist() == [1, 4, 9]
    if not kwargs:
        for o, s in zip(outs, seqs):
            np.testing.assert_array_equal(o, s)
        assert rng.integers(1 << 30) == np.random.default_rng(3).integers(1 << 30)


def test_negative_parameters_are_errors():
    """A negative shift or sigma is a caller's mistake, not silently accepted."""
    x, rng = np.ones((3, 1)), np.random.default_rng(0)
    for call in (
        lambda: time_shift(x, rng, -1),
        lambda: jitter(x, rng, -0.1),
        lambda: magnitude(x, rng, -0.1),
    ):
        with pytest.raises(ValueError):
            call()
