"""Reading and writing CoNLL column files, the data format of the ``tagger`` task.

The format::

    -DOCSTART- -X- -X- O        <- skipped

    EU NNP B-NP B-ORG           <- one token per line: the token first, the tag last,
    rejects VBZ B-VP O             columns separated by whitespace (spaces or tabs)
    German JJ B-NP B-MISC
                                <- a blank (or whitespace-only) line ends a sentence
    Peter NNP B-NP B-PER
    Blackburn NNP I-NP I-PER

Columns between the first and the last are ignored (``tag_column`` picks another one). Files
are UTF-8; a byte-order mark is accepted. Lines end in ``\\n`` or ``\\r\\n``; only those end
a line (not the other Unicode line breaks :meth:`str.splitlines` knows).

Tags are any text without whitespace (part-of-speech tags: ``NN``, ``n``), but a tag written
like a tag of a scheme (``O``, or one letter and a hyphen) must be a correct one: ``I-``,
``B-`` (no type), ``X-PER`` (no such prefix) or ``O-PER`` are errors naming the file and line
(see :mod:`lstmkit.data.tagschemes`), as are a row without a tag column, undecodable bytes
and a file without any sentence. Whether the tags as a whole fit BIO, BIOES or BMES is
:func:`~lstmkit.data.tagschemes.detect_scheme`'s job.

Files are read as a stream (:func:`lstmkit.data.formats.tables.open_text`, checked block by block):
:func:`iter_conll` yields one sentence at a time, holding only it, for training data larger than
memory; :func:`read_conll` is the list of what it yields.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from lstmkit.data.formats.tables import open_text
from lstmkit.data.tagschemes import looks_like_scheme_tag, tag_problem
from lstmkit.errors import DataError
from lstmkit.files import atomic_write_text

__all__ = ["Sentences", "read_conll", "iter_conll", "read_conll_tokens", "write_conll", "DOCSTART"]

DOCSTART = "-DOCSTART-"


class Sentences(list):
    """Sentences read from a file: a plain ``list`` (of token or tag lists) that also remembers
    where each sentence starts, like :class:`lstmkit.data.formats.tables.Labels`.

    ``origins[i]`` is ``(path, line)`` of the first line of sentence ``i`` (1-based); token
    ``j`` of that sentence is on line ``line + j``.
    """

    def __init__(self, sentences=(), origins=()):
        super().__init__(sentences)
        self.origins: list[tuple[Path, int | None]] = list(origins)

    def where(self, index: int) -> tuple[Path | None, int | None]:
        """``(path, first line)`` of sentence ``index``, or ``(None, None)`` when unknown."""
        return self.origins[index] if index < len(self.origins) else (None, None)


def _rows(path: Path):
    """Yield each sentence as a list of ``(line number, columns)``; skips ``-DOCSTART-``."""
    if not path.exists():
        raise DataError("file not found", path)
    if path.is_dir():
        raise DataError("is a folder, expected a CoNLL file", path)
    sentence: list[tuple[int, list[str]]] = []
    with open_text(path, newline="\n") as lines:  # only \n ends a line (a \r before it is whitespace)
        for number, line in enumerate(lines, start=1):
            columns = line.split()
            if columns and columns[0] == DOCSTART:
                columns = []
            if columns:
                sentence.append((number, columns))
            elif sentence:
                yield sentence
                sentence = []
    if sentence:
        yield sentence


def read_conll(path: str | Path, tag_column: int = -1) -> tuple[Sentences, Sentences]:
    """Read a tagged CoNLL file.

    Args:
        path: the file.
        tag_column: the column holding the tag, 0-based, negative from the end (``-1``: the
            last; ``-2`` reads the gold tags of a file written with predictions). It can never
            be the token's column 0.

    Returns:
        ``(tokens, tags)``: two :class:`Sentences`, ``tokens[i]`` and ``tags[i]`` the
        ``n_i`` tokens and tags of sentence ``i``, in file order.

    Raises:
        DataError: naming the file (and line) for a missing file, undecodable bytes, a row
            with no tag column, a bad scheme-like tag (``I-``, ``B-``, ``X-PER``), no sentence.
    """
    tokens, tags = Sentences(), Sentences()
    for words, labels, origin in iter_conll(path, tag_column):
        tokens.append(words)
        tags.append(labels)
        tokens.origins.append(origin)
        tags.origins.append(origin)
    return tokens, tags


def iter_conll(path: str | Path, tag_column: int = -1) -> Iterator[tuple[list[str], list[str], tuple[Path, int]]]:
    """Yield ``(tokens, tags, (path, first line))`` per sentence, in file order, holding one at a time.

    The same sentences and errors as :func:`read_conll` (which lists them), raised when the
    stream reaches them.
    """
    path = Path(path)
    found = False
    for sentence in _rows(path):
        words, labels = [], []
        for number, columns in sentence:
            index = tag_column if tag_column >= 0 else len(columns) + tag_column
            if len(columns) < 2:
                raise DataError(
                    f"expected a token and a tag separated by whitespace, found one column {columns[0]!r}",
                    path, number,
                )
            if not 0 < index < len(columns):
                raise DataError(
                    f"no tag column {tag_column} in a row of {len(columns)} columns", path, number
                )
            problem = tag_problem(columns[index]) if looks_like_scheme_tag(columns[index]) else None
            if problem:
                raise DataError(problem, path, number)
            words.append(columns[0])
            labels.append(columns[index])
        found = True
        yield words, labels, (path, sentence[0][0])
    if not found:
        raise DataError("no sentences found (expected one token and its tag per line)", path)


def read_conll_tokens(path: str | Path) -> Sentences:
    """Read the tokens of a CoNLL file to tag: the first column only; other columns, when
    present, are ignored (not checked), so a file of bare tokens works.

    Raises:
        DataError: a missing file, undecodable bytes, no sentence at all.
    """
    path = Path(path)
    tokens = Sentences()
    for sentence in _rows(path):
        tokens.append([columns[0] for _, columns in sentence])
        tokens.origins.append((path, sentence[0][0]))
    if not tokens:
        raise DataError("no sentences found (expected one token per line)", path)
    return tokens


def _check_cell(value: str, what: str, index: int, position: int) -> str:
    if not isinstance(value, str) or not value or value.split() != [value]:
        raise ValueError(
            f"sentence {index + 1}, token {position + 1}: {what} {value!r} cannot be written to "
            "CoNLL (it must be a non-empty string without whitespace)"
        )
    return value


def write_conll(
    path: str | Path,
    tokens: Sequence[Sequence[str]],
    tags: Sequence[Sequence[str]] | None,
    predicted: Sequence[Sequence[str]] | None = None,
) -> Path:
    """Write sentences as CoNLL: ``token tag`` per line (``token tag predicted`` with
    ``predicted``; ``token predicted`` when ``tags`` is None), a blank line after each sentence.

    Columns are separated by one space. The file is written to a temporary name and renamed
    into place (never half-written) with the mode the umask gives (0644 under 022).
    :func:`read_conll` reads it back (``tag_column=-2`` for the gold tags of a file with
    predictions).

    Returns:
        ``path``.

    Raises:
        ValueError: sentence or token counts that differ between the columns, an empty
            sentence, or a token or tag that is empty, holds whitespace, or is ``-DOCSTART-``.
    """
    named = (("token", tokens), ("tag", tags), ("predicted tag", predicted))
    columns = [(name, column) for name, column in named if column is not None]
    if len(columns) < 2:
        raise ValueError("write_conll needs tags or predicted tags")
    for name, column in columns[1:]:
        if len(column) != len(tokens):
            raise ValueError(f"{len(tokens)} sentences of tokens but {len(column)} of {name}s")
    lines = []
    for index, row in enumerate(zip(*(column for _, column in columns))):
        if not row[0]:
            raise ValueError(f"sentence {index + 1} is empty (CoNLL cannot hold an empty sentence)")
        for (name, _), cells in zip(columns[1:], row[1:]):
            if len(cells) != len(row[0]):
                raise ValueError(f"sentence {index + 1}: {len(row[0])} tokens but {len(cells)} {name}s")
        for position, cells in enumerate(zip(*row)):
            if cells[0] == DOCSTART:
                raise ValueError(
                    f"sentence {index + 1}, token {position + 1}: {DOCSTART!r} would be skipped on reading"
                )
            lines.append(" ".join(_check_cell(v, name, index, position) for (name, _), v in zip(columns, cells)))
        lines.append("")
    return atomic_write_text(path, "\n".join(lines) + "\n" if lines else "")
