"""``lstmkit gradients [--cells rnn,gru,lstm] [--lengths 50,100,...] --out DIR``."""

from __future__ import annotations

from pathlib import Path

import typer

from lstmkit.cli.common import user_errors
from lstmkit.errors import LstmkitError


def _ints(option: str, text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise LstmkitError(f"{option} {text}: expected whole numbers separated by commas, e.g. 50,100,200") from None
    if not values or min(values) < 2:
        raise LstmkitError(f"{option} {text}: every length must be at least 2")
    return values


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def gradients(
        out: Path = typer.Option(
            ..., "--out", metavar="DIR", help="Folder for gradients.csv, accuracy.csv and gradients.png."
        ),
        cells: str = typer.Option("rnn,gru,lstm", "--cells", metavar="rnn,gru,lstm", help="Cells to compare."),
        lengths: str = typer.Option("50,100,200", "--lengths", metavar="50,100,...", help="Sequence lengths."),
        hidden: int = typer.Option(32, "--hidden", metavar="N", help="Units of every cell."),
        steps: int = typer.Option(600, "--steps", metavar="N", help="Training steps per cell and length."),
        batch: int = typer.Option(64, "--batch", metavar="N", help="Sequences per training step."),
        lr: float = typer.Option(1e-2, "--lr", metavar="LR", help="Adam's learning rate."),
        seed: int = typer.Option(0, "--seed", metavar="N", help="Random seed."),
    ) -> None:
        """Gradient flow against distance: train RNN, GRU and LSTM on the adding problem and measure dL/dx_t."""
        import torch

        from lstmkit.gradients.experiment import CELLS, Settings, run

        chosen = [c.strip().lower() for c in cells.split(",") if c.strip()]
        unknown = [c for c in chosen if c not in CELLS]
        if unknown or not chosen:
            raise LstmkitError(
                f"--cells {cells}: unknown cell {', '.join(unknown) or '(none given)'}; valid cells: {', '.join(CELLS)}"
            )
        for name, value in (("--hidden", hidden), ("--steps", steps), ("--batch", batch)):
            if value < 1:
                raise LstmkitError(f"{name} {value}: must be at least 1")
        if not lr > 0:
            raise LstmkitError(f"--lr {lr}: must be > 0")
        settings = Settings(
            cells=chosen, lengths=_ints("--lengths", lengths), hidden=hidden, steps=steps, batch=batch, lr=lr, seed=seed
        )
        torch.set_num_threads(min(torch.get_num_threads(), 4))  # small matrices: more threads only add overhead
        paths = run(settings, out, echo=lambda line: typer.echo(line, err=True))
        for path in paths.values():
            typer.echo(str(path))
