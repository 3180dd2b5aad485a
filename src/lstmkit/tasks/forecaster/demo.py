"""``lstmkit demo weather``: forecast the next 7 days of Seattle's temp_max and temp_min;
``lstmkit demo employment``: one global model over the 22 sectors of US employment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lstmkit.config import build_config

DEMO_SETTINGS = ["data.target=temp_max,temp_min", "data.covariates=precipitation,wind", "model.horizon=7",
                 "model.lookback=28"]


def weather(out: Path, overrides: list[str], echo: Callable[[str], None]) -> None:
    """Train on seattle-weather 2012 - mid 2014 (validation: the second half of 2014), score 2015
    against the naive baselines, forecast the 7 days after 2015-12-31 and draw ``out/plots/forecast.png``;
    the data is exported as CSV to ``out/data`` and the model saved to ``out/model``."""
    from lstmkit.data.datasets import export_dataset
    from lstmkit.data.datasets.timeseries import load_seattle_weather
    from lstmkit.metrics.classification import metrics_line
    from lstmkit.tasks.forecaster.config import ForecasterConfig
    from lstmkit.tasks.forecaster.estimator import Forecaster

    config = build_config(ForecasterConfig, overrides=DEMO_SETTINGS + list(overrides))
    splits = load_seattle_weather(context=config.model.lookback)  # test = 2015 exactly, after lookback days
    export_dataset("seattle-weather", out / "data")
    echo("data: " + ", ".join(f"{k} {len(v[0])} days" for k, v in splits.items())
         + f" (valid and test start with {config.model.lookback} days of context; CSV with 60 in {out / 'data'})")
    fc = Forecaster(config=config).fit(splits["train"][0], valid=(splits["valid"][0], None), out_dir=out,
                                       progress_bar=True)
    test = fc.evaluate(splits["test"][0])
    fc.save(out / "model", metrics={"valid": fc.valid_metrics_, "test": test})
    echo(metrics_line("test 2015", test))
    for name, row in test["per_target"].items():
        echo(f"  {name:<9} mase={row['mase']:.3f}  naive {test['baselines']['naive']['per_target'][name]['mase']:.3f}"
             f"  seasonal naive {test['baselines']['seasonal_naive']['per_target'][name]['mase']:.3f}")
    echo("the next 7 days (P50 [P10, P90]):")
    record = fc.predict_records(splits["test"][0])[0]
    for line in fc.format_record(record).splitlines():
        echo("  " + line)
    plot = fc.plot_forecast(splits["test"][0], out / "plots" / "forecast.png")
    echo(f"plot: {plot}")
    echo(f"model saved to {out / 'model'}; try: lstmkit predict {out / 'model'} --input {out / 'data' / 'test.csv'}")


EMPLOYMENT_SETTINGS = ["data.id_column=series", "data.time_column=month", "data.target=employment",
                       "model.lookback=60", "model.horizon=12", "train.epochs=60", "train.patience=10"]
"""Chosen on the 2014 validation year (docs/benchmarks.md, Forecasting many series)."""

EMPLOYMENT_PLOTS = ("nonfarm", "construction", "manufacturing", "leisure_and_hospitality")


def employment(out: Path, overrides: list[str], echo: Callable[[str], None]) -> None:
    """One global model over the 22 sectors of us-employment (monthly 2006-2015): train on
    2006-2013 (validation: 2014), forecast the 12 months of 2015 for every sector and score them
    against the per-series baselines (ETS among them), then forecast the 12 months after 2015 and
    draw a few sectors in ``out/plots/forecast-<sector>.png``."""
    from lstmkit.data.datasets import export_dataset
    from lstmkit.data.datasets.timeseries import load_us_employment
    from lstmkit.metrics.classification import metrics_line
    from lstmkit.tasks.forecaster.config import ForecasterConfig
    from lstmkit.tasks.forecaster.estimator import Forecaster

    config = build_config(ForecasterConfig, overrides=EMPLOYMENT_SETTINGS + list(overrides))
    splits = load_us_employment(context=config.model.lookback)  # test = 2015 exactly, after lookback months
    export_dataset("us-employment", out / "data")
    echo(f"data: 22 sectors, {len(splits['train'][0]) // 22} months each for training (2006-2013), validation "
         f"2014, test 2015 (each after {config.model.lookback} months of context); CSV in {out / 'data'}")
    fc = Forecaster(config=config).fit(splits["train"][0], valid=(splits["valid"][0], None), out_dir=out,
                                       progress_bar=True)
    test = fc.evaluate(splits["test"][0])
    fc.save(out / "model", metrics={"valid": fc.valid_metrics_, "test": test})
    echo(metrics_line("test 2015", {k: v for k, v in test.items() if k != "per_series"}))
    base = test["baselines"]
    echo("mean MASE over the 22 sectors: global LSTM {:.3f}; per-series ETS {:.3f}, seasonal naive {:.3f}, "
         "naive {:.3f}, drift {:.3f}".format(test["mase"], base["ets"]["mase"], base["seasonal_naive"]["mase"],
                                             base["naive"]["mase"], base["drift"]["mase"]))
    for name in EMPLOYMENT_PLOTS:
        row = test["per_series"][name]
        echo(f"  {name:<24} mase={row['mase']:.3f}  ets {row['baselines_mase']['ets']:.3f}")
        sector = splits["test"][0][splits["test"][0]["series"] == name]
        fc.plot_forecast(sector, out / "plots" / f"forecast-{name}.png")
    path = fc.write_predictions(fc.predict_records(splits["test"][0]), out / "forecast-2016.csv")
    echo(f"the 12 months after 2015 for every sector: {path}; plots of {', '.join(EMPLOYMENT_PLOTS)} in "
         f"{out / 'plots'}")
    echo(f"model saved to {out / 'model'}; try: lstmkit predict {out / 'model'}")
