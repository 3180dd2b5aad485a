"""The LSTM cell-state recurrence by hand, to check gates that explanations return."""

from __future__ import annotations

import numpy as np


def rebuild_cells(i, f, g, reverse: bool) -> np.ndarray:
    """c_t = f_t * c_{t-1} + i_t * g_t from c = 0 (the backward direction runs from the end).

    ``i``, ``f``, ``g``: ``(T, H)`` gate activations of one direction -> ``c`` ``(T, H)``.
    """
    order = range(len(i) - 1, -1, -1) if reverse else range(len(i))
    c, out = np.zeros(i.shape[1]), np.zeros_like(i)
    for t in order:
        c = f[t] * c + i[t] * g[t]
        out[t] = c
    return out
