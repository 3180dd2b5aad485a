"""A tagger reading a pretrained character language model (``model.char_lm``): each test names the bug it catches."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
import torch

from lstmkit import load
from lstmkit.data.formats.conll import read_conll
from lstmkit.errors import ConfigError
from lstmkit.tasks.charlm import CharLanguageModel
from lstmkit.tasks.charlm.features import lm_inputs
from lstmkit.tasks.charlm.streams import NEWLINE, char_vocab
from lstmkit.tasks.tagger import Tagger

TRAIN = "docs/examples/tagger/train.conll"
TAGGER = dict(hidden_size=12, embedding_dim=12, bigram_dim=0, dictionary=None, epochs=2, lr=0.01, scheduler="none",
              patience=0, batch_size=16, num_threads=1)


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    """An untrained (random) language model over the training text's characters, as a model folder."""
    X, _ = read_conll(TRAIN)
    texts = ["".join(s) for s in X]
    torch.manual_seed(0)
    lm = CharLanguageModel(embedding_dim=8, hidden_size=6)
    lm.config_ = lm.resolved_config()
    lm.vocab_ = char_vocab(texts, 1, None)
    lm.network_ = lm._build_network().eval()
    lm.corpus_ = [{"path": "train.txt", "sha256": "0" * 64, "lines": len(texts)}]
    return lm.save(tmp_path_factory.mktemp("lm") / "lm")


@pytest.fixture(scope="module")
def taggers(lm_dir):
    X, y = read_conll(TRAIN)
    return {finetune: Tagger(char_lm=str(lm_dir), char_lm_finetune=finetune, **TAGGER).fit(X, y)
            for finetune in (False, True)}


def test_each_token_reads_the_state_after_it_forwards_and_before_it_backwards():
    """An off-by-one would give a token its neighbour's state (Flair's positions, without whitespace)."""
    vocab = char_vocab(["ab cde"], 1, None)
    item = lm_inputs(["ab", "cde"], " ", vocab)
    forward, backward = vocab.decode(item["lm_forward"]), vocab.decode(item["lm_backward"])
    assert "".join(forward) == "\nab cde" and "".join(backward) == "\nedc ba"
    # the forward state at a token has just read its last character; the backward one its first
    assert [forward[p] for p in item["lm_forward_at"]] == ["b", "e"]
    assert [backward[p] for p in item["lm_backward_at"]] == ["a", "c"]
    chars = lm_inputs(list("新华社"), "", char_vocab(["新华社"], 1, None))
    assert chars["lm_forward_at"] == [1, 2, 3] and chars["lm_backward_at"] == [3, 2, 1]


def test_the_tagger_features_are_the_language_models_states(taggers):
    """The features must be the LM's states at those positions, also for a shorter sentence padded in a batch."""
    tagger = taggers[False]
    net = tagger.network_.eval()
    lm = net.char_lm
    sentences = [list("新华社记者陈静"), list("在南京")]
    batch = tagger._collate([tagger._encode(s) for s in sentences])
    with torch.no_grad():
        features = net.step_inputs(batch)[..., -2 * lm.hidden_size:]  # (B, T, 2H), the last features
    assert features.shape == (2, 7, 2 * lm.hidden_size)
    vocab = tagger.char_lm_.vocab
    for b, chars in enumerate(sentences):
        n = len(chars)
        with torch.no_grad():
            ids = torch.tensor([vocab.encode(NEWLINE + "".join(chars))])
            forward = lm.text_states("forward", ids, torch.tensor([n + 1]))[0]  # (n + 1, H)
            ids = torch.tensor([vocab.encode(NEWLINE + "".join(chars)[::-1])])
            backward = lm.text_states("backward", ids, torch.tensor([n + 1]))[0]
        for t in range(n):
            torch.testing.assert_close(features[b, t, : lm.hidden_size], forward[t + 1])  # after char t
            torch.testing.assert_close(features[b, t, lm.hidden_size:], backward[n - t])  # has read chars n-1 .. t


def test_frozen_keeps_the_language_model_and_finetune_trains_it(taggers, lm_dir):
    """Frozen must mean frozen (no update, no dropout); finetune must really update the LM."""
    pretrained = load(lm_dir).network_.state_dict()

    def lm_weights(tagger):
        return {k.removeprefix("char_lm."): v for k, v in tagger.network_.state_dict().items()
                if k.startswith("char_lm.")}

    frozen, tuned = lm_weights(taggers[False]), lm_weights(taggers[True])
    assert frozen.keys() == pretrained.keys()
    assert all(torch.equal(frozen[k], pretrained[k]) for k in pretrained)
    assert any(not torch.equal(tuned[k], pretrained[k]) for k in pretrained)
    net = taggers[False].network_
    net.train()
    assert not net.char_lm.training and net.rnn.training
    net.eval()


@pytest.mark.parametrize("ensemble", [1, 2])
def test_a_frozen_language_model_runs_once_per_sentence_and_its_stored_states_are_its_states(lm_dir, monkeypatch,
                                                                                             ensemble):
    """Frozen, the LM's states are computed once per fit and read back every epoch: the stored
    states must be the LM's own at each token (a row stored under another's index, a batch in
    another order, or an off-by-one would give a sentence another's features), and the LM must
    not run again per epoch or per ensemble member (the point of storing them). Fine-tuned, the LM
    must run on every batch (stored states would freeze it)."""
    import numpy as np

    from lstmkit.tasks.charlm.features import collate_lm
    from lstmkit.tasks.charlm.network import CharLMNet
    from lstmkit.tasks.tagger.data import Batches

    seen, sentences_run = [], []
    real_call, real_states = Batches.__call__, CharLMNet.boundary_states

    def recording(self, indices):
        batch = real_call(self, indices)
        raw = [np.asarray(self.rows[i], dtype=np.int64) for i in indices]
        seen.append((batch, collate_lm([self.lm(r) for r in raw])))
        return batch

    def counting(self, batch):
        sentences_run.append(len(batch["lm_lengths"]))
        return real_states(self, batch)

    monkeypatch.setattr(Batches, "__call__", recording)
    monkeypatch.setattr(CharLMNet, "boundary_states", counting)
    X, y = read_conll(TRAIN)
    tagger = Tagger(char_lm=str(lm_dir), **{**TAGGER, "epochs": 3, "ensemble": ensemble}).fit(X, y)
    assert sum(sentences_run) == len(X)  # training + validation sentences, once
    assert seen and all("lm_states" in batch and "lm_forward" not in batch for batch, _ in seen)
    lm = (tagger.network_.members[0] if ensemble > 1 else tagger.network_).char_lm
    with torch.no_grad():
        for batch, inputs in seen:
            reference = real_states(lm, inputs)  # (B, T, 2H')
            inside = torch.arange(batch["ids"].size(1))[None, :] < batch["lengths"][:, None]
            torch.testing.assert_close(batch["lm_states"][inside], reference[inside], atol=2e-3, rtol=0)
            assert not batch["lm_states"][~inside].any()

    seen.clear()
    Tagger(char_lm=str(lm_dir), char_lm_finetune=True, **TAGGER).fit(X, y)
    assert seen and all("lm_states" not in batch and "lm_forward" in batch for batch, _ in seen)


def test_the_model_folder_holds_the_language_model(taggers, lm_dir, tmp_path):
    """A folder that only named the LM's path would break when that folder moves or changes."""
    texts = ["新华社记者陈静在南京报道", "刘洋在杭州市访问"]
    for finetune, tagger in taggers.items():
        tagger.save(tmp_path / f"tagger-{finetune}")
    moved = tmp_path / "moved-lm"
    shutil.move(str(lm_dir), moved)
    try:
        for finetune, tagger in taggers.items():
            same = load(tmp_path / f"tagger-{finetune}")
            assert same.predict_records(texts) == tagger.predict_records(texts)
            extra = json.loads((tmp_path / f"tagger-{finetune}" / "char_lm.json").read_text(encoding="utf-8"))
            assert extra["corpus"][0]["path"] == "train.txt"
    finally:
        shutil.move(str(moved), lm_dir)


def test_explain_and_onnx_export_with_a_language_model(taggers, tmp_path):
    """explain must feed the recurrent layers what predict feeds them; the ONNX graph must read the
    language models as PyTorch does (an input left out, or states gathered at other positions or
    from the padding, changes the emissions), on batches of other sizes and lengths than traced."""
    import numpy as np

    from lstmkit.export.onnx import export_onnx, run_onnx
    from lstmkit.export.viterbi import decode
    from lstmkit.tasks.tagger.export import graph_inputs

    tagger = taggers[True]
    (record,) = tagger.run_with_states(["新华社记者"])
    assert len(record["tokens"]) == 5
    sidecar = export_onnx(tagger, tmp_path / "tagger.onnx")
    assert {"lm_forward", "lm_backward", "lm_forward_at", "lm_backward_at"} <= set(sidecar["input_names"])
    X = ["新华社记者陈静在南京报道", "刘洋在杭州市访问", ["李"], list("上海浦东开发区的外资企业已经超过一万家")]
    feeds = graph_inputs(sidecar, X)
    (emissions,) = run_onnx(tmp_path / "tagger.onnx", feeds)
    with torch.no_grad():
        reference = tagger.network_.eval().emissions({k: torch.from_numpy(v) for k, v in feeds.items()}).numpy()
    valid = np.arange(emissions.shape[1])[None, :] < feeds["lengths"][:, None]
    np.testing.assert_allclose(emissions[valid], reference[valid], atol=1e-4)
    assert decode(emissions, feeds["lengths"], sidecar) == tagger.predict(X)


def test_char_lm_names_a_folder_or_a_bundled_model(tmp_path):
    """A typo must be a ConfigError naming the key; a bundled model that is not installed says how to make it."""
    X, y = read_conll(TRAIN)
    with pytest.raises(ConfigError, match="model.char_lm=.*no such folder"):
        Tagger(char_lm=str(tmp_path / "missing"), **TAGGER).fit(X, y)
    from lstmkit.tasks.charlm.bundled import PRETRAINED

    if not (PRETRAINED / "peoples-daily" / "config.json").is_file():
        with pytest.raises(ConfigError, match="lstmkit pretrain --text peoples-daily"):
            Tagger(char_lm="peoples-daily", **TAGGER).fit(X, y)


def test_the_bundled_corpus_holds_no_test_sentence():
    """A language model that read the test sentences would inflate the test scores of pd-ner and pd-cws."""
    from lstmkit.data.datasets import load_dataset
    from lstmkit.tasks.charlm.bundled import PRETRAINED, corpus_texts

    corpus = corpus_texts("peoples-daily")
    lines = set(corpus)
    for name in ("pd-ner", "pd-cws"):
        splits = load_dataset(name)
        assert not lines & {"".join(tokens) for tokens in splits["test"][0]}, name
        train = {"".join(tokens) for tokens in splits["train"][0]}
        assert len(train - lines) < 50, name  # all training text but the bylines a test sentence repeats
    folder = PRETRAINED / "peoples-daily"
    if (folder / "config.json").is_file():  # the bundled model names exactly this corpus
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        assert config["corpus"] == corpus.files
        assert corpus.files[0]["sha256"] == hashlib.sha256("\n".join(corpus).encode("utf-8")).hexdigest()
