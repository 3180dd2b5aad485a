"""How many CPU threads torch should use while training, and giving the caller's setting back.

``train.num_threads = 0`` (auto) asks for :func:`auto_threads`::

    OMP_NUM_THREADS set (a whole number >= 1)  ->  that number, as every OpenMP program does
    otherwise                                  ->  max(1, C // R)
        C = the cores this process may run on (os.sched_getaffinity: a `taskset`, a container's
            cpuset or a batch scheduler's allocation), os.cpu_count() where that is unknown
        R = LOCAL_WORLD_SIZE, the processes torchrun starts on this machine (1 when unset)

Dividing by R is what torchrun and Lightning's DDP launcher do, so that R training processes on
one machine do not each start a thread per core and fight over them. torch's own default
(``torch.get_num_threads()`` when OMP_NUM_THREADS is unset) is the number of cores of the whole
machine, which oversubscribes a process pinned to fewer cores.

:func:`torch_threads` sets the count for a block of code and restores the caller's count after
it, also when the block raises: a library must not leave the process's settings changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity, else ``os.cpu_count()``, at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def _positive_int(environ: Mapping[str, str], name: str) -> int | None:
    """``environ[name]`` as an int >= 1, or None when unset, empty or not such a number."""
    text = environ.get(name, "").strip()
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= 1 else None


def auto_threads(environ: Mapping[str, str] | None = None) -> int:
    """Threads for one training process: OMP_NUM_THREADS if set, else cores // LOCAL_WORLD_SIZE.

    ``environ`` defaults to ``os.environ``. A malformed OMP_NUM_THREADS or LOCAL_WORLD_SIZE
    (empty, "abc", "0") is ignored, as if unset.
    """
    environ = os.environ if environ is None else environ
    omp = _positive_int(environ, "OMP_NUM_THREADS")
    if omp is not None:
        return omp
    local_ranks = _positive_int(environ, "LOCAL_WORLD_SIZE") or 1
    return max(1, available_cores() // local_ranks)


def resolve_threads(num_threads: int, environ: Mapping[str, str] | None = None) -> int:
    """``num_threads`` when > 0, else :func:`auto_threads` (``train.num_threads = 0``)."""
    if num_threads < 0:
        raise ValueError(f"num_threads must be >= 0, got {num_threads}")
    return num_threads if num_threads > 0 else auto_threads(environ)


def serving_threads(num_threads: int, environ: Mapping[str, str] | None = None) -> int:
    """Inference threads of a server (``serve.threads``): ``num_threads`` when > 0, else
    OMP_NUM_THREADS when set, else the cores this process may use **minus one**, at least 1.

    The core left over is the event loop's (reading requests, writing answers). Measured on 2
    cores (docs/benchmarks.md): with 2 intra-op threads beside the event loop a server answered
    125 requests/s from 16 clients, with 1 thread 569 (and a lone client faster too), because the
    threads of a parallel region wait for one another while the loop holds a core.
    """
    if num_threads < 0:
        raise ValueError(f"num_threads must be >= 0, got {num_threads}")
    if num_threads > 0:
        return num_threads
    environ = os.environ if environ is None else environ
    omp = _positive_int(environ, "OMP_NUM_THREADS")
    return omp if omp is not None else max(1, available_cores() - 1)


@contextmanager
def torch_threads(num_threads: int) -> Iterator[int]:
    """Run the block with ``torch.set_num_threads(num_threads)``; restore the caller's count after.

    Yields ``num_threads``. Only the intra-op count is changed: torch allows setting the
    inter-op count once per process, before any parallel work, so a library must leave it be.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield num_threads
    finally:
        torch.set_num_threads(before)
