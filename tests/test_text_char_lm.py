"""A text classifier reading a pretrained character language model (``model.char_lm``): each test names the bug."""

from __future__ import annotations

import pytest
import torch

from lstmkit import load
from lstmkit.data.formats.conll import read_conll
from lstmkit.errors import ConfigError
from lstmkit.tasks.charlm import CharLanguageModel
from lstmkit.tasks.charlm.streams import NEWLINE, char_vocab
from lstmkit.tasks.text import TextClassifier

CHEAP = dict(embedding_dim=8, hidden_size=8, ngram_buckets=0, lexicon_ngrams=0, embedding_init="random",
             unlabeled_text=None, tokenizer="char", epochs=2, batch_size=16, lr=0.02, scheduler="none", num_threads=1)


def labelled_texts() -> tuple[list[str], list[str]]:
    """The example tagger sentences as text, labelled by whether they name an organisation."""
    X, y = read_conll("docs/examples/tagger/train.conll")
    return ["".join(s) for s in X], ["org" if "B-ORG" in tags else "none" for tags in y]


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    """An untrained (random) language model over the texts' characters, as a model folder."""
    texts, _ = labelled_texts()
    torch.manual_seed(0)
    lm = CharLanguageModel(embedding_dim=8, hidden_size=6)
    lm.config_ = lm.resolved_config()
    lm.vocab_ = char_vocab(texts, 1, None)
    lm.network_ = lm._build_network().eval()
    lm.corpus_ = [{"path": "texts.txt", "sha256": "0" * 64, "lines": len(texts)}]
    return lm.save(tmp_path_factory.mktemp("lm") / "lm")


@pytest.fixture(scope="module")
def classifiers(lm_dir):
    texts, labels = labelled_texts()
    return {finetune: TextClassifier(char_lm=str(lm_dir), char_lm_finetune=finetune, **CHEAP).fit(texts, labels)
            for finetune in (False, True)}


def test_each_character_reads_the_state_after_it_forwards_and_before_it_backwards(classifiers):
    """The features made from token ids must be the LM's states after char t (forward) and after
    reading back to char t (backward), also for a shorter text padded in a batch (no off-by-one)."""
    clf = classifiers[False]
    net = clf.network_.eval()
    lm, e = net.char_lm, clf.config_.model.embedding_dim
    texts = ["新华社记者陈静在南京报道", "李娜在南京"]
    ids = [clf.vocab_.encode(list(t)) for t in texts]
    lengths = torch.tensor([len(i) for i in ids])
    padded = torch.zeros(2, int(lengths.max()), dtype=torch.long)
    for b, row in enumerate(ids):
        padded[b, : len(row)] = torch.tensor(row)
    with torch.no_grad():
        features = net.rnn_inputs(padded, lengths)[..., e: e + 2 * lm.hidden_size]  # (B, T, 2H')
    vocab = clf.char_lm_.vocab
    for b, text in enumerate(texts):
        n = len(text)
        with torch.no_grad():
            forward = lm.text_states("forward", torch.tensor([vocab.encode(NEWLINE + text)]), torch.tensor([n + 1]))[0]
            backward = lm.text_states("backward", torch.tensor([vocab.encode(NEWLINE + text[::-1])]),
                                      torch.tensor([n + 1]))[0]
        for t in range(n):
            torch.testing.assert_close(features[b, t, : lm.hidden_size], forward[t + 1])
            torch.testing.assert_close(features[b, t, lm.hidden_size:], backward[n - t])


def test_frozen_keeps_the_language_model_and_finetune_trains_it(classifiers, lm_dir):
    """Frozen must mean frozen; finetune must really update the language model."""
    pretrained = load(lm_dir).network_.state_dict()

    def lm_weights(clf):
        return {k.removeprefix("char_lm."): v for k, v in clf.network_.state_dict().items() if k.startswith("char_lm.")}

    frozen, tuned = lm_weights(classifiers[False]), lm_weights(classifiers[True])
    assert all(torch.equal(frozen[k], pretrained[k]) for k in pretrained)
    assert any(not torch.equal(tuned[k], pretrained[k]) for k in pretrained)


def test_the_model_folder_holds_the_language_model(classifiers, tmp_path):
    """Loading must rebuild the same network (LM, its character table) and predict the same; explain runs."""
    texts = ["新华社记者陈静在南京报道", "刘洋在杭州市访问"]
    for finetune, clf in classifiers.items():
        clf.save(tmp_path / str(finetune))
        same = load(tmp_path / str(finetune))
        assert same.predict_records(texts) == clf.predict_records(texts)
    assert len(classifiers[False].run_with_states(texts[:1])[0]["tokens"]) == len(texts[0])


@pytest.mark.parametrize("ensemble", [1, 2])
def test_onnx_export_reads_the_language_model_as_pytorch_does(lm_dir, classifiers, tmp_path, ensemble):
    """The graph must compute the language model's states from the token ids alone, on batches of
    other sizes and lengths than traced, padded: states read at the wrong position, a direction
    left out, the LM's character table skipped, or the padding read would change the probabilities.
    With an ensemble each member reads its own fine-tuned language model."""
    import numpy as np

    from lstmkit.export.onnx import export_onnx, run_onnx

    texts, labels = labelled_texts()
    clf = classifiers[False] if ensemble == 1 else TextClassifier(
        char_lm=str(lm_dir), char_lm_finetune=True, ensemble=2, **CHEAP).fit(texts, labels)  # members' LMs differ
    sidecar = export_onnx(clf, tmp_path / "clf.onnx")
    assert sidecar["input_names"] == ["ids", "lengths"]
    X = ["新华社记者陈静在南京报道", "李", "刘洋在杭州市访问上海浦东开发区的外资企业已经超过一万家", "南京"]
    ids = [clf.vocab_.encode(list(t)) for t in X]
    lengths = np.array([len(row) for row in ids], dtype=np.int64)
    padded = np.zeros((len(X), lengths.max()), dtype=np.int64)
    for b, row in enumerate(ids):
        padded[b, : len(row)] = row
    (probabilities,) = run_onnx(tmp_path / "clf.onnx", {"ids": padded, "lengths": lengths})
    np.testing.assert_allclose(probabilities, clf.predict_proba(X), atol=1e-5)


def test_word_tokens_are_refused(lm_dir):
    """The LM reads characters: word tokens would give it something else; say so, naming the key."""
    with pytest.raises(ConfigError, match="model.char_lm: .* tokenised by word"):
        TextClassifier(char_lm=str(lm_dir), **{**CHEAP, "tokenizer": "word"}).fit(["a good room", "bad food"] * 10,
                                                                                   ["pos", "neg"] * 10)
