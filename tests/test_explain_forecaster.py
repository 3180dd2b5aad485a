"""Explaining a forecaster (lstmkit.tasks.forecaster.explain, `lstmkit explain MODEL --input FILE.csv`):
the encoder's gates over the lookback window rebuild its states, the outputs explained are the
forecast values predict gives, integrated gradients add up per step and per feature, --target by
name, and the CLI's JSON and PNG."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import task_cases  # noqa: F401  (first: it imports every task_case_*.py)
import torch
from cell_reference import states_from_gates
from task_case_forecaster import series_frame
from typer.testing import CliRunner

from lstmkit import Forecaster
from lstmkit.cli import app
from lstmkit.errors import DataError
from lstmkit.explain import ExplainError, explain
from lstmkit.tasks.forecaster.explain import (
    attribution_spec,
    encoder_inputs,
    lookback_window,
)

L, H = 10, 3
runner = CliRunner()


@pytest.fixture(scope="module")
def quantile_model(tmp_path_factory):
    """Quantile loss (P10/P50/P90), a past covariate ``x`` and calendar features."""
    torch.manual_seed(0)
    frame = series_frame(120, seed=0)
    fc = Forecaster(target=["value"], covariates=["x"], lookback=L, horizon=H, hidden_size=8, epochs=2,
                    batch_size=32, lr=0.01, patience=0).fit(frame)
    folder = tmp_path_factory.mktemp("explain_forecaster")
    fc.save(folder / "model")
    frame.to_csv(folder / "series.csv", index=False)
    return fc, folder, frame


@pytest.fixture(scope="module")
def planned_model(tmp_path_factory):
    """Two targets, a point loss, the autoregressive decoder and a future covariate ``plan``, read
    from a file that ends with the forecast steps' planned values."""
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    n = 80
    plan = rng.normal(size=n)
    frame = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
                          "value": np.cumsum(rng.normal(size=n)), "load": 2 * plan + rng.normal(0, 0.1, n),
                          "plan": plan})
    fc = Forecaster(target=["value", "load"], future_covariates=["plan"], loss="mse", decoder="autoregressive",
                    lookback=8, horizon=2, hidden_size=8, epochs=1, lr=0.01, patience=0).fit(frame.iloc[:70])
    path = tmp_path_factory.mktemp("explain_planned") / "ahead.csv"
    ahead = frame.copy()
    ahead.loc[78:, ["value", "load"]] = np.nan
    ahead.to_csv(path, index=False)
    return fc, path


def _network_inputs(fc, frame) -> tuple[torch.Tensor, torch.Tensor]:
    past, future, _ = lookback_window(fc, frame)
    return torch.as_tensor(past).unsqueeze(0), torch.as_tensor(future).unsqueeze(0)


def test_gates_rebuild_the_encoders_own_states(quantile_model):
    """The gates are the trained encoder's over the last L rows: the LSTM equations rebuild its cell
    state and the states the forecast itself runs on (captured from the network's forward pass).
    Gates of another window (not the last rows), of unnormalised targets, or with the input and
    forget gates swapped fail this."""
    fc, _, frame = quantile_model
    (record,) = fc.run_with_states(frame)
    assert record["steps"] == list(frame["date"].iloc[-L:])
    net = fc.network_
    seen = {}
    hook = net.encoder.register_forward_hook(lambda module, args, out: seen.update(x=args[0], states=out[0]))
    with torch.no_grad():
        net.predict(*_network_inputs(fc, frame))  # what forecast() runs
    hook.remove()
    assert record["gates"]["l0"]["i"].shape == record["gates"]["l0_reverse"]["i"].shape == (L, 8)
    np.testing.assert_allclose(states_from_gates(record["gates"]), seen["states"][0].numpy(), atol=1e-5)
    past, _ = _network_inputs(fc, frame)
    torch.testing.assert_close(encoder_inputs(net, past), seen["x"])


@pytest.mark.parametrize("which", ["quantile_model", "planned_model"])
def test_outputs_are_the_forecast_values_predict_gives(which, request):
    """Output ``name t+h`` is predict's point forecast of ``name`` at step h, ``... p10`` / ``p90`` its
    interval (quantile loss); computed from the same window, future covariates included."""
    fc, *rest = request.getfixturevalue(which)
    x = rest[1] if which == "quantile_model" else fc.read_inputs(rest[0])
    spec = attribution_spec(fc, x)
    (record,) = fc.predict_records(x)
    with torch.no_grad():
        values = dict(zip(spec.output_names, spec.forward(spec.inputs)[0].tolist()))
    targets = fc.columns_[: fc.n_targets_]
    expected = {
        f"{name} t+{h + 1}": record["forecast"][name][h] for name in targets for h in range(len(record["time"]))
    }
    if which == "quantile_model":
        for q in ("p10", "p90"):
            expected.update({f"{name} t+{h + 1} {q}": record[q][name][h] for name in targets for h in range(H)})
        assert spec.aliases["value t+2 p50"] == spec.output_names.index("value t+2")
    assert set(values) == set(expected)
    for name, value in expected.items():
        assert values[name] == pytest.approx(value, abs=1e-4), name
    assert spec.output_names[spec.target] == f"{targets[0]} t+1"


def test_attributions_add_up_per_step_and_per_feature(quantile_model):
    """Completeness toward several outputs; the per-feature attributions sum to the per-step ones;
    the baseline is the window's mean, flat over the steps."""
    fc, _, frame = quantile_model
    spec = attribution_spec(fc, frame)
    assert torch.allclose(spec.baseline, spec.inputs.mean(dim=1, keepdim=True).expand_as(spec.inputs))
    assert spec.features == ["value", "x", *fc.calendar_]
    with torch.no_grad():
        f_x, f_b = spec.forward(spec.inputs)[0], spec.forward(spec.baseline)[0]
    for name in ("value t+1", "value t+3 p90"):
        record = explain(fc, frame, target=name)
        k = spec.output_names.index(name)
        assert record["target"] == name and len(record["attributions"]) == L
        assert sum(record["attributions"]) == pytest.approx(float(f_x[k] - f_b[k]), abs=2e-3)
        per_feature = np.asarray(record["feature_attributions"])
        assert per_feature.shape == (L, len(spec.features))
        np.testing.assert_allclose(per_feature.sum(axis=1), record["attributions"], atol=1e-9)
    assert record["features"] == spec.features and record["forecast"] == pytest.approx(float(f_x[spec.target]))


def test_target_by_name_alias_or_index_and_a_clear_error(quantile_model):
    fc, _, frame = quantile_model
    default = explain(fc, frame)
    assert default["label"] == default["target"] == "value t+1"
    assert default["tokens"] == list(frame["date"].iloc[-L:]) and default["step_kind"] == "time"
    by_alias = explain(fc, frame, target="value t+2 p50")
    assert by_alias["target"] == "value t+2"
    assert explain(fc, frame, target=str(default["outputs"].index("value t+2")))["target"] == "value t+2"
    with pytest.raises(
        ExplainError,
        match=r"--target temp t\+1: not an output of this model; its forecast "
        r"values: value t\+1 p10, value t\+1, value t\+1 p90, value t\+2 p10",
    ):
        explain(fc, frame, target="temp t+1")


def test_too_short_a_history_is_a_clear_error(quantile_model):
    fc, _, frame = quantile_model
    with pytest.raises(DataError, match=f"5 rows of history; the model needs model.lookback={L}"):
        explain(fc, frame.iloc[:5])


def test_cli_input_csv_json_and_png(quantile_model, planned_model, tmp_path):
    """`explain MODEL --input FILE.csv --json` explains the forecast after the file's rows and prints
    one JSON object with the contract's keys; --out writes a PNG; --text is refused in one line."""
    _, folder, frame = quantile_model
    result = runner.invoke(
        app,
        [
            "explain",
            str(folder / "model"),
            "--input",
            str(folder / "series.csv"),
            "--json",
            "--out",
            str(tmp_path / "f.png"),
            "--target",
            "value t+2",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert {"tokens", "gates", "cell", "attributions", "baseline", "target", "feature_attributions"} <= set(record)
    assert record["tokens"] == list(frame["date"].iloc[-L:]) and record["target"] == "value t+2"
    assert set(record["gates"]) == {"input", "forget", "output"}
    for rows in [*record["gates"].values(), record["cell"]]:
        assert len(rows) == L and all(len(row) == 16 for row in rows)
    assert all(0 < v < 1 for rows in record["gates"].values() for row in rows for v in row)
    assert record["baseline"].startswith("window mean")
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fc, path = planned_model
    fc.save(tmp_path / "planned")
    result = runner.invoke(app, ["explain", str(tmp_path / "planned"), "--input", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outputs"] == ["value t+1", "load t+1", "value t+2", "load t+2"]
    result = runner.invoke(app, ["explain", str(folder / "model"), "--text", "1 2 3", "--json"])
    assert result.exit_code == 2
    assert "does not take --text; give --input FILE" in result.output and "Traceback" not in result.output
