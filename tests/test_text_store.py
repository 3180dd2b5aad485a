"""The text classifier's one training path: data streamed into a token store, every consumer reading ids.

References: the reader reading a file whole, ``stratified_split`` and ``Vocab.build`` on the lists,
the n-gram and lexicon counts and the co-occurrence counts on lists (and by hand), scikit-learn's
``LogisticRegression``, ``BucketBatchSampler``; and the same training from a file and from lists.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from textdata import english_reviews, write_csv

from lstmkit import TextClassifier
from lstmkit.data import cooccurrence
from lstmkit.data.batching import BucketBatchSampler
from lstmkit.data.formats import tables as readers
from lstmkit.data.formats.tables import DataFile, read_text_classification
from lstmkit.data.splits import _n_held, stratified_split, stratified_split_groups
from lstmkit.data.store.csr import CsrWriter
from lstmkit.data.store.folder import STORE_DIR, training_store_folder
from lstmkit.data.store.rows import StoreBatchSampler, StoreRows
from lstmkit.data.store.tokens import StoreBuilder, count_tokens
from lstmkit.data.tokenizers import make_tokenizer, resolve_tokenizer_name
from lstmkit.data.vocab import Vocab
from lstmkit.errors import ConfigError, DataError
from lstmkit.nn.lexicon import NgramLexicon
from lstmkit.nn.ngrams import (
    _MULTIPLIERS,
    _SALTS,
    NgramTfidf,
    distinct_ngrams,
    tfidf_matrix,
    write_tfidf_matrix,
)
from lstmkit.tasks.text import regression
from lstmkit.tasks.text.data import mostly_cjk

TINY = dict(embedding_dim=8, hidden_size=8, ngram_buckets=2000, lexicon_buckets=2000, batch_size=16, epochs=1,
            lr=0.01, scheduler="none", patience=0, unlabeled_text=None)


def store_of(id_lists, folder: Path) -> StoreRows:
    """Token-id lists as the rows of a store (token ``str(i)`` gets id ``i``)."""
    ids = {str(i): i for i in range(max((max(s) for s in id_lists if s), default=0) + 1)}
    with StoreBuilder(folder, token_ids=ids) as builder:
        for s in id_lists:
            builder.add([str(i) for i in s])
    return StoreRows(builder.store)


# ---------------------------------------------------------------------- one path: file = lists
def test_training_from_a_file_and_from_lists_gives_identical_weights(tmp_path):
    """Bug caught: the file path and the Python-list path training differently (a different
    split, vocabulary or label order; a reader that drops or changes a row)."""
    texts, labels = english_reviews(120)
    path = write_csv(tmp_path / "train.csv", texts, labels)
    from_file = TextClassifier(**TINY).fit(DataFile(path))
    from_lists = TextClassifier(**TINY).fit(texts, labels)
    from_read = TextClassifier(**TINY).fit(*read_text_classification(path))
    for other in (from_lists, from_read):
        assert other.vocab_ == from_file.vocab_ and other.labels_ == from_file.labels_
        for (name, a), (_, b) in zip(from_file.network_.state_dict().items(), other.network_.state_dict().items()):
            assert torch.equal(a, b), name
    valid = english_reviews(30, seed=9)
    valid_path = write_csv(tmp_path / "valid.csv", *valid)
    a = TextClassifier(**TINY).fit(DataFile(path), valid=DataFile(valid_path))
    b = TextClassifier(**TINY).fit(texts, labels, valid=valid)
    for (name, x), (_, y) in zip(a.network_.state_dict().items(), b.network_.state_dict().items()):
        assert torch.equal(x, y), name
    assert a.valid_metrics_ == b.valid_metrics_


def test_the_held_out_rows_are_the_classifiers_stratified_split(tmp_path):
    """Bug caught: the store's split differing from ``Classifier.split_validation`` on the labels
    (groups ordered by id instead of by the labels' text, another use of the random numbers)."""
    rng = random.Random(3)
    texts = [f"text {i} " + rng.choice(["good", "bad", "fine"]) for i in range(157)]
    labels = [rng.choice([3, 10, 9, 10, 10]) for _ in texts]  # "10" sorts before "9" as text
    clf = TextClassifier(**TINY)
    clf.config_ = clf.resolved_config()
    with clf._training_data(texts, labels, None, None) as (rows, y, valid_rows, valid_y):
        kept, held = clf.split_validation(texts, labels, clf.validation_fraction, clf.config_.train.seed)
        assert rows.index.tolist() == kept and valid_rows.index.tolist() == held
        assert [clf.labels_[i] for i in y] == [labels[i] for i in kept]
        assert [clf.labels_[i] for i in valid_y] == [labels[i] for i in held]


def list_stratified_split(labels, fraction, seed):
    """The reference: the stratified split as it was written on Python lists (before the array
    version replaced it), with the same draws from ``random.Random(seed)``."""
    wanted = _n_held(len(labels), fraction)
    by_label: dict = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    capacity = {label: len(items) - 1 for label, items in by_label.items()}
    if sum(capacity.values()) == 0:
        raise ConfigError("cannot hold out validation data: every label has a single example; "
                          "give more examples or a validation file (--valid)")
    wanted = min(wanted, sum(capacity.values()))
    share = {label: fraction * len(items) for label, items in by_label.items()}
    count = {label: min(capacity[label], math.floor(share[label])) for label in by_label}
    rng = random.Random(seed)
    ranked = sorted(by_label, key=lambda label: (-(share[label] - math.floor(share[label])), rng.random()))
    while sum(count.values()) < wanted:
        for label in ranked:
            if sum(count.values()) < wanted and count[label] < capacity[label]:
                count[label] += 1
    while sum(count.values()) > wanted:
        label = max(count, key=lambda lab: (count[lab], rng.random()))
        count[label] -= 1
    kept, held = [], []
    for label in sorted(by_label, key=repr):
        items = list(by_label[label])
        rng.shuffle(items)
        held += items[: count[label]]
        kept += items[count[label]:]
    return sorted(kept), sorted(held)


@pytest.mark.parametrize("seed", range(40))
def test_stratified_split_of_groups_equals_stratified_split(seed):
    rng = random.Random(seed)
    keys = rng.sample(["pos", "neg", "10", "9", "1", "mid", "x"], rng.randint(1, 5))
    n = rng.randint(2, 200)
    names = [rng.choice(keys) for _ in range(n)]
    fraction = rng.choice([0.1, 0.2, 0.33, 0.5])
    try:
        expected = list_stratified_split(names, fraction, seed)
    except Exception as error:  # noqa: BLE001 - the same error is expected
        with pytest.raises(type(error), match=re.escape(str(error))):
            stratified_split_groups(np.array([keys.index(k) for k in names]), keys, fraction, seed)
        with pytest.raises(type(error), match=re.escape(str(error))):
            stratified_split(names, fraction, seed)
        return
    kept, held = stratified_split_groups(np.array([keys.index(k) for k in names]), keys, fraction, seed)
    assert (kept.tolist(), held.tolist()) == expected
    assert stratified_split(names, fraction, seed) == expected


@pytest.mark.parametrize("settings", [{}, {"min_freq": 2}, {"max_vocab": 12}, {"tokenizer": "word"},
                                      {"max_length": 3}])
def test_the_vocabulary_is_built_from_the_training_rows_only(settings):
    """Bugs caught: held-out texts counted into the vocabulary, ties ranked by id instead of by
    first appearance among the training rows, ``max_length`` not cutting the counts, a fixed
    tokenizer crashing the ``auto`` vote."""
    texts, labels = english_reviews(200, seed=4)
    clf = TextClassifier(**TINY, **settings)
    clf.config_ = clf.resolved_config()
    data = clf.config_.data
    with clf._training_data(texts, labels, None, None) as (rows, _, valid_rows, _):
        kept_texts = [texts[i] for i in rows.index]
        tokenizer = make_tokenizer("word", lowercase=data.lowercase, keep_punctuation=data.keep_punctuation)
        tokens = [tokenizer(t)[: data.max_length] for t in kept_texts]
        expected = Vocab.build(tokens, min_freq=data.min_freq, max_size=data.max_vocab)
        assert clf.vocab_ == expected
        assert [rows[i].tolist() for i in range(len(rows))] == [expected.encode(t) for t in tokens]
        held_texts = [texts[i] for i in valid_rows.index]
        assert [valid_rows[i].tolist() for i in range(len(valid_rows))] == clf.encode(held_texts)


def test_the_auto_tokenizer_votes_on_the_sample_resolve_tokenizer_name_takes(tmp_path):
    """Bug caught: the tokenizer chosen from the first rows read (the stream's guess) when the
    texts sampled over the whole training data vote otherwise; the file is then read again."""
    chinese = ["房间很干净服务热情", "太失望了质量很差"] * 500  # the first 1,000 rows
    english = [t for t in english_reviews(2000, seed=2)[0]]
    texts = chinese + english
    labels = ["pos", "neg"] * 500 + english_reviews(2000, seed=2)[1]
    path = write_csv(tmp_path / "mixed.csv", texts, labels)
    clf = TextClassifier(**TINY)
    clf.config_ = clf.resolved_config()
    with clf._training_data(DataFile(path), None, None, None) as (rows, _, _, _):
        kept = [texts[i] for i in rows.index]
        assert clf.tokenizer_.to_config()["name"] == resolve_tokenizer_name(kept) == "word"
        assert clf.vocab_ == Vocab.build([clf.tokenizer_(t) for t in kept])
    assert [mostly_cjk(t) for t in ["好好 ok", "ok 好", "", "１２３", "カタカナ・abc"]] == \
        [resolve_tokenizer_name([t]) == "char" for t in ["好好 ok", "ok 好", "", "１２３", "カタカナ・abc"]]


def test_an_unknown_validation_label_names_its_example_or_its_line(tmp_path):
    texts, labels = english_reviews(40)
    with pytest.raises(DataError, match=r"unknown label 'meh' in example 2; the model knows: neg, pos"):
        TextClassifier(**TINY).fit(texts, labels, valid=(["good", "so so", "bad"], ["pos", "meh", "neg"]))
    valid = write_csv(tmp_path / "valid.csv", ["good", "so so", "meh again"], ["pos", "meh", "meh"])
    with pytest.raises(DataError, match=r"valid\.csv, line 3: unknown label 'meh'"):
        TextClassifier(**TINY).fit(texts, labels, valid=DataFile(valid))


# ---------------------------------------------------------------------- counts from the store
def ngram_columns(text, max_n, buckets):
    """The hashed columns of a text's 1..max_n-grams, by hand."""
    return {(_SALTS[n - 1] + sum(w * _MULTIPLIERS[k] for k, w in enumerate(text[i:i + n]))) % buckets
            for n in range(1, max_n + 1) for i in range(len(text) - n + 1)}


@pytest.fixture
def id_lists():
    rng = np.random.default_rng(0)
    return [rng.integers(2, 40, rng.integers(0, 12)).tolist() for _ in range(300)]


def test_lexicon_and_ngram_tables_from_a_store_equal_counting_lists(id_lists, tmp_path):
    """Bugs caught: a chunked count missing texts at a chunk's edge, rows misaligned with their
    labels or folds, the TF-IDF matrix written out of order."""
    rows = store_of(id_lists, tmp_path / "s")
    labels = np.random.default_rng(1).integers(0, 3, len(id_lists))
    stored, listed = NgramLexicon(4096, 3, 3), NgramLexicon(4096, 3, 3)
    folds = stored.fit(rows, labels, folds=5, seed=7)
    assert torch.equal(folds, listed.fit(id_lists, labels, folds=5, seed=7))
    assert torch.equal(stored.table, listed.table) and torch.equal(stored.fold_tables, listed.fold_tables)
    from lstmkit.nn.lexicon import document_frequencies

    group = folds.numpy() * 3 + labels
    df = document_frequencies(rows, group, 15, 4096, 3, batch_size=7)
    by_hand = np.zeros((15, 4096), dtype=np.int64)
    for text, g in zip(id_lists, group):
        for c in ngram_columns(text or [Vocab.UNK_ID], 3, 4096):  # an empty text reads as one <unk>
            by_hand[g, c] += 1
    np.testing.assert_array_equal(df, by_hand)

    layer = NgramTfidf(4096, 3, 3)
    layer.fit_idf(rows)
    reference = NgramTfidf(4096, 3, 3)
    reference.fit_idf(id_lists)
    assert torch.equal(layer.idf, reference.idf)
    mapped = write_tfidf_matrix(layer, rows, tmp_path / "tfidf", batch_size=13).matrix()
    whole = tfidf_matrix(reference, id_lists)
    for part in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(getattr(mapped, part), getattr(whole, part))
    by_hand = len({tuple(t[i:i + n]) for t in id_lists for n in (1, 2, 3) for i in range(len(t) - n + 1)})
    assert distinct_ngrams(rows, 3, chunk=17) == distinct_ngrams(id_lists, 3) == by_hand


def test_cooccurrence_counts_from_a_store_equal_counting_by_hand(id_lists, tmp_path, monkeypatch):
    """Bugs caught: pairs counted across two texts (or across a chunk's edge), a chunk dropped."""
    rows = store_of(id_lists, tmp_path / "s")
    whole = cooccurrence.cooccurrence_counts(id_lists, 40)
    same = cooccurrence.cooccurrence_counts(rows, 40)  # one chunk: the very same sums
    np.testing.assert_array_equal(same.toarray(), whole.toarray())
    monkeypatch.setattr(cooccurrence, "CHUNK_TOKENS", 50)
    chunked = cooccurrence.cooccurrence_counts(rows, 40).toarray()
    by_hand = np.zeros((40, 40))
    for text in id_lists:
        for i, a in enumerate(text):
            for d in range(1, 5):
                if i + d < len(text) and a > 1 and text[i + d] > 1:
                    by_hand[a, text[i + d]] += 1 / d
                    by_hand[text[i + d], a] += 1 / d
    np.testing.assert_allclose(chunked, by_hand, rtol=1e-12)


def test_token_counts_of_selected_rows(id_lists, tmp_path, monkeypatch):
    """Bug caught: counts or first appearances taken over all rows when a selection is asked."""
    from lstmkit.data.store import tokens as token_store

    monkeypatch.setattr(token_store, "CHUNK", 30)
    rows = store_of(id_lists, tmp_path / "s")
    chosen = np.flatnonzero(np.arange(len(id_lists)) % 3 != 1)
    counts, first = count_tokens(rows.store, 40, chosen)
    flat = [i for r in chosen for i in id_lists[r]]
    assert counts.tolist() == [Counter(flat)[i] for i in range(40)]
    assert [first[i] for i in range(40) if counts[i]] == [flat.index(i) for i in range(40) if counts[i]]


def test_store_rows_read_blocks_and_selections(id_lists, tmp_path):
    rows = store_of(id_lists, tmp_path / "s")
    picked = rows.select(np.array([5, 6, 7, 100, 3]))
    assert [picked[i].tolist() for i in range(5)] == [id_lists[i] for i in (5, 6, 7, 100, 3)]
    assert picked.lengths.tolist() == [len(id_lists[i]) for i in (5, 6, 7, 100, 3)]
    sub = rows.select(np.arange(0, 300, 2))
    got = []
    for start, ids, lengths in sub.blocks(max_tokens=25):
        assert start == len(got)
        got += np.split(ids, np.cumsum(lengths)[:-1]) if len(lengths) else []
    assert [g.tolist() for g in got] == [id_lists[i] for i in range(0, 300, 2)]
    with pytest.raises(IndexError):
        sub[150]


# ---------------------------------------------------------------------- the n-gram regression
@pytest.mark.parametrize("classes", [2, 3])
def test_the_regression_is_scikit_learns_in_memory_and_its_objective_out_of_core(tmp_path, monkeypatch, classes):
    """Bugs caught: the out-of-core gradient or loss wrong (a block's rows misaligned with their
    labels, the penalty on the intercept, the binary case's single weight vector)."""
    from scipy.special import logsumexp
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(classes)
    X = sp.random(400, 200, density=0.05, format="csr", random_state=1, dtype=np.float32)
    X.sort_indices()
    y = (X @ rng.normal(size=(200, classes)) + rng.normal(size=(400, classes))).argmax(1)
    writer = CsrWriter(tmp_path / "m", 200)
    coo = X.tocoo()
    writer.add(coo.row, coo.col, coo.data, 400)
    mapped = writer.close()
    reference = LogisticRegression(C=8.0, max_iter=2000).fit(X, y)
    coef, intercept = regression.fit_logistic_regression(mapped, y, classes, 8.0)
    np.testing.assert_array_equal(coef, reference.coef_)
    np.testing.assert_array_equal(intercept, reference.intercept_)

    monkeypatch.setattr(regression, "BLOCK_NONZERO", 300)
    coef, intercept = regression.fit_logistic_regression(mapped, y, classes, 8.0, in_memory_nonzero=0)

    def objective(c, b):
        z = X @ c.T + b
        if classes == 2:
            z = np.concatenate([np.zeros_like(z), z], axis=1)
        return np.mean(logsumexp(z, axis=1) - z[np.arange(len(y)), y]) + 0.5 / (8.0 * len(y)) * np.sum(
            c.astype(np.float64) ** 2)

    best = LogisticRegression(C=8.0, max_iter=20000, tol=1e-10).fit(X, y)
    optimum = objective(best.coef_, best.intercept_)
    assert objective(coef, intercept) - optimum <= 1.5 * (objective(reference.coef_, reference.intercept_) - optimum)
    from scipy.special import softmax

    def proba(c, b):
        z = X @ c.T + b
        return softmax(np.concatenate([np.zeros_like(z), z], axis=1) if classes == 2 else z, axis=1)

    np.testing.assert_allclose(proba(coef, intercept), proba(reference.coef_, reference.intercept_), atol=0.02)


# ---------------------------------------------------------------------- batches, reading, the folder
@pytest.mark.parametrize("shuffle", [True, False])
def test_store_batches_are_the_bucket_samplers(shuffle):
    lengths = np.random.default_rng(0).integers(1, 30, 1003)
    ours, reference = StoreBatchSampler(lengths, 16, shuffle, seed=4), BucketBatchSampler(lengths, 16, shuffle, seed=4)
    for epoch in range(3):
        ours.set_epoch(epoch)
        reference.set_epoch(epoch)
        assert list(ours) == list(reference)
    assert len(ours) == len(reference)


CONTENTS = [
    "text,label\n" + "".join(f"\"{'房间很干净，' * (i % 7)}line {i}\r\nsecond\",{'pos' if i % 2 else 'neg'}\r\n"
                             for i in range(60)),
    "\ufefftext,label\rold mac,pos\rline,neg\r",
    "text,label\n" + "é" * 50 + ",pos\n" + "x,\xff\n",
]


@pytest.mark.parametrize("block", [1, 2, 3, 5, 64])
@pytest.mark.parametrize("content", CONTENTS)
def test_reading_a_block_at_a_time_reads_what_the_whole_file_holds(tmp_path, monkeypatch, content, block):
    """Bugs caught: a character or a CRLF cut by a block's end read wrongly, line numbers shifted."""
    path = tmp_path / "a.csv"
    path.write_bytes(content.encode("utf-8"))
    whole = read_text_classification(path)
    monkeypatch.setattr(readers, "_BLOCK", block)
    got = read_text_classification(path)
    assert got == whole and got[1].origins == whole[1].origins


@pytest.mark.parametrize("block", [1, 3, 7, 1 << 20])
@pytest.mark.parametrize("bad, at", [(b"\xe6\x88", 30), (b"\x00", 41), (b"\xff", 17), (b"\xe6", None)])
def test_bad_bytes_are_reported_where_the_whole_file_check_reports_them(tmp_path, monkeypatch, block, bad, at):
    """Bug caught: a byte offset or line counted from the block instead of the file."""
    good = "text,label\n好的,pos\r\nok,neg\n\"two\nlines\",pos\n".encode() * 2
    data = good + bad if at is None else good[:at] + bad + good[at:]
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\xef\xbb\xbf" + data)
    with pytest.raises(DataError) as whole:
        readers.decode_text(path)
    monkeypatch.setattr(readers, "_BLOCK", block)
    with pytest.raises(DataError) as streamed:
        read_text_classification(path)
    assert str(streamed.value) == str(whole.value)


def test_the_store_lives_in_the_run_folder_while_training_and_goes_away(tmp_path):
    """Bugs caught: a store left in the run folder (or the model folder) after training, a
    killed run's store never cleaned up, a live process's store removed."""
    texts, labels = english_reviews(60)
    out = tmp_path / "run"
    (out / STORE_DIR / f"{_host()}-999999999-dead").mkdir(parents=True)  # a killed run's
    (out / STORE_DIR / f"{_host()}-{os.getppid()}-alive").mkdir()  # another live process's
    seen = []

    def during(estimator, epoch, seconds):
        seen.extend(sorted(p.relative_to(out).as_posix() for p in (out / STORE_DIR).glob("*/train/store.json")))

    clf = TextClassifier(**TINY)
    clf.fit(texts, labels, out_dir=out, epoch_callback=during)
    assert len(seen) == 1 and seen[0].startswith(f"{STORE_DIR}/{_host()}-{os.getpid()}-")
    assert sorted(p.name for p in (out / STORE_DIR).iterdir()) == [f"{_host()}-{os.getppid()}-alive"]
    clf.save(out / "model")
    assert not any(p.name in ("ids.i32", "store.json") for p in (out / "model").rglob("*"))
    with training_store_folder(None) as scratch:
        assert scratch.is_dir()
    assert not scratch.exists()


def _host() -> str:
    import socket

    return socket.gethostname().replace("-", "_")


# ---------------------------------------------------------------------- memory
MEMORY_SCRIPT = textwrap.dedent("""
    import resource, sys
    import lstmkit.data.cooccurrence as cooccurrence, lstmkit.data.store.tokens as token_store
    import lstmkit.nn.ngrams as ngrams, lstmkit.tasks.text.regression as regression
    # chunk sizes lowered so that the smaller file already fills every chunk (their memory is
    # the same at any size): what is left to grow is what is kept per row
    regression.IN_MEMORY_NONZERO, regression.BLOCK_NONZERO = 0, 1 << 17
    cooccurrence.CHUNK_TOKENS, token_store.CHUNK, ngrams.DISTINCT_CHUNK = 1 << 15, 1 << 14, 256
    from lstmkit.cli import main
    sys.argv = ["lstmkit", "train", "text-classifier", "--train", sys.argv[1], "--out", sys.argv[2], "--epochs", "1",
                "--set", "model.embedding_dim=8", "--set", "model.hidden_size=8", "--set", "train.batch_size=128"]
    try:
        main()
    except SystemExit as done:
        assert not done.code, done.code
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")
WORDS = ["good", "great", "fine", "lovely", "clean", "bad", "awful", "poor", "dirty", "rude", "the", "room", "was",
         "and", "staff", "very", "food", "a", "hotel", "bed", "view", "quiet", "loud", "slow", "fast"]


def _peak_rss_kib(tmp_path: Path, n: int) -> int:
    rng = random.Random(0)
    rows = []
    for _ in range(n):
        label = rng.choice(["pos", "neg"])
        words = rng.choices(WORDS, k=40)
        words[rng.randrange(40)] = "good" if label == "pos" else "bad"
        rows.append((" ".join(words), label))
    path = write_csv(tmp_path / f"train-{n}.csv", *zip(*rows))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(path), str(tmp_path / f"run-{n}")],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux")
def test_training_memory_does_not_grow_with_the_rows(tmp_path):
    """Bug caught: anything on the training path holding the texts, their tokens or per-text Python
    objects (measured: the in-memory path before the store grew 313 MB from 2,000 to 20,000 texts
    of 40 words; the store's path grows about 9 MB, the per-row numbers: labels, lengths, folds).
    Peak RSS of ``lstmkit train text-classifier --epochs 1`` in a fresh process each."""
    small, large = _peak_rss_kib(tmp_path, 2_000), _peak_rss_kib(tmp_path, 20_000)
    assert large - small < 20 * 1024, f"peak RSS {small / 1024:.0f} MB -> {large / 1024:.0f} MB"


@pytest.mark.parametrize("block", [1, 2, 3, 7])
def test_json_lines_read_a_block_at_a_time_end_records_at_newlines_only(tmp_path, monkeypatch, block):
    """Bug caught: a streamed JSON Lines file split at U+2028 or a lone CR (a record's text cut),
    or at a block's end."""
    rows = [{"text": "line\u2028separator 房间", "label": "pos"}, {"text": "cr\rinside", "label": "neg"}]
    path = tmp_path / "a.jsonl"
    path.write_bytes(("\r\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\r\n\n").encode("utf-8"))
    whole = read_text_classification(path)
    monkeypatch.setattr(readers, "_BLOCK", block)
    assert read_text_classification(path) == whole == ([r["text"] for r in rows], ["pos", "neg"])
