"""Raw text -> tokens with their character offsets (``predict --text``, ``.txt`` inputs).

A tagger learns on tokens (CoNLL rows); raw text is cut into the same kind of tokens:

==============  ================================================================
``char``        every character that is not whitespace (Chinese NER and segmentation)
``words``       words, numbers and punctuation marks, as CoNLL-2003 and the Penn
                Treebank cut English: ``Berlin.`` -> ``Berlin`` ``.``; ``Germany's`` ->
                ``Germany`` ``'s``; ``don't`` -> ``do`` ``n't``; ``U.S.``, ``3.5``,
                ``1,000``, ``New-York`` and ``O'Neill`` stay whole
``whitespace``  runs of non-whitespace (text that is already tokenised, space-separated)
``jieba``       jieba's words (word-level Chinese models such as ``pd-pos``)
==============  ================================================================

``data.text_tokenizer=auto`` picks ``char`` for a model whose training tokens were all single
characters, else ``words``. Offsets are ``(start, end)`` into the text, ``end`` exclusive,
so ``text[start:end] == token`` and an entity over tokens ``i..j-1`` spans characters
``offsets[i][0]..offsets[j-1][1]`` of the original text.

``words`` is one regular expression (:data:`WORDS`) rather than a library: NLTK's Treebank
tokenizer leaves a period on a word in mid-text (it expects one sentence per call, and its
sentence splitter needs a data download), and spaCy is a large dependency for this one step.
"""

from __future__ import annotations

import re

__all__ = ["TOKENIZERS", "WORDS", "tokenize_with_offsets"]

TOKENIZERS = ("char", "words", "whitespace", "jieba")
_RUN = re.compile(r"\S+")
_CLITIC = r"['’](?i:s|re|ve|ll|d|m)\b"
WORDS = re.compile(rf"""
      (?:[^\W\d_]\.){{2,}}                     # abbreviations written with dots: U.S., e.g.
    | \w+(?=(?i:n)['’](?i:t)\b)                  # do|n't, ca|n't: the word before n't
    | (?i:n)['’](?i:t)\b                          # n't
    | {_CLITIC}                                   # 's 're 've 'll 'd 'm
    | \d+(?:[.,:/]\d+)*(?!\w)                     # numbers: 3.5, 1,000, 12:30, 1/2 (10km is a word)
    | \w+(?:-\w+|['’](?!(?i:s|re|ve|ll|d|m)\b)\w+)*   # words, hyphenated or with an inner apostrophe
    | \.{{2,}} | -{{2,}}                           # ... and --
    | [^\w\s]                                    # any other mark, one at a time
""", re.VERBOSE)
"""The ``words`` tokenizer: each match is a token (see the module docstring)."""


def tokenize_with_offsets(text: str, how: str) -> tuple[list[str], list[tuple[int, int]]]:
    """``(tokens, offsets)`` of ``text`` by tokenizer ``how`` (see the module docstring).

    >>> tokenize_with_offsets("上海 是", "char")
    (['上', '海', '是'], [(0, 1), (1, 2), (3, 4)])
    """
    if how == "char":
        spans = [(i, i + 1) for i, c in enumerate(text) if not c.isspace()]
    elif how == "words":
        spans = [m.span() for m in WORDS.finditer(text)]
    elif how == "whitespace":
        spans = [m.span() for m in _RUN.finditer(text)]
    elif how == "jieba":
        import jieba

        spans = []
        for _word, start, end in jieba.tokenize(text):
            spans += [m.span() for m in _RUN.finditer(text, start, end)]  # drop spaces, split at them
    else:
        raise ValueError(f"tokenizer must be one of {', '.join(TOKENIZERS)}, got {how!r}")
    return [text[s:e] for s, e in spans], spans
