"""Vocab: build order and cut-offs checked against a brute-force count, lookups, round trips."""

import json

import pytest

from lstmkit.data.vocab import Vocab
from lstmkit.errors import ConfigError, ModelFolderError

CORPUS = [
    ["the", "cat", "sat", "on", "the", "mat"],
    ["the", "dog", "sat"],
    ["a", "cat", "and", "a", "dog", "的", "的"],
]


def brute_force_order(corpus, min_freq=1):
    """Tokens by count desc, ties by first appearance: computed the slow, obvious way."""
    flat = [t for tokens in corpus for t in tokens]
    first = {}
    for i, t in enumerate(flat):
        first.setdefault(t, i)
    kept = [t for t in first if flat.count(t) >= min_freq]
    return sorted(kept, key=lambda t: (-flat.count(t), first[t]))


def test_build_order_and_specials():
    v = Vocab.build(CORPUS)
    assert v.tokens[:2] == ("<pad>", "<unk>")
    assert (Vocab.PAD_ID, Vocab.UNK_ID) == (0, 1)
    assert list(v.tokens[2:]) == brute_force_order(CORPUS)
    # the: 3; cat, sat, dog, a, 的: 2 (in first-appearance order); on, mat, and: 1
    assert v.tokens[2:9] == ("the", "cat", "sat", "dog", "a", "的", "on")
    assert len(v) == 2 + 9


def test_min_freq_max_size_extra_tokens():
    v = Vocab.build(CORPUS, min_freq=2)
    assert list(v.tokens[2:]) == brute_force_order(CORPUS, min_freq=2)
    assert "mat" not in v and "cat" in v
    v = Vocab.build(CORPUS, max_size=5, extra_tokens=["<bos>", "<unk>", "<bos>"])
    assert v.tokens == ("<pad>", "<unk>", "<bos>", "the", "cat")  # max_size counts the specials
    assert len(Vocab.build(CORPUS, max_size=1000)) == 11
    with pytest.raises(ConfigError, match="max_size must be at least 3"):
        Vocab.build(CORPUS, max_size=2, extra_tokens=["<bos>"])
    with pytest.raises(ConfigError, match="min_freq"):
        Vocab.build(CORPUS, min_freq=0)


def test_corpus_special_tokens_are_not_duplicated():
    v = Vocab.build([["<pad>", "<unk>", "x"]])
    assert v.tokens == ("<pad>", "<unk>", "x")


def test_build_is_deterministic_across_input_types():
    from_lists = Vocab.build(CORPUS)
    from_generator = Vocab.build(tuple(tokens) for tokens in CORPUS)
    assert from_lists == from_generator


def test_encode_decode():
    v = Vocab.build(CORPUS)
    ids = v.encode(["the", "zebra", "的", "<pad>"])
    assert ids == [2, 1, 7, 0]
    assert v.decode(ids) == ["the", "<unk>", "的", "<pad>"]
    assert v.decode(v.encode(CORPUS[0])) == CORPUS[0]
    with pytest.raises(IndexError, match="outside the vocabulary"):
        v.decode([len(v)])
    assert "the" in v and "zebra" not in v


def test_json_and_file_round_trip(tmp_path):
    v = Vocab.build(CORPUS)
    assert Vocab.from_json(json.loads(json.dumps(v.to_json()))) == v
    path = tmp_path / "vocab.json"
    v.save(path)
    assert "的" in path.read_text(encoding="utf-8")  # ensure_ascii=False: readable
    again = Vocab.load(path)
    assert again == v and again.encode(["的", "cat"]) == v.encode(["的", "cat"])


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not a valid vocabulary file"),
        ('{"words": []}', "expected an object with a 'tokens' list"),
        ('{"tokens": ["<unk>", "<pad>"]}', "must start with '<pad>', '<unk>'"),
        ('{"tokens": ["<pad>", "<unk>", "a", "a"]}', "token 'a' appears twice"),
        ('{"tokens": ["<pad>", "<unk>", 3]}', "every token must be a string"),
        ('{"format_version": 99, "tokens": ["<pad>", "<unk>"]}', "format_version 99"),
    ],
)
def test_load_errors(tmp_path, content, message):
    path = tmp_path / "vocab.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ModelFolderError, match=str(path).replace(".", r"\.") + ".*" + message):
        Vocab.load(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(ModelFolderError, match="file not found"):
        Vocab.load(tmp_path / "vocab.json")
