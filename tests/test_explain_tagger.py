"""Explaining a tagger (lstmkit.tasks.tagger.explain, `lstmkit explain` on a tagger model): gates that
rebuild the trained LSTM's states, entity scores equal to CRF marginals found by enumerating every
tag sequence (softmax probabilities for the softmax decoder), integrated gradients that add up,
--target by name, text or index, and the CLI's JSON and PNG."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import task_cases  # noqa: F401  (first: it imports every task_case_*.py)
import torch
from cell_reference import states_from_gates
from task_case_tagger import tiny_ner
from test_tasks_tagger import chinese_ner
from typer.testing import CliRunner

from lstmkit import Tagger
from lstmkit.cli import app
from lstmkit.explain import ExplainError, explain
from lstmkit.tasks.tagger.explain import (
    attribution_spec,
    step_inputs,
    tag_probabilities,
)
from lstmkit.tasks.tagger.text import tokenize_with_offsets

TINY = dict(embedding_dim=8, hidden_size=8, batch_size=16, epochs=4, lr=0.03, patience=0, bigram_dim=0, dictionary=None,
            scheduler="none")  # cheap settings, not the defaults
TEXT = "李四在上海开会"
runner = CliRunner()


@pytest.fixture(scope="module")
def crf_model(tmp_path_factory):
    """A character-level BiLSTM-CRF that finds PER and LOC in "<person>在<place><verb>"."""
    torch.manual_seed(0)
    tagger = Tagger(**TINY).fit(*chinese_ner(120, seed=0))
    folder = tmp_path_factory.mktemp("explain_tagger") / "model"
    tagger.save(folder)
    return tagger, folder


@pytest.fixture(scope="module")
def softmax_model():
    """A word-level BiLSTM-softmax on "PERSON VERB PLACE [today]"."""
    torch.manual_seed(0)
    return Tagger(**{**TINY, "decoder": "softmax", "epochs": 6}).fit(*tiny_ner(80, seed=0))


def _batch(tagger, tokens):
    return tagger._collate([tagger._encode(tokens)])


def test_gates_rebuild_the_taggers_own_states(crf_model):
    """The gates must be the trained network's: from them the LSTM equations rebuild the cell state
    and the states the tagger's own forward pass computes (fused engine). Gates of other weights,
    another layer, or with input and forget gate swapped, fail this."""
    tagger, _ = crf_model
    (record,) = tagger.run_with_states([TEXT])
    assert record["tokens"] == list(TEXT)
    net = tagger.network_
    seen = {}
    hook = net.rnn.register_forward_hook(lambda module, args, out: seen.update(states=out[0]))
    with torch.no_grad():
        net.emissions(_batch(tagger, list(TEXT)))  # the path predict takes
    hook.remove()
    np.testing.assert_allclose(states_from_gates(record["gates"]), seen["states"][0].numpy(), atol=1e-5)
    np.testing.assert_allclose(record["outputs"], seen["states"][0].numpy(), atol=1e-5)


def _brute_force_marginals(net, emissions: torch.Tensor) -> torch.Tensor:
    """(T, K): p(y_t = k) by summing the CRF's probability of every one of the K**T tag sequences."""
    steps, k = emissions.shape
    paths = torch.tensor(list(itertools.product(range(k), repeat=steps)))  # (K**T, T)
    scores = net.crf.score(emissions.expand(len(paths), -1, -1), paths)  # (K**T,)
    p = torch.softmax(scores.double(), dim=0)
    return torch.stack([torch.zeros(k, dtype=torch.float64).index_add(0, paths[:, t], p) for t in range(steps)])


def test_entity_score_is_the_mean_crf_marginal_of_its_tags(crf_model):
    """An entity's output is the mean over its tokens of the CRF marginal probability of its decoded
    tag, here checked against enumerating all 5**5 tag sequences; its names and spans are predict's."""
    tagger, _ = crf_model
    text = "李四在上海"
    spec = attribution_spec(tagger, text)
    (record,) = tagger.predict_records([text])
    assert spec.output_names == [f"{e['type']} {e['text']} [{e['start']}:{e['end']}]" for e in record["entities"]]
    assert spec.output_names == ["PER 李四 [0:2]", "LOC 上海 [3:5]"]
    net = tagger.network_
    with torch.no_grad():
        marginals = _brute_force_marginals(net, net.emissions(_batch(tagger, list(text)))[0])
        scores = spec.forward(spec.inputs)[0]
    index = {tag: i for i, tag in enumerate(tagger.tags_)}
    for score, entity in zip(scores, record["entities"]):
        span = range(entity["start"], entity["end"])
        expected = np.mean([float(marginals[t, index[record["tags"][t]]]) for t in span])
        assert float(score) == pytest.approx(expected, abs=1e-5)


def test_softmax_decoder_scores_are_softmax_probabilities_with_character_offsets(softmax_model):
    """With the softmax decoder a token's tag probability is its softmax; a word-level model's
    entities are named by character offsets into the text, as predict gives them."""
    tagger = softmax_model
    text = "Peter saw  Tokyo today"
    spec = attribution_spec(tagger, text)
    (record,) = tagger.predict_records([text])
    assert record["entities"], "the tiny softmax model should find entities"
    assert spec.output_names == [f"{e['type']} {e['text']} [{e['start']}:{e['end']}]" for e in record["entities"]]
    net = tagger.network_
    with torch.no_grad():
        log_p = net.emissions(_batch(tagger, text.split()))[0]  # log-softmax for this decoder
        np.testing.assert_allclose(tag_probabilities(net, spec.inputs)[0].log().numpy(), log_p.numpy(), atol=1e-5)
        scores = spec.forward(spec.inputs)[0]
    index = {tag: i for i, tag in enumerate(tagger.tags_)}
    _, offsets = tokenize_with_offsets(text, "whitespace")
    starts, ends = [s for s, _ in offsets], [e for _, e in offsets]
    for score, entity in zip(scores, record["entities"]):
        span = range(starts.index(entity["start"]), ends.index(entity["end"]) + 1)
        expected = np.mean([float(log_p[t, index[record["tags"][t]]].exp()) for t in span])
        assert float(score) == pytest.approx(expected, abs=1e-5)


def test_step_inputs_are_what_the_network_reads(crf_model):
    """Integrated gradients differentiates tag_probabilities(step_inputs): at the real input that
    must give the decoder's own emissions, or the attributions explain another function."""
    tagger, _ = crf_model
    net = tagger.network_
    batch = _batch(tagger, list(TEXT))
    seen = {}
    hook = net.rnn.register_forward_pre_hook(lambda module, args: seen.update(x=args[0]))
    with torch.no_grad():
        emissions = net.emissions(batch)
        hook.remove()
        torch.testing.assert_close(step_inputs(net, batch), seen["x"])
        torch.testing.assert_close(tag_probabilities(net, step_inputs(net, batch)), net.crf.marginals(emissions))


def test_attributions_are_complete_for_every_entity(crf_model):
    """Sum of attributions = F(x) - F(0) for each entity; a baseline or forward that is not the one
    reported breaks it."""
    tagger, _ = crf_model
    spec = attribution_spec(tagger, TEXT)
    with torch.no_grad():
        f_x, f_0 = spec.forward(spec.inputs)[0], spec.forward(torch.zeros_like(spec.inputs))[0]
    assert torch.equal(spec.baseline, torch.zeros_like(spec.inputs))
    for k, name in enumerate(spec.output_names):
        record = explain(tagger, TEXT, target=name)
        assert record["target"] == name
        assert sum(record["attributions"]) == pytest.approx(float(f_x[k] - f_0[k]), abs=2e-3)
        assert abs(record["completeness"]["delta"]) < 2e-3
        assert record["completeness"]["output"] == pytest.approx(float(f_x[k]), abs=1e-6)


def test_target_by_name_text_or_index_and_a_clear_error(crf_model):
    """The first entity by default; --target by full name, by the entity's text, TYPE text, or index
    all pick the same entity; a wrong one names the entities found."""
    tagger, _ = crf_model
    default = explain(tagger, TEXT)
    assert default["label"] == default["target"] == "PER 李四 [0:2]"
    assert default["outputs"] == ["PER 李四 [0:2]", "LOC 上海 [3:5]"]
    assert 0 < default["probability"] < 1
    picked = [explain(tagger, TEXT, target=t) for t in ("LOC 上海 [3:5]", "上海", "LOC 上海", "1", 1)]
    assert {r["target"] for r in picked} == {"LOC 上海 [3:5]"}
    np.testing.assert_allclose(picked[0]["attributions"], picked[1]["attributions"])
    assert not np.allclose(picked[0]["attributions"], default["attributions"])
    with pytest.raises(ExplainError, match=r"--target 北京: not an output of this model; the entities found in "
                                           r"this text: PER 李四 \[0:2\], LOC 上海 \[3:5\]"):
        explain(tagger, TEXT, target="北京")


def test_a_text_without_entities_explains_each_tokens_tag(crf_model):
    """No entity found: one output per token (its predicted tag, O), the least sure token by default."""
    tagger, _ = crf_model
    text = "在开会"
    assert tagger.predict_records([text])[0]["entities"] == []
    spec = attribution_spec(tagger, text)
    assert spec.output_names == ["O 在 [0:1]", "O 开 [1:2]", "O 会 [2:3]"]
    record = explain(tagger, text)
    with torch.no_grad():
        scores = spec.forward(spec.inputs)[0]
    assert record["target"] == spec.output_names[int(scores.argmin())]
    with pytest.raises(ExplainError, match="its tokens' tags: O 在"):
        explain(tagger, text, target="张三")


def test_token_input_is_named_by_token_offsets(crf_model):
    """A token list (a CoNLL sentence) names its entities by token offsets, as predict does."""
    tagger, _ = crf_model
    spec = attribution_spec(tagger, list("王小明在广州市讲话"))
    assert spec.output_names == ["PER 王小明 [0:3]", "LOC 广州市 [4:7]"]


def test_cli_json_and_png(crf_model, tmp_path):
    """`explain --json` prints one JSON object with the contract's keys; --out writes a PNG;
    --input reads a .txt file (its first line); a wrong --target exits 2 with one line."""
    _, folder = crf_model
    result = runner.invoke(app, ["explain", str(folder), "--text", TEXT, "--json", "--out", str(tmp_path / "t.png")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert {"tokens", "gates", "cell", "attributions", "baseline", "target"} <= set(record)
    assert record["tokens"] == list(TEXT) and set(record["gates"]) == {"input", "forget", "output"}
    for rows in [*record["gates"].values(), record["cell"]]:
        assert len(rows) == len(TEXT) and all(len(row) == 16 for row in rows)
    assert all(0 < v < 1 for rows in record["gates"].values() for row in rows for v in row)
    assert len(record["attributions"]) == len(TEXT) and record["baseline"].startswith("zero")
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "in.txt").write_text("张三在北京工作\n李四在上海开会\n", encoding="utf-8")
    result = runner.invoke(app, ["explain", str(folder), "--input", str(tmp_path / "in.txt"), "--json",
                                 "--target", "北京"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["target"] == "LOC 北京 [3:5]"
    result = runner.invoke(app, ["explain", str(folder), "--text", TEXT, "--json", "--target", "广州"])
    assert result.exit_code == 2
    assert "--target 广州: not an output of this model; the entities found in this text: PER 李四 [0:2]" \
        in result.output and "Traceback" not in result.output
