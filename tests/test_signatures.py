"""The estimators' keyword parameters that IDEs and type checkers read (an ``if TYPE_CHECKING:``
``__init__`` in each estimator class, written by :mod:`lstmkit.tasks.signatures`) stay in step with
the configs that make the real ``__init__`` at run time."""

import ast
import inspect
import sys

from lstmkit.tasks.signatures import estimator_classes, main, refused_keys


def test_the_written_keyword_parameters_match_the_configs(capsys):
    assert main(["--check"]) == 0, capsys.readouterr().out


def written_keywords(cls) -> list[str]:
    """The parameter names of the ``if TYPE_CHECKING:`` ``__init__`` in ``cls``'s source."""
    tree = ast.parse(inspect.getsource(sys.modules[cls.__module__]))
    klass = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
    block = next(n for n in klass.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    written = next(n for n in block.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    return [a.arg for a in written.args.args + written.args.kwonlyargs]


def test_the_written_keywords_are_the_run_time_signature():
    for cls in estimator_classes():
        names = written_keywords(cls)
        refused = {name for name, key in cls._param_spec.names.items() if key in refused_keys(cls)}
        expected = [name for name in inspect.signature(cls.__init__).parameters if name not in refused]
        assert names == expected, cls.__name__


def test_keys_a_task_refuses_are_left_out_of_its_written_keywords():
    """The tagger refuses train.class_weights (the registry's Task.reads): a type checker must not
    offer it, while the classifiers, which read it, keep it; every task with an ensemble class keeps
    train.ensemble and char-lm, which has none, loses it."""
    written = {cls.task: written_keywords(cls) for cls in estimator_classes()}
    assert "class_weights" not in written["tagger"] and "class_weights" not in written["forecaster"]
    assert "class_weights" in written["text-classifier"] and "class_weights" in written["sequence-classifier"]
    assert "ensemble" in written["tagger"] and "ensemble" not in written["char-lm"]
    assert refused_keys(type("NotATask", (), {"task": "no-such-task"})) == ()
