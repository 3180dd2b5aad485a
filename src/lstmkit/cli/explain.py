"""``lstmkit explain MODEL_DIR (--text TEXT | --input FILE) (--out FILE.png | --json) [--target NAME]``.

``--input FILE`` is read as ``predict --input`` reads it (``read_inputs``) and its first input is
explained: a tagger's first sentence or line; a forecaster's file is one series, whose forecast
from its last ``model.lookback`` rows is explained.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from lstmkit.cli.common import user_errors
from lstmkit.errors import LstmkitError


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def explain(
        model_dir: Path = typer.Argument(..., metavar="MODEL_DIR", help="A model folder written by `lstmkit train`."),
        text: str | None = typer.Option(None, "--text", metavar="TEXT", help="The text to explain."),
        input_path: Path | None = typer.Option(
            None,
            "--input",
            metavar="FILE",
            help="Explain the first input of FILE (a forecaster: the forecast after FILE's rows).",
        ),
        out: Path | None = typer.Option(None, "--out", metavar="FILE.png", help="Write the picture here."),
        as_json: bool = typer.Option(
            False, "--json", help="Print one JSON object (tokens, gates, cell, attributions)."
        ),
        target: str | None = typer.Option(
            None,
            "--target",
            metavar="NAME",
            help="Explain this output: a label, an entity (its text or name), a "
            "forecast value such as 'temp_max t+1', or an index (default: "
            "the predicted label; a tagger's first entity; a forecaster's "
            "first value).",
        ),
        steps: int = typer.Option(64, "--steps", metavar="N", help="Integration points of integrated gradients."),
    ) -> None:
        """Show a model's gate activations, cell state and token attributions for one input."""
        from lstmkit.explain.plots import plot_explanation
        from lstmkit.explain.report import explain as explain_one
        from lstmkit.io import load

        if (text is None) == (input_path is None):
            raise LstmkitError("give either --text TEXT or --input FILE (one of them)")
        if out is None and not as_json:
            raise LstmkitError("give --out FILE.png, --json, or both")
        if out is not None and out.suffix.lower() != ".png":
            raise LstmkitError(f"--out {out}: the file name must end in .png")
        if steps < 2:
            raise LstmkitError(f"--steps {steps}: must be at least 2")
        estimator = load(model_dir)
        inputs = estimator.inputs_from_texts([text]) if text is not None else estimator.read_inputs(input_path)
        if not isinstance(inputs, list):  # one series (a forecaster's file) is one input
            inputs = [inputs]
        if not len(inputs):
            raise LstmkitError(f"{input_path}: no inputs to explain")
        record = explain_one(estimator, inputs[0], target=target, n_steps=steps)
        if out is not None:
            plot_explanation(record, out)
            typer.echo(f"explanation of {record['target']} written to {out}", err=as_json)
        if as_json:
            typer.echo(json.dumps(record, ensure_ascii=False))
