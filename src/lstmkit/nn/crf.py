"""A linear-chain conditional random field (CRF): log-likelihood, Viterbi and n-best decoding.

Symbols
-------
======  ==========================================================
``T``   sequence length (time steps)
``B``   batch size
``K``   number of tags
``n``   number of best paths asked of :meth:`CRF.decode` (``nbest``)
======  ==========================================================

The model
---------
A tagger gives every time step ``t`` and tag ``k`` an *emission* score ``e[t, k]``. The CRF adds
three learned tables: ``start[k]`` (score of starting in tag ``k``), ``trans[i, j]`` (score of
moving from tag ``i`` to tag ``j``) and ``end[k]`` (score of ending in tag ``k``). A tag sequence
``y = (y_1, ..., y_L)`` of a sequence of length ``L`` scores::

    score(y) = start[y_1] + sum_{t=1..L} e[t, y_t] + sum_{t=2..L} trans[y_{t-1}, y_t] + end[y_L]

and has probability ``p(y | e) = exp(score(y)) / Z`` with ``Z = sum_{y'} exp(score(y'))`` over
all ``K ** L`` tag sequences. ``log Z`` comes from the forward algorithm in ``O(L K^2)``::

    alpha_1[j] = start[j] + e[1, j]
    alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + trans[i, j]) + e[t, j]
    log Z      = logsumexp_j(alpha_L[j] + end[j])

and the best sequence from the Viterbi algorithm, the same recursion with ``max`` for
``logsumexp`` (keeping the arg-max to trace the path back). The n-best variant keeps the ``n``
best partial scores per tag instead of one.

Conventions follow kmkurn/pytorch-crf (``torchcrf``): same parameter names and shapes (its
``state_dict`` loads into ours), time-first tensors unless ``batch_first=True``, ``forward``
returns the log-likelihood (negate it for a loss), ``decode`` returns the same list of tag
lists. Additions: :meth:`CRF.decode_with_scores` also returns the path scores; ``decode`` can
return n-best lists; :meth:`CRF.marginals` gives each step's tag probabilities (forward-backward);
:meth:`CRF.restricted_probability` the probability that the tags keep to given sets (a span's
tags: an entity's confidence); optional allowed-transition constraints. Differences: padded
positions are ignored whatever they hold (tags ``-100``, NaN emissions); a mask with gaps is
rejected.

Constraints
-----------
With :class:`TransitionConstraints` (e.g. from :func:`allowed_transitions` for BIO, BIOES or
BMES), a disallowed start, transition or end scores :data:`DISALLOWED_SCORE` (``-1e4``) in
place of its learned value in the log-likelihood. ``exp(-1e4)`` is exactly 0 in float32 and
float64, so ``Z`` is the sum over allowed sequences only, while a gold sequence that breaks
a rule still gets a finite (very bad) score. Decoding uses ``-inf`` instead, so it never
returns a disallowed path while an allowed one exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

#: Score given to a disallowed start, transition or end in the log-likelihood.
DISALLOWED_SCORE = -1e4

REDUCTIONS = ("none", "sum", "mean", "token_mean")
SCHEMES = ("BIO", "BIOES", "BMES")


@dataclass
class TransitionConstraints:
    """Which moves a tag sequence may make (``True`` = allowed).

    Attributes:
        start: ``(K,)`` bool, ``start[k]``: a sequence may start with tag ``k``.
        transitions: ``(K, K)`` bool, ``transitions[i, j]``: tag ``j`` may follow tag ``i``.
        end: ``(K,)`` bool, ``end[k]``: a sequence may end with tag ``k``.
    """

    start: Tensor
    transitions: Tensor
    end: Tensor

    def allows(self, path: list[int]) -> bool:
        """Whether the tag sequence ``path`` (a non-empty list of tag ids) breaks no rule."""
        if not path:
            return False
        if not (self.start[path[0]] and self.end[path[-1]]):
            return False
        return all(bool(self.transitions[a, b]) for a, b in zip(path[:-1], path[1:]))


def _split_label(label: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", "")``; ``"S"`` -> ``("S", "")``."""
    prefix, _, entity_type = label.partition("-")
    return prefix, entity_type


def allowed_transitions(labels: list[str], scheme: str) -> TransitionConstraints:
    """The moves a tag scheme allows between ``labels`` (tag id ``k`` is ``labels[k]``).

    Labels are ``PREFIX-TYPE`` (``B-PER``) or a bare prefix (``O``; ``B``, ``M``, ``E``, ``S`` in
    word segmentation). Rules, where "same type" means the ``TYPE`` parts are equal:

    - ``"BIO"`` (IOB2): ``I-X`` only right after ``B-X`` or ``I-X``, so never at the start;
      ``O`` and ``B-*`` anywhere; any tag may end a sequence.
    - ``"BIOES"``: after ``O``, ``E-*``, ``S-*`` (or at the start) comes ``O``, ``B-*`` or
      ``S-*``; after ``B-X`` or ``I-X`` comes ``I-X`` or ``E-X``; a sequence ends in ``O``,
      ``E-*`` or ``S-*``.
    - ``"BMES"`` (word segmentation: Begin, Middle, End of a word, Single-character word): as
      BIOES with ``M`` for ``I`` and no ``O``: start in ``B`` or ``S``, ``B``/``M`` are followed
      by ``M``/``E``, ``E``/``S`` by ``B``/``S``, end in ``E`` or ``S``.

    Args:
        labels: the tag names, in tag-id order.
        scheme: ``"BIO"``, ``"BIOES"`` or ``"BMES"`` (case-insensitive).

    Returns:
        :class:`TransitionConstraints` with ``start (K,)``, ``transitions (K, K)``, ``end (K,)``.

    Raises:
        ValueError: unknown scheme, or a label that does not belong to the scheme.
    """
    name = scheme.upper()
    if name not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
    prefixes = name  # the scheme's name spells its prefixes
    parts = []
    for label in labels:
        prefix, entity_type = _split_label(label)
        if len(prefix) != 1 or prefix not in prefixes or (prefix == "O" and entity_type):
            raise ValueError(f"labels: {label!r} is not a {name} label (prefixes {', '.join(prefixes)})")
        parts.append((prefix, entity_type))
    rules = _bio_rules if name == "BIO" else _chunk_rules

    k = len(labels)
    start = torch.tensor([rules(None, part) for part in parts], dtype=torch.bool)  # (K,)
    end = torch.tensor([rules(part, None) for part in parts], dtype=torch.bool)  # (K,)
    transitions = torch.tensor([[rules(a, b) for b in parts] for a in parts], dtype=torch.bool).view(k, k)
    return TransitionConstraints(start=start, transitions=transitions, end=end)


# A rule says whether tag ``b`` may follow tag ``a``, tags as (prefix, type); ``a = None`` is the
# start of the sequence and ``b = None`` its end.


def _bio_rules(a: tuple[str, str] | None, b: tuple[str, str] | None) -> bool:
    """BIO: ``I-X`` continues a ``B-X`` or ``I-X``; anything else may go anywhere."""
    if b is None or b[0] != "I":
        return True
    return a is not None and a[0] in ("B", "I") and a[1] == b[1]


def _chunk_rules(a: tuple[str, str] | None, b: tuple[str, str] | None) -> bool:
    """BIOES and BMES (``M`` for ``I``): an open chunk (``B``, ``I``/``M``) must go on with
    ``I``/``M`` or ``E`` of its type; after a closed one (``O``, ``E``, ``S``, the start) comes
    ``O``, ``B`` or ``S``."""
    is_open = a is not None and a[0] in ("B", "I", "M")
    if b is None:
        return not is_open
    if is_open:
        return b[0] in ("I", "M", "E") and a[1] == b[1]
    return b[0] in ("O", "B", "S")


class CRF(nn.Module):
    """Linear-chain CRF over ``K`` tags (see the module docstring for the equations).

    Args:
        num_tags: ``K``, the number of tags.
        batch_first: inputs are ``(B, T, ...)`` instead of ``(T, B, ...)``.
        constraints: optional allowed moves (:func:`allowed_transitions`). They are kept as
            non-persistent buffers: not in the ``state_dict`` (which stays loadable into
            ``torchcrf.CRF`` and back); the owner rebuilds them from the labels after loading.

    Attributes:
        start_transitions: ``(K,)`` parameter, score of starting in each tag.
        end_transitions: ``(K,)`` parameter, score of ending in each tag.
        transitions: ``(K, K)`` parameter, ``transitions[i, j]`` scores moving from tag ``i``
            to tag ``j``.
        start_allowed, transitions_allowed, end_allowed: bool buffers ``(K,)``, ``(K, K)``,
            ``(K,)``, all ``True`` without constraints.

    Inputs (shown time-first; swap the first two dims when ``batch_first``):
        emissions: ``(T, B, K)`` float scores from the tagger.
        tags: ``(T, B)`` long gold tags (ignored where ``mask`` is off).
        mask: ``(T, B)`` bool or uint8, on for real tokens; each column is a run of ones
            followed by zeros (right padding), and the first time step is all on.
            Default: all on.

    Compute in float32 or float64 (not half precision: the ``-1e4`` penalties add up).
    """

    def __init__(
        self,
        num_tags: int,
        batch_first: bool = False,
        constraints: TransitionConstraints | None = None,
    ) -> None:
        if num_tags <= 0:
            raise ValueError(f"num_tags must be positive, got {num_tags}")
        super().__init__()
        self.num_tags = num_tags
        self.batch_first = batch_first
        self.start_transitions = nn.Parameter(torch.empty(num_tags))
        self.end_transitions = nn.Parameter(torch.empty(num_tags))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))
        for name, shape in (("start", (num_tags,)), ("transitions", (num_tags, num_tags)), ("end", (num_tags,))):
            self.register_buffer(f"{name}_allowed", torch.ones(shape, dtype=torch.bool), persistent=False)
        self.reset_parameters()
        self.set_constraints(constraints)

    def reset_parameters(self) -> None:
        """Draw every transition score from uniform(-0.1, 0.1), as pytorch-crf does."""
        nn.init.uniform_(self.start_transitions, -0.1, 0.1)
        nn.init.uniform_(self.end_transitions, -0.1, 0.1)
        nn.init.uniform_(self.transitions, -0.1, 0.1)

    def set_constraints(self, constraints: TransitionConstraints | None) -> None:
        """Set (or, with ``None``, remove) the allowed-move constraints."""
        k = self.num_tags
        if constraints is None:
            constraints = TransitionConstraints(
                start=torch.ones(k, dtype=torch.bool),
                transitions=torch.ones(k, k, dtype=torch.bool),
                end=torch.ones(k, dtype=torch.bool),
            )
        for name, shape in (("start", (k,)), ("transitions", (k, k)), ("end", (k,))):
            value = torch.as_tensor(getattr(constraints, name))
            if tuple(value.shape) != shape:
                raise ValueError(
                    f"constraints.{name} must have shape {shape} for num_tags={k}, got {tuple(value.shape)}"
                )
            buffer = getattr(self, f"{name}_allowed")
            buffer.copy_(value.to(device=buffer.device, dtype=torch.bool))

    @property
    def constraints(self) -> TransitionConstraints:
        """The current allowed moves (all ``True`` when unconstrained)."""
        return TransitionConstraints(self.start_allowed, self.transitions_allowed, self.end_allowed)

    def extra_repr(self) -> str:
        constrained = not (self.start_allowed.all() and self.transitions_allowed.all() and self.end_allowed.all())
        return f"num_tags={self.num_tags}, batch_first={self.batch_first}, constrained={bool(constrained)}"

    # ----------------------------------------------------------------------------- public API

    def forward(
        self,
        emissions: Tensor,
        tags: Tensor,
        mask: Tensor | None = None,
        reduction: str = "sum",
    ) -> Tensor:
        """Log-likelihood ``log p(tags | emissions) = score(tags) - log Z``.

        Args:
            emissions: ``(T, B, K)`` (``(B, T, K)`` if ``batch_first``).
            tags: ``(T, B)`` integer tags (``(B, T)`` if ``batch_first``).
            mask: ``(T, B)`` (``(B, T)`` if ``batch_first``), default all on.
            reduction: ``"none"`` -> ``(B,)``; ``"sum"`` / ``"mean"`` over the batch -> ``()``;
                ``"token_mean"``: the sum divided by the number of real tokens -> ``()``.

        Returns:
            The log-likelihood (``<= 0``); use ``-crf(...)`` as the loss.
        """
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
        emissions, tags, mask = self._prepare(emissions, tags, mask)
        start, transitions, end = self._constrained_scores(DISALLOWED_SCORE)
        numerator = _path_score(emissions, tags, mask, start, transitions, end)  # (B,)
        denominator = _log_partition(emissions, mask, start, transitions, end)  # (B,)
        llh = numerator - denominator  # (B,)
        if reduction == "none":
            return llh
        if reduction == "sum":
            return llh.sum()
        if reduction == "mean":
            return llh.mean()
        return llh.sum() / mask.sum()

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """The unnormalised ``score(tags)`` of each sequence, ``(B,)`` (the numerator of ``forward``)."""
        emissions, tags, mask = self._prepare(emissions, tags, mask)
        return _path_score(emissions, tags, mask, *self._constrained_scores(DISALLOWED_SCORE))

    def marginals(self, emissions: Tensor, mask: Tensor | None = None) -> Tensor:
        """Posterior tag probabilities ``p(y_t = k | e)`` per step, by the forward-backward algorithm.

        With ``alpha_t`` from the forward recursion (module docstring) and the backward one::

            beta_L[i] = end[i]
            beta_t[i] = logsumexp_j(trans[i, j] + e[t+1, j] + beta_{t+1}[j])
            p(y_t = k | e) = exp(alpha_t[k] + beta_t[k] - log Z)

        under the same distribution as :meth:`forward` (disallowed moves score ``-1e4``).
        Differentiable (log space throughout), so it can be explained by gradients.

        Args:
            emissions: ``(T, B, K)`` (``(B, T, K)`` if ``batch_first``).
            mask: ``(T, B)`` (``(B, T)`` if ``batch_first``), default all on.

        Returns:
            ``(T, B, K)`` (``(B, T, K)`` if ``batch_first``): each real step's probabilities sum
            to 1; padded steps are 0.
        """
        emissions, _, mask = self._prepare(emissions, None, mask)
        start, transitions, end = self._constrained_scores(DISALLOWED_SCORE)
        alphas = [start + emissions[0]]  # each (B, K)
        for t in range(1, emissions.size(0)):
            step = alphas[-1].unsqueeze(2) + transitions + emissions[t].unsqueeze(1)  # (B, K_prev, K_next)
            alphas.append(torch.where(mask[t].unsqueeze(1), torch.logsumexp(step, dim=1), alphas[-1]))
        log_z = torch.logsumexp(alphas[-1] + end, dim=1, keepdim=True)  # (B, 1); padding kept alpha
        betas = [end.expand_as(alphas[-1])]
        for t in range(emissions.size(0) - 2, -1, -1):
            # (K_prev, K_next) + (B, 1, K_next) -> logsumexp over K_next -> (B, K_prev)
            step = torch.logsumexp(transitions + (emissions[t + 1] + betas[-1]).unsqueeze(1), dim=2)
            betas.append(torch.where(mask[t + 1].unsqueeze(1), step, end.expand_as(step)))  # t is the last step
        betas.reverse()
        log_marginals = torch.stack(alphas) + torch.stack(betas) - log_z  # (T, B, K)
        out = log_marginals.exp().masked_fill(~mask.unsqueeze(2), 0.0)
        return out.transpose(0, 1) if self.batch_first else out

    def restricted_probability(self, emissions: Tensor, allowed: Tensor, mask: Tensor | None = None) -> Tensor:
        """The probability that the tag sequence keeps to ``allowed``: ``p(y_t in A_t for every t | e)``.

        With ``A_t`` the tags ``allowed`` at step ``t``, it is ``Z_A / Z``: the forward algorithm
        (module docstring) summing only over sequences whose every tag is allowed, over the one
        summing over all (the distribution of :meth:`forward`: disallowed moves score ``-1e4``).
        One tag allowed at each step of a span and every tag elsewhere gives the marginal
        probability of that span's tags; a tagger also rules out, at the step after a span, the
        tags that would continue it, to get the probability of an entity.

        Args:
            emissions: ``(T, B, K)`` (``(B, T, K)`` if ``batch_first``).
            allowed: bool, the shape of ``emissions``: the tags allowed at each step (padded steps
                are ignored).
            mask: ``(T, B)`` (``(B, T)`` if ``batch_first``), default all on.

        Returns:
            ``(B,)`` probabilities in ``[0, 1]`` (0 when no allowed sequence is possible).
        """
        emissions, _, mask = self._prepare(emissions, None, mask)
        if allowed.shape != (emissions.transpose(0, 1).shape if self.batch_first else emissions.shape):
            raise ValueError(f"allowed must have the shape of emissions, got {tuple(allowed.shape)}")
        allowed = allowed.transpose(0, 1) if self.batch_first else allowed
        allowed = allowed.bool() | ~mask.unsqueeze(2)  # padded steps take no part
        scores = self._constrained_scores(DISALLOWED_SCORE)
        log_z = _log_partition(emissions, mask, *scores)  # (B,)
        log_z_allowed = _log_partition(emissions.masked_fill(~allowed, float("-inf")), mask, *scores)  # (B,)
        return (log_z_allowed - log_z).exp()

    def decode(
        self, emissions: Tensor, mask: Tensor | None = None, nbest: int = 1
    ) -> list[list[int]] | list[list[list[int]]]:
        """The best tag sequence of each sequence by the Viterbi algorithm, as ``torchcrf.CRF.decode``.

        Args:
            emissions: ``(T, B, K)`` (``(B, T, K)`` if ``batch_first``).
            mask: ``(T, B)`` (``(B, T)`` if ``batch_first``), default all on.
            nbest: how many best paths per sequence (``>= 1``).

        Returns:
            ``nbest == 1`` (pytorch-crf's own result, type and values): a list of ``B`` lists of
            ints, ``paths[b]`` the best tags of sequence ``b``, of its true length.
            ``nbest > 1``: a list of ``B`` lists, ``paths[b]`` up to ``nbest`` tag lists, best
            first (fewer when the sequence has fewer (allowed) paths, but always at least one).
            Use :meth:`decode_with_scores` to also get the paths' scores.

        With constraints, only allowed paths are returned; a sequence with no allowed path at
        all (its length cannot satisfy the rules) falls back to the best paths under the
        ``-1e4`` penalty of :meth:`forward`, so every sequence gets at least one path.
        """
        return self.decode_with_scores(emissions, mask, nbest)[0]

    def decode_with_scores(
        self, emissions: Tensor, mask: Tensor | None = None, nbest: int = 1
    ) -> tuple[list[list[int]], Tensor] | tuple[list[list[list[int]]], Tensor]:
        """:meth:`decode`'s paths together with their scores.

        Returns:
            ``(paths, scores)``: ``paths`` exactly as :meth:`decode` returns them, and
            ``scores``: ``(B,)`` for ``nbest == 1``, the ``score(y)`` of each best path;
            ``(B, nbest)`` for ``nbest > 1``, best first, ``-inf`` where a sequence has fewer
            than ``nbest`` (allowed) paths. Scores equal what :meth:`score` gives the returned
            paths (under the ``-1e4`` penalties for a sequence that had no allowed path).
        """
        if nbest < 1:
            raise ValueError(f"nbest must be at least 1, got {nbest}")
        emissions, _, mask = self._prepare(emissions, None, mask)
        lengths = mask.sum(dim=0)  # (B,)
        best, scores = _nbest_viterbi(emissions, mask, *self._constrained_scores(float("-inf")), nbest)
        stuck = torch.isneginf(scores[:, 0])  # (B,) no allowed path at all
        if stuck.any():
            fb_best, fb_scores = _nbest_viterbi(emissions, mask, *self._constrained_scores(DISALLOWED_SCORE), nbest)
            best = torch.where(stuck[:, None, None], fb_best, best)
            scores = torch.where(stuck[:, None], fb_scores, scores)
        found = torch.isfinite(scores).tolist()
        paths = [
            [row[:length] for rank, (row, ok) in enumerate(zip(rows, oks)) if ok or rank == 0]
            for rows, oks, length in zip(best.tolist(), found, lengths.tolist())
        ]
        if nbest == 1:
            return [p[0] for p in paths], scores[:, 0]
        return paths, scores

    # ------------------------------------------------------------------------------- helpers

    def _constrained_scores(self, disallowed: float) -> tuple[Tensor, Tensor, Tensor]:
        """``(start (K,), transitions (K, K), end (K,))`` with disallowed moves set to ``disallowed``."""
        return (
            self.start_transitions.masked_fill(~self.start_allowed, disallowed),
            self.transitions.masked_fill(~self.transitions_allowed, disallowed),
            self.end_transitions.masked_fill(~self.end_allowed, disallowed),
        )

    def _prepare(self, emissions: Tensor, tags: Tensor | None, mask: Tensor | None):
        """Validate, then return time-first ``emissions (T, B, K)``, ``tags (T, B)``, ``mask (T, B)`` bool."""
        if emissions.dim() != 3:
            raise ValueError(f"emissions must have 3 dimensions, got {emissions.dim()}")
        if emissions.size(2) != self.num_tags:
            raise ValueError(
                f"emissions: expected last dimension {self.num_tags} (num_tags), got {emissions.size(2)}"
            )
        seq_dim = 1 if self.batch_first else 0
        if emissions.size(seq_dim) == 0:
            raise ValueError("emissions must have at least one time step")
        layout = "(B, T)" if self.batch_first else "(T, B)"
        if tags is not None:
            if tags.shape != emissions.shape[:2]:
                raise ValueError(
                    f"tags must have shape {layout} = {tuple(emissions.shape[:2])} like emissions, "
                    f"got {tuple(tags.shape)}"
                )
            if tags.dtype.is_floating_point or tags.dtype == torch.bool:
                raise ValueError(f"tags must be an integer (long) tensor, got {tags.dtype}")
        if mask is None:
            mask = torch.ones(emissions.shape[:2], dtype=torch.bool, device=emissions.device)
        elif mask.shape != emissions.shape[:2]:
            raise ValueError(
                f"mask must have shape {layout} = {tuple(emissions.shape[:2])} like emissions, "
                f"got {tuple(mask.shape)}"
            )
        mask = mask.bool()
        if self.batch_first:
            emissions = emissions.transpose(0, 1)
            mask = mask.transpose(0, 1)
            tags = tags.transpose(0, 1) if tags is not None else None
        if not mask[0].all():
            raise ValueError("mask of the first timestep must all be on")
        if (mask[1:] & ~mask[:-1]).any():
            raise ValueError("mask must be on for a prefix of each sequence (right padding, no gaps)")
        # Padded positions may hold anything (tags -100, NaN emissions): make them harmless.
        emissions = emissions.masked_fill(~mask.unsqueeze(2), 0.0)
        if tags is not None:
            tags = tags.long().masked_fill(~mask, 0)
        return emissions, tags, mask


def _path_score(
    emissions: Tensor, tags: Tensor, mask: Tensor, start: Tensor, transitions: Tensor, end: Tensor
) -> Tensor:
    """``score(tags)`` per sequence, ``(B,)``; inputs time-first, ``mask`` a bool prefix mask."""
    seq_len, batch = tags.shape
    emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (T, B)
    moved = transitions[tags[:-1], tags[1:]]  # (T-1, B): move into step t from t-1
    last = tags[mask.sum(dim=0) - 1, torch.arange(batch, device=tags.device)]  # (B,)
    return (
        start[tags[0]]
        + emitted.masked_fill(~mask, 0.0).sum(dim=0)
        + moved.masked_fill(~mask[1:], 0.0).sum(dim=0)
        + end[last]
    )


def _log_partition(emissions: Tensor, mask: Tensor, start: Tensor, transitions: Tensor, end: Tensor) -> Tensor:
    """``log Z`` per sequence, ``(B,)``, by the forward algorithm (loop over time only)."""
    alpha = start + emissions[0]  # (B, K): log-sum of all paths ending in each tag
    for t in range(1, emissions.size(0)):
        # (B, K_prev, 1) + (K_prev, K_next) + (B, 1, K_next) -> (B, K_prev, K_next)
        step = alpha.unsqueeze(2) + transitions + emissions[t].unsqueeze(1)
        alpha = torch.where(mask[t].unsqueeze(1), torch.logsumexp(step, dim=1), alpha)  # (B, K)
    return torch.logsumexp(alpha + end, dim=1)


def _nbest_viterbi(
    emissions: Tensor, mask: Tensor, start: Tensor, transitions: Tensor, end: Tensor, nbest: int
) -> tuple[Tensor, Tensor]:
    """The ``n = nbest`` best paths of every sequence, vectorised over the batch.

    ``score[b, r, k]`` is the ``r``-th best score of a partial path ending in tag ``k``; each
    step takes the ``n`` best of the ``n * K`` ways to extend into each next tag, remembering
    the flat index ``r * K + k_prev`` it came from. Padded steps point to themselves, so every
    path can be traced back over all ``T`` steps and cut to its length afterwards.

    Returns:
        ``paths (B, n, T)`` long (valid up to each length) and ``scores (B, n)``, best first,
        ``-inf`` for ranks with no path.
    """
    seq_len, batch, num_tags = emissions.shape
    n = nbest
    score = emissions.new_full((batch, n, num_tags), float("-inf"))  # (B, n, K)
    score[:, 0] = start + emissions[0]
    identity = torch.arange(n * num_tags, device=emissions.device).view(1, n, num_tags)  # (1, n, K)
    history = []
    for t in range(1, seq_len):
        # (B, n, K_prev, 1) + (K_prev, K_next) -> (B, n * K_prev, K_next)
        step = (score.unsqueeze(3) + transitions).reshape(batch, n * num_tags, num_tags)
        best, came_from = step.topk(n, dim=1)  # (B, n, K_next) each
        best = best + emissions[t].unsqueeze(1)
        on = mask[t].view(batch, 1, 1)
        score = torch.where(on, best, score)
        history.append(torch.where(on, came_from, identity))
    final, flat = (score + end).reshape(batch, n * num_tags).topk(n, dim=1)  # (B, n)
    rank, tag = flat // num_tags, flat % num_tags  # (B, n)
    tags = [tag]
    for came_from in reversed(history):
        flat = came_from.reshape(batch, n * num_tags).gather(1, rank * num_tags + tag)  # (B, n)
        rank, tag = flat // num_tags, flat % num_tags
        tags.append(tag)
    tags.reverse()
    return torch.stack(tags, dim=2), final  # (B, n, T), (B, n)
