"""PPMI-SVD token vectors: counts against a brute-force loop, PPMI against its formula."""

import math

import numpy as np
import torch

from lstmkit.data.cooccurrence import cooccurrence_counts, ppmi_svd_vectors


def brute_force_counts(texts, V, window):
    C = np.zeros((V, V))
    for ids in texts:
        for a in range(len(ids)):
            for b in range(len(ids)):
                d = abs(a - b)
                if 1 <= d <= window and ids[a] > 1 and ids[b] > 1:
                    C[ids[a], ids[b]] += 1.0 / d
    return C


def test_counts_match_brute_force_and_stay_inside_texts():
    rng = np.random.default_rng(0)
    texts = [list(rng.integers(0, 9, size=rng.integers(1, 12))) for _ in range(30)]
    counts = cooccurrence_counts(texts, 9, window=3).toarray()
    np.testing.assert_allclose(counts, brute_force_counts(texts, 9, 3), rtol=1e-12)
    assert counts[0].sum() == 0 and counts[1].sum() == 0  # <pad>, <unk> not counted


def test_full_rank_vectors_reproduce_the_ppmi_matrix():
    texts = [[2, 3, 4, 2, 5], [3, 4, 5, 6], [6, 2, 3]] * 5
    V = 7
    C = brute_force_counts(texts, V, 2)
    total, rows = C.sum(), C.sum(1)
    ctx = C.sum(0) ** 0.75
    ctx = ctx / ctx.sum() * total
    ppmi = np.zeros_like(C)
    for i in range(V):
        for j in range(V):
            if C[i, j] > 0:
                ppmi[i, j] = max(0.0, math.log(C[i, j] * total / (rows[i] * ctx[j])))
    vectors = ppmi_svd_vectors(texts, V, dim=V - 1, window=2).double()
    assert vectors.shape == (V, V - 1) and torch.all(vectors[0] == 0)
    # U sqrt(S) is rescaled per dimension; the row space must still span PPMI's: compare Gram ranks.
    assert np.linalg.matrix_rank(vectors[2:].numpy(), tol=1e-6) == np.linalg.matrix_rank(ppmi[2:], tol=1e-6)


def test_tokens_with_the_same_contexts_get_the_same_vector():
    # 3 and 4 always appear between 2 and 5: their vectors coincide.
    texts = [[2, 3, 5], [2, 4, 5], [6, 2, 7], [7, 5, 6]] * 10
    vectors = ppmi_svd_vectors(texts, 8, dim=4, window=1)
    cos = torch.nn.functional.cosine_similarity(vectors[3], vectors[4], dim=0)
    assert cos > 0.999
