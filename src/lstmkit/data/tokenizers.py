"""Tokenisers: text -> list of token strings.

Three tokenisers, all plain (picklable) objects with the same small interface::

    tok = make_tokenizer("char")          # or "word", "jieba", or "auto" with texts=...
    tok("房间很干净！")                     # ['房', '间', '很', '干', '净', '！']
    tok.to_config()  # {'name': 'char', 'keep_punctuation': True, 'lowercase': False}
    tokenizer_from_config(tok.to_config())  # the same tokeniser again

- :class:`CharTokenizer` - one token per character (the default for Chinese).
- :class:`WordTokenizer` - a regular expression for space-separated languages; runs of
  CJK characters are split per character so mixed text still works.
- :class:`JiebaTokenizer` - Chinese word segmentation with the optional ``jieba`` package.

All of them drop whitespace, take ``lowercase`` (default off except for words) and
``keep_punctuation`` (default on). Punctuation means the Unicode categories ``P*``:
ASCII ``,.!?"'`` as well as CJK ``，。！？、；：“”《》``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence

from lstmkit.errors import ConfigError, LstmkitError

__all__ = [
    "CharTokenizer",
    "WordTokenizer",
    "JiebaTokenizer",
    "TOKENIZERS",
    "make_tokenizer",
    "resolve_tokenizer_name",
    "tokenizer_from_config",
    "is_cjk",
]

# CJK characters: kana, CJK unified ideographs (+ extension A and B-F), compatibility ideographs.
CJK_RANGES = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
_CJK = re.compile(f"[{CJK_RANGES}]")


def is_cjk(char: str) -> bool:
    """True for a Chinese/Japanese ideograph or kana character."""
    return _CJK.match(char) is not None


def _is_punctuation(token: str) -> bool:
    """True when every character is Unicode punctuation (categories Pc Pd Ps Pe Pi Pf Po)."""
    return all(unicodedata.category(c).startswith("P") for c in token)


class _Tokenizer:
    """What every tokeniser shares: the two options, ``to_config`` and ``repr``."""

    name = ""

    def __init__(self, keep_punctuation: bool = True, lowercase: bool = False):
        self.keep_punctuation = keep_punctuation
        self.lowercase = lowercase

    def __call__(self, text: str) -> list[str]:
        tokens = self._split(text.lower() if self.lowercase else text)
        if not self.keep_punctuation:
            tokens = [t for t in tokens if not _is_punctuation(t)]
        return tokens

    def _split(self, text: str) -> list[str]:
        raise NotImplementedError

    def to_config(self) -> dict:
        """``{"name": ..., "keep_punctuation": ..., "lowercase": ...}``: plain JSON data."""
        return {
            "name": self.name,
            "keep_punctuation": self.keep_punctuation,
            "lowercase": self.lowercase,
        }

    def __repr__(self) -> str:
        options = f"keep_punctuation={self.keep_punctuation}, lowercase={self.lowercase}"
        return f"{type(self).__name__}({options})"


class CharTokenizer(_Tokenizer):
    """One token per character, whitespace dropped.

    >>> CharTokenizer()("好 吃！")
    ['好', '吃', '！']
    >>> CharTokenizer(keep_punctuation=False)("好 吃！")
    ['好', '吃']
    """

    name = "char"

    def _split(self, text: str) -> list[str]:
        return [c for c in text if not c.isspace()]


# A word character that is not CJK: \w minus the CJK ranges (re has no set difference).
_W = rf"(?:(?![{CJK_RANGES}])\w)"
_WORD_PATTERN = re.compile(
    "|".join(
        [
            rf"[{CJK_RANGES}]",  # one CJK character
            r"\d+(?:[.,]\d+)+",  # a number with separators: 3.14, 1,000,000
            rf"{_W}+(?:['’\-‐]{_W}+)*",  # a word, inner ' or -: don't, state-of-the-art
            r"\S",  # anything else: one punctuation mark or symbol
        ]
    )
)


class WordTokenizer(_Tokenizer):
    """A regular-expression tokeniser for space-separated languages.

    Words keep inner apostrophes and hyphens (``don't``, ``state-of-the-art``), numbers
    keep their separators (``3.14``, ``1,000``), every punctuation mark or symbol is a
    token of its own, and each CJK character is a token so mixed text works.

    >>> WordTokenizer()("Don't panic: it's state-of-the-art, 3.14!")
    ["don't", 'panic', ':', "it's", 'state-of-the-art', ',', '3.14', '!']
    >>> WordTokenizer()("iPhone很好用")
    ['iphone', '很', '好', '用']
    """

    name = "word"

    def __init__(self, lowercase: bool = True, keep_punctuation: bool = True):
        super().__init__(keep_punctuation=keep_punctuation, lowercase=lowercase)

    def _split(self, text: str) -> list[str]:
        return _WORD_PATTERN.findall(text)


_jieba = None  # the jieba module, imported on first use (kept out of instances: picklable)


def _import_jieba():
    global _jieba
    if _jieba is None:
        try:
            import jieba
        except ImportError:
            raise LstmkitError(
                "the jieba tokenizer needs the jieba package: pip install jieba"
                " (or pip install 'lstmkit[jieba]')"
            ) from None
        jieba.setLogLevel(logging.WARNING)  # silence "Building prefix dict ..." on first use
        _jieba = jieba
    return _jieba


class JiebaTokenizer(_Tokenizer):
    """Chinese word segmentation with jieba (``pip install jieba``); whitespace dropped.

    >>> JiebaTokenizer()("房间很干净")  # doctest: +SKIP
    ['房间', '很', '干净']
    """

    name = "jieba"

    def __init__(self, keep_punctuation: bool = True, lowercase: bool = False):
        super().__init__(keep_punctuation=keep_punctuation, lowercase=lowercase)
        _import_jieba()  # fail now, with a clear message, rather than at the first text

    def _split(self, text: str) -> list[str]:
        return [t for t in _import_jieba().lcut(text) if t.strip()]


TOKENIZERS = {"char": CharTokenizer, "word": WordTokenizer, "jieba": JiebaTokenizer}
_OPTIONS = ("keep_punctuation", "lowercase")


def resolve_tokenizer_name(texts: Sequence[str], sample_size: int = 1000) -> str:
    """Choose ``"char"`` or ``"word"`` for ``tokenizer="auto"``.

    Looks at up to ``sample_size`` texts spread evenly over ``texts`` (deterministic).
    A text is *mostly CJK* when more than half of its letters (CJK characters plus
    other word characters, ignoring spaces, digits and punctuation) are CJK. Returns
    ``"char"`` when more than half of the sampled texts are mostly CJK, else ``"word"``.
    """
    if not texts:
        return "word"
    step = max(1, len(texts) // sample_size)
    sample = texts[::step][:sample_size]
    mostly_cjk = 0
    for text in sample:
        letters = [c for c in text if c.isalpha()]
        cjk = sum(1 for c in letters if is_cjk(c))
        if letters and cjk > len(letters) / 2:
            mostly_cjk += 1
    return "char" if mostly_cjk > len(sample) / 2 else "word"


def make_tokenizer(name: str, *, texts: Sequence[str] | None = None, **options):
    """Build a tokeniser by name: ``char``, ``word``, ``jieba`` or ``auto``.

    Args:
        name: the tokeniser; ``auto`` picks ``char`` or ``word`` from ``texts`` with
            :func:`resolve_tokenizer_name`.
        texts: the training texts, needed for ``auto`` only.
        **options: ``keep_punctuation`` and/or ``lowercase``; ``None`` means the
            tokeniser's default.

    Raises:
        ConfigError: an unknown name or option.
    """
    if name == "auto":
        if texts is None:
            raise ValueError(
                "tokenizer 'auto' needs the training texts: make_tokenizer('auto', texts=...)"
            )
        name = resolve_tokenizer_name(texts)
    if name not in TOKENIZERS:
        valid = ", ".join([*TOKENIZERS, "auto"])
        raise ConfigError(f"unknown tokenizer {name!r} (valid: {valid})")
    unknown = [key for key in options if key not in _OPTIONS]
    if unknown:
        raise ConfigError(f"unknown tokenizer option {unknown[0]!r} (valid: {', '.join(_OPTIONS)})")
    return TOKENIZERS[name](**{k: v for k, v in options.items() if v is not None})


def tokenizer_from_config(config: dict):
    """Rebuild a tokeniser from its ``to_config()`` dict (as stored in a model's config.json)."""
    if not isinstance(config, dict) or "name" not in config:
        raise ConfigError(f"a tokenizer config needs a 'name' key, found {config!r}")
    options = {k: v for k, v in config.items() if k != "name"}
    if config["name"] == "auto":
        raise ConfigError("a saved tokenizer config must name a concrete tokenizer, not 'auto'")
    return make_tokenizer(config["name"], **options)
