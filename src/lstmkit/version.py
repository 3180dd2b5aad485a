"""The package version, in a module of its own so that lstmkit's modules read it without importing
the package's ``__init__`` (which names the task classes: an import circle)."""

__version__ = "0.1.0"
