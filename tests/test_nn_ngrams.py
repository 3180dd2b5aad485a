"""The hashed n-gram bag against a per-text Python loop over the same hash."""

import torch

from lstmkit.nn.ngrams import _MULTIPLIERS, _SALTS, NgramBag


def brute_force_bag(bag: NgramBag, ids: list[int]) -> torch.Tensor:
    rows = []
    for n in range(1, bag.max_n + 1):
        for start in range(len(ids) - n + 1):
            code = _SALTS[n - 1] + sum(ids[start + k] * _MULTIPLIERS[k] for k in range(n))
            rows.append(bag.embedding.weight[code % bag.buckets])
    return torch.stack(rows).mean(0)


def test_matches_brute_force_and_ignores_padding():
    torch.manual_seed(0)
    bag = NgramBag(buckets=97, dim=4, max_n=3)
    texts = [[5, 9, 2, 7, 7], [3, 4], [8]]
    lengths = torch.tensor([len(t) for t in texts])
    padded = torch.full((3, 5), 999)  # garbage padding must not matter
    for i, t in enumerate(texts):
        padded[i, : len(t)] = torch.tensor(t)
    out = bag(padded, lengths)
    for i, t in enumerate(texts):
        torch.testing.assert_close(out[i], brute_force_bag(bag, t))


def test_order_matters_beyond_unigrams():
    torch.manual_seed(0)
    bag = NgramBag(buckets=1000, dim=8, max_n=2)
    a = bag(torch.tensor([[1, 2, 3]]), torch.tensor([3]))
    b = bag(torch.tensor([[3, 2, 1]]), torch.tensor([3]))
    assert not torch.allclose(a, b)
    unigram = NgramBag(buckets=1000, dim=8, max_n=1)
    torch.testing.assert_close(unigram(torch.tensor([[1, 2, 3]]), torch.tensor([3])),
                               unigram(torch.tensor([[3, 2, 1]]), torch.tensor([3])))
