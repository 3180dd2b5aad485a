"""The tagger's one training path: sentences streamed into a token store, features and batches made from ids.

References: the tagger's own encoding of a sentence (``_encode`` + ``_collate``, what prediction
uses) for every training batch, ``Vocab.build`` on the lists for every vocabulary,
``random_split`` for the held-out rows, and the same training from a CoNLL file and from lists.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import task_cases  # noqa: F401  (first: it imports every task_case_*.py)
import torch
from task_case_tagger import tiny_ner

from lstmkit import Tagger
from lstmkit.data.formats.conll import read_conll, write_conll
from lstmkit.data.formats.tables import DataFile
from lstmkit.data.splits import random_split
from lstmkit.data.tagschemes import bio_to_bioes, bmes_tags
from lstmkit.data.vocab import Vocab
from lstmkit.errors import DataError
from lstmkit.tasks.tagger.data import END, MAX_CHARS
from lstmkit.tasks.tagger.dictionary import fold_of

TINY = dict(embedding_dim=8, hidden_size=8, batch_size=8, epochs=1, lr=0.02, patience=0, bigram_dim=0, dictionary=None,
            scheduler="none")  # cheap settings, not the defaults


def segmented(n: int, seed: int):
    """Chinese sentences as characters with BMES tags (a few words, some long ones cut by MAX_CHARS)."""
    rng = random.Random(seed)
    words = ["上海", "是", "中国", "的", "城市", "北京", "首都", "人民", "很", "好", "中华人民共和国"]
    sentences = [[rng.choice(words) for _ in range(rng.randint(1, 6))] for _ in range(n)]
    return [list("".join(s)) for s in sentences], [bmes_tags(s) for s in sentences]


def mixed_case(n: int, seed: int):
    """English NER with upper and lower case (``data.lowercase`` merges them) and a long word."""
    tokens, tags = tiny_ner(n, seed)
    rng = random.Random(seed)
    tokens = [[t.upper() if rng.random() < 0.3 else t for t in row] for row in tokens]
    tokens = [row + ["Supercalifragilisticexpialidocious"] if i % 7 == 0 else row for i, row in enumerate(tokens)]
    tags = [row + ["O"] if i % 7 == 0 else row for i, row in enumerate(tags)]
    return tokens, tags


CASES = {
    "bmes-dictionary-bigrams": (segmented, dict(dictionary="training", bigram_dim=4, bigram_min_freq=1)),
    "bio-as-bioes-chars-lowercase": (mixed_case, dict(train_scheme="BIOES", char_features="cnn", char_dim=4,
                                                      char_hidden=4, lowercase=True, bigram_dim=4, min_freq=2)),
    "ppmi-max-vocab": (mixed_case, dict(embedding_init="ppmi", max_vocab=9, char_features="lstm", char_dim=4,
                                        char_hidden=4)),
}


def reference_batch(tagger, sentences, tags, indices, train):
    """The batch the tagger's own per-sentence encoding gives (prediction's path), with the tags."""
    folds = tagger.config_.model.dictionary_folds
    items = [tagger._encode(list(sentences[i]),
                            fold_of(sentences[i], folds) if train and tagger.dictionary_ is not None else None)
             for i in indices]
    index = {t: k for k, t in enumerate(tagger.tags_)}
    convert = bio_to_bioes if tagger.model_scheme_ != tagger.scheme_ else list
    return tagger._collate(items, [[index[t] for t in convert(tags[i])] for i in indices])


@pytest.mark.parametrize("case", sorted(CASES))
def test_training_batches_are_the_sentences_own_encoding(case):
    """Bugs caught: a feature made from the ids that differs from the tagger's encoding of the
    words (lower-casing, the bigram after the last token, a word cut by MAX_CHARS, a training
    sentence's dictionary fold, BIO -> BIOES), rows and tags misaligned, vocabularies not
    ``Vocab.build``'s on the training sentences alone."""
    make, params = CASES[case]
    sentences, tags = make(90, seed=1)
    tagger = Tagger(**{**TINY, **params})
    tagger.config_ = tagger.resolved_config()
    data = tagger.config_.data
    with tagger._training_data(sentences, tags, None, None) as (rows, view, valid_rows, valid_view):
        tagger._prepare(rows, view)
        kept = rows.index.tolist()
        kept_sentences = [sentences[i] for i in kept]
        lookup = (lambda s: [t.lower() for t in s]) if data.lowercase else list
        assert tagger.vocab_ == Vocab.build([lookup(s) for s in kept_sentences], min_freq=data.min_freq,
                                            max_size=data.max_vocab)
        if tagger.bigram_vocab_ is not None:
            assert tagger.bigram_vocab_ == Vocab.build(
                [[f"{a} {b}" for a, b in zip(s, [*s[1:], END])] for s in kept_sentences],
                min_freq=tagger.config_.model.bigram_min_freq)
        if tagger.char_vocab_ is not None:
            assert tagger.char_vocab_ == Vocab.build([list(t) for s in kept_sentences for t in s])
        for loader_rows, loader_view, train, order in ((rows, view, True, kept),
                                                       (valid_rows, valid_view, False, valid_rows.index.tolist())):
            loader = tagger._loader(loader_rows, loader_view, train=train)
            seen = []
            for indices, batch in zip(loader.batch_sampler, loader):
                expected = reference_batch(tagger, sentences, tags, [order[i] for i in indices], train)
                assert set(batch) == set(expected)
                for key in expected:
                    assert torch.equal(batch[key], expected[key]), (case, key)
                seen += indices
            assert sorted(seen) == list(range(len(order)))


def test_training_from_a_file_and_from_lists_gives_identical_weights(tmp_path):
    """Bug caught: the CoNLL file and the lists training differently (a reader that drops or
    changes a sentence, a split or vocabulary that depends on the source)."""
    sentences, tags = segmented(80, seed=3)
    path = write_conll(tmp_path / "train.conll", sentences, tags)
    params = dict(TINY, dictionary="training", bigram_dim=4)
    from_file = Tagger(**params).fit(DataFile(path))
    for other in (Tagger(**params).fit(sentences, tags), Tagger(**params).fit(*read_conll(path))):
        for (name, a), (_, b) in zip(from_file.network_.state_dict().items(), other.network_.state_dict().items()):
            assert torch.equal(a, b), name
    valid = segmented(20, seed=4)
    a = Tagger(**params).fit(DataFile(path), valid=DataFile(write_conll(tmp_path / "valid.conll", *valid)))
    b = Tagger(**params).fit(sentences, tags, valid=valid)
    for (name, x), (_, y) in zip(a.network_.state_dict().items(), b.network_.state_dict().items()):
        assert torch.equal(x, y), name


def test_the_held_out_rows_are_random_splits():
    sentences, tags = tiny_ner(137, seed=2)
    tagger = Tagger(**TINY)
    tagger.config_ = tagger.resolved_config()
    with tagger._training_data(sentences, tags, None, None) as (rows, view, valid_rows, _):
        kept, held = random_split(137, tagger.validation_fraction, tagger.config_.train.seed)
        assert rows.index.tolist() == kept and valid_rows.index.tolist() == held
        assert list(view) == [tags[i] for i in kept]


def test_tag_errors_name_the_file_and_line(tmp_path):
    """Bugs caught: a streamed sentence's tag error losing its file and line (held-out sentences
    too), a tag the training data lacks slipping through validation."""
    train = tmp_path / "train.conll"
    train.write_text("Anna B-PER\nleft O\n\nRome B-LOC\n\nJohn PER\nsaw O\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{train}, line 6: .*'PER'"):
        Tagger(**TINY).fit(DataFile(train), valid=([["x"]], [["O"]]))
    sentences, tags = tiny_ner(30, seed=0)
    valid = tmp_path / "valid.conll"
    valid.write_text("Anna B-PER\n\nRome B-LOC\nis O\nbig B-SIZE\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{valid}, line 5: unknown tag 'B-SIZE'; the model knows: O, B-LOC, B-PER"):
        Tagger(**TINY).fit(sentences, tags, valid=DataFile(valid))


def test_the_store_goes_away_after_training(tmp_path):
    sentences, tags = tiny_ner(40, seed=0)
    Tagger(**TINY).fit(sentences, tags, out_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "store").exists()
    assert np.all([p.suffix not in (".i32", ".u1") for p in (tmp_path / "run").rglob("*")])
    assert MAX_CHARS == 20  # the reference batches above cut long words where training does


MEMORY_SCRIPT = """
import resource, sys
import lstmkit.data.store.tokens as token_store
token_store.CHUNK = 1 << 14  # chunks the smaller file already fills: what is left to grow is kept per row
from lstmkit.cli import main
sys.argv = ["lstmkit", "train", "tagger", "--train", sys.argv[1], "--out", sys.argv[2], "--epochs", "1",
            "--set", "model.embedding_dim=8", "--set", "model.hidden_size=8", "--set", "train.batch_size=128",
            "--set", "model.bigram_dim=4", "--set", "model.char_features=cnn", "--set", "model.dictionary=none"]
try:
    main()
except SystemExit as done:
    assert not done.code, done.code
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_rss_kib(tmp_path, n: int) -> int:
    import os
    import subprocess
    import sys

    rng = random.Random(0)
    words = ["visited", "left", "loves", "saw", "today", "the", "city", "of", "and", "then", "went", "home"]
    path = tmp_path / f"train-{n}.conll"
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(n):
            rows = [(rng.choice(["Anna", "Peter", "Maria"]), "B-PER"), *[(rng.choice(words), "O") for _ in range(20)],
                    (rng.choice(["Paris", "Rome"]), "B-LOC")]
            f.write("".join(f"{token} {tag}\n" for token, tag in rows) + "\n")
    done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(path), str(tmp_path / f"run-{n}")],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.skipif(__import__("sys").platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_training_memory_does_not_grow_with_the_sentences(tmp_path):
    """Bug caught: the training path holding every sentence's encoded features or tags as Python
    lists (measured: before the store, peak RSS grew 108 MB from 2,000 to 20,000 sentences of 22
    tokens with bigrams and char features; with it about 5 MB)."""
    small, large = _peak_rss_kib(tmp_path, 2_000), _peak_rss_kib(tmp_path, 20_000)
    assert large - small < 20 * 1024, f"peak RSS {small / 1024:.0f} MB -> {large / 1024:.0f} MB"


@pytest.mark.parametrize("block", [1, 2, 5])
def test_conll_read_a_block_at_a_time_gives_the_same_sentences_and_lines(tmp_path, monkeypatch, block):
    """Bug caught: a streamed CoNLL file losing a sentence break or a line at a block's end."""
    from lstmkit.data.formats import tables as readers

    path = tmp_path / "a.conll"
    path.write_bytes("\ufeff-DOCSTART- O\r\n\r\n张 B-PER\r\n三 I-PER\r\n\r\n\r\n在 O\n北京 B-LOC\n".encode("utf-8"))
    whole = read_conll(path)
    monkeypatch.setattr(readers, "_BLOCK", block)
    streamed = read_conll(path)
    assert streamed == whole == ([["张", "三"], ["在", "北京"]], [["B-PER", "I-PER"], ["O", "B-LOC"]])
    assert streamed[0].origins == whole[0].origins == [(path, 3), (path, 7)]
