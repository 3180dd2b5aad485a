"""Search spaces: which config keys a study varies, and over what values.

A space maps dotted config keys to Optuna distributions. In a YAML file (``lstmkit tune --space``)
each key takes a range or a list of choices::

    model.hidden_size: {low: 32, high: 256, log: true}    # an integer key: integers, log-uniform
    model.dropout: {low: 0.0, high: 0.5}                   # a float key: uniform
    train.lr: {low: 1.0e-4, high: 1.0e-2, log: true}
    train.batch_size: {low: 16, high: 128, step: 16}
    model.cell: {choices: [lstm, gru]}                     # any key: one of these values

The file is the whole space: keys it does not name keep the run's settings (the task's defaults,
``--set``). Whether a range gives integers or floats follows the key's type in the task's config.
Every endpoint and choice is checked as the config checks a value (``model.dropout: {high: 1.0}``
is refused: dropout must be below 1), and every error names the file and the key.

:func:`default_space` is the space ``tune`` searches without a file: the shared levers (hidden
size, layers, cell, dropout, learning rate and schedule, batch size) and each task's own.
"""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Any, Union

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from lstmkit.config import all_keys, config_fields, config_from_dict, config_to_dict, is_section, load_yaml
from lstmkit.errors import ConfigError

Space = dict[str, BaseDistribution]
"""Dotted config key -> the Optuna distribution its values are drawn from."""

_RANGE_KEYS = {"low", "high", "log", "step"}
MAX_INFERRED_SEASON = 24
"""The longest season a forecaster infers from its data's frequency (hourly: 24)."""
DEFAULT_SPACE_TASKS = ("text-classifier", "tagger", "forecaster", "sequence-classifier")
"""The tasks :func:`default_space` knows; any other task is tuned over a ``--space`` file."""


def default_space(task: str, base: Any) -> Space:
    """The space ``lstmkit tune TASK`` searches without ``--space``, around the run's config ``base``.

    Every range is stretched to hold the run's own value, so trial 0 (the run's own settings, see
    :func:`lstmkit.tuning.study.tune`) lies in it. Levers that need something the run does not
    have are left out: the tagger's dictionary is tried on and off only when ``model.dictionary``
    names one; the embedding size is not searched when pretrained vectors fix it.
    """
    if task not in DEFAULT_SPACE_TASKS:
        raise ConfigError(f"there is no default search space for {task}; give one with --space FILE.yaml "
                          "(docs/tuning.md)")
    model, train = base.model, base.train
    space: Space = {
        "model.hidden_size": _ints(model.hidden_size, 32, 256, log=True),
        "model.num_layers": _ints(model.num_layers, 1, 2),
        "model.cell": CategoricalDistribution(["lstm", "gru"]),
        "model.dropout": _floats(model.dropout, 0.0, 0.5),
        "train.lr": _floats(train.lr, 3e-4, 1e-2, log=True),
        "train.scheduler": _choices(train.scheduler, ["none", "cosine", "onecycle"]),
        "train.batch_size": _choices(train.batch_size, [16, 32, 64, 128]),
    }
    if task == "text-classifier":
        space |= {
            "model.pooling": CategoricalDistribution(["last", "mean", "max", "attention", "max_mean"]),
            "model.embedding_dropout": _floats(model.embedding_dropout, 0.0, 0.5),
            "model.classifier_dropout": _floats(model.classifier_dropout, 0.0, 0.6),
            # the TF-IDF n-gram branch off or on, hashed bigram vectors off or on
            "model.ngram_buckets": CategoricalDistribution([0, model.ngram_buckets or 1_048_576]),
            "model.bigram_dim": CategoricalDistribution([0, model.bigram_dim or 32]),
            "model.lexicon_ngrams": CategoricalDistribution([0, model.lexicon_ngrams or 3]),
        }
        if model.pretrained_embeddings is None:
            space["model.embedding_dim"] = _ints(model.embedding_dim, 32, 256, log=True)
    elif task == "tagger":
        space |= {
            "model.embedding_dropout": _floats(model.embedding_dropout, 0.0, 0.5),
            "model.bigram_dim": CategoricalDistribution([0, model.bigram_dim or 50]),
            "model.char_features": CategoricalDistribution(["none", "cnn", "lstm"]),
        }
        if model.pretrained_embeddings is None:
            space["model.embedding_dim"] = _ints(model.embedding_dim, 32, 256, log=True)
        if model.dictionary is not None:
            space["model.dictionary"] = CategoricalDistribution([None, model.dictionary])
    elif task == "forecaster":
        space |= {
            "model.window_norm": CategoricalDistribution(["last", "mean", "none"]),
            "model.linear_skip": CategoricalDistribution([True, False]),
            "model.bidirectional": CategoricalDistribution([True, False]),
        }
        # Shorter lookbacks, down to half the run's: never longer (a validation file holds that much
        # context), never shorter than a season (the seasonal naive baseline needs one; unless
        # data.season says it, the longest a frequency implies: 24 hours).
        shortest = max(model.lookback // 2, base.data.season or MAX_INFERRED_SEASON)
        if shortest < model.lookback:
            space["model.lookback"] = IntDistribution(shortest, model.lookback)
    elif task == "sequence-classifier":
        space |= {
            "model.pooling": CategoricalDistribution(["last", "mean", "max", "attention", "max_mean"]),
            "model.classifier_dropout": _floats(model.classifier_dropout, 0.0, 0.6),
            "train.max_shift": _choices(train.max_shift, [0, 1, 2, 4]),
            "train.jitter": _floats(train.jitter, 0.0, 0.2),
            "train.magnitude": _floats(train.magnitude, 0.0, 0.2),
        }
    return space


def _ints(value: int, low: int, high: int, log: bool = False) -> IntDistribution:
    """Integers from ``low`` to ``high``, stretched to hold the run's own ``value``."""
    return IntDistribution(min(low, value), max(high, value), log=log)


def _floats(value: float, low: float, high: float, log: bool = False) -> FloatDistribution:
    """Numbers from ``low`` to ``high``, stretched to hold the run's own ``value``."""
    return FloatDistribution(min(low, value), max(high, value), log=log)


def _choices(value: Any, choices: list) -> CategoricalDistribution:
    """``choices``, with the run's own ``value`` added when it is not one of them."""
    return CategoricalDistribution(choices if value in choices else [*choices, value])


def read_space(path: str | Path, config_class: type, base: Any | None = None) -> Space:
    """A space from a YAML file, checked against ``config_class`` (values as ``base`` would take them).

    Raises:
        ConfigError: naming the file and the key: an unknown key, an entry that is neither a range
            nor a list of choices, a range on a key that is not a number, an endpoint or a choice
            the config refuses.
    """
    return space_from_mapping(load_yaml(path), config_class, base, source=str(path))


def space_from_mapping(data: dict, config_class: type, base: Any | None = None, source: str = "the space") -> Space:
    """A space from the YAML form as Python data (``{"train.lr": {"low": 1e-4, "high": 1e-2, "log": True}}``);
    errors name ``source`` and the key (see :func:`read_space`)."""
    if not data:
        raise ConfigError(f"{source}: the space is empty; give at least one key, e.g. "
                          "'train.lr: {low: 1.0e-4, high: 1.0e-2, log: true}'")
    base = base if base is not None else config_class()
    key_types = _field_types(config_class)
    valid = all_keys(config_class)
    space: Space = {}
    for key, entry in data.items():
        key = str(key)
        if key not in key_types:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            sections = {k.split(".")[0] for k in valid}
            nested = " (write keys dotted, e.g. 'model.hidden_size:')" if key in sections else ""
            raise ConfigError(f"{source}: unknown key '{key}'{hint}{nested}; valid keys: {', '.join(valid)}")
        if isinstance(entry, BaseDistribution):
            space[key] = entry
        else:
            space[key] = _distribution(source, key, entry, key_types[key], config_class, base)
    return space


def _distribution(source: str, key: str, entry: Any, tp: Any, config_class: type, base: Any) -> BaseDistribution:
    """One space entry -> its distribution, every value checked by the config."""
    where = f"{source}: '{key}'"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected {{low: ..., high: ...}} or {{choices: [...]}}, got {entry!r}")
    if "choices" in entry:
        if set(entry) != {"choices"}:
            raise ConfigError(f"{where}: give either choices or low/high, not both "
                              f"(got {', '.join(sorted(map(str, entry)))})")
        choices = entry["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: choices must be a non-empty list, got {choices!r}")
        for choice in choices:
            if choice is not None and not isinstance(choice, (bool, int, float, str)):
                raise ConfigError(f"{where}: each choice must be one value (a number, text, true/false or "
                                  f"null), got {choice!r}")
            _check_value(source, key, choice, config_class, base)
        return CategoricalDistribution(choices)
    unknown = set(map(str, entry)) - _RANGE_KEYS
    if unknown or not {"low", "high"} <= set(entry):
        raise ConfigError(f"{where}: a range has low and high (and optionally log, step); got "
                          f"{', '.join(sorted(map(str, entry))) or 'nothing'}")
    number = _number_type(tp)
    if number is None:
        raise ConfigError(f"{where}: is not a number, so it takes {{choices: [...]}}, not a range")
    low, high, log, step = entry["low"], entry["high"], entry.get("log", False), entry.get("step")
    for name, value in (("low", low), ("high", high), ("step", step)):
        if value is None and name == "step":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: {name} must be a number, got {value!r}")
        if number is int and float(value) != int(value):
            raise ConfigError(f"{where}: is an integer key, so {name} must be an integer, got {value!r}")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log must be true or false, got {log!r}")
    if not low < high:
        raise ConfigError(f"{where}: low must be below high, got low={low}, high={high}")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log range needs low > 0, got {low}")
    if log and step is not None:
        raise ConfigError(f"{where}: give log or step, not both")
    if step is not None and step <= 0:
        raise ConfigError(f"{where}: step must be > 0, got {step}")
    for value in (low, high):
        _check_value(source, key, number(value), config_class, base)
    if number is int:
        return IntDistribution(int(low), int(high), log=log, step=int(step) if step is not None else 1)
    return FloatDistribution(float(low), float(high), log=log, step=float(step) if step is not None else None)


def _check_value(source: str, key: str, value: Any, config_class: type, base: Any) -> None:
    """Raise the config's own error (naming the file and the key) when ``key=value`` is refused."""
    config_with(config_class, base, {key: value}, source=source)


def config_with(config_class: type, base: Any, params: dict[str, Any], source: str) -> Any:
    """``base`` with ``params`` (dotted key -> value, as YAML gives it) set, converted and checked."""
    values = config_to_dict(base)
    for key, value in params.items():
        node = values
        *sections, name = key.split(".")
        for section in sections:
            node = node[section]
        node[name] = value
    return config_from_dict(config_class, values, source=source)


def _field_types(config_class: type, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> its type hint, for every key of ``config_class``."""
    found = {}
    for f, tp in config_fields(config_class):
        if is_section(tp):
            found |= _field_types(tp, f"{prefix}{f.name}.")
        else:
            found[f"{prefix}{f.name}"] = tp
    return found


def _number_type(tp: Any) -> type | None:
    """int or float for a key of that type (or ``X | None``); None for any other key."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = options[0] if len(options) == 1 else None
    return tp if tp in (int, float) else None


def default_values(space: Space, base: Any) -> dict[str, Any]:
    """The run's own value of each key of ``space`` that the space can draw (trial 0's settings)."""
    values = {}
    for key, dist in space.items():
        node = base
        for part in key.split("."):
            node = getattr(node, part)
        if isinstance(dist, CategoricalDistribution):
            if node in dist.choices:
                values[key] = node
        elif isinstance(node, (int, float)) and not isinstance(node, bool) and dist.low <= node <= dist.high:
            values[key] = node
    return values


def space_to_yaml(space: Space) -> dict[str, dict]:
    """A space as the YAML file would write it (``--space`` takes it back)."""
    out = {}
    for key, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            out[key] = {"choices": list(dist.choices)}
        else:
            entry = {"low": dist.low, "high": dist.high}
            if dist.log:
                entry["log"] = True
            if dist.step not in (None, 1):
                entry["step"] = dist.step
            out[key] = entry
    return out


__all__ = ["Space", "default_space", "read_space", "space_from_mapping", "config_with", "default_values",
           "space_to_yaml"]
