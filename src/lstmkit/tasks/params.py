"""Hyperparameters as scikit-learn sees them: one keyword argument per config key.

Every key of a task's config becomes a keyword parameter of the estimator's ``__init__``:

* by its short name when that name is unique across the sections (``hidden_size`` for
  ``model.hidden_size``, ``epochs`` for ``train.epochs``);
* as ``section__name`` when two sections share the name (``model__dropout`` and
  ``data__dropout``), the double underscore scikit-learn uses for nested parameters.

The dotted key (``"model.hidden_size"``) and the ``section__name`` form are accepted
everywhere as aliases (``TextClassifier(**{"model.hidden_size": 32})``,
``set_params(model__hidden_size=32)``, a ``GridSearchCV`` grid). An ambiguous short name is
an error that lists the dotted choices; an unknown one lists the valid names.

``__init__`` only stores values, as scikit-learn requires: each parameter is an attribute
of the same name, taken from ``config`` (or the task's defaults) unless given. Values are
checked when the config is resolved (at ``fit``), as Python values — no text round trip, so
the string ``"none"`` is never mistaken for None.

With this, :func:`sklearn.base.clone`, ``GridSearchCV`` and ``cross_val_score`` work:
``get_params(deep=False)`` returns every parameter (and ``config``), and
``klass(**get_params())`` builds an equal estimator.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import inspect
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from lstmkit.config import config_fields, config_from_dict, config_to_dict, is_section
from lstmkit.errors import ConfigError
from lstmkit.tasks.registry import check_unread_settings


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """The parameter names of one config class."""

    names: dict[str, str]
    """Parameter name -> dotted config key (``"hidden_size" -> "model.hidden_size"``)."""
    ambiguous: dict[str, list[str]]
    """Short names found in several sections -> their dotted keys."""

    @classmethod
    def of(cls, config_class: type, reserved: set[str]) -> ParamSpec:
        """Name every key of ``config_class``; ``reserved`` names (the estimator's own
        attributes) must not be taken by a short name."""
        dotted = _dotted_keys(config_class)
        by_short: dict[str, list[str]] = {}
        for key in dotted:
            by_short.setdefault(key.rsplit(".", 1)[-1], []).append(key)
        names, ambiguous = {}, {}
        for short, keys in by_short.items():
            if len(keys) == 1 and short not in reserved:
                names[short] = keys[0]
            else:
                if len(keys) > 1:
                    ambiguous[short] = keys
                for key in keys:
                    names[key.replace(".", "__")] = key
        return cls(names, ambiguous)

    def canonical(self, name: str) -> str:
        """The parameter name for ``name`` (a short name, ``section__name`` or dotted key)."""
        if name in self.names:
            return name
        dotted = name.replace("__", ".")
        for param, key in self.names.items():
            if key == dotted:
                return param
        if name in self.ambiguous:
            raise ConfigError(f"hyperparameter {name!r} is ambiguous: it is one of "
                              f"{', '.join(self.ambiguous[name])}; give the dotted key "
                              f"(e.g. **{{'{self.ambiguous[name][0]}': ...}}) or "
                              f"{self.ambiguous[name][0].replace('.', '__')}=...")
        close = difflib.get_close_matches(name, list(self.names), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown hyperparameter {name!r}{hint}; valid: {', '.join(sorted(self.names))}")


def _dotted_keys(config_class: type, prefix: str = "") -> list[str]:
    keys = []
    for f, tp in config_fields(config_class):
        if is_section(tp):
            keys += _dotted_keys(tp, f"{prefix}{f.name}.")
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


def get_value(config: Any, dotted: str) -> Any:
    """``config.model.hidden_size`` for ``"model.hidden_size"``."""
    for part in dotted.split("."):
        config = getattr(config, part)
    return config


def init_signature(spec: ParamSpec, defaults: Any) -> inspect.Signature:
    """``(self, config=None, *, hidden_size=64, ...)``: what ``inspect`` (and scikit-learn) see."""
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
              inspect.Parameter("config", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None)]
    params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=get_value(defaults, key))
               for name, key in spec.names.items()]
    return inspect.Signature(params)


class HyperParameters:
    """Mixin giving an estimator scikit-learn's parameter protocol over its config class.

    Subclasses set ``config_class``; the signature of ``__init__`` is made from it when the
    subclass is created (``__init_subclass__``).
    """

    config_class: ClassVar[type] = object
    _param_spec: ClassVar[ParamSpec]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not dataclasses.is_dataclass(cls.config_class):
            return  # an abstract intermediate class
        reserved = {name for klass in cls.__mro__[1:] for name in vars(klass)}
        cls._param_spec = ParamSpec.of(cls.config_class, reserved)

        def __init__(self, config=None, **params):
            HyperParameters._store(self, config, params)

        # a function made at run time: inspect (and scikit-learn) read the signature set here
        __init__.__signature__ = init_signature(cls._param_spec, cls.config_class())  # type: ignore[attr-defined]
        __init__.__doc__ = (f"Store the hyperparameters (see the module :mod:`lstmkit.tasks.params`).\n\n"
                            f"``config``: a :class:`{cls.config_class.__name__}` to start from; each keyword "
                            "overrides one of its keys.")
        __init__.__qualname__ = f"{cls.__qualname__}.__init__"
        cls.__init__ = __init__  # type: ignore[method-assign]

    def _store(self, config, params: Mapping[str, Any]) -> None:
        spec = type(self)._param_spec
        given = {spec.canonical(name): value for name, value in params.items()}
        self.config = config
        base = config if config is not None else type(self).config_class()
        for name, key in spec.names.items():
            setattr(self, name, given[name] if name in given else get_value(base, key))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Every hyperparameter by its parameter name, and ``config`` (scikit-learn's protocol)."""
        return {"config": self.config, **{name: getattr(self, name) for name in type(self)._param_spec.names}}

    def set_params(self, **params: Any) -> Self:
        """Change hyperparameters by name (short, ``section__name`` or dotted); returns ``self``.

        ``config=`` replaces the base config and resets every parameter from it first.
        """
        spec = type(self)._param_spec
        if "config" in params:
            config = params.pop("config")
            HyperParameters._store(self, config, {})
        for name, value in params.items():
            setattr(self, spec.canonical(name), value)
        return self

    def resolved_config(self):
        """The config to train with: ``config`` (or the defaults) with every parameter applied.

        Values are checked as Python values (``strict``): a wrong type or range is a
        :class:`~lstmkit.errors.ConfigError` naming the dotted key, and so is a setting that only
        other tasks read (``Tagger(class_weights="balanced")``; see the task registry's ``reads``).
        """
        spec = type(self)._param_spec
        base = copy.deepcopy(self.config) if self.config is not None else type(self).config_class()
        values = config_to_dict(base)
        for name, key in spec.names.items():
            section, field = key.rsplit(".", 1)
            node = values
            for part in section.split("."):
                node = node[part]
            node[field] = getattr(self, name)
        config: Any = config_from_dict(type(self).config_class, values, source="the estimator's parameters",
                                       strict=True)
        check_unread_settings(getattr(type(self), "task", ""), config, type(self).config_class())
        return config

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = []
        for name, value in self.get_params(deep=False).items():
            default = defaults[name].default if name in defaults else object()
            try:
                same = value is default or value == default
            except Exception:  # noqa: BLE001 - arrays compare element-wise, or not at all
                same = False
            if same is not True:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"
