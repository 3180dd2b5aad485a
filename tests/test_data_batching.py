"""Padding and bucketed batching: every index once, similar lengths, determinism."""

import random

import pytest
import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

from lstmkit.data.batching import BucketBatchSampler, pad_sequences, sorted_batches


def random_lengths(n, seed=0, high=200):
    rng = random.Random(seed)
    return [rng.randint(1, high) for _ in range(n)]


# --------------------------------------------------------------------------- pad_sequences


def test_pad_sequences_matches_torch_pad_sequence():
    seqs = [[5, 6, 7], [8], [9, 10]]
    ids, lengths = pad_sequences(seqs, pad_id=0)
    reference = pad_sequence([torch.tensor(s) for s in seqs], batch_first=True, padding_value=0)
    assert torch.equal(ids, reference)
    assert ids.dtype == lengths.dtype == torch.long
    assert lengths.tolist() == [3, 1, 2]


def test_pad_sequences_truncates_head_and_maps_empty_to_unk():
    ids, lengths = pad_sequences([[1, 2, 3, 4, 5], [], [7, 8]], pad_id=9, max_length=3)
    assert ids.tolist() == [[1, 2, 3], [1, 9, 9], [7, 8, 9]]
    assert lengths.tolist() == [3, 1, 2]
    ids, lengths = pad_sequences([[]], empty_id=4)
    assert ids.tolist() == [[4]] and lengths.tolist() == [1]
    ids, lengths = pad_sequences([])
    assert ids.shape == (0, 0) and lengths.shape == (0,)
    with pytest.raises(ValueError, match="max_length"):
        pad_sequences([[1]], max_length=0)


# --------------------------------------------------------------------------- sorted_batches


def test_sorted_batches():
    assert sorted_batches([2, 5, 3, 5, 1], batch_size=2) == [[1, 3], [2, 0], [4]]
    lengths = random_lengths(103)
    batches = sorted_batches(lengths, 10)
    order = [i for b in batches for i in b]
    assert sorted(order) == list(range(103))
    assert [lengths[i] for i in order] == sorted(lengths, reverse=True)
    # putting predictions back in input order, as the docstring shows
    preds = [lengths[i] * 10 for i in order]
    restored = [None] * len(order)
    for i, p in zip(order, preds):
        restored[i] = p
    assert restored == [n * 10 for n in lengths]


# --------------------------------------------------------------------------- BucketBatchSampler


def epoch_batches(sampler, epoch):
    sampler.set_epoch(epoch)
    return list(sampler)


@pytest.mark.parametrize(
    "n, batch_size, bucket_size", [(1000, 16, None), (1000, 16, 50), (37, 5, 5), (5, 8, None)]
)
def test_every_index_exactly_once_and_len(n, batch_size, bucket_size):
    sampler = BucketBatchSampler(random_lengths(n), batch_size, bucket_size=bucket_size, seed=3)
    for epoch in range(3):
        batches = epoch_batches(sampler, epoch)
        assert sorted(i for b in batches for i in b) == list(range(n))
        assert len(batches) == len(sampler)
        assert sum(len(b) < batch_size for b in batches) <= 1  # only one short batch
        assert all(isinstance(i, int) for b in batches for i in b)


def test_lengths_within_a_batch_are_close():
    lengths = random_lengths(3200, high=400)
    sampler = BucketBatchSampler(lengths, batch_size=32)
    spread = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epoch_batches(sampler, 0)]
    # a random batch of 32 spans ~370 of 400; sorted chunks of 3200 leave ~4 per batch
    assert max(spread) <= 20
    random_spread = [max(c) - min(c) for c in (random.Random(0).sample(lengths, 32) for _ in range(20))]
    assert min(random_spread) > 300


def test_deterministic_per_seed_and_epoch_and_reshuffled():
    lengths = random_lengths(500)
    a = BucketBatchSampler(lengths, 10, seed=1, bucket_size=100)
    b = BucketBatchSampler(lengths, 10, seed=1, bucket_size=100)
    c = BucketBatchSampler(lengths, 10, seed=2, bucket_size=100)
    assert epoch_batches(a, 4) == epoch_batches(b, 4)
    assert list(a) == list(a)  # iterating twice without set_epoch repeats the epoch
    assert epoch_batches(a, 0) != epoch_batches(a, 1)
    assert epoch_batches(a, 0) != epoch_batches(c, 0)
    # the mix changes: some pair of examples is batched together in one epoch and not the next
    pairs = [{frozenset(b[:2]) for b in epoch_batches(a, e)} for e in (0, 1)]
    assert pairs[0] != pairs[1]


def test_no_shuffle_gives_length_order():
    lengths = random_lengths(95)
    sampler = BucketBatchSampler(lengths, 10, shuffle=False)
    assert epoch_batches(sampler, 0) == epoch_batches(sampler, 7) == sorted_batches(lengths, 10)


def test_works_as_a_dataloader_batch_sampler():
    seqs = [[1] * n for n in random_lengths(50, high=20)]
    sampler = BucketBatchSampler([len(s) for s in seqs], batch_size=8)
    loader = DataLoader(seqs, batch_sampler=sampler, collate_fn=pad_sequences)
    seen = 0
    for ids, lengths in loader:
        assert ids.shape == (len(lengths), int(lengths.max()))
        seen += len(lengths)
    assert seen == 50 and len(loader) == 7


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        BucketBatchSampler([1, 2], 0)
    with pytest.raises(ValueError, match="bucket_size"):
        BucketBatchSampler([1, 2], 2, bucket_size=0)
    assert BucketBatchSampler([1] * 10, 4, bucket_size=5).bucket_size == 8  # whole batches per chunk
