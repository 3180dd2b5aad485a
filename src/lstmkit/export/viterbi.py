r"""Viterbi decoding in plain numpy, for a tagger exported to ONNX (copy this file freely).

An exported tagger's graph gives per-token emission scores ``e (B, T, K)``; decoding stays outside
the graph, with the CRF's tables from the sidecar (``FILE.onnx.json``): ``start (K,)``,
``transitions (K, K)`` (``transitions[i, j]``: from tag ``i`` to tag ``j``) and ``end (K,)``. The
best tag sequence ``y`` of a sentence of length ``L`` maximises::

    score(y) = start[y_1] + sum_{t=1..L} e[t, y_t] + sum_{t=2..L} trans[y_{t-1}, y_t] + end[y_L]

by the recursion ``delta_1 = start + e_1``, ``delta_t[j] = max_i (delta_{t-1}[i] + trans[i, j]) + e_t[j]``,
then the arg-max of ``delta_L + end`` traced back: ``O(L K^2)``.

Constrained decoding (the sidecar's ``allowed``: bool ``start``, ``transitions``, ``end`` by the tag
scheme, e.g. no ``I-X`` after ``O`` in BIO) scores a disallowed move ``-inf``, so no disallowed path
is returned while an allowed one exists; a sentence with no allowed path at all falls back to a
penalty of ``-1e4`` per disallowed move. This is what :meth:`lstmkit.nn.CRF.decode` does, so the
tags equal the tagger's own ``predict``. A softmax tagger ships all-zero tables (and its emissions
are log-probabilities): the best path is then each token's arg-max, within the scheme's rules when
constrained.

A tagger ensemble's graph outputs every member's emissions ``(N, B, T, K)``; :func:`decode` first
combines them by the sidecar's ``ensemble.rule``: ``scores`` takes their mean (decoded with the
sidecar's tables, the members' mean tables: the best path of the members' mean path scores);
``marginals`` (the default, and what a sidecar without ``rule`` means) turns them into the log of the
members' mean tag marginals (:mod:`lstmkit.export.marginals`, which it imports only then), decoded
with the sidecar's zero tables. Both under the scheme's rules.

Only numpy and the standard library are used (copy ``marginals.py`` beside this file, and adjust
its one import, to decode an ensemble's output without lstmkit).
"""

from __future__ import annotations

import numpy as np

__all__ = ["DISALLOWED_SCORE", "decode", "viterbi_decode"]

DISALLOWED_SCORE = -1e4
"""The score of a disallowed move when a sentence has no allowed path (as :mod:`lstmkit.nn.crf`)."""


def _best_path(emissions: np.ndarray, transitions: np.ndarray, start: np.ndarray,
               end: np.ndarray) -> tuple[list[int], float]:
    """The Viterbi path of ``emissions (L, K)`` and its score (``-inf`` when every path is)."""
    score = start + emissions[0]  # (K,): the best partial path ending in each tag
    back = []
    for t in range(1, len(emissions)):
        step = score[:, None] + transitions  # (K_prev, K_next)
        came_from = step.argmax(axis=0)  # (K_next,)
        back.append(came_from)
        score = step[came_from, np.arange(len(came_from))] + emissions[t]
    final = score + end
    tag = int(final.argmax())
    path = [tag]
    for came_from in reversed(back):
        tag = int(came_from[tag])
        path.append(tag)
    return path[::-1], float(final.max())


def viterbi_decode(emissions, transitions, start, end, allowed: dict | None = None) -> list[int]:
    """The best tag ids of one sentence.

    Args:
        emissions: ``(L, K)`` scores of the sentence's ``L`` real tokens (cut off the padding).
        transitions: ``(K, K)``; ``start``, ``end``: ``(K,)``.
        allowed: optional ``{"start": (K,), "transitions": (K, K), "end": (K,)}`` of booleans
            (the sidecar's ``allowed``); ``None``: every move is allowed.

    Returns:
        ``L`` tag ids (indices into the sidecar's ``tags``).
    """
    e = np.asarray(emissions, dtype=np.float64)
    if e.ndim != 2 or len(e) == 0:
        raise ValueError(f"emissions must be (L, K) with L >= 1, got shape {e.shape}")
    tables = [np.asarray(x, dtype=np.float64) for x in (start, transitions, end)]
    if allowed is None:
        return _best_path(e, tables[1], tables[0], tables[2])[0]
    masks = [np.asarray(allowed[k], dtype=bool) for k in ("start", "transitions", "end")]

    def constrained(penalty: float) -> list[np.ndarray]:
        return [np.where(mask, table, penalty) for mask, table in zip(masks, tables)]

    start_c, trans_c, end_c = constrained(-np.inf)
    path, score = _best_path(e, trans_c, start_c, end_c)
    if np.isneginf(score):  # no allowed path of this length: the -1e4 penalties instead
        start_c, trans_c, end_c = constrained(DISALLOWED_SCORE)
        path = _best_path(e, trans_c, start_c, end_c)[0]
    return path


def _bioes_to_bio(tag: str) -> str:
    """``E-X`` -> ``I-X``, ``S-X`` -> ``B-X`` (a well-formed BIOES path, as constrained decoding gives)."""
    prefix, dash, kind = tag.partition("-")
    return {"E": "I", "S": "B"}.get(prefix, prefix) + dash + kind if dash else tag


def decode(emissions, lengths, sidecar: dict) -> list[list[str]]:
    """Tag names of every sentence of a batch, as the tagger's ``predict`` gives them.

    Args:
        emissions: ``(B, T, K)``, the graph's output; a tagger ensemble's (its sidecar has
            ``ensemble``): ``(N, B, T, K)``, combined first by ``ensemble.rule``: their mean
            (``scores``), or :func:`lstmkit.export.marginals.mean_log_marginals` (``marginals``).
        lengths: ``(B,)`` true lengths (the graph's ``lengths`` input).
        sidecar: the export's JSON sidecar (``tags``, ``start_transitions``, ``transitions``,
            ``end_transitions``, ``allowed``, ``scheme``, ``model_scheme``; ``ensemble``).

    A model trained in BIOES on BIO data (``model_scheme`` BIOES, ``scheme`` BIO) has its tags
    mapped back to BIO (``E-X`` -> ``I-X``, ``S-X`` -> ``B-X``), as ``predict`` does.
    """
    ensemble = sidecar.get("ensemble")
    if ensemble and ensemble.get("rule", "marginals") == "scores":
        if np.ndim(emissions) != 4:
            raise ValueError(f"an ensemble's emissions must be (N, B, T, K), got shape {np.shape(emissions)}")
        emissions = np.asarray(emissions, dtype=np.float64).mean(axis=0)  # (B, T, K): the members' mean scores
    elif ensemble:
        from lstmkit.export.marginals import mean_log_marginals

        emissions = mean_log_marginals(emissions, lengths, sidecar)
    elif np.ndim(emissions) != 3:
        raise ValueError(f"emissions must be (B, T, K), got shape {np.shape(emissions)} (the emissions of an "
                         "ensemble's graph are decoded with its own sidecar)")
    tags = sidecar["tags"]
    to_bio = sidecar.get("model_scheme") == "BIOES" and sidecar.get("scheme") == "BIO"
    out = []
    for row, length in zip(np.asarray(emissions), np.asarray(lengths)):
        ids = viterbi_decode(row[: int(length)], sidecar["transitions"], sidecar["start_transitions"],
                             sidecar["end_transitions"], sidecar.get("allowed"))
        out.append([_bioes_to_bio(tags[i]) if to_bio else tags[i] for i in ids])
    return out
