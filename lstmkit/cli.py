"""The ``lstmkit`` command line: thin verbs over the Python API (see ../shared/CONTRACT.md).

Every error a user can cause is a :class:`lstmkit.errors.LstmkitError`; it is printed as one
``error: ...`` line on stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

import csv
import functools
import json
import sys
from pathlib import Path
from typing import Optional

import typer

from lstmkit import __version__
from lstmkit.errors import LstmkitError

app = typer.Typer(
    name="lstmkit",
    help="Train, evaluate, explain and serve LSTM sequence models.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
datasets_app = typer.Typer(help="Bundled datasets: list them or export one as CSV files.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")

DEMOS = {"sentiment": "Chinese review sentiment (chn-reviews), character-level BiLSTM"}


def user_errors(command):
    """Turn user errors into one clear line and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except LstmkitError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as interrupt:
            typer.echo(f"interrupted{': ' + str(interrupt) if str(interrupt) else ''}", err=True)
            raise typer.Exit(130) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lstmkit {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Train, evaluate, explain and serve LSTM sequence models."""


def _print_metrics(title: str, metrics: dict) -> None:
    flat = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    typer.echo(title + ": " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                        for k, v in flat.items()))


# ---------------------------------------------------------------------- train
@app.command()
@user_errors
def train(
    task: str = typer.Argument(..., help="text-classifier"),
    train_path: Path = typer.Option(..., "--train", help="Training data file."),
    valid_path: Optional[Path] = typer.Option(None, "--valid", help="Validation file (default: 10% of --train)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default: runs/TASK)."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML file of settings."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="key=value, e.g. model.hidden_size=256."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Shortcut for --set train.epochs=N."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Shortcut for --set train.seed=N."),
    device: Optional[str] = typer.Option(None, "--device", help="auto, cpu or cuda."),
) -> None:
    """Train a model; writes OUT/model, OUT/checkpoints, OUT/logs/metrics.csv and OUT/plots."""
    from lstmkit.config import build_config
    from lstmkit.tasks import get_task_class

    cls = get_task_class(task)
    settings = list(overrides or [])
    for key, value in (("epochs", epochs), ("seed", seed), ("device", device)):
        if value is not None:
            settings.append(f"train.{key}={value}")
    cfg = build_config(cls.config_class, yaml_path=config, overrides=settings)
    out = out or Path("runs") / task
    estimator = cls(config=cfg)
    X, y = estimator.read_data(train_path)
    valid = estimator.read_data(valid_path) if valid_path is not None else None
    estimator.fit(X, y, valid=valid, out_dir=out, progress_bar=True)
    estimator.save(out / "model", metrics={"valid": estimator.valid_metrics_})
    _print_metrics("validation", estimator.valid_metrics_)
    typer.echo(f"model saved to {out / 'model'}")


# ---------------------------------------------------------------------- evaluate
@app.command()
@user_errors
def evaluate(
    model_dir: Path = typer.Argument(..., help="A model folder written by `lstmkit train`."),
    data: Path = typer.Option(..., "--data", help="Labelled data file in the task's format."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object."),
) -> None:
    """Score a model on a labelled file."""
    from lstmkit.io import load

    estimator = load(model_dir)
    X, y = estimator.read_data(data)
    metrics = estimator.evaluate(X, y, source=data)
    if as_json:
        typer.echo(json.dumps(metrics, ensure_ascii=False))
        return
    _print_metrics(f"{data}", metrics)
    for label, row in metrics.get("per_class", {}).items():
        typer.echo(f"  {label:>12}  precision={row['precision']:.4f} recall={row['recall']:.4f} "
                   f"f1={row['f1']:.4f} support={row['support']}")


# ---------------------------------------------------------------------- predict
@app.command()
@user_errors
def predict(
    model_dir: Path = typer.Argument(..., help="A model folder written by `lstmkit train`."),
    more_texts: Optional[list[str]] = typer.Argument(None, hidden=True),
    texts: Optional[list[str]] = typer.Option(None, "--text", help="Text(s) to label: --text A B C."),
    input_path: Optional[Path] = typer.Option(None, "--input", help="File of inputs (CSV/TSV/JSONL/TXT)."),
    output: Optional[Path] = typer.Option(None, "--output", help="Write predictions to .csv, .tsv or .jsonl."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per input (JSON Lines)."),
) -> None:
    """Label texts given on the command line or in a file."""
    from lstmkit.data.readers import read_texts
    from lstmkit.errors import DataError
    from lstmkit.io import load

    inputs = list(texts or []) + list(more_texts or [])
    if bool(inputs) == (input_path is not None):
        raise LstmkitError("give either --text TEXT ... or --input PATH (one of them)")
    estimator = load(model_dir)
    if input_path is not None:
        column = estimator.config_.data.text_column
        inputs = read_texts(input_path, text_column=column)
    records = [{"text": text, **rec} for text, rec in zip(inputs, estimator.predict_records(inputs))]
    if output is not None:
        suffix = output.suffix.lower()
        if suffix not in (".csv", ".tsv", ".jsonl"):
            raise DataError("--output must end in .csv, .tsv or .jsonl", path=output)
        write_records(records, output)
        typer.echo(f"{len(records)} predictions written to {output}", err=True)
    elif as_json:
        for rec in records:
            typer.echo(json.dumps(rec, ensure_ascii=False))
    else:
        for rec in records:
            typer.echo(f"{rec['label']}\t{rec['probabilities'][rec['label']]:.3f}\t{rec['text']}")


def write_records(records: list[dict], path: Path) -> None:
    """Predictions as JSON Lines, or as CSV/TSV with one ``prob_<label>`` column per label."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        if path.suffix.lower() == ".jsonl":
            for rec in records:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        else:
            labels = list(records[0]["probabilities"]) if records else []
            writer = csv.writer(f, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            writer.writerow(["text", "label"] + [f"prob_{label}" for label in labels])
            for rec in records:
                writer.writerow([rec["text"], rec["label"]] + [rec["probabilities"][lab] for lab in labels])
    tmp.replace(path)


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
    name: str = typer.Argument(..., help="Dataset name (see `lstmkit datasets list`)."),
    out: Path = typer.Option(..., "--out", help="Folder for train.csv, valid.csv and test.csv."),
) -> None:
    """Write a bundled dataset's splits as CSV files."""
    from lstmkit.data.datasets import export_dataset

    for path in export_dataset(name, out):
        typer.echo(str(path))


# ---------------------------------------------------------------------- demo
DEMO_SENTENCES = [
    "房间很干净，服务也很热情，下次还会再来。",
    "太失望了，质量很差，再也不买了。",
    "这本书写得不错，值得一读。",
    "酒店位置偏僻，早餐难吃，隔音很差。",
    "屏幕很清晰，电池也耐用，总体满意。",
]


@app.command()
@user_errors
def demo(
    name: str = typer.Argument(..., help="sentiment"),
    out: Optional[Path] = typer.Option(None, "--out", help="Run folder (default: runs/demo-NAME)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Override the number of epochs."),
) -> None:
    """Train a bundled demo end to end and show what it learned."""
    if name not in DEMOS:
        raise LstmkitError(f"unknown demo {name!r}; available: {', '.join(DEMOS)}")
    from lstmkit.data.datasets import export_dataset, load_dataset
    from lstmkit.tasks.text import TextClassifier

    out = out or Path("runs") / f"demo-{name}"
    typer.echo(f"demo {name}: {DEMOS[name]}; run folder {out}")
    splits = load_dataset("chn-reviews")
    export_dataset("chn-reviews", out / "data")
    typer.echo("data: " + ", ".join(f"{k} {len(v[0])}" for k, v in splits.items()) + f" (CSV in {out / 'data'})")
    params = {"epochs": epochs} if epochs is not None else {}
    clf = TextClassifier(**params).fit(*splits["train"], valid=splits["valid"], out_dir=out, progress_bar=True)
    test = clf.evaluate(*splits["test"])
    clf.save(out / "model", metrics={"valid": clf.valid_metrics_, "test": test})
    _print_metrics("validation", clf.valid_metrics_)
    _print_metrics("test", test)
    for text, rec in zip(DEMO_SENTENCES, clf.predict_records(DEMO_SENTENCES)):
        typer.echo(f"  {rec['label']} {rec['probabilities'][rec['label']]:.3f}  {text}")
    typer.echo(f"model saved to {out / 'model'}; try: lstmkit predict {out / 'model'} --text 房间很干净")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="lstmkit")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
