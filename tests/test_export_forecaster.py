"""The forecaster's ONNX export: raw history in, onnxruntime's forecast equals ``forecast()`` to 1e-4.

Models cover both heads (direct, autoregressive), the quantile and a point loss, past and future
covariates, calendar features or none, each window normalisation, LSTM and GRU, one and two
layers; the inputs are made from DataFrames by ``graph_inputs`` (the sidecar alone) and compared
with the estimator's own ``forecast`` on series of other lengths and batch sizes than the trace's.
"""

from __future__ import annotations

import functools
import json

import numpy as np
import onnx
import pandas as pd
import pytest
import task_cases  # noqa: F401  (first: it imports every task_case_*.py)
import torch
from task_case_forecaster import series_frame
from typer.testing import CliRunner

from lstmkit import Forecaster
from lstmkit.cli import app
from lstmkit.errors import DataError
from lstmkit.export.onnx import export_onnx, run_onnx, sidecar_path
from lstmkit.tasks.forecaster.export import graph_inputs

BASE = dict(target=["value"], lookback=8, horizon=3, hidden_size=8, epochs=2, batch_size=32, lr=0.01, patience=0)
MODELS = {
    "direct-quantile-covariates": dict(covariates=["x"]),
    "autoregressive-mse-future-covariates": dict(covariates=["x"], future_covariates=["plan"],
                                                 decoder="autoregressive", loss="mse"),
    "autoregressive-quantile-plain": dict(decoder="autoregressive", window_norm="none", calendar=False,
                                          num_layers=2, linear_skip=False),
    "direct-huber-gru-mean-future": dict(future_covariates=["plan"], window_norm="mean", bidirectional=False,
                                         cell="gru", loss="huber", target=["value", "x"]),
}


def frame(n: int, seed: int, future: list[str] | None = None, start: str = "2020-01-01") -> pd.DataFrame:
    """The conformance series plus a planned covariate ``plan``; with ``future`` (the targets), the
    last 3 rows (the horizon) have empty targets, as a file for a model with future covariates ends."""
    f = series_frame(n, seed, start)
    f["plan"] = np.round(np.random.default_rng(seed + 100).normal(size=n), 3)
    if future:
        f.loc[n - 3:, future] = np.nan
    return f


def _future(fc) -> list[str] | None:
    return fc.config_.data.target if fc.config_.data.future_covariates else None


@functools.cache
def fitted(name: str) -> Forecaster:
    """A tiny forecaster of ``MODELS[name]``, fitted once per test session."""
    torch.manual_seed(0)
    return Forecaster(**{**BASE, **MODELS[name]}).fit(frame(120, 0))


@pytest.fixture(scope="module", params=sorted(MODELS))
def exported(request, tmp_path_factory):
    """A tiny fitted forecaster, its ONNX file and its sidecar."""
    fc = fitted(request.param)
    path = tmp_path_factory.mktemp("forecaster") / "m.onnx"
    return request.param, fc, path, export_onnx(fc, path)


def contexts(fc, n: int = 5) -> list[pd.DataFrame]:
    """Series of several lengths starting on different weekdays, one with a gap to interpolate."""
    out = [frame(12 + 5 * i, seed=3 + i, future=_future(fc), start=f"2021-03-0{1 + i}") for i in range(n)]
    out[1].loc[len(out[1]) - 6, "value"] = np.nan  # inside the window: interpolated as predict's reader does
    return out


def _forecast_arrays(fc, X) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    found = fc.forecast(X)
    stack = lambda key: None if found[0][key] is None else np.stack([f[key] for f in found])  # noqa: E731
    return stack("point"), stack("p10"), stack("p90")


def test_onnx_forecast_equals_predict(exported):
    """Scaling left out of the graph, the calendar or the future covariates fed to the wrong columns,
    an autoregressive loop that feeds back the wrong quantile, unsorted quantiles or the targets left
    in standardised units would each break this equality."""
    _, fc, path, sidecar = exported
    onnx.checker.check_model(str(path))
    X = contexts(fc)
    feeds = graph_inputs(json.loads(json.dumps(sidecar)), X)
    assert list(feeds) == sidecar["input_names"]
    (forecast,) = run_onnx(path, feeds)
    point, p10, p90 = _forecast_arrays(fc, X)
    if sidecar["quantiles"]:
        assert forecast.shape == (len(X), 3, len(sidecar["targets"]), 3)
        for q, expected in enumerate((p10, point, p90)):
            np.testing.assert_allclose(forecast[..., q], expected, atol=1e-4, rtol=1e-5)
    else:
        assert forecast.shape == (len(X), 3, len(sidecar["targets"]))
        np.testing.assert_allclose(forecast, point, atol=1e-4, rtol=1e-5)
        residual = sidecar["residual_quantiles"]  # the point model's interval, as forecast() adds it
        np.testing.assert_allclose(forecast + np.asarray(residual["p10"]), p10, atol=1e-4, rtol=1e-5)
    (single,) = run_onnx(path, {k: v[2:3] for k, v in feeds.items()})  # one series alone
    np.testing.assert_allclose(single, forecast[2:3], atol=1e-5)


def test_inputs_are_raw_units_and_fixed_window(exported):
    """The graph takes the file's numbers: history equals the last lookback rows of the frame."""
    _, fc, _, sidecar = exported
    X = contexts(fc, 2)
    feeds = graph_inputs(sidecar, X)
    L = sidecar["lookback"]
    history_rows = X[0].iloc[: len(X[0]) - (3 if fc.config_.data.future_covariates else 0)]
    np.testing.assert_allclose(feeds["history"][0], history_rows[sidecar["columns"]].to_numpy()[-L:], rtol=1e-6)
    if "future_covariates" in feeds:
        np.testing.assert_allclose(feeds["future_covariates"][0], X[0][["plan"]].to_numpy()[-3:], rtol=1e-6)
    if "calendar" in feeds:
        assert feeds["calendar"].shape == (2, L + 3, len(sidecar["calendar"]))


def test_graph_inputs_name_what_is_wrong(exported):
    """Too short a history is a DataError naming lookback, not a shape error inside onnxruntime."""
    _, fc, _, sidecar = exported
    short = frame(6, 1, future=_future(fc))
    with pytest.raises(DataError, match="lookback=8"):
        graph_inputs(sidecar, [short])


runner = CliRunner()


@pytest.mark.parametrize("int8", [False, True])
def test_export_cli_for_a_forecaster(tmp_path, int8):
    """`lstmkit export` through the model folder; --int8 quantises the matrix products and stays close."""
    fc = fitted("autoregressive-mse-future-covariates")
    fc.save(tmp_path / "model")
    out = tmp_path / "f.onnx"
    result = runner.invoke(app, ["export", str(tmp_path / "model"), "--format", "onnx", "--out", str(out)]
                           + (["--int8"] if int8 else []))
    assert result.exit_code == 0, result.output
    assert "forecaster model exported to" in result.output
    assert "inputs: history, future_covariates, calendar; outputs: forecast" in result.output
    sidecar = json.loads(sidecar_path(out).read_text(encoding="utf-8"))
    assert sidecar["int8"] is int8 and sidecar["task"] == "forecaster"
    X = contexts(fc)
    (forecast,) = run_onnx(out, graph_inputs(sidecar, X))
    point = _forecast_arrays(fc, X)[0]
    if int8:
        ops = {node.op_type for node in onnx.load(str(out)).graph.node}
        assert ops & {"DynamicQuantizeLSTM", "MatMulInteger", "DynamicQuantizeLinear"}
        assert np.abs(forecast - point).max() < 0.05 * float(fc.scaler_.scale_[0])
    else:
        np.testing.assert_allclose(forecast, point, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("id_embedding", [0, 4])
def test_a_many_series_model_exports_with_per_series_scaling_and_statics(tmp_path, id_embedding):
    """Per-series scaling or the static inputs left out of the graph (or fed in the wrong order), or an
    unseen series not scaled by its own history as predict scales it, would break this equality."""
    frames = []
    for k, (shop, size, region) in enumerate((("a", 1.0, "north"), ("b", 4.0, "south"), ("c", 9.0, "north"))):
        f = series_frame(80 + 5 * k, seed=k)
        frames.append(f.assign(shop=shop, value=f["value"] * size, size=size, region=region))
    panel = pd.concat(frames)
    torch.manual_seed(0)
    fc = Forecaster(**{**BASE, "covariates": ["x"]}, id_column="shop", static_covariates=["size", "region"],
                    id_embedding=id_embedding).fit(panel)
    sidecar = export_onnx(fc, tmp_path / "panel.onnx")
    assert sidecar["input_names"][-4:] == ["series_mean", "series_scale", "static_numbers", "static_categories"]
    inputs = [panel[panel["shop"] == s].iloc[:-4] for s in ("c", "a")]
    if not id_embedding:  # a series the model has not seen: scaled by its own history
        inputs.append(series_frame(40, seed=9).assign(shop="new", size=2.0, region="east"))
    feeds = graph_inputs(json.loads(json.dumps(sidecar)), inputs)
    (forecast,) = run_onnx(tmp_path / "panel.onnx", feeds)
    expected = np.stack([f["point"] for f in fc.forecast(inputs)])
    np.testing.assert_allclose(forecast[..., 1], expected, atol=1e-4, rtol=1e-5)
