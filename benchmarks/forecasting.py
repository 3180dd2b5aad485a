"""Forecasting benchmark: the LSTM forecaster against naive, seasonal naive and a classical model.

Two series (issue 10's goals):

* ``seattle-weather`` (daily, 2012-2015): forecast ``temp_max`` and ``temp_min`` 7 days ahead
  from 28 days of all four columns (+ calendar features); test = 2015, rolling origins with
  stride 7. Goal: MASE below both baselines' for both targets (mean of the seeds). Classical
  row: statsmodels' ETS(A,N,N) (simple exponential smoothing; daily temperatures have no weekly
  season and a yearly one of 365 steps is beyond Holt-Winters on 3 years), refitted at each
  origin on the 365 days before it, per target.
* ``realgdp`` (quarterly, 1959-2009; test = the last 20%): horizon 4, lookback 8 (16 scored
  0.77x the naive MASE, 8 scored 0.65x; both recorded in docs/benchmarks.md). Goal: MASE at
  most 0.85x the better baseline's. Classical row: ETS with an additive (damped) trend fitted
  on all history before each origin.

All rows of one series are scored on the same windows by :func:`lstmkit.forecast_metrics.forecast_metrics`
with the same MASE scale (the test file's seasonal naive in-sample MAE), so within a series MASE
ratios are MAE ratios. Training time is measured per seed (the goal: under 5 minutes on 2 cores).

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecasting.py --seeds 13 14 15
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

import lstmkit.data.datasets  # noqa: F401  (registers the datasets; avoids a circular import)
from lstmkit.data.datasets_timeseries import load_realgdp, load_seattle_weather
from lstmkit.data.windows import make_windows
from lstmkit.forecast_metrics import forecast_metrics
from lstmkit.tasks.forecaster import Forecaster

SETUPS = {
    "seattle-weather": dict(
        load=load_seattle_weather,
        params=dict(target=["temp_max", "temp_min"], covariates=["precipitation", "wind"], lookback=28, horizon=7,
                    hidden_size=64, epochs=40, patience=8),
        ets=dict(trend=None, seasonal=None, history=365),
    ),
    "realgdp": dict(
        load=load_realgdp,
        params=dict(target=["realgdp"], lookback=8, horizon=4, hidden_size=32, epochs=60, patience=15,
                    batch_size=16),
        ets=dict(trend="add", seasonal=None, history=None, damped=True),
    ),
}


def ets_forecasts(frame, targets, origins, horizon, trend=None, seasonal=None, history=None, damped=False,
                  season=None):
    """statsmodels ETS (Holt-Winters ``ExponentialSmoothing``) refitted at each origin on the rows
    before it (all of them, or the last ``history``): (W, H, T) forecasts."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    out = np.zeros((len(origins), horizon, len(targets)))
    for t, name in enumerate(targets):
        series = frame[name].to_numpy(dtype=float)
        for w, origin in enumerate(origins):
            start = 0 if history is None else max(0, origin - history)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = ExponentialSmoothing(series[start:origin], trend=trend,
                                             damped_trend=damped and trend is not None, seasonal=seasonal,
                                             seasonal_periods=season).fit()
            out[w, :, t] = model.forecast(horizon)
    return out


def run(name: str, seeds: list[int], overrides: dict) -> dict:
    setup = SETUPS[name]
    params = {**setup["params"], **overrides}
    splits = setup["load"](context=params["lookback"])  # test = the part's rows exactly, after lookback rows
    results = {"seeds": {}}
    test_frame = splits["test"][0]
    for seed in seeds:
        fc = Forecaster(**params, seed=seed)
        start = time.perf_counter()
        fc.fit(splits["train"][0], valid=(splits["valid"][0], None))
        seconds = time.perf_counter() - start
        metrics = fc.evaluate(test_frame)
        results["seeds"][seed] = {"seconds": round(seconds, 1), "metrics": metrics}
        print(f"{name} seed {seed}: {seconds:.0f}s mase={metrics['mase']:.4f} "
              + " ".join(f"{t}={m['mase']:.4f}" for t, m in metrics["per_target"].items())
              + f" | naive {metrics['baselines']['naive']['mase']:.4f}"
              f" seasonal {metrics['baselines']['seasonal_naive']['mase']:.4f}"
              + (f" coverage {metrics['coverage']:.3f}" if "coverage" in metrics else ""), flush=True)
    # The classical model on the same windows and MASE scale.
    ctx = fc._contexts(test_frame, future_rows=0)[0]
    L, H = fc.config_.model.lookback, fc.config_.model.horizon
    truth = ctx.targets
    w = make_windows(truth, L, H, list(range(truth.shape[1])), stride=H)
    ets = setup["ets"]
    # ETS sees all rows before each origin: training + validation rows + the test file's own rows.
    history = np.concatenate([splits["train"][0][params["target"]].to_numpy(),
                              splits["valid"][0][params["target"]].to_numpy()[L_context(splits) :],
                              truth[L_context(splits):]])
    offset = len(history) - len(truth[L_context(splits):]) - L_context(splits)
    import pandas as pd

    frame = pd.DataFrame(history, columns=params["target"])
    f = ets_forecasts(frame, params["target"], w.origins + offset, H, ets["trend"], ets["seasonal"], ets["history"],
                      ets.get("damped", False), fc.season_)
    results["ets"] = forecast_metrics(w.y, f, truth, fc.season_, params["target"])
    summary = {}
    for key in ["lstm", "naive", "seasonal_naive"]:
        rows = [r["metrics"] if key == "lstm" else r["metrics"]["baselines"][key] for r in results["seeds"].values()]
        summary[key] = {t: float(np.mean([r["per_target"][t]["mase"] for r in rows])) for t in params["target"]}
        summary[key]["mean"] = float(np.mean([r["mase"] for r in rows]))
    summary["ets"] = {t: results["ets"]["per_target"][t]["mase"] for t in params["target"]}
    summary["ets"]["mean"] = results["ets"]["mase"]
    results["summary"] = summary
    print(f"{name} summary (MASE, mean of seeds {seeds}):")
    for key, row in summary.items():
        print(f"  {key:<15} " + " ".join(f"{t}={v:.4f}" for t, v in row.items()))
    return results


def L_context(splits) -> int:
    """Rows of context at the start of the valid and test files."""
    valid, train = splits["valid"][0], splits["train"][0]
    return int((valid["date"] <= train["date"].iloc[-1]).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[13, 14, 15])
    parser.add_argument("--set", nargs="*", default=[], help="extra hyperparameters, key=value (applied to all)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value) if value[:1] in "[{0123456789-tf" and value not in ("t", "f") else value
    out = {name: run(name, args.seeds, overrides) for name in args.series}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, default=str)


if __name__ == "__main__":
    main()
