"""Configs: nested dataclasses, read from YAML and ``--set key=value`` overrides.

A task's config is a dataclass whose fields are other dataclasses (sections)::

    @dataclass
    class TextClassifierConfig:
        data: TextDataConfig = field(default_factory=TextDataConfig)
        model: TextModelConfig = field(default_factory=TextModelConfig)
        train: TrainConfig = field(default_factory=TrainConfig)

Every field has a type hint and a docstring below it (as in litgpt). The type
hint is the whole schema: this module converts and checks values generically
from it, so a task writes no parsing code. Supported field types:

    int, float, bool, str, Path,
    Literal["a", "b"]        -> a choice; anything else is an error listing the choices,
    X | None (Optional[X])   -> "none" / "null" in a string means None,
    list[X], tuple[X, ...]   -> from a YAML list, or a comma-separated string "a,b,c",
    dict[str, X]             -> from a YAML mapping,
    another dataclass        -> a nested section.

Values are checked where they enter, and every error is a
:class:`~lstmkit.errors.ConfigError` that names the dotted key
(``train.lr``) and, for a file, the file::

    unknown key 'model.hiden_size' in run.yaml (did you mean 'model.hidden_size'?);
    valid keys: data.text_column, ..., train.lr

Range checks (``lr > 0``) live in each section's ``__post_init__``; raise them
with :func:`invalid` so the key is named. ``__post_init__`` should start with
``check_choices(self)`` so that configs built directly in Python (the
``TextClassifier(hidden_size=...)`` API) are checked for Literal choices too.

Precedence, lowest first: dataclass defaults < ``base`` (e.g. a demo's
preset) < YAML file < ``--set`` overrides (see :func:`build_config`).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from lstmkit.errors import ConfigError

C = TypeVar("C")

_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}
_NONE = {"none", "null", "~"}


class InvalidValue(ConfigError):
    """A value is wrong for its key. Carries ``key`` (dotted) and ``reason``.

    Sections raise it with their local key (``lr``); :func:`config_from_dict`
    re-raises it with the full dotted key (``train.lr``) and the source.
    """

    def __init__(self, key: str, reason: str, source: str | None = None):
        self.key, self.reason, self.source = key, reason, source
        where = f" in {source}" if source else ""
        super().__init__(f"invalid value for '{key}'{where}: {reason}")

    def within(self, prefix: str, source: str | None) -> InvalidValue:
        key = f"{prefix}.{self.key}" if prefix else self.key
        return InvalidValue(key, self.reason, self.source or source)


def invalid(key: str, reason: str) -> InvalidValue:
    """Build the error for a bad value, e.g. ``raise invalid("lr", f"must be > 0, got {lr}")``."""
    return InvalidValue(key, reason)


def check_choices(cfg: Any) -> None:
    """Check every ``Literal[...]`` field of dataclass ``cfg`` holds one of its choices.

    Call it first in a section's ``__post_init__``.
    """
    for f, tp in config_fields(type(cfg)):
        if typing.get_origin(tp) is Literal:
            value = getattr(cfg, f.name)
            if value not in typing.get_args(tp):
                raise invalid(f.name, _choices_reason(value, tp))


# ----------------------------------------------------------------------------
# Dataclass <-> dict
# ----------------------------------------------------------------------------


def config_fields(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    """The init fields of dataclass ``cls`` with their resolved type hints."""
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls) if f.init]


def is_section(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def all_keys(cls: type) -> list[str]:
    """Every settable dotted key of config class ``cls``, in declaration order."""
    keys = []
    for f, tp in config_fields(cls):
        if is_section(tp):
            keys += [f"{f.name}.{k}" for k in all_keys(tp)]
        else:
            keys.append(f.name)
    return keys


def config_to_dict(cfg: Any) -> dict:
    """A JSON-safe nested dict of a config (tuples -> lists, Paths -> str)."""

    def plain(value):
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, Path):
            return str(value)
        return value

    return plain(cfg)


def _nest_dotted(d: Mapping) -> dict:
    """``{"model.hidden_size": 8}`` -> ``{"model": {"hidden_size": 8}}`` (other keys kept)."""
    out: dict = {}
    for key, value in d.items():
        parts = str(key).split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"'{key}' sets a key below '{part}', which is not a section")
        node[parts[-1]] = value
    return out


def config_from_dict(cls: type[C], d: Mapping, source: str = "config", strict: bool = False) -> C:
    """Build config class ``cls`` from a nested dict, converting and checking every value.

    Missing keys keep their defaults. Dotted keys (``"model.hidden_size"``) are also
    accepted. Strings are parsed by the field's type, so ``"1e-3"`` becomes a float.
    ``source`` (a file name, "--set") is named in errors.

    ``strict=True`` is for Python values (estimator parameters): nothing is parsed from
    text, so the string ``"none"`` stays a string (and is refused where a number or None
    is expected) and ``"a,b"`` is not split into a list; a value of the wrong type is an
    error naming the key.
    """
    return _from_dict(cls, d, source, prefix="", root=cls, strict=strict)


def _from_dict(cls: type[C], d: Mapping, source: str, prefix: str, root: type, strict: bool = False) -> C:
    """:func:`config_from_dict` for the section at dotted ``prefix`` ("model.") of ``root``."""
    if not isinstance(d, Mapping):
        where = f"'{prefix.rstrip('.')}'" if prefix else "the top level"
        raise ConfigError(f"{source}: {where} must be a mapping of keys to values, "
                          f"got {type(d).__name__}")
    d = _nest_dotted(d)
    fields = dict((f.name, (f, tp)) for f, tp in config_fields(cls))
    kwargs = {}
    for name, value in d.items():
        key = f"{prefix}{name}"
        if name not in fields:
            raise _unknown_key(key, source, root)
        f, tp = fields[name]
        if is_section(tp):
            if isinstance(value, Mapping) and f.default_factory is not dataclasses.MISSING:
                # keys not given keep the section's own defaults (a task's train.* preset), not the
                # section class's generic ones
                value = _deep_merge(config_to_dict(f.default_factory()), _nest_dotted(value))
            kwargs[name] = _from_dict(tp, value, source, f"{key}.", root, strict)
        else:
            kwargs[name] = (_convert_python if strict else _convert)(value, tp, key, source)
    for name, (f, _tp) in fields.items():
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if no_default and name not in kwargs:
            raise ConfigError(f"missing key '{prefix}{name}' in {source}")
    try:
        return cls(**kwargs)
    except InvalidValue as err:
        raise err.within(prefix.rstrip("."), source) from None


def _unknown_key(key: str, source: str, root: type) -> ConfigError:
    valid = all_keys(root)
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ConfigError(f"unknown key '{key}' in {source}{hint}; valid keys: {', '.join(valid)}")


# ----------------------------------------------------------------------------
# Converting one value by its type hint
# ----------------------------------------------------------------------------


def _choices_reason(value: Any, tp: Any) -> str:
    choices = ", ".join(str(c) for c in typing.get_args(tp))
    return f"{value!r} is not one of: {choices}"


def _convert(value: Any, tp: Any, key: str, source: str) -> Any:
    """Convert ``value`` (from YAML, JSON or a ``--set`` string) to type ``tp``."""

    def fail(reason: str) -> InvalidValue:
        return InvalidValue(key, reason, source)

    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):  # X | None
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
            if type(None) in args:
                return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _convert(value, option, key, source)
            except InvalidValue as err:
                errors.append(err.reason)
        raise fail("; ".join(errors))
    if value is None:
        raise fail("must not be empty (null)")
    if origin is Literal:
        for choice in args:
            if type(value) is type(choice) and value == choice:
                return choice
            if isinstance(choice, str) and type(value) in (int, float) and str(value) == choice:
                return choice  # YAML reads `precision: 32` as the int 32
            if isinstance(value, str) and not isinstance(choice, str):  # "2" for Literal[1, 2]
                try:
                    if _convert(value, type(choice), key, source) == choice:
                        return choice
                except InvalidValue:
                    pass
        raise fail(_choices_reason(value, tp))
    if origin in (list, tuple):
        if isinstance(value, str):
            items = [s.strip() for s in value.split(",") if s.strip()]
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            raise fail(f"expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:  # tuple[int, int]
            if len(items) != len(args):
                raise fail(f"expected {len(args)} items, got {len(items)}")
            return tuple(_convert(v, a, key, source) for v, a in zip(items, args))
        item_tp = args[0] if args else Any
        converted = [_convert(v, item_tp, key, source) for v in items]
        return tuple(converted) if origin is tuple else converted
    if origin is dict:
        if isinstance(value, str):
            value = yaml.safe_load(value)
        if not isinstance(value, Mapping):
            raise fail(f"expected a mapping, got {value!r}")
        k_tp, v_tp = args or (Any, Any)
        return {_convert(k, k_tp, key, source): _convert(v, v_tp, key, source)
                for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise fail(f"expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise fail(f"expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise fail(f"expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise fail(f"expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())  # YAML reads 1e-3 (no dot) as a string
            except ValueError:
                pass
        raise fail(f"expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # a column called 2020
        raise fail(f"expected a string, got {value!r}")
    if tp is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
        raise fail(f"expected a path, got {value!r}")
    raise TypeError(f"config field '{key}' has a type lstmkit cannot convert: {tp!r}")


def _convert_python(value: Any, tp: Any, key: str, source: str) -> Any:
    """Check a Python ``value`` against type ``tp`` without parsing text (see ``strict``)."""
    import numbers

    def fail(reason: str) -> InvalidValue:
        return InvalidValue(key, reason, source)

    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert_python(value, option, key, source)
            except InvalidValue as err:
                errors.append(err.reason)
        raise fail("; ".join(errors) if value is not None else "must not be None")
    if value is None:
        raise fail("must not be None")
    if origin is Literal:
        for choice in args:
            if type(value) is type(choice) and value == choice:
                return choice
        raise fail(_choices_reason(value, tp))
    if origin in (list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) and not hasattr(value, "tolist"):
            raise fail(f"expected a list, got {value!r}")
        items = value.tolist() if hasattr(value, "tolist") else list(value)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(items) != len(args):
                raise fail(f"expected {len(args)} items, got {len(items)}")
            return tuple(_convert_python(v, a, key, source) for v, a in zip(items, args))
        converted = [_convert_python(v, args[0] if args else Any, key, source) for v in items]
        return tuple(converted) if origin is tuple else converted
    if origin is dict:
        if not isinstance(value, Mapping):
            raise fail(f"expected a mapping, got {value!r}")
        k_tp, v_tp = args or (Any, Any)
        return {_convert_python(k, k_tp, key, source): _convert_python(v, v_tp, key, source)
                for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            return bool(value)
        raise fail(f"expected True or False, got {value!r}")
    if tp is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool) and type(value).__name__ != "bool_":
            return int(value)
        raise fail(f"expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and type(value).__name__ != "bool_":
            return float(value)
        raise fail(f"expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise fail(f"expected a string, got {value!r}")
    if tp is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
        raise fail(f"expected a path, got {value!r}")
    raise TypeError(f"config field '{key}' has a type lstmkit cannot convert: {tp!r}")


# ----------------------------------------------------------------------------
# --set overrides, YAML, and putting it together
# ----------------------------------------------------------------------------


def apply_overrides(cfg: C, overrides: Iterable[str], source: str = "--set") -> C:
    """Return a new config with ``["train.lr=0.01", "data.text_column=review"]`` applied.

    Each value is parsed by its field's type: bools take true/false/yes/no/1/0,
    Optional fields take none/null, lists take comma-separated items.
    """
    overrides = list(overrides)
    if not overrides:
        return cfg
    cls = type(cfg)
    sections = {f.name for f, tp in config_fields(cls) if is_section(tp)}
    d = config_to_dict(cfg)
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{source} expects key=value (e.g. train.lr=0.01), got '{item}'")
        if key in sections:
            raise ConfigError(f"'{key}' in {source} is a section; set one of its keys "
                              f"({key}.<name>=value)")
        if key not in all_keys(cls):
            raise _unknown_key(key, source, cls)
        node = d
        *parents, last = key.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    return config_from_dict(cls, d, source)


def load_yaml(path: str | Path) -> dict:
    """Read a YAML config file; an empty file is ``{}``.

    Errors name the file, and the line for syntax errors.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read config file: {err}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark, context = getattr(err, "problem_mark", None), getattr(err, "context_mark", None)
        n_lines = max(1, len(text.splitlines()))  # "<stream end>" is reported past the last line
        line = f", line {min(mark.line + 1, n_lines)}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        if getattr(err, "context", None) and context is not None:
            problem += f" ({err.context} started on line {context.line + 1})"
        raise ConfigError(f"{path}{line}: invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values "
                          f"(like 'train:'), got {type(data).__name__}")
    return data


def _deep_merge(base: dict, update: Mapping) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def build_config(cls: type[C], yaml_path: str | Path | None = None,
                 overrides: Iterable[str] = (), base: Mapping | None = None) -> C:
    """Defaults < ``base`` < the YAML file < ``--set`` overrides -> a checked config."""
    cfg = config_from_dict(cls, base or {}, source="the preset")
    if yaml_path is not None:
        merged = _deep_merge(config_to_dict(cfg), _nest_dotted(load_yaml(yaml_path)))
        cfg = config_from_dict(cls, merged, source=str(yaml_path))
    return apply_overrides(cfg, overrides)

