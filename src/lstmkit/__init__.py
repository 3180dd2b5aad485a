"""lstmkit: train, evaluate, explain and serve LSTM sequence models.

The task classes are imported lazily so that ``import lstmkit`` (and the CLI's
``--help``) stay fast.
"""

import os as _os

from lstmkit.version import __version__

# OpenMP threads spin for a long while (GNU OpenMP: 300,000 spins) waiting for work. Two processes
# that each run a thread per core on the same cores (two trainings, a server beside a training,
# DDP ranks) then burn each other's time slices: measured here, two 3-epoch trainings at once took
# 3.9x (spin 10,000) to 15x (default) their solo time. Spinning 1,000 times before sleeping costs a
# lone training about 9% and makes a pair share the cores (1.6x each; OMP_WAIT_POLICY=PASSIVE:
# 1.1x, but a lone run 53% slower) — benchmarks/concurrent_training.py, docs/benchmarks.md.
# OpenMP reads it when torch is first imported: it applies where lstmkit is imported before torch
# (the CLI always is). Set GOMP_SPINCOUNT or OMP_WAIT_POLICY yourself to choose otherwise.
if "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ.setdefault("GOMP_SPINCOUNT", "1000")

# PyTorch runs float LSTM/GRU layers on the CPU through oneDNN, which builds a "primitive" for each
# new input shape (steps x batch), about 2 ms, and keeps the last 1,024 in a cache, each holding
# memory. A server meets a new shape with almost every micro-batch, so its memory grew for hours
# (sentiment model: 440 -> 780 MB over 120,000 requests) until the cache was full. 64 primitives
# bound that (400 shapes: +223 MB by default, +18 MB at 64; the server now stays near 450 MB). So
# that small inference batches still find their primitives, lstmkit.nn.rnn runs them on step
# counts bucketed to multiples of 16 (benchmarks/serve.py memory, docs/benchmarks.md). oneDNN
# reads the variable when it builds its first primitive: it applies where lstmkit is imported
# before any torch model ran (the CLI always is). Set it yourself to choose otherwise.
_os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")

__all__ = ["__version__", "TextClassifier", "Tagger", "Forecaster", "SequenceClassifier", "load"]

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
    raise AttributeError(f"module 'lstmkit' has no attribute {name!r}")
