"""NgramLexicon against counting by hand: per-step log-ratios, padding, cross-fitting."""

import math
from collections import Counter

import numpy as np
import pytest
import torch

from lstmkit.nn.lexicon import NgramLexicon
from lstmkit.nn.ngrams import _MULTIPLIERS, _SALTS, ngrams_by_position

BUCKETS = 1 << 20
TEXTS = [[2, 3, 4, 2], [3, 4, 5], [2, 2, 6, 7, 3], [5, 6], [4, 4, 4], [7, 2, 3, 4, 5, 6], [6, 5], [3]]
LABELS = [0, 0, 1, 1, 2, 0, 1, 2]


def column(gram: tuple[int, ...]) -> int:
    n = len(gram)
    return (_SALTS[n - 1] + sum(w * _MULTIPLIERS[k] for k, w in enumerate(gram))) % BUCKETS


def ratios_by_hand(texts, labels, classes, max_n, alpha):
    """{n-gram tuple: [r_c for each class]} by counting which texts contain each n-gram."""
    n_texts = Counter(labels)
    df = {}
    for text, label in zip(texts, labels):
        grams = {tuple(text[i : i + n]) for n in range(1, max_n + 1) for i in range(len(text) - n + 1)}
        for gram in grams:
            df.setdefault(gram, Counter())[label] += 1
    table = {}
    for gram, counts in df.items():
        row = []
        for c in range(classes):
            rest_df = sum(counts.values()) - counts[c]
            rest_n = len(labels) - n_texts[c]
            row.append(math.log((counts[c] + alpha) / (rest_df * n_texts[c] / rest_n + alpha)))
        table[gram] = row
    return table


def padded(texts, garbage=99):
    lengths = torch.tensor([len(t) for t in texts])
    ids = torch.full((len(texts), int(lengths.max())), garbage)
    for row, text in enumerate(texts):
        ids[row, : len(text)] = torch.tensor(text)
    return ids, lengths


def test_columns_by_position_follow_the_ngram_hash():
    ids, lengths = padded(TEXTS)
    columns, inside = ngrams_by_position(ids, lengths, BUCKETS, 3)
    for row, text in enumerate(TEXTS):
        for t in range(ids.size(1)):
            for n in range(1, 4):
                assert bool(inside[row, t, n - 1]) == (t + n <= len(text))
                if t + n <= len(text):
                    assert int(columns[row, t, n - 1]) == column(tuple(text[t : t + n]))


@pytest.mark.parametrize("alpha", [0.5, 1.0])
def test_table_and_per_step_features_match_counting_by_hand(alpha):
    lexicon = NgramLexicon(BUCKETS, 3, max_n=3)
    lexicon.fit(TEXTS, LABELS, alpha=alpha, folds=1)
    by_hand = ratios_by_hand(TEXTS, LABELS, 3, 3, alpha)
    for gram, row in by_hand.items():
        np.testing.assert_allclose(lexicon.table[column(gram)].numpy(), row, rtol=1e-5)
    assert int((lexicon.table != 0).any(dim=1).sum()) <= len(by_hand)  # everything else stays 0

    ids, lengths = padded(TEXTS)  # garbage id 99 in the padding must not matter
    features = lexicon(ids, lengths)  # (B, T, 3 * 3)
    assert features.shape == (len(TEXTS), ids.size(1), 9)
    for row, text in enumerate(TEXTS):
        for t in range(ids.size(1)):
            for n in range(1, 4):
                got = features[row, t, (n - 1) * 3 : n * 3].numpy()
                expected = by_hand[tuple(text[t : t + n])] if t + n <= len(text) else [0.0, 0.0, 0.0]
                np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_unseen_ngrams_give_zero():
    lexicon = NgramLexicon(BUCKETS, 3, max_n=2)
    lexicon.fit(TEXTS, LABELS, folds=1)
    features = lexicon(torch.tensor([[40, 41, 42]]), torch.tensor([3]))
    assert torch.count_nonzero(features) == 0


def test_cross_fitting_hides_each_training_texts_own_label():
    lexicon = NgramLexicon(BUCKETS, 3, max_n=3)
    fold = lexicon.fit(TEXTS, LABELS, folds=4, seed=1)
    assert sorted(Counter(fold.tolist()).values()) == [2, 2, 2, 2]  # balanced folds
    ids, lengths = padded(TEXTS)
    seen = lexicon(ids, lengths, fold)

    for i in range(len(TEXTS)):  # relabel text i: its own cross-fitted features must not move
        relabelled = list(LABELS)
        relabelled[i] = (LABELS[i] + 1) % 3
        other = NgramLexicon(BUCKETS, 3, max_n=3)
        assert torch.equal(other.fit(TEXTS, relabelled, folds=4, seed=1), fold)
        after = other(ids, lengths, fold)
        torch.testing.assert_close(after[i], seen[i])
        assert not torch.equal(other.table, lexicon.table)  # while the full table does move

    # and each fold table is exactly the table counted without that fold's texts
    for k in range(4):
        keep = [j for j in range(len(TEXTS)) if fold[j] != k]
        alone = NgramLexicon(BUCKETS, 3, max_n=3)
        alone.fit([TEXTS[j] for j in keep], [LABELS[j] for j in keep], folds=1)
        torch.testing.assert_close(lexicon.fold_tables[k], alone.table)


def test_saved_state_is_the_full_table_only():
    lexicon = NgramLexicon(1000, 2, max_n=2)
    lexicon.fit([[2, 3], [3, 4], [4, 5], [5, 2]], [0, 1, 0, 1], folds=2)
    assert list(lexicon.state_dict()) == ["table"]
    fresh = NgramLexicon(1000, 2, max_n=2)
    fresh.load_state_dict(lexicon.state_dict())
    ids, lengths = padded([[2, 3, 4], [5]])
    torch.testing.assert_close(fresh(ids, lengths), lexicon(ids, lengths))
    with pytest.raises(RuntimeError, match="fold tables"):
        fresh(ids, lengths, torch.tensor([0, 1]))


@pytest.mark.parametrize("kwargs, match", [
    ({"buckets": 0, "num_classes": 2}, "buckets"),
    ({"buckets": 10, "num_classes": 1}, "num_classes"),
    ({"buckets": 10, "num_classes": 2, "max_n": 5}, "max_n"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NgramLexicon(**kwargs)


def test_bad_fit_arguments():
    lexicon = NgramLexicon(10, 2)
    with pytest.raises(ValueError, match="alpha"):
        lexicon.fit([[2]], [0], alpha=0)
    with pytest.raises(ValueError, match="folds"):
        lexicon.fit([[2]], [0], folds=0)
