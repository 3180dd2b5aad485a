"""Configs: dict/JSON round trips, --set parsing by type, YAML errors, error texts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

from lstmkit.config import (
    all_keys,
    apply_overrides,
    build_config,
    check_choices,
    config_from_dict,
    config_to_dict,
    invalid,
    load_yaml,
)
from lstmkit.errors import ConfigError
from lstmkit.training.config import TrainConfig


@dataclass
class DataSection:
    text_column: str = "text"
    """Column with the text."""
    max_len: int | None = None
    """Truncate longer texts; None keeps all."""
    stopwords: list[str] = field(default_factory=list)
    """Tokens to drop."""
    lowercase: bool = True
    """Lowercase before tokenising."""
    tokenizer: Literal["char", "word", "jieba"] = "char"
    """How to split text."""

    def __post_init__(self) -> None:
        check_choices(self)


@dataclass
class ModelSection:
    hidden_size: int = 64
    """LSTM hidden units."""
    dropout: float = 0.1
    """Dropout probability."""
    kernel: tuple[int, int] = (3, 3)
    """A pair."""
    sizes: tuple[int, ...] = (1, 2)
    """Any number of ints."""

    def __post_init__(self) -> None:
        if self.hidden_size < 1:
            raise invalid("hidden_size", f"must be >= 1, got {self.hidden_size}")


@dataclass
class ToyConfig:
    data: DataSection = field(default_factory=DataSection)
    model: ModelSection = field(default_factory=ModelSection)
    train: TrainConfig = field(default_factory=TrainConfig)


def test_all_keys_are_dotted_in_declaration_order():
    keys = all_keys(ToyConfig)
    assert keys[:5] == ["data.text_column", "data.max_len", "data.stopwords", "data.lowercase",
                        "data.tokenizer"]
    assert "model.hidden_size" in keys and "train.lr" in keys and "train.class_weights" in keys
    assert len(keys) == 5 + 4 + len(all_keys(TrainConfig))


def test_round_trip_through_json():
    cfg = ToyConfig(DataSection(max_len=100, stopwords=["的", "了"], tokenizer="jieba"),
                    ModelSection(hidden_size=8, kernel=(5, 1), sizes=(4,)),
                    TrainConfig(lr=0.002, optimizer="sgd", precision="bf16-mixed"))
    d = json.loads(json.dumps(config_to_dict(cfg), ensure_ascii=False))
    assert d["model"]["kernel"] == [5, 1]  # tuples are JSON lists
    assert config_from_dict(ToyConfig, d) == cfg
    assert config_from_dict(ToyConfig, {}) == ToyConfig()


def test_dotted_keys_are_accepted_in_dicts():
    cfg = config_from_dict(ToyConfig, {"model.hidden_size": 7, "train": {"epochs": 2}})
    assert cfg.model.hidden_size == 7 and cfg.train.epochs == 2


@pytest.mark.parametrize("text, expected", [
    ("true", True), ("Yes", True), ("1", True), ("on", True),
    ("false", False), ("no", False), ("0", False), ("OFF", False),
])
def test_bool_overrides(text, expected):
    cfg = apply_overrides(ToyConfig(DataSection(lowercase=not expected)), [f"data.lowercase={text}"])
    assert cfg.data.lowercase is expected


def test_overrides_parse_by_field_type():
    cfg = apply_overrides(ToyConfig(), [
        "model.hidden_size=256", "train.lr=1e-3", "model.dropout=0", "data.text_column=review",
        "data.max_len=128", "data.stopwords=a, b,,c", "model.kernel=7,2", "model.sizes=1,2,3",
        "train.optimizer=adamw", "train.precision=bf16-mixed",
    ])
    assert cfg.model.hidden_size == 256 and type(cfg.model.hidden_size) is int
    assert cfg.train.lr == 1e-3 and cfg.model.dropout == 0.0 and type(cfg.model.dropout) is float
    assert cfg.data.text_column == "review" and cfg.data.max_len == 128
    assert cfg.data.stopwords == ["a", "b", "c"]
    assert cfg.model.kernel == (7, 2) and cfg.model.sizes == (1, 2, 3)
    assert cfg.train.optimizer == "adamw" and cfg.train.precision == "bf16-mixed"


def test_optional_overrides_take_none_and_null():
    cfg = ToyConfig(DataSection(max_len=5))
    assert apply_overrides(cfg, ["data.max_len=none"]).data.max_len is None
    assert apply_overrides(cfg, ["data.max_len=null"]).data.max_len is None
    assert apply_overrides(cfg, ["data.max_len=9"]).data.max_len == 9


def test_later_overrides_win_and_input_is_not_mutated():
    cfg = ToyConfig()
    new = apply_overrides(cfg, ["train.epochs=3", "train.epochs=4"])
    assert new.train.epochs == 4 and cfg.train.epochs == 10


@pytest.mark.parametrize("override, words", [
    ("data.lowercase=maybe", ["data.lowercase", "true or false", "maybe"]),
    ("model.hidden_size=abc", ["model.hidden_size", "integer", "abc"]),
    ("model.hidden_size=1.5", ["model.hidden_size", "integer"]),
    ("train.lr=fast", ["train.lr", "number"]),
    ("data.max_len=big", ["data.max_len", "big"]),
    ("model.kernel=1,2,3", ["model.kernel", "expected 2 items"]),
    ("train.optimizer=adan", ["train.optimizer", "'adan'", "adam, adamw, sgd, rmsprop"]),
    ("data.tokenizer=bpe", ["data.tokenizer", "char, word, jieba"]),
    ("train.lr=-1", ["train.lr", "must be > 0"]),          # range check in __post_init__
    ("model.hidden_size=0", ["model.hidden_size", ">= 1"]),
    ("train.momentum=1.5", ["train.momentum"]),
])
def test_bad_override_values_name_the_key(override, words):
    with pytest.raises(ConfigError) as err:
        apply_overrides(ToyConfig(), [override])
    for word in words:
        assert word in str(err.value)
    assert "--set" in str(err.value)


def test_unknown_key_lists_the_valid_keys():
    with pytest.raises(ConfigError) as err:
        apply_overrides(ToyConfig(), ["model.hiden_size=3"])
    message = str(err.value)
    assert message.startswith("unknown key 'model.hiden_size' in --set")
    assert "did you mean 'model.hidden_size'?" in message
    assert "valid keys: " + ", ".join(all_keys(ToyConfig)) in message


def test_unknown_key_in_a_dict_names_the_source_and_full_key():
    with pytest.raises(ConfigError, match=r"unknown key 'train\.epoch' in run\.yaml .*valid keys: "):
        config_from_dict(ToyConfig, {"train": {"epoch": 3}}, source="run.yaml")


def test_malformed_overrides():
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(ToyConfig(), ["model.hidden_size"])
    with pytest.raises(ConfigError, match="'model' in --set is a section"):
        apply_overrides(ToyConfig(), ["model=3"])
    with pytest.raises(ConfigError, match="'model' must be a mapping"):
        config_from_dict(ToyConfig, {"model": 3})


def test_direct_construction_checks_choices_and_ranges():
    with pytest.raises(ConfigError, match="'optimizer'.*'adan'"):
        TrainConfig(optimizer="adan")
    with pytest.raises(ConfigError, match="'batch_size'.*must be > 0"):
        TrainConfig(batch_size=0)


def test_literal_strings_accept_yaml_numbers():
    assert config_from_dict(TrainConfig, {"precision": 32}).precision == "32"
    with pytest.raises(ConfigError, match="precision"):
        config_from_dict(TrainConfig, {"precision": 16})
    with pytest.raises(ConfigError, match="epochs"):  # a bool is not an int
        config_from_dict(TrainConfig, {"epochs": True})


def test_missing_required_key():
    @dataclass
    class Needs:
        path: str
        """No default."""

    with pytest.raises(ConfigError, match="missing key 'path' in x.yaml"):
        config_from_dict(Needs, {}, source="x.yaml")
    assert config_from_dict(Needs, {"path": "a"}).path == "a"


# --- YAML ---------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_load_yaml_reads_mappings(tmp_path):
    path = write(tmp_path / "run.yaml", "model:\n  hidden_size: 32\ntrain:\n  lr: 1e-3\n")
    d = load_yaml(path)
    assert d == {"model": {"hidden_size": 32}, "train": {"lr": "1e-3"}}  # YAML 1.1 reads 1e-3 as text
    assert config_from_dict(ToyConfig, d).train.lr == 1e-3
    assert load_yaml(write(tmp_path / "empty.yaml", "# nothing\n")) == {}


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path / "bad.yaml", "model:\n  hidden_size: 32\ntrain:\n  lr: [1, 2\n")
    with pytest.raises(ConfigError) as err:
        load_yaml(path)
    assert str(err.value).startswith(f"{path}, line ")
    assert str(err.value).startswith(f"{path}, line 4: invalid YAML: ")  # the unclosed list
    assert "started on line 4" in str(err.value)
    path = write(tmp_path / "tab.yaml", "a: 1\nb:\n\t- 2\n")
    with pytest.raises(ConfigError, match=r"tab\.yaml, line 3: invalid YAML"):
        load_yaml(path)


def test_yaml_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match=r"list\.yaml: the top level must be a mapping"):
        load_yaml(write(tmp_path / "list.yaml", "- a\n- b\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_yaml(tmp_path / "missing.yaml")


def test_build_config_precedence(tmp_path):
    path = write(tmp_path / "run.yaml", "model:\n  hidden_size: 32\n  dropout: 0.3\n"
                 "train.epochs: 7\n")
    cfg = build_config(ToyConfig, path, ["model.dropout=0.5"],
                       base={"model": {"hidden_size": 16}, "train": {"lr": 0.01}})
    assert cfg.model.hidden_size == 32  # yaml beats base
    assert cfg.model.dropout == 0.5  # --set beats yaml
    assert cfg.train.lr == 0.01  # base beats defaults
    assert cfg.train.epochs == 7 and cfg.train.batch_size == 32


def test_build_config_errors_name_the_yaml_file(tmp_path):
    path = write(tmp_path / "run.yaml", "model:\n  hidden_size: -4\n")
    with pytest.raises(ConfigError, match=r"'model\.hidden_size' in .*run\.yaml"):
        build_config(ToyConfig, path)


def test_a_partial_section_keeps_the_tasks_own_defaults():
    """A preset setting one train.* key dropped the task's train defaults (onecycle, adamw ...)
    for TrainConfig's generic ones."""
    from lstmkit.config import build_config
    from lstmkit.tasks.text import TextClassifierConfig

    default = TextClassifierConfig().train
    cfg = build_config(TextClassifierConfig, base={"train": {"epochs": 3}})
    assert cfg.train.epochs == 3
    assert (cfg.train.scheduler, cfg.train.optimizer, cfg.train.patience) == (default.scheduler, default.optimizer,
                                                                                default.patience) == ("onecycle",
                                                                                                      "adamw", 0)


# --- every message of the value conversion, word for word -----------------------
# Values come two ways: as text (a YAML file, --set: "lax", parsed by the field's type) and as
# Python values (estimator keywords: strict=True, nothing parsed from text). A rewrite of the
# conversion must keep each message below exactly; the tables are the contract.


@dataclass
class Kinds:
    """One field of every kind of type a config may use."""

    count: int = 1
    rate: float = 0.5
    flag: bool = True
    name: str = "a"
    where: Path = Path(".")
    mode: Literal["a", "b"] = "a"
    pair: tuple[int, int] = (1, 2)
    sizes: tuple[int, ...] = (1,)
    words: list[str] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    target: list[str] | str = "y"
    limit: int | None = None
    scale: float | None = None
    label: str | None = None
    table: dict[str, int] = field(default_factory=dict)


def message(d: dict, strict: bool) -> str:
    with pytest.raises(ConfigError) as err:
        config_from_dict(Kinds, d, source="run.yaml", strict=strict)
    return str(err.value)


@pytest.mark.parametrize("d, reason", [
    ({"count": "abc"}, "expected an integer, got 'abc'"),
    ({"count": 1.5}, "expected an integer, got 1.5"),
    ({"count": "1.5"}, "expected an integer, got '1.5'"),
    ({"count": True}, "expected an integer, got True"),  # YAML's yes is not a number
    ({"count": [1]}, "expected an integer, got [1]"),
    ({"count": None}, "must not be empty (null)"),
    ({"rate": "fast"}, "expected a number, got 'fast'"),
    ({"rate": True}, "expected a number, got True"),
    ({"rate": None}, "must not be empty (null)"),
    ({"flag": "maybe"}, "expected true or false, got 'maybe'"),
    ({"flag": 2}, "expected true or false, got 2"),
    ({"name": True}, "expected a string, got True"),
    ({"name": ["a"]}, "expected a string, got ['a']"),
    ({"where": 3}, "expected a path, got 3"),
    ({"mode": "c"}, "'c' is not one of: a, b"),
    ({"mode": 1}, "1 is not one of: a, b"),
    ({"mode": None}, "must not be empty (null)"),
    ({"pair": "1,2,3"}, "expected 2 items, got 3"),
    ({"pair": [1]}, "expected 2 items, got 1"),
    ({"pair": "1, x"}, "expected an integer, got 'x'"),  # an item's own message
    ({"pair": 5}, "expected a list, got 5"),
    ({"sizes": "a,b"}, "expected an integer, got 'a'"),
    ({"rates": "0.1,bad"}, "expected a number, got 'bad'"),
    ({"limit": "big"}, "expected an integer, got 'big'"),
    ({"limit": 1.5}, "expected an integer, got 1.5"),
    ({"limit": True}, "expected an integer, got True"),
    ({"scale": "x"}, "expected a number, got 'x'"),
    ({"table": "x"}, "expected a mapping, got 'x'"),
    ({"table": {"a": "z"}}, "expected an integer, got 'z'"),
])
def test_text_value_messages(d, reason):
    """A changed or merged message here is a changed user-facing error (run.yaml, --set)."""
    (key,) = d
    assert message(d, strict=False) == f"invalid value for '{key}' in run.yaml: {reason}"


@pytest.mark.parametrize("d, reason", [
    ({"count": "3"}, "expected an integer, got '3'"),  # no parsing of text
    ({"count": 1.0}, "expected an integer, got 1.0"),
    ({"count": 1.5}, "expected an integer, got 1.5"),
    ({"count": True}, "expected an integer, got True"),
    ({"count": None}, "must not be None"),
    ({"rate": "1e-3"}, "expected a number, got '1e-3'"),
    ({"rate": True}, "expected a number, got True"),
    ({"flag": 1}, "expected True or False, got 1"),
    ({"flag": "yes"}, "expected True or False, got 'yes'"),
    ({"name": 2020}, "expected a string, got 2020"),
    ({"mode": "c"}, "'c' is not one of: a, b"),
    ({"mode": None}, "must not be None"),
    ({"pair": "1,2"}, "expected a list, got '1,2'"),  # no splitting of text
    ({"pair": [1]}, "expected 2 items, got 1"),
    ({"words": "a,b"}, "expected a list, got 'a,b'"),
    ({"words": [1, 2]}, "expected a string, got 1"),
    ({"limit": "none"}, "expected an integer, got 'none'"),  # "none" is not None
    ({"scale": "none"}, "expected a number, got 'none'"),
    ({"label": 5}, "expected a string, got 5"),
    ({"table": "{a: 1}"}, "expected a mapping, got '{a: 1}'"),
    ({"table": {"a": "2"}}, "expected an integer, got '2'"),
    ({"target": 3}, "expected a list, got 3; expected a string, got 3"),  # each choice of the union
])
def test_python_value_messages(d, reason):
    """Estimator keywords: a value of the wrong type is refused with the key, never parsed."""
    (key,) = d
    assert message(d, strict=True) == f"invalid value for '{key}' in run.yaml: {reason}"


@pytest.mark.parametrize("d, expected", [
    ({"count": " 7 "}, 7), ({"count": "3"}, 3), ({"count": 4.0}, 4),
    ({"rate": "1e-3"}, 1e-3), ({"rate": 2}, 2.0),
    ({"flag": "Yes"}, True), ({"flag": " off "}, False), ({"flag": 1}, True), ({"flag": 0}, False),
    ({"name": 2020}, "2020"), ({"name": 2.5}, "2.5"),  # a column called 2020
    ({"where": "x/y"}, Path("x/y")),
    ({"pair": "3, 4"}, (3, 4)), ({"pair": [5, "6"]}, (5, 6)),
    ({"sizes": "1,2"}, (1, 2)), ({"words": "a, b,,c"}, ["a", "b", "c"]), ({"words": "x"}, ["x"]),
    ({"words": ("x", 1)}, ["x", "1"]), ({"rates": "0.5, 1"}, [0.5, 1.0]),
    ({"target": "a,b"}, ["a", "b"]), ({"target": 3}, "3"),  # the union's first choice that fits
    ({"limit": "none"}, None), ({"limit": "NULL"}, None), ({"limit": "~"}, None), ({"limit": None}, None),
    ({"limit": "9"}, 9), ({"scale": "none"}, None), ({"label": "none"}, None), ({"label": 5}, "5"),
    ({"table": "{a: 1}"}, {"a": 1}), ({"table": {"a": "2"}}, {"a": 2}),
])
def test_text_values_are_parsed_by_type(d, expected):
    (key,) = d
    value = getattr(config_from_dict(Kinds, d), key)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("d, expected", [
    ({"count": np.int64(3)}, 3), ({"rate": np.float32(0.25)}, 0.25), ({"rate": 2}, 2.0),
    ({"flag": np.bool_(False)}, False), ({"where": "x/y"}, Path("x/y")),
    ({"pair": [1, 2]}, (1, 2)), ({"sizes": np.array([3, 4])}, (3, 4)), ({"words": ("x", "y")}, ["x", "y"]),
    ({"target": "a,b"}, "a,b"), ({"target": ["a"]}, ["a"]), ({"label": "none"}, "none"), ({"label": None}, None),
])
def test_python_values_are_kept_as_given(d, expected):
    """numpy scalars and arrays (a GridSearchCV grid) are numbers and lists; text stays text.
    (The hand conversion refused numpy 2's booleans: it looked for the type name bool_.)"""
    (key,) = d
    value = getattr(config_from_dict(Kinds, d, strict=True), key)
    assert value == expected and type(value) is type(expected)


def test_literal_strings_take_yaml_numbers_as_text_only():
    assert config_from_dict(TrainConfig, {"precision": 32}).precision == "32"
    assert message_of(lambda: config_from_dict(TrainConfig, {"precision": 32}, strict=True)) == (
        "invalid value for 'precision' in config: 32 is not one of: 32, bf16-mixed, 16-mixed")


def message_of(call) -> str:
    with pytest.raises(ConfigError) as err:
        call()
    return str(err.value)


def test_structure_messages():
    """The messages about keys and sections (not values), word for word."""
    assert message_of(lambda: config_from_dict(ToyConfig, {"model": 3}, source="run.yaml")) == (
        "run.yaml: 'model' must be a mapping of keys to values, got int")
    assert message_of(lambda: config_from_dict(ToyConfig, [1], source="run.yaml")) == (
        "run.yaml: the top level must be a mapping of keys to values, got list")
    assert message_of(lambda: config_from_dict(ToyConfig, {"train": {"lr": 1, "lr.x": 2}})) == (
        "'lr.x' sets a key below 'lr', which is not a section")
    assert message_of(lambda: apply_overrides(ToyConfig(), ["model.hidden_size"])) == (
        "--set expects key=value (e.g. train.lr=0.01), got 'model.hidden_size'")
    assert message_of(lambda: apply_overrides(ToyConfig(), ["=3"])) == (
        "--set expects key=value (e.g. train.lr=0.01), got '=3'")
    assert message_of(lambda: apply_overrides(ToyConfig(), ["model=3"])) == (
        "'model' in --set is a section; set one of its keys (model.<name>=value)")
    valid = ", ".join(all_keys(ToyConfig))
    assert message_of(lambda: apply_overrides(ToyConfig(), ["model.hiden_size=3"])) == (
        f"unknown key 'model.hiden_size' in --set (did you mean 'model.hidden_size'?); valid keys: {valid}")
    assert message_of(lambda: apply_overrides(ToyConfig(), ["zzz=3"])) == (
        f"unknown key 'zzz' in --set; valid keys: {valid}")


def test_range_messages_name_the_dotted_key_and_source():
    """__post_init__ raises with the local key (hidden_size); the message names model.hidden_size."""
    assert message_of(lambda: apply_overrides(ToyConfig(), ["model.hidden_size=0"])) == (
        "invalid value for 'model.hidden_size' in --set: must be >= 1, got 0")
    assert message_of(lambda: config_from_dict(ToyConfig, {"train": {"lr": -1}}, source="run.yaml")) == (
        "invalid value for 'train.lr' in run.yaml: must be > 0, got -1.0")
    assert message_of(lambda: TrainConfig(optimizer="adan")) == (
        "invalid value for 'optimizer': 'adan' is not one of: adam, adamw, sgd, rmsprop")


def test_a_type_the_config_cannot_convert_is_a_programming_error():
    @dataclass
    class Odd:
        when: complex = 0j
        """Not a config type."""

    with pytest.raises(TypeError, match="config field 'when' has a type lstmkit cannot convert"):
        config_from_dict(Odd, {"when": 1})


def test_importing_the_config_module_leaves_pydantic_unloaded():
    """pydantic is imported when a value is first converted, not by `lstmkit --help`'s imports."""
    import subprocess
    import sys

    code = "import sys, lstmkit.config; print('pydantic' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
