"""lstmkit.export.marginals: the numpy forward-backward against lstmkit.nn.CRF.marginals, and a tagger
ensemble's numpy combination and decoding against TaggerEnsemble's own (mixed CRF and softmax members).

Bugs each test catches: an off-by-one in the backward pass (beta read at t instead of t+1), padded steps
read into a CRF member's forward-backward, constraints dropped; emissions averaged instead of marginals,
a member left out, decoding that ignores the scheme's rules.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmkit.export.marginals import marginals, mean_log_marginals
from lstmkit.export.viterbi import decode
from lstmkit.nn.crf import CRF, allowed_transitions
from lstmkit.tasks.tagger.config import TaggerModelConfig
from lstmkit.tasks.tagger.ensemble import FLOOR, TaggerEnsemble
from lstmkit.tasks.tagger.network import TaggerNet

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
LENGTHS = [6, 1, 3, 5, 2]


def _mask(lengths: list[int], steps: int) -> torch.Tensor:
    return torch.arange(steps)[None, :] < torch.tensor(lengths)[:, None]  # (B, T)


def _tables(crf: CRF) -> dict:
    return {key: getattr(crf, key).detach().double().numpy()
            for key in ("start_transitions", "transitions", "end_transitions")}


@pytest.mark.parametrize("constrained", [True, False])
def test_numpy_forward_backward_equals_the_crf(constrained):
    """Random tables and emissions, sentences of lengths 6, 1, 3, 5, 2 in one batch, NaN in the padding."""
    torch.manual_seed(0)
    constraints = allowed_transitions(TAGS, "BIO") if constrained else None
    crf = CRF(len(TAGS), batch_first=True, constraints=constraints).double()
    with torch.no_grad():
        for table in (crf.start_transitions, crf.transitions, crf.end_transitions):
            table.normal_(0.0, 1.5)
    emissions = torch.randn(len(LENGTHS), max(LENGTHS), len(TAGS), dtype=torch.float64) * 2
    mask = _mask(LENGTHS, max(LENGTHS))
    emissions[~mask] = float("nan")  # never read
    expected = crf.marginals(emissions, mask).detach().numpy()
    allowed = None if constraints is None else {"start": constraints.start, "transitions": constraints.transitions,
                                                "end": constraints.end}
    t = _tables(crf)
    got = marginals(emissions.numpy(), np.array(LENGTHS), t["start_transitions"], t["transitions"],
                    t["end_transitions"], allowed=allowed)
    np.testing.assert_allclose(got, expected, atol=1e-10)
    np.testing.assert_allclose(got.sum(-1), mask.double().numpy(), atol=1e-10)  # 1 at real steps, 0 at padding
    if constrained:  # the rules move probability: the unconstrained marginals differ
        free = marginals(emissions.numpy(), np.array(LENGTHS), t["start_transitions"], t["transitions"],
                         t["end_transitions"])
        assert not np.allclose(free, got, atol=1e-3)


def test_marginals_refuse_a_length_outside_the_steps():
    with pytest.raises(ValueError, match=r"lengths\[1\] = 0"):
        marginals(np.zeros((2, 3, 2)), np.array([3, 0]), np.zeros(2), np.zeros((2, 2)), np.zeros(2))


def _member(decoder: str, seed: int) -> TaggerNet:
    """An untrained tagger network with scaled-up output weights, its CRF tables drawn at random."""
    torch.manual_seed(seed)
    cfg = TaggerModelConfig(embedding_dim=6, hidden_size=5, bigram_dim=0, dictionary=None, decoder=decoder)
    net = TaggerNet(20, TAGS, "BIO", cfg).eval()
    with torch.no_grad():
        net.emit.weight.mul_(8.0)  # scores of a few units apart, as a trained tagger's
        net.emit.bias[TAGS.index("I-PER")] += 4.0  # I-PER often best alone, where BIO forbids it (after O, first)
        if decoder == "crf":
            for table in (net.crf.start_transitions, net.crf.transitions, net.crf.end_transitions):
                table.normal_(0.0, 1.0)
    return net


def _sidecar(ensemble: TaggerEnsemble) -> dict:
    """What an exported ensemble's sidecar holds for decoding, written here from the members themselves."""
    rules = ensemble.crf.constraints
    return {"tags": TAGS, "scheme": "BIO", "model_scheme": "BIO",
            "start_transitions": [0.0] * len(TAGS), "transitions": [[0.0] * len(TAGS)] * len(TAGS),
            "end_transitions": [0.0] * len(TAGS),
            "allowed": {"start": rules.start.tolist(), "transitions": rules.transitions.tolist(),
                        "end": rules.end.tolist()},
            "ensemble": {"floor": FLOOR, "members": [
                {"decoder": m.decoder, **({k: v.tolist() for k, v in _tables(m.crf).items()}
                                          if m.decoder == "crf" else {})} for m in ensemble.members]}}


@pytest.mark.parametrize("decoders", [("crf", "crf", "crf"), ("softmax", "softmax"), ("crf", "softmax")])
def test_mean_log_marginals_and_decode_equal_the_tagger_ensemble(decoders):
    """The numpy combination of the members' emissions (garbage in their padding) equals
    ``TaggerEnsemble.emissions`` and decodes to ``TaggerEnsemble.decode``'s tags; averaging the emissions, or
    leaving the last member out, gives other numbers."""
    ensemble = TaggerEnsemble([_member(d, seed) for seed, d in enumerate(decoders)]).eval()
    torch.manual_seed(9)
    batch = {"ids": torch.randint(2, 20, (len(LENGTHS), max(LENGTHS))), "lengths": torch.tensor(LENGTHS)}
    mask = _mask(LENGTHS, max(LENGTHS))
    batch["ids"][~mask] = 0
    with torch.no_grad():
        expected = ensemble.emissions(batch).numpy()  # (B, T, K) log mean marginals
        paths = ensemble.decode(ensemble.emissions(batch), batch)
        stacked = torch.stack([m.emissions(batch) for m in ensemble.members]).numpy()  # (N, B, T, K)
    stacked[:, ~mask.numpy()] = 50.0  # the graph gives zeros there; whatever it holds must not count
    sidecar = _sidecar(ensemble)
    got = mean_log_marginals(stacked, np.array(LENGTHS), sidecar)
    real = mask.numpy()
    np.testing.assert_allclose(np.exp(got[real]), np.exp(expected[real]), atol=1e-5)  # PyTorch: float32
    tags = [[TAGS[i] for i in path] for path in paths]
    assert decode(stacked, np.array(LENGTHS), sidecar) == tags
    assert decode(stacked, np.array(LENGTHS), {**sidecar, "allowed": None}) != tags  # the rules change some tags
    fewer = {**sidecar, "ensemble": {**sidecar["ensemble"], "members": sidecar["ensemble"]["members"][:-1]}}
    assert not np.allclose(mean_log_marginals(stacked[:-1], np.array(LENGTHS), fewer)[real], got[real], atol=1e-3)
    one_member = {**sidecar, "ensemble": {**sidecar["ensemble"], "members": sidecar["ensemble"]["members"][:1]}}
    averaged_emissions = stacked.mean(0, keepdims=True)
    assert not np.allclose(mean_log_marginals(averaged_emissions, np.array(LENGTHS), one_member)[real],
                           got[real], atol=1e-3)


def test_decode_refuses_emissions_of_the_wrong_rank():
    """An ensemble's (N, B, T, K) output with a single tagger's sidecar, or (B, T, K) with an ensemble's."""
    ensemble = TaggerEnsemble([_member("crf", 0), _member("crf", 1)])
    sidecar = _sidecar(ensemble)
    four = np.zeros((2, 1, 3, len(TAGS)))
    with pytest.raises(ValueError, match="must be \\(B, T, K\\)"):
        decode(four, [3], {k: v for k, v in sidecar.items() if k != "ensemble"})
    with pytest.raises(ValueError, match="ensemble of 2 members"):
        decode(four[0], [3], sidecar)


def test_the_scores_rule_decodes_the_best_whole_path_where_marginals_do_not():
    """One member over two tokens whose paths have probabilities OO 0.4, XO 0.3, XX 0.3 (OX ~0): its best
    path is OO, while each token's most likely tag gives X then O. The ``scores`` rule decodes OO, the
    ``marginals`` rule X O (a decoder reading the rule wrongly swaps them)."""
    table = np.log(np.array([[0.4, 1e-12], [0.3, 0.3]]))  # transitions[from, to]
    sidecar = {"tags": ["O", "X"], "scheme": None, "model_scheme": None, "allowed": None,
               "start_transitions": [0.0, 0.0], "transitions": table.tolist(), "end_transitions": [0.0, 0.0],
               "ensemble": {"rule": "scores", "floor": FLOOR, "members": [
                   {"decoder": "crf", "start_transitions": [0.0, 0.0], "transitions": table.tolist(),
                    "end_transitions": [0.0, 0.0]}]}}
    emissions = np.zeros((1, 1, 2, 2))
    assert decode(emissions, [2], sidecar) == [["O", "O"]]
    by_marginals = {**sidecar, "ensemble": {**sidecar["ensemble"], "rule": "marginals"},
                    "transitions": np.zeros((2, 2)).tolist()}
    assert decode(emissions, [2], by_marginals) == [["X", "O"]]


@pytest.mark.parametrize("decoders", [("crf", "crf", "crf"), ("crf", "softmax")])
def test_decode_by_scores_equals_the_tagger_ensemble(decoders):
    """``model.ensemble_decoding=scores``: numpy's mean of the members' emissions (garbage in their padding),
    decoded with the members' mean tables, gives ``TaggerEnsemble``'s tags; those tables are the sidecar's
    top-level ones, and the same members decoded by their marginals give other tags here."""
    members = [_member(d, seed) for seed, d in enumerate(decoders)]
    for member in members:
        member.ensemble_decoding = "scores"
    ensemble = TaggerEnsemble(members).eval()
    torch.manual_seed(9)
    batch = {"ids": torch.randint(2, 20, (len(LENGTHS), max(LENGTHS))), "lengths": torch.tensor(LENGTHS)}
    mask = _mask(LENGTHS, max(LENGTHS))
    batch["ids"][~mask] = 0
    with torch.no_grad():
        paths = ensemble.decode(ensemble.emissions(batch), batch)
        stacked = torch.stack([m.emissions(batch) for m in members]).numpy()  # (N, B, T, K)
    stacked[:, ~mask.numpy()] = 50.0
    tables = {k: v.tolist() for k, v in _tables(ensemble.crf).items()}
    for key, value in tables.items():
        np.testing.assert_allclose(value, np.mean([_tables(m.crf)[key] for m in members], axis=0), atol=1e-6)
    marginal_sidecar = _sidecar(ensemble)
    sidecar = {**marginal_sidecar, **tables, "ensemble": {**marginal_sidecar["ensemble"], "rule": "scores"}}
    tags = [[TAGS[i] for i in path] for path in paths]
    assert decode(stacked, np.array(LENGTHS), sidecar) == tags
    assert decode(stacked, np.array(LENGTHS), marginal_sidecar) != tags
