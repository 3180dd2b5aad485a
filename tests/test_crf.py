"""The CRF against brute-force enumeration of every tag sequence, and against pytorch-crf."""

import itertools
import math

import pytest
import torch
import torchcrf

from lstmkit.nn.crf import CRF, DISALLOWED_SCORE, TransitionConstraints, allowed_transitions

K = 3


# ------------------------------------------------------------------------------ brute force


def path_score(crf: CRF, emissions: torch.Tensor, path) -> float:
    """score(y) of one sequence from the equation, with the raw (unconstrained) parameters.

    emissions: (L, K) for that one sequence, L = len(path).
    """
    start, trans, end = crf.start_transitions, crf.transitions, crf.end_transitions
    score = start[path[0]] + end[path[-1]]
    score = score + sum(emissions[t, y] for t, y in enumerate(path))
    score = score + sum(trans[a, b] for a, b in zip(path[:-1], path[1:]))
    return float(score.detach())


def all_paths(crf: CRF, emissions: torch.Tensor, allowed_only: bool = False):
    """[(score, path)] for every tag sequence of length L = emissions.size(0), best first."""
    length, num_tags = emissions.shape
    scored = []
    for path in itertools.product(range(num_tags), repeat=length):
        if allowed_only and not crf.constraints.allows(list(path)):
            continue
        scored.append((path_score(crf, emissions, path), list(path)))
    return sorted(scored, key=lambda item: -item[0])


def brute_loglik(crf: CRF, emissions: torch.Tensor, path, allowed_only: bool = False) -> float:
    scores = [s for s, _ in all_paths(crf, emissions, allowed_only)]
    log_z = max(scores) + math.log(sum(math.exp(s - max(scores)) for s in scores))
    return path_score(crf, emissions, path) - log_z


def make_batch(lengths, num_tags=K, seed=0):
    """Time-first float64 emissions (T, B, K), random tags (T, B) and the mask (T, B)."""
    gen = torch.Generator().manual_seed(seed)
    seq_len, batch = max(lengths), len(lengths)
    emissions = 2 * torch.randn(seq_len, batch, num_tags, generator=gen, dtype=torch.float64)
    tags = torch.randint(num_tags, (seq_len, batch), generator=gen)
    mask = torch.arange(seq_len).unsqueeze(1) < torch.tensor(lengths).unsqueeze(0)
    return emissions, tags, mask


def make_crf(num_tags=K, batch_first=False, seed=0, constraints=None) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(num_tags, batch_first=batch_first, constraints=constraints).double()
    with torch.no_grad():  # larger than the default init, so paths differ clearly
        for p in crf.parameters():
            p.uniform_(-1.0, 1.0)
    return crf


def layout(crf: CRF, *tensors):
    """Transpose time-first tensors to the CRF's layout."""
    return [t.transpose(0, 1) if crf.batch_first else t for t in tensors]


LENGTHS = [4, 2, 1, 3]  # different lengths, with padding, including a length-1 sequence


# ------------------------------------------------------------------------- log-likelihood


@pytest.mark.parametrize("batch_first", [False, True])
def test_loglik_matches_brute_force(batch_first):
    crf = make_crf(batch_first=batch_first)
    emissions, tags, mask = make_batch(LENGTHS)
    llh = crf(*layout(crf, emissions, tags, mask), reduction="none")
    assert llh.shape == (len(LENGTHS),)
    for b, length in enumerate(LENGTHS):
        expected = brute_loglik(crf, emissions[:length, b], tags[:length, b].tolist())
        assert llh[b].item() == pytest.approx(expected, abs=1e-9)


def test_loglik_without_mask_is_all_on():
    crf = make_crf()
    emissions, tags, _ = make_batch([3, 3])
    llh = crf(emissions, tags, reduction="none")
    for b in range(2):
        assert llh[b].item() == pytest.approx(brute_loglik(crf, emissions[:, b], tags[:, b].tolist()), abs=1e-9)


def test_reductions():
    crf = make_crf()
    emissions, tags, mask = make_batch(LENGTHS)
    none = crf(emissions, tags, mask, reduction="none")
    assert crf(emissions, tags, mask).item() == pytest.approx(none.sum().item())  # default "sum"
    assert crf(emissions, tags, mask, reduction="mean").item() == pytest.approx(none.mean().item())
    token_mean = crf(emissions, tags, mask, reduction="token_mean").item()
    assert token_mean == pytest.approx(none.sum().item() / sum(LENGTHS))


def test_probabilities_sum_to_one():
    crf = make_crf()
    emissions, _, _ = make_batch([3])
    total = 0.0
    for path in itertools.product(range(K), repeat=3):
        tags = torch.tensor(path).unsqueeze(1)  # (T, 1)
        total += crf(emissions, tags).exp().item()
    assert total == pytest.approx(1.0, abs=1e-9)


def test_padded_positions_are_ignored():
    """Tags at padding may be -100 and emissions NaN: results and gradients do not change."""
    crf = make_crf()
    emissions, tags, mask = make_batch(LENGTHS)
    dirty_emissions = emissions.masked_fill(~mask.unsqueeze(2), float("nan")).requires_grad_()
    dirty_tags = tags.masked_fill(~mask, -100)
    llh = crf(dirty_emissions, dirty_tags, mask, reduction="none")
    torch.testing.assert_close(llh, crf(emissions, tags, mask, reduction="none"))
    llh.sum().backward()
    assert torch.isfinite(dirty_emissions.grad).all()
    assert (dirty_emissions.grad[~mask] == 0).all()
    assert all(torch.isfinite(p.grad).all() for p in crf.parameters())
    assert crf.decode(dirty_emissions.detach(), mask) == crf.decode(emissions, mask)


def test_gradcheck():
    crf = make_crf()
    emissions, tags, mask = make_batch([3, 2])
    params = {name: p.detach().clone().requires_grad_() for name, p in crf.named_parameters()}

    def loglik(emissions, start, end, trans):
        values = {"start_transitions": start, "end_transitions": end, "transitions": trans}
        return torch.func.functional_call(crf, values, (emissions, tags, mask), {"reduction": "none"})

    inputs = (emissions.requires_grad_(), params["start_transitions"], params["end_transitions"], params["transitions"])
    assert torch.autograd.gradcheck(loglik, inputs)


# ----------------------------------------------------------------------------- decoding


@pytest.mark.parametrize("batch_first", [False, True])
def test_viterbi_matches_brute_force(batch_first):
    crf = make_crf(batch_first=batch_first)
    emissions, _, mask = make_batch(LENGTHS, seed=1)
    paths, scores = crf.decode_with_scores(*layout(crf, emissions, mask))
    assert scores.shape == (len(LENGTHS),)
    for b, length in enumerate(LENGTHS):
        best_score, best_path = all_paths(crf, emissions[:length, b])[0]
        assert paths[b] == best_path
        assert scores[b].item() == pytest.approx(best_score, abs=1e-9)


@pytest.mark.parametrize("batch_first", [False, True])
def test_nbest_matches_brute_force(batch_first):
    nbest = 5  # more than the 3 paths of the length-1 sequence
    crf = make_crf(batch_first=batch_first)
    emissions, _, mask = make_batch(LENGTHS, seed=2)
    paths, scores = crf.decode_with_scores(*layout(crf, emissions, mask), nbest=nbest)
    assert scores.shape == (len(LENGTHS), nbest)
    for b, length in enumerate(LENGTHS):
        expected = all_paths(crf, emissions[:length, b])[:nbest]
        assert paths[b] == [path for _, path in expected]
        found = len(expected)
        torch.testing.assert_close(scores[b, :found], torch.tensor([s for s, _ in expected], dtype=torch.float64))
        assert torch.isneginf(scores[b, found:]).all()
    assert len(paths[2]) == K  # the length-1 sequence has only K paths


def test_nbest_first_is_viterbi_and_scores_match_score():
    crf = make_crf(num_tags=4)
    emissions, _, mask = make_batch([5, 3, 4], num_tags=4, seed=3)
    best, best_scores = crf.decode_with_scores(emissions, mask)
    nbest, nbest_scores = crf.decode_with_scores(emissions, mask, nbest=3)
    assert [p[0] for p in nbest] == best
    torch.testing.assert_close(nbest_scores[:, 0], best_scores)
    assert (nbest_scores[:, :-1] >= nbest_scores[:, 1:]).all()  # best first
    for rank in range(3):
        tags = torch.zeros(mask.shape, dtype=torch.long)
        for b, paths in enumerate(nbest):
            tags[: len(paths[rank]), b] = torch.tensor(paths[rank])
        torch.testing.assert_close(crf.score(emissions, tags, mask), nbest_scores[:, rank])


def test_decode_empty_batch():
    crf = make_crf()
    paths, scores = crf.decode_with_scores(torch.zeros(3, 0, K, dtype=torch.float64))
    assert paths == [] and scores.shape == (0,)
    assert crf.decode(torch.zeros(3, 0, K, dtype=torch.float64)) == []


# ----------------------------------------------------------------- against pytorch-crf


@pytest.mark.parametrize("batch_first", [False, True])
def test_matches_pytorch_crf(batch_first):
    """Likelihood under every reduction equals pytorch-crf's with the same weights.

    Fails if a reduction is computed differently (e.g. token_mean divides by B)."""
    num_tags, lengths = 5, [7, 3, 6, 1, 7]
    ours = CRF(num_tags, batch_first=batch_first)
    reference = torchcrf.CRF(num_tags, batch_first=batch_first)
    ours.load_state_dict(reference.state_dict())  # same names and shapes
    emissions, tags, mask = make_batch(lengths, num_tags=num_tags, seed=4)
    emissions = emissions.float()
    emissions, tags, mask = layout(ours, emissions, tags, mask)
    for reduction in ("none", "sum", "mean", "token_mean"):
        torch.testing.assert_close(
            ours(emissions, tags, mask, reduction=reduction),
            reference(emissions, tags, mask, reduction=reduction),
        )


@pytest.mark.filterwarnings("ignore:where received a uint8 condition")  # inside torchcrf, mask=None
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_decode_returns_what_pytorch_crf_returns(batch_first, masked):
    """The same ``decode`` call on both packages gives equal results: a plain ``list`` of
    ``B`` lists of Python ints, each of its sequence's true length, with the same tags.

    Fails if ``decode`` returns a tuple (paths, scores) again, tensors or numpy ints instead
    of ints, padded paths, or paths in the other layout's order."""
    num_tags, lengths = 6, [7, 3, 6, 1, 7, 2]
    ours = CRF(num_tags, batch_first=batch_first)
    reference = torchcrf.CRF(num_tags, batch_first=batch_first)
    with torch.no_grad():
        for p in reference.parameters():
            p.uniform_(-1.0, 1.0)
    ours.load_state_dict(reference.state_dict())
    seq_len = max(lengths)
    if not masked:
        lengths = [seq_len] * len(lengths)
    emissions, _, mask = make_batch(lengths, num_tags=num_tags, seed=11)
    emissions, mask = layout(ours, emissions.float(), mask)
    args = (emissions, mask) if masked else (emissions,)
    expected = reference.decode(*args)
    got = ours.decode(*args)
    assert type(got) is list and all(type(path) is list for path in got)
    assert all(type(tag) is int for path in got for tag in path)
    assert [len(path) for path in got] == lengths
    assert got == expected
    paths, scores = ours.decode_with_scores(*args)
    assert paths == expected and scores.shape == (len(lengths),)
    nbest = ours.decode(*args, nbest=3)  # our extension: B lists of up to 3 paths, best first
    assert len(nbest) == len(lengths) and [ranked[0] for ranked in nbest] == expected
    assert nbest == ours.decode_with_scores(*args, nbest=3)[0]


SCHEME_LABELS = {
    "BIO": ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"],
    "BIOES": ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"],
    "BMES": ["B", "M", "E", "S"],
}


@pytest.mark.parametrize("scheme", sorted(SCHEME_LABELS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_constrained_decode_never_emits_an_illegal_sequence(scheme, batch_first):
    """On random emissions and random transition scores, every decoded path (1-best and
    5-best) obeys the scheme, checked against the rules written out by hand here (not
    through ``allowed_transitions``). Fails if decoding ignores a constraint (e.g. the end
    constraint, which lets BIOES end inside an entity), or if constraints are lost in the
    batch_first transpose."""
    labels = SCHEME_LABELS[scheme]
    crf = make_crf(len(labels), batch_first=batch_first, seed=3,
                   constraints=allowed_transitions(labels, scheme))
    with torch.no_grad():
        crf.transitions.mul_(5.0)  # strong, random preferences for illegal moves too
    lengths = [9, 1, 2, 5, 8, 3, 7, 4] * 4
    emissions, _, mask = make_batch(lengths, num_tags=len(labels), seed=12)
    emissions = 4 * emissions
    best = crf.decode(*layout(crf, emissions, mask))
    ranked = crf.decode(*layout(crf, emissions, mask), nbest=5)
    for path, length in zip(best, lengths):
        assert len(path) == length and legal(scheme, [labels[k] for k in path])
    assert all(legal(scheme, [labels[k] for k in path]) for paths in ranked for path in paths)


def legal(scheme: str, tags: list[str]) -> bool:
    """Whether a tag sequence is well-formed in the scheme, by the textbook rules."""
    if scheme == "BIO":
        return all(
            not tag.startswith("I-") or (prev is not None and prev[2:] == tag[2:] and prev[0] in "BI")
            for prev, tag in zip([None] + tags[:-1], tags)
        )
    if scheme == "BMES":
        tags = [{"M": "I-W", "B": "B-W", "E": "E-W", "S": "S-W"}[t] for t in tags]
    inside = None  # the type of the open entity
    for tag in tags:
        prefix, entity_type = tag[0], tag[2:]
        if inside is None and prefix in "IE":
            return False
        if inside is not None and (prefix not in "IE" or entity_type != inside):
            return False
        inside = entity_type if prefix in "BI" else None
    return inside is None


def test_state_dict_round_trips_with_pytorch_crf():
    reference = torchcrf.CRF(4)
    ours = CRF(4, constraints=allowed_transitions(["O", "B-X", "I-X", "B-Y"], "BIO"))
    assert set(ours.state_dict()) == set(reference.state_dict())  # constraints are not saved
    ours.load_state_dict(reference.state_dict())
    reference.load_state_dict(ours.state_dict())
    assert not ours.transitions_allowed[0, 2]  # loading keeps the constraints


def test_default_init_is_small_uniform():
    crf = CRF(50)
    for p in crf.parameters():
        assert p.abs().max() <= 0.1 and p.std() > 0.03


# ---------------------------------------------------------------------------- constraints


def test_bio_allowed_transitions_by_hand():
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    c = allowed_transitions(labels, "BIO")
    assert c.start.tolist() == [True, True, False, True, False]
    assert c.end.tolist() == [True] * 5
    allowed = {(labels[i], labels[j]) for i in range(5) for j in range(5) if c.transitions[i, j]}
    into_o_or_b = {(a, b) for a in labels for b in ("O", "B-PER", "B-LOC")}
    assert allowed == into_o_or_b | {
        ("B-PER", "I-PER"), ("I-PER", "I-PER"), ("B-LOC", "I-LOC"), ("I-LOC", "I-LOC"),
    }
    assert not c.allows([0, 2]) and not c.allows([3, 2]) and c.allows([0, 1, 2, 2, 0])


def test_bioes_allowed_transitions_by_hand():
    labels = ["O", "B-X", "I-X", "E-X", "S-X", "B-Y", "E-Y"]
    c = allowed_transitions(labels, "BIOES")
    assert c.start.tolist() == [True, True, False, False, True, True, False]
    assert c.end.tolist() == [True, False, False, True, True, False, True]
    allowed = {(labels[i], labels[j]) for i in range(7) for j in range(7) if c.transitions[i, j]}
    closed, opening = ("O", "E-X", "S-X", "E-Y"), ("O", "B-X", "S-X", "B-Y")
    assert allowed == {(a, b) for a in closed for b in opening} | {
        ("B-X", "I-X"), ("B-X", "E-X"), ("I-X", "I-X"), ("I-X", "E-X"), ("B-Y", "E-Y"),
    }


def test_bmes_allowed_transitions_by_hand():
    labels = ["B", "M", "E", "S"]
    c = allowed_transitions(labels, "bmes")  # case-insensitive
    assert c.start.tolist() == [True, False, False, True]
    assert c.end.tolist() == [False, False, True, True]
    expected = [
        [False, True, True, False],  # B -> M, E
        [False, True, True, False],  # M -> M, E
        [True, False, False, True],  # E -> B, S
        [True, False, False, True],  # S -> B, S
    ]
    assert c.transitions.tolist() == expected


def test_allowed_transitions_errors():
    with pytest.raises(ValueError, match="scheme must be one of BIO, BIOES, BMES"):
        allowed_transitions(["O"], "IOB3")
    with pytest.raises(ValueError, match="labels: 'E-X' is not a BIO label"):
        allowed_transitions(["O", "E-X"], "BIO")
    with pytest.raises(ValueError, match="labels: 'O' is not a BMES label"):
        allowed_transitions(["O", "B"], "BMES")


BIO_LABELS = ["O", "B-X", "I-X"]


def constrained_crf(batch_first=False):
    crf = make_crf(batch_first=batch_first, constraints=allowed_transitions(BIO_LABELS, "BIO"))
    with torch.no_grad():  # make the disallowed moves the most attractive ones
        crf.transitions[0, 2] = 5.0
        crf.start_transitions[2] = 5.0
    return crf


@pytest.mark.parametrize("batch_first", [False, True])
def test_constrained_loglik_sums_over_allowed_paths_only(batch_first):
    crf = constrained_crf(batch_first)
    emissions, _, mask = make_batch(LENGTHS, seed=5)
    tags = torch.tensor([[1, 0, 0, 1], [2, 1, 0, 2], [0, 2, 0, 0], [1, 0, 0, 0]])  # all allowed
    llh = crf(*layout(crf, emissions, tags, mask), reduction="none")
    for b, length in enumerate(LENGTHS):
        expected = brute_loglik(crf, emissions[:length, b], tags[:length, b].tolist(), allowed_only=True)
        assert llh[b].item() == pytest.approx(expected, abs=1e-9)


def test_disallowed_gold_path_gets_finite_penalty():
    crf = constrained_crf()
    emissions, _, _ = make_batch([2], seed=6)
    llh = crf(emissions, torch.tensor([[0], [2]]))  # O -> I-X
    assert math.isfinite(llh.item()) and llh.item() < DISALLOWED_SCORE / 2


@pytest.mark.parametrize("batch_first", [False, True])
def test_constrained_decode_matches_brute_force_over_allowed_paths(batch_first):
    crf = constrained_crf(batch_first)
    emissions, _, mask = make_batch(LENGTHS, seed=7)
    emissions[:, :, 2] += 3.0  # I-X everywhere looks best to the emissions
    paths, scores = crf.decode_with_scores(*layout(crf, emissions, mask), nbest=4)
    for b, length in enumerate(LENGTHS):
        expected = all_paths(crf, emissions[:length, b], allowed_only=True)[:4]
        assert paths[b] == [path for _, path in expected]
        assert all(crf.constraints.allows(path) for path in paths[b])
        found = len(expected)
        torch.testing.assert_close(scores[b, :found], torch.tensor([s for s, _ in expected], dtype=torch.float64))
        assert torch.isneginf(scores[b, found:]).all()
    assert len(paths[2]) == 2  # length 1: only O and B-X may start (and end) a sequence


def test_constrained_decode_never_disallowed_even_with_huge_emissions():
    crf = constrained_crf()
    emissions, _, mask = make_batch([4, 3], seed=8)
    emissions[:, :, 2] += 1e5  # far beyond the -1e4 penalty: -inf in decoding still wins
    paths = crf.decode(emissions, mask)
    assert all(crf.constraints.allows(path) for path in paths)


def test_decode_falls_back_when_no_path_is_allowed():
    # BIOES with only B-X and E-X: the one allowed sequence of length 4 is B E B E, and
    # no sequence of length 1 is allowed: that one gets the best path under the -1e4 penalty.
    crf = make_crf(num_tags=2, constraints=allowed_transitions(["B-X", "E-X"], "BIOES"))
    emissions, _, mask = make_batch([4, 1], num_tags=2, seed=9)
    paths, scores = crf.decode_with_scores(emissions, mask)
    assert paths[0] == [0, 1, 0, 1]
    assert scores[0].item() == pytest.approx(path_score(crf, emissions[:, 0], [0, 1, 0, 1]))
    penalised = [DISALLOWED_SCORE + crf.end_transitions[0], crf.start_transitions[1] + DISALLOWED_SCORE]
    expected_tag = int(torch.argmax(emissions[0, 1] + torch.stack(penalised)))
    assert paths[1] == [expected_tag] and math.isfinite(scores[1].item())
    tags = torch.tensor([paths[0], paths[1] + [0, 0, 0]]).T
    torch.testing.assert_close(crf.score(emissions, tags, mask), scores)
    nbest_paths, nbest_scores = crf.decode_with_scores(emissions, mask, nbest=3)
    assert nbest_paths[0] == [[0, 1, 0, 1]] and torch.isneginf(nbest_scores[0, 1:]).all()
    assert nbest_paths[1] == [[expected_tag], [1 - expected_tag]]  # both, penalised, best first


def test_set_constraints_none_removes_them():
    crf = constrained_crf()
    crf.set_constraints(None)
    assert crf.start_allowed.all() and crf.transitions_allowed.all() and crf.end_allowed.all()


# --------------------------------------------------------------------------------- errors


def test_errors():
    crf = CRF(K)
    emissions = torch.randn(4, 2, K)
    tags = torch.zeros(4, 2, dtype=torch.long)
    with pytest.raises(ValueError, match="num_tags must be positive"):
        CRF(0)
    with pytest.raises(ValueError, match="emissions must have 3 dimensions"):
        crf(emissions[0], tags)
    with pytest.raises(ValueError, match="emissions: expected last dimension 3"):
        crf.decode(torch.randn(4, 2, K + 1))
    with pytest.raises(ValueError, match="emissions must have at least one time step"):
        crf.decode(torch.randn(0, 2, K))
    with pytest.raises(ValueError, match=r"tags must have shape \(T, B\) = \(4, 2\)"):
        crf(emissions, tags.T)
    with pytest.raises(ValueError, match="tags must be an integer"):
        crf(emissions, tags.float())
    with pytest.raises(ValueError, match=r"mask must have shape \(T, B\)"):
        crf(emissions, tags, torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask of the first timestep must all be on"):
        crf(emissions, tags, torch.tensor([[1, 0], [1, 0], [0, 0], [0, 0]], dtype=torch.uint8))
    with pytest.raises(ValueError, match="no gaps"):
        crf.decode(emissions, torch.tensor([[1, 1], [0, 1], [1, 1], [0, 0]], dtype=torch.bool))
    with pytest.raises(ValueError, match="nbest must be at least 1"):
        crf.decode(emissions, nbest=0)
    with pytest.raises(ValueError, match="reduction must be one of none, sum, mean, token_mean"):
        crf(emissions, tags, reduction="avg")
    with pytest.raises(ValueError, match=r"constraints.start must have shape \(3,\) for num_tags=3"):
        crf.set_constraints(allowed_transitions(["O", "B-X"], "BIO"))


def test_batch_first_error_names_batch_first_layout():
    crf = CRF(K, batch_first=True)
    with pytest.raises(ValueError, match=r"mask must have shape \(B, T\) = \(2, 4\)"):
        crf.decode(torch.randn(2, 4, K), torch.ones(4, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask of the first timestep must all be on"):
        crf.decode(torch.randn(2, 4, K), torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]]))


def test_transition_constraints_allows():
    c = TransitionConstraints(
        start=torch.tensor([True, False]), transitions=torch.tensor([[False, True], [True, False]]),
        end=torch.tensor([False, True]),
    )
    assert c.allows([0, 1]) and c.allows([0, 1, 0, 1])
    assert not c.allows([1]) and not c.allows([0, 0, 1]) and not c.allows([0]) and not c.allows([])


# ------------------------------------------------------------------------------ marginals


def brute_marginals(crf: CRF, emissions: torch.Tensor, allowed_only: bool = False) -> torch.Tensor:
    """``(L, K)``: p(y_t = k | e) by summing p(y) over every tag sequence y (of length L)."""
    scored = all_paths(crf, emissions, allowed_only)
    top = max(s for s, _ in scored)
    weights = [math.exp(s - top) for s, _ in scored]
    out = torch.zeros(emissions.shape, dtype=torch.float64)
    for w, (_, path) in zip(weights, scored):
        for t, k in enumerate(path):
            out[t, k] += w
    return out / sum(weights)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("constrained", [False, True])
def test_marginals_match_brute_force(batch_first, constrained):
    """Forward-backward must give what enumerating every path gives, at every step of sequences of
    several lengths (padding included): a backward pass off by one step, or one that forgets the end
    scores or a sequence's own length, fails at the last steps."""
    tags = ["O", "B-PER", "I-PER"]
    constraints = allowed_transitions(tags, "BIO") if constrained else None
    crf = make_crf(batch_first=batch_first, constraints=constraints)
    emissions, _, mask = make_batch(LENGTHS)
    (marginals,) = layout(crf, crf.marginals(*layout(crf, emissions, mask)))  # back to (T, B, K)
    assert marginals.shape == emissions.shape
    for b, length in enumerate(LENGTHS):
        expected = brute_marginals(crf, emissions[:length, b], allowed_only=constrained)
        torch.testing.assert_close(marginals[:length, b], expected, atol=1e-9, rtol=0)
        assert (marginals[length:, b] == 0).all()
    if constrained:  # I-PER can never start a sentence
        assert (marginals[0, :, 2] < 1e-12).all()


def test_marginals_are_differentiable():
    """Explanations differentiate marginals: their gradients must be the true ones (gradcheck)."""
    crf = make_crf()
    emissions, _, mask = make_batch([3, 2])
    emissions.requires_grad_()
    assert torch.autograd.gradcheck(lambda e: crf.marginals(e, mask), (emissions,))


def brute_restricted(crf: CRF, emissions: torch.Tensor, allowed: torch.Tensor, allowed_only: bool = False) -> float:
    """p(y_t in allowed_t for every t) by summing p(y) over every tag sequence (``emissions`` (L, K))."""
    scored = all_paths(crf, emissions, allowed_only)
    top = max(s for s, _ in scored)
    total = sum(math.exp(s - top) for s, _ in scored)
    kept = sum(math.exp(s - top) for s, path in scored if all(allowed[t, k] for t, k in enumerate(path)))
    return kept / total


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("constrained", [False, True])
def test_restricted_probability_matches_brute_force(batch_first, constrained):
    """An entity's confidence is the probability that its span carries exactly its tags (and the
    next token does not continue it): the restricted forward pass must equal enumerating every
    path, for random allowed sets on sequences of several lengths (padding included)."""
    tags = ["O", "B-PER", "I-PER"]
    constraints = allowed_transitions(tags, "BIO") if constrained else None
    crf = make_crf(batch_first=batch_first, constraints=constraints)
    emissions, _, mask = make_batch(LENGTHS)
    gen = torch.Generator().manual_seed(1)
    allowed = torch.rand(emissions.shape, generator=gen) < 0.6  # (T, B, K)
    allowed[1, 0] = torch.tensor([False, True, False])  # a span: B-PER at step 1 of the first sequence
    with torch.no_grad():
        got = crf.restricted_probability(*layout(crf, emissions, allowed, mask))
    assert got.shape == (len(LENGTHS),)
    for b, length in enumerate(LENGTHS):
        expected = brute_restricted(crf, emissions[:length, b], allowed[:length, b], allowed_only=constrained)
        assert float(got[b]) == pytest.approx(expected, abs=1e-9)
    everything = torch.ones_like(allowed)
    torch.testing.assert_close(crf.restricted_probability(*layout(crf, emissions, everything, mask)),
                               torch.ones(len(LENGTHS), dtype=torch.float64))
    one_step = torch.zeros_like(allowed)  # only tag k allowed at step 0, anything after: the marginal
    one_step[0, :, 1], one_step[1:] = True, True
    (marginals,) = layout(crf, crf.marginals(*layout(crf, emissions, mask)))
    torch.testing.assert_close(crf.restricted_probability(*layout(crf, emissions, one_step, mask)), marginals[0, :, 1])
