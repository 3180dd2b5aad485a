"""The task registry: a task name (from the CLI or a model folder's config.json) -> its estimator
class, and the demos each task offers (``lstmkit demo NAME``).

A new task plugs in by adding a package under ``lstmkit/tasks/`` and one entry here (see
``docs/writing-a-task.md``): its class, its demos, and the modules of its ONNX export and
explanations, if it has them. All are named by ``"module:attribute"`` and imported on first use,
so ``lstmkit --help`` stays fast and the estimator never imports its export or explain module.
The entry also lists the shared ``train.*`` settings that only some tasks read and this one does
(``reads``; :data:`SOME_TASKS_READ`): the other tasks refuse them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from lstmkit.errors import ConfigError, LstmkitError


@dataclass(frozen=True)
class Demo:
    """``lstmkit demo NAME``: ``run(out_dir, overrides, echo)`` trains and shows a bundled example."""

    description: str
    run: str
    """``"module:function"``; the function takes ``(out: Path, overrides: list[str], echo)``."""


@dataclass(frozen=True)
class Task:
    estimator: str
    """``"module:Class"`` of the :class:`~lstmkit.tasks.base.Estimator` subclass."""
    demos: dict[str, Demo] = field(default_factory=dict)
    export: str | None = None
    """``"module:function"``: ``function(estimator) -> ExportSpec`` for ONNX export (``lstmkit export``);
    :meth:`~lstmkit.tasks.base.Estimator.export_module` calls it. None: the task has no export."""
    explain: str | None = None
    """A module with ``run_with_states(estimator, X)`` and ``attribution_spec(estimator, x, target)``
    (``lstmkit explain``: gates and integrated gradients); the estimator's methods of those names
    call them. None: the task has no explanations."""
    ensemble: str | None = None
    """``"module:Class"``: the :class:`~lstmkit.nn.ensemble.Ensemble` subclass that combines this
    task's networks when ``train.ensemble`` > 1 (how members' outputs are averaged). None: the task
    cannot train ensembles."""
    reads: tuple[str, ...] = ()
    """The keys of :data:`SOME_TASKS_READ` that this task reads (``"train.class_weights"`` for a
    classifier; ``train.ensemble`` needs no entry, the ``ensemble`` class says it). The task
    refuses the others (:func:`check_unread_settings`)."""

    def settings_read(self) -> tuple[str, ...]:
        """The keys of :data:`SOME_TASKS_READ` that this task reads."""
        return self.reads + (("train.ensemble",) if self.ensemble is not None else ())


SOME_TASKS_READ = ("train.class_weights", "train.ensemble")
"""Keys of the shared ``train.*`` section that only some tasks read. A task that does not read one
refuses any value but its default, which it would ignore (``Tagger(class_weights="balanced")``
would train without weights) or not support. Every other ``train.*`` key is read by the trainer
that every task uses (:func:`lstmkit.training.train.fit`)."""


TASKS: dict[str, Task] = {
    "text-classifier": Task(
        "lstmkit.tasks.text:TextClassifier",
        reads=("train.class_weights",),
        export="lstmkit.tasks.text.export:export_spec",
        explain="lstmkit.tasks.text.explain",
        ensemble="lstmkit.tasks.text.ensemble:TextEnsemble",
        demos={"sentiment": Demo("Chinese review sentiment (chn-reviews), character-level BiLSTM",
                                 "lstmkit.tasks.text.demo:sentiment")},
    ),
    "tagger": Task(
        "lstmkit.tasks.tagger:Tagger",
        export="lstmkit.tasks.tagger.export:export_spec",
        explain="lstmkit.tasks.tagger.explain",
        ensemble="lstmkit.tasks.tagger.ensemble:TaggerEnsemble",
        demos={"ner": Demo("Chinese NER (pd-ner: PER, LOC, ORG), character BiLSTM-CRF",
                           "lstmkit.tasks.tagger.demo:ner"),
               "cws": Demo("Chinese word segmentation (pd-cws), character BiLSTM-CRF",
                           "lstmkit.tasks.tagger.demo:cws")},
    ),
    "sequence-classifier": Task(
        "lstmkit.tasks.sequence:SequenceClassifier",
        reads=("train.class_weights",),
        export="lstmkit.tasks.sequence.export:export_spec",
        explain="lstmkit.tasks.sequence.explain",
        ensemble="lstmkit.tasks.sequence.ensemble:SequenceEnsemble",
        demos={"vowels": Demo("Japanese vowels (9 speakers, 12 LPC features, 7-29 frames), LSTM-FCN",
                              "lstmkit.tasks.sequence.demo:vowels"),
               "mnist": Demo("MNIST read row by row (28 steps of 28 pixels), BiLSTM; writes a PNG of predictions",
                             "lstmkit.tasks.sequence.demo:mnist")},
    ),
    "forecaster": Task(
        "lstmkit.tasks.forecaster:Forecaster",
        export="lstmkit.tasks.forecaster.export:export_spec",
        explain="lstmkit.tasks.forecaster.explain",
        ensemble="lstmkit.tasks.forecaster.ensemble:ForecastEnsemble",
        demos={"weather": Demo("Seattle weather: the next 7 days of temp_max and temp_min, BiLSTM with P10-P90; "
                               "writes plots/forecast.png", "lstmkit.tasks.forecaster.demo:weather"),
               "employment": Demo("US employment by sector: one global model forecasting 12 months of all 22 "
                                  "sectors, against per-series ETS", "lstmkit.tasks.forecaster.demo:employment")},
    ),
    "char-lm": Task("lstmkit.tasks.charlm:CharLanguageModel"),
}


def _import(target: str):
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def get_task_class(name: str):
    """The estimator class registered as ``name`` (imported on first use)."""
    if name not in TASKS:
        raise LstmkitError(f"unknown task {name!r}; valid tasks: {', '.join(sorted(TASKS))}")
    return _import(TASKS[name].estimator)


def get_hook(task: str, kind: str, name: str | None = None):
    """Task ``task``'s ``kind`` hook (``"export"``: its export function; ``"explain"``: function
    ``name`` of its explain module; ``"ensemble"``: its ensemble class), or None where the task is
    not registered or has none."""
    entry = TASKS.get(task)
    target = getattr(entry, kind, None) if entry is not None else None
    if target is None:
        return None
    return _import(target if name is None else f"{target}:{name}")


def check_unread_settings(task: str, config, defaults) -> None:
    """Refuse a value other than its default (``defaults``) for each key of :data:`SOME_TASKS_READ`
    that task ``task`` does not read; the error names the key and the tasks that read it."""
    entry = TASKS.get(task)
    if entry is None:
        return  # not a registered task: it declares nothing
    for key in SOME_TASKS_READ:
        value, default = _value(config, key), _value(defaults, key)
        if key in entry.settings_read() or value is _MISSING or value == default:
            continue
        *others, last = [name for name, other in TASKS.items() if key in other.settings_read()]
        readers = f"{', '.join(others)} and {last}" if others else last
        raise ConfigError(f"'{key}' is read only by the {readers} tasks, not by the {task}: "
                          f"leave it at {default!r} (got {value!r})")


_MISSING = object()


def _value(config, dotted: str):
    """``config.train.ensemble`` for ``"train.ensemble"``; ``_MISSING`` where there is no such key."""
    for part in dotted.split("."):
        config = getattr(config, part, _MISSING)
    return config


def all_demos() -> dict[str, tuple[str, Demo]]:
    """Every demo by name: ``(task name, Demo)``."""
    return {name: (task, demo) for task, entry in TASKS.items() for name, demo in entry.demos.items()}


def get_demo(name: str):
    """The ``run`` function of demo ``name``."""
    demos = all_demos()
    if name not in demos:
        raise LstmkitError(f"unknown demo {name!r}; available: {', '.join(demos)}")
    return _import(demos[name][1].run)
