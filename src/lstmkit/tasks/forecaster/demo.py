"""``lstmkit demo weather``: forecast the next 7 days of Seattle's temp_max and temp_min."""

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
    from lstmkit.data.datasets_timeseries import load_seattle_weather
    from lstmkit.metrics import metrics_line
    from lstmkit.tasks.forecaster import Forecaster, ForecasterConfig

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
