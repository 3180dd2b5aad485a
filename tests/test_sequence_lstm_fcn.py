"""LSTM-FCN for the sequence classifier (``model.architecture=lstm_fcn``; lstmkit.nn.fcn).

Every test names the bug it catches. References: ``torch.nn.BatchNorm1d`` and ``F.conv1d(padding="same")``
on the real steps alone, the same sequence alone and among longer ones (padded with NaN), and
``predict_proba`` for the model folder, ONNX, the server and the explanations.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
import task_cases  # noqa: F401  (imports the case modules, this one's data among them, without a cycle)
import torch
import torch.nn.functional as F
from cell_reference import states_from_gates
from task_case_sequence import trend_sequences

from lstmkit import SequenceClassifier, load
from lstmkit.errors import ConfigError
from lstmkit.nn.fcn import FCN, ConvBlock, MaskedBatchNorm1d
from lstmkit.tasks.sequence import SequenceModelConfig, SequenceNet

TINY = dict(architecture="lstm_fcn", conv_filters=[8, 16, 8], se_reduction=4, hidden_size=8, batch_size=16,
            epochs=4, lr=0.02, scheduler="none", patience=0, num_threads=1)


@pytest.fixture(scope="module")
def fitted():
    X, y = trend_sequences(160, seed=0)
    return SequenceClassifier(**TINY).fit(X, y, valid=trend_sequences(40, seed=1))


def nan_padded(sequences: list[torch.Tensor], extra: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, T_max + extra, F)`` with NaN in every padded step, and the lengths."""
    lengths = torch.tensor([len(x) for x in sequences])
    out = torch.full((len(sequences), int(lengths.max()) + extra, sequences[0].size(1)), float("nan"))
    for row, x in enumerate(sequences):
        out[row, : len(x)] = x
    return out, lengths


# ---------------------------------------------------------------------- the core: lstmkit.nn.fcn


def test_masked_batch_norm_is_torchs_batch_norm_over_the_real_steps():
    """Statistics that count padded steps (or a biased running variance) differ from
    torch.nn.BatchNorm1d run on the real steps laid side by side, output and running stats."""
    torch.manual_seed(0)
    ours, reference = MaskedBatchNorm1d(3), torch.nn.BatchNorm1d(3)
    for lengths in ([5, 2, 4], [3, 1, 6]):
        x = torch.randn(3, 3, 6) * 2 + 1  # (B, C, T)
        lengths = torch.tensor(lengths)
        mask = torch.arange(6) < lengths[:, None]
        x = x.masked_fill(~mask[:, None], float("nan"))
        real = torch.cat([x[b, :, :n] for b, n in enumerate(lengths.tolist())], dim=1)[None]  # (1, C, N)
        got = ours(x, mask)
        want = reference(real)[0]
        torch.testing.assert_close(torch.cat([got[b, :, :n] for b, n in enumerate(lengths.tolist())], 1), want)
    torch.testing.assert_close(ours.running_mean, reference.running_mean)
    torch.testing.assert_close(ours.running_var, reference.running_var)
    assert int(ours.num_batches_tracked) == 2
    ours.eval(), reference.eval()
    torch.testing.assert_close(ours(real, torch.ones(1, real.size(2), dtype=torch.bool)), reference(real))


@pytest.mark.parametrize("kernel", [8, 5, 3])
def test_a_conv_block_pads_like_torchs_same_padding(kernel):
    """Zeros on the wrong side for an even kernel (or 'valid' convolution) shift every output."""
    torch.manual_seed(0)
    block = ConvBlock(2, 4, kernel, squeeze_excite=False).eval()
    x = torch.randn(1, 2, 9)
    got = block(x, torch.ones(1, 9, dtype=torch.bool), torch.tensor([9]))
    conv = F.conv1d(x, block.conv.weight, block.conv.bias, padding="same")
    torch.testing.assert_close(got, torch.relu(block.norm(conv, torch.ones(1, 9, dtype=torch.bool))))


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("squeeze_excite", [True, False])
def test_fcn_gives_a_padded_sequence_the_same_output_as_alone(training, squeeze_excite):
    """The bug this catches: global average pooling (or the SE squeeze, or the batch norm's
    statistics, or a convolution reading the padding) that averages padded steps. Evaluation: each
    sequence alone equals its row of a NaN-padded batch. Training (batch statistics): the same
    batch padded to two different lengths gives the same outputs and the same input gradients."""
    torch.manual_seed(0)
    fcn = FCN(3, [6, 8, 5], [8, 5, 3], squeeze_excite=squeeze_excite, reduction=2).train(training)
    sequences = [torch.randn(n, 3) for n in (4, 9, 1, 6)]
    if not training:
        x, lengths = nan_padded(sequences)
        together = fcn(x, lengths)
        for row, s in enumerate(sequences):
            torch.testing.assert_close(together[row], fcn(s[None], torch.tensor([len(s)]))[0])
        return
    outputs, grads = [], []
    for extra in (0, 5):
        leaves = [s.clone().requires_grad_(True) for s in sequences]
        x, lengths = nan_padded([s * 1.0 for s in leaves], extra)
        x = torch.stack([torch.cat([s, x[b, len(s):]]) for b, s in enumerate(leaves)])
        out = fcn(x, lengths)
        (out * torch.arange(out.numel()).view_as(out)).sum().backward()
        outputs.append(out.detach())
        grads.append(torch.cat([s.grad for s in leaves]))
    torch.testing.assert_close(outputs[0], outputs[1])
    torch.testing.assert_close(grads[0], grads[1])


def test_the_network_scores_a_sequence_alone_as_among_longer_ones():
    """Through SequenceNet (recurrent and convolution branches, max+mean pooling, head): padding
    of any value, in a batch of longer sequences, must not change a sequence's logits."""
    torch.manual_seed(0)
    cfg = SequenceModelConfig(architecture="lstm_fcn", hidden_size=8, conv_filters=[4, 8, 4], se_reduction=2)
    net = SequenceNet(3, 4, cfg).eval()
    short = torch.randn(1, 4, 3)
    alone = net(short, torch.tensor([4]))
    batch = torch.randn(3, 9, 3) * 100
    batch[1, :4] = short[0]
    torch.testing.assert_close(net(batch, torch.tensor([9, 4, 7]))[1:2], alone, atol=1e-5, rtol=1e-5)


def test_an_rnn_models_weights_are_unchanged():
    """architecture=rnn (the default) must keep its parameters' names, so saved models still load."""
    names = set(SequenceNet(3, 2, SequenceModelConfig()).state_dict())
    assert names and not any(n.startswith(("fcn.", "branch_dropout")) for n in names)
    fcn_names = set(SequenceNet(3, 2, SequenceModelConfig(architecture="lstm_fcn")).state_dict())
    assert names < fcn_names and "fcn.blocks.0.norm.running_var" in fcn_names


# ---------------------------------------------------------------------- settings


@pytest.mark.parametrize("params,key", [
    ({"label_per_step": True}, "model.architecture"),
    ({"conv_kernels": [8, 5]}, "model.conv_kernels"),
    ({"conv_filters": [128, 0, 128]}, "model.conv_filters"),
    ({"branch_dropout": 1.0}, "model.branch_dropout"),
])
def test_bad_settings_name_their_key(params, key):
    """lstm_fcn with per-step targets would crash in fit (or pool over time silently); mismatched
    kernels would build the wrong network."""
    X, y = trend_sequences(20, seed=0)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        SequenceClassifier(**{**TINY, **params}).fit(X, y)


# ---------------------------------------------------------------------- the estimator and its outputs


def test_lstm_fcn_learns_and_batches_exactly(fitted):
    """It learns the trends; batching by length must not change or reorder a result."""
    X, y = trend_sequences(50, seed=4)
    assert fitted.score(X, y) >= 0.9
    together = fitted.predict_proba(X)
    for i in (0, 7, 31):
        np.testing.assert_allclose(fitted.predict_proba([X[i]])[0], together[i], atol=1e-6)


def test_model_folder_round_trip(fitted, tmp_path):
    """A batch norm's running statistics left out of the weights (or the architecture out of
    config.json) would change every prediction after loading."""
    X, _ = trend_sequences(20, seed=5)
    fitted.save(tmp_path / "m")
    same = load(tmp_path / "m")
    assert same.config_.model.architecture == "lstm_fcn"
    np.testing.assert_array_equal(same.predict_proba(X), fitted.predict_proba(X))


def test_onnx_graph_equals_predictions(fitted, tmp_path):
    """onnxruntime on a padded batch of mixed lengths gives predict_proba's numbers (a convolution
    branch missing from the graph, or pooling its padding, would not)."""
    from lstmkit.export.onnx import export_onnx, run_onnx

    X, _ = trend_sequences(6, seed=6)
    batch = [np.asarray(x, np.float32) for x in X]
    lengths = np.array([len(x) for x in batch])
    features = np.zeros((len(batch), lengths.max(), 2), np.float32)
    for row, x in enumerate(batch):
        features[row, : len(x)] = x
    export_onnx(fitted, tmp_path / "m.onnx")
    (got,) = run_onnx(tmp_path / "m.onnx", {"features": features, "lengths": lengths})
    np.testing.assert_allclose(got, fitted.predict_proba(batch), atol=1e-5)


def test_explanations_gates_of_the_lstm_branch_and_ig_over_the_whole_network(fitted):
    """The gates are the recurrent branch's (one row per step, H units); integrated gradients
    explain the whole network: the outputs are predict's probabilities and the attributions add
    up to F(x) - F(baseline) (an explanation of the LSTM branch alone would not)."""
    from lstmkit.explain import explain
    from lstmkit.tasks.sequence.explain import attribution_spec

    x = trend_sequences(3, seed=7)[0][0]
    (record,) = fitted.run_with_states([x])
    assert record["steps"] == [str(t) for t in range(1, len(x) + 1)]
    assert record["gates"]["l0"]["f"].shape == (len(x), 8)
    seen = {}
    hook = fitted.network_.rnn.register_forward_hook(lambda module, args, out: seen.update(states=out[0]))
    fitted.predict_proba([x])
    hook.remove()
    np.testing.assert_allclose(states_from_gates(record["gates"], swap_gap=1e-3), seen["states"][0].numpy(),
                               atol=1e-5)
    spec = attribution_spec(fitted, x)
    with torch.no_grad():
        np.testing.assert_allclose(spec.forward(spec.inputs)[0].numpy(), fitted.predict_proba([x])[0], atol=1e-6)
    explained = explain(fitted, x, n_steps=256)
    c = explained["completeness"]
    assert abs(c["delta"]) < 2e-3 and len(explained["attributions"]) == len(x)


@pytest.mark.parametrize("int8", [False, True])
def test_served_predictions_are_predicts(fitted, int8):
    """The HTTP API answers what predict_proba gives (int8: the same labels, close probabilities)."""
    from lstmkit.serve.app import create_app
    from lstmkit.serve.server import ServerThread
    from lstmkit.serve.settings import ServeSettings

    X, _ = trend_sequences(5, seed=8)
    expected = fitted.predict_proba(X)
    clf = load_copy(fitted)
    with ServerThread(create_app(clf, ServeSettings(int8=int8))) as running:
        response = httpx.post(running.url + "/predict", json={"inputs": [x.tolist() for x in X]}, timeout=30)
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    names = [str(n) for n in fitted.labels_.names()]
    got = np.array([[p["probabilities"][n] for n in names] for p in predictions])
    np.testing.assert_allclose(got, expected, atol=0.05 if int8 else 1e-5)
    assert [p["label"] for p in predictions] == list(fitted.predict(X))


def load_copy(clf):
    """A fresh copy of a fitted model (int8 quantises the served estimator in place)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        clf.save(folder + "/m")
        return load(folder + "/m")
