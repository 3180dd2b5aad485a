"""``lstmkit config NAME [SECTION|KEY ...] [--markdown]``: the settings of a task (or of ``serve``).

Each key's type, default and meaning come from the config dataclass itself: the type hint, the
task's default and the docstring under the field (:func:`lstmkit.config.describe_keys`), the text
IDEs show. The guides' key tables are the same rows: in ``docs/*.md`` a table between

    <!-- keys: forecaster data model -->
    <!-- end keys -->

lists the keys of the task (or ``serve``) named first, limited to the sections (``data``) and keys
(``train.lr``) named after it, if any. ``lstmkit config-docs docs/*.md`` (a command for developers,
not in ``--help``) rewrites those tables; ``tests/test_cli_config.py`` fails when one has drifted
from the code.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

import typer

from lstmkit.cli.common import user_errors
from lstmkit.config import KeyDoc, describe_keys
from lstmkit.errors import LstmkitError

TABLE = re.compile(r"^<!-- keys: (?P<spec>[^>]+?) -->\n(?P<table>.*?)^<!-- end keys -->$", re.MULTILINE | re.DOTALL)


def config_class(name: str) -> type:
    """The config class listed as ``name``: a task's, or ``serve``'s."""
    from lstmkit.tasks.registry import TASKS, get_task_class

    if name == "serve":
        from lstmkit.serve.settings import ServeConfig

        return ServeConfig
    if name not in TASKS:
        raise LstmkitError(f"no settings called {name!r}; valid: {', '.join([*TASKS, 'serve'])}")
    return get_task_class(name).config_class


def key_rows(name: str, selectors: Sequence[str] = ()) -> list[KeyDoc]:
    """The keys of ``name``'s config, all or those under the sections / equal to the keys in ``selectors``."""
    rows = describe_keys(config_class(name))
    for selector in selectors:
        if not any(row.key == selector or row.key.startswith(f"{selector}.") for row in rows):
            raise LstmkitError(f"{name} has no section or key {selector!r}; "
                               f"sections: {', '.join(dict.fromkeys(row.key.split('.')[0] for row in rows))}")
    if not selectors:
        return rows
    return [row for row in rows if any(row.key == s or row.key.startswith(f"{s}.") for s in selectors)]


def markdown_table(rows: Sequence[KeyDoc]) -> str:
    """The guides' table: ``| key | type | default | meaning |``, one row per key."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    lines += [f"| `{row.key}` | {row.type} | `{row.default}` | {markdown_text(row.meaning)} |" for row in rows]
    return "\n".join(lines) + "\n"


def markdown_text(text: str) -> str:
    """``text`` as Markdown shows it: ``|`` escaped (a table cell), and outside `code` ``<`` too
    (``<unk>`` would be read as an HTML tag and vanish)."""
    parts = text.replace("|", "\\|").split("`")
    return "`".join(part if i % 2 else part.replace("<", "\\<") for i, part in enumerate(parts))


def text_listing(rows: Sequence[KeyDoc]) -> str:
    """For a terminal: ``key  (type, default ...)`` and the meaning below it, indented."""
    blocks = []
    for row in rows:
        meaning = textwrap.fill(row.meaning, width=100, initial_indent="    ", subsequent_indent="    ")
        blocks.append(f"{row.key}  ({row.type}; default {row.default})\n{meaning}")
    return "\n".join(blocks) + "\n"


def with_tables(markdown: str) -> str:
    """``markdown`` with each ``<!-- keys: ... -->`` table rewritten from the code."""

    def table(match: re.Match) -> str:
        name, *selectors = match.group("spec").split()
        return f"<!-- keys: {match.group('spec')} -->\n{markdown_table(key_rows(name, selectors))}<!-- end keys -->"

    return TABLE.sub(table, markdown)


def register(app: typer.Typer) -> None:
    @app.command("config")
    @user_errors
    def config_command(
        name: str = typer.Argument(..., metavar="TASK"),
        selectors: list[str] | None = typer.Argument(None, metavar="[SECTION|KEY]...", hidden=True),
        markdown: bool = typer.Option(False, "--markdown", help="As a Markdown table (the guides' form)."),
    ) -> None:
        """List the settings of a task (--set KEY=VALUE, YAML, Python keywords): type, default, meaning.

        lstmkit config TASK [SECTION|KEY]...: TASK is a task (text-classifier, tagger, ...) or serve;
        SECTION|KEY limits the list to those sections (data, model, train) or keys."""
        rows = key_rows(name, selectors or ())
        typer.echo(markdown_table(rows) if markdown else text_listing(rows), nl=False)

    @app.command("config-docs", hidden=True)
    @user_errors
    def config_docs(paths: list[Path] = typer.Argument(..., metavar="FILE.md...")) -> None:
        """Rewrite the key tables (<!-- keys: ... --> ... <!-- end keys -->) of Markdown files from the code."""
        from lstmkit.files import atomic_write_text

        for path in paths:
            text = path.read_text(encoding="utf-8")
            new = with_tables(text)
            if new != text:
                atomic_write_text(path, new)
                typer.echo(f"rewrote the key tables of {path}")
