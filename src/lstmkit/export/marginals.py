r"""A CRF's per-token tag marginals in plain numpy, and a tagger ensemble's averaged log-marginals.

An exported tagger *ensemble* (``train.ensemble=N``) outputs every member's emission scores
``e (N, B, T, K)``; its sidecar's ``ensemble.members`` hold each member's decoder and CRF tables.
:func:`mean_log_marginals` combines them as :class:`lstmkit.tasks.tagger.ensemble.TaggerEnsemble`
does, so that :func:`lstmkit.export.viterbi.decode` gives the ensemble's ``predict`` tags:

1. each member's marginals ``p_k(y_t = j | sentence)``: forward-backward for a CRF member
   (:func:`marginals`), ``exp(e)`` for a softmax member (its emissions are log-probabilities);
2. their mean, floored at the sidecar's ``ensemble.floor`` (``1e-12``) and logged:
   ``log max((1/N) sum_k p_k, floor)`` ``(B, T, K)``;
3. the best allowed path of summed log-marginals: Viterbi with zero transition scores and the
   scheme's ``allowed`` moves (the sidecar's top-level tables are those zeros).

Forward-backward (:meth:`lstmkit.nn.CRF.marginals`'s equations), for one sentence of ``L`` tokens,
with ``start (K,)``, ``trans (K, K)`` (``[from, to]``), ``end (K,)`` and a disallowed move scoring
``-1e4`` (as in the CRF's likelihood)::

    alpha_1[j] = start[j] + e[1, j]
    alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + trans[i, j]) + e[t, j]          t = 2..L
    beta_L[i]  = end[i]
    beta_t[i]  = logsumexp_j(trans[i, j] + e[t+1, j] + beta_{t+1}[j])        t = L-1..1
    log Z      = logsumexp_j(alpha_L[j] + end[j])
    p(y_t = k) = exp(alpha_t[k] + beta_t[k] - log Z)                          (L, K), rows sum to 1

Computed in float64; only numpy is used.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DISALLOWED_SCORE", "FLOOR", "marginals", "mean_log_marginals"]

DISALLOWED_SCORE = -1e4
"""The score of a disallowed move in forward-backward (as :mod:`lstmkit.nn.crf`'s likelihood)."""
FLOOR = 1e-12
"""Smallest mean marginal kept before the log when the sidecar names none (its ``ensemble.floor``:
:data:`lstmkit.tasks.tagger.ensemble.FLOOR`)."""


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    top = x.max(axis=axis, keepdims=True)
    return np.squeeze(top, axis=axis) + np.log(np.exp(x - top).sum(axis=axis))


def _sentence_marginals(e: np.ndarray, start: np.ndarray, trans: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``p(y_t = k)`` ``(L, K)`` of one sentence's emissions ``e (L, K)``."""
    length = len(e)
    alpha = np.empty_like(e)  # (L, K)
    beta = np.empty_like(e)  # (L, K)
    alpha[0] = start + e[0]
    for t in range(1, length):
        alpha[t] = _logsumexp(alpha[t - 1][:, None] + trans, axis=0) + e[t]  # over the previous tag i
    beta[length - 1] = end
    for t in range(length - 2, -1, -1):
        beta[t] = _logsumexp(trans + (e[t + 1] + beta[t + 1])[None, :], axis=1)  # over the next tag j
    log_z = _logsumexp(alpha[length - 1] + end, axis=0)
    return np.exp(alpha + beta - log_z)


def marginals(emissions, lengths, start, transitions, end, allowed: dict | None = None) -> np.ndarray:
    """Each real token's tag probabilities under a CRF, by forward-backward (the module docstring).

    Args:
        emissions: ``(B, T, K)`` scores (what is in the padding is never read).
        lengths: ``(B,)`` true lengths, ``1 <= lengths <= T``.
        start, end: ``(K,)``; transitions: ``(K, K)``, ``[from, to]``.
        allowed: optional ``{"start": (K,), "transitions": (K, K), "end": (K,)}`` booleans (the
            sidecar's ``allowed``): a disallowed move scores :data:`DISALLOWED_SCORE`.

    Returns:
        ``(B, T, K)`` float64: each real step's probabilities (summing to 1), 0 at padded steps;
        equal to :meth:`lstmkit.nn.CRF.marginals`.
    """
    e = np.asarray(emissions, dtype=np.float64)
    tables = [np.asarray(x, dtype=np.float64) for x in (start, transitions, end)]
    if allowed is not None:
        masks = [np.asarray(allowed[k], dtype=bool) for k in ("start", "transitions", "end")]
        tables = [np.where(mask, table, DISALLOWED_SCORE) for mask, table in zip(masks, tables)]
    start, trans, end = tables
    out = np.zeros_like(e)
    for b, length in enumerate(np.asarray(lengths).tolist()):
        if not 1 <= length <= e.shape[1]:
            raise ValueError(f"lengths[{b}] = {length}: must be between 1 and the {e.shape[1]} steps")
        out[b, :length] = _sentence_marginals(e[b, :length], start, trans, end)
    return out


def mean_log_marginals(emissions, lengths, sidecar: dict) -> np.ndarray:
    """A tagger ensemble's graph output -> the log of its members' mean marginals, to decode.

    Args:
        emissions: ``(N, B, T, K)``, every member's emissions (the ensemble graph's output).
        lengths: ``(B,)`` true lengths (the graph's ``lengths`` input).
        sidecar: the export's sidecar: ``ensemble.members`` (per member its ``decoder`` and, for a
            CRF, ``start_transitions``, ``transitions``, ``end_transitions``), ``ensemble.floor``
            and ``allowed``.

    Returns:
        ``log max((1/N) sum_k p_k, floor)`` ``(B, T, K)`` float64 (padded steps hold ``log floor``).
    """
    members = sidecar["ensemble"]["members"]
    e = np.asarray(emissions, dtype=np.float64)
    if e.ndim != 4 or len(e) != len(members):
        raise ValueError(f"an ensemble of {len(members)} members outputs emissions (N={len(members)}, B, T, K), "
                         f"got shape {e.shape}")
    lengths = np.asarray(lengths)
    real = (np.arange(e.shape[2])[None, :] < lengths[:, None])[:, :, None]  # (B, T, 1)
    total = np.zeros(e.shape[1:])  # (B, T, K)
    for member, scores in zip(members, e):
        if member["decoder"] == "crf":
            total += marginals(scores, lengths, member["start_transitions"], member["transitions"],
                               member["end_transitions"], sidecar.get("allowed"))
        else:  # softmax: the emissions are log-probabilities
            total += np.where(real, np.exp(scores), 0.0)
    return np.log(np.maximum(total / len(members), sidecar["ensemble"].get("floor", FLOOR)))
