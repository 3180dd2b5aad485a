"""The hashed TF-IDF n-gram layer against scikit-learn's TfidfVectorizer on the same n-grams."""

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer

from lstmkit.nn.ngrams import _MULTIPLIERS, _SALTS, NgramTfidf, tfidf_matrix


def python_hash(ids, start, n, buckets):
    return (_SALTS[n - 1] + sum(ids[start + k] * _MULTIPLIERS[k] for k in range(n))) % buckets


def test_features_equal_sklearn_tfidf_on_the_hashed_ngrams():
    rng = np.random.default_rng(0)
    texts = [list(rng.integers(2, 12, size=rng.integers(1, 15))) for _ in range(40)]
    buckets, max_n = 50_000, 3  # large: no collisions among so few n-grams
    layer = NgramTfidf(buckets, 2, max_n)
    layer.fit_idf(texts)
    ours = tfidf_matrix(layer, texts).toarray()

    docs = [[str(python_hash(t, s, n, buckets)) for n in range(1, max_n + 1) for s in range(len(t) - n + 1)]
            for t in texts]
    vectorizer = TfidfVectorizer(analyzer=lambda d: d, sublinear_tf=True, lowercase=False)
    reference = vectorizer.fit_transform(docs).toarray()
    columns = [int(c) for c in vectorizer.get_feature_names_out()]
    np.testing.assert_allclose(ours[:, columns], reference, atol=1e-6)
    assert np.allclose(np.delete(ours, columns, axis=1), 0)


def test_forward_is_a_linear_layer_on_those_features_and_ignores_padding():
    torch.manual_seed(0)
    texts = [[5, 9, 2, 7, 7], [3, 4], [8]]
    layer = NgramTfidf(97, 3, 2)
    layer.fit_idf(texts)
    torch.nn.init.normal_(layer.weight)
    torch.nn.init.normal_(layer.bias)
    features = torch.from_numpy(tfidf_matrix(layer, texts).toarray()).float()
    padded = torch.full((3, 5), 999)  # garbage padding
    for i, t in enumerate(texts):
        padded[i, : len(t)] = torch.tensor(t)
    out = layer(padded, torch.tensor([5, 2, 1]))
    torch.testing.assert_close(out, features @ layer.weight + layer.bias)


def test_order_matters_beyond_unigrams():
    layer = NgramTfidf(1000, 4, 2)
    torch.nn.init.normal_(layer.weight)
    a = layer(torch.tensor([[1, 2, 3]]), torch.tensor([3]))
    b = layer(torch.tensor([[3, 2, 1]]), torch.tensor([3]))
    assert not torch.allclose(a, b)


def test_distinct_ngrams_collide_no_more_than_random_hashing():
    """Every 1..4-gram over 16 token ids (69,904 n-grams) in 2^20 columns: a random function
    would give ~2,300 collisions. A multiplier that is 1 modulo 2^20 once hashed (a, b, c) like
    (c, b, a) and (a + 1, b, c - 1), colliding 95% of the trigrams."""
    import itertools

    buckets, alphabet = 1 << 20, range(2, 18)
    grams = [g for n in range(1, 5) for g in itertools.product(alphabet, repeat=n)]
    columns = {python_hash(list(g), 0, len(g), buckets) for g in grams}
    expected = len(grams) - buckets * (1 - (1 - 1 / buckets) ** len(grams))
    assert len(grams) - len(columns) < 1.5 * expected


def test_distinct_ngrams_counts_like_a_set_of_tuples():
    """Counting hashed codes must equal counting the n-grams themselves (no hash collisions here)."""
    import random

    from lstmkit.nn.ngrams import buckets_for, distinct_ngrams

    rng = random.Random(0)
    lists = [[rng.randrange(2, 40) for _ in range(rng.randrange(0, 12))] for _ in range(300)]
    for max_n in (1, 2, 3):
        expected = {tuple(ids[i:i + n]) for ids in lists for n in range(1, max_n + 1) for i in range(len(ids) - n + 1)}
        assert distinct_ngrams(lists, max_n, chunk=37) == len(expected)
    assert buckets_for(10, 1 << 20) == 1024 and buckets_for(3000, 1 << 20) == 16384
    assert buckets_for(10**7, 1 << 20) == 1 << 20
