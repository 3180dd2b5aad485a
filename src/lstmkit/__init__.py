"""lstmkit: train, evaluate, explain and serve LSTM sequence models.

The task classes are imported lazily so that ``import lstmkit`` (and the CLI's
``--help``) stay fast. Importing it changes nothing in the process: the OpenMP and oneDNN settings
that pay off in a server or beside other trainings are applied by the command line and the server
(:mod:`lstmkit.runtime`).
"""

from typing import TYPE_CHECKING

from lstmkit.version import __version__

if TYPE_CHECKING:  # what type checkers and IDEs see of the lazy names below
    from lstmkit.io import load
    from lstmkit.tasks.forecaster import Forecaster
    from lstmkit.tasks.sequence import SequenceClassifier
    from lstmkit.tasks.tagger import Tagger
    from lstmkit.tasks.text import TextClassifier
    from lstmkit.tuning import tune

__all__ = ["__version__", "TextClassifier", "Tagger", "Forecaster", "SequenceClassifier", "load", "tune"]

_ESTIMATORS = {
    "TextClassifier": "lstmkit.tasks.text",
    "Tagger": "lstmkit.tasks.tagger",
    "Forecaster": "lstmkit.tasks.forecaster",
    "SequenceClassifier": "lstmkit.tasks.sequence",
}


def __getattr__(name):  # PEP 562 lazy attributes
    if name in _ESTIMATORS:
        import importlib

        return getattr(importlib.import_module(_ESTIMATORS[name]), name)
    if name == "load":
        from lstmkit.io import load

        return load
    if name == "tune":
        from lstmkit.tuning import tune

        return tune
    raise AttributeError(f"module 'lstmkit' has no attribute {name!r}")
