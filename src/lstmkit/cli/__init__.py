"""The ``lstmkit`` command line: thin verbs over the Python API (README.md and the guides in docs/).

Every error a user can cause is a :class:`lstmkit.errors.LstmkitError`; it is printed as one
``error: ...`` line on stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

from lstmkit.runtime import tune_process

tune_process()  # first, before anything imports torch (OpenMP reads GOMP_SPINCOUNT then)

import json
import sys
from pathlib import Path

import typer

from lstmkit.cli.common import (
    DATA_SET_HELP,
    config_option,
    device_option,
    epochs_option,
    seed_option,
    set_option,
    user_errors,
    with_shortcuts,
)
from lstmkit.errors import LstmkitError
from lstmkit.tasks import TASKS
from lstmkit.version import __version__

app = typer.Typer(
    name="lstmkit",
    help="Train, evaluate and use LSTM sequence models.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: "--json" as a flag, "--text TEXT", no <bool> or <list[str]>
    context_settings={"help_option_names": ["-h", "--help"]},
)
datasets_app = typer.Typer(help="Bundled datasets: list them or export one in its task's file format.",
                           no_args_is_help=True, rich_markup_mode=None)
app.add_typer(datasets_app, name="datasets")

def _version(value: bool) -> None:
    if value:
        typer.echo(f"lstmkit {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Train, evaluate and use LSTM sequence models."""


# ---------------------------------------------------------------------- train
@app.command()
@user_errors
def train(
    task: str = typer.Argument(..., metavar="TASK", help=f"The task: {', '.join(TASKS)}."),
    train_path: Path = typer.Option(..., "--train", metavar="FILE", help="Training data file."),
    valid_path: Path | None = typer.Option(
        None, "--valid", metavar="FILE", help="Validation file (default: 10% of --train)."
    ),
    out: Path | None = typer.Option(None, "--out", metavar="DIR", help="Run folder (default: runs/TASK)."),
    config: Path | None = config_option(),
    overrides: list[str] | None = set_option(),
    epochs: int | None = epochs_option(),
    seed: int | None = seed_option(),
    device: str | None = device_option(),
) -> None:
    """Train a model; writes OUT/model, OUT/checkpoints, OUT/logs/metrics.csv and OUT/plots."""
    from lstmkit.config import build_config
    from lstmkit.metrics.classification import metrics_line
    from lstmkit.tasks import get_task_class
    from lstmkit.training.distributed import is_global_zero

    cls = get_task_class(task)
    settings = with_shortcuts(overrides, epochs=epochs, seed=seed, device=device)
    cfg = build_config(cls.config_class, yaml_path=config, overrides=settings)
    out = out or Path("runs") / task
    estimator = cls(config=cfg)
    X, y = estimator.read_training_data(train_path)
    valid = estimator.read_training_data(valid_path) if valid_path is not None else None
    estimator.fit(X, y, valid=valid, out_dir=out, progress_bar=True)
    estimator.save(out / "model", metrics={"valid": estimator.valid_metrics_})
    if is_global_zero():  # under DDP every process gets here; one reports
        typer.echo(metrics_line("validation", estimator.valid_metrics_))
        typer.echo(f"model saved to {out / 'model'}")


# ---------------------------------------------------------------------- evaluate
@app.command()
@user_errors
def evaluate(
    model_dir: Path = typer.Argument(..., metavar="MODEL_DIR", help="A model folder written by `lstmkit train`."),
    data: Path = typer.Option(..., "--data", metavar="FILE", help="Labelled data file in the task's format."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object."),
    overrides: list[str] | None = typer.Option(None, "--set", metavar="data.KEY=VALUE", help=DATA_SET_HELP),
) -> None:
    """Score a model on a labelled file."""
    from lstmkit.data.naming import data_named
    from lstmkit.io import load

    estimator = load(model_dir).with_data_settings(list(overrides or []))
    X, y = estimator.read_data(data)
    with data_named(data):
        metrics = estimator.evaluate(X, y)
    if as_json:
        typer.echo(json.dumps(metrics, ensure_ascii=False))
        return
    for line in estimator.format_metrics(str(data), metrics):
        typer.echo(line)


# ---------------------------------------------------------------------- predict
UNKNOWN_WARNING_SHARE = 0.5
"""``predict`` warns on stderr when more than this share of an input's tokens is unknown to the model."""


@app.command()
@user_errors
def predict(
    model_dir: Path = typer.Argument(..., metavar="MODEL_DIR", help="A model folder written by `lstmkit train`."),
    more_texts: list[str] | None = typer.Argument(None, hidden=True, metavar="TEXT"),
    texts: list[str] | None = typer.Option(None, "--text", metavar="TEXT", help="Text(s) to label: --text A B C."),
    input_path: Path | None = typer.Option(
        None, "--input", metavar="FILE", help="File of inputs in the task's format."
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        metavar="FILE",
        help="Write predictions to .csv, .tsv or .jsonl (or the task's own format, e.g. .conll for a tagger).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per input (JSON Lines)."),
    overrides: list[str] | None = typer.Option(None, "--set", metavar="data.KEY=VALUE", help=DATA_SET_HELP),
) -> None:
    """Predict for texts given on the command line or for the inputs in a file."""
    from lstmkit.io import load

    given = list(texts or []) + list(more_texts or [])
    if given and input_path is not None:
        raise LstmkitError("give either --text TEXT ... or --input PATH (one of them)")
    estimator = load(model_dir).with_data_settings(list(overrides or []))
    if not given and input_path is None and estimator.task != "forecaster":
        raise LstmkitError("give either --text TEXT ... or --input PATH (one of them)")
    if output is not None:
        estimator.check_output_path(output)
    if input_path is not None:
        inputs = estimator.read_inputs(input_path)
    else:  # a forecaster given neither forecasts the steps after the end of its training data
        inputs = estimator.inputs_from_texts(given) if given else None
    records = estimator.predict_records(inputs)
    for n, record in enumerate(records, start=1):
        if record.get("unknown_share", 0) > UNKNOWN_WARNING_SHARE:
            typer.echo(
                f"warning: input {n}: {record['unknown_share']:.0%} of its tokens are unknown to the model "
                "(is it the language and kind of text the model was trained on?)",
                err=True,
            )
    if output is not None:
        estimator.write_predictions(records, output, inputs=inputs)
        typer.echo(f"{len(records)} predictions written to {output}", err=True)
    elif as_json:
        for record in records:
            typer.echo(json.dumps(record, ensure_ascii=False))
    else:
        for record in records:
            typer.echo(estimator.format_record(record))


# ---------------------------------------------------------------------- datasets
@datasets_app.command("list")
@user_errors
def datasets_list() -> None:
    """List the bundled datasets."""
    from lstmkit.data.datasets import list_datasets

    for name, description in list_datasets():
        typer.echo(f"{name:<16} {description}")


@datasets_app.command("export")
@user_errors
def datasets_export(
    name: str = typer.Argument(..., metavar="NAME", help="Dataset name (see `lstmkit datasets list`)."),
    out: Path = typer.Option(..., "--out", metavar="DIR", help="Folder for the train, valid and test files."),
) -> None:
    """Write a bundled dataset's splits in its task's file format (CSV, CoNLL, long CSV)."""
    from lstmkit.data.datasets import export_dataset

    for path in export_dataset(name, out):
        typer.echo(str(path))


# ---------------------------------------------------------------------- demo
def _demo_help() -> str:
    from lstmkit.tasks import all_demos

    return "Which demo: " + "; ".join(f"{name} ({demo.description})" for name, (_, demo) in all_demos().items())


@app.command()
@user_errors
def demo(
    name: str = typer.Argument(..., metavar="NAME", help=_demo_help()),
    out: Path | None = typer.Option(None, "--out", metavar="DIR", help="Run folder (default: runs/demo-NAME)."),
    overrides: list[str] | None = set_option(),
    epochs: int | None = epochs_option(),
) -> None:
    """Train a bundled demo end to end and show what it learned."""
    from lstmkit.tasks import all_demos, get_demo

    run = get_demo(name)
    out = out or Path("runs") / f"demo-{name}"
    settings = with_shortcuts(overrides, epochs=epochs)
    typer.echo(f"demo {name}: {all_demos()[name][1].description}; run folder {out}")
    run(out, settings, typer.echo)


# ---------------------------------------------------------------------- verbs in their own packages
# Each of these modules (beside this one, in lstmkit/cli/) has ``register(app)``, which adds its
# command(s) to ``app``; they import only :mod:`lstmkit.cli.common`, never this module.
def _register_verbs() -> None:
    from lstmkit.cli import backtest, config, explain, export, gradients, pretrain, serve, tune

    for module in (serve, export, explain, gradients, backtest, pretrain, tune, config):
        module.register(app)


_register_verbs()


_python_show_warning = None


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """lstmkit's own warnings (:class:`lstmkit.errors.DataWarning`) as one ``warning: ...`` line on
    stderr; any other warning as Python shows it."""
    from lstmkit.errors import DataWarning

    if issubclass(category, DataWarning):
        typer.echo(f"warning: {message}", err=True)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


def main() -> None:
    """Console-script entry point."""
    import warnings

    global _python_show_warning
    _python_show_warning = warnings.showwarning
    warnings.showwarning = _show_warning
    app(prog_name="lstmkit")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
