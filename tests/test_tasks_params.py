"""Hyperparameters with scikit-learn's protocol: get_params/set_params/clone, strict values,
ambiguous names, and model selection (GridSearchCV, cross_val_score) on a tiny TextClassifier."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV, cross_val_score
from textdata import english_reviews

from lstmkit import TextClassifier
from lstmkit.errors import ConfigError
from lstmkit.tasks.params import HyperParameters
from lstmkit.tasks.text import TextClassifierConfig

FAST = dict(embedding_dim=8, ngram_buckets=0, lexicon_ngrams=0, embedding_init="random", batch_size=16, epochs=3,
            lr=0.02, scheduler="none", patience=0)


def test_every_config_key_is_a_keyword_parameter():
    """A key missing from get_params is lost by clone (GridSearchCV would train other models)."""
    params = TextClassifier().get_params(deep=True)
    assert params["hidden_size"] == 64 and params["epochs"] == 8 and params["config"] is None
    assert {"text_column", "lexicon_ngrams", "lr", "class_weights"} <= set(params)
    import inspect

    signature = inspect.signature(TextClassifier)
    assert signature.parameters["hidden_size"].default == 64


def test_clone_and_set_params_round_trip():
    """clone() must give an unfitted estimator with equal parameters, not shared state."""
    clf = TextClassifier(hidden_size=12, **{"model.pooling": "max"})
    copy = clone(clf)
    assert copy.get_params() == clf.get_params() and copy is not clf
    assert copy.set_params(hidden_size=7) is copy and copy.hidden_size == 7 and clf.hidden_size == 12
    copy.set_params(model__cell="gru", **{"train.lr": 0.5})
    cfg = copy.resolved_config()
    assert (cfg.model.hidden_size, cfg.model.cell, cfg.model.pooling, cfg.train.lr) == (7, "gru", "max", 0.5)
    assert is_classifier(clf)


def test_config_is_the_base_and_keywords_override_it():
    """A keyword ignored when a config is given would silently train the config's model."""
    base = TextClassifierConfig()
    base.model.hidden_size = 99
    clf = TextClassifier(config=base, epochs=1)
    cfg = clf.resolved_config()
    assert cfg.model.hidden_size == 99 and cfg.train.epochs == 1 and clf.hidden_size == 99


def test_values_are_checked_as_python_values_without_text():
    """A text round trip turned the string "none" into None and split "a,b" into a list."""
    assert TextClassifier(ngram_weight=None).resolved_config().model.ngram_weight is None
    with pytest.raises(ConfigError, match="model.ngram_weight"):
        TextClassifier(ngram_weight="none").resolved_config()
    with pytest.raises(ConfigError, match="model.hidden_size"):
        TextClassifier(hidden_size="64").resolved_config()
    with pytest.raises(ConfigError, match="data.text_column"):
        TextClassifier(text_column=["a", "b"]).resolved_config()
    assert TextClassifier(text_column="a,b").resolved_config().data.text_column == "a,b"
    with pytest.raises(ConfigError, match="did you mean 'hidden_size'"):
        TextClassifier(hiden_size=3)


@dataclass
class _A:
    dropout: float = 0.1
    size: int = 3


@dataclass
class _B:
    dropout: float = 0.2


@dataclass
class _Both:
    model: _A = field(default_factory=_A)
    data: _B = field(default_factory=_B)


class _Toy(HyperParameters):
    config_class = _Both


def test_an_ambiguous_short_name_lists_the_dotted_choices():
    """Taking the first section silently set the wrong key."""
    with pytest.raises(ConfigError, match=r"ambiguous.*model\.dropout, data\.dropout"):
        _Toy(dropout=0.5)
    toy = _Toy(model__dropout=0.5, **{"data.dropout": 0.3}, size=4)
    cfg = toy.resolved_config()
    assert (cfg.model.dropout, cfg.data.dropout, cfg.model.size) == (0.5, 0.3, 4)
    assert set(toy.get_params()) == {"config", "model__dropout", "data__dropout", "size"}


def test_grid_search_and_cross_validation_run():
    """GridSearchCV clones and refits; a non-clonable estimator or a broken score() fails here."""
    texts, labels = english_reviews(90, seed=3)
    search = GridSearchCV(TextClassifier(hidden_size=4, **FAST), {"hidden_size": [4, 8]}, cv=2)
    search.fit(texts, labels)
    assert search.best_params_["hidden_size"] in (4, 8)
    assert search.best_estimator_.predict(["good clean room"])[0] in ("pos", "neg")
    scores = cross_val_score(TextClassifier(hidden_size=8, **FAST), texts, labels, cv=2)
    assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)


def test_classifiers_have_scikit_learn_types():
    """classes_ was lstmkit's label object and predict a list, so code written for scikit-learn
    (clf.classes_[proba.argmax(1)], np.unique(pred), a scorer on predict's output) broke: classes_
    must be an ndarray of the labels in predict_proba's column order, predict an ndarray of them."""
    import numpy as np
    from sklearn.metrics import accuracy_score, get_scorer
    from sklearn.utils.validation import check_is_fitted

    texts, labels = english_reviews(90, seed=3)
    clf = TextClassifier(hidden_size=8, **FAST).fit(texts, labels)
    check_is_fitted(clf)
    assert isinstance(clf.classes_, np.ndarray) and clf.classes_.tolist() == ["neg", "pos"]
    assert clf.labels_ == ["neg", "pos"] and clf.labels_.encode(["pos"]) == [1]  # the label object
    pred = clf.predict(texts[:20])
    proba = clf.predict_proba(texts[:20])
    assert isinstance(pred, np.ndarray) and pred.shape == (20,) and isinstance(proba, np.ndarray)
    assert np.array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    assert accuracy_score(labels[:20], pred) == get_scorer("accuracy")(clf, texts[:20], labels[:20])
    assert clf.predict([]).shape == (0,)
    numbers = TextClassifier(hidden_size=8, **FAST).fit(texts, [int(label == "pos") for label in labels])
    assert numbers.classes_.dtype == np.int64 and numbers.predict(texts[:3]).dtype == np.int64


def error_of(call) -> str:
    with pytest.raises(ConfigError) as err:
        call()
    return str(err.value)


def test_parameter_messages_word_for_word():
    """The messages a Python user sees for a bad keyword: the dotted key, the value as given."""
    where = "in the estimator's parameters"
    assert error_of(lambda: TextClassifier(ngram_weight="none").resolved_config()) == (
        f"invalid value for 'model.ngram_weight' {where}: expected a number, got 'none'")
    assert error_of(lambda: TextClassifier(hidden_size="64").resolved_config()) == (
        f"invalid value for 'model.hidden_size' {where}: expected an integer, got '64'")
    assert error_of(lambda: TextClassifier(text_column=["a", "b"]).resolved_config()) == (
        f"invalid value for 'data.text_column' {where}: expected a string, got ['a', 'b']")
    assert error_of(lambda: TextClassifier(optimizer="adan").resolved_config()) == (
        f"invalid value for 'train.optimizer' {where}: 'adan' is not one of: adam, adamw, sgd, rmsprop")
    assert error_of(lambda: TextClassifier(lr=0).resolved_config()) == (
        f"invalid value for 'train.lr' {where}: must be > 0, got 0.0")
    assert error_of(lambda: _Toy(dropout=0.5)) == (
        "hyperparameter 'dropout' is ambiguous: it is one of model.dropout, data.dropout; give the dotted key "
        "(e.g. **{'model.dropout': ...}) or model__dropout=...")
    assert error_of(lambda: _Toy(zzz=1)) == "unknown hyperparameter 'zzz'; valid: data__dropout, model__dropout, size"
    assert error_of(lambda: _Toy(sise=1)) == (
        "unknown hyperparameter 'sise' (did you mean 'size'?); valid: data__dropout, model__dropout, size")


# --- settings that only some tasks read --------------------------------------------


def test_a_setting_only_other_tasks_read_is_refused_with_its_readers():
    """Tagger(class_weights="balanced") trained without weights and said nothing."""
    from lstmkit import Forecaster, Tagger

    assert error_of(lambda: Tagger(class_weights="balanced").resolved_config()) == (
        "'train.class_weights' is read only by the text-classifier and sequence-classifier tasks, not by the "
        "tagger: leave it at 'none' (got 'balanced')")
    forecaster = Forecaster(**{"train.class_weights": "balanced"})
    assert "not by the forecaster" in error_of(forecaster.resolved_config)
    assert "not by the tagger" in error_of(lambda: clone(Tagger()).set_params(train__class_weights="balanced").fit([]))
    # the defaults (what get_params and clone hand back) stay valid, and the readers accept it
    assert clone(Tagger()).resolved_config().train.class_weights == "none"
    assert TextClassifier(class_weights="balanced").resolved_config().train.class_weights == "balanced"


def test_a_config_built_from_set_is_refused_too():
    """The command line builds a config (--set, YAML) and hands it over as config=."""
    from lstmkit.config import build_config
    from lstmkit.tasks.tagger import Tagger, TaggerConfig

    config = build_config(TaggerConfig, overrides=["train.class_weights=balanced"])
    assert "'train.class_weights' is read only by" in error_of(lambda: Tagger(config=config).resolved_config())


def test_ensembles_are_refused_by_a_task_without_an_ensemble_class():
    from lstmkit.tasks import get_task_class

    assert error_of(lambda: get_task_class("char-lm")(ensemble=3).resolved_config()) == (
        "'train.ensemble' is read only by the text-classifier, tagger, sequence-classifier and forecaster tasks, "
        "not by the char-lm: leave it at 1 (got 3)")


def test_the_declared_readers_are_the_tasks_that_read_the_setting():
    """A new classifier task that forgot reads=("train.class_weights",) would refuse its own setting; a
    misspelt key in reads would refuse nothing."""
    from lstmkit.tasks import get_task_class
    from lstmkit.tasks.classification import Classifier
    from lstmkit.tasks.registry import SOME_TASKS_READ, TASKS
    from lstmkit.training.config import TrainConfig

    train_keys = {f"train.{name}" for name in TrainConfig.__dataclass_fields__}
    assert set(SOME_TASKS_READ) <= train_keys
    for name, task in TASKS.items():
        assert set(task.reads) <= set(SOME_TASKS_READ), name
        is_classifier = issubclass(get_task_class(name), Classifier)
        assert ("train.class_weights" in task.settings_read()) == is_classifier, name


def test_the_command_line_refuses_it_in_one_line(tmp_path):
    """lstmkit train tagger --set train.class_weights=balanced: an error naming the key, no model."""
    import subprocess
    import sys
    from pathlib import Path

    data = Path(__file__).parent.parent / "docs" / "examples" / "tagger" / "train.conll"
    result = subprocess.run([sys.executable, "-m", "lstmkit", "train", "tagger", "--train", str(data), "--out",
                             str(tmp_path / "run"), "--set", "train.class_weights=balanced"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "'train.class_weights' is read only by the text-classifier and sequence-classifier tasks" in result.stderr
    assert not (tmp_path / "run" / "model").exists()
