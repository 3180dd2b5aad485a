"""The splits of :mod:`lstmkit.data.splits` as int arrays: the same indices for the same seed, without a
Python object per example.

For data streamed into a token store the labels are an int array (one small group id per row,
8 bytes), and the rows held out or kept are int arrays too:

* :func:`stratified_split_groups` is :func:`~lstmkit.data.splits.stratified_split` (which takes one
  label per example, a list of strings) on label groups: the random numbers are drawn in the
  same order (``random.Random(seed)``: the same ``random()`` calls to rank the groups, the same
  ``shuffle`` of each group's rows, groups taken in order of their keys' ``repr``);
* :func:`random_split_indices` is :func:`~lstmkit.data.splits.random_split` (the same shuffle of
  ``range(n)``, on an int array).

``tests/test_text_store.py`` and ``tests/test_tagger_store.py`` hold each beside its original.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np

from lstmkit.data.splits import _n_held
from lstmkit.errors import ConfigError


def stratified_split_groups(groups: np.ndarray, keys: Sequence, fraction: float, seed: int,
                            source: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Kept and held-out row numbers (sorted int64 arrays), as ``stratified_split([keys[g] for g in groups])``.

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
    """Kept and held-out row numbers (sorted int64 arrays), as :func:`~lstmkit.data.splits.random_split`."""
    held_count = _n_held(n, fraction)
    order = np.arange(n, dtype=np.int64)
    random.Random(seed).shuffle(order)  # the same swaps as on list(range(n))
    return np.sort(order[held_count:]), np.sort(order[:held_count])


__all__ = ["random_split_indices", "stratified_split_groups"]
