"""Forecasting benchmark: the LSTM forecaster against naive, seasonal naive and a classical model.

``accuracy`` (the default) scores three data sets:

* ``us-employment`` (issue 18: many series): one global model over the 22 sectors (the settings
  of ``lstmkit demo employment``, chosen on the 2014 validation year), test = the 12 months of
  2015 of every sector from one origin. Rows: the global LSTM per seed; a per-series LSTM (the
  same settings, one model per sector trained on that sector alone); per-series ETS fitted on
  all of a sector's months before 2015 (AICc choice, :func:`lstmkit.metrics.forecast.ets_forecast`),
  and the built-in baselines of ``evaluate``. Goal: global LSTM mean MASE at most 0.9x the
  per-series ETS's and below seasonal naive's (mean of the seeds).

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

For seattle-weather and realgdp (issue 18: no worse than before, P10-P90 coverage within
0.75-0.85 on validation and test) the calibrated coverage is printed on both.

``backtest`` times a backtest over the 365 daily origins of the weather test year (no refit, no
baselines) against one ``predict`` call of the same model (goal: at most 2x), median of 7 runs.

``memory`` measures the peak memory of ``lstmkit train forecaster`` (one epoch, in a fresh
process) on us-employment and on it repeated 20 times (440 series under other ids).

All rows of one series are scored on the same windows by :func:`lstmkit.metrics.forecast.forecast_metrics`
with the same MASE scale (the test file's seasonal naive in-sample MAE), so within a series MASE
ratios are MAE ratios. Training time is measured per seed (the goal: under 5 minutes on 2 cores).

    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forecasting.py --seeds 13 14 15
    .venv/bin/python benchmarks/forecasting.py backtest
    .venv/bin/python benchmarks/forecasting.py memory
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

import lstmkit.data.datasets  # noqa: F401  (registers the datasets; avoids a circular import)
from lstmkit.data.datasets.timeseries import load_realgdp, load_seattle_weather
from lstmkit.metrics.forecast import forecast_metrics
from lstmkit.tasks.forecaster import Forecaster
from lstmkit.tasks.forecaster.windows import make_windows

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
        valid_metrics = fc.evaluate(splits["valid"][0])
        valid_coverage = valid_metrics.get("coverage")
        results["seeds"][seed] = {"seconds": round(seconds, 1), "metrics": metrics, "valid_coverage": valid_coverage,
                                  "valid_mase": valid_metrics["mase"]}
        print(f"{name} seed {seed}: {seconds:.0f}s mase={metrics['mase']:.4f} "
              + " ".join(f"{t}={m['mase']:.4f}" for t, m in metrics["per_target"].items())
              + f" | naive {metrics['baselines']['naive']['mase']:.4f}"
              f" seasonal {metrics['baselines']['seasonal_naive']['mase']:.4f}"
              + (f" coverage test {metrics['coverage']:.3f} valid {valid_coverage:.3f}" if "coverage" in metrics
                 else "") + f" | valid mase={valid_metrics['mase']:.4f}", flush=True)
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


def employment(seeds: list[int], per_series: bool = True, ensemble: int = 1, refit_all: bool = False) -> dict:
    """The global LSTM, a per-series LSTM and per-series ETS on us-employment's 2015 (see the docstring).
    ``ensemble`` > 1: each global model is a seed ensemble of that many members (seeds seed..seed+N-1).
    ``refit_all``: also train the same settings again on every month before 2015 (2006-2014, as the
    ETS row sees) for the number of epochs whose 2014 validation loss was best (the first member's,
    for an ensemble), without early stopping (the kept weights are still those of the lowest 2014
    loss, in-sample now), and score that model on 2015 too. Its quantiles are calibrated on 2014
    in-sample, so only its MASE is reported."""
    from lstmkit.config import build_config
    from lstmkit.data.datasets.timeseries import load_us_employment
    from lstmkit.metrics.forecast import ets_forecast, forecast_metrics as score
    from lstmkit.tasks.forecaster import ForecasterConfig
    from lstmkit.tasks.forecaster.demo import EMPLOYMENT_SETTINGS

    config = build_config(ForecasterConfig, overrides=EMPLOYMENT_SETTINGS)
    L, H = config.model.lookback, config.model.horizon
    splits = load_us_employment(context=L)
    train, valid, test = (splits[k][0] for k in ("train", "valid", "test"))
    sectors = list(dict.fromkeys(test["series"]))
    out = {"global": {}, "per_series_lstm": {}}
    for seed in seeds:
        start = time.perf_counter()
        fc = Forecaster(config=build_config(ForecasterConfig, overrides=EMPLOYMENT_SETTINGS + [
            f"train.seed={seed}", f"train.ensemble={ensemble}"]))
        fc.fit(train, valid=(valid, None))
        seconds = time.perf_counter() - start
        m = fc.evaluate(test)
        v = fc.evaluate(valid)
        if refit_all:
            import pandas as pd

            best = int(np.argmin([row.get("val_loss", np.inf) for row in fc.history_])) + 1
            keys = ["series", "month"]
            before_2015 = pd.concat([train, valid]).drop_duplicates(keys).sort_values(keys)
            again = Forecaster(config=build_config(ForecasterConfig, overrides=EMPLOYMENT_SETTINGS + [
                f"train.seed={seed}", f"train.ensemble={ensemble}", f"train.epochs={best}", "train.patience=0"]))
            # 2014 is training data now; its (in-sample) loss still picks the kept epoch, usually the last
            again.fit(before_2015, valid=(valid, None))
            r = again.evaluate(test)
            out.setdefault("refit_all", {})[seed] = {"mase": r["mase"], "epochs": best}
            print(f"us-employment global seed {seed}, trained again on 2006-2014 for {best} epochs: test mase="
                  f"{r['mase']:.4f}", flush=True)
        out["global"][seed] = {"mase": m["mase"], "coverage": m["coverage"], "valid_mase": v["mase"],
                               "valid_coverage": v["coverage"], "seconds": round(seconds, 1),
                               "baselines": {k: b["mase"] for k, b in m["baselines"].items()}}
        print(f"us-employment global seed {seed}: {seconds:.0f}s test mase={m['mase']:.4f} coverage "
              f"{m['coverage']:.3f} | valid mase={v['mase']:.4f} coverage {v['coverage']:.3f} | file baselines "
              + " ".join(f"{k} {b['mase']:.4f}" for k, b in m["baselines"].items()), flush=True)
        if per_series:
            scores, seconds = [], time.perf_counter()
            for sector in sectors:
                one = Forecaster(config=build_config(ForecasterConfig, overrides=EMPLOYMENT_SETTINGS + [
                    f"train.seed={seed}"]))
                one.fit(train[train["series"] == sector], valid=(valid[valid["series"] == sector], None))
                scores.append(one.evaluate(test[test["series"] == sector])["mase"])
            out["per_series_lstm"][seed] = {"mase": float(np.mean(scores)),
                                            "seconds": round(time.perf_counter() - seconds, 1)}
            print(f"us-employment per-series LSTM seed {seed}: mase={np.mean(scores):.4f} "
                  f"({time.perf_counter() - seconds:.0f}s for 22 models)", flush=True)
    # ETS per sector on every month before 2015 (train + 2014), forecasting 2015; MASE scaled as evaluate
    # scales it (the seasonal naive in-sample MAE over the test file's rows of the sector).
    ets = []
    for sector in sectors:
        history = np.concatenate([train[train["series"] == sector]["employment"].to_numpy(),
                                  valid[valid["series"] == sector]["employment"].to_numpy()[L:]])
        rows = test[test["series"] == sector]["employment"].to_numpy()
        forecast = ets_forecast(history, H, 12)
        ets.append(score(rows[L:][None, :, None], forecast[None, :, None], rows[:, None], 12)["mase"])
    out["ets_all_history"] = float(np.mean(ets))
    g = np.mean([r["mase"] for r in out["global"].values()])
    print(f"us-employment summary (mean over seeds {seeds}): global LSTM {g:.4f}; per-series LSTM "
          + (f"{np.mean([r['mase'] for r in out['per_series_lstm'].values()]):.4f}" if per_series else "-")
          + f"; ETS on all months before 2015 {out['ets_all_history']:.4f} (ratio {g / out['ets_all_history']:.3f})")
    return out


def backtest_speed(repeats: int = 7) -> dict:
    """Backtest over the 365 daily origins of the weather test year against one predict call."""
    splits = load_seattle_weather(context=28)
    fc = Forecaster(**{**SETUPS["seattle-weather"]["params"], "epochs": 3}, seed=13)
    fc.fit(splits["train"][0], valid=(splits["valid"][0], None))
    test = splits["test"][0]
    frame, _ = fc.backtest(test, stride=1, baselines=False)
    origins = frame["origin"].nunique()
    times = {"predict": [], "backtest": []}
    for _ in range(repeats):
        start = time.perf_counter()
        fc.predict(test)
        times["predict"].append(time.perf_counter() - start)
        start = time.perf_counter()
        fc.backtest(test, stride=1, baselines=False)
        times["backtest"].append(time.perf_counter() - start)
    # The floor: the network alone on the backtest's windows (already cut), which no batching removes.
    windows = fc._series_windows(fc._contexts(test, future_rows=0), stride=1)
    times["network"] = []
    for _ in range(repeats):
        start = time.perf_counter()
        fc._quantiles(windows)
        times["network"].append(time.perf_counter() - start)
    medians = {k: float(np.median(v)) for k, v in times.items()}
    print(f"Python API: backtest of {origins} origins: {medians['backtest'] * 1000:.1f} ms; one predict call: "
          f"{medians['predict'] * 1000:.1f} ms; ratio {medians['backtest'] / medians['predict']:.2f} "
          f"(median of {repeats}); the network alone on the {len(windows['past'])} windows: "
          f"{medians['network'] * 1000:.1f} ms ({medians['network'] / medians['predict']:.2f}x one predict call)",
          flush=True)
    # What the batched pass saves: one predict call per origin, as a loop over origins would do it.
    start = time.perf_counter()
    dates = test["date"].to_numpy()
    for origin in frame["origin"].unique():
        fc.predict(test[dates < np.datetime64(origin)])
    loop = time.perf_counter() - start
    print(f"a loop of {origins} predict calls (one per origin): {loop:.2f} s, "
          f"{loop / medians['backtest']:.0f}x the batched backtest", flush=True)
    # The command line: a fresh process per command, as a user runs them.
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    cli = {"predict": [], "backtest": []}
    with tempfile.TemporaryDirectory() as folder:
        fc.save(Path(folder) / "model")
        test.to_csv(Path(folder) / "test.csv", index=False, date_format="%Y-%m-%d")
        commands = {"predict": ["predict", "model", "--input", "test.csv"],
                    "backtest": ["backtest", "model", "--data", "test.csv", "--output", "bt.csv", "--no-baselines"]}
        for _ in range(3):
            for name, args in commands.items():
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "lstmkit", *args], cwd=folder, check=True, capture_output=True)
                cli[name].append(time.perf_counter() - start)
    cli_medians = {k: float(np.median(v)) for k, v in cli.items()}
    print(f"command line: lstmkit backtest {cli_medians['backtest']:.2f} s; lstmkit predict "
          f"{cli_medians['predict']:.2f} s; ratio {cli_medians['backtest'] / cli_medians['predict']:.2f} (median of 3)")
    return {"origins": origins, **medians, "loop_of_predicts": loop, "cli": cli_medians}


def memory() -> dict:
    """Peak memory of `lstmkit train forecaster` (one epoch) on us-employment x1 and x20."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    import pandas as pd

    from lstmkit.data.datasets.timeseries import load_us_employment

    train = load_us_employment()["train"][0]
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        for copies in (1, 20):
            frame = pd.concat([train.assign(series=train["series"] + (f"-{k}" if k else "")) for k in range(copies)])
            path = Path(folder) / f"x{copies}.csv"
            frame.to_csv(path, index=False, date_format="%Y-%m-%d")
            code = ("import resource, sys; from lstmkit.cli import main; sys.argv = sys.argv[1:]\n"
                    "try:\n    main()\nexcept SystemExit:\n    pass\n"
                    "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-c", code, "lstmkit", "train", "forecaster", "--train", str(path),
                                     "--out", str(Path(folder) / f"run{copies}"), "--epochs", "1", "--set",
                                     "data.id_column=series", "--set", "data.time_column=month", "--set",
                                     "data.target=employment", "--set", "model.lookback=36", "--set",
                                     "model.horizon=12"], capture_output=True, text=True, check=True)
            peak = int(result.stderr.split("PEAK")[-1].split()[0]) / 1024
            out[copies] = {"series": int(frame["series"].nunique()), "rows": len(frame), "peak_mb": round(peak),
                           "seconds": round(time.perf_counter() - start, 1)}
            print(f"us-employment x{copies}: {out[copies]['series']} series, {len(frame):,} rows: peak RSS "
                  f"{peak:.0f} MB, {out[copies]['seconds']} s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="accuracy", choices=["accuracy", "backtest", "memory"])
    parser.add_argument("--series", nargs="+", default=["us-employment", *SETUPS],
                        choices=["us-employment", *SETUPS])
    parser.add_argument("--seeds", nargs="+", type=int, default=[13, 14, 15])
    parser.add_argument("--no-per-series", action="store_true", help="skip the per-series LSTM row of us-employment")
    parser.add_argument("--ensemble", type=int, default=1,
                        help="us-employment: each global model a seed ensemble of N members (seeds seed..seed+N-1)")
    parser.add_argument("--refit-all", action="store_true",
                        help="us-employment: also train again on 2006-2014 for the best epoch count and score 2015")
    parser.add_argument("--set", nargs="*", default=[], help="extra hyperparameters, key=value (applied to all)")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.mode == "backtest":
        out = backtest_speed()
    elif args.mode == "memory":
        out = memory()
    else:
        overrides = {}
        for item in args.set:
            key, _, value = item.partition("=")
            overrides[key] = json.loads(value) if value[:1] in "[{0123456789-tf" and value not in ("t", "f") else value
        out = {name: (employment(args.seeds, not args.no_per_series, args.ensemble, args.refit_all)
                      if name == "us-employment" else run(name, args.seeds, overrides)) for name in args.series}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, default=str)


if __name__ == "__main__":
    main()
