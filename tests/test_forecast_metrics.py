"""Tests of lstmkit.forecast_metrics against scikit-learn and hand computation."""

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, root_mean_squared_error

from lstmkit.data.windows import make_windows
from lstmkit.forecast_metrics import (
    baseline_metrics,
    forecast_metrics,
    infer_season,
    naive_forecast,
    rolling_origins,
    seasonal_naive_forecast,
    seasonal_naive_scale,
)


def test_mae_rmse_match_sklearn_per_target_and_averaged():
    """Bug caught: RMSE averaged over windows before the root, or targets pooled instead of averaged."""
    rng = np.random.default_rng(0)
    y = rng.normal(size=(7, 4, 3)) * [1.0, 10.0, 100.0]
    f = y + rng.normal(size=y.shape) * [0.5, 2.0, 30.0]
    m = forecast_metrics(
        y, f, insample=rng.normal(size=(30, 3)), season=1, target_names=["a", "b", "c"]
    )
    flat_y, flat_f = y.reshape(-1, 3), f.reshape(-1, 3)
    np.testing.assert_allclose(m["mae"], mean_absolute_error(flat_y, flat_f))
    np.testing.assert_allclose(m["rmse"], root_mean_squared_error(flat_y, flat_f))
    for t, name in enumerate("abc"):
        np.testing.assert_allclose(
            m["per_target"][name]["mae"],
            mean_absolute_error(flat_y[:, t], flat_f[:, t]),
        )
        np.testing.assert_allclose(
            m["per_target"][name]["rmse"],
            root_mean_squared_error(flat_y[:, t], flat_f[:, t]),
        )


def test_hand_computed_smape_and_mase():
    """Bug caught: sMAPE as a fraction or with |y| alone in the denominator; MASE scaled by the
    out-of-sample error or with the wrong seasonal lag."""
    y = np.array([[[2.0], [4.0]]])  # (W=1, H=2, T=1)
    f = np.array([[[1.0], [4.0]]])
    insample = np.array(
        [1.0, 3.0, 2.0, 6.0]
    )  # lag-1 diffs 2,1,4 -> S=7/3; lag-2 diffs 1,3 -> S=2
    m = forecast_metrics(y, f, insample, season=1)
    assert m["mae"] == 0.5
    np.testing.assert_allclose(
        m["smape"], 100 * (1 / 3 + 0)
    )  # 200/2 * (|2-1|/(2+1) + 0)
    np.testing.assert_allclose(m["mase"], 0.5 / (7 / 3))
    np.testing.assert_allclose(
        forecast_metrics(y, f, insample, season=2)["mase"], 0.5 / 2
    )
    assert m["per_target"]["0"]["mae"] == 0.5


def test_smape_zero_over_zero_and_bounds():
    """Bug caught: 0/0 giving NaN (e.g. zero rain forecast as zero), or sMAPE outside 0..200."""
    y = np.array([[[0.0], [1.0]]])
    f = np.array([[[0.0], [-1.0]]])
    m = forecast_metrics(y, f, [0.0, 1.0, 0.0])
    np.testing.assert_allclose(m["smape"], 100.0)  # terms 0 and 2 -> 200/2 * 1
    rng = np.random.default_rng(3)
    y, f = rng.normal(size=(50, 3, 1)), rng.normal(size=(50, 3, 1))
    assert 0 <= forecast_metrics(y, f, rng.normal(size=10))["smape"] <= 200


def test_mase_per_window_contexts():
    """Bug caught: per-window scales pooled (ratio of means instead of mean of ratios)."""
    y = np.array([[[1.0]], [[10.0]]])  # (W=2, H=1, T=1)
    f = np.array([[[0.0]], [[8.0]]])  # errors 1 and 2
    contexts = np.array([[[0.0], [1.0], [0.0]], [[0.0], [4.0], [0.0]]])  # S = 1 and 4
    m = forecast_metrics(y, f, contexts, season=1)
    np.testing.assert_allclose(m["mase"], (1 / 1 + 2 / 4) / 2)


def test_mase_constant_insample_is_inf_and_errors():
    """Bug caught: division by a zero scale giving NaN silently; too short in-sample accepted."""
    y, f = np.ones((1, 1, 1)), np.zeros((1, 1, 1))
    assert forecast_metrics(y, f, [5.0, 5.0, 5.0])["mase"] == np.inf
    assert (
        forecast_metrics(y, y, [5.0, 5.0, 5.0])["mase"] == 0.0
    )  # 0/0: perfect, not NaN
    with pytest.raises(ValueError, match="season=3"):
        forecast_metrics(y, f, [1.0, 2.0, 3.0], season=3)
    with pytest.raises(ValueError, match="differ in shape"):
        forecast_metrics(y, np.zeros((1, 2, 1)), [1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        forecast_metrics(y * np.nan, f, [1.0, 2.0])


def test_naive_and_seasonal_naive_by_hand():
    """Bug caught: the seasonal naive forecast shifted by one, or not repeating for H > m."""
    context = np.arange(1.0, 8.0)[None, :, None]  # 1..7, (1, 7, 1)
    np.testing.assert_array_equal(naive_forecast(context, 3)[0, :, 0], [7, 7, 7])
    # m=3: last season is 5,6,7 -> 5,6,7,5,6
    np.testing.assert_array_equal(
        seasonal_naive_forecast(context, 5, 3)[0, :, 0], [5, 6, 7, 5, 6]
    )
    np.testing.assert_array_equal(
        seasonal_naive_forecast(context, 2, 1)[0, :, 0], [7, 7]
    )
    np.testing.assert_array_equal(
        seasonal_naive_forecast(context, 3, 7)[0, :, 0], [1, 2, 3]
    )
    with pytest.raises(ValueError, match="season=8"):
        seasonal_naive_forecast(context, 2, 8)


def test_seasonal_naive_is_perfect_on_a_periodic_series():
    """Bug caught: the baseline using the wrong rows; on an exactly periodic series it must score 0."""
    series = np.tile([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0], 8)[
        :, None
    ]  # period 7, (56, 1)
    w = make_windows(series, lookback=14, horizon=5, target_idx=[0], stride=5)
    base = baseline_metrics(w.past, w.y, series[:14], season=7)
    assert base["seasonal_naive"]["mae"] == 0 and base["seasonal_naive"]["mase"] == 0
    assert base["naive"]["mae"] > 0


def test_scale_brute_force():
    """Bug caught: the scale averaged over N instead of N - m terms."""
    x = np.random.default_rng(4).normal(size=(12, 2))
    for m in (1, 2, 5):
        expected = [
            np.mean([abs(x[i, t] - x[i - m, t]) for i in range(m, 12)])
            for t in range(2)
        ]
        np.testing.assert_allclose(seasonal_naive_scale(x, m), expected)


@pytest.mark.parametrize(
    "freq, season",
    [
        ("D", 7),
        ("h", 24),
        ("MS", 12),
        ("ME", 12),
        ("QS-OCT", 4),
        ("QE-DEC", 4),
        ("W-SUN", 1),
        ("2D", 1),
        ("YS", 1),
        ("min", 1),
        (None, 1),
        (1.0, 1),
    ],
)
def test_infer_season(freq, season):
    """Bug caught: month-end or anchored quarter aliases not recognised, or '2D' treated as daily."""
    assert infer_season(freq) == season


def test_rolling_origins():
    """Bug caught: the last full window dropped, or a window running past the file."""
    assert rolling_origins(10, 4, 3).tolist() == [4, 7]
    assert rolling_origins(11, 4, 3).tolist() == [4, 7]
    assert rolling_origins(6, 4, 3).tolist() == []
    w = make_windows(np.zeros((23, 1)), 5, 6, [0], stride=6)
    assert rolling_origins(23, 5, 6).tolist() == w.origins.tolist()
