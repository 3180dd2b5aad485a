"""Raw text -> tokens with their character offsets (``predict --text``, ``.txt`` inputs).

A tagger learns on tokens (CoNLL rows); raw text is cut into the same kind of tokens:

==============  ================================================================
``char``        every character that is not whitespace (Chinese NER and segmentation)
``whitespace``  runs of non-whitespace (text that is already space-separated)
``jieba``       jieba's words (word-level Chinese models such as ``pd-pos``)
==============  ================================================================

``data.text_tokenizer=auto`` picks ``char`` for a model whose training tokens were all single
characters, else ``whitespace``. Offsets are ``(start, end)`` into the text, ``end`` exclusive,
so ``text[start:end] == token`` and an entity over tokens ``i..j-1`` spans characters
``offsets[i][0]..offsets[j-1][1]`` of the original text.
"""

from __future__ import annotations

import re

__all__ = ["TOKENIZERS", "tokenize_with_offsets"]

TOKENIZERS = ("char", "whitespace", "jieba")
_RUN = re.compile(r"\S+")


def tokenize_with_offsets(text: str, how: str) -> tuple[list[str], list[tuple[int, int]]]:
    """``(tokens, offsets)`` of ``text`` by tokenizer ``how`` (see the module docstring).

    >>> tokenize_with_offsets("上海 是", "char")
    (['上', '海', '是'], [(0, 1), (1, 2), (3, 4)])
    """
    if how == "char":
        spans = [(i, i + 1) for i, c in enumerate(text) if not c.isspace()]
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
