"""``lstmkit export MODEL_DIR --format onnx --out FILE [--int8]``."""

from __future__ import annotations

from pathlib import Path

import typer

from lstmkit.cli.common import user_errors
from lstmkit.errors import LstmkitError

FORMATS = ("onnx",)


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def export(
        model_dir: Path = typer.Argument(..., metavar="MODEL_DIR", help="A model folder written by `lstmkit train`."),
        fmt: str = typer.Option("onnx", "--format", metavar="onnx", help="The file format (only onnx)."),
        out: Path = typer.Option(
            ..., "--out", metavar="FILE", help="The .onnx file to write (and FILE.json beside it)."
        ),
        int8: bool = typer.Option(
            False, "--int8", help="Quantise the weights to int8 (smaller, faster on a CPU; slightly different outputs)."
        ),
    ) -> None:
        """Export a model as an ONNX graph (dynamic batch and length) with a JSON sidecar."""
        from lstmkit.export.onnx import export_onnx, sidecar_path
        from lstmkit.io import load

        if fmt.lower() not in FORMATS:
            raise LstmkitError(f"--format {fmt}: unknown format; valid formats: {', '.join(FORMATS)}")
        estimator = load(model_dir)
        info = export_onnx(estimator, out, int8=int8)
        typer.echo(
            f"{info['task']} model exported to {out} (inputs: {', '.join(info['input_names'])}; "
            f"outputs: {', '.join(info['output_names'])}; largest difference from PyTorch {info['max_abs_diff']:.1e})"
        )
        typer.echo(f"sidecar written to {sidecar_path(out)}")
