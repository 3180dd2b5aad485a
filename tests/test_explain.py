"""Explanations (lstmkit.explain, `lstmkit explain`): gates from the trained weights, integrated
gradients that add up, a PNG that draws Chinese tokens, and user errors as one line."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from textdata import english_reviews
from typer.testing import CliRunner

from lstmkit import TextClassifier
from lstmkit.cli import app
from lstmkit.explain import ExplainError, explain
from lstmkit.explain.attributions import AttributionSpec, integrated_gradients
from lstmkit.explain.plots import explanation_figure, plot_explanation
from lstmkit.fonts import choose_fonts
from lstmkit.tasks.text.export import attribution_spec

TINY = dict(embedding_dim=8, hidden_size=8, ngram_buckets=512, lexicon_buckets=512, batch_size=16, epochs=2,
            lr=0.01, scheduler="none", patience=0, unlabeled_text=None)
TEXT = "the room was clean but the staff rude"
runner = CliRunner()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    clf = TextClassifier(**TINY).fit(*english_reviews(120))
    folder = tmp_path_factory.mktemp("explain") / "model"
    clf.save(folder)
    return clf, folder


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, "explain --json must print exactly one JSON object"
    return json.loads(lines[0])


def test_json_has_the_contract_shape(model):
    """Keys, lengths and per-unit lists as CONTRACT.md says; gates are sigmoids, so strictly in (0, 1)."""
    clf, folder = model
    record = _json(runner.invoke(app, ["explain", str(folder), "--text", TEXT, "--json"]))
    n, width = len(TEXT.split()), 2 * 8  # bidirectional, 8 units per direction
    assert record["tokens"] == TEXT.split()
    assert set(record["gates"]) == {"input", "forget", "output"}
    for rows in [*record["gates"].values(), record["cell"]]:
        assert len(rows) == n and all(len(row) == width for row in rows)
    for rows in record["gates"].values():
        values = np.asarray(rows)
        assert ((values > 0) & (values < 1)).all()
    assert len(record["attributions"]) == n and all(isinstance(a, float) for a in record["attributions"])
    assert record["baseline"].startswith("zero")
    assert record["label"] == record["target"] == clf.predict([TEXT])[0]
    assert record["probability"] == pytest.approx(clf.predict_proba([TEXT]).max(), abs=1e-5)


def test_gates_reproduce_the_models_own_states(model):
    """Gates from other weights or another layer would not rebuild the fused engine's outputs:
    h_t = o_t * tanh(c_t), forward direction then backward."""
    clf, _ = model
    record = explain(clf, TEXT)
    o, c = np.asarray(record["gates"]["output"]), np.asarray(record["cell"])
    net = clf.network_
    ids = torch.tensor([clf.encode([TEXT])[0]])
    with torch.no_grad():
        states, _ = net.rnn(net.rnn_inputs(ids, torch.tensor([ids.size(1)])))  # fused engine
    np.testing.assert_allclose(o * np.tanh(c), states[0].numpy(), atol=1e-5)
    i, f = np.asarray(record["gates"]["input"]), np.asarray(record["gates"]["forget"])
    g_times_i = c[1:, :8] - f[1:, :8] * c[:-1, :8]  # c_t = f_t c_{t-1} + i_t g_t (forward direction)
    assert (np.abs(g_times_i) <= i[1:, :8] + 1e-6).all()  # |g| <= 1


def test_attributions_are_complete(model):
    """Integrated gradients must add up to f(x) - f(baseline) (completeness); a wrong baseline or a
    forward function that is not the model's breaks it or the probability check."""
    clf, _ = model
    for text in [TEXT, "good", "awful rude staff and a dirty dirty room"]:
        record = explain(clf, text, n_steps=64)
        spec = attribution_spec(clf, text)
        with torch.no_grad():
            f_x = spec.forward(spec.inputs)[0]
            f_b = spec.forward(spec.baseline)[0]
        k = clf.labels_.index(record["target"])
        np.testing.assert_allclose(f_x.numpy(), clf.predict_proba([text])[0], atol=1e-5)
        assert sum(record["attributions"]) == pytest.approx(float(f_x[k] - f_b[k]), abs=2e-3)
        assert abs(record["completeness"]["delta"]) < 2e-3


def test_target_label_flips_two_class_attributions(model):
    """With two classes p_neg = 1 - p_pos, so attributions toward the other label are the negatives:
    a --target that is ignored or mapped to the wrong class fails this."""
    clf, _ = model
    a = explain(clf, TEXT, target="pos")
    b = explain(clf, TEXT, target="neg")
    assert a["target"] == "pos" and b["target"] == "neg"
    np.testing.assert_allclose(a["attributions"], -np.asarray(b["attributions"]), atol=1e-5)


def test_integrated_gradients_of_a_linear_model_is_exact():
    """For F(x) = sum_t,j w_j x_tj, attributions are exactly (x - x') . w per step (reference value)."""
    torch.manual_seed(0)
    w = torch.randn(2, 3)  # (K, F)
    x, base = torch.randn(1, 5, 3), torch.randn(1, 5, 3)
    spec = AttributionSpec(steps=list("abcde"), inputs=x, baseline=base, baseline_name="random",
                           forward=lambda z: z.sum(1) @ w.T, output_names=["p", "q"])
    out = integrated_gradients(spec, target=1, n_steps=8)
    np.testing.assert_allclose(out["attributions"], ((x - base)[0] @ w[1]).numpy(), atol=1e-5)
    assert abs(out["delta"]) < 1e-5


def test_gru_model_explains_its_own_gates(tmp_path):
    """A GRU has reset and update gates and no cell state: asking for LSTM gates would crash."""
    torch.manual_seed(0)
    clf = TextClassifier(**TINY, cell="gru", bidirectional=False).fit(*english_reviews(120))
    record = explain(clf, TEXT)
    assert set(record["gates"]) == {"reset", "update"}
    assert all(0 < v < 1 for rows in record["gates"].values() for row in rows for v in row)
    assert len(record["cell"]) == len(TEXT.split()) and len(record["cell"][0]) == 8
    plot_explanation(record, tmp_path / "gru.png")


def test_png_is_written_and_draws_chinese_tokens(model, tmp_path):
    """Chinese tokens drawn in DejaVu Sans come out as empty boxes: the figure must use a CJK font."""
    clf, folder = model
    result = runner.invoke(app, ["explain", str(folder), "--text", TEXT, "--out", str(tmp_path / "e.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = explain(clf, TEXT)
    record["tokens"] = list("房间很干净服务差")
    choice = choose_fonts(record["tokens"])
    if choice.missing:
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-zenhei)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        fig = explanation_figure(record)
        fig.canvas.draw()
    drawn = [t for t in fig.axes[0].texts if t.get_text() in record["tokens"]]
    assert len(drawn) == len(record["tokens"])
    assert any(family in drawn[0].get_fontfamily() for family in choice.family[1:])


@pytest.mark.parametrize(
    "args,message",
    [
        (["--json"], "give either --text TEXT or --input FILE"),
        (["--text", "good"], "give --out FILE.png, --json, or both"),
        (["--text", "good", "--out", "x.jpg"], "the file name must end in .png"),
        (["--text", "   ", "--json"], "is empty"),
        (
            ["--text", "good", "--json", "--target", "meh"],
            "--target meh: not an output of this model; its outputs: neg, pos",
        ),
    ],
)
def test_user_errors_are_one_line(model, args, message):
    """Each mistake must exit 2 with a clear line, never a traceback."""
    _, folder = model
    result = runner.invoke(app, ["explain", str(folder), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_task_without_hooks_says_so():
    """A task that has not implemented the hooks yet must get a clear error, not an AttributeError."""

    class NoHooks:
        task = "forecaster"

        def run_with_states(self, X):
            raise NotImplementedError("explanations are not available for forecaster models yet")

    with pytest.raises(ExplainError, match="not available for forecaster"):
        explain(NoHooks(), [1.0, 2.0])


def _time_record(n: int, features: list[str]) -> dict:
    """A forecaster-like record of n steps (dates) with per-feature attributions."""
    rng = np.random.default_rng(0)
    per_feature = rng.normal(size=(n, len(features)))
    return {
        "tokens": [str(d.date()) for d in pd.date_range("2024-01-01", periods=n)],
        "label": "y t+1",
        "forecast": 3.0,
        "value_name": "forecast",
        "step_kind": "time",
        "layer": "l0",
        "directions": ["forward"],
        "gates": {name: rng.uniform(0.01, 0.99, size=(n, 4)).tolist() for name in ("input", "forget", "output")},
        "cell": rng.normal(size=(n, 4)).tolist(),
        "attributions": per_feature.sum(1).tolist(),
        "features": features,
        "feature_attributions": per_feature.tolist(),
        "baseline": "window mean: flat",
        "target": "y t+1",
        "completeness": {"sum": 1.0, "output": 3.0, "baseline_output": 2.0, "delta": 0.0},
    }


def test_long_windows_get_thinned_date_labels_and_a_feature_panel():
    """A 200-step window labelled at every step is unreadable: at most MAX_TICK_LABELS labels, the
    last (most recent) step among them; per-feature attributions get their own panel, one row each."""
    from lstmkit.explain.plots import MAX_TICK_LABELS, _tick_positions

    assert _tick_positions(12) == list(range(12))
    thinned = _tick_positions(200)
    assert len(thinned) <= MAX_TICK_LABELS and thinned[-1] == 199 and len(set(np.diff(thinned))) == 1
    record = _time_record(200, ["y", "temperature", "day_of_week_sin"])
    fig = explanation_figure(record)
    fig.canvas.draw()
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert len(panels) == 4  # attributions, per feature, gates, cell state
    assert [t.get_text() for t in panels[1].get_yticklabels()] == record["features"]
    labels = [t.get_text() for t in panels[-1].get_xticklabels()]
    assert len(labels) <= MAX_TICK_LABELS and labels[-1] == record["tokens"][-1]
    assert not panels[0].texts  # dates are tick labels, not written into the cells
    assert "y t+1: forecast 3" in panels[0].get_title()


def test_attribution_spec_checks_its_shapes():
    """A task hook whose labels or feature names do not match its tensors fails at once, not in the plot."""
    x = torch.zeros(1, 3, 2)
    with pytest.raises(ValueError, match="2 step labels for 3 steps"):
        AttributionSpec(
            steps=["a", "b"],
            inputs=x,
            baseline=x,
            baseline_name="zero",
            forward=lambda z: z.sum(1),
            output_names=["p", "q"],
        )
    with pytest.raises(ValueError, match="1 feature names for 2 features"):
        AttributionSpec(
            steps=["a", "b", "c"],
            inputs=x,
            baseline=x,
            baseline_name="zero",
            forward=lambda z: z.sum(1),
            output_names=["p", "q"],
            features=["f"],
        )
