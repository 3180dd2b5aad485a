r"""``lstmkit gradients``: how far back the loss's gradient reaches, for RNN, GRU and LSTM.

The claim behind the LSTM: through a plain RNN, ``dL/dx_t`` shrinks geometrically with the
distance between step t and the loss (the product of T - t Jacobians of ``tanh(W h + U x)``),
so it cannot learn what lies far back; the LSTM's cell state, updated additively through its
forget gate, keeps a path along which the gradient need not vanish. This experiment measures it.

For each cell (``lstmkit.nn``'s :class:`~lstmkit.nn.RNN`, :class:`~lstmkit.nn.GRU`,
:class:`~lstmkit.nn.LSTM`, all with ``hidden`` units) and each sequence length T, a model
``cell -> Linear(hidden, 1)`` on the last step is trained on the adding problem
(:mod:`lstmkit.gradients.adding`) for ``steps`` Adam steps, then on a fresh batch of
``measure_batch`` sequences:

* ``grad_norm`` at ``distance`` d = the mean over the batch of ``||dL_b / dx_{b, T-1-d}||_2``
  (``L_b``: the sequence's own squared error; ``x_t``: the step's input), for d = 0..T-1;
* ``accuracy`` = share of predictions within 0.04 of the target (chance: about 5%).

It writes ``gradients.csv`` (``cell,length,distance,grad_norm``), ``accuracy.csv``
(``cell,length,accuracy``) and ``gradients.png`` (gradient norm against distance, log scale, one
panel per length; accuracy per cell and length).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from lstmkit.files import atomic_write
from lstmkit.gradients.adding import accuracy, adding_batch
from lstmkit.nn import GRU, LSTM, RNN

CELLS = {"rnn": RNN, "gru": GRU, "lstm": LSTM}
DEFAULT_LENGTHS = (50, 100, 200)


@dataclass
class Settings:
    """The experiment's settings (the CLI's options)."""

    cells: Sequence[str] = ("rnn", "gru", "lstm")
    lengths: Sequence[int] = DEFAULT_LENGTHS
    hidden: int = 32  # units of every cell
    steps: int = 600  # Adam steps per cell and length
    batch: int = 64  # sequences per step
    lr: float = 1e-2
    seed: int = 0
    measure_batch: int = 256  # unseen sequences the gradients and accuracy are measured on


class LastStepRegressor(nn.Module):
    """``x (B, T, 2)`` -> one number per sequence ``(B,)``, read from the cell's last step."""

    def __init__(self, cell: str, hidden: int) -> None:
        super().__init__()
        self.rnn = CELLS[cell](2, hidden, batch_first=True, init="orthogonal")
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)  # (B, T, H)
        return self.head(out[:, -1]).squeeze(-1)  # (B,)


def train(cell: str, length: int, s: Settings) -> LastStepRegressor:
    """A model of ``cell`` trained on the adding problem of ``length`` steps."""
    torch.manual_seed(s.seed)
    generator = torch.Generator().manual_seed(s.seed)
    model = LastStepRegressor(cell, s.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=s.lr)
    for _ in range(s.steps):
        x, y = adding_batch(s.batch, length, generator)
        loss = nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return model.eval()


def gradient_by_distance(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """``(T,)``: mean over the batch of ``||dL_b/dx_{b,t}||`` at distance ``T-1-t`` (index = distance)."""
    x = x.clone().requires_grad_(True)
    loss = ((model(x) - y) ** 2).sum()  # a sum: x.grad[b] is sequence b's own dL_b/dx_b
    (grad,) = torch.autograd.grad(loss, x)
    return grad.norm(dim=-1).mean(0).flip(0)  # (T,), distance 0 first


def run(s: Settings, out_dir: str | Path, echo: Callable[[str], None] = print) -> dict[str, Path]:
    """Train and measure every cell and length; write the CSVs and the plot; returns their paths."""
    out_dir = Path(out_dir)
    gradients: list[tuple[str, int, int, float]] = []
    accuracies: list[tuple[str, int, float]] = []
    for length in s.lengths:
        x, y = adding_batch(s.measure_batch, length, torch.Generator().manual_seed(s.seed + 10_000))  # unseen
        for cell in s.cells:
            start = time.perf_counter()
            model = train(cell, length, s)
            norms = gradient_by_distance(model, x, y)
            with torch.no_grad():
                acc = accuracy(model(x), y)
            gradients += [(cell, length, d, float(v)) for d, v in enumerate(norms)]
            accuracies.append((cell, length, acc))
            echo(f"{cell:>4} length {length:>4}: accuracy {acc:.3f}, |dL/dx| at distance 0 {float(norms[0]):.2e}, "
                 f"at {length - 1} {float(norms[-1]):.2e} ({time.perf_counter() - start:.1f} s)")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"gradients": out_dir / "gradients.csv", "accuracy": out_dir / "accuracy.csv",
             "plot": out_dir / "gradients.png"}
    _write_csv(paths["gradients"], ["cell", "length", "distance", "grad_norm"], gradients)
    _write_csv(paths["accuracy"], ["cell", "length", "accuracy"], accuracies)
    from lstmkit.gradients.plot import plot_gradients

    plot_gradients(gradients, accuracies, paths["plot"])
    return paths


def _write_csv(path: Path, header: list[str], rows: list[tuple]) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)

    atomic_write(path, write)
