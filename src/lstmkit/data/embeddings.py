"""Pretrained word vectors: read word2vec/GloVe text files, build an embedding matrix.

Two text formats are read (optionally gzip-compressed, ``.gz``):

- **word2vec** (also fastText ``.vec``): a header line ``N D``, then one line per word:
  ``word v1 v2 ... vD``;
- **GloVe**: the same lines without the header.

The format is told by the first line: two integers mean a word2vec header. Fields are
separated by single spaces (so a word may be any string without a space, ``\\u3000``
included), trailing whitespace is ignored, blank lines are skipped and for a word
seen twice the first vector wins.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from lstmkit.data.vocab import Vocab
from lstmkit.errors import DataError

__all__ = ["read_word_vectors", "embedding_matrix"]


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of a UTF-8 file, gzip-compressed when it ends in ``.gz``."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError("bytes that are not UTF-8", path, number) from None


def _is_header(fields: list[str]) -> bool:
    return len(fields) == 2 and all(f.isdigit() for f in fields)


def read_word_vectors(
    path: str | Path, vocab: set[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Read a word2vec or GloVe text file.

    Args:
        path: the vectors file (``.txt``, ``.vec``, or either with ``.gz``).
        vocab: keep only these words (saves memory and time on large files: the
            numbers of other lines are counted but not parsed).

    Returns:
        ``words`` (``N`` strings, file order) and ``vectors``, a float32 array of shape
        ``(N, D)``.

    Raises:
        DataError: naming the file and line for a missing or empty file, a line with the
            wrong number of values, a value that is not a number, or bytes that are not
            UTF-8.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path)
    words: list[str] = []
    rows: list[np.ndarray] = []
    seen: set[str] = set()
    dim: int | None = None
    try:
        for number, line in _lines(path):
            fields = line.rstrip().split(" ")
            if fields == [""]:
                continue  # a blank line
            if dim is None and number == 1 and _is_header(fields):
                dim = int(fields[1])  # word2vec header "N D"
                continue
            if dim is None:
                dim = len(fields) - 1  # GloVe: the first line tells D
                if dim < 1:
                    raise DataError("expected a word followed by its vector's values", path, number)
            word, values = fields[0], fields[1:]
            if len(values) != dim:
                raise DataError(
                    f"expected {dim} values after the word, found {len(values)}", path, number
                )
            if word in seen or (vocab is not None and word not in vocab):
                continue
            try:
                row = np.array(values, dtype=np.float32)  # (D,)
            except ValueError:
                bad = next(v for v in values if not _is_float(v))
                raise DataError(f"{bad!r} is not a number (word {word!r})", path, number) from None
            seen.add(word)
            words.append(word)
            rows.append(row)
    except (OSError, EOFError) as err:  # e.g. a truncated or fake .gz file
        raise DataError(f"cannot read the file ({err})", path) from None
    if dim is None:
        raise DataError("the file is empty", path)
    vectors = np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)  # (N, D)
    return words, vectors


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def embedding_matrix(
    vocab: Vocab, path: str | Path, lowercase_fallback: bool = True, seed: int = 0
) -> tuple[torch.Tensor, int]:
    """An embedding weight for ``vocab`` from a pretrained vectors file.

    Row ``i`` holds the vector of token ``i`` when the file has it (or, with
    ``lowercase_fallback``, has its lowercase form: ``"The"`` takes ``"the"``). Other
    rows are drawn from ``N(0, s^2)``, ``s`` the standard deviation of all values of the
    found vectors, so they have the same scale. The ``<pad>`` row is zero.

    Args:
        vocab: the vocabulary whose rows to fill.
        path: a word2vec or GloVe text file (see :func:`read_word_vectors`).
        lowercase_fallback: try the lowercase token when the token itself is missing.
        seed: the seed for the random rows.

    Returns:
        ``weight`` of shape ``(len(vocab), D)`` (float32), ready for
        ``nn.Embedding.from_pretrained`` or ``embedding.weight.data.copy_``, and
        ``found``, the number of tokens (``<pad>`` not counted) whose vector came from
        the file.

    Raises:
        DataError: no token of the vocabulary is in the file (a file for another
            language or tokeniser, most likely).
    """
    tokens = vocab.tokens
    wanted = set(tokens[1:])
    if lowercase_fallback:
        wanted |= {t.lower() for t in tokens[1:]}
    words, vectors = read_word_vectors(path, wanted)  # (N, D)
    index = {w: i for i, w in enumerate(words)}

    rows: list[int] = []  # vocabulary ids found in the file
    sources: list[int] = []  # their rows in `vectors`
    for token_id, token in enumerate(tokens):
        if token_id == Vocab.PAD_ID:
            continue
        source = index.get(token)
        if source is None and lowercase_fallback:
            source = index.get(token.lower())
        if source is not None:
            rows.append(token_id)
            sources.append(source)
    if not rows:
        raise DataError(
            f"none of the vocabulary's {len(vocab) - 1} tokens has a vector in this file"
            " (is it for the same language and tokenizer?)",
            path,
        )

    found = torch.from_numpy(vectors[sources])  # (F, D)
    std = float(found.std()) if found.numel() > 1 else 0.0
    if not np.isfinite(std) or std <= 0.0:
        std = 1.0
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(len(vocab), vectors.shape[1], generator=generator) * std  # (V, D)
    weight[rows] = found
    weight[Vocab.PAD_ID] = 0.0
    return weight, len(rows)
