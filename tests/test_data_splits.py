"""Validation hold-outs: disjoint, covering, reproducible; stratified keeps every label in training;
chronological never looks ahead."""

import random
from collections import Counter

import pytest

from lstmkit.data.splits import chronological_split, random_split, stratified_split
from lstmkit.errors import ConfigError


def _check_partition(kept, held, n):
    """A split keeping validation items in training too (or dropping some) fails here."""
    assert not set(kept) & set(held)
    assert sorted(kept + held) == list(range(n))
    assert kept == sorted(kept) and held == sorted(held)


@pytest.mark.parametrize("n", [2, 3, 10, 101])
def test_random_split_is_a_reproducible_partition(n):
    kept, held = random_split(n, 0.1, seed=3)
    _check_partition(kept, held, n)
    assert len(held) == max(1, round(0.1 * n)) and (kept, held) == random_split(n, 0.1, seed=3)
    assert n < 10 or random_split(n, 0.1, seed=4) != (kept, held)


@pytest.mark.parametrize("n,seed", [(2, 0), (10, 3), (101, 13), (1000, 7)])
def test_random_split_is_python_s_shuffle_of_the_indices(n, seed):
    """The split is fixed by the seed across versions: ``random.Random(seed).shuffle`` of
    ``list(range(n))``, the first ``round(fraction * n)`` held out (the int-array version must draw
    exactly the same swaps, or a resumed or compared run would hold out other rows)."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    held_count = min(n - 1, max(1, round(0.1 * n)))
    assert random_split(n, 0.1, seed) == (sorted(order[held_count:]), sorted(order[:held_count]))


def test_stratified_split_keeps_each_label_in_training_and_its_share():
    labels = ["a"] * 50 + ["b"] * 30 + ["c"] * 2 + ["d"]
    kept, held = stratified_split(labels, 0.1, seed=0)
    _check_partition(kept, held, len(labels))
    counts = Counter(labels[i] for i in held)
    assert counts["a"] == 5 and counts["b"] == 3 and counts["d"] == 0
    assert {labels[i] for i in kept} == set("abcd")  # every label still trains
    assert len(held) == round(0.1 * len(labels))


def test_stratified_split_of_three_rows_one_label_each_is_refused_clearly():
    """It used to hold out a row whose label training never saw, then blame the file."""
    with pytest.raises(ConfigError, match=r"in x\.csv: every label has a single example"):
        stratified_split(["a", "b", "c"], 0.1, seed=0, source="x.csv")
    kept, held = stratified_split(["a", "a", "b"], 0.5, seed=0)
    assert [["a", "a", "b"][i] for i in held] == ["a"]


def test_chronological_split_holds_out_the_end():
    """A shuffled split would leak the future of a series into training."""
    kept, held = chronological_split(20, 0.25)
    _check_partition(kept, held, 20)
    assert held == list(range(15, 20)) and max(kept) < min(held)
