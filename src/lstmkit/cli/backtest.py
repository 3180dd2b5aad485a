"""``lstmkit backtest MODEL_DIR --data PATH [--start TIME] [--stride N] [--refit N|never]
[--window expanding|sliding] --output FILE [--json]``: a forecaster's forecasts from every origin of
a file, written per origin, series and step with the true values (see
:mod:`lstmkit.tasks.forecaster.backtest`)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from lstmkit.cli.common import DATA_SET_HELP, user_errors
from lstmkit.errors import LstmkitError


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def backtest(
        model_dir: Path = typer.Argument(..., metavar="MODEL_DIR", help="A forecaster's model folder."),
        data: Path = typer.Option(..., "--data", metavar="PATH", help="The series to backtest on (the model's "
                                  "file format; each series starts with lookback rows of context)."),
        output: Path = typer.Option(..., "--output", metavar="FILE", help="Forecasts per origin, series and step "
                                    "with the true values (.csv, .tsv or .jsonl)."),
        start: str | None = typer.Option(None, "--start", metavar="TIME", help="The first origin (the first "
                                            "forecast step's time); default: the first with lookback rows before it."),
        stride: int = typer.Option(1, "--stride", metavar="N", help="Rows between consecutive origins."),
        refit: str = typer.Option("never", "--refit", metavar="N|never", help="Retrain every N origins on the data "
                                  "before the origin (never: reuse the model)."),
        window: str = typer.Option("expanding", "--window", metavar="expanding|sliding", help="With --refit: train "
                                   "on all data before the origin, or on as many rows as the model was trained on."),
        no_baselines: bool = typer.Option(False, "--no-baselines", help="Skip the baselines (ETS fits per origin "
                                          "take most of a long backtest's time)."),
        as_json: bool = typer.Option(False, "--json", help="Print the metrics as one JSON object."),
        overrides: list[str] | None = typer.Option(None, "--set", metavar="data.KEY=VALUE", help=DATA_SET_HELP),
    ) -> None:
        """Forecast from every origin of a file and score the forecasts (forecasters)."""
        from lstmkit.io import load
        from lstmkit.predictions import check_output_path, write_records, write_table

        estimator = load(model_dir).with_data_settings(list(overrides or []))
        if estimator.task != "forecaster":
            raise LstmkitError(f"{model_dir}: backtest takes a forecaster; this model is a {estimator.task}")
        check_output_path(output)
        X, _ = estimator.read_data(data)
        frame, metrics = estimator.backtest(X, start=start, stride=stride, refit=refit, window=window,
                                            baselines=not no_baselines)
        rows = frame.to_dict(orient="records")
        if output.suffix.lower() == ".jsonl":
            write_records(rows, output)
        else:
            write_table(rows, output)
        typer.echo(f"{metrics['n_origins']} origins, {len(frame)} forecast values written to {output}", err=True)
        if as_json:
            typer.echo(json.dumps(metrics, ensure_ascii=False))
            return
        for line in estimator.format_metrics(f"backtest of {data}", {k: v for k, v in metrics.items()
                                                                     if k not in ("per_series", "per_step")}):
            typer.echo(line)
        for step in metrics["per_step"]:
            typer.echo(f"  step {step['step']}: mae={step['mae']:.4f}, mase={step['mase']:.4f}")
