"""Sentences and tags in the tagger's own form, from files, JSON and Python.

The task's inputs ``X`` are sentences: each a non-empty list of token strings (as in a CoNLL
file; no token is empty or holds whitespace), or a raw text string (``predict --text``, ``.txt``
files, JSON strings) that :func:`tokenize` cuts into tokens with
:func:`lstmkit.tasks.tagger.text.tokenize_with_offsets`. Tags ``y`` are one list per sentence,
one tag per token.

Sentences read from a file are a :class:`~lstmkit.data.formats.conll.Sentences` that remembers
each sentence's file and first line, so every bad sentence is a :class:`DataError` naming them;
sentences from Python are named by their number, counted from 1 (``sentence 3: ...``).

Files: a ``.txt`` file holds one raw text per non-blank line (:func:`read_texts`); any other is
read as CoNLL (:func:`lstmkit.data.formats.conll.read_conll` with tags,
:func:`~lstmkit.data.formats.conll.read_conll_tokens` without).
"""

from __future__ import annotations

from pathlib import Path

from lstmkit.data.formats.conll import Sentences, read_conll_tokens
from lstmkit.data.formats.tables import decode_text
from lstmkit.errors import DataError
from lstmkit.tasks.tagger.text import tokenize_with_offsets

TEXT_SUFFIXES = (".txt",)
"""``--input`` files read as one raw text per line; anything else is read as CoNLL."""


def read_sentences(path) -> Sentences:
    """Inputs to predict from a file: a ``.txt`` file: one raw text per non-blank line
    (:func:`read_texts`); any other file: CoNLL tokens (first column; other columns, such as
    gold tags, are ignored)."""
    path = Path(path)
    if path.suffix.lower() not in TEXT_SUFFIXES:
        return read_conll_tokens(path)
    return read_texts(path)


def read_texts(path: Path) -> Sentences:
    """One raw text per non-blank line of ``path`` (a trailing ``\\r`` dropped), each remembering
    its line; a missing file or one without any text is a :class:`DataError`."""
    if not path.is_file():
        raise DataError("file not found", path)
    texts = Sentences()
    for number, line in enumerate(decode_text(path).split("\n"), start=1):
        if line.strip():
            texts.append(line.rstrip("\r"))
            texts.origins.append((path, number))
    if not texts:
        raise DataError("no text found (expected one text per line)", path)
    return texts


def check_json_items(items) -> None:
    """JSON inputs: a list whose items are each a text (a string) or a tokenised sentence (a list
    of token strings); anything else is a :class:`DataError` naming the item, counted from 1."""
    if not isinstance(items, list):
        raise DataError(f"inputs must be a list of texts or token lists, got {type(items).__name__}")
    for n, item in enumerate(items, start=1):
        if isinstance(item, str):
            continue
        if not isinstance(item, list) or not all(isinstance(t, str) for t in item):
            raise DataError(f"input {n}: expected a text (a string) or a list of token strings, "
                            f"got {type(item).__name__}")


def as_sentences(X, y=None):
    """Sentences as a list (a :class:`Sentences` keeps its file and lines): each a non-empty
    token list, or a non-blank text; tags one list per sentence, one tag per token.

    Returns ``(sentences, tags or None)``. A lone string is one text. Texts cannot carry tags.
    Every problem is a :class:`DataError` naming the sentence's file and line, or its number.
    """
    if isinstance(X, str):
        X = [X]
    sentences = X if isinstance(X, Sentences) else [list(s) if not isinstance(s, str) else s for s in X]
    for n, sentence in enumerate(sentences):
        path, line = sentences.where(n) if isinstance(sentences, Sentences) else (None, None)
        at = "" if path else f"sentence {n + 1}: "
        if isinstance(sentence, str):
            if not sentence.strip():
                raise DataError(f"{at}empty text; give some text to tag", path, line)
            if y is not None:
                raise DataError(f"{at}labelled sentences must be token lists (one tag per token), got a text",
                                path, line)
            continue
        if not sentence:
            raise DataError(f"{at}empty sentence", path, line)
        for position, token in enumerate(sentence):
            if not isinstance(token, str) or not token or token.split() != [token]:
                raise DataError(f"{at}token {position + 1} ({token!r}) must be a non-empty string "
                                "without whitespace", path, line)
    if y is None:
        return sentences, None
    tags = y if isinstance(y, Sentences) else [list(t) for t in y]
    if len(tags) != len(sentences):
        raise DataError(f"{len(sentences)} sentences but {len(tags)} tag lists")
    for n, (sentence, row) in enumerate(zip(sentences, tags)):
        if len(row) != len(sentence):
            path, line = sentences.where(n) if isinstance(sentences, Sentences) else (None, None)
            raise DataError(f"{'' if path else f'sentence {n + 1}: '}{len(sentence)} tokens but "
                            f"{len(row)} tags", path, line)
        for position, tag in enumerate(row):
            if not isinstance(tag, str) or not tag or tag.split() != [tag]:
                raise DataError(f"sentence {n + 1}, token {position + 1}: tag {tag!r} must be a non-empty "
                                "string without whitespace")
    return sentences, tags


def text_tokenizer(setting: str, token_level: str) -> str:
    """The tokenizer raw text is cut with: ``data.text_tokenizer`` (``setting``), where ``auto``
    is ``char`` for a model whose training tokens were single characters (``token_level``
    ``"char"``), else ``words``."""
    return setting if setting != "auto" else ("char" if token_level == "char" else "words")


def tokenize(X, how: str | None) -> list[tuple[list[str], list[tuple[int, int]] | None]]:
    """``(tokens, character offsets or None)`` per checked input (offsets only for raw text, cut
    by the tokenizer ``how``, which may be None when there is no text; token lists are kept as
    they are). A text without any token is a :class:`DataError`."""
    out: list[tuple[list[str], list[tuple[int, int]] | None]] = []
    for x in X:
        if isinstance(x, str):
            if how is None:
                raise ValueError("raw text needs a tokenizer (how)")
            tokens, offsets = tokenize_with_offsets(x, how)
            if not tokens:
                raise DataError("a text without any token")
            out.append((tokens, offsets))
        else:
            out.append((list(x), None))
    return out
