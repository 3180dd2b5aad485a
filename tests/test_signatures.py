"""The estimators' keyword parameters that IDEs and type checkers read (an ``if TYPE_CHECKING:``
``__init__`` in each estimator class, written by :mod:`lstmkit.tasks.signatures`) stay in step with
the configs that make the real ``__init__`` at run time."""

import ast
import inspect
import sys

from lstmkit.tasks.signatures import estimator_classes, main


def test_the_written_keyword_parameters_match_the_configs(capsys):
    assert main(["--check"]) == 0, capsys.readouterr().out


def test_the_written_keywords_are_the_run_time_signature():
    for cls in estimator_classes():
        tree = ast.parse(inspect.getsource(sys.modules[cls.__module__]))
        klass = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
        block = next(n for n in klass.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
        written = next(n for n in block.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
        names = [a.arg for a in written.args.args + written.args.kwonlyargs]
        assert names == list(inspect.signature(cls.__init__).parameters), cls.__name__
