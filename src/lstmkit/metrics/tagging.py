"""Evaluation metrics of the ``tagger`` task: entity-level precision, recall and F1.

An *entity* is a ``(type, start, end)`` span of one sentence, found in the tags by
:func:`lstmkit.data.tagschemes.entities` (seqeval's default, non-strict reading for BIO and
BIOES; words for BMES word segmentation). A predicted entity is correct when the true tags
hold an entity with the same type, start and end. Over all sentences, per type ``c``:

    tp_c      = |true_c ∩ pred_c|        (correct predicted entities)
    precision = tp / |pred|              (0 when nothing is predicted)
    recall    = tp / |true|              (0 when there is nothing to find)
    f1        = 2 · precision · recall / (precision + recall)   (0 when both are 0)

``precision``, ``recall`` and ``f1`` are micro averages (the counts summed over the types
first), equal to seqeval's ``precision_score``, ``recall_score`` and ``f1_score`` in their
default mode with ``zero_division=0``; ``per_type`` equals seqeval's per-class
``precision_recall_fscore_support``. For BMES they are word-level (a predicted word counts
when its character span is exactly a true word's) under the one type ``"word"``. For plain
labels (``scheme=None``: part-of-speech tags) every token is an entity of its own tag, so the
micro scores all equal the token accuracy and ``per_type`` is scikit-learn's per-class
``precision_recall_fscore_support`` over the tokens.
``token_accuracy`` is the fraction of tokens whose predicted tag equals the true one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from lstmkit.data.tagschemes import entities

__all__ = ["tagging_metrics"]


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _scores(tp: int, n_pred: int, n_true: int) -> dict[str, float]:
    precision, recall = _ratio(tp, n_pred), _ratio(tp, n_true)
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall)}


def tagging_metrics(
    true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]], scheme: str | None
) -> dict:
    """Entity-level (word-level for BMES) scores of predicted tags against the true ones.

    Args:
        true_tags: ``n_sentences`` lists of tags, the gold standard.
        pred_tags: the predicted tags, the same number of sentences and of tags per sentence.
        scheme: ``"BIO"``, ``"BIOES"``, ``"BMES"``, or None for plain labels (what
            :func:`lstmkit.data.tagschemes.detect_scheme` returns for the true tags).

    Returns:
        ``{"precision", "recall", "f1"}`` (micro averages), ``"per_type": {type: {"precision",
        "recall", "f1", "support"}}`` (every type found in the true or predicted tags, sorted;
        ``support`` is the number of true entities), ``"token_accuracy"`` and ``"n_sentences"``.

    Raises:
        ValueError: different numbers of sentences or tags, no tokens at all, an unknown
            scheme or a tag that does not belong to it.
    """
    if len(true_tags) != len(pred_tags):
        raise ValueError(f"{len(true_tags)} true sentences but {len(pred_tags)} predicted")
    true_counts: Counter[str] = Counter()
    pred_counts: Counter[str] = Counter()
    tp_counts: Counter[str] = Counter()
    n_tokens = n_correct = 0
    for index, (truth, guess) in enumerate(zip(true_tags, pred_tags)):
        if len(truth) != len(guess):
            raise ValueError(f"sentence {index + 1}: {len(truth)} true tags but {len(guess)} predicted")
        try:
            true_spans = set(entities(truth, scheme))
            pred_spans = set(entities(guess, scheme))
        except ValueError as err:
            raise ValueError(f"sentence {index + 1}: {err}") from None
        true_counts.update(entity_type for entity_type, _, _ in true_spans)
        pred_counts.update(entity_type for entity_type, _, _ in pred_spans)
        tp_counts.update(entity_type for entity_type, _, _ in true_spans & pred_spans)
        n_tokens += len(truth)
        n_correct += sum(t == p for t, p in zip(truth, guess))
    if n_tokens == 0:
        raise ValueError("no tokens to evaluate")
    per_type = {
        entity_type: {
            **_scores(tp_counts[entity_type], pred_counts[entity_type], true_counts[entity_type]),
            "support": true_counts[entity_type],
        }
        for entity_type in sorted(true_counts.keys() | pred_counts.keys())
    }
    micro = _scores(sum(tp_counts.values()), sum(pred_counts.values()), sum(true_counts.values()))
    return {
        **micro,
        "per_type": per_type,
        "token_accuracy": n_correct / n_tokens,
        "n_sentences": len(true_tags),
    }
