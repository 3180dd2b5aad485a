"""Tagging metrics against seqeval (entity level, BIO and BIOES), scikit-learn (token
accuracy) and hand computation (BMES word level)."""

import random
import warnings

import pytest
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import precision_recall_fscore_support
from sklearn.metrics import accuracy_score, precision_recall_fscore_support as sklearn_prfs

from lstmkit.metrics.tagging import tagging_metrics

BIO = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]  # O more often
BIOES = BIO + ["E-PER", "S-PER", "E-LOC", "S-LOC", "E-ORG", "S-ORG"]


def corpus(tags, seed, n_sentences=25, max_len=10):
    """True and predicted sentences: the prediction copies most true tags and changes the rest
    at random, so both agree often (tp > 0) and are often ill-formed."""
    rng = random.Random(seed)
    true, pred = [], []
    for _ in range(rng.randint(1, n_sentences)):
        sentence = [rng.choice(tags) for _ in range(rng.randint(1, max_len))]
        true.append(sentence)
        pred.append([t if rng.random() < 0.7 else rng.choice(tags) for t in sentence])
    return true, pred


def seqeval_reference(true, pred):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, r, f, support = precision_recall_fscore_support(true, pred, average=None, zero_division=0)
        types = sorted({t[2:] for s in true + pred for t in s if t != "O"})  # each is in an entity
        return {
            "precision": precision_score(true, pred, zero_division=0),
            "recall": recall_score(true, pred, zero_division=0),
            "f1": f1_score(true, pred, zero_division=0),
            "per_type": {
                name: {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(support[i])}
                for i, name in enumerate(types)
            },
        }


def assert_matches_seqeval(true, pred, scheme):
    ours = tagging_metrics(true, pred, scheme)
    ref = seqeval_reference(true, pred)
    for key in ("precision", "recall", "f1"):
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), (key, true, pred)
    assert set(ours["per_type"]) == set(ref["per_type"])
    for name, scores in ref["per_type"].items():
        assert ours["per_type"][name] == pytest.approx(scores, abs=1e-12)
    flat_true = [t for s in true for t in s]
    flat_pred = [t for s in pred for t in s]
    assert ours["token_accuracy"] == pytest.approx(accuracy_score(flat_true, flat_pred), abs=1e-12)
    assert ours["n_sentences"] == len(true)


@pytest.mark.parametrize("scheme,tags", [("BIO", BIO), ("BIOES", BIOES)])
def test_matches_seqeval_on_random_corpora(scheme, tags):
    """Hundreds of random corpora with ill-formed tags (I- after O, I-PER after B-LOC, E-
    without B-). Fails if entities are matched by type only, if micro averaging averages the
    per-type scores instead of summing counts, or if spans cross sentence boundaries."""
    for seed in range(300):
        assert_matches_seqeval(*corpus(tags, seed), scheme)


def test_zero_division_equals_seqeval_zero_division_0():
    """No predicted entity, no true entity, or neither: 0, as seqeval with zero_division=0.
    Fails if an undefined precision becomes 1 or NaN."""
    cases = [
        ([["B-PER", "I-PER", "O"]], [["O", "O", "O"]]),  # nothing predicted
        ([["O", "O"]], [["B-LOC", "O"]]),  # nothing to find
        ([["O", "O"]], [["O", "O"]]),  # neither
    ]
    for true, pred in cases:
        assert_matches_seqeval(true, pred, "BIO")
        ours = tagging_metrics(true, pred, "BIO")
        assert ours["precision"] == ours["recall"] == ours["f1"] == 0.0
    assert tagging_metrics([["O", "O"]], [["O", "O"]], "BIO")["per_type"] == {}
    assert tagging_metrics([["O"]], [["B-LOC"]], "BIO")["per_type"] == {
        "LOC": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    }


def test_by_hand():
    """A worked example: 3 true entities, 3 predicted, 1 right (the PER); 4 of 7 tags right.
    Fails if B-ORG I-LOC were read as one entity of either type, or types were ignored."""
    true = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "I-LOC", "I-LOC"]]  # ORG(0,1), LOC(1,3)
    m = tagging_metrics(true, pred, "BIO")
    assert m["precision"] == pytest.approx(1 / 3) and m["recall"] == pytest.approx(1 / 3)
    assert m["f1"] == pytest.approx(1 / 3)
    assert m["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert m["per_type"]["ORG"]["support"] == 1 and m["per_type"]["ORG"]["precision"] == 0.0
    assert m["token_accuracy"] == pytest.approx(4 / 7)
    assert m["n_sentences"] == 2


def test_bmes_word_level_by_hand():
    """Words 上海|是|中国 vs predicted 上|海是|中国: 1 of 3 predicted words right, 1 of 3 true
    words found. Fails if words are compared by tags instead of exact spans."""
    true = [["B", "E", "S", "B", "E"]]
    pred = [["S", "B", "E", "B", "E"]]
    m = tagging_metrics(true, pred, "BMES")
    assert m["precision"] == pytest.approx(1 / 3) and m["recall"] == pytest.approx(1 / 3)
    assert m["per_type"] == {"word": {"precision": 1 / 3, "recall": 1 / 3, "f1": pytest.approx(1 / 3), "support": 3}}
    assert m["token_accuracy"] == pytest.approx(2 / 5)


def test_bmes_equals_brute_force_word_sets_on_random_corpora():
    """Word-level scores from the sets of (start, end) word spans, built here by cutting at
    every character that begins a word (B or S, or anything right after E or S)."""
    def spans(tags):
        cuts = [i for i, t in enumerate(tags) if i == 0 or t in "BS" or tags[i - 1] in "ES"] + [len(tags)]
        return set(zip(cuts[:-1], cuts[1:]))

    rng = random.Random(5)
    for _ in range(200):
        true = [[rng.choice("BMES") for _ in range(rng.randint(1, 9))] for _ in range(rng.randint(1, 5))]
        pred = [[rng.choice("BMES") for _ in s] for s in true]
        tp = sum(len(spans(t) & spans(p)) for t, p in zip(true, pred))
        n_true = sum(len(spans(t)) for t in true)
        n_pred = sum(len(spans(p)) for p in pred)
        m = tagging_metrics(true, pred, "BMES")
        assert m["precision"] == pytest.approx(tp / n_pred) and m["recall"] == pytest.approx(tp / n_true)
        assert m["per_type"]["word"]["support"] == n_true


def test_plain_labels_equal_scikit_learn_per_token():
    """scheme=None (POS tags): micro P/R/F1 = token accuracy and per_type = scikit-learn's
    per-class scores over the flattened tokens. Fails if plain labels were chunked into spans."""
    rng = random.Random(7)
    labels = ["n", "v", "nr", "w", "M"]
    for _ in range(50):
        true = [[rng.choice(labels) for _ in range(rng.randint(1, 8))] for _ in range(rng.randint(1, 6))]
        pred = [[t if rng.random() < 0.6 else rng.choice(labels) for t in s] for s in true]
        flat_true = [t for s in true for t in s]
        flat_pred = [t for s in pred for t in s]
        m = tagging_metrics(true, pred, None)
        accuracy = accuracy_score(flat_true, flat_pred)
        assert m["precision"] == m["recall"] == pytest.approx(accuracy) and m["f1"] == pytest.approx(accuracy)
        names = sorted(set(flat_true) | set(flat_pred))
        p, r, f, support = sklearn_prfs(flat_true, flat_pred, labels=names, zero_division=0)
        for i, name in enumerate(names):
            assert m["per_type"][name] == pytest.approx(
                {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(support[i])}
            )


def test_errors():
    with pytest.raises(ValueError, match="2 true sentences but 1 predicted"):
        tagging_metrics([["O"], ["O"]], [["O"]], "BIO")
    with pytest.raises(ValueError, match="sentence 2: 2 true tags but 1 predicted"):
        tagging_metrics([["O"], ["O", "O"]], [["O"], ["O"]], "BIO")
    with pytest.raises(ValueError, match="sentence 1: token 1: tag 'S-PER' is not a BIO tag"):
        tagging_metrics([["S-PER"]], [["O"]], "BIO")
    with pytest.raises(ValueError, match="no tokens"):
        tagging_metrics([], [], "BIO")
