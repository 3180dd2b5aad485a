"""``lstmkit config``: the keys with their docstrings, and the guides' key tables made from the same rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lstmkit.cli import app
from lstmkit.cli.config import TABLE, key_rows, markdown_table, markdown_text, with_tables
from lstmkit.config import describe_keys, field_docs
from lstmkit.tasks.registry import TASKS

DOCS = Path(__file__).resolve().parents[1] / "docs"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_the_guides_key_tables_are_made_from_the_code():
    """A key added, renamed or re-documented in a config dataclass without its guide's table fails here."""
    found = {}
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        found.update({(path.name, m.group("spec")): m for m in TABLE.finditer(text)})
        assert with_tables(text) == text, f"{path.name}: a key table drifted; run lstmkit config-docs docs/{path.name}"
    # the tables are there (taking a marker out must not turn this test off)
    assert {("serving.md", "serve"), ("scaling.md", "text-classifier train.devices train.strategy train.num_nodes"),
            ("forecasting.md", "forecaster data model"), ("tagging.md", "tagger data model")} <= set(found)
    assert any(name == "sequence-classification.md" for name, _ in found)


def test_a_drifted_table_is_found_and_rewritten(tmp_path):
    stale = ("Intro.\n\n<!-- keys: serve serve.max_batch -->\n| key |\n| `serve.max_batch` | 1 |\n"
             "<!-- end keys -->\nEnd.\n")
    fresh = with_tables(stale)
    assert fresh != stale and fresh.startswith("Intro.\n\n<!-- keys: serve serve.max_batch -->\n| key | type |")
    assert fresh.endswith("<!-- end keys -->\nEnd.\n") and with_tables(fresh) == fresh
    path = tmp_path / "guide.md"
    path.write_text(stale, encoding="utf-8")
    assert invoke("config-docs", str(path)).output == f"rewrote the key tables of {path}\n"
    assert path.read_text(encoding="utf-8") == fresh


def test_the_listing_and_the_table_read_the_fields_docstring():
    """`lstmkit config` and the guides show the docstring under the field, and the task's own defaults."""
    from lstmkit.tasks.text import TextClassifierConfig

    docstring = field_docs(type(TextClassifierConfig().model))["hidden_size"]
    listing = invoke("config", "text-classifier", "model.hidden_size", "train.epochs").output
    assert listing.splitlines()[:2] == ["model.hidden_size  (int; default 64)", f"    {docstring}"]
    assert "train.epochs  (int; default 8)" in listing  # the text classifier's, not TrainConfig's 10
    table = invoke("config", "text-classifier", "model.hidden_size", "--markdown").output
    assert table.splitlines() == ["| key | type | default | meaning |", "|---|---|---|---|",
                                  f"| `model.hidden_size` | int | `64` | {docstring} |"]


def test_every_key_of_every_config_has_a_meaning():
    """A field added without a docstring would show an empty meaning in --help and the guides."""
    for name in [*TASKS, "serve"]:
        rows = key_rows(name)
        assert rows and [row.key for row in rows if not row.meaning] == [], name


def test_docstrings_of_a_subclass_win_and_roles_read_as_code():
    from lstmkit.tasks.classification import ClassifierTrainConfig
    from lstmkit.training.config import TrainConfig

    assert field_docs(ClassifierTrainConfig)["class_weights"] != field_docs(TrainConfig)["class_weights"]
    assert field_docs(ClassifierTrainConfig)["lr"] == field_docs(TrainConfig)["lr"]  # inherited

    @dataclass
    class Toy:
        size: int = 3
        """Units of the
        :class:`~lstmkit.nn.rnn.LSTM`, ``size`` > 0 | more."""
        plain: str = "a"

    assert field_docs(Toy) == {"size": "Units of the `LSTM`, `size` > 0 | more."}
    rows = describe_keys(Toy)
    assert [(r.key, r.type, r.default, r.meaning) for r in rows] == [
        ("size", "int", "3", "Units of the `LSTM`, `size` > 0 | more."), ("plain", "str", "a", "")]
    assert markdown_table(rows).splitlines()[2] == r"| `size` | int | `3` | Units of the `LSTM`, `size` > 0 \| more. |"
    assert markdown_text("become <unk>, not `<pad>`") == r"become \<unk>, not `<pad>`"  # <unk> is no HTML tag


@pytest.mark.parametrize("args, message", [
    (["config", "nope"], "error: no settings called 'nope'; valid: text-classifier, tagger"),
    (["config", "tagger", "modle"], "error: tagger has no section or key 'modle'; sections: data, model, train"),
])
def test_unknown_names_are_one_line_errors(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.output
