"""`lstmkit gradients` (lstmkit.gradients): the adding problem, dL/dx_t by distance, the files it writes."""

from __future__ import annotations

import csv

import pytest
import torch
from typer.testing import CliRunner

from lstmkit.cli import app
from lstmkit.gradients.adding import accuracy, adding_batch
from lstmkit.gradients.experiment import LastStepRegressor, gradient_by_distance

runner = CliRunner()


def test_adding_batch_targets_are_the_marked_sums():
    """Two markers per sequence, one in each half, and y their values' sum: a wrong task measures nothing."""
    x, y = adding_batch(64, 30, torch.Generator().manual_seed(0))
    assert x.shape == (64, 30, 2) and y.shape == (64,)
    markers = x[..., 1]
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :15].sum(1) == 1).all() and (markers[:, 15:].sum(1) == 1).all()
    torch.testing.assert_close(y, (x[..., 0] * markers).sum(1))
    assert accuracy(y + 0.03, y) == 1.0 and accuracy(y + 0.05, y) == 0.0


def test_gradient_by_distance_matches_autograd_per_sequence():
    """Index 0 must be the last step (distance 0) and each sequence's own gradient, not the batch's
    mean loss (which would scale norms by 1/B)."""
    torch.manual_seed(0)
    model = LastStepRegressor("lstm", 4).eval()
    x, y = adding_batch(3, 6, torch.Generator().manual_seed(1))
    norms = gradient_by_distance(model, x, y)
    expected = []
    for b in range(3):
        xb = x[b : b + 1].clone().requires_grad_(True)
        ((model(xb) - y[b : b + 1]) ** 2).sum().backward()
        expected.append(xb.grad[0].norm(dim=-1))  # (T,)
    torch.testing.assert_close(norms, torch.stack(expected).mean(0).flip(0))


def test_measure_shows_the_vanishing_gradient_mechanism():
    """The RNN's gradient shrinks geometrically with distance, while an LSTM whose forget gate is held
    open (bias 6: f = 0.998) carries it back: a measure that flips distances, averages the wrong
    axis or differentiates the parameters instead of x_t cannot show both."""
    x, y = adding_batch(16, 200, torch.Generator().manual_seed(2))
    torch.manual_seed(0)
    rnn = gradient_by_distance(LastStepRegressor("rnn", 16).eval(), x, y)
    torch.manual_seed(0)
    lstm = LastStepRegressor("lstm", 16).eval()
    with torch.no_grad():
        lstm.rnn.bias_ih_l0[16:32] = 6.0
    open_lstm = gradient_by_distance(lstm, x, y)
    assert rnn[0] > rnn[20] > rnn[60] > rnn[150]
    assert float(rnn[150:].mean() / rnn[0]) < 1e-4
    assert float(open_lstm[150:].mean() / open_lstm[0]) > 1e-2


def test_cli_writes_the_contract_files(tmp_path):
    """gradients.csv / accuracy.csv with exactly the contract's columns, one row per distance, and a PNG."""
    result = runner.invoke(app, ["gradients", "--cells", "rnn,lstm", "--lengths", "8,12", "--steps", "3",
                                 "--hidden", "4", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "gradients.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["cell", "length", "distance", "grad_norm"]
    assert len(rows) == 2 * (8 + 12)
    assert {(r["cell"], r["length"]) for r in rows} == {("rnn", "8"), ("rnn", "12"), ("lstm", "8"), ("lstm", "12")}
    assert sorted(int(r["distance"]) for r in rows if r["cell"] == "lstm" and r["length"] == "12") == list(range(12))
    assert all(float(r["grad_norm"]) >= 0 for r in rows)
    with open(tmp_path / "accuracy.csv", newline="") as f:
        acc = list(csv.DictReader(f))
    assert list(acc[0]) == ["cell", "length", "accuracy"] and len(acc) == 4
    assert all(0 <= float(r["accuracy"]) <= 1 for r in acc)
    assert (tmp_path / "gradients.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args,message", [
    (["--cells", "rnn,transformer"], "unknown cell transformer; valid cells: rnn, gru, lstm"),
    (["--lengths", "50,abc"], "expected whole numbers separated by commas"),
    (["--lengths", "1"], "every length must be at least 2"),
    (["--steps", "0"], "--steps 0: must be at least 1"),
])
def test_cli_user_errors(tmp_path, args, message):
    """A bad option must be one clear line and exit 2."""
    result = runner.invoke(app, ["gradients", "--out", str(tmp_path), *args])
    assert result.exit_code == 2 and message in result.output
