"""Tokenisers on English, Chinese, mixed text and punctuation; names, configs, 'auto'."""

import pickle

import pytest

from lstmkit.data.tokenizers import (
    CharTokenizer,
    JiebaTokenizer,
    WordTokenizer,
    is_cjk,
    make_tokenizer,
    resolve_tokenizer_name,
    tokenizer_from_config,
)
from lstmkit.errors import ConfigError

CJK_PUNCTUATION = "，。！？、；：“”《》（）【】…—"


def test_char_tokenizer():
    tok = CharTokenizer()
    assert tok("房间 很干净！\n") == ["房", "间", "很", "干", "净", "！"]
    assert tok("Hi 你好") == ["H", "i", "你", "好"]
    assert tok("\u3000 \t") == []  # full-width space is whitespace too
    assert CharTokenizer(lowercase=True)("AbC") == ["a", "b", "c"]


def test_char_tokenizer_drops_ascii_and_cjk_punctuation():
    tok = CharTokenizer(keep_punctuation=False)
    assert tok("“好书”，《红楼梦》！真的？是、对；嗯：ok!?.,") == list("好书红楼梦真的是对嗯ok")
    assert tok(CJK_PUNCTUATION + "!\"#%&'()*,-./:;?@[]_{}") == []
    assert tok("$5+3=8") == list("$5+3=8")  # symbols and digits are not punctuation


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("Hello, World!", ["hello", ",", "world", "!"]),
        ("I don't think it's state-of-the-art.", ["i", "don't", "think", "it's", "state-of-the-art", "."]),
        ("rock’n’roll covid-19 e-mail", ["rock’n’roll", "covid-19", "e-mail"]),
        ("Pi is 3.14, not 1,000 or 42.", ["pi", "is", "3.14", ",", "not", "1,000", "or", "42", "."]),
        ("wait... (really?)", ["wait", ".", ".", ".", "(", "really", "?", ")"]),
        ("-leading and trailing- 'quoted'", ["-", "leading", "and", "trailing", "-", "'", "quoted", "'"]),
        ("café naïve Straße", ["café", "naïve", "straße"]),
        ("iPhone很好用！5星", ["iphone", "很", "好", "用", "！", "5", "星"]),
        ("我爱Python3和C++", ["我", "爱", "python3", "和", "c", "+", "+"]),
        ("", []),
    ],
)
def test_word_tokenizer(text, tokens):
    assert WordTokenizer()(text) == tokens


def test_word_tokenizer_options():
    assert WordTokenizer(lowercase=False)("Don't GO") == ["Don't", "GO"]
    assert WordTokenizer(keep_punctuation=False)("Yes!! No, “maybe”… 好。") == ["yes", "no", "maybe", "好"]
    # a token mixing punctuation with letters is a word, not punctuation
    assert WordTokenizer(keep_punctuation=False)("don't") == ["don't"]


def test_jieba_tokenizer():
    tok = JiebaTokenizer()
    tokens = tok("房间很干净， 服务也很好！")
    assert "".join(tokens) == "房间很干净，服务也很好！"  # nothing lost but spaces
    assert "房间" in tokens and "干净" in tokens  # real words, not characters
    assert "，" not in JiebaTokenizer(keep_punctuation=False)("房间很干净，服务也很好！")


def test_jieba_missing_gives_clear_error(monkeypatch):
    import sys

    import lstmkit.data.tokenizers as tokenizers

    monkeypatch.setattr(tokenizers, "_jieba", None)
    monkeypatch.setitem(sys.modules, "jieba", None)  # makes `import jieba` fail
    with pytest.raises(tokenizers.LstmkitError, match="pip install jieba"):
        JiebaTokenizer()


def test_is_cjk():
    assert all(is_cjk(c) for c in "中文字かなカナ𠀀")
    assert not any(is_cjk(c) for c in "aé1，。한")


def test_resolve_tokenizer_name():
    chinese = ["这个酒店很好", "服务一般般。", "Wi-Fi很快"]
    english = ["a nice hotel", "bad service", "很好 but mostly english words here"]
    assert resolve_tokenizer_name(chinese) == "char"
    assert resolve_tokenizer_name(english) == "word"
    assert resolve_tokenizer_name(chinese[:1] + english[:2]) == "word"  # most texts decide
    assert resolve_tokenizer_name([]) == "word"
    assert resolve_tokenizer_name(["2024!!", "好"]) == "word"  # no letters is not CJK
    # the sample is spread over all texts: the first 100 alone would say "word"
    assert resolve_tokenizer_name(["english"] * 1000 + ["中文"] * 2000, sample_size=100) == "char"


def test_make_tokenizer_and_config_round_trip():
    assert isinstance(make_tokenizer("char"), CharTokenizer)
    assert isinstance(make_tokenizer("auto", texts=["中文评论"]), CharTokenizer)
    assert isinstance(make_tokenizer("auto", texts=["an english review"]), WordTokenizer)
    tok = make_tokenizer("word", lowercase=False, keep_punctuation=None)  # None: the default
    assert (tok.lowercase, tok.keep_punctuation) == (False, True)
    tokenizers = [
        CharTokenizer(keep_punctuation=False, lowercase=True),
        WordTokenizer(lowercase=False),
        JiebaTokenizer(),
    ]
    for tok in tokenizers:
        config = tok.to_config()
        again = tokenizer_from_config(config)
        assert type(again) is type(tok) and again.to_config() == config
        assert pickle.loads(pickle.dumps(tok))("Ab，c") == tok("Ab，c")


def test_make_tokenizer_errors():
    with pytest.raises(ConfigError, match="unknown tokenizer 'bpe' \\(valid: char, word, jieba, auto\\)"):
        make_tokenizer("bpe")
    with pytest.raises(ConfigError, match="unknown tokenizer option 'stem'"):
        make_tokenizer("word", stem=True)
    with pytest.raises(ValueError, match="needs the training texts"):
        make_tokenizer("auto")
    with pytest.raises(ConfigError, match="'name'"):
        tokenizer_from_config({"lowercase": True})
