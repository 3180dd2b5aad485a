"""The character language models (``char-lm``, ``lstmkit pretrain``): each test names the bug it catches."""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections import Counter

import pytest
import torch
from typer.testing import CliRunner

from lstmkit import load
from lstmkit.cli import app
from lstmkit.errors import ConfigError
from lstmkit.io import FORMAT_VERSION
from lstmkit.tasks.charlm import CharLanguageModel, CharLMNet
from lstmkit.tasks.charlm.config import CharLMModelConfig
from lstmkit.tasks.charlm.streams import NEWLINE, StreamWindows, char_vocab, stream_ids

WORDS = ["abcd", "efgh", "ijkl", "mnop"]
TINY = dict(embedding_dim=16, hidden_size=32, sequence_length=24, batch_size=4, lr=0.02, scheduler="none",
            patience=0, dropout=0.0, num_threads=1)


def word_lines(n: int, seed: int) -> list[str]:
    """Lines of 1-3 words of four letters each, every letter in one word only: after a word's first
    letter the rest is certain in reading order, and so (read backwards) is everything before its last."""
    g = torch.Generator().manual_seed(seed)
    return [" ".join(WORDS[int(i)] for i in torch.randint(0, 4, (int(k),), generator=g))
            for k in torch.randint(1, 4, (n,), generator=g)]


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    lm = CharLanguageModel(epochs=6, **TINY).fit(word_lines(240, seed=0))
    return lm


def next_char(lm: CharLanguageModel, direction: str, context: str) -> str:
    """The most likely character after ``"\\n" + context`` in ``direction``'s reading order."""
    net = lm.network_.eval()
    ids = torch.tensor([lm.vocab_.encode(NEWLINE + context)])
    with torch.no_grad():
        logits = net.direction(direction).logits(net.text_states(direction, ids, torch.tensor([ids.size(1)])))
    return lm.vocab_.decode([int(logits[0, -1].argmax())])[0]


def test_held_out_perplexity_beats_a_unigram_model(trained):
    """A model that learned nothing (a broken loss, targets not shifted) is no better than character counts."""
    train_chars = Counter(NEWLINE + NEWLINE.join(word_lines(240, seed=0)) + NEWLINE)
    held = word_lines(40, seed=1)
    total = sum(train_chars.values())
    chars = [c for text in held for c in text + NEWLINE]
    unigram = math.exp(-sum(math.log(train_chars[c] / total) for c in chars) / len(chars))
    result = trained.evaluate(held)
    assert result["n_chars"] == len(chars)
    assert result["perplexity"] < unigram / 2, (result, unigram)
    assert result["forward_perplexity"] < unigram / 2 and result["backward_perplexity"] < unigram / 2


def test_forward_predicts_the_next_and_backward_the_previous_character(trained):
    """A backward model trained on the forward stream (or given it unreversed) would not know what
    comes before a word's last letters."""
    assert [next_char(trained, "forward", c) for c in ("ab", "ef", "mno")] == ["c", "g", "p"]
    assert [next_char(trained, "backward", c) for c in ("dc", "hg", "pon")] == ["b", "f", "m"]
    # and each only in its own direction: reading "dc" forwards was never seen, so it is no "b" by rote
    assert next_char(trained, "forward", "ab") != next_char(trained, "backward", "ab")


def test_the_backward_stream_is_the_forward_stream_reversed():
    """Off-by-one or unreversed windows would feed the backward model the wrong text."""
    vocab = char_vocab(["abc", "de"], 1, None)
    ids = stream_ids(["abc", "de"], vocab)
    assert "".join(vocab.decode(ids.tolist())) == "\nabc\nde\n"
    windows = StreamWindows(ids, rows=1, length=3)
    text = lambda t: "".join(vocab.decode(t.flatten().tolist()))  # noqa: E731
    first, second = windows[0], windows[1]
    assert (text(first["forward"]), text(first["forward_next"])) == ("\nab", "abc")
    assert (text(first["backward"]), text(first["backward_next"])) == ("\ned", "ed\n")
    assert (text(second["forward"]), text(second["forward_next"])) == ("c\nd", "\nde")
    assert first["first"] and not second["first"] and len(windows) == 3


def test_truncated_back_propagation_carries_the_state_across_windows():
    """Zeroing (or not resetting) the carried state changes every window after the first; a state not
    detached makes the second window's backward pass fail."""
    torch.manual_seed(0)
    cfg = CharLMModelConfig(embedding_dim=6, hidden_size=5, dropout=0.0)
    net = CharLMNet(12, cfg)
    ids = torch.randint(3, 12, (203,))
    windows = StreamWindows(ids, rows=4, length=7)
    net.eval()
    for name in ("forward", "backward"):
        rows = windows.streams[name]  # (4, 50)
        with torch.no_grad():
            states, _ = net.direction(name)(rows[:, :-1])
            logits = net.direction(name).logits(states)  # the whole rows in one pass
        for repeat in range(2):  # a second pass must start afresh, as the first
            for k in range(len(windows)):
                window = windows[k]
                start, stop = k * 7, k * 7 + window[name].size(1)
                expected = torch.nn.functional.cross_entropy(logits[:, start:stop].reshape(-1, 12),
                                                             rows[:, start + 1: stop + 1].reshape(-1))
                with torch.no_grad():
                    got = net.window_loss(name, window)
                torch.testing.assert_close(got, expected, msg=f"{name} window {k}, pass {repeat + 1}")
    net.train()
    for k in range(3):
        net.training_loss(windows[k]).backward()  # raises if the carried state kept its graph


def test_model_folder_round_trip_names_the_corpus(tmp_path, trained):
    """A vocabulary or weight left out of the folder changes perplexities after loading."""
    texts = word_lines(5, seed=3)
    trained.save(tmp_path / "lm")
    same = load(tmp_path / "lm")
    assert isinstance(same, CharLanguageModel)
    assert same.predict_records(texts) == trained.predict_records(texts)
    assert (same.predict(texts) == trained.predict(texts)).all()
    assert same.corpus_[0]["lines"] == 216 and len(same.corpus_[0]["sha256"]) == 64  # 240 less the held-out 10%


def test_pretrain_command_writes_perplexity_per_epoch_and_corpus_digest(tmp_path):
    """The CLI must log perplexity each epoch and record which files (by content) the model read."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(word_lines(120, seed=4)) + "\n", encoding="utf-8")
    args = ["pretrain", "--text", str(corpus), "--out", str(tmp_path / "run"), "--epochs", "2"]
    for key, value in TINY.items():
        section = {"sequence_length": "data", "embedding_dim": "model", "hidden_size": "model",
                   "dropout": "model"}.get(key, "train")
        args += ["--set", f"{section}.{key}={value}"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with open(tmp_path / "run" / "logs" / "metrics.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert all(math.isclose(float(r["val_perplexity"]), math.exp(float(r["val_loss"])), rel_tol=1e-6) for r in rows)
    model = load(tmp_path / "run" / "model")
    assert model.corpus_ == [{"path": "corpus.txt", "sha256": hashlib.sha256(corpus.read_bytes()).hexdigest(),
                              "lines": 120}]


def test_a_missing_char_lm_folder_is_a_config_error(tmp_path):
    """A typo in model.char_lm must say what it expects, not fail deep inside torch."""
    from lstmkit.tasks.charlm.bundled import load_char_lm, resolve_char_lm

    with pytest.raises(ConfigError, match="nowhere: no such folder; give a model folder written by"):
        resolve_char_lm(str(tmp_path / "nowhere"))
    (tmp_path / "other").mkdir()
    config = {"task": "tagger", "format_version": FORMAT_VERSION}
    (tmp_path / "other" / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ConfigError, match="a tagger model, not a language model"):
        load_char_lm(str(tmp_path / "other"))


def test_bad_input_is_a_clear_error(tmp_path):
    """A missing file, an empty one, or several training processes (which would read each stream's
    windows out of order) must stop with one message naming the file or the key."""
    from lstmkit.errors import DataError

    args = ["pretrain", "--text", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "r")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "missing.txt: file not found" in result.output
    (tmp_path / "blank.txt").write_text("\n  \n", encoding="utf-8")
    with pytest.raises(DataError, match="blank.txt: no text found"):
        CharLanguageModel().read_data(tmp_path / "blank.txt")
    with pytest.raises(ConfigError, match="train.devices: a character language model trains in one process"):
        CharLanguageModel(devices=2, **TINY).fit(word_lines(20, seed=0))
