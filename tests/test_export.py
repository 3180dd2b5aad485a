"""ONNX export (lstmkit.export): exact on padded batches of mixed lengths, any batch and length.

Every comparison is onnxruntime against PyTorch on inputs the graph was *not* traced with (other
batch sizes, other lengths, a one-token text), to 1e-4.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import onnx
import pytest
import torch
from textdata import english_reviews
from typer.testing import CliRunner

from lstmkit import TextClassifier
from lstmkit.cli import app
from lstmkit.export.ngrams import ExportableNgramTfidf, term_counts
from lstmkit.export.onnx import ExportError, export_onnx, run_onnx, sidecar_path
from lstmkit.export.rnn import ExportableRecurrent
from lstmkit.nn import GRU, LSTM, RNN
from lstmkit.nn.ngrams import NgramTfidf
from lstmkit.tasks import TASKS

TINY = dict(embedding_dim=8, hidden_size=8, ngram_buckets=512, lexicon_buckets=512, batch_size=16, epochs=2,
            lr=0.01, scheduler="none", patience=0, unlabeled_text=None)
runner = CliRunner()


def _export(module, inputs, names, path, outputs=("out",)):
    axes = {name: ({0: "batch", 1: "steps"} if value.dim() > 1 else {0: "batch"}) for name, value in zip(names, inputs)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), inputs, str(path), input_names=list(names), output_names=list(outputs),
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    return path


def _pad(lists):
    lengths = torch.tensor([len(s) for s in lists])
    ids = torch.zeros(len(lists), int(lengths.max()), dtype=torch.long)
    for row, s in enumerate(lists):
        ids[row, : len(s)] = torch.tensor(s)
    return ids, lengths


@pytest.mark.parametrize("cls,layers,bidirectional", [(LSTM, 2, True), (LSTM, 1, False), (GRU, 2, True),
                                                      (RNN, 1, True)])
def test_recurrent_stack_exports_exactly_on_padded_batches(tmp_path, cls, layers, bidirectional):
    """A trace of the fused engine freezes the traced batch's lengths (its Python branches on them),
    and a backward direction started in the padding reads zeros first: either breaks these outputs.
    The graph's native recurrent nodes get the lengths as ``sequence_lens``: NaN in the padding
    and the zeros expected past each length catch a node that ignores them."""
    torch.manual_seed(0)
    rnn = cls(5, 6, num_layers=layers, batch_first=True, bidirectional=bidirectional).eval()
    wrapped = ExportableRecurrent(rnn)
    x, lengths = torch.randn(3, 7, 5), torch.tensor([7, 2, 5])  # traced with these
    path = _export(wrapped, (x, lengths), ["x", "lengths"], tmp_path / "rnn.onnx", outputs=("output", "h_n"))
    for batch, steps, lens in [(4, 11, [3, 11, 1, 6]), (1, 4, [4]), (2, 9, [9, 9]), (5, 3, [1, 1, 2, 3, 1])]:
        x2 = torch.randn(batch, steps, 5)
        x2[0, lens[0]:] = 1e3  # padding holds garbage: it must not matter
        l2 = torch.tensor(lens)
        with torch.no_grad():
            out, h_n = rnn(x2, lengths=l2)
            mine_out, mine_h = wrapped(x2, l2)
        torch.testing.assert_close(mine_out, out, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(mine_h, h_n[0] if isinstance(h_n, tuple) else h_n, atol=1e-5, rtol=1e-5)
        nan_padded = x2.clone()
        for row, length in enumerate(lens):
            nan_padded[row, length:] = float("nan")  # the graph has no mask of its own: never read padding
        ort_out, ort_h = run_onnx(path, {"x": nan_padded.numpy(), "lengths": l2.numpy()})
        np.testing.assert_allclose(ort_out, out.numpy(), atol=1e-4)  # zeros past each length included
        np.testing.assert_allclose(ort_h, mine_h.numpy(), atol=1e-4)


def test_ngram_branch_exports_without_unique(tmp_path):
    """torch.unique and index_add_ have data-dependent sizes; the pairwise count must give the same
    TF-IDF (repeated n-grams, hash collisions in few buckets, large ids whose hash needs int64)."""
    torch.manual_seed(0)
    for buckets, vocab in [(64, 30), (1 << 20, 50_000)]:
        layer = NgramTfidf(buckets, 3, max_n=3)
        with torch.no_grad():
            layer.weight.normal_()
            layer.bias.normal_()
            layer.idf.uniform_(1, 3)
        ids, lengths = _pad([[5, 6, 5, 6, 5, 6, 7], [vocab - 1, 2], [9], [4, 4, 4, 4]])
        ids = torch.where(ids > 0, ids, torch.zeros_like(ids))
        wrapped = ExportableNgramTfidf(layer)
        with torch.no_grad():
            expected = layer(ids, lengths)
            torch.testing.assert_close(wrapped(ids, lengths), expected, atol=1e-5, rtol=1e-5)
        path = _export(
            wrapped, (ids[:2, :3], lengths[:2].clamp(max=3)), ["ids", "lengths"], tmp_path / f"n{buckets}.onnx"
        )
        (got,) = run_onnx(path, {"ids": ids.numpy(), "lengths": lengths.numpy()})
        np.testing.assert_allclose(got, expected.numpy(), atol=1e-4)


def test_term_counts_equal_a_brute_force_count():
    """The sort-and-scatter count must give each valid window the number of valid windows of its text
    with the same column; windows outside the text must match nothing (not even each other)."""
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        cols = torch.randint(0, 5, (3, 12), generator=g)
        inside = torch.rand(3, 12, generator=g) < 0.7
        expected = ((cols.unsqueeze(2) == cols.unsqueeze(1)) & inside.unsqueeze(1)).sum(-1)
        got = term_counts(cols, inside)
        assert torch.equal(got[inside], expected[inside])
        assert (got[~inside] == 1).all()


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    """A tiny text classifier with every branch on (lexicon, bigrams, n-gram TF-IDF), saved."""
    torch.manual_seed(0)
    clf = TextClassifier(**TINY, bigram_dim=4).fit(*english_reviews(120))
    folder = tmp_path_factory.mktemp("text") / "model"
    clf.save(folder)
    return clf, folder


REAL_TEXTS = [
    "good",
    "the room was clean and the staff very lovely",
    "awful food, rude staff, dirty hotel",
    "the hotel was fine but the food was bad and the room dirty and the staff rude and poor",
    "words the model never saw",
]


def test_text_classifier_onnx_equals_predict_proba(text_model, tmp_path):
    """The exported graph must give predict_proba's numbers for any batch, including texts longer,
    shorter and fewer than the traced example, and carry what is needed to make its inputs."""
    clf, _ = text_model
    sidecar = export_onnx(clf, tmp_path / "m.onnx")
    onnx.checker.check_model(str(tmp_path / "m.onnx"))
    assert json.loads(sidecar_path(tmp_path / "m.onnx").read_text(encoding="utf-8")) == json.loads(json.dumps(sidecar))
    assert sidecar["labels"] == clf.labels_ and sidecar["input_names"] == ["ids", "lengths"]
    vocab = {token: i for i, token in enumerate(sidecar["vocab"])}
    texts = REAL_TEXTS + english_reviews(20, seed=3)[0]
    ids, lengths = _pad([[vocab.get(t, 1) for t in clf.tokenizer_(text)] for text in texts])
    (proba,) = run_onnx(tmp_path / "m.onnx", {"ids": ids.numpy(), "lengths": lengths.numpy()})
    np.testing.assert_allclose(proba, clf.predict_proba(texts), atol=1e-4)
    for n in (0, 3):  # one text alone: batch 1, its own length
        (single,) = run_onnx(
            tmp_path / "m.onnx", {"ids": ids[n : n + 1, : lengths[n]].numpy(), "lengths": lengths[n : n + 1].numpy()}
        )
        np.testing.assert_allclose(single, clf.predict_proba([texts[n]]), atol=1e-4)


def test_int8_export_is_smaller_and_agrees(text_model, tmp_path):
    """Quantisation that breaks the graph (or quantises nothing) would go unnoticed without a check."""
    clf, _ = text_model
    export_onnx(clf, tmp_path / "f.onnx")
    info = export_onnx(clf, tmp_path / "q.onnx", int8=True)
    assert info["int8"] is True
    ops = {node.op_type for node in onnx.load(str(tmp_path / "q.onnx")).graph.node}
    assert ops & {"DynamicQuantizeLSTM", "MatMulInteger", "DynamicQuantizeLinear"}
    texts = english_reviews(40, seed=4)[0]
    ids, lengths = _pad(clf.encode(texts))
    (proba,) = run_onnx(tmp_path / "q.onnx", {"ids": ids.numpy(), "lengths": lengths.numpy()})
    assert np.abs(proba - clf.predict_proba(texts)).max() < 0.1


def test_export_cli_writes_graph_and_sidecar(text_model, tmp_path):
    """The verb must go through the model folder (load) and print where it wrote."""
    _, folder = text_model
    result = runner.invoke(app, ["export", str(folder), "--format", "onnx", "--out", str(tmp_path / "x" / "m.onnx")])
    assert result.exit_code == 0, result.output
    assert "text-classifier model exported to" in result.output
    assert (tmp_path / "x" / "m.onnx").is_file() and (tmp_path / "x" / "m.onnx.json").is_file()


@pytest.mark.parametrize(
    "args,message",
    [
        (["--format", "tflite", "--out", "m.onnx"], "--format tflite: unknown format; valid formats: onnx"),
        (["--out", "m.pt"], "the file name must end in .onnx"),
    ],
)
def test_export_cli_user_errors(text_model, tmp_path, args, message):
    """A wrong format or file name must be one clear line and exit 2, never a traceback."""
    _, folder = text_model
    result = runner.invoke(
        app,
        [
            "export",
            str(folder),
            *[a if a.startswith("-") or a in ("onnx", "tflite") else str(tmp_path / a) for a in args],
        ],
    )
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_export_cli_missing_model_folder(tmp_path):
    """A missing model folder is a user error naming the folder."""
    result = runner.invoke(app, ["export", str(tmp_path / "nope"), "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2 and "nope" in result.output


def test_failed_export_leaves_no_file(text_model, tmp_path, monkeypatch):
    """A graph that disagrees with PyTorch must not be written (nor half of one)."""
    clf, _ = text_model
    import lstmkit.export.onnx as onnx_export

    monkeypatch.setattr(onnx_export, "run_onnx", lambda path, feeds, threads=1: [np.full((3, 2), 9.0, np.float32)])
    with pytest.raises(ExportError, match="differs from PyTorch"):
        export_onnx(clf, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


NOT_EXPORTED = {"char-lm"}
"""Tasks without an ONNX export (a language model is used inside a tagger's or classifier's graph)."""


def test_only_the_language_model_has_no_export():
    """A task that loses its export hook fails here."""
    assert {name for name, task in TASKS.items() if task.export is None} == NOT_EXPORTED


@pytest.mark.parametrize("name", sorted(set(TASKS) - {"text-classifier"} - NOT_EXPORTED))
def test_every_task_exports_through_one_path(name, tmp_path):
    """Every registered task goes through the same export path: parity on its example inputs and
    on its first example alone (a dynamic batch). All four built-in tasks export."""
    from task_cases import fit_case

    est, _ = fit_case(name, tmp_path)
    spec = est.export_module()
    export_onnx(est, tmp_path / "m.onnx")
    first = tuple(
        x[:1] if name in spec.dynamic_axes and 0 in spec.dynamic_axes[name] else x
        for name, x in zip(spec.input_names, spec.example_inputs)
    )
    with torch.inference_mode():
        expected = spec.module(*first)
    expected = expected if isinstance(expected, (tuple, list)) else (expected,)
    got = run_onnx(tmp_path / "m.onnx", {n: x.numpy() for n, x in zip(spec.input_names, first)})
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e.numpy(), atol=1e-4)
