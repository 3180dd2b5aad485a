"""The public API as a user's code calls it, checked by mypy (``make typecheck``) and never run.

mypy reads the estimators' keyword parameters (written out by ``python -m lstmkit.tasks.signatures``),
their public methods' return types and the config functions from here. A line ending in
``# type: ignore[code]`` is a misuse that mypy must report: with ``warn_unused_ignores`` a misuse
that stops being an error (the keywords hidden from type checkers again, a misspelt keyword or a
wrong choice accepted) fails the check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, assert_type

import numpy as np

import lstmkit
from lstmkit import Forecaster, SequenceClassifier, Tagger, TextClassifier
from lstmkit.config import all_keys, apply_overrides, build_config, config_from_dict, config_to_dict, load_yaml
from lstmkit.tasks.tagger import TaggerConfig
from lstmkit.tasks.text import TextClassifierConfig
from lstmkit.training.config import TrainConfig


def text_classifier(texts: list[str], labels: list[str], folder: Path) -> None:
    clf = TextClassifier(hidden_size=128, bidirectional=True, lr=2e-3, class_weights="balanced")
    clf.fit(texts, labels, valid=(texts, labels))
    assert_type(clf.predict(texts), np.ndarray)
    assert_type(clf.set_params(epochs=3), TextClassifier)
    assert_type(clf.evaluate(texts, labels), dict)
    assert_type(clf.score(texts, labels), float)
    assert_type(clf.save(folder), Path)
    assert_type(clf.get_params(), dict[str, Any])
    TextClassifier(config=TextClassifierConfig(), epochs=2)
    TextClassifier(hiden_size=3)  # type: ignore[call-arg]
    TextClassifier(hidden_size="64")  # type: ignore[arg-type]
    TextClassifier(optimizer="adan")  # type: ignore[arg-type]


def other_tasks(tokens: list[list[str]], tags: list[list[str]]) -> None:
    tagger = Tagger(config=TaggerConfig(), embedding_dim=50, train_scheme="BIOES")
    tagger.fit(tokens, tags)
    assert_type(tagger.predict(tokens), list[list[str]])
    assert_type(tagger.score(tokens, tags), float)
    Tagger(train_scheme="BIO")  # type: ignore[arg-type]
    Forecaster(lookback=24, horizon=7, target=["a", "b"], id_column=None)
    Forecaster(lookback="24")  # type: ignore[arg-type]
    SequenceClassifier(hidden_size=32, layout="channels_first", feature_columns=["x", "y"])
    SequenceClassifier(layout="NCT")  # type: ignore[arg-type]


def configs(path: Path) -> None:
    cfg = build_config(TextClassifierConfig, yaml_path=path, overrides=["train.lr=0.01"])
    assert_type(cfg, TextClassifierConfig)
    assert_type(apply_overrides(cfg, ["model.hidden_size=8"]), TextClassifierConfig)
    assert_type(config_from_dict(TrainConfig, {"lr": 0.01}, source="run.yaml"), TrainConfig)
    assert_type(config_to_dict(cfg), dict)
    assert_type(load_yaml(path), dict)
    assert_type(all_keys(TextClassifierConfig), list[str])
    assert_type(cfg.train.lr, float)
    assert_type(lstmkit.__version__, str)
    build_config(TextClassifierConfig, overrides=[1])  # type: ignore[list-item]
