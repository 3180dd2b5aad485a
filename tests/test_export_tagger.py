"""The tagger's ONNX export: emissions equal PyTorch's, and numpy Viterbi on them equals ``predict``.

Each model is exported through ``export_onnx`` (which traces it on its own example sentences) and
then run by onnxruntime on real sentences of other lengths and batch sizes: mixed-length batches,
a one-token sentence, raw text, tokens the model never saw.
"""

from __future__ import annotations

import functools
import itertools
import json
import random

import numpy as np
import onnx
import pytest
import task_cases  # noqa: F401  (first: it imports every task_case_*.py)
import torch
from typer.testing import CliRunner

from lstmkit import Tagger
from lstmkit.cli import app
from lstmkit.data.tagschemes import bio_to_bioes
from lstmkit.errors import DataError
from lstmkit.export.onnx import export_onnx, run_onnx, sidecar_path
from lstmkit.export.viterbi import decode, viterbi_decode
from lstmkit.nn.crf import CRF, TransitionConstraints, allowed_transitions
from lstmkit.tasks.tagger.export import graph_inputs

TINY = dict(embedding_dim=8, hidden_size=8, batch_size=16, epochs=2, lr=0.02, patience=0, bigram_dim=0, dictionary=None,
            scheduler="none")  # cheap settings, not the defaults
WORDS = ["上海", "北京", "是", "中国", "的", "城市", "我们", "喜欢", "大", "公园", "很", "美丽的"]


def tiny_ner(n: int, seed: int) -> tuple[list[list[str]], list[list[str]]]:
    """English sentences "PERSON VERB PLACE [today]" with multi-token entities (BIO: I- tags, so the
    scheme's constraints matter)."""
    rng = random.Random(seed)
    people, places = ["Anna", "Peter Lee", "Maria de Souza", "John"], ["Paris", "New York", "Rio de Janeiro", "Rome"]
    tokens, tags = [], []
    for _ in range(n):
        person, place = rng.choice(people).split(), rng.choice(places).split()
        verb = [rng.choice(["visited", "left", "loves", "saw"])]
        end = ["today"] if rng.random() < 0.5 else []
        tokens.append(person + verb + place + end)
        tags.append(["B-PER"] + ["I-PER"] * (len(person) - 1) + ["O"] + ["B-LOC"] + ["I-LOC"] * (len(place) - 1)
                    + ["O"] * len(end))
    return tokens, tags


def tiny_cws(n: int, seed: int) -> tuple[list[list[str]], list[list[str]]]:
    """Character sentences of 2-6 words from a small word list, BMES tags."""
    rng = random.Random(seed)
    tokens, tags = [], []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 6))]
        tokens.append([c for w in words for c in w])
        tags.append([t for w in words for t in (["S"] if len(w) == 1 else ["B"] + ["M"] * (len(w) - 2) + ["E"])])
    return tokens, tags


# Every feature branch of the network and both decoders, each in one of three small models.
MODELS = {
    "ner-crf-bigrams-charcnn": (tiny_ner, dict(bigram_dim=4, char_features="cnn", char_dim=4, char_hidden=4,
                                                lowercase=True)),
    "cws-crf-dictionary-gru": (tiny_cws, dict(dictionary="training", bigram_dim=4, cell="gru", num_layers=2,
                                              constrained=False)),
    "ner-softmax-bioes-charlstm": (tiny_ner, dict(decoder="softmax", train_scheme="BIOES", char_features="lstm",
                                                   char_dim=4, char_hidden=4, bidirectional=False)),
}


@functools.cache
def fitted(name: str) -> Tagger:
    """A tiny tagger of ``MODELS[name]``, fitted once per test session."""
    make, params = MODELS[name]
    torch.manual_seed(0)
    return Tagger(**{**TINY, **params}).fit(*make(50, seed=0))


@pytest.fixture(scope="module", params=sorted(MODELS))
def exported(request, tmp_path_factory):
    """A tiny fitted tagger, its ONNX file and its sidecar."""
    tagger = fitted(request.param)
    path = tmp_path_factory.mktemp("tagger") / "m.onnx"
    sidecar = export_onnx(tagger, path)
    return request.param, tagger, path, sidecar


def real_sentences(name: str) -> list:
    """Held-out sentences of several lengths, a one-token one, unseen tokens and raw text."""
    if name.startswith("cws"):
        X = tiny_cws(12, seed=7)[0]
        return X + [["是"], list("上海人喜欢北京的大公园"), "我们 很喜欢上海"]
    X = tiny_ner(12, seed=7)[0]
    return X + [
        ["Anna"],
        ["Zoe", "visited", "New", "Lisbon", "yesterday", "and", "Rome", "today"],
        "peter LEE left Paris",
    ]


def test_onnx_emissions_equal_pytorch_and_viterbi_equals_predict(exported):
    """A trace that froze the example's lengths, a backward direction started in the padding, a
    feature branch fed from the wrong input, or a decoder that ignores the CRF's tables or the
    scheme's constraints would each break one of these equalities."""
    name, tagger, path, sidecar = exported
    onnx.checker.check_model(str(path))
    X = real_sentences(name)
    feeds = graph_inputs(sidecar, X)
    assert list(feeds) == sidecar["input_names"]
    (emissions,) = run_onnx(path, feeds)
    net = tagger.network_.eval()
    with torch.no_grad():
        reference = net.emissions({k: torch.from_numpy(v) for k, v in feeds.items()}).numpy()
    lengths = feeds["lengths"]
    valid = np.arange(emissions.shape[1])[None, :] < lengths[:, None]  # (B, T)
    assert len(set(lengths.tolist())) > 3 and lengths.min() == 1
    np.testing.assert_allclose(emissions[valid], reference[valid], atol=1e-4)
    assert np.all(emissions[~valid] == 0.0)  # zero at padding, as documented
    assert decode(emissions, lengths, sidecar) == tagger.predict(X)
    if sidecar["allowed"] is not None:  # the scheme's rules change some of these tags: decoding must apply them
        assert decode(emissions, lengths, {**sidecar, "allowed": None}) != tagger.predict(X)
    for n in (0, len(X) - 2):  # one sentence alone: batch 1, its own length
        one = graph_inputs(sidecar, [X[n]])
        (single,) = run_onnx(path, one)
        np.testing.assert_allclose(single[0], emissions[n, : lengths[n]], atol=1e-4)
        assert decode(single, one["lengths"], sidecar) == tagger.predict([X[n]])


def test_padding_contents_do_not_matter(exported):
    """Whatever the padded steps hold (here: real token ids), the real steps' emissions stay put."""
    name, _, path, sidecar = exported
    feeds = graph_inputs(sidecar, real_sentences(name)[:6])
    (clean,) = run_onnx(path, feeds)
    dirty = {k: v.copy() for k, v in feeds.items()}
    pad = np.arange(feeds["ids"].shape[1])[None, :] >= feeds["lengths"][:, None]
    for key in ("ids", "bigrams"):
        if key in dirty:
            dirty[key][pad] = 2
    if "dictionary" in dirty:
        dirty["dictionary"][pad] = 1.0
    (got,) = run_onnx(path, dirty)
    np.testing.assert_allclose(got, clean, atol=1e-5)


def test_graph_inputs_equal_the_taggers_own_encoding(exported):
    """The sidecar-only encoding (vocabularies, bigrams, dictionary matches, characters, lowercase,
    raw-text tokenizer) must make exactly the batch ``predict`` makes from the model folder."""
    name, tagger, _, sidecar = exported
    X = real_sentences(name)
    feeds = graph_inputs(json.loads(json.dumps(sidecar)), X)  # what a reader of the JSON file sees
    tokens = [t for t, _ in tagger._tokens(X)]
    batch = tagger._collate([tagger._encode(t) for t in tokens])
    assert set(batch) == set(feeds)
    for key, value in batch.items():
        np.testing.assert_array_equal(feeds[key], value.numpy(), err_msg=key)


def test_sidecar_carries_the_decoder(exported):
    """The CRF's tables and the scheme's allowed moves travel with the graph (the softmax decoder's
    tables are zeros; an unconstrained model ships no constraints)."""
    name, tagger, _, sidecar = exported
    crf = tagger.network_.crf
    assert sidecar["tags"] == tagger.tags_ and sidecar["scheme"] == tagger.scheme_
    for key in ("transitions", "start_transitions", "end_transitions"):
        np.testing.assert_array_equal(np.asarray(sidecar[key], np.float32), getattr(crf, key).detach().numpy())
    assert sidecar["decoder"] == ("softmax" if "softmax" in name else "crf")
    if sidecar["decoder"] == "softmax":
        assert not np.any(sidecar["transitions"])
    if MODELS[name][1].get("constrained", True) is False:
        assert sidecar["allowed"] is None
    else:
        rules = allowed_transitions(tagger.tags_, tagger.model_scheme_)
        assert sidecar["allowed"]["transitions"] == rules.transitions.tolist()
        assert sidecar["allowed"]["start"] == rules.start.tolist() and sidecar["allowed"]["end"] == rules.end.tolist()


def _brute_force(e, trans, start, end, allowed=None):
    best, best_path = -np.inf, None
    for path in itertools.product(range(e.shape[1]), repeat=len(e)):
        if allowed is not None and not allowed.allows(list(path)):
            continue
        score = start[path[0]] + e[np.arange(len(e)), path].sum() + end[path[-1]]
        score += sum(trans[a, b] for a, b in zip(path[:-1], path[1:]))
        if score > best:
            best, best_path = score, list(path)
    return best_path


def test_numpy_viterbi_equals_brute_force_and_the_crf():
    """The copyable decoder against every path enumerated, and against lstmkit's CRF.decode, with
    and without constraints, including lengths with no allowed path (the -1e4 fallback)."""
    rng = np.random.default_rng(0)
    tags = ["O", "B-X", "I-X", "E-X", "S-X"]
    bioes = allowed_transitions(tags, "BIOES")
    # only tag 0 may start, only tag 1 may end, 0 -> 1 is forbidden: length 1 has no allowed path
    odd = TransitionConstraints(
        torch.tensor([True, False, False]), torch.tensor([[True, False, True]] * 3), torch.tensor([False, True, False])
    )
    for k, rules in [(3, None), (5, bioes), (3, odd)]:
        crf = CRF(k, batch_first=True, constraints=rules)
        with torch.no_grad():
            for p in (crf.transitions, crf.start_transitions, crf.end_transitions):
                p.normal_()
        tables = [p.detach().numpy() for p in (crf.transitions, crf.start_transitions, crf.end_transitions)]
        allowed = (
            None
            if rules is None
            else {"start": rules.start.tolist(), "transitions": rules.transitions.tolist(), "end": rules.end.tolist()}
        )
        for length in (1, 2, 3, 5):
            for _ in range(3):
                e = rng.normal(size=(length, k)).astype(np.float32)
                got = viterbi_decode(e, *tables, allowed=allowed)
                assert got == crf.decode(torch.from_numpy(e)[None])[0]
                if rules is None or any(rules.allows(list(p)) for p in itertools.product(range(k), repeat=length)):
                    assert got == _brute_force(e.astype(np.float64), *tables, rules)


def test_bioes_model_decodes_back_to_bio():
    """A BIO data set learnt in BIOES: decode() must map E-/S- back, as predict does."""
    tags = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    sidecar = {
        "tags": tags,
        "scheme": "BIO",
        "model_scheme": "BIOES",
        "transitions": np.zeros((5, 5)).tolist(),
        "start_transitions": [0.0] * 5,
        "end_transitions": [0.0] * 5,
        "allowed": None,
    }
    path = [1, 2, 3, 0, 4]
    emissions = np.full((1, 6, 5), -5.0, np.float32)
    emissions[0, np.arange(5), path] = 5.0
    assert decode(emissions, np.array([5]), sidecar) == [["B-PER", "I-PER", "I-PER", "O", "B-PER"]]
    assert bio_to_bioes(decode(emissions, np.array([5]), sidecar)[0]) == [tags[i] for i in path]


def test_graph_inputs_refuse_a_sentence_without_tokens(exported):
    """A blank text would become a zero-length row that the graph cannot take: a DataError names it."""
    _, _, _, sidecar = exported
    with pytest.raises(DataError, match="sentence 2: no tokens"):
        graph_inputs(sidecar, [["a"], "   "])


runner = CliRunner()


def test_export_cli_for_a_tagger_and_int8(tmp_path):
    """`lstmkit export` on a tagger's model folder writes the graph and a sidecar that decodes; --int8
    quantises the LSTM and linear weights and still gives (nearly) the same tags."""
    name = "ner-crf-bigrams-charcnn"
    tagger = fitted(name)
    tagger.save(tmp_path / "model")
    for flags, out in (([], "m.onnx"), (["--int8"], "q.onnx")):
        result = runner.invoke(
            app, ["export", str(tmp_path / "model"), "--format", "onnx", "--out", str(tmp_path / out), *flags]
        )
        assert result.exit_code == 0, result.output
        assert "tagger model exported to" in result.output and "outputs: emissions" in result.output
        assert "inputs: ids, lengths, bigrams, chars, char_lengths" in result.output
    sidecar = json.loads(sidecar_path(tmp_path / "q.onnx").read_text(encoding="utf-8"))
    assert sidecar["int8"] is True
    ops = {node.op_type for node in onnx.load(str(tmp_path / "q.onnx")).graph.node}
    assert ops & {"DynamicQuantizeLSTM", "MatMulInteger", "DynamicQuantizeLinear"}
    X = real_sentences(name)
    feeds = graph_inputs(sidecar, X)
    (emissions,) = run_onnx(tmp_path / "q.onnx", feeds)
    got, want = decode(emissions, feeds["lengths"], sidecar), tagger.predict(X)
    agree = np.mean([a == b for g, w in zip(got, want) for a, b in zip(g, w)])
    assert agree > 0.9
