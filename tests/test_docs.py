"""The docs cannot drift: every example in README.md and docs/*.md runs, and the config table is complete.

- Each document's fenced ``python`` blocks are executed, and the ``$ lstmkit ...`` lines of its
  ``console`` / ``bash`` / ``shell`` blocks run through the ``lstmkit`` command's own entry point
  in this process (typer's runner: a fresh process per command spent 6 of every 8 seconds
  importing torch, scikit-learn and onnx; ``tests/test_cli.py`` runs the real ``python -m
  lstmkit``), and must exit 0 without an exception, all in document order, in one temporary
  working folder that holds a copy of ``docs/examples/`` (so the paths in the docs are the paths
  a user types at the repository root). Python blocks of one document share one namespace, like
  a notebook. Other ``$`` lines (``$ make demo``) are not run.
- ``yaml`` blocks must be valid text-classifier configs.
- A block right after the comment ``<!-- docs-test: skip, needs make demo -->`` is not run; only
  blocks that need ``make`` may be skipped (the test checks that the block mentions it).
- The config table of docs/text-classification.md lists every key of ``TextClassifierConfig``
  with its type and default.

- The output a document shows under a ``$ lstmkit`` command must be what the command prints
  (:func:`output_differences`): line by line, where numbers with a decimal point (metrics,
  probabilities: they change with thread counts and hardware) only need to be numbers, while
  integers (counts, supports, epochs) and all the words must be exact. A ``...`` in a shown
  line stands for any text; a line that is just ``...`` for any number of lines. After a
  change to the model, ``python tests/test_docs.py --refresh`` reruns the documents and
  rewrites the shown output.
- Every error message quoted in a ``| problem | message |`` table must be one the code can
  print: it must match an f-string of the ``lstmkit`` sources (its literal parts exactly, its
  ``{...}`` parts any text; module-level string constants are filled in).
- In blocks skipped because they need ``make demo``, the files passed to ``--data`` /
  ``--input`` must be ones ``make demo`` writes (under ``runs/demo-sentiment/``) or files of
  the repository.

Training in the docs is tiny (200 reviews, small hidden sizes); the test runs torch on one
thread because on a busy two-core machine torch's default threads slow tiny models tenfold.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import os
import re
import shlex
import shutil
import sys
import traceback
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Union

import pytest
import torch
import yaml

from lstmkit.config import all_keys, build_config, config_from_dict, config_to_dict
from lstmkit.data.embeddings import read_word_vectors
from lstmkit.data.formats.tables import read_text_classification
from lstmkit.errors import ConfigError
from lstmkit.tasks.text import TextClassifierConfig

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "text-classification.md"
EXAMPLES = ROOT / "docs" / "examples"
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]

SKIP_MARKER = "<!-- docs-test: skip, needs make demo -->"
SHELL_LANGUAGES = {"console", "bash", "shell", "sh"}


# ---------------------------------------------------------------------- reading markdown
@dataclass
class Block:
    """One fenced code block: its language, its text and the line its first code line is on."""

    language: str
    code: str
    line: int
    skip: bool = False


def code_blocks(markdown: str) -> list[Block]:
    """The fenced (```) blocks of a markdown text, in order; ``skip`` set by :data:`SKIP_MARKER`."""
    blocks: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        match = re.match(r"^```\s*([\w+-]*)", lines[i])
        if not match:
            i += 1
            continue
        previous = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        start = i + 1
        end = start
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        if end == len(lines):
            raise ValueError(f"line {i + 1}: a ``` block is never closed")
        blocks.append(Block(match.group(1).lower(), "\n".join(lines[start:end]) + "\n", start + 1,
                            skip=previous == SKIP_MARKER))
        i = end + 1
    return blocks


@dataclass
class Command:
    """A ``$ ...`` line of a shell block: where it starts and ends (0-based, in the block)."""

    first: int
    last: int
    text: str


def shell_commands(code: str) -> list[Command]:
    """Each ``$ ...`` command of a shell block; a line ending in ``\\`` continues on the next."""
    commands: list[Command] = []
    lines = code.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            i += 1
            continue
        first, command = i, lines[i][2:]
        while command.endswith("\\") and i + 1 < len(lines):
            i += 1
            command = command[:-1] + " " + lines[i].strip()
        commands.append(Command(first, i, command.strip()))
        i += 1
    return commands


def lstmkit_argv(command: str) -> list[str] | None:
    """``"lstmkit predict m --text 'a b'"`` -> ``[predict, m, --text, a b]`` (the arguments after
    ``lstmkit``); None for commands that are not lstmkit (``make demo``)."""
    argv = shlex.split(command)
    if not argv or argv[0] != "lstmkit":
        return None
    return argv[1:]


# ---------------------------------------------------------------------- running a document
def run_cli(argv: list[str], where: str) -> str:
    """Run ``lstmkit ARGV`` in this process; fail the test unless it exits 0 without an exception.
    Returns its stdout (stderr, where progress bars and warnings go, is kept apart)."""
    from typer.testing import CliRunner

    from lstmkit.cli import app

    result = CliRunner().invoke(app, argv)
    error = result.exception if not isinstance(result.exception, SystemExit) else None
    if result.exit_code != 0 or error is not None:
        trace = "".join(traceback.format_exception(error)) if error is not None else ""
        pytest.fail(f"{where}: `lstmkit {shlex.join(argv)}` exited {result.exit_code}\n"
                    f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}\n{trace[-3000:]}")
    return result.stdout


def run_document(markdown: str, name: str, workdir: Path) -> dict[int, str]:
    """Run every block of the document ``markdown`` (called ``name``) in order, inside ``workdir``.

    Returns the stdout of each ``$ lstmkit`` command by the document line (1-based) its ``$`` is on.
    """
    outputs: dict[int, str] = {}
    shutil.copytree(EXAMPLES, workdir / "docs" / "examples")
    namespace: dict = {"__name__": "__docs__"}
    old_cwd, old_threads = Path.cwd(), torch.get_num_threads()
    os.chdir(workdir)
    torch.set_num_threads(1)
    try:
        for block in code_blocks(markdown):
            where = f"{name}, line {block.line}"
            if block.skip:
                assert re.search(r"\bmake\b|runs/demo-sentiment", block.code), \
                    f"{where}: only blocks that need `make` may be skipped"
                continue
            if block.language == "python":
                try:
                    exec(compile(block.code, f"{name}:{block.line}", "exec", dont_inherit=True), namespace)
                except Exception as err:  # report where in the docs it broke
                    raise AssertionError(f"{where}: the python block raised {err!r}") from err
            elif block.language == "yaml":  # a config file: its keys and values must be valid
                data = yaml.safe_load(block.code) or {}
                try:
                    config_from_dict(TextClassifierConfig, data, source=where)
                except ConfigError as err:
                    raise AssertionError(f"{where}: the YAML block is not a valid config: {err}") from err
            elif block.language in SHELL_LANGUAGES:
                for command in shell_commands(block.code):
                    argv = lstmkit_argv(command.text)
                    if argv is not None:
                        line = block.line + command.first
                        outputs[line] = run_cli(argv, f"{name}, line {line}")
    finally:
        os.chdir(old_cwd)
        torch.set_num_threads(old_threads)
    return outputs


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(p.relative_to(ROOT)) for p in DOCUMENTS])
def test_every_example_runs_and_prints_what_the_docs_show(path, tmp_path):
    markdown, name = path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))
    outputs = run_document(markdown, name, tmp_path)
    problems = [f"{name}, line {line}: {problem}"
                for line, shown in shown_outputs(markdown).items() if line in outputs
                for problem in [output_differences(shown, shown_output(outputs[line]))] if problem]
    assert not problems, "\n".join(problems) + "\n(rerun `python tests/test_docs.py --refresh` if the change is right)"


# ---------------------------------------------------------------------- the harness itself
SAMPLE = """\
Text.

```python
x = 1
```

<!-- docs-test: skip, needs make demo -->
```console
$ make demo
$ lstmkit evaluate runs/demo-sentiment/model --data test.csv
```

```console
$ lstmkit train text-classifier --train "my file.csv" \\
    --epochs 2
validation: accuracy=1.0
$ make test
```
"""


def test_code_blocks_are_found_with_their_lines_and_skip_markers():
    blocks = code_blocks(SAMPLE)
    assert [(b.language, b.line, b.skip) for b in blocks] == [("python", 4, False), ("console", 9, True),
                                                             ("console", 14, False)]
    assert blocks[0].code == "x = 1\n"
    commands = shell_commands(blocks[2].code)
    assert commands == [Command(0, 1, 'lstmkit train text-classifier --train "my file.csv"  --epochs 2'),
                        Command(3, 3, "make test")]
    assert lstmkit_argv(commands[0].text) == ["train", "text-classifier", "--train", "my file.csv", "--epochs", "2"]
    assert lstmkit_argv(commands[1].text) is None


def test_a_failing_command_fails_the_test(tmp_path):
    with pytest.raises(pytest.fail.Exception, match="unknown task"):
        run_cli(lstmkit_argv("lstmkit train no-such-task --train x.csv"), "sample")


def test_a_command_that_raises_fails_the_test_with_its_traceback(monkeypatch):
    """An exception escaping a command (a bug, not a user error) fails the test even where the
    runner's exit code would not tell it apart."""
    class Broken:
        def __format__(self, spec):
            raise RuntimeError("a bug in the command")

    monkeypatch.setattr("lstmkit.cli.__version__", Broken())
    with pytest.raises(pytest.fail.Exception, match=r"(?s)lstmkit --version.*RuntimeError: a bug in the command"):
        run_cli(["--version"], "sample")


def test_a_failing_python_block_names_its_line(tmp_path):
    with pytest.raises(AssertionError, match=r"doc.md, line 4"):
        run_document("# t\n\n```python\nassert 1 == 2\n```\n", "doc.md", tmp_path)


# ---------------------------------------------------------------------- README quick start
def test_readme_quick_start_is_make_demo_then_make_test():
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Quick start\n(.*?)(?=^## )", text, flags=re.M | re.S)
    assert match, "README.md needs a '## Quick start' section"
    commands = [c.text for b in code_blocks(match.group(1)) if b.language in SHELL_LANGUAGES
                for c in shell_commands(b.code)]
    assert "make demo" in commands and "make test" in commands
    assert commands.index("make demo") < commands.index("make test")


def test_readme_links_to_the_docs():
    links = re.findall(r"\]\((docs/[^)#]+)", README.read_text(encoding="utf-8"))
    assert {"docs/text-classification.md", "docs/core.md", "docs/benchmarks.md"} <= set(links)


def heading_anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(p.relative_to(ROOT)) for p in DOCUMENTS])
def test_links_lead_somewhere(path):
    text = path.read_text(encoding="utf-8")
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)  # links inside code are not links
    anchors = {heading_anchor(h) for h in re.findall(r"^#+ (.+)$", prose, flags=re.M)}
    for target in re.findall(r"\]\(([^)\s]+)\)", prose):
        if re.match(r"[a-z]+://", target):
            continue
        file, _, anchor = target.partition("#")
        if not file:
            assert anchor in anchors, f"{path.name}: no heading for the link #{anchor}"
        elif file.endswith("benchmarks.md") and not (path.parent / file).exists():
            continue  # written with the measured results, by whoever runs the benchmarks
        else:
            assert (path.parent / file).exists(), f"{path.name}: links to a missing file {file}"


# ---------------------------------------------------------------------- the config table
def type_name(tp) -> str:
    """How the table writes a field's type: ``int``, ``str or none``, ``lstm / gru``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return " / ".join(str(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join("none" if a is type(None) else type_name(a) for a in args)
    return tp.__name__


def config_table(markdown: str) -> dict[str, tuple[str, str, str]]:
    """``{dotted key: (type, default, meaning)}`` from the table rows whose first cell is a key."""
    rows: dict[str, tuple[str, str, str]] = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 4:
            continue
        key = re.fullmatch(r"`((?:data|model|train)\.\w+)`", cells[0])
        if key:
            assert key.group(1) not in rows, f"{key.group(1)} is in the table twice"
            rows[key.group(1)] = (cells[1], cells[2].strip("`"), cells[3])
    return rows


def test_config_table_lists_every_key_with_its_type_and_default():
    table = config_table(GUIDE.read_text(encoding="utf-8"))
    keys = all_keys(TextClassifierConfig)
    assert sorted(table) == sorted(keys), (f"missing from the table: {sorted(set(keys) - set(table))}; "
                                           f"not config keys: {sorted(set(table) - set(keys))}")
    # Types: as written by type_name.
    for section, section_type in typing.get_type_hints(TextClassifierConfig).items():
        for field, field_type in typing.get_type_hints(section_type).items():
            key = f"{section}.{field}"
            assert table[key][0] == type_name(field_type), f"{key}: type column"
            assert table[key][2], f"{key}: the meaning is empty"
    # Defaults: the table's defaults, read the way --set reads values, rebuild the default config.
    from_table = config_from_dict(TextClassifierConfig, {k: v[1] for k, v in table.items()},
                                  source="the docs table")
    expected = config_to_dict(TextClassifierConfig())
    got = config_to_dict(from_table)
    for section in expected:
        for field in expected[section]:
            assert got[section][field] == expected[section][field], \
                f"{section}.{field}: the table says {table[f'{section}.{field}'][1]!r}, " \
                f"the default is {expected[section][field]!r}"


def test_short_setting_names_are_unique():
    # The guide says TextClassifier(hidden_size=...) finds each setting by its short name.
    names = [key.split(".", 1)[1] for key in all_keys(TextClassifierConfig)]
    assert len(names) == len(set(names))


def test_the_table_parser_sees_a_wrong_default():
    row = "| `model.hidden_size` | int | `48` | hidden units |\n"
    table = config_table(row)
    assert table == {"model.hidden_size": ("int", "48", "hidden units")}
    built = config_from_dict(TextClassifierConfig, {k: v[1] for k, v in table.items()})
    assert built.model.hidden_size != TextClassifierConfig().model.hidden_size


# ---------------------------------------------------------------------- the example files
def test_example_files():
    texts, labels = read_text_classification(EXAMPLES / "reviews.csv")
    assert 150 <= len(texts) <= 300 and set(labels) == {"neg", "pos"}
    test_texts, test_labels = read_text_classification(EXAMPLES / "test.csv")
    assert set(test_labels) == {"neg", "pos"} and not set(test_texts) & set(texts)
    words, vectors = read_word_vectors(EXAMPLES / "vectors.txt")
    assert vectors.shape == (len(words), 8)
    cfg = build_config(TextClassifierConfig, yaml_path=EXAMPLES / "config.yaml")
    assert dataclasses.is_dataclass(cfg) and cfg.model.hidden_size <= 64
    # The guide shows config.yaml: the block must say what the file says.
    shown = [yaml.safe_load(b.code) for b in code_blocks(GUIDE.read_text(encoding="utf-8"))
             if b.language == "yaml"]
    assert yaml.safe_load((EXAMPLES / "config.yaml").read_text(encoding="utf-8")) in shown


# ---------------------------------------------------------------------- shown output
def shown_outputs(markdown: str) -> dict[int, list[str]]:
    """The output lines a document shows under each ``$ lstmkit`` command that shows some, by the
    document line (1-based) of its ``$``; as in :func:`refresh_outputs`."""
    shown: dict[int, list[str]] = {}
    for block in code_blocks(markdown):
        if block.language not in SHELL_LANGUAGES or block.skip:
            continue
        lines = block.code.splitlines()
        commands = shell_commands(block.code)
        for command, following in zip(commands, [*[c.first for c in commands[1:]], len(lines)]):
            output = [line.rstrip() for line in lines[command.last + 1:following] if line.strip()]
            if output and lstmkit_argv(command.text) is not None:
                shown[block.line + command.first] = output
    return shown


_DECIMAL = r"[-+]?\d+\.\d+(?:[eE][-+]?\d+)?"


def _line_pattern(shown: str) -> re.Pattern:
    """A shown line as a regex: decimals -> any decimal, ``...`` -> any text, the rest literal."""
    parts = []
    for piece in re.split(r"(\.\.\.|" + _DECIMAL + ")", shown):
        if piece == "...":
            parts.append(".*")
        elif re.fullmatch(_DECIMAL, piece):
            parts.append(_DECIMAL)
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts))


def output_differences(shown: list[str], printed: list[str]) -> str | None:
    """None when ``printed`` (a command's output lines) fits ``shown`` (what the doc shows), else
    what differs. See the module docstring for the rules."""
    def fits(i: int, j: int) -> bool:  # shown[i:] against printed[j:]
        if i == len(shown):
            return j == len(printed)
        if shown[i].strip() == "...":
            return any(fits(i + 1, k) for k in range(j, len(printed) + 1))
        return j < len(printed) and bool(_line_pattern(shown[i]).fullmatch(printed[j])) and fits(i + 1, j + 1)

    if fits(0, 0):
        return None
    return ("the output shown is not what the command prints\n  shown:   " + "\n           ".join(shown)
            + "\n  printed: " + "\n           ".join(printed))


def test_output_comparison_allows_varying_decimals_only():
    shown = ["docs/examples/test.csv: accuracy=0.9833, macro_f1=0.9830, n=60",
             "           neg  precision=1.0000 recall=0.9706 f1=0.9851 support=34"]
    same = ["docs/examples/test.csv: accuracy=1.0000, macro_f1=1.0000, n=60",
            "           neg  precision=1.0000 recall=1.0000 f1=1.0000 support=34"]
    assert output_differences(shown, same) is None
    assert output_differences(shown, [same[0].replace("n=60", "n=61"), same[1]])  # counts are exact
    assert output_differences(shown, [same[0].replace("accuracy", "acc"), same[1]])  # words are exact
    assert output_differences(shown, same[:1])  # a missing line
    assert output_differences(shown, same + ["extra"])  # an extra line
    assert output_differences(["pos\t0.998\tThe staff was friendly."], ["pos\t1\tThe staff was friendly."])
    assert output_differences(["{\"n\": 60, ...}"], ['{"n": 60, "accuracy": 0.5}']) is None
    assert output_differences(["first", "...", "last"], ["first", "a", "b", "last"]) is None
    assert output_differences(["first", "...", "last"], ["first", "last"]) is None
    assert output_differences(["first", "...", "last"], ["first", "a"])


def test_shown_outputs_are_found_under_their_commands():
    markdown = "```console\n$ lstmkit a\nold\n\n$ lstmkit b\n$ make c\nkept\n```\n"
    assert shown_outputs(markdown) == {2: ["old"]}
    assert shown_outputs(SAMPLE) == {14: ["validation: accuracy=1.0"]}


# ---------------------------------------------------------------------- quoted error messages
SOURCES = sorted((ROOT / "src" / "lstmkit").rglob("*.py"))


def _module_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments (to fill in ``{NAME}`` in f-strings)."""
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value.value
    return constants


def message_patterns(paths=SOURCES) -> list[re.Pattern]:
    """Every f-string / string literal of the sources with at least 8 letters of fixed text, as a
    regex: literal parts exact, ``{...}`` parts any text (a module-level string constant: its text)."""
    patterns = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _module_constants(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                parts, fixed = [], ""
                for value in node.values:
                    if isinstance(value, ast.Constant):
                        parts.append(re.escape(value.value))
                        fixed += value.value
                    elif isinstance(value.value, ast.Name) and value.value.id in constants \
                            and value.conversion == -1 and value.format_spec is None:
                        parts.append(re.escape(constants[value.value.id]))
                        fixed += constants[value.value.id]
                    else:
                        parts.append(".+?")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                parts, fixed = [re.escape(node.value)], node.value
            else:
                continue
            if sum(ch.isalpha() for ch in fixed) >= 8:
                patterns.append(re.compile("".join(parts), re.DOTALL))
    return patterns


def quoted_error_messages(markdown: str) -> list[tuple[int, str]]:
    """``(line, message)`` of each backquoted ``error: ...`` in a ``| problem | message |`` table."""
    found, in_table = [], False
    for number, line in enumerate(markdown.splitlines(), start=1):
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if cells[:2] == ["problem", "message"]:
            in_table = True
        elif not cells:
            in_table = False
        elif in_table:
            found += [(number, m) for m in re.findall(r"`error: ([^`]+)`", line)]
    return found


def _without_location(message: str) -> str:
    """What DataError adds before a message: ``file`` or ``file, line N``, then ``: ``."""
    return re.sub(r"^[^\s:]+(?:, line \d+)?: ", "", message, count=1)


def can_be_printed(message: str, patterns) -> bool:
    return any(p.fullmatch(m) for m in {message, _without_location(message)} for p in patterns)


@functools.cache
def source_patterns() -> tuple[re.Pattern, ...]:
    """:func:`message_patterns` of the package's sources, parsed once per test process."""
    return tuple(message_patterns())


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(p.relative_to(ROOT)) for p in DOCUMENTS])
def test_quoted_error_messages_are_ones_the_code_prints(path):
    patterns = source_patterns()
    wrong = [f"{path.name}, line {line}: `error: {message}`"
             for line, message in quoted_error_messages(path.read_text(encoding="utf-8"))
             if not can_be_printed(message, patterns)]
    assert not wrong, "no f-string in lstmkit/ prints these (grep the code for the real message):\n" + "\n".join(wrong)


def test_the_message_check_tells_real_from_drifted(tmp_path):
    source = tmp_path / "m.py"
    source.write_text('_USE = "(use .csv or .tsv)"\n'
                      'def f(path, n, ext):\n'
                      '    raise DataError(f"expected {n} fields as in the header", path, 3)\n'
                      '    raise DataError(f"unknown file type {ext!r} {_USE}", path)\n')
    patterns = message_patterns([source])
    assert can_be_printed("train.csv, line 3: expected 2 fields as in the header", patterns)
    assert can_be_printed("train.xlsx: unknown file type '.xlsx' (use .csv or .tsv)", patterns)
    assert not can_be_printed("train.csv, line 3: expected 2 columns as in the header", patterns)
    assert not can_be_printed("train.xlsx: unknown file type '.xlsx' (use .csv, .tsv or .jsonl)", patterns)
    table = "| problem | message |\n|---|---|\n| x | `error: a.csv: oops` |\n\n| `error: not: me` |\n"
    assert quoted_error_messages(table) == [(3, "a.csv: oops")]


# ---------------------------------------------------------------------- paths in skipped blocks
DEMO_OUT = "runs/demo-sentiment"
# What `lstmkit demo sentiment` writes (lstmkit/tasks/text/demo.py: the model, and
# export_dataset("chn-reviews", out / "data")).
DEMO_WRITES = {f"{DEMO_OUT}/model", *(f"{DEMO_OUT}/data/{split}.csv" for split in ("train", "valid", "test"))}


@pytest.mark.parametrize("path", DOCUMENTS, ids=[str(p.relative_to(ROOT)) for p in DOCUMENTS])
def test_skipped_blocks_use_files_make_demo_writes(path):
    """Bug caught: the guide evaluating ``data/chn-reviews/test.csv`` after ``make demo``, which
    writes ``runs/demo-sentiment/data/``."""
    for block in code_blocks(path.read_text(encoding="utf-8")):
        if not block.skip:
            continue
        for command in shell_commands(block.code):
            argv = shlex.split(command.text)
            if argv[:1] != ["lstmkit"]:
                continue
            files = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg in ("--data", "--input")]
            files += [arg for arg in argv[2:3] if arg.startswith(DEMO_OUT)]  # the model folder
            for file in files:
                assert file in DEMO_WRITES or (ROOT / file).exists(), \
                    f"{path.name}, line {block.line}: {file} is neither written by make demo nor in the repository"


# ---------------------------------------------------------------------- refreshing shown output
_PROGRESS = re.compile(r"it/s|s/it|^(Sanity Checking|Training|Validation|Epoch \d)|\x1b")


def shown_output(stdout: str) -> list[str]:
    """The lines of a command's stdout worth showing: without the progress bar's redraws."""
    lines = re.split(r"[\r\n]+", stdout)
    return [line.rstrip() for line in lines if line.strip() and not _PROGRESS.search(line)]


def refresh_outputs(markdown: str, outputs: dict[int, str]) -> str:
    """``markdown`` with the output under each ``$ lstmkit`` command that shows some replaced by
    ``outputs`` (from :func:`run_document`). Commands shown without output stay so."""
    lines = markdown.splitlines()
    replacements = []  # (first output line, end, new lines), 0-based, in document order
    for block in code_blocks(markdown):
        if block.language not in SHELL_LANGUAGES or block.skip:
            continue
        commands = shell_commands(block.code)
        block_end = len(block.code.splitlines())
        for command, following in zip(commands, [*[c.first for c in commands[1:]], block_end]):
            start = block.line - 1 + command.last + 1
            end = block.line - 1 + following
            line = block.line + command.first
            if end > start and line in outputs:
                replacements.append((start, end, shown_output(outputs[line])))
    for start, end, new in reversed(replacements):
        lines[start:end] = new
    return "\n".join(lines) + "\n"


def test_refresh_outputs_replaces_only_shown_output():
    markdown = "```console\n$ lstmkit a\nold\nolder\n$ lstmkit b\n$ make c\nkept\n```\n"
    outputs = {2: "Epoch 0: 50%| 1/2 [00:00<00:00, 9.1it/s]\rnew\n", 5: "unshown\n"}
    assert refresh_outputs(markdown, outputs) == \
        "```console\n$ lstmkit a\nnew\n$ lstmkit b\n$ make c\nkept\n```\n"


if __name__ == "__main__":
    # `python tests/test_docs.py --refresh`: run every document and rewrite the command output it
    # shows (after a change to the model, say). Review the diff before committing it.
    import tempfile

    if sys.argv[1:] != ["--refresh"]:
        sys.exit("usage: python tests/test_docs.py --refresh")
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        with tempfile.TemporaryDirectory() as folder:
            refreshed = refresh_outputs(text, run_document(text, str(path.relative_to(ROOT)), Path(folder)))
        if refreshed != text:
            path.write_text(refreshed, encoding="utf-8")
            print(f"updated {path.relative_to(ROOT)}")
