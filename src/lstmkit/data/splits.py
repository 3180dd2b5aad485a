"""Holding out validation data: at random, stratified by label, or strictly by time.

Every function returns the kept (training) and held-out (validation) *indices*, sorted,
disjoint and together covering ``range(n)``; the caller picks its items with them. The same
``seed`` always gives the same split.

The work is done on int arrays (:func:`stratified_split_groups`, :func:`random_split_indices`:
one small group id per row, no Python object per example, for data streamed into a token
store); :func:`stratified_split` and :func:`random_split` are the same splits of Python lists.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np

from lstmkit.errors import ConfigError


def _n_held(n: int, fraction: float) -> int:
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    if n < 2:
        raise ConfigError(f"need at least 2 training examples to hold out a validation set; got {n}")
    return min(n - 1, max(1, int(round(fraction * n))))


def random_split(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Shuffle ``range(n)`` with ``seed``; hold out ``round(fraction * n)`` (at least 1, at most n - 1)."""
    kept, held = random_split_indices(n, fraction, seed)
    return kept.tolist(), held.tolist()


def stratified_split(labels: Sequence, fraction: float, seed: int,
                     source: str | None = None) -> tuple[list[int], list[int]]:
    """Hold out about ``fraction`` of each label, keeping at least one of every label in training.

    The held-out count ``round(fraction * n)`` (at least 1) is shared among the labels by
    largest remainder of ``fraction * n_label``, each label giving at most ``n_label - 1``
    (so a label with one example stays in training, and validation never holds a label the
    model cannot know). Raises :class:`ConfigError` when no label has two examples.
    """
    index: dict = {}
    groups = np.fromiter((index.setdefault(label, len(index)) for label in labels), dtype=np.int64, count=len(labels))
    kept, held = stratified_split_groups(groups, list(index), fraction, seed, source)
    return kept.tolist(), held.tolist()


def stratified_split_groups(groups: np.ndarray, keys: Sequence, fraction: float, seed: int,
                            source: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`stratified_split` of the labels ``[keys[g] for g in groups]``: kept and held-out row
    numbers (sorted int64 arrays), with no Python object per row.

    Labels are taken in the order they first appear, ranked with ``random.Random(seed)`` and
    shuffled within each label (labels in the order of their keys' ``repr``).

    Args:
        groups: ``(n,)`` the group (label) of each row, ``0..len(keys)-1``.
        keys: each group's label as ``stratified_split`` would see it (its text form); distinct.
        fraction, seed, source: as :func:`~lstmkit.data.splits.stratified_split`.
    """
    groups = np.asarray(groups, dtype=np.int64)
    n = len(groups)
    wanted = _n_held(n, fraction)
    order = np.argsort(groups, kind="stable")  # rows of each group, ascending
    sizes = np.bincount(groups, minlength=len(keys))
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    present, first_row = np.unique(groups, return_index=True)
    by_label = {int(g): order[bounds[g]: bounds[g + 1]] for g in present[np.argsort(first_row)]}  # first-seen order
    capacity = {g: len(rows) - 1 for g, rows in by_label.items()}
    if sum(capacity.values()) == 0:
        where = f" in {source}" if source else ""
        raise ConfigError(f"cannot hold out validation data{where}: every label has a single example; "
                          "give more examples or a validation file (--valid)")
    wanted = min(wanted, sum(capacity.values()))
    share = {g: fraction * len(rows) for g, rows in by_label.items()}
    count = {g: min(capacity[g], math.floor(share[g])) for g in by_label}
    rng = random.Random(seed)
    ranked = sorted(by_label, key=lambda g: (-(share[g] - math.floor(share[g])), rng.random()))
    while sum(count.values()) < wanted:
        for g in ranked:
            if sum(count.values()) < wanted and count[g] < capacity[g]:
                count[g] += 1
    while sum(count.values()) > wanted:
        g = max(count, key=lambda lab: (count[lab], rng.random()))
        count[g] -= 1
    kept, held = [], []
    for g in sorted(by_label, key=lambda g: repr(keys[g])):
        rows = by_label[g].copy()
        rng.shuffle(rows)  # random.shuffle swaps items by index: the same draws as on a list
        held.append(rows[: count[g]])
        kept.append(rows[count[g]:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def random_split_indices(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`random_split` as sorted int64 arrays: ``range(n)`` shuffled by ``random.Random(seed)``."""
    held_count = _n_held(n, fraction)
    order = np.arange(n, dtype=np.int64)
    random.Random(seed).shuffle(order)  # the same swaps as on list(range(n))
    return np.sort(order[held_count:]), np.sort(order[:held_count])


def chronological_split(n: int, fraction: float) -> tuple[list[int], list[int]]:
    """The last ``round(fraction * n)`` items (at least 1) are held out; never shuffled."""
    held_count = _n_held(n, fraction)
    return list(range(n - held_count)), list(range(n - held_count, n))
