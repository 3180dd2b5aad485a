"""Process-wide settings that pay off in lstmkit's own long-running processes: the command line
(every verb, training included) and the HTTP server. :func:`tune_process` applies them; a plain
``import lstmkit`` changes nothing in the process (a lone training run from Python is about 9%
faster without the short OpenMP spin below).

Both are environment variables that the libraries read once, so :func:`tune_process` must run
before torch is imported (OpenMP) or before any torch model ran (oneDNN): ``lstmkit.cli`` calls
it first thing, and :func:`lstmkit.serve.app.create_app` calls it for a server started from
Python. Each is set only where the user has not chosen otherwise. This module imports nothing
heavy, so that calling it first is cheap.
"""

from __future__ import annotations

import os


def tune_process() -> None:
    """Set ``GOMP_SPINCOUNT`` and ``ONEDNN_PRIMITIVE_CACHE_CAPACITY`` unless the user set them."""
    # OpenMP threads spin for a long while (GNU OpenMP: 300,000 spins) waiting for work. Two
    # processes that each run a thread per core on the same cores (two trainings, a server beside
    # a training, DDP ranks) then burn each other's time slices: two 3-epoch trainings at once took
    # 3.9x (spin 10,000) to 15x (default) their solo time. Spinning 1,000 times before sleeping
    # costs a lone training some speed and makes a pair share the cores; OMP_WAIT_POLICY=PASSIVE
    # shares them better but slows a lone run far more (benchmarks/concurrent_training.py; the
    # numbers: docs/benchmarks.md, "Two trainings on the same cores"). OpenMP reads it when torch
    # is first imported. Set GOMP_SPINCOUNT or OMP_WAIT_POLICY yourself to choose otherwise.
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", "1000")
    # PyTorch runs float LSTM/GRU layers on the CPU through oneDNN, which builds a "primitive" for
    # each new input shape (steps x batch) and keeps the last 1,024 in a cache, each holding
    # memory. A server meets a new shape with almost every micro-batch, so its memory grew for
    # hours until the cache was full. 64 primitives bound that; so that small inference batches
    # still find their primitives, lstmkit.nn.rnn runs them on step counts bucketed to multiples
    # of 16 (benchmarks/serve.py memory; docs/benchmarks.md, "Serving"). oneDNN reads the variable
    # when it builds its first primitive. Set it yourself to choose otherwise.
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")
