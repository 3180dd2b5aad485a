"""Running a model over many small batches fast on a CPU: one batch per core at a time.

An LSTM's time steps run in sequence, each a small matrix product (``(B, H) @ (H, 4H)``); split
over two cores, each product spends much of its time waiting for the other core. Giving each
core a whole batch of its own instead (worker threads, each with a single intra-op thread)
ran the text classifier faster on this project's 2-core machine (the numbers:
``docs/benchmarks.md``, "Text classification", ``map_batches``). PyTorch releases the GIL
inside its kernels, so threads suffice.

PyTorch's intra-op thread count belongs to each thread (a new thread starts from the process
default), so the workers set theirs to 1 once, in a pool kept for the process; the calling
thread's setting and the process default are left as they were, also when several threads
(a server's) call at once. On a GPU, or with one core, batches simply run in order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

Batch = TypeVar("Batch")
Result = TypeVar("Result")

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def network_device(network: torch.nn.Module) -> torch.device:
    """Where ``network`` runs: its first parameter's or buffer's device, else the CPU (an int8
    network keeps its weights in packed, non-parameter form)."""
    for tensor in network.parameters():
        return tensor.device
    for tensor in network.buffers():
        return tensor.device
    return torch.device("cpu")


def map_batches(fn: Callable[[Batch], Result], batches: Sequence[Batch] | Iterable[Batch],
                device: torch.device | str = "cpu") -> list[Result]:
    """``[fn(b) for b in batches]`` under ``torch.inference_mode()``, in order.

    On the CPU with ``torch.get_num_threads()`` = n > 1 and more than one batch, the batches go
    to a pool of n single-threaded workers.
    """
    batches = list(batches)
    cores = torch.get_num_threads()

    def run(batch):
        with torch.inference_mode():  # grad mode is per thread: set it in each worker
            return fn(batch)

    if torch.device(device).type != "cpu" or cores < 2 or len(batches) < 2:
        return [run(b) for b in batches]
    return list(_single_threaded_pool(cores).map(run, batches))


def _single_threaded_pool(size: int) -> ThreadPoolExecutor:
    """The process's pool of ``size`` workers, each with one intra-op thread (made on first use,
    remade when ``size`` changes)."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != size:
            default = torch.get_num_threads()
            everyone = threading.Barrier(size + 1)
            pool = ThreadPoolExecutor(size, thread_name_prefix="lstmkit-batch", initializer=_one_intra_op_thread)
            started = [pool.submit(everyone.wait, 10) for _ in range(size)]  # start all workers now...
            everyone.wait(10)
            for future in started:
                future.result()
            torch.set_num_threads(default)  # ...then give back the process default they changed
            if _pool is not None:
                _pool.shutdown(wait=False)  # calls still running on it finish
            _pool, _pool_size = pool, size
        return _pool


def _one_intra_op_thread() -> None:
    """A worker's start: one intra-op thread for this thread. ``set_num_threads`` also sets the
    process default, and a thread takes the default at its first parallel op, so the
    ``get_num_threads`` call makes this thread take it now, while it is 1."""
    torch.set_num_threads(1)
    torch.get_num_threads()
