"""Tests of lstmkit.metrics.forecast against scikit-learn, statsmodels and hand computation."""

import warnings

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, root_mean_squared_error

from lstmkit.metrics.forecast import (
    ETS_FIT_OPTIONS,
    ETS_MODEL_OPTIONS,
    baseline_forecasts,
    baseline_metrics,
    coverage,
    drift_forecast,
    ets_candidates,
    ets_forecast,
    ets_forecasts,
    ets_select,
    forecast_metrics,
    infer_season,
    naive_forecast,
    per_step_metrics,
    quantile_loss,
    rolling_origins,
    seasonal_naive_forecast,
    seasonal_naive_scale,
)
from lstmkit.tasks.forecaster.windows import make_windows


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


def test_mase_per_window_zero_scale_window_with_perfect_forecast():
    """Bug caught: one window with S = 0 and a perfect forecast (0/0) turning the whole MASE into
    NaN -> 0, hiding the other windows' errors."""
    y = np.array([[[1.0]], [[10.0]]])  # (W=2, H=1, T=1)
    f = np.array([[[1.0]], [[9.0]]])  # errors 0 and 1
    contexts = np.array([[[3.0], [3.0], [3.0]], [[0.0], [2.0], [0.0]]])  # S = 0 and 2
    assert forecast_metrics(y, f, contexts)["mase"] == pytest.approx((0 + 1 / 2) / 2)
    f[0, 0, 0] = 2.0  # an error where S = 0: infinite, as with one series
    assert forecast_metrics(y, f, contexts)["mase"] == np.inf


# --------------------------------------------------------------------------- drift


def test_drift_by_hand_and_per_window():
    """Bug caught: the slope divided by L instead of L - 1, first and last swapped, or the windows'
    or targets' slopes mixed up by broadcasting."""
    context = np.array([1.0, 3.0, 7.0])[None, :, None]  # slope (7 - 1) / 2 = 3
    np.testing.assert_allclose(drift_forecast(context, 3)[0, :, 0], [10, 13, 16])
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 6, 2)).cumsum(axis=1)
    f = drift_forecast(x, 5)
    assert f.shape == (4, 5, 2)
    for w in range(4):
        for t in range(2):
            # the line through (1, x_1) and (L, x_L), evaluated at L + h
            slope, intercept = np.polyfit([1, 6], [x[w, 0, t], x[w, -1, t]], 1)
            np.testing.assert_allclose(f[w, :, t], intercept + slope * np.arange(7, 12))
    np.testing.assert_array_equal(drift_forecast(x[:, -1:], 3), naive_forecast(x, 3))  # L = 1


# --------------------------------------------------------------------------- ETS

ETS_FORMS = {  # written out here, independently of the module's table
    "ANN": dict(trend=None, damped_trend=False, seasonal=None),
    "AAN": dict(trend="add", damped_trend=False, seasonal=None),
    "AAdN": dict(trend="add", damped_trend=True, seasonal=None),
    "ANA": dict(trend=None, damped_trend=False, seasonal="add"),
    "AAA": dict(trend="add", damped_trend=False, seasonal="add"),
    "AAdA": dict(trend="add", damped_trend=True, seasonal="add"),
}


def _statsmodels_fits(y, season, forms):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    out = {}
    for label in forms:
        kw = ETS_FORMS[label]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[label] = ExponentialSmoothing(
                y, **kw, seasonal_periods=season if kw["seasonal"] else None, **ETS_MODEL_OPTIONS
            ).fit(**ETS_FIT_OPTIONS)
    return out


def _elnino_monthly(n):
    from statsmodels.datasets import elnino

    return elnino.load_pandas().data.drop(columns="YEAR").to_numpy(dtype=float).ravel()[:n]


def _realgdp(n):
    from statsmodels.datasets import macrodata

    return macrodata.load_pandas().data["realgdp"].to_numpy(dtype=float)[:n]


@pytest.mark.parametrize(
    "series, season, expected_form",
    [(lambda: _elnino_monthly(96), 12, "ANA"), (lambda: _realgdp(120), 4, "AAN")],
    ids=["elnino-monthly", "realgdp-quarterly"],
)
def test_ets_picks_the_lowest_aicc_and_forecasts_as_statsmodels(series, season, expected_form):
    """Bug caught: choosing by AIC/BIC or the maximum, skipping a candidate (damped or seasonal),
    or forecasting from another fit than the chosen one. The AICc of all six forms is computed
    here with statsmodels directly; El Nino sea temperatures are seasonal, real GDP trends."""
    pytest.importorskip("statsmodels")
    y = series()
    fits = _statsmodels_fits(y, season, ETS_FORMS)
    aiccs = {label: r.aicc for label, r in fits.items()}
    best = min(aiccs, key=aiccs.get)
    choice = ets_select(y, 6, season)
    assert choice.form == best == expected_form
    assert choice.aicc == pytest.approx(aiccs[best])
    assert choice.aiccs == pytest.approx(aiccs)
    assert (choice.trend, choice.damped_trend, choice.seasonal) == tuple(ETS_FORMS[best].values())
    np.testing.assert_allclose(choice.forecast, fits[best].forecast(6), rtol=1e-12)
    np.testing.assert_allclose(ets_forecast(y, 6, season), fits[best].forecast(6), rtol=1e-12)


def test_ets_tries_seasonal_forms_only_with_two_seasons():
    """Bug caught: seasonal forms fitted on fewer than two seasons (statsmodels cannot initialise
    them) or with season 1, which would make every short history fall back."""
    assert ets_candidates(26, 12) == ["ANN", "AAN", "AAdN"]
    assert ets_candidates(27, 12) == list(ETS_FORMS)
    assert ets_candidates(500, 1) == ["ANN", "AAN", "AAdN"]
    y = _elnino_monthly(26)
    assert set(ets_select(y, 3, 12).aiccs) == {"ANN", "AAN", "AAdN"}


def test_ets_falls_back_instead_of_crashing(monkeypatch):
    """Bug caught: a failing statsmodels fit (too short, constant, or an optimiser error) raising
    out of an evaluation instead of falling back to a simpler form or the naive forecast."""
    one = ets_select([4.0], 3, 12)
    assert one.form == "naive" and one.forecast.tolist() == [4.0, 4.0, 4.0]
    short = ets_select([1.0, 2.0, 4.0], 2, 12)  # fits, but n <= k + 3: no finite AICc
    assert short.form == "ANN" and np.isfinite(short.forecast).all()
    flat = ets_select(np.full(40, 3.0), 4, 12)
    np.testing.assert_allclose(flat.forecast, 3.0)

    import statsmodels.tsa.holtwinters as hw

    real = hw.ExponentialSmoothing

    class TrendFails(real):
        def fit(self, *args, **kwargs):
            if self.trend is not None:
                raise np.linalg.LinAlgError("simulated optimiser failure")
            return real.fit(self, *args, **kwargs)

    monkeypatch.setattr(hw, "ExponentialSmoothing", TrendFails)
    choice = ets_select(_realgdp(60), 2, 4)
    assert choice.form in ("ANN", "ANA")
    assert np.isnan(choice.aiccs["AAN"]) and np.isnan(choice.aiccs["AAdA"])
    with pytest.raises(ValueError, match="NaN"):
        ets_select([1.0, np.nan, 2.0], 2, 1)


def test_ets_forecasts_stacks_single_fits():
    """Bug caught: histories of different lengths mixed up, or (W, H) transposed."""
    histories = [_realgdp(n) for n in (40, 47, 52)]
    f = ets_forecasts(histories, 3, 4)
    assert f.shape == (3, 3)
    for w, h in enumerate(histories):
        np.testing.assert_array_equal(f[w], ets_forecast(h, 3, 4))
    assert ets_forecasts([], 3, 4).shape == (0, 3)


def test_ets_forecasts_in_worker_processes():
    """Bug caught: the process pool returning results out of order or failing to start."""
    histories = [_realgdp(n) for n in (30, 33, 36)]
    np.testing.assert_array_equal(
        ets_forecasts(histories, 2, 4, n_jobs=2), ets_forecasts(histories, 2, 4)
    )


# --------------------------------------------------------------------------- intervals, quantiles


def test_coverage_by_hand():
    """Bug caught: strict inequalities (a value on a bound counts as inside), or lower and upper
    swapped."""
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert coverage(y, y - 1, y + 1) == 1.0
    # 1 on both bounds and 4 on the upper one are inside; 2, 3 and 5 are not
    assert coverage(y, [1, 3, 0, 0, 6], [1, 4, 2, 4, 7]) == pytest.approx(2 / 5)
    assert coverage(y, y + 1, y + 2) == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        coverage(y, y[:4], y)


def _pinball_loop(y, f, levels, scale):
    """The scaled quantile loss, one term at a time."""
    W, H, T, Q = f.shape
    per_target = []
    for t in range(T):
        terms = []
        for w in range(W):
            s = scale[t] if scale.ndim == 1 else scale[w, t]
            for h in range(H):
                for k, q in enumerate(levels):
                    e = y[w, h, t] - f[w, h, t, k]
                    terms.append((q * e if e >= 0 else (q - 1) * e) / s)
        per_target.append(np.mean(terms))
    return np.mean(per_target)


def test_quantile_loss_matches_a_loop():
    """Bug caught: the (q - 1) branch with the wrong sign (a P90 below the truth costing 0.1 instead
    of 0.9), the mean taken over targets before scaling, or per-window scales broadcast on H."""
    rng = np.random.default_rng(6)
    y = rng.normal(size=(5, 4, 2)) * [1.0, 50.0]
    levels = np.array([0.1, 0.5, 0.9])
    f = y[..., None] + rng.normal(size=(5, 4, 2, 3)) * [[1.0], [30.0]]
    for scale in (np.array([0.7, 20.0]), rng.uniform(0.5, 30, size=(5, 2))):
        assert quantile_loss(y, f, levels, scale) == pytest.approx(_pinball_loop(y, f, levels, scale))
    # one value under a P90 by 1: costs 0.9; over a P10 by 1: costs 0.9 too
    assert quantile_loss([[1.0]], [[[0.0]]], [0.9], [1.0]) == pytest.approx(0.9)
    assert quantile_loss([[0.0]], [[[1.0]]], [0.1], [1.0]) == pytest.approx(0.9)


def test_quantile_loss_median_is_half_mase():
    """Bug caught: a scale other than MASE's (the brief: 'scaled like MASE')."""
    rng = np.random.default_rng(7)
    y, f = rng.normal(size=(6, 3, 2)), rng.normal(size=(6, 3, 2))
    contexts = rng.normal(size=(6, 10, 2))
    scale = seasonal_naive_scale(contexts, 2)
    mase = forecast_metrics(y, f, contexts, season=2)["mase"]
    assert quantile_loss(y, f[..., None], [0.5], scale) == pytest.approx(mase / 2)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        quantile_loss(y, f[..., None], [1.0], scale)


# --------------------------------------------------------------------------- per step, baselines


def test_per_step_metrics_match_forecast_metrics_on_each_step():
    """Bug caught: steps averaged over the horizon axis instead of windows, the step number off by
    one, or per-window scales misaligned with the windows."""
    rng = np.random.default_rng(8)
    y = rng.normal(size=(7, 4, 2)).cumsum(axis=1)
    f = y + rng.normal(size=y.shape) * np.arange(1, 5)[:, None]  # error grows with the step
    contexts = rng.normal(size=(7, 12, 2))
    for insample in (contexts[0], contexts):  # one scale (T,) or one per window (W, T)
        scale = seasonal_naive_scale(insample, 3)
        steps = per_step_metrics(y, f, scale)
        assert [s["step"] for s in steps] == [1, 2, 3, 4]
        for h, s in enumerate(steps):
            ref = forecast_metrics(y[:, h : h + 1], f[:, h : h + 1], insample, season=3)
            for key in ("mae", "rmse", "smape", "mase"):
                assert s[key] == pytest.approx(ref[key])
        overall = forecast_metrics(y, f, insample, season=3)
        assert np.mean([s["mase"] for s in steps]) == pytest.approx(overall["mase"])
    assert steps[3]["mae"] > steps[0]["mae"]


def test_baseline_metrics_default_keys_unchanged_and_drift_ets_on_request():
    """Bug caught: drift/ETS added for callers that did not ask (ETS is slow), ETS fitted on the
    lookback instead of each window's whole history, or targets of a history mixed up."""
    gdp = np.log(_realgdp(90))
    unemp_like = np.sin(np.arange(90) / 3.0) + np.arange(90) * 0.01
    series = np.stack([gdp, unemp_like], axis=1)  # (90, 2)
    w = make_windows(series, lookback=8, horizon=4, target_idx=[0, 1], stride=4)
    w_keep = slice(len(w.origins) - 3, None)  # the last three windows
    past, y, origins = w.past[w_keep], w.y[w_keep], w.origins[w_keep]
    base = baseline_metrics(past, y, series[:60], season=4)
    assert set(base) == {"naive", "seasonal_naive"}
    histories = [series[:o] for o in origins]
    full = baseline_metrics(past, y, series[:60], 4, ["gdp", "wave"], drift=True, ets=True,
                            histories=histories)
    assert set(full) == {"naive", "seasonal_naive", "drift", "ets"}
    assert full["naive"] == baseline_metrics(past, y, series[:60], 4, ["gdp", "wave"])["naive"]
    assert full["drift"] == forecast_metrics(y, drift_forecast(past, 4), series[:60], 4, ["gdp", "wave"])
    ets = np.stack([np.stack([ets_forecast(h[:, t], 4, 4) for t in range(2)], axis=1) for h in histories])
    np.testing.assert_array_equal(
        baseline_forecasts(past, 4, 4, ets=True, histories=histories)["ets"], ets
    )
    assert full["ets"] == forecast_metrics(y, ets, series[:60], 4, ["gdp", "wave"])
    with pytest.raises(ValueError, match="one history per window"):
        baseline_metrics(past, y, series[:60], 4, ets=True)


def test_baseline_ets_accepts_one_dimensional_histories_for_one_target():
    """Bug caught: a single-target caller having to reshape each history to (n, 1)."""
    x = _realgdp(70)[:, None]
    w = make_windows(x, lookback=6, horizon=2, target_idx=[0], stride=2)
    past, y = w.past[-2:], w.y[-2:]
    flat = [x[:o, 0] for o in w.origins[-2:]]
    a = baseline_forecasts(past, 2, 4, ets=True, histories=flat)["ets"]
    b = baseline_forecasts(past, 2, 4, ets=True, histories=[x[:o] for o in w.origins[-2:]])["ets"]
    np.testing.assert_array_equal(a, b)
    assert a.shape == y.shape
