"""Configs: nested dataclasses, read from YAML and ``--set key=value`` overrides.

A task's config is a dataclass whose fields are other dataclasses (sections)::

    @dataclass
    class TextClassifierConfig:
        data: TextDataConfig = field(default_factory=TextDataConfig)
        model: TextModelConfig = field(default_factory=TextModelConfig)
        train: TrainConfig = field(default_factory=TrainConfig)

Every field has a type hint and a docstring below it (as in litgpt). The type
hint is the whole schema: :func:`convert` checks and converts each value from it
(pydantic's validators do the scalars: lax for text, strict for Python values),
so a task writes no parsing code. Supported field types:

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

import ast
import dataclasses
import difflib
import functools
import inspect
import re
import textwrap
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from lstmkit.errors import ConfigError

C = TypeVar("C")

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


@dataclasses.dataclass(frozen=True)
class KeyDoc:
    """One settable key as ``lstmkit config TASK`` and the guides' key tables show it."""

    key: str
    """The dotted key, ``model.hidden_size``."""
    type: str
    """The type as the tables write it: ``int``, ``str or none``, ``lstm / gru``, ``list of str``."""
    default: str
    """The default as ``--set`` would write it: ``true``, ``none``, ``0.1,0.5,0.9``; ``(empty)``."""
    meaning: str
    """The field's attribute docstring on one line (``code`` in single backquotes)."""


def describe_keys(cls: type) -> list[KeyDoc]:
    """Every key of config class ``cls`` with its type, default (``cls()``'s, so a task's own
    ``train.*`` defaults) and meaning (the docstring under the field), in declaration order."""

    def walk(section: object, prefix: str) -> list[KeyDoc]:
        section_class: type = type(section)
        docs = field_docs(section_class)
        rows = []
        for f, tp in config_fields(section_class):
            value = getattr(section, f.name)
            if is_section(tp):
                rows += walk(value, f"{prefix}{f.name}.")
            else:
                rows.append(KeyDoc(f"{prefix}{f.name}", type_text(tp), value_text(value), docs.get(f.name, "")))
        return rows

    return walk(cls(), "")


def type_text(tp: Any) -> str:
    """How a key's type is written for people: ``int``, ``str or none``, ``lstm / gru``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return " / ".join(str(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join("none" if a is type(None) else type_text(a) for a in args)
    if origin in (list, tuple):
        return f"list of {type_text(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    return getattr(tp, "__name__", str(tp))


def value_text(value: Any) -> str:
    """A value as ``--set`` would write it (``true``, ``none``, ``a,b``); ``(empty)`` for ``""`` or ``[]``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        value = ",".join(value_text(v) for v in value)
    return str(value) if str(value) != "" else "(empty)"


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")  # :class:`~lstmkit.x.Y` -> Y


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The attribute docstring of each field of dataclass ``cls`` (the string literal below it, as
    IDEs and Sphinx read it) on one line; a subclass's docstring wins over its base's."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):  # defined where there is no source (an interactive session)
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                text = " ".join(after.value.value.split())
                text = _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", text)
                docs[node.target.id] = text.replace("``", "`")
    return docs


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
            kwargs[name] = convert(value, tp, key, source, strict)
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


_EXPECTED = {int: "an integer", float: "a number", str: "a string", Path: "a path"}


@functools.cache
def _validator(tp: Any):
    """pydantic's validator of one scalar type (``int``, ``Literal[...]`` ...), built once per type.

    Lax mode parses text (``"1e-3"``, ``"yes"``) and takes a number where a string is expected
    (a column called 2020; not a path); strict mode parses nothing.
    """
    from pydantic import ConfigDict, TypeAdapter  # imported on first use: ~0.1 s that `lstmkit --help` does not need

    return TypeAdapter(tp, config=ConfigDict(coerce_numbers_to_str=tp is str))


def convert(value: Any, tp: Any, key: str, source: str, strict: bool = False) -> Any:
    """Check ``value`` against type hint ``tp`` and convert it; an :class:`InvalidValue` names ``key``.

    ``strict=False`` is for text (YAML, ``--set``): pydantic's lax mode parses scalars, after
    three rules of our own: "none"/"null"/"~" is None where None is allowed, "a,b" is a list
    where a list is expected (a mapping is read as YAML), and a YAML number is text where a
    Literal of strings expects it (``precision: 32``). ``strict=True`` is for Python values:
    pydantic's strict mode, after numpy scalars and arrays become Python numbers and lists.
    Either way a bool is not a number (YAML reads ``yes`` as True). Lists, tuples and mappings
    are walked here so that each item gets these rules and its own message.
    """

    def fail(reason: str) -> InvalidValue:
        return InvalidValue(key, reason, source)

    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if strict and hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()  # numpy: np.int64(3) -> 3, array([1, 2]) -> [1, 2]
    if origin in (Union, types.UnionType):  # X | None, list[str] | str: the first choice that fits
        text_none = not strict and isinstance(value, str) and value.strip().lower() in _NONE
        if type(None) in args and (value is None or text_none):
            return None
        reasons = []
        for option in (a for a in args if a is not type(None)):
            try:
                return convert(value, option, key, source, strict)
            except InvalidValue as err:
                reasons.append(err.reason)
        raise fail("; ".join(dict.fromkeys(reasons)))
    if value is None:
        raise fail("must not be None" if strict else "must not be empty (null)")
    if origin in (list, tuple):
        if isinstance(value, str) and not strict:
            value = [item.strip() for item in value.split(",") if item.strip()]
        if not isinstance(value, (list, tuple)):
            raise fail(f"expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:  # tuple[int, int]
            if len(value) != len(args):
                raise fail(f"expected {len(args)} items, got {len(value)}")
            return tuple(convert(v, a, key, source, strict) for v, a in zip(value, args))
        items = [convert(v, args[0] if args else Any, key, source, strict) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if isinstance(value, str) and not strict:
            value = yaml.safe_load(value)
        if not isinstance(value, Mapping):
            raise fail(f"expected a mapping, got {value!r}")
        k_tp, v_tp = args or (Any, Any)
        return {convert(k, k_tp, key, source, strict): convert(v, v_tp, key, source, strict)
                for k, v in value.items()}
    if origin is Literal:
        if not strict and type(value) in (int, float) and str(value) in args:
            value = str(value)  # YAML reads `precision: 32` as the int 32
        reason = _choices_reason(value, tp)
    elif tp is bool:
        reason = f"expected {'True or False' if strict else 'true or false'}, got {value!r}"
        value = value.strip() if isinstance(value, str) else value  # --set flag= yes
    elif tp in _EXPECTED:
        reason = f"expected {_EXPECTED[tp]}, got {value!r}"
        if isinstance(value, bool) and tp in (int, float):
            raise fail(reason)
    else:
        raise TypeError(f"config field '{key}' has a type lstmkit cannot convert: {tp!r}")
    from pydantic import ValidationError

    try:  # a path is text in Python too: strict pydantic takes only Path objects
        return _validator(tp).validate_python(value, strict=strict and tp is not Path)
    except ValidationError:
        raise fail(reason) from None


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
        started = getattr(err, "context", None)  # "while parsing a flow sequence"
        if started and context is not None:
            problem += f" ({started} started on line {context.line + 1})"
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

