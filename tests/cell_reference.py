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


def states_from_gates(gates: dict, swap_gap: float = 1e-2) -> np.ndarray:
    """Check a bidirectional LSTM layer's returned gates (``gates["l0"]`` and ``gates["l0_reverse"]``,
    each ``{"i", "f", "g", "o", "c"}: (T, H)``) and give the states they make, ``(T, 2H)``.

    Asserted: the i, f and o gates lie in (0, 1); the cell states rebuild from i, f and g; with i and
    f swapped they miss by more than ``swap_gap`` (a swapped gate would pass otherwise). Returned:
    ``h_t = o_t * tanh(c_t)``, forward then backward, for comparing with the network's own states.
    """
    halves = []
    for key, reverse in (("l0", False), ("l0_reverse", True)):
        acts = gates[key]
        for name in ("i", "f", "o"):
            assert ((acts[name] > 0) & (acts[name] < 1)).all(), name
        np.testing.assert_allclose(rebuild_cells(acts["i"], acts["f"], acts["g"], reverse), acts["c"], atol=1e-5)
        assert np.abs(rebuild_cells(acts["f"], acts["i"], acts["g"], reverse) - acts["c"]).max() > swap_gap
        halves.append(acts["o"] * np.tanh(acts["c"]))
    return np.concatenate(halves, axis=1)
