"""lstmkit: train, evaluate, explain and serve LSTM sequence models.

The task classes are imported lazily so that ``import lstmkit`` (and the CLI's
``--help``) stay fast.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "TextClassifier", "load"]


def __getattr__(name):  # PEP 562 lazy attributes
    if name == "TextClassifier":
        from lstmkit.tasks.text import TextClassifier

        return TextClassifier
    if name == "load":
        from lstmkit.io import load

        return load
    raise AttributeError(f"module 'lstmkit' has no attribute {name!r}")
