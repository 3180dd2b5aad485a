"""The tagger's input handling (lstmkit.tasks.tagger.inputs): files, JSON and Python sentences,
read and checked without a model."""

from __future__ import annotations

import pytest

from lstmkit.data.formats.conll import Sentences
from lstmkit.errors import DataError
from lstmkit.tasks.tagger.inputs import (
    as_sentences,
    check_json_items,
    read_sentences,
    text_tokenizer,
    tokenize,
)


def test_txt_file_is_one_text_per_line_with_its_line_number(tmp_path):
    """Catches blank lines kept as texts, a \\r left on a line, or origins off by one."""
    path = tmp_path / "texts.txt"
    path.write_bytes("张三在北京\r\n\n  \nBerlin is big\n".encode())
    texts = read_sentences(path)
    assert list(texts) == ["张三在北京", "Berlin is big"]
    assert texts.where(0) == (path, 1) and texts.where(1) == (path, 4)


def test_txt_file_without_text_names_the_file(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text("\n \n")
    with pytest.raises(DataError, match="no text found") as err:
        read_sentences(path)
    assert "blank.txt" in str(err.value)


def test_other_suffixes_are_read_as_conll_tokens(tmp_path):
    """Catches a CoNLL file read as raw text (its gold tags would then be tagged as words)."""
    path = tmp_path / "in.conll"
    path.write_text("张 B-PER\n三 I-PER\n\n北 B-LOC\n")
    sentences = read_sentences(path)
    assert list(sentences) == [["张", "三"], ["北"]]
    assert sentences.where(1) == (path, 4)


def test_json_items_name_the_bad_item_from_one():
    check_json_items(["a text", ["tok", "ens"]])
    with pytest.raises(DataError, match="input 2: expected a text"):
        check_json_items(["ok", ["tok", 3]])
    with pytest.raises(DataError, match="inputs must be a list"):
        check_json_items("one text")


def test_sentences_and_tags_are_checked():
    """Catches a token with whitespace, a tag count that differs from the token count, or a text
    accepted with tags (texts have no tokens to tag one by one)."""
    sentences, tags = as_sentences([("a", "b")], [["O", "B-X"]])
    assert sentences == [["a", "b"]] and tags == [["O", "B-X"]]
    assert as_sentences("one text") == (["one text"], None)
    with pytest.raises(DataError, match="sentence 1: token 2 \\('b c'\\) must be a non-empty string"):
        as_sentences([["a", "b c"]])
    with pytest.raises(DataError, match="sentence 2: 1 tokens but 2 tags"):
        as_sentences([["a"], ["b"]], [["O"], ["O", "O"]])
    with pytest.raises(DataError, match="labelled sentences must be token lists"):
        as_sentences(["a text"], [["O"]])


def test_errors_in_read_sentences_name_file_and_line(tmp_path):
    path = tmp_path / "x.conll"
    sentences = Sentences([["a"], []], [(path, 1), (path, 3)])
    with pytest.raises(DataError, match="empty sentence") as err:
        as_sentences(sentences)
    assert "x.conll" in str(err.value) and "3" in str(err.value)


def test_text_tokenizer_auto_follows_the_token_level():
    """Catches ``auto`` cutting a character-level (Chinese) model's text into words."""
    assert text_tokenizer("auto", "char") == "char"
    assert text_tokenizer("auto", "word") == "words"
    assert text_tokenizer("whitespace", "char") == "whitespace"


def test_tokenize_gives_offsets_for_text_only():
    text = "上海 是"
    (tokens, offsets), (kept, none) = tokenize([text, ["x", "y"]], "char")
    assert tokens == ["上", "海", "是"] and [text[a:b] for a, b in offsets] == tokens
    assert kept == ["x", "y"] and none is None
    with pytest.raises(DataError, match="a text without any token"):
        tokenize(["  "], "words")
