"""Tests of lstmkit.tasks.forecaster.windows: window cutting (brute force, leakage) and time splits."""

import numpy as np
import pytest

from lstmkit.tasks.forecaster.windows import chronological_split, make_windows


def brute_force(values, lookback, horizon, t_idx, p_idx, f_idx, stride, start, end):
    """The definition, one window at a time with plain loops."""
    past, fut, y, origins = [], [], [], []
    o = start
    while o + horizon <= end:
        past.append(
            [
                [values[r][c] for c in t_idx + p_idx + f_idx]
                for r in range(o - lookback, o)
            ]
        )
        fut.append([[values[r][c] for c in f_idx] for r in range(o, o + horizon)])
        y.append([[values[r][c] for c in t_idx] for r in range(o, o + horizon)])
        origins.append(o)
        o += stride
    return past, fut, y, origins


@pytest.mark.parametrize(
    "lookback, horizon, stride, start, end",
    [
        (3, 2, 1, None, None),
        (1, 1, 1, None, None),
        (4, 3, 3, 5, 17),
        (2, 5, 2, 6, None),
        (5, 1, 4, None, 12),
    ],
)
def test_matches_brute_force(lookback, horizon, stride, start, end):
    """Bug caught: an off-by-one in the last origin, or past rows including the origin row."""
    rng = np.random.default_rng(0)
    values = rng.normal(size=(20, 5))
    t_idx, p_idx, f_idx = [3, 0], [4], [1, 2]
    w = make_windows(values, lookback, horizon, t_idx, p_idx, f_idx, stride, start, end)
    s = lookback if start is None else start
    e = 20 if end is None else end
    past, fut, y, origins = brute_force(
        values, lookback, horizon, t_idx, p_idx, f_idx, stride, s, e
    )
    assert w.origins.tolist() == origins and len(w) == len(origins) > 0
    np.testing.assert_array_equal(w.past, past)
    np.testing.assert_array_equal(w.future_known, fut)
    np.testing.assert_array_equal(w.y, y)
    assert w.past.shape == (len(origins), lookback, 5)
    assert w.future_known.shape == (len(origins), horizon, 2)
    assert w.y.shape == (len(origins), horizon, 2)


def test_no_future_target_or_past_only_covariate_leaks_into_inputs():
    """Bug caught: any target at or after the origin, or a past-only covariate of a forecast step,
    appearing anywhere in a window's inputs (past or future_known)."""
    n = 40
    values = np.empty((n, 4))
    values[:, 0] = 1000 + np.arange(n)  # target: unique sentinels per row
    values[:, 1] = 2000 + np.arange(n)  # past-only covariate: unique sentinels
    values[:, 2] = 3000 + np.arange(n)  # future-known covariate
    values[:, 3] = 4000 + np.arange(n)  # a column not used at all
    w = make_windows(
        values,
        lookback=6,
        horizon=4,
        target_idx=[0],
        past_cov_idx=[1],
        future_cov_idx=[2],
    )
    for k, o in enumerate(w.origins):
        inputs = set(w.past[k].ravel()) | set(w.future_known[k].ravel())
        for r in range(
            o, n
        ):  # nothing from the origin on, except future-known covariates
            assert 1000 + r not in inputs and 2000 + r not in inputs
        assert not any(v >= 4000 for v in inputs)
        assert set(w.future_known[k].ravel()) == {3000 + r for r in range(o, o + 4)}
        assert set(w.y[k].ravel()) == {1000 + r for r in range(o, o + 4)}
        assert w.past[k][-1].tolist() == [1000 + o - 1, 2000 + o - 1, 3000 + o - 1]


def test_no_windows_and_bad_arguments():
    """Bug caught: negative origins (wrapping to the end of the array) when start < lookback."""
    values = np.zeros((5, 2))
    w = make_windows(values, 4, 2, [0])
    assert len(w) == 0 and w.past.shape == (0, 4, 1) and w.y.shape == (0, 2, 1)
    with pytest.raises(ValueError, match="history"):
        make_windows(values, 3, 1, [0], start=2)
    with pytest.raises(ValueError, match="distinct"):
        make_windows(values, 2, 1, [0], past_cov_idx=[0])
    with pytest.raises(ValueError, match="distinct"):
        make_windows(values, 2, 1, [2])
    with pytest.raises(ValueError, match="past the last row"):
        make_windows(values, 2, 1, [0], end=6)


def test_split_targets_strictly_after_and_disjoint():
    """Bug caught: valid/test targets overlapping train targets, or the split shuffling rows;
    also a train window whose past reads a valid target."""
    n, lookback, horizon = 100, 7, 3
    values = np.arange(n, dtype=float)[:, None]  # the value is the row number
    parts = chronological_split(n, (0.8, 0.1, 0.1), lookback, horizon)
    assert list(parts) == ["train", "valid", "test"]
    assert (
        parts["train"] == range(7, 80)
        and parts["valid"] == range(80, 90)
        and parts["test"] == range(90, 100)
    )
    targets = {}
    for name, rows in parts.items():
        w = make_windows(
            values, lookback, horizon, [0], start=rows.start, end=rows.stop
        )
        assert len(w) > 0
        targets[name] = set(w.y.ravel())
        if name == "train":  # train windows never read a row of a later part
            assert w.past.max() < 80 and w.y.max() < 80
        if name == "valid":  # context may come from train, targets never
            assert w.past.min() < 80 <= w.y.min()
    assert max(targets["train"]) < min(targets["valid"])
    assert max(targets["valid"]) < min(targets["test"])


def test_split_two_parts_and_errors():
    """Bug caught: fractions not summing to one accepted, or an empty part returned silently."""
    parts = chronological_split(50, (0.9, 0.1), lookback=5, horizon=2)
    assert parts == {"train": range(5, 45), "valid": range(45, 50)}
    with pytest.raises(ValueError, match="summing to 1"):
        chronological_split(50, (0.8, 0.1))
    with pytest.raises(ValueError, match="test part .* too short"):
        chronological_split(20, (0.8, 0.15, 0.05), lookback=3, horizon=2)
    with pytest.raises(ValueError, match="train part .* too short"):
        chronological_split(20, (0.5, 0.5), lookback=10, horizon=1)
