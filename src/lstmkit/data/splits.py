"""Holding out validation data: at random, stratified by label, or strictly by time.

Every function returns the kept (training) and held-out (validation) *indices*, sorted,
disjoint and together covering ``range(n)``; the caller picks its items with them. The same
``seed`` always gives the same split.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from lstmkit.errors import ConfigError


def _n_held(n: int, fraction: float) -> int:
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    if n < 2:
        raise ConfigError(f"need at least 2 training examples to hold out a validation set; got {n}")
    return min(n - 1, max(1, int(round(fraction * n))))


def random_split(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Shuffle ``range(n)`` with ``seed``; hold out ``round(fraction * n)`` (at least 1, at most n - 1)."""
    held_count = _n_held(n, fraction)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return sorted(order[held_count:]), sorted(order[:held_count])


def stratified_split(labels: Sequence, fraction: float, seed: int,
                     source: str | None = None) -> tuple[list[int], list[int]]:
    """Hold out about ``fraction`` of each label, keeping at least one of every label in training.

    The held-out count ``round(fraction * n)`` (at least 1) is shared among the labels by
    largest remainder of ``fraction * n_label``, each label giving at most ``n_label - 1``
    (so a label with one example stays in training, and validation never holds a label the
    model cannot know). Raises :class:`ConfigError` when no label has two examples.
    """
    n = len(labels)
    wanted = _n_held(n, fraction)
    by_label: dict = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    capacity = {label: len(items) - 1 for label, items in by_label.items()}
    if sum(capacity.values()) == 0:
        where = f" in {source}" if source else ""
        raise ConfigError(f"cannot hold out validation data{where}: every label has a single example; "
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
    while sum(count.values()) > wanted:  # fraction * n rounded down overall
        label = max(count, key=lambda lab: (count[lab], rng.random()))
        count[label] -= 1
    kept, held = [], []
    for label in sorted(by_label, key=repr):
        items = list(by_label[label])
        rng.shuffle(items)
        held += items[: count[label]]
        kept += items[count[label]:]
    return sorted(kept), sorted(held)


def chronological_split(n: int, fraction: float) -> tuple[list[int], list[int]]:
    """The last ``round(fraction * n)`` items (at least 1) are held out; never shuffled."""
    held_count = _n_held(n, fraction)
    return list(range(n - held_count)), list(range(n - held_count, n))
